#include "common/metrics_server.h"

#include "common/testing/http_get.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <string>

namespace cls::metrics {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

using testing::HttpCall;
using Reply = testing::HttpReply;

class MetricsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.AddGauge("cls_sites_connected", "Connected sites").Set(3);
    server_ =
        std::make_unique<MetricsServer>(registry_, [this] { return reason(); });
    auto port = server_->Listen("127.0.0.1", 0, "metrics_listen");
    ASSERT_TRUE(port) << port.error().message;
    port_ = *port;
  }
  std::string reason() {
    std::lock_guard lock(mutex_);
    return reason_;
  }
  void set_reason(std::string r) {
    std::lock_guard lock(mutex_);
    reason_ = std::move(r);
  }

  Registry registry_;
  std::mutex mutex_;
  std::string reason_;
  std::unique_ptr<MetricsServer> server_;
  uint16_t port_ = 0;
};

TEST_F(MetricsServerTest, MetricsAreServedInPrometheusTextFormat) {
  Reply r = HttpCall(port_, http::verb::get, "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4");
  EXPECT_NE(r.body.find("\ncls_sites_connected 3\n"), std::string::npos)
      << r.body;
  // A scrape reads the value of the moment.
  registry_.AddGauge("cls_sites_connected", "Connected sites").Set(1);
  EXPECT_NE(HttpCall(port_, http::verb::get, "/metrics")
                .body.find("\ncls_sites_connected 1\n"),
            std::string::npos);
}

TEST_F(MetricsServerTest, HealthIsAlwaysOkAndReadinessFollowsTheCheck) {
  EXPECT_EQ(HttpCall(port_, http::verb::get, "/healthz").status, 200);
  Reply ready = HttpCall(port_, http::verb::get, "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "{\"status\":\"ready\"}\n");

  set_reason("CRL expired");
  Reply not_ready = HttpCall(port_, http::verb::get, "/readyz");
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_EQ(not_ready.body,
            "{\"reason\":\"CRL expired\",\"status\":\"not_ready\"}\n");
  // Liveness does not depend on readiness: a kubelet must not restart a
  // coordinator whose CRL needs renewing.
  EXPECT_EQ(HttpCall(port_, http::verb::get, "/healthz").status, 200);
}

TEST_F(MetricsServerTest, UnknownPathsAndOtherMethodsAreRefused) {
  Reply missing = HttpCall(port_, http::verb::get, "/v1/status");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("/metrics, /healthz, /readyz"),
            std::string::npos);
  // A request with a body is malformed for this port: closed unanswered.
  EXPECT_ANY_THROW(HttpCall(port_, http::verb::post, "/metrics"));
  EXPECT_EQ(HttpCall(port_, http::verb::delete_, "/metrics").status, 405);
  // The server still answers after the bad requests.
  EXPECT_EQ(HttpCall(port_, http::verb::get, "/healthz").status, 200);
}

TEST_F(MetricsServerTest, AnOversizedHeaderIsClosedAndTheServerGoesOn) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port_});
  std::string flood =
      "GET /metrics HTTP/1.1\r\nX-Junk: " + std::string(64 * 1024, 'a') +
      "\r\n\r\n";
  boost::system::error_code ec;
  asio::write(socket, asio::buffer(flood), ec);
  char byte;
  socket.read_some(asio::buffer(&byte, 1), ec);
  EXPECT_TRUE(ec) << "expected the connection closed unanswered";
  EXPECT_EQ(HttpCall(port_, http::verb::get, "/healthz").status, 200);
}

TEST(MetricsServerListenTest, APortInUseNamesTheConfigKey) {
  Registry registry;
  MetricsServer first(registry, nullptr);
  auto port = first.Listen("127.0.0.1", 0, "metrics_listen");
  ASSERT_TRUE(port);
  MetricsServer second(registry, nullptr);
  auto refused = second.Listen("127.0.0.1", *port, "metrics_listen");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("metrics_listen"), std::string::npos)
      << refused.error().message;
}

}  // namespace
}  // namespace cls::metrics
