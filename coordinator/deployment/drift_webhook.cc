#include "coordinator/deployment/drift_webhook.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/version.h"

namespace cls::coordinator {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

// One POST: resolve, connect, write, read, all under one deadline
// (tcp_stream's expiry covers connect, write and read; `resolve_timer_`
// cancels a resolve that outlives it).
class Request : public std::enable_shared_from_this<Request> {
 public:
  Request(boost::asio::io_context& io, const WebhookUrl& url,
          std::chrono::milliseconds timeout, std::string body,
          DriftWebhook::Done done, std::shared_ptr<int> in_flight)
      : resolver_(io),
        resolve_timer_(io),
        stream_(io),
        url_(url),
        timeout_(timeout),
        done_(std::move(done)),
        in_flight_(std::move(in_flight)) {
    request_.method(http::verb::post);
    request_.target(url_.target);
    request_.version(11);
    request_.set(http::field::host, url_.host + ":" + url_.port);
    request_.set(http::field::content_type, "application/json");
    request_.set(http::field::user_agent,
                 "cls-coordinator/" + std::string(cls::VersionString()));
    request_.set(http::field::connection, "close");
    request_.body() = std::move(body);
    request_.prepare_payload();
  }

  void Start() {
    ++*in_flight_;
    stream_.expires_after(timeout_);
    resolve_timer_.expires_after(timeout_);
    resolve_timer_.async_wait(
        [self = shared_from_this()](beast::error_code ec) {
          if (!ec) self->resolver_.cancel();
        });
    resolver_.async_resolve(
        url_.host, url_.port,
        [self = shared_from_this()](beast::error_code ec,
                                    tcp::resolver::results_type results) {
          self->OnResolve(ec, std::move(results));
        });
  }

 private:
  void OnResolve(beast::error_code ec, tcp::resolver::results_type results) {
    resolve_timer_.cancel();
    if (ec)
      return Finish(
          Unavailable("resolving " + url_.host + ": " + ec.message()));
    stream_.async_connect(
        results, [self = shared_from_this()](beast::error_code ec,
                                             const tcp::endpoint&) {
          if (ec) {
            return self->Finish(Unavailable("connecting: " + ec.message()));
          }
          http::async_write(
              self->stream_, self->request_,
              [self](beast::error_code ec, std::size_t) {
                if (ec) {
                  return self->Finish(Unavailable("sending: " + ec.message()));
                }
                http::async_read(self->stream_, self->buffer_, self->response_,
                                 [self](beast::error_code ec, std::size_t) {
                                   self->OnResponse(ec);
                                 });
              });
        });
  }

  void OnResponse(beast::error_code ec) {
    if (ec) return Finish(Unavailable("reading the answer: " + ec.message()));
    const unsigned status = response_.result_int();
    if (status < 200 || status >= 300) {
      return Finish(
          Unavailable("the receiver answered HTTP " + std::to_string(status)));
    }
    Finish({});
  }

  void Finish(Status status) {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    --*in_flight_;
    if (done_) done_(std::move(status));
  }

  tcp::resolver resolver_;
  boost::asio::steady_timer resolve_timer_;
  beast::tcp_stream stream_;
  WebhookUrl url_;
  std::chrono::milliseconds timeout_;
  DriftWebhook::Done done_;
  std::shared_ptr<int> in_flight_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  beast::flat_buffer buffer_;
};

}  // namespace

void DriftWebhook::Post(std::string json_body, Done done) {
  if (*in_flight_ >= kMaxInFlight) {
    if (done) {
      done(Unavailable("busy: " + std::to_string(kMaxInFlight) +
                       " notifications still in flight"));
    }
    return;
  }
  std::make_shared<Request>(io_, url_, timeout_, std::move(json_body),
                            std::move(done), in_flight_)
      ->Start();
}

}  // namespace cls::coordinator
