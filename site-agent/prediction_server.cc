#include "site-agent/prediction_server.h"
#include "common/log_completion.h"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>

#include "common/host_port.h"
#include "crypto/tls_context.h"

namespace cls::site {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::use_awaitable;
using nlohmann::json;

namespace {

using Stream = beast::ssl_stream<beast::tcp_stream>;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Response JsonResponse(const Request& req, int status, const json& body) {
  Response res{static_cast<http::status>(status), req.version()};
  res.set(http::field::server, "cls-site-agent");
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = body.dump(-1, ' ', false, json::error_handler_t::replace);
  res.body() += "\n";
  res.prepare_payload();
  return res;
}

Response ErrorResponse(const Request& req, int status, std::string_view code,
                       std::string_view message) {
  return JsonResponse(req, status,
                      {{"error", {{"code", code}, {"message", message}}}});
}

Response ErrorResponse(const Request& req, const Error& error) {
  return ErrorResponse(req, HttpStatusFor(error), ErrorCodeName(error.code),
                       error.message);
}

// The body as a JSON object with a string request_key; nullopt (and a
// 400 in `refusal`) otherwise.
std::optional<json> ParseBody(const Request& req, PredictionService& service,
                              Response& refusal) {
  json body = json::parse(req.body(), nullptr, /*allow_exceptions=*/false);
  std::string_view problem;
  if (body.is_discarded()) {
    problem = "body is not valid JSON";
  } else if (!body.is_object()) {
    problem = "body must be a JSON object";
  } else if (!body.contains("request_key") ||
             !body["request_key"].is_string()) {
    problem = "request_key (a string) is required";
  }
  if (problem.empty()) return body;
  service.CountRejected("bad_request");
  refusal = ErrorResponse(req, 400, "invalid_argument", problem);
  return std::nullopt;
}

Response Predict(const Request& req, PredictionService& service) {
  Response refusal;
  auto body = ParseBody(req, service, refusal);
  if (!body) return refusal;
  static const json kNoFeatures = json::object();
  const json& features =
      body->contains("features") ? (*body)["features"] : kNoFeatures;
  auto prediction = service.Predict((*body)["request_key"].get<std::string>(),
                                    features, NowSeconds());
  if (!prediction) {
    if (prediction.error().code == ErrorCode::kInvalidArgument) {
      service.CountRejected("bad_request");
    }
    return ErrorResponse(req, prediction.error());
  }
  // Every kind: each class's probability and the predicted class; the
  // binary fields (probability = P(y = 1), label) as before.
  json probabilities = json::object();
  const std::vector<std::string> names =
      cls::core::ClassNames(service.schema().label);
  for (size_t i = 0; i < prediction->probabilities.size() && i < names.size();
       ++i) {
    probabilities[names[i]] = prediction->probabilities[i];
  }
  return JsonResponse(req, 200,
                      {{"probability", prediction->probability},
                       {"label", prediction->label},
                       {"probabilities", std::move(probabilities)},
                       {"predicted_class", prediction->predicted_class},
                       {"version_id", prediction->version_id},
                       {"model", prediction->model}});
}

Response Outcome(const Request& req, PredictionService& service) {
  Response refusal;
  auto body = ParseBody(req, service, refusal);
  if (!body) return refusal;
  const json& outcome = body->contains("outcome") ? (*body)["outcome"] : json();
  const int classes = service.schema().label.NumClasses();
  int value = -1;
  if (outcome.is_boolean() && classes == 2) {
    // Yes/no only for a binary model: for K > 2 it names no class.
    value = outcome.get<bool>() ? 1 : 0;
  } else if (outcome.is_number_integer()) {
    // A class index: 0 or 1 for a binary model, 0..K-1 otherwise.
    const auto v = outcome.get<int64_t>();
    if (v >= 0 && v < classes) value = static_cast<int>(v);
  }
  if (value < 0) {
    service.CountRejected("bad_request");
    return ErrorResponse(req, 400, "invalid_argument",
                         classes == 2 ? "outcome must be 0, 1, true or false"
                                      : "outcome must be a class index 0.." +
                                            std::to_string(classes - 1));
  }
  auto status = service.RecordOutcome((*body)["request_key"].get<std::string>(),
                                      value, NowSeconds());
  if (!status) return ErrorResponse(req, status.error());
  return JsonResponse(req, 200, {{"status", "recorded"}});
}

Response Route(const Request& req, PredictionService& service) {
  const std::string_view target(req.target().data(), req.target().size());
  const bool post = req.method() == http::verb::post;
  const bool get = req.method() == http::verb::get;
  if (target == "/v1/predict" || target == "/v1/outcome") {
    if (!post) {
      auto res = ErrorResponse(req, 405, "method_not_allowed", "use POST");
      res.set(http::field::allow, "POST");
      return res;
    }
    return target == "/v1/predict" ? Predict(req, service)
                                   : Outcome(req, service);
  }
  if (target == "/metrics" || target == "/healthz") {
    if (!get) {
      auto res = ErrorResponse(req, 405, "method_not_allowed", "use GET");
      res.set(http::field::allow, "GET");
      return res;
    }
    if (target == "/healthz") {
      auto state = service.state();
      if (!state) {
        return JsonResponse(
            req, 503,
            {{"status", "no_model"}, {"message", "no model deployed yet"}});
      }
      return JsonResponse(
          req, 200,
          {{"status", "ok"},
           {"current_version", state->deployment().current.version_id}});
    }
    Response res{http::status::ok, req.version()};
    res.set(http::field::server, "cls-site-agent");
    res.set(http::field::content_type, "text/plain; version=0.0.4");
    res.keep_alive(req.keep_alive());
    res.body() = service.MetricsText();
    res.prepare_payload();
    return res;
  }
  return ErrorResponse(req, 404, "not_found", "no such endpoint");
}

// Empty when the connection's client may call; the refusal otherwise.
std::string CheckClient(Stream& stream,
                        const PredictionServerOptions& options) {
  if (!options.client_policy) return "";
  auto peer = crypto::GetPeerIdentity(stream.native_handle());
  if (!peer) return "a client certificate is required";
  return ClientRefusal(*options.client_policy, peer->common_name, peer->role);
}

asio::awaitable<void> ServeConnection(
    Stream stream, PredictionService& service, PredictionServerOptions options,
    std::shared_ptr<std::atomic<size_t>> connections) {
  struct Count {
    std::shared_ptr<std::atomic<size_t>> n;
    ~Count() { n->fetch_sub(1); }
  } count{connections};
  boost::system::error_code ec;
  beast::get_lowest_layer(stream).expires_after(options.handshake_timeout);
  co_await stream.async_handshake(ssl::stream_base::server,
                                  asio::redirect_error(use_awaitable, ec));
  if (ec) {
    spdlog::debug("serve: TLS handshake refused: {}", ec.message());
    co_return;
  }
  // Identity is checked once per connection; a refused client still gets
  // an HTTP answer (403, naming its certificate) so its operators see why.
  const std::string refusal = CheckClient(stream, options);
  if (!refusal.empty()) {
    spdlog::warn("serve: refused a client: {} ([serve] client_roles)", refusal);
  }
  beast::flat_buffer buffer;
  while (true) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(options.body_limit);
    parser.header_limit(8 * 1024);
    beast::get_lowest_layer(stream).expires_after(options.idle_timeout);
    co_await http::async_read(stream, buffer, parser,
                              asio::redirect_error(use_awaitable, ec));
    if (ec == http::error::body_limit) {
      service.CountRejected("body_too_large");
      Request head;
      head.version(11);
      head.keep_alive(false);
      auto res = ErrorResponse(
          head, 413, "payload_too_large",
          "body larger than " + std::to_string(options.body_limit) + " bytes");
      co_await http::async_write(stream, res,
                                 asio::redirect_error(use_awaitable, ec));
      break;
    }
    if (ec) break;  // closed, timed out or malformed: nothing to answer
    if (!refusal.empty()) {
      service.CountRejected("forbidden");
      Response res =
          ErrorResponse(parser.get(), 403, "permission_denied", refusal);
      res.keep_alive(false);
      co_await http::async_write(stream, res,
                                 asio::redirect_error(use_awaitable, ec));
      break;
    }
    Response res = Route(parser.get(), service);
    co_await http::async_write(stream, res,
                               asio::redirect_error(use_awaitable, ec));
    if (ec || !res.keep_alive()) break;
  }
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
  co_await stream.async_shutdown(asio::redirect_error(use_awaitable, ec));
}

asio::awaitable<void> AcceptLoop(
    asio::io_context& io, asio::ip::tcp::acceptor& acceptor,
    std::shared_ptr<ssl::context> tls, PredictionService& service,
    PredictionServerOptions options,
    std::shared_ptr<std::atomic<size_t>> connections) {
  while (acceptor.is_open()) {
    boost::system::error_code ec;
    // Each connection on its own strand: the io_context may be run by
    // several threads, and a Beast stream's handlers must not overlap.
    asio::ip::tcp::socket socket(asio::make_strand(io));
    co_await acceptor.async_accept(socket,
                                   asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      spdlog::warn("serve: accept: {}", ec.message());
      continue;
    }
    // A cap on open connections, so a flood of idle clients cannot exhaust
    // descriptors or memory; the excess are closed at once.
    if (connections->load() >= options.max_connections) {
      socket.close(ec);
      continue;
    }
    connections->fetch_add(1);
    socket.set_option(asio::ip::tcp::no_delay(true), ec);
    auto executor = socket.get_executor();
    asio::co_spawn(executor,
                   ServeConnection(Stream(std::move(socket), *tls), service,
                                   options, connections),
                   LogCompletion("prediction connection"));
  }
}

}  // namespace

