#include "console/admin_client.h"

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <charconv>
#include <cstddef>

#include "crypto/tls_context.h"

namespace cls::console {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// The largest response accepted. Admin answers are small tables; the limit
// keeps a confused or hostile peer from filling memory.
constexpr std::uint64_t kMaxResponseBytes = 16u << 20;
// How much of a non-JSON error body is kept for the message.
constexpr std::size_t kMaxErrorTextBytes = 200;
// A TLS close_notify exchange is a courtesy; never wait long for it.
constexpr std::chrono::seconds kShutdownGrace{1};

constexpr std::string_view kTlsHint =
    " (is the certificate issued by the project CA and not revoked?)";

std::unexpected<Error> Unauthenticated(std::string m) {
  return MakeError(ErrorCode::kUnauthenticated, std::move(m));
}
std::unexpected<Error> DeadlineExceeded(std::string m) {
  return MakeError(ErrorCode::kDeadlineExceeded, std::move(m));
}

std::string Seconds(std::chrono::seconds s) {
  return std::to_string(s.count()) + " s";
}

// The OpenSSL reason for a TLS failure, with the certificate check that
// failed when it was ours ("certificate verify failed: certificate has
// expired", "... hostname mismatch").
std::string TlsReason(const beast::error_code& ec, SSL* ssl) {
  if (ec.category() != asio::error::get_ssl_category()) return ec.message();
  const auto code = static_cast<unsigned long>(ec.value());
  const char* reason = ERR_reason_error_string(code);
  std::string text = reason != nullptr ? reason : ec.message();
  if (ERR_GET_LIB(code) == ERR_LIB_SSL &&
      ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    const long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      text += std::string(": ") + X509_verify_cert_error_string(verify);
    }
  }
  return text;
}

std::unexpected<Error> TlsFailure(const beast::error_code& ec, SSL* ssl) {
  return Unauthenticated("TLS handshake with coordinator failed: " +
                         TlsReason(ec, ssl) + std::string(kTlsHint));
}

std::string_view MethodName(HttpMethod method) {
  switch (method) {
    case HttpMethod::kGet:
      return "GET";
    case HttpMethod::kPost:
      return "POST";
    case HttpMethod::kDelete:
      return "DELETE";
  }
  return "GET";
}

http::verb Verb(HttpMethod method) {
  switch (method) {
    case HttpMethod::kPost:
      return http::verb::post;
    case HttpMethod::kDelete:
      return http::verb::delete_;
    case HttpMethod::kGet:
      break;
  }
  return http::verb::get;
}

}  // namespace

AdminClient::AdminClient(AdminClientConfig config,
                         std::shared_ptr<boost::asio::ssl::context> tls)
    : config_(std::move(config)), tls_(std::move(tls)) {}

Result<std::unique_ptr<AdminClient>> AdminClient::Create(
    AdminClientConfig config) {
  // No CRL on the client: the CA check plus host name check identify the
  // coordinator; revocation of operators is enforced by the coordinator.
  auto tls = crypto::MakeClientTlsContext(
      crypto::TlsFiles{.ca_file = config.ca_file,
                       .cert_file = config.cert_file,
                       .key_file = config.key_file,
                       .crl_file = ""});
  if (!tls) return std::unexpected(tls.error());
  return std::unique_ptr<AdminClient>(
      new AdminClient(std::move(config), std::move(*tls)));
}

