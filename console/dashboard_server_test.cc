// The dashboard's web server over real loopback sockets, with a scripted
// coordinator: the gate in front of the pages and of the forwarding, what
// is forwarded, and that the page is complete without the network.
#include "console/dashboard_server.h"

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <regex>

#include "console/fake_admin_api.h"

namespace cls::console {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using nlohmann::json;

struct Reply {
  int status = 0;
  std::string body;
  std::string location;
  std::string set_cookie;
  std::string content_type;
  std::string csp;
};

class DashboardServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DashboardServerOptions options;
    options.token = std::string(64, 'c');
    options.audit_verify = [] { return json{{"ok", true}, {"entries", 3}}; };
    server_ =
        std::make_unique<DashboardServer>(api_, DashboardAssets(), options);
    auto port = server_->Start();
    ASSERT_TRUE(port.has_value()) << port.error().message;
    port_ = *port;
    host_ = "127.0.0.1:" + std::to_string(port_);
  }

  Reply Send(http::verb method, const std::string& target,
             const std::string& cookie = "", const std::string& body = "",
             std::string host = "", bool dashboard_header = true) {
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    socket.connect({asio::ip::make_address("127.0.0.1"), port_});
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, host.empty() ? host_ : host);
    if (!cookie.empty()) req.set(http::field::cookie, cookie);
    if (dashboard_header) req.set("X-CLS-Dashboard", "1");
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    http::write(socket, req);
    boost::beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 24);
    http::read(socket, buffer, parser);
    const auto& res = parser.get();
    return {static_cast<int>(res.result_int()),
            res.body(),
            std::string(res[http::field::location]),
            std::string(res[http::field::set_cookie]),
            std::string(res[http::field::content_type]),
            std::string(res["Content-Security-Policy"])};
  }

  std::string Login() {
    Reply r = Send(http::verb::get, "/?token=" + std::string(64, 'c'));
    EXPECT_EQ(r.status, 303);
    EXPECT_EQ(r.location, "/");
    return r.set_cookie.substr(0, r.set_cookie.find(';'));
  }

  testing::FakeAdminApi api_;
  std::unique_ptr<DashboardServer> server_;
  uint16_t port_ = 0;
  std::string host_;
};

TEST_F(DashboardServerTest, TheLinkOpensTheDashboardOnceThenTheCookieDoes) {
  EXPECT_EQ(server_->url(),
            "http://" + host_ + "/?token=" + std::string(64, 'c'));
  EXPECT_EQ(Send(http::verb::get, "/").status, 401);
  const std::string cookie = Login();
  Reply page = Send(http::verb::get, "/", cookie);
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("id=\"js-errors\""), std::string::npos);
  EXPECT_NE(page.csp.find("default-src 'self'"), std::string::npos);
  // The link again, even with the cookie: refused.
  EXPECT_EQ(
      Send(http::verb::get, "/?token=" + std::string(64, 'c'), cookie).status,
      401);
  EXPECT_EQ(Send(http::verb::get, "/", cookie, "",
                 "evil.example:" + std::to_string(port_))
                .status,
            403);
  EXPECT_TRUE(api_.requests.empty());  // nothing reached the coordinator
}