std::string ClientRefusal(const ClientPolicy& policy,
                          const std::string& common_name,
                          const std::string& role) {
  const bool own_site = role == "site" && !policy.own_site_id.empty() &&
                        common_name == policy.own_site_id;
  const bool listed =
      role != "site" && std::find(policy.roles.begin(), policy.roles.end(),
                                  role) != policy.roles.end();
  if (own_site || listed) return "";
  return "certificate '" + common_name + "' (role " +
         (role.empty() ? std::string("none") : role) +
         ") may not call this endpoint";
}

Result<std::pair<std::string, uint16_t>> ParseListenAddress(
    std::string_view text, std::string_view what) {
  auto address = ParseHostPort(text, PortZero::kAllowed);
  if (!address) {
    return InvalidArgument(std::string(what) + ": " + address.error().message);
  }
  const std::string& host = address->host;
  const uint16_t port = address->port;
  boost::system::error_code address_ec;
  asio::ip::make_address(host, address_ec);
  if (address_ec) {
    return InvalidArgument(std::string(what) +
                           ": host must be an IP address, e.g. 127.0.0.1");
  }
  return std::make_pair(host, port);
}

Result<std::shared_ptr<ssl::context>> MakePredictionTlsContext(
    const TlsConfig& tls, bool require_client_cert) {
  const crypto::TlsFiles files{tls.ca, tls.cert, tls.key, tls.crl};
  if (require_client_cert) {
    // The project's server context: TLS 1.3, client certificates of the
    // project CA only, revocation checked. A server that authenticates
    // clients must know which certificates were revoked.
    if (tls.crl.empty()) {
      return FailedPrecondition(
          "serve: require_client_cert needs [tls] crl (the project CA's CRL, "
          "'cls-pki crl'), or set require_client_cert = false");
    }
    return crypto::MakeServerTlsContext(files);
  }
  // No client authentication: TLS 1.3 with the site's certificate only.
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* ctx = context->native_handle();
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1) {
    return Internal("serve: cannot require TLS 1.3");
  }
  boost::system::error_code ec;
  context->use_certificate_chain_file(tls.cert, ec);
  if (ec) {
    return InvalidArgument("serve: cannot use certificate " + tls.cert + ": " +
                           ec.message());
  }
  context->use_private_key_file(tls.key, ssl::context::pem, ec);
  if (ec) {
    return InvalidArgument("serve: cannot use key " + tls.key + ": " +
                           ec.message());
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return InvalidArgument("serve: key " + tls.key +
                           " does not match certificate " + tls.cert);
  }
  context->set_verify_mode(ssl::verify_none, ec);
  return context;
}

PredictionServer::PredictionServer(asio::io_context& io,
                                   std::shared_ptr<ssl::context> tls,
                                   PredictionService& service,
                                   PredictionServerOptions options)
    : io_(io),
      tls_(std::move(tls)),
      service_(service),
      options_(std::move(options)),
      acceptor_(io),
      connections_(std::make_shared<std::atomic<size_t>>(0)) {}

PredictionServer::~PredictionServer() { Stop(); }

Result<uint16_t> PredictionServer::Listen() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(options_.host, ec);
  if (ec) return InvalidArgument("serve: bad address '" + options_.host + "'");
  asio::ip::tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Unavailable("serve: cannot listen on " + options_.host + ":" +
                       std::to_string(options_.port) + ": " + ec.message());
  }
  const uint16_t port = acceptor_.local_endpoint().port();
  asio::co_spawn(
      io_, AcceptLoop(io_, acceptor_, tls_, service_, options_, connections_),
      LogCompletion("prediction accept loop"));
  spdlog::info("serve: predictions on https://{}:{}", options_.host, port);
  return port;
}

void PredictionServer::Stop() {
  boost::system::error_code ec;
  acceptor_.close(ec);
}

}  // namespace cls::site