// Each step starts one asynchronous operation and runs the io_context until it
// completes: the Beast timers then bound every step by one deadline, which the
// blocking calls cannot do.
Result<AdminResponse> AdminClient::Send(const AdminRequest& request) {
  const Endpoint& endpoint = config_.endpoint;
  const std::string where = endpoint.ToString();
  const auto deadline = std::chrono::steady_clock::now() + config_.timeout;

  asio::io_context ioc;
  const auto run = [&ioc] {
    ioc.restart();
    ioc.run();
  };
  beast::error_code ec;

  // Resolve (Asio's resolver has no deadline of its own).
  tcp::resolver resolver(ioc);
  tcp::resolver::results_type addresses;
  {
    asio::steady_timer timer(ioc);
    timer.expires_at(deadline);
    bool resolved = false;
    timer.async_wait([&](const beast::error_code& e) {
      if (!e && !resolved) resolver.cancel();
    });
    resolver.async_resolve(
        endpoint.host, std::to_string(endpoint.port),
        tcp::resolver::numeric_service,
        [&](const beast::error_code& e, tcp::resolver::results_type r) {
          resolved = true;
          ec = e;
          addresses = std::move(r);
          timer.cancel();
        });
    run();
  }
  if (ec == asio::error::operation_aborted) {
    return DeadlineExceeded("cannot resolve " + endpoint.host +
                            ": timed out after " + Seconds(config_.timeout));
  }
  if (ec) {
    return Unavailable("cannot resolve " + endpoint.host + ": " + ec.message());
  }

  beast::ssl_stream<beast::tcp_stream> stream(ioc, *tls_);
  beast::tcp_stream& tcp_stream = beast::get_lowest_layer(stream);

  tcp_stream.expires_at(deadline);
  tcp_stream.async_connect(addresses, [&](const beast::error_code& e,
                                          const tcp::endpoint&) { ec = e; });
  run();
  if (ec == beast::error::timeout) {
    return DeadlineExceeded("cannot connect to " + where +
                            ": timed out after " + Seconds(config_.timeout));
  }
  if (ec)
    return Unavailable("cannot connect to " + where + ": " + ec.message());

  // SNI and RFC 2818 host checking: the coordinator's certificate must name
  // the host we were told to reach, not merely chain to the project CA.
  if (auto st =
          crypto::SetServerHostName(stream.native_handle(), endpoint.host);
      !st) {
    return std::unexpected(st.error());
  }
  stream.async_handshake(ssl::stream_base::client,
                         [&](const beast::error_code& e) { ec = e; });
  run();
  if (ec == beast::error::timeout) {
    return DeadlineExceeded(
        "TLS handshake with coordinator failed: timed out after " +
        Seconds(config_.timeout));
  }
  if (ec) return TlsFailure(ec, stream.native_handle());

  http::request<http::string_body> req{Verb(request.method), request.target,
                                       11};
  req.set(http::field::host, where);
  req.set(http::field::user_agent, "clsctl/0.1");
  req.set(http::field::accept, "application/json");
  if (request.body) {
    req.set(http::field::content_type, "application/json");
    req.body() = request.body->dump();
  }
  req.keep_alive(false);
  req.prepare_payload();

  http::async_write(stream, req,
                    [&](const beast::error_code& e, std::size_t) { ec = e; });
  run();

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBytes);
  if (!ec) {
    http::async_read(stream, buffer, parser,
                     [&](const beast::error_code& e, std::size_t) { ec = e; });
    run();
  }
  const std::string exchange =
      std::string(MethodName(request.method)) + " " + request.target;
  if (ec == beast::error::timeout) {
    return DeadlineExceeded("no answer from coordinator at " + where +
                            " within " + Seconds(config_.timeout) + " (" +
                            exchange + ")");
  }
  // In TLS 1.3 the coordinator checks our certificate after our side of the
  // handshake is done: a rejection arrives as an alert on the first read.
  if (ec && ec.category() == asio::error::get_ssl_category()) {
    return TlsFailure(ec, stream.native_handle());
  }
  if (ec == http::error::body_limit || ec == http::error::header_limit) {
    return DataLoss("response from coordinator too large (" + exchange + ")");
  }
  const auto& http_category =
      http::make_error_code(http::error::end_of_stream).category();
  if (ec && ec.category() == http_category &&
      ec != http::error::end_of_stream) {
    return DataLoss("malformed HTTP response from coordinator (" + exchange +
                    "): " + ec.message());
  }
  if (ec) {
    return Unavailable("coordinator at " + where +
                       " closed the connection without answering (" + exchange +
                       "): " + ec.message());
  }

  tcp_stream.expires_at(
      std::min(deadline, std::chrono::steady_clock::now() + kShutdownGrace));
  stream.async_shutdown([](const beast::error_code&) {});
  run();

  AdminResponse response;
  response.status = parser.get().result_int();
  const std::string& text = parser.get().body();
  if (text.empty()) return response;  // body stays null
  response.body = nlohmann::json::parse(text, nullptr,
                                        /*allow_exceptions=*/false);
  if (response.body.is_discarded()) {
    if (response.status >= 200 && response.status < 300) {
      return DataLoss("malformed response from coordinator (" + exchange +
                      "): body is not JSON");
    }
    response.body = text.substr(0, kMaxErrorTextBytes);
  }
  return response;
}

}  // namespace cls::console
