#include "coordinator/admin/admin_server.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <mutex>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "common/listener.h"
#include "common/log_completion.h"

namespace cls::coordinator {

// The way back from the io thread to the server's thread. Stop closes it
// (under the mutex) before the server's io_context goes, so an answer
// computed after that is dropped instead of posted to a destroyed context.
struct AdminApiGate {
  std::mutex mutex;
  bool open = true;
};

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::use_awaitable;

namespace {

constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr size_t kBodyLimit = 1 << 20;

bool IsOperatorRole(const std::string& role) {
  const auto& roles = OperatorRoles();
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

// The verified peer certificate's notBefore (break-glass expiry).
std::optional<std::chrono::system_clock::time_point> PeerNotBefore(SSL* ssl) {
  const X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return std::nullopt;
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notBefore(cert), &tm) != 1) {
    return std::nullopt;
  }
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

using Stream = beast::ssl_stream<beast::tcp_stream>;

http::response<http::string_body> MakeResponse(
    const http::request<http::string_body>& req, const AdminResponse& r) {
  http::response<http::string_body> res{static_cast<http::status>(r.status),
                                        req.version()};
  res.set(http::field::server, "cls-coordinator");
  res.set(http::field::content_type, "application/json");
  res.keep_alive(req.keep_alive());
  res.body() =
      r.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
      "\n";
  res.prepare_payload();
  return res;
}

// One request on its way to the io thread and its answer on the way back.
struct ApiCall {
  AdminRequest request;
  std::optional<AdminResponse> response;  // set on the server's thread
  asio::steady_timer* wake = nullptr;     // idem
};

// api.HandleAsync(call->request) on `api_executor`; resumes on the connection's
// executor with the answer in call->response. If the server stops first,
// this frame is destroyed while it waits and the answer finds no timer.
asio::awaitable<void> CallApi(std::shared_ptr<ApiCall> call, AdminApi& api,
                              asio::any_io_executor api_executor,
                              std::shared_ptr<AdminApiGate> gate) {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer wake(executor, asio::steady_timer::time_point::max());
  call->wake = &wake;
  struct Unhook {
    ApiCall& call;
    ~Unhook() { call.wake = nullptr; }
  } unhook{*call};
  asio::post(api_executor, [call, &api, executor, gate] {
    // Most routes answer at once; POST /v1/backup answers from the io
    // thread once its copy finished on the worker pool.
    api.HandleAsync(call->request, [call, executor,
                                    gate](AdminResponse response) {
      std::lock_guard lock(gate->mutex);
      if (!gate->open) return;
      asio::post(executor, [call, response = std::move(response)]() mutable {
        call->response = std::move(response);
        if (call->wake != nullptr) call->wake->cancel();
      });
    });
  });
  while (!call->response) {
    boost::system::error_code ec;
    co_await wake.async_wait(asio::redirect_error(use_awaitable, ec));
  }
}

asio::awaitable<void> ServeConnection(Stream stream, AdminApi& api,
                                      asio::any_io_executor api_executor,
                                      std::shared_ptr<AdminApiGate> gate) {
  boost::system::error_code ec;
  beast::get_lowest_layer(stream).expires_after(kHandshakeTimeout);
  co_await stream.async_handshake(asio::ssl::stream_base::server,
                                  asio::redirect_error(use_awaitable, ec));
  if (ec) {
    spdlog::warn("admin: TLS handshake refused: {}", ec.message());
    co_return;
  }
  auto peer = crypto::GetPeerIdentity(stream.native_handle());
  Actor actor;
  AdminResponse refusal;
  if (!peer) {
    refusal = {401,
               {{"error",
                 {{"code", "unauthenticated"},
                  {"message", "no verified client certificate"}}}}};
  } else if (!IsOperatorRole(peer->role)) {
    refusal = {403,
               {{"error",
                 {{"code", "permission_denied"},
                  {"message", "certificate role '" + peer->role +
                                  "' may not use the admin API"}}}}};
  } else {
    actor = {peer->common_name, peer->role};
  }

  auto not_before = PeerNotBefore(stream.native_handle());
  // Automatic logoff: a connection idle for idle_timeout is closed, and none
  // outlives session_max; each new connection is authenticated afresh.
  const auto idle_timeout = api.config().admin_idle_timeout;
  const auto session_end =
      std::chrono::steady_clock::now() + api.config().admin_session_max;
  beast::flat_buffer buffer;
  while (true) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kBodyLimit);
    beast::get_lowest_layer(stream).expires_after(idle_timeout);
    co_await http::async_read(stream, buffer, parser,
                              asio::redirect_error(use_awaitable, ec));
    if (ec) break;  // closed, timed out or malformed: nothing to answer
    auto& req = parser.get();
    AdminResponse response = refusal;
    if (!actor.name.empty()) {
      auto call = std::make_shared<ApiCall>();
      call->request = {std::string(req.method_string()),
                       std::string(req.target()), req.body(), actor,
                       not_before};
      co_await CallApi(call, api, api_executor, gate);
      response = std::move(*call->response);
      spdlog::info("admin: {} ({}) {} {} -> {}", actor.name, actor.role,
                   std::string(req.method_string()), std::string(req.target()),
                   response.status);
    }
    auto res = MakeResponse(req, response);
    if (std::chrono::steady_clock::now() >= session_end) res.keep_alive(false);
    co_await http::async_write(stream, res,
                               asio::redirect_error(use_awaitable, ec));
    if (ec || !res.keep_alive() || actor.name.empty()) break;
  }
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
  co_await stream.async_shutdown(asio::redirect_error(use_awaitable, ec));
}

}  // namespace

AdminServer::AdminServer(asio::any_io_executor api_executor,
                         std::shared_ptr<asio::ssl::context> tls, AdminApi& api)
    : api_executor_(std::move(api_executor)),
      tls_(std::move(tls)),
      api_(api),
      gate_(std::make_shared<AdminApiGate>()) {}

AdminServer::~AdminServer() { Stop(); }

Result<uint16_t> AdminServer::Listen(const std::string& host, uint16_t port) {
  return listener_.Start(
      host, port, "admin_listen", [this](asio::ip::tcp::socket socket) {
        asio::co_spawn(listener_.io(),
                       ServeConnection(Stream(std::move(socket), *tls_), api_,
                                       api_executor_, gate_),
                       LogCompletion("admin connection"));
      });
}

void AdminServer::Stop() {
  if (!listener_.started()) return;
  {
    std::lock_guard lock(gate_->mutex);
    gate_->open = false;
  }
  listener_.Stop();
}

}  // namespace cls::coordinator