TEST_F(DashboardServerTest, AdminCallsAreForwardedAndAnsweredAsTheyCame) {
  const std::string cookie = Login();
  api_.Answer(200, {{"coordinator_id", "c1"}});
  Reply status = Send(http::verb::get, "/v1/status", cookie);
  EXPECT_EQ(status.status, 200);
  EXPECT_EQ(json::parse(status.body)["coordinator_id"], "c1");

  api_.Answer(403, {{"error",
                     {{"message",
                       "role 'viewer' lacks permission "
                       "site.approve"}}}});
  Reply approve =
      Send(http::verb::post, "/v1/sites/HOSP_1/approve", cookie, "{}");
  EXPECT_EQ(approve.status, 403);
  EXPECT_NE(approve.body.find("site.approve"), std::string::npos);

  api_.Answer(200, {{"cleared", 2}});
  EXPECT_EQ(Send(http::verb::delete_, "/v1/rounds/queue", cookie).status, 200);

  ASSERT_EQ(api_.requests.size(), 3u);
  EXPECT_EQ(api_.requests[0].method, HttpMethod::kGet);
  EXPECT_EQ(api_.requests[0].target, "/v1/status");
  EXPECT_EQ(api_.requests[1].method, HttpMethod::kPost);
  EXPECT_EQ(api_.requests[1].target, "/v1/sites/HOSP_1/approve");
  EXPECT_EQ(api_.requests[1].body, json::object());
  EXPECT_EQ(api_.requests[2].method, HttpMethod::kDelete);

  // Without the session, or without the header a cross-site form lacks,
  // nothing is forwarded.
  EXPECT_EQ(Send(http::verb::post, "/v1/sites/HOSP_1/approve").status, 401);
  EXPECT_EQ(Send(http::verb::post, "/v1/sites/HOSP_1/approve", cookie, "{}", "",
                 /*dashboard_header=*/false)
                .status,
            403);
  EXPECT_EQ(Send(http::verb::post, "/v1/rounds", cookie, "{not json").status,
            400);
  EXPECT_EQ(api_.requests.size(), 3u);
}

TEST_F(DashboardServerTest, AnUnreachableCoordinatorIs502) {
  const std::string cookie = Login();
  api_.Fail(Error{ErrorCode::kUnavailable, "connection refused"});
  Reply r = Send(http::verb::get, "/v1/status", cookie);
  EXPECT_EQ(r.status, 502);
  EXPECT_NE(r.body.find("connection refused"), std::string::npos);
}

TEST_F(DashboardServerTest, TheAuditCheckAndEveryAssetAreServedFromClsctl) {
  const std::string cookie = Login();
  Reply verify = Send(http::verb::get, "/dashboard/audit-verify", cookie);
  EXPECT_EQ(verify.status, 200);
  EXPECT_EQ(json::parse(verify.body)["ok"], true);

  Reply index = Send(http::verb::get, "/", cookie);
  // Every file the page names is embedded; none comes from elsewhere.
  std::regex ref(R"re((?:src|href)="([^"#]+)")re");
  int refs = 0;
  for (std::sregex_iterator it(index.body.begin(), index.body.end(), ref), end;
       it != end; ++it) {
    const std::string name = (*it)[1];
    if (name.starts_with("data:")) continue;  // the empty favicon
    EXPECT_EQ(name.find("//"), std::string::npos) << name;
    Reply asset = Send(http::verb::get, "/" + name, cookie);
    EXPECT_EQ(asset.status, 200) << name;
    EXPECT_GT(asset.body.size(), 500u) << name;
    ++refs;
  }
  EXPECT_EQ(refs, 4);  // two style sheets, two scripts
  EXPECT_EQ(Send(http::verb::get, "/nope.js", cookie).status, 404);
  EXPECT_EQ(Send(http::verb::get, "/../etc/passwd", cookie).status, 404);
  EXPECT_EQ(Send(http::verb::post, "/", cookie, "{}").status, 405);
}

TEST(DashboardServerStartTest, OnlyLoopbackAddressesAreListenedOn) {
  testing::FakeAdminApi api;
  for (const std::string host :
       {"0.0.0.0", "::", "192.0.2.1", "example.org", ""}) {
    DashboardServerOptions options;
    options.listen_host = host;
    DashboardServer server(api, DashboardAssets(), options);
    auto port = server.Start();
    ASSERT_FALSE(port.has_value()) << host;
    EXPECT_EQ(port.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(port.error().message.find("loopback"), std::string::npos);
  }
  DashboardServerOptions local;
  local.listen_host = "localhost";
  DashboardServer server(api, DashboardAssets(), local);
  ASSERT_TRUE(server.Start().has_value());
  EXPECT_TRUE(server.url().starts_with("http://127.0.0.1:"));
  // 64 hex digits of token.
  EXPECT_TRUE(std::regex_match(
      server.url(),
      std::regex(R"(http://127\.0\.0\.1:\d+/\?token=[0-9a-f]{64})")));
}

}  // namespace
}  // namespace cls::console
