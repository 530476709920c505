#include "console/dashboard_server.h"

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <atomic>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>

#include "common/bytes.h"
#include "common/listener.h"
#include "common/log_completion.h"
#include "console/commands.h"
#include "crypto/random.h"

namespace cls::console {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::use_awaitable;
using nlohmann::json;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(60);
constexpr uint32_t kHeaderLimit = 16 * 1024;
constexpr uint64_t kBodyLimit = 1 << 20;  // admin API bodies are small
// Forwarded requests wait on the coordinator: a few at a time, off the
// thread that reads and writes the sockets.
constexpr int kForwardThreads = 4;

using Response = http::response<http::string_body>;

void SetCommonHeaders(Response& res) {
  res.set(http::field::server, "clsctl-dashboard");
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
  // The token in the first URL must not leak to anything the page loads.
  res.set("Referrer-Policy", "no-referrer");
  // Everything is served from here; nothing inline but styles (uPlot sets
  // element styles).
  res.set("Content-Security-Policy",
          "default-src 'self'; script-src 'self'; style-src 'self' "
          "'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
          "frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
}

Response JsonResponse(unsigned version, int status, const json& body) {
  Response res{static_cast<http::status>(status), version};
  SetCommonHeaders(res);
  res.set(http::field::content_type, "application/json");
  res.body() = body.dump() + "\n";
  res.prepare_payload();
  return res;
}

json ErrorBody(std::string_view code, const std::string& message) {
  return {{"error", {{"code", code}, {"message", message}}}};
}

std::string PathOf(std::string_view target) {
  return std::string(target.substr(0, target.find('?')));
}

}  // namespace

std::string RandomHexToken() { return ToHex(crypto::RandomBytes(32)); }

std::string_view ContentTypeFor(std::string_view path) {
  auto ends = [&](std::string_view ext) { return path.ends_with(ext); };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  return "application/octet-stream";
}

struct DashboardServer::Impl {
  Impl(AdminApi& a, std::vector<DashboardAsset> files, DashboardServerOptions o)
      : api(a), assets(std::move(files)), options(std::move(o)) {}

  AdminApi& api;
  std::vector<DashboardAsset> assets;
  DashboardServerOptions options;
  std::unique_ptr<DashboardGate> gate_owner;
  // Set once the port is known; a connection that beats it gets 503.
  std::atomic<DashboardGate*> gate{nullptr};
  ListenerThread listener;
  std::unique_ptr<asio::thread_pool> pool;
  // Set by Stop() before the pool is joined, under `pool_mu`, so no work
  // reaches the pool after its threads were told to finish.
  std::mutex pool_mu;
  bool stopping = false;

  // Runs `work` (which blocks: AdminClient::Send, the audit check) on the
  // pool and resumes the awaiting coroutine on its own executor after;
  // `*result` holds what `work` returned (left as is when stopping). Not a
  // coroutine itself: GCC 12 destroys by-value coroutine parameters twice.
  template <typename T>
  auto OffThread(std::shared_ptr<T> result, std::function<T()> work) {
    return asio::async_initiate<decltype(use_awaitable), void()>(
        [this, result, work = std::move(work)](auto handler) mutable {
          auto home = asio::get_associated_executor(handler);
          std::lock_guard lock(pool_mu);
          if (stopping) {
            asio::post(home, std::move(handler));
            return;
          }
          asio::post(*pool, [home, result, work = std::move(work),
                             handler = std::move(handler)]() mutable {
            *result = work();
            asio::post(home, std::move(handler));
          });
        },
        use_awaitable);
  }
  uint16_t port = 0;

  const DashboardAsset* FindAsset(std::string_view name) const {
    for (const auto& a : assets) {
      if (a.path == name) return &a;
    }
    return nullptr;
  }

  Response Static(const http::request<http::string_body>& req,
                  const std::string& path) {
    const std::string name = path == "/" ? "index.html" : path.substr(1);
    const DashboardAsset* asset = FindAsset(name);
    if (asset == nullptr || name.find('/') != std::string::npos) {
      return JsonResponse(req.version(), 404,
                          ErrorBody("not_found", "no page " + path));
    }
    Response res{http::status::ok, req.version()};
    SetCommonHeaders(res);
    res.set(http::field::content_type, std::string(ContentTypeFor(name)));
    res.body() = std::string(asset->content);
    res.prepare_payload();
    if (req.method() == http::verb::head) res.body().clear();
    return res;
  }

  // The admin API's answer, relayed as it came (status and JSON body).
  asio::awaitable<Response> Forward(
      const http::request<http::string_body>& req) {
    AdminRequest forwarded;
    switch (req.method()) {
      case http::verb::get:
        forwarded.method = HttpMethod::kGet;
        break;
      case http::verb::post:
        forwarded.method = HttpMethod::kPost;
        break;
      case http::verb::delete_:
        forwarded.method = HttpMethod::kDelete;
        break;
      default:
        co_return JsonResponse(
            req.version(), 405,
            ErrorBody("method_not_allowed",
                      "the admin API takes GET, POST and DELETE"));
    }
    forwarded.target = std::string(req.target());
    if (!req.body().empty()) {
      json body = json::parse(req.body(), nullptr, /*allow_exceptions=*/false);
      if (body.is_discarded()) {
        co_return JsonResponse(
            req.version(), 400,
            ErrorBody("invalid_argument", "the request body is not JSON"));
      }
      forwarded.body = std::move(body);
    }
    AdminApi& admin = api;
    auto result = std::make_shared<Result<AdminResponse>>(
        std::unexpected(Error{ErrorCode::kUnavailable, "clsctl is stopping"}));
    std::function<Result<AdminResponse>()> send = [&admin, forwarded] {
      return admin.Send(forwarded);
    };
    co_await OffThread(result, std::move(send));
    const Result<AdminResponse>& answer = *result;
    if (!answer) {
      co_return JsonResponse(req.version(), 502,
                             ErrorBody(ErrorCodeId(answer.error().code),
                                       "the coordinator did not answer: " +
                                           answer.error().message));
    }
    co_return JsonResponse(req.version(), answer->status, answer->body);
  }

