#ifndef CLS_SITE_AGENT_SERVING_TEST_UTIL_H_
#define CLS_SITE_AGENT_SERVING_TEST_UTIL_H_

// Helpers shared by the serving tests only: a three-column schema, a
// preprocessor fitted on a few rows, and versions with known parameters.

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/dataset.h"
#include "crypto/tls_context.h"
#include "site-agent/prediction_service.h"
#include "site-agent/serving_state.h"
#include "site-agent/state_store.h"

namespace cls::site::testing {

struct Reply {
  int status = 0;
  std::string body;
  std::string content_type;
};

// A keep-alive HTTPS client; every call has a 10 s socket timeout so a
// broken server fails the test instead of hanging it.
class Client {
 public:
  Client(std::shared_ptr<boost::asio::ssl::context> tls, uint16_t port)
      : stream_(io_, *tls) {
    boost::beast::get_lowest_layer(stream_).connect(
        {boost::asio::ip::make_address("127.0.0.1"), port});
    timeval tv{10, 0};
    const int fd =
        boost::beast::get_lowest_layer(stream_).socket().native_handle();
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    (void)crypto::SetServerHostName(stream_.native_handle(), "127.0.0.1");
  }

  boost::system::error_code Handshake() {
    boost::system::error_code ec;
    stream_.handshake(boost::asio::ssl::stream_base::client, ec);
    return ec;
  }

  Reply Call(boost::beast::http::verb verb, const std::string& target,
             const std::string& body = "") {
    boost::beast::http::request<boost::beast::http::string_body> req{
        verb, target, 11};
    req.set(boost::beast::http::field::host, "127.0.0.1");
    req.keep_alive(true);
    if (!body.empty()) {
      req.set(boost::beast::http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    boost::system::error_code ec;
    boost::beast::http::write(stream_, req, ec);
    if (ec) return {-1, ec.message(), ""};
    boost::beast::http::response<boost::beast::http::string_body> res;
    boost::beast::http::read(stream_, buffer_, res, ec);
    if (ec) return {-1, ec.message(), ""};
    return {static_cast<int>(res.result_int()), res.body(),
            std::string(res[boost::beast::http::field::content_type])};
  }

 private:
  boost::asio::io_context io_;
  boost::beast::ssl_stream<boost::beast::tcp_stream> stream_;
  boost::beast::flat_buffer buffer_;
};

// age (numeric), chol (numeric, 0 = missing), cp (categorical 1..4):
// 2 + 4 = 6 features, 7 parameters.
inline core::DatasetSchema ServingSchema() {
  core::DatasetSchema schema;
  schema.features.push_back({"age", core::ColumnSpec::Kind::kNumeric, {}});
  schema.features.push_back(
      {"chol", core::ColumnSpec::Kind::kNumeric, {}, /*zero_is_missing=*/true});
  schema.features.push_back(
      {"cp", core::ColumnSpec::Kind::kCategorical, {1, 2, 3, 4}});
  schema.label = {"num", 0};
  return schema;
}

inline core::Preprocessor ServingPreprocessor() {
  core::RawTable table;
  table.rows = {{40, 200, 1}, {50, 240, 2}, {60, 280, 3}, {70, 320, 4}};
  table.labels = {0, 0, 1, 1};
  return *core::Preprocessor::Fit(ServingSchema(), table, {0, 1, 2, 3});
}

inline PredictionService::Standardiser ServingStandardiser() {
  auto pre = std::make_shared<core::Preprocessor>(ServingPreprocessor());
  return [pre](const core::RawTable& table) {
    std::vector<int> rows(table.rows.size());
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int>(i);
    return pre->Transform(table, rows);
  };
}

// A version whose probability rises with age (weight `age_weight` on the
// standardised age, bias `bias`).
inline ServedVersion MakeVersion(const std::string& id, float age_weight,
                                 float bias = 0) {
  std::vector<float> p = {age_weight, 0, 0, 0, 0, 0, bias};
  return {id, ModelHash(p), p};
}

inline protocol::ServedModel ToWire(const ServedVersion& v) {
  return {v.version_id, v.hash, "logistic_regression", v.parameters};
}

inline protocol::DeploymentUpdate MakeUpdate(const std::string& id,
                                             const std::string& strategy,
                                             const ServedVersion& current,
                                             const ServedVersion* candidate,
                                             double percent,
                                             const std::string& salt) {
  protocol::DeploymentUpdate u;
  u.deployment_id = id;
  u.strategy = strategy;
  u.current = ToWire(current);
  if (candidate != nullptr) u.candidate = ToWire(*candidate);
  u.rollout_percent = percent;
  u.salt = salt;
  return u;
}

#ifdef CLS_PKI_SCRIPT
// Runs certs/cls-pki on `dir` with `args`; its exit code.
inline int RunPki(const std::filesystem::path& dir, const std::string& args) {
  const std::string cmd = "timeout 60 '" + std::string(CLS_PKI_SCRIPT) +
                          "' --dir '" + dir.string() + "' " + args +
                          " >/dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
#endif

}  // namespace cls::site::testing

#endif  // CLS_SITE_AGENT_SERVING_TEST_UTIL_H_
