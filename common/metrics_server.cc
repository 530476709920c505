#include "common/metrics_server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "common/listener.h"
#include "common/log_completion.h"

namespace cls::metrics {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::use_awaitable;

namespace {

// A scraper or probe sends one small GET at a time.
constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr uint32_t kHeaderLimit = 8 * 1024;

http::response<http::string_body> Answer(
    const http::request<http::empty_body>& req, const Registry& registry,
    const ReadinessCheck& ready, const ExtraExposition& extra) {
  http::response<http::string_body> res{http::status::ok, req.version()};
  res.set(http::field::server, "cls");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  const std::string target(req.target());
  const std::string path = target.substr(0, target.find('?'));
  auto json = [&](http::status status, const nlohmann::json& body) {
    res.result(status);
    res.set(http::field::content_type, "application/json");
    res.body() = body.dump() + "\n";
  };
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    json(http::status::method_not_allowed,
         {{"error", "only GET is served on the metrics port"}});
    res.set(http::field::allow, "GET, HEAD");
  } else if (path == "/metrics") {
    res.set(http::field::content_type, "text/plain; version=0.0.4");
    res.body() = registry.Exposition();
    if (extra) res.body() += extra();
  } else if (path == "/healthz") {
    json(http::status::ok, {{"status", "ok"}});
  } else if (path == "/readyz") {
    const std::string reason = ready ? ready() : "";
    if (reason.empty()) {
      json(http::status::ok, {{"status", "ready"}});
    } else {
      json(http::status::service_unavailable,
           {{"status", "not_ready"}, {"reason", reason}});
    }
  } else {
    json(http::status::not_found,
         {{"error", "no route " + path +
                        " (served: /metrics, /healthz, "
                        "/readyz)"}});
  }
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();
  return res;
}

asio::awaitable<void> ServeConnection(beast::tcp_stream stream,
                                      const Registry& registry,
                                      const ReadinessCheck& ready,
                                      const ExtraExposition& extra) {
  beast::flat_buffer buffer;
  boost::system::error_code ec;
  while (true) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(kHeaderLimit);
    stream.expires_after(kIdleTimeout);
    co_await http::async_read(stream, buffer, parser,
                              asio::redirect_error(use_awaitable, ec));
    if (ec) break;  // closed, timed out or malformed (a body, say)
    auto res = Answer(parser.get(), registry, ready, extra);
    co_await http::async_write(stream, res,
                               asio::redirect_error(use_awaitable, ec));
    if (ec || !res.keep_alive()) break;
  }
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
}

}  // namespace

MetricsServer::MetricsServer(const Registry& registry, ReadinessCheck ready,
                             ExtraExposition extra)
    : registry_(registry), ready_(std::move(ready)), extra_(std::move(extra)) {}

MetricsServer::~MetricsServer() { Stop(); }

Result<uint16_t> MetricsServer::Listen(const std::string& host, uint16_t port,
                                       const std::string& what) {
  return listener_.Start(host, port, what, [this](asio::ip::tcp::socket s) {
    asio::co_spawn(listener_.io(),
                   ServeConnection(beast::tcp_stream(std::move(s)), registry_,
                                   ready_, extra_),
                   LogCompletion("metrics connection"));
  });
}

void MetricsServer::Stop() { listener_.Stop(); }

}  // namespace cls::metrics