  asio::awaitable<Response> Answer(
      const http::request<http::string_body>& req) {
    GateRequest gate_request{.method = std::string(req.method_string()),
                             .target = std::string(req.target()),
                             .host = std::string(req[http::field::host]),
                             .cookie = std::string(req[http::field::cookie]),
                             .dashboard_header = req["X-CLS-Dashboard"] == "1"};
    DashboardGate* g = gate.load();
    if (g == nullptr) {
      co_return JsonResponse(req.version(), 503,
                             ErrorBody("unavailable", "starting"));
    }
    const GateDecision decision = g->Check(gate_request);
    if (decision.kind == GateDecision::Kind::kRefuse) {
      co_return JsonResponse(
          req.version(), decision.status,
          ErrorBody(
              decision.status == 403 ? "permission_denied" : "unauthenticated",
              decision.message));
    }
    if (decision.kind == GateDecision::Kind::kRedirect) {
      Response res{http::status::see_other, req.version()};
      SetCommonHeaders(res);
      res.set(http::field::location, decision.location);
      res.set(http::field::set_cookie, decision.set_cookie);
      res.prepare_payload();
      co_return res;
    }
    const std::string path = PathOf(std::string(req.target()));
    if (path.starts_with("/v1/")) co_return co_await Forward(req);
    if (path == "/dashboard/audit-verify" && options.audit_verify &&
        req.method() == http::verb::get) {
      auto report = std::make_shared<json>(
          ErrorBody("unavailable", "clsctl is stopping"));
      std::function<json()> verify = options.audit_verify;
      co_await OffThread(report, std::move(verify));
      co_return JsonResponse(req.version(), 200, *report);
    }
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      co_return JsonResponse(
          req.version(), 405,
          ErrorBody("method_not_allowed", "pages are read with GET"));
    }
    co_return Static(req, path);
  }

  asio::awaitable<void> Serve(beast::tcp_stream stream) {
    beast::flat_buffer buffer;
    boost::system::error_code ec;
    while (true) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(kHeaderLimit);
      parser.body_limit(kBodyLimit);
      stream.expires_after(kIdleTimeout);
      co_await http::async_read(stream, buffer, parser,
                                asio::redirect_error(use_awaitable, ec));
      if (ec) break;  // closed, timed out or malformed
      const auto& req = parser.get();
      Response res = co_await Answer(req);
      res.keep_alive(req.keep_alive());
      stream.expires_after(kIdleTimeout);
      co_await http::async_write(stream, res,
                                 asio::redirect_error(use_awaitable, ec));
      if (ec || !res.keep_alive()) break;
    }
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  }
};

DashboardServer::DashboardServer(AdminApi& api,
                                 std::vector<DashboardAsset> assets,
                                 DashboardServerOptions options)
    : impl_(new Impl{api, std::move(assets), std::move(options)}) {
  if (impl_->options.token.empty()) impl_->options.token = RandomHexToken();
  if (!impl_->options.random_hex) impl_->options.random_hex = RandomHexToken;
}

DashboardServer::~DashboardServer() { Stop(); }

Result<uint16_t> DashboardServer::Start() {
  std::string& host = impl_->options.listen_host;
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec || !address.is_loopback()) {
    return InvalidArgument(
        "--listen-host '" + host +
        "' refused: the dashboard acts with your certificate, so it listens "
        "only on a loopback address (127.0.0.1 or ::1)");
  }
  impl_->pool = std::make_unique<asio::thread_pool>(kForwardThreads);
  Impl* impl = impl_.get();
  auto port = impl_->listener.Start(
      host, impl_->options.port, "--port", [impl](asio::ip::tcp::socket s) {
        asio::co_spawn(impl->listener.io(),
                       impl->Serve(beast::tcp_stream(std::move(s))),
                       LogCompletion("dashboard connection"));
      });
  if (!port) return port;
  impl_->port = *port;
  impl_->gate_owner = std::make_unique<DashboardGate>(
      *port, host, impl_->options.token, impl_->options.random_hex);
  impl_->gate.store(impl_->gate_owner.get());
  return *port;
}

void DashboardServer::Stop() {
  // The pool first: its work posts back to the listener's io_context,
  // which must still run. Requests in flight finish (each bounded by the
  // client's timeout); later ones are answered 502 at once.
  if (impl_->pool) {
    {
      std::lock_guard lock(impl_->pool_mu);
      impl_->stopping = true;
    }
    impl_->pool->join();
  }
  impl_->listener.Stop();
  impl_->pool.reset();
}

std::string DashboardServer::url() const {
  const std::string& host = impl_->options.listen_host;
  const std::string shown =
      host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return "http://" + shown + ":" + std::to_string(impl_->port) +
         "/?token=" + impl_->options.token;
}

}  // namespace cls::console
