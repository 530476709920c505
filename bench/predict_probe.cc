// predict_probe: the two halves of serve.predict_max_ms_during_training
// (scripts/bench.sh, phase "serve_training").
//
//   predict_probe --write-csv PATH --rows N --features F
//       synthetic rows f1..fF (numeric) and y (0/1) for the site agent;
//       generated, never real patients
//   predict_probe --port P --ca CA --cert CERT --key KEY --features F
//                 --rate R --until FILE [--max-seconds S]
//       POST /v1/predict over one mutual-TLS keep-alive connection at a
//       steady R requests/s (sent on schedule; a late answer delays the
//       next send) until FILE exists; prints one JSON object: the longest
//       request, p99, count, non-200 answers.

#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "crypto/tls_context.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

int WriteCsv(const std::string& path, long rows, int features) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return 1;
  for (int j = 1; j <= features; ++j) std::fprintf(f, "f%d,", j);
  std::fprintf(f, "y\n");
  std::mt19937_64 rng(42);
  std::normal_distribution<double> normal(0, 1);
  std::vector<double> w(features);
  for (double& v : w) v = normal(rng) * 0.3;
  std::vector<double> x(features);
  for (long i = 0; i < rows; ++i) {
    double z = 0;
    for (int j = 0; j < features; ++j) {
      x[j] = normal(rng);
      z += w[j] * x[j];
    }
    for (int j = 0; j < features; ++j) std::fprintf(f, "%.2f,", x[j]);
    std::fprintf(f, "%d\n", z + normal(rng) > 0 ? 1 : 0);
  }
  return std::fclose(f) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string csv, ca, cert, key, until;
  long rows = 0;
  int features = 50, port = 0, rate = 500, max_seconds = 900;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--write-csv")
      csv = v;
    else if (a == "--rows")
      rows = std::atol(v.c_str());
    else if (a == "--features")
      features = std::atoi(v.c_str());
    else if (a == "--port")
      port = std::atoi(v.c_str());
    else if (a == "--ca")
      ca = v;
    else if (a == "--cert")
      cert = v;
    else if (a == "--key")
      key = v;
    else if (a == "--rate")
      rate = std::atoi(v.c_str());
    else if (a == "--until")
      until = v;
    else if (a == "--max-seconds")
      max_seconds = std::atoi(v.c_str());
    else {
      std::cerr << "predict_probe: unknown option " << a << "\n";
      return 2;
    }
  }
  if (!csv.empty()) return WriteCsv(csv, rows, features);

  auto tls = cls::crypto::MakeClientTlsContext({ca, cert, key, ""});
  if (!tls) {
    std::cerr << "predict_probe: " << tls.error().message << "\n";
    return 1;
  }
  asio::io_context io;
  beast::ssl_stream<beast::tcp_stream> stream(io, **tls);
  boost::system::error_code ec;
  beast::get_lowest_layer(stream).socket().connect(
      {asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)}, ec);
  if (!ec) {
    beast::get_lowest_layer(stream).socket().set_option(
        asio::ip::tcp::no_delay(true), ec);
  }
  (void)cls::crypto::SetServerHostName(stream.native_handle(), "127.0.0.1");
  if (!ec) stream.handshake(asio::ssl::stream_base::client, ec);
  if (ec) {
    std::cerr << "predict_probe: connect: " << ec.message() << "\n";
    return 1;
  }
  std::string features_json = "{";
  for (int j = 1; j <= features; ++j) {
    features_json += (j > 1 ? "," : "") + std::string("\"f") +
                     std::to_string(j) + "\":" + std::to_string(j % 7 - 3);
  }
  features_json += "}";
  beast::flat_buffer buffer;
  std::vector<double> latencies_ms;
  long non200 = 0;
  const auto period = std::chrono::nanoseconds(1'000'000'000 / rate);
  const auto start = Clock::now();
  auto next = start;
  for (long i = 0;; ++i) {
    if (i % rate == 0) {
      struct stat st;
      if (::stat(until.c_str(), &st) == 0) break;
      if (Clock::now() - start > std::chrono::seconds(max_seconds)) break;
    }
    std::this_thread::sleep_until(next);
    next += period;
    http::request<http::string_body> req{http::verb::post, "/v1/predict", 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    req.keep_alive(true);
    req.body() = "{\"request_key\":\"probe-" + std::to_string(i) +
                 "\",\"features\":" + features_json + "}";
    req.prepare_payload();
    const auto t0 = Clock::now();
    http::write(stream, req, ec);
    http::response<http::string_body> res;
    if (!ec) http::read(stream, buffer, res, ec);
    if (ec) {
      std::cerr << "predict_probe: " << ec.message() << "\n";
      return 1;
    }
    latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (res.result_int() != 200) ++non200;
    if (next < Clock::now()) next = Clock::now();  // late: resume the pace
  }
  std::vector<double> sorted = latencies_ms;
  std::sort(sorted.begin(), sorted.end());
  const double max = sorted.empty() ? -1 : sorted.back();
  const double p99 =
      sorted.empty() ? -1
                     : sorted[static_cast<size_t>(0.99 * (sorted.size() - 1))];
  const double seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << nlohmann::json{{"max_ms", max},
                              {"p99_ms", p99},
                              {"requests", sorted.size()},
                              {"non_200", non200},
                              {"seconds", seconds}}
                   .dump()
            << std::endl;
  return 0;
}
