// serve_bench: /v1/predict throughput of the site's HTTPS prediction server
// on loopback, measured with wrk (Debian package "wrk") and a POST Lua
// script: serve.predict_rps. The server runs in this process exactly as in
// the agent (--server-threads, default 2 as [serve] threads, on its own
// io_context; TLS 1.3), serving a model trained on the Cleveland
// heart-disease rows (22 features) with the strategy given (default
// gradual_rollout at 25%, so routing is on the path). Every request has a
// new request key, so the outcome store grows as in production.
// Also serve.service_predict_us: the service alone (no HTTP, no TLS).
//
// Each model kind of --models in turn, in the same run: a logistic
// regression (its lines have no "model" parameter, as before the MLP was
// measured) and an MLP ([model] kind = "mlp", --hidden, default one layer
// of 32 as examples/readmission_risk; its lines say "model": "mlp" and
// "hidden_layers").
//
// wrk cannot present a client certificate, so the server runs with
// require_client_cert = false for the measurement (the TLS handshake is per
// connection; wrk keeps connections alive, so this does not change the
// per-request cost).
//
// Usage: serve_bench [--seconds 10] [--connections 16] [--strategy S]
//                    [--pki-script PATH] [--wrk PATH] [--server-threads N]
//                    [--models logistic_regression,mlp] [--hidden 32[,16]]

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
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dataset.h"
#include "core/heart_disease_schema.h"
#include "core/model.h"
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

struct Settings {
  int seconds = 10;
  int connections = 16;
  std::string strategy = "gradual_rollout";
  std::string pki_script = CLS_PKI_SCRIPT;
  std::string wrk = "wrk";
  // As the agent serves: [serve] threads (default 2) on serving's own
  // io_context (site-agent/site_serving.h).
  int server_threads = 2;
};

// One model kind to serve: its spec, trained parameters and what its JSON
// lines add to "params" (nothing for logistic regression, so its lines stay
// as they were before other kinds were measured).
struct ServedKind {
  cls::core::ModelSpec spec;
  std::vector<float> parameters;
  json params = json::object();
};

std::vector<int> ParseInts(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    out.push_back(std::atoi(item.c_str()));
  }
  return out;
}

// One JSON line on stdout, the kind's own parameters added to `params`.
void PrintLine(const char* name, double value, const char* unit, json params,
               const ServedKind& kind) {
  params.update(kind.params);
  std::cout << json{{"name", name},
                    {"value", value},
                    {"unit", unit},
                    {"params", params}}
                   .dump()
            << std::endl;
}

// A prediction service in `dir` with `kind` deployed as the current version
// and a scaled copy as the candidate, routed by the strategy.
std::unique_ptr<cls::site::PredictionService> Deploy(
    const ServedKind& kind, const DatasetSchema& schema,
    const cls::core::Preprocessor& pre, const std::string& strategy,
    const fs::path& dir) {
  auto service = cls::site::PredictionService::Create(
      {}, schema,
      [pre](const cls::core::RawTable& t) { return pre.Transform(t, {0}); },
      dir);
  if (!service) {
    std::cerr << "serve_bench: " << service.error().message << "\n";
    return nullptr;
  }
  std::vector<float> candidate = kind.parameters;
  for (float& w : candidate) w *= 0.9f;
  const std::string name(cls::core::ModelKindName(kind.spec.kind));
  // Logistic regression keeps the site default (no spec), as deployed
  // before the other kinds existed.
  const std::string spec = kind.spec.kind == cls::core::ModelKind::kMlp
                               ? kind.spec.ToString()
                               : std::string();
  cls::protocol::DeploymentUpdate update;
  update.deployment_id = "bench";
  update.strategy = strategy;
  update.current = {"v1", cls::site::ModelHash(kind.parameters), name,
                    kind.parameters, spec};
  update.candidate = {"v2", cls::site::ModelHash(candidate), name, candidate,
                      spec};
  update.rollout_percent = strategy == "shadow_mode"  ? 0
                           : strategy == "ab_testing" ? 50
                           : strategy == "immediate"  ? 100
                                                      : 25;
  update.salt = "bench-salt";
  const auto ack = (*service)->OnDeploymentUpdate(update);
  if (!ack.accepted) {
    std::cerr << "serve_bench: deployment refused: " << ack.reason << "\n";
    return nullptr;
  }
  return std::move(*service);
}

// serve.service_predict_us: PredictionService::Predict alone.
bool MeasureService(cls::site::PredictionService& service,
                    const ServedKind& kind, const Settings& settings,
                    int features_count) {
  const json features = {{"age", 54},       {"sex", 1},       {"cp", 4},
                         {"trestbps", 130}, {"chol", 246},    {"fbs", 0},
                         {"restecg", 2},    {"thalach", 150}, {"exang", 0},
                         {"oldpeak", 1.0},  {"slope", 2},     {"ca", 0},
                         {"thal", 3}};
  constexpr int kCalls = 100'000;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kCalls; ++i) {
    auto p =
        service.Predict("svc-" + std::to_string(i), features, 1'700'000'000);
    if (!p) {
      std::cerr << "serve_bench: " << p.error().message << "\n";
      return false;
    }
  }
  const double us = std::chrono::duration<double, std::micro>(
                        std::chrono::steady_clock::now() - start)
                        .count() /
                    kCalls;
  json params = {{"calls", kCalls},
                 {"strategy", settings.strategy},
                 {"features", features_count}};
  PrintLine("serve.service_predict_us", us, "us", params, kind);
  return true;
}

