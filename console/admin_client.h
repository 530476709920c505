#ifndef CLS_CONSOLE_ADMIN_CLIENT_H_
#define CLS_CONSOLE_ADMIN_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/host_port.h"

// Only admin_client.cc sees Asio/Beast; this header stays cheap to include.
namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace cls::console {

// Where the coordinator's admin API listens.
using Endpoint = HostPort;

// Parses "HOST:PORT" or "[IPV6]:PORT" (common/host_port.h). Fails with
// InvalidArgument naming what is wrong ("'example:0': port must be 1-65535").
inline Result<Endpoint> ParseEndpoint(std::string_view text) {
  return ParseHostPort(text);
}

enum class HttpMethod { kGet, kPost, kDelete };

struct AdminRequest {
  HttpMethod method = HttpMethod::kGet;
  std::string target;                  // "/v1/rounds?limit=5"
  std::optional<nlohmann::json> body;  // sent as application/json
};

// The coordinator's answer, whatever its HTTP status. A non-2xx answer whose
// body is not JSON carries the (truncated) text as a JSON string.
struct AdminResponse {
  int status = 0;
  nlohmann::json body;
};

// One request/response exchange with the admin API. The seam between the
// commands and the network: tests substitute a hand-written fake.
class AdminApi {
 public:
  virtual ~AdminApi() = default;

  // Fails (no response) with:
  //   Unavailable / DeadlineExceeded  cannot resolve, connect, or no answer
  //   Unauthenticated                 TLS handshake or certificate rejected
  //   DataLoss                        malformed or oversized response
  virtual Result<AdminResponse> Send(const AdminRequest& request) = 0;
};

struct AdminClientConfig {
  Endpoint endpoint;
  std::string ca_file;    // project CA: the coordinator must chain to it
  std::string cert_file;  // operator certificate presented to the coordinator
  std::string key_file;
  std::chrono::seconds timeout{30};  // bounds each whole exchange
};

// Synchronous HTTPS client for the admin API: one TLS 1.3 connection with the
// operator's client certificate per request, the coordinator verified against
// the project CA and the host name it was reached by.
//
// Thread-compatible: Send() builds its own io_context per call; the TLS
// context is shared and immutable after Create().
class AdminClient final : public AdminApi {
 public:
  // Loads the CA, certificate and key now, so a bad file is reported before
  // any connection (InvalidArgument / NotFound from crypto/tls_context.h).
  static Result<std::unique_ptr<AdminClient>> Create(AdminClientConfig config);

  Result<AdminResponse> Send(const AdminRequest& request) override;

 private:
  AdminClient(AdminClientConfig config,
              std::shared_ptr<boost::asio::ssl::context> tls);

  AdminClientConfig config_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
};

}  // namespace cls::console

#endif  // CLS_CONSOLE_ADMIN_CLIENT_H_
