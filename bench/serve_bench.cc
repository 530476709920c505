// serve_bench: /v1/predict throughput of the site's HTTPS prediction server
// on loopback, measured with wrk (Debian package "wrk") and a POST Lua
// script: serve.predict_rps. The server runs in this process exactly as in
// the agent (--server-threads, default 2 as [serve] threads, on its own
// io_context; TLS 1.3), serving a logistic regression
// trained on the Cleveland heart-disease rows with the strategy given
// (default gradual_rollout at 25%, so routing is on the path). Every request
// has a new request key, so the outcome store grows as in production.
// Also serve.service_predict_us: the service alone (no HTTP, no TLS).
//
// wrk cannot present a client certificate, so the server runs with
// require_client_cert = false for the measurement (the TLS handshake is per
// connection; wrk keeps connections alive, so this does not change the
// per-request cost).
//
// Usage: serve_bench [--seconds 10] [--connections 16] [--strategy S]
//                    [--pki-script PATH] [--wrk PATH] [--server-threads N]

#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/dataset.h"
#include "core/heart_disease_schema.h"
#include "core/logistic_regression.h"
#include "site-agent/prediction_server.h"
#include "site-agent/prediction_service.h"
#include "site-agent/state_store.h"

#ifndef CLS_PKI_SCRIPT
#define CLS_PKI_SCRIPT "certs/cls-pki"
#endif