// serve.predict_rps: wrk against the HTTPS server in this process.
bool MeasureHttp(cls::site::PredictionService& service, const ServedKind& kind,
                 std::shared_ptr<boost::asio::ssl::context> context,
                 const Settings& settings, const fs::path& lua) {
  boost::asio::io_context io(settings.server_threads);
  cls::site::PredictionServerOptions options;
  options.port = 0;
  options.max_connections = 1024;
  // No client certificates (wrk has none), so no role to check.
  options.client_policy = std::nullopt;
  cls::site::PredictionServer server(io, context, service, options);
  auto port = server.Listen();
  if (!port) {
    std::cerr << "serve_bench: " << port.error().message << "\n";
    return false;
  }
  auto guard = boost::asio::make_work_guard(io);
  std::vector<std::thread> io_threads;
  for (int i = 0; i < settings.server_threads; ++i) {
    io_threads.emplace_back([&] { io.run(); });
  }
  const std::string url = "https://127.0.0.1:" + std::to_string(*port);
  std::cerr << "serve_bench: " << cls::core::ModelKindName(kind.spec.kind)
            << ": wrk " << settings.seconds << " s, " << settings.connections
            << " connections against " << url << "\n";
  int rc = 0;
  const std::string out =
      Run(settings.wrk + " -t1 -c" + std::to_string(settings.connections) +
              " -d" + std::to_string(settings.seconds) + "s --latency -s '" +
              lua.string() + "' " + url + "/v1/predict 2>&1",
          rc);
  guard.reset();
  io.stop();
  for (auto& t : io_threads) t.join();
  server.Stop();
  if (rc != 0) {
    std::cerr << "serve_bench: wrk failed (apt-get install wrk):\n" << out;
    return false;
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
    return false;
  }
  std::cerr << out;
  json params = {{"connections", settings.connections},
                 {"seconds", settings.seconds},
                 {"wrk_threads", 1},
                 {"server_threads", settings.server_threads},
                 {"strategy", settings.strategy},
                 {"tls", "1.3"},
                 {"p99_ms", p99_ms},
                 {"hardware_threads", std::thread::hardware_concurrency()}};
  PrintLine("serve.predict_rps", rps, "requests/s", params, kind);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  std::vector<std::string> kinds = {"logistic_regression", "mlp"};
  std::vector<int> hidden = {32};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--seconds") {
      settings.seconds = std::atoi(argv[i + 1]);
    } else if (a == "--connections") {
      settings.connections = std::atoi(argv[i + 1]);
    } else if (a == "--strategy") {
      settings.strategy = argv[i + 1];
    } else if (a == "--pki-script") {
      settings.pki_script = argv[i + 1];
    } else if (a == "--wrk") {
      settings.wrk = argv[i + 1];
    } else if (a == "--server-threads") {
      settings.server_threads = std::atoi(argv[i + 1]);
    } else if (a == "--models") {
      kinds.clear();
      std::stringstream in(argv[i + 1]);
      for (std::string k; std::getline(in, k, ',');) kinds.push_back(k);
    } else if (a == "--hidden") {
      hidden = ParseInts(argv[i + 1]);
    } else {
      std::cerr << "serve_bench: unknown option " << a << "\n";
      return 2;
    }
  }
  if (settings.server_threads <= 0) {
    std::cerr << "serve_bench: --server-threads must be positive\n";
    return 2;
  }
  if (settings.seconds <= 0 || settings.connections <= 0) {
    std::cerr << "serve_bench: --seconds and --connections must be positive\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);

  // The models: Cleveland rows, standardised, trained for 20 epochs.
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
  const Eigen::MatrixXf x = pre->Transform(csv->table, rows);
  const Eigen::VectorXi y =
      cls::core::ClassIndices(pre->Labels(csv->table, rows));
  cls::core::TrainConfig train;
  train.epochs = 20;
  std::vector<ServedKind> served;
  for (const std::string& name : kinds) {
    auto kind = cls::core::ParseModelKind(name);
    if (!kind || *kind == cls::core::ModelKind::kSoftmaxRegression) {
      std::cerr << "serve_bench: --models takes logistic_regression and mlp\n";
      return 2;
    }
    ServedKind k;
    k.spec = {*kind, schema.FeatureCount(), 2, {}, "relu"};
    if (*kind == cls::core::ModelKind::kMlp) {
      k.spec.hidden = hidden;
      k.params = {{"model", name},
                  {"hidden_layers", hidden},
                  {"activation", k.spec.activation},
                  {"model_parameters", k.spec.NumParameters()}};
    }
    auto model = cls::core::Model::Create(k.spec, 1);
    if (!model) {
      std::cerr << "serve_bench: " << model.error().message << "\n";
      return 2;
    }
    if (auto trained = model->Train(x, y, train); !trained) return 1;
    k.parameters.assign(model->parameters().begin(), model->parameters().end());
    served.push_back(std::move(k));
  }

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

  // Certificates: a serverAuth certificate for 127.0.0.1 from a fresh CA.
  int rc = 0;
  const std::string pki = (work / "pki").string();
  const std::string& script = settings.pki_script;
  Run("'" + script + "' --dir '" + pki + "' init --name 'Bench CA' 2>&1 && '" +
          script + "' --dir '" + pki + "' issue coordinator 127.0.0.1 2>&1",
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
  const fs::path lua = work / "predict.lua";
  std::ofstream(lua) << kLua;

  for (size_t i = 0; i < served.size(); ++i) {
    auto service = Deploy(served[i], schema, *pre, settings.strategy,
                          work / ("state-" + std::to_string(i)));
    if (!service ||
        !MeasureService(*service, served[i], settings, schema.FeatureCount()) ||
        !MeasureHttp(*service, served[i], *context, settings, lua)) {
      return 1;
    }
  }
  return 0;
}
