#ifndef CLS_SITE_AGENT_PREDICTION_SERVER_H_
#define CLS_SITE_AGENT_PREDICTION_SERVER_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "site-agent/config.h"
#include "site-agent/prediction_service.h"

namespace cls::site {

// Who may call the endpoint once the TLS handshake has checked the client's
// certificate against the project CA (docs/serving.md "Who may call"). The
// project CA signs every party of the consortium, including every other
// hospital's site agent, so being signed by it is not enough: the
// certificate's role (OU) must be one of `roles`, or, when `own_site_id` is
// set, the certificate must be this site's own (OU site, CN own_site_id).
// Another site's certificate is never accepted.
struct ClientPolicy {
  std::vector<std::string> roles = {"ehr"};
  std::string own_site_id;  // empty: this site's own certificate is refused
};

struct PredictionServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8443;  // 0 picks a free port (tests)
  size_t body_limit = 64 * 1024;
  std::chrono::seconds handshake_timeout{10};
  // A keep-alive connection idle this long is closed.
  std::chrono::seconds idle_timeout{30};
  size_t max_connections = 256;
  // With client certificates required (the default): who may call; every
  // request of any other certificate is answered 403. nullopt only with a
  // TLS context that asks for no client certificate
  // (require_client_cert = false), where nobody is identified.
  std::optional<ClientPolicy> client_policy = ClientPolicy{};
};

// Empty if `peer` (a verified client certificate's CN and role) may call
// under `policy`; otherwise the refusal, naming the certificate.
std::string ClientRefusal(const ClientPolicy& policy,
                          const std::string& common_name,
                          const std::string& role);

// "127.0.0.1:8443" or "[::1]:8443" -> host, port. InvalidArgument naming
// `what` otherwise.
Result<std::pair<std::string, uint16_t>> ParseListenAddress(
    std::string_view text, std::string_view what);

// Server-side TLS 1.3 with the site's certificate and key. With
// `require_client_cert` a client (the hospital's EHR) must present a
// certificate of the project CA (checked against the CRL when one is
// configured); without, any client that reaches the port may call it, so
// it should listen on loopback only.
Result<std::shared_ptr<boost::asio::ssl::context>> MakePredictionTlsContext(
    const TlsConfig& tls, bool require_client_cert);

// The site's local HTTPS prediction endpoint (Boost.Beast, C++20 coroutines
// on the given io_context, which any number of threads may run: each
// connection has its own strand; SiteServing gives it its own threads):
//   POST /v1/predict  {"request_key": "...", "features": {...}}
//                     -> {"probability", "label", "version_id"}
//   POST /v1/outcome  {"request_key": "...", "outcome": 0|1}
//   GET  /metrics     Prometheus text
//   GET  /healthz     {"status": "ok", "current_version"} or 503
// Every request has a body limit, every read and write a deadline; errors are
// {"error": {"code", "message"}} and never echo the request's values. A
// client certificate outside `options.client_policy` gets 403 on every
// endpoint, and its connection is closed.
// Call Listen before threads run the io_context, and Stop (or destroy the
// server) on its thread with only one thread running it, or once none does.
// `service` must outlive the server and be thread-safe (it is).
class PredictionServer {
 public:
  PredictionServer(boost::asio::io_context& io,
                   std::shared_ptr<boost::asio::ssl::context> tls,
                   PredictionService& service, PredictionServerOptions options);
  ~PredictionServer();

  // Binds and starts accepting; returns the bound port.
  Result<uint16_t> Listen();
  // Stops accepting; open connections end at their next deadline.
  void Stop();

 private:
  boost::asio::io_context& io_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  PredictionService& service_;
  PredictionServerOptions options_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<std::atomic<size_t>> connections_;
};

}  // namespace cls::site

#endif  // CLS_SITE_AGENT_PREDICTION_SERVER_H_