namespace {

namespace fs = std::filesystem;
using cls::core::ColumnSpec;
using cls::core::DatasetSchema;
using nlohmann::json;

std::string Run(const std::string& cmd, int& exit_code) {
  std::string out;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) {
    exit_code = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  const int status = pclose(pipe);
  exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// The Lua script: a fresh request key per request, one Cleveland-like row.
constexpr const char* kLua = R"(counter = 0
local prefix = tostring(math.random(1, 1000000000))
request = function()
  counter = counter + 1
  local body = '{"request_key":"enc-' .. prefix .. '-' .. counter ..
    '","features":{"age":54,"sex":1,"cp":4,"trestbps":130,"chol":246,' ..
    '"fbs":0,"restecg":2,"thalach":150,"exang":0,"oldpeak":1.0,' ..
    '"slope":2,"ca":0,"thal":3}}'
  return wrk.format("POST", "/v1/predict",
                    {["Content-Type"] = "application/json"}, body)
end
)";

// wrk prints "Requests/sec:  12345.67" and, when any, "Non-2xx or 3xx
// responses: N".
double ParseRps(const std::string& out, long& non2xx) {
  std::smatch m;
  non2xx = 0;
  if (std::regex_search(out, m,
                        std::regex(R"(Non-2xx or 3xx responses: (\d+))"))) {
    non2xx = std::stol(m[1]);
  }
  if (std::regex_search(out, m, std::regex(R"(Requests/sec:\s+([0-9.]+))"))) {
    return std::stod(m[1]);
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 10;
  int connections = 16;
  std::string strategy = "gradual_rollout";
  std::string pki_script = CLS_PKI_SCRIPT;
  std::string wrk = "wrk";
  // As the agent serves: [serve] threads (default 2) on serving's own
  // io_context (site-agent/site_serving.h).
  int server_threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--seconds") {
      seconds = std::atoi(argv[i + 1]);
    } else if (a == "--connections") {
      connections = std::atoi(argv[i + 1]);
    } else if (a == "--strategy") {
      strategy = argv[i + 1];
    } else if (a == "--pki-script") {
      pki_script = argv[i + 1];
    } else if (a == "--wrk") {
      wrk = argv[i + 1];
    } else if (a == "--server-threads") {
      server_threads = std::atoi(argv[i + 1]);
    } else {
      std::cerr << "serve_bench: unknown option " << a << "\n";
      return 2;
    }
  }
  if (server_threads <= 0) {
    std::cerr << "serve_bench: --server-threads must be positive\n";
    return 2;
  }
  if (seconds <= 0 || connections <= 0) {
    std::cerr << "serve_bench: --seconds and --connections must be positive\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);

  // The model: Cleveland rows, standardised, trained for 20 epochs.
  const DatasetSchema schema = cls::core::HeartSchema();
  auto csv = cls::core::LoadCsv(CLS_HEART_DATA_DIR "/cleveland.csv", schema);
  if (!csv) {
    std::cerr << "serve_bench: " << csv.error().message << "\n";
    return 1;
  }
  std::vector<int> rows(csv->table.rows.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int>(i);
  auto pre = cls::core::Preprocessor::Fit(schema, csv->table, rows);
  if (!pre) return 1;
  cls::core::LogisticRegression model(schema.FeatureCount());
  cls::core::TrainConfig train;
  train.epochs = 20;
  model.Train(pre->Transform(csv->table, rows), pre->Labels(csv->table, rows),
              train);
  std::vector<float> current(model.parameters().begin(),
                             model.parameters().end());
  std::vector<float> candidate = current;
  for (float& w : candidate) w *= 0.9f;

  const fs::path work = fs::temp_directory_path() /
                        ("cls-serve-bench-" + std::to_string(::getpid()));
  fs::create_directories(work);
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{work};

  auto service = cls::site::PredictionService::Create(
      {}, schema,
      [pre = *pre](const cls::core::RawTable& t) {
        return pre.Transform(t, {0});
      },
      work / "state");
  if (!service) {
    std::cerr << "serve_bench: " << service.error().message << "\n";
    return 1;
  }
  cls::protocol::DeploymentUpdate update;
  update.deployment_id = "bench";
  update.strategy = strategy;
  update.current = {"v1", cls::site::ModelHash(current), "logistic_regression",
                    current};
  update.candidate = {"v2", cls::site::ModelHash(candidate),
                      "logistic_regression", candidate};
  update.rollout_percent = strategy == "shadow_mode"  ? 0
                           : strategy == "ab_testing" ? 50
                           : strategy == "immediate"  ? 100
                                                      : 25;
  update.salt = "bench-salt";
  const auto ack = (*service)->OnDeploymentUpdate(update);
  if (!ack.accepted) {
    std::cerr << "serve_bench: deployment refused: " << ack.reason << "\n";
    return 1;
  }

  // The service alone.
  {
    const json features = {{"age", 54},       {"sex", 1},       {"cp", 4},
                           {"trestbps", 130}, {"chol", 246},    {"fbs", 0},
                           {"restecg", 2},    {"thalach", 150}, {"exang", 0},
                           {"oldpeak", 1.0},  {"slope", 2},     {"ca", 0},
                           {"thal", 3}};
    constexpr int kCalls = 100'000;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kCalls; ++i) {
      auto p = (*service)->Predict("svc-" + std::to_string(i), features,
                                   1'700'000'000);
      if (!p) return 1;
    }
    const double us = std::chrono::duration<double, std::micro>(
                          std::chrono::steady_clock::now() - start)
                          .count() /
                      kCalls;
    std::cout << json{{"name", "serve.service_predict_us"},
                      {"value", us},
                      {"unit", "us"},
                      {"params",
                       {{"calls", kCalls},
                        {"strategy", strategy},
                        {"features", schema.FeatureCount()}}}}
                     .dump()
              << std::endl;
  }

  // Certificates: a serverAuth certificate for 127.0.0.1 from a fresh CA.
  int rc = 0;
  const std::string pki = (work / "pki").string();
  Run("'" + pki_script + "' --dir '" + pki +
          "' init --name 'Bench CA' 2>&1 && '" + pki_script + "' --dir '" +
          pki + "' issue coordinator 127.0.0.1 2>&1",
      rc);
  if (rc != 0) {
    std::cerr << "serve_bench: cls-pki failed\n";
    return 1;
  }
  cls::site::TlsConfig tls{pki + "/ca.pem", pki + "/issued/127.0.0.1.pem",
                           pki + "/issued/127.0.0.1.key", pki + "/ca-crl.pem"};
  auto context = cls::site::MakePredictionTlsContext(tls, false);
  if (!context) {
    std::cerr << "serve_bench: " << context.error().message << "\n";
    return 1;
  }
  boost::asio::io_context io(server_threads);
  cls::site::PredictionServerOptions options;
  options.port = 0;
  options.max_connections = 1024;
  // No client certificates (wrk has none), so no role to check.
  options.client_policy = std::nullopt;
  cls::site::PredictionServer server(io, *context, **service, options);
  auto port = server.Listen();
  if (!port) {
    std::cerr << "serve_bench: " << port.error().message << "\n";
    return 1;
  }
  auto guard = boost::asio::make_work_guard(io);
  std::vector<std::thread> io_threads;
  for (int i = 0; i < server_threads; ++i) {
    io_threads.emplace_back([&] { io.run(); });
  }

  const fs::path lua = work / "predict.lua";
  std::ofstream(lua) << kLua;
  const std::string url = "https://127.0.0.1:" + std::to_string(*port);
  std::cerr << "serve_bench: wrk " << seconds << " s, " << connections
            << " connections against " << url << "\n";
  const std::string out =
      Run(wrk + " -t1 -c" + std::to_string(connections) + " -d" +
              std::to_string(seconds) + "s --latency -s '" + lua.string() +
              "' " + url + "/v1/predict 2>&1",
          rc);
  guard.reset();
  io.stop();
  for (auto& t : io_threads) t.join();
  server.Stop();
  if (rc != 0) {
    std::cerr << "serve_bench: wrk failed (apt-get install wrk):\n" << out;
    return 1;
  }
  long non2xx = 0;
  const double rps = ParseRps(out, non2xx);
  std::smatch m;
  double p99_ms = -1;
  if (std::regex_search(out, m, std::regex(R"(99%\s+([0-9.]+)(us|ms|s))"))) {
    p99_ms = std::stod(m[1]);
    if (m[2] == "us") p99_ms /= 1000;
    if (m[2] == "s") p99_ms *= 1000;
  }
  if (rps < 0 || non2xx != 0) {
    std::cerr << "serve_bench: bad wrk run (" << non2xx
              << " non-2xx responses):\n"
              << out;
    return 1;
  }
  std::cerr << out;
  std::cout << json{{"name", "serve.predict_rps"},
                    {"value", rps},
                    {"unit", "requests/s"},
                    {"params",
                     {{"connections", connections},
                      {"seconds", seconds},
                      {"wrk_threads", 1},
                      {"server_threads", server_threads},
                      {"strategy", strategy},
                      {"tls", "1.3"},
                      {"p99_ms", p99_ms},
                      {"hardware_threads",
                       std::thread::hardware_concurrency()}}}}
                   .dump()
            << std::endl;
  return 0;
}
