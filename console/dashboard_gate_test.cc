#include "console/dashboard_gate.h"

#include <gtest/gtest.h>

namespace cls::console {
namespace {

using Kind = GateDecision::Kind;
const std::string kToken(64, 'a');

class DashboardGateTest : public ::testing::Test {
 protected:
  DashboardGateTest()
      : gate_(
            8123, "127.0.0.1", kToken,
            [this] { return "session" + std::to_string(++sessions_); },
            [this] { return now_; }) {}

  GateDecision Get(const std::string& target, const std::string& cookie = "",
                   const std::string& host = "127.0.0.1:8123") {
    return gate_.Check({"GET", target, host, cookie, false});
  }
  // Trades the token for the session cookie "name=value".
  std::string Login() {
    GateDecision d = Get("/?token=" + kToken);
    EXPECT_EQ(d.kind, Kind::kRedirect);
    return d.set_cookie.substr(0, d.set_cookie.find(';'));
  }

  int sessions_ = 0;
  std::chrono::steady_clock::time_point now_{};
  DashboardGate gate_;
};

TEST_F(DashboardGateTest, TheTokenIsTradedOnceForAStrictHttpOnlyCookie) {
  GateDecision d = Get("/?token=" + kToken + "&x=1");
  ASSERT_EQ(d.kind, Kind::kRedirect);
  EXPECT_EQ(d.status, 303);
  EXPECT_EQ(d.location, "/?x=1");  // the token leaves the address bar
  EXPECT_EQ(d.set_cookie,
            "cls_dashboard_8123=session1; Path=/; HttpOnly; SameSite=Strict; "
            "Max-Age=43200");
  EXPECT_EQ(Get("/v1/status", "cls_dashboard_8123=session1").kind,
            Kind::kAllow);
  // Cookies among others, in any order.
  EXPECT_EQ(Get("/", "a=b; cls_dashboard_8123=session1; c=d").kind,
            Kind::kAllow);

  GateDecision again = Get("/?token=" + kToken);
  EXPECT_EQ(again.kind, Kind::kRefuse);
  EXPECT_EQ(again.status, 401);
  EXPECT_NE(again.message.find("already used"), std::string::npos);
  EXPECT_EQ(sessions_, 1);  // no second session was made
}

TEST_F(DashboardGateTest, AWrongTokenIsRefusedAndDoesNotSpendTheRightOne) {
  for (const std::string& target : std::vector<std::string>{
           "/?token=" + std::string(64, 'b'), "/?token=", "/?token=aaaa",
           "/v1/status?token=" + std::string(63, 'a')}) {
    GateDecision d = Get(target);
    EXPECT_EQ(d.kind, Kind::kRefuse) << target;
    EXPECT_EQ(d.status, 401) << target;
  }
  EXPECT_EQ(Get("/?token=" + kToken).kind, Kind::kRedirect);
}

TEST_F(DashboardGateTest, WithoutAValidSessionEveryRequestGets401) {
  for (const std::string cookie :
       {"", "cls_dashboard_8123=", "cls_dashboard_8123=session2",
        "cls_dashboard_8124=session1", "other=session1"}) {
    for (const std::string target : {"/", "/dashboard.js", "/v1/status"}) {
      GateDecision d = Get(target, cookie);
      EXPECT_EQ(d.kind, Kind::kRefuse) << target << " " << cookie;
      EXPECT_EQ(d.status, 401) << target << " " << cookie;
    }
  }
  Login();
  EXPECT_EQ(Get("/", "cls_dashboard_8123=session2").status, 401);
}

TEST_F(DashboardGateTest, AnotherHostIsRefusedBeforeAnythingElse) {
  const std::string cookie = Login();
  EXPECT_EQ(Get("/", cookie, "localhost:8123").kind, Kind::kAllow);
  EXPECT_EQ(Get("/", cookie, "LOCALHOST:8123").kind, Kind::kAllow);
  for (const std::string host :
       {"", "evil.example:8123", "evil.example", "127.0.0.1", "127.0.0.1:8124",
        "localhost", "127.0.0.2:8123", "[::1]:8123"}) {
    GateDecision d = Get("/", cookie, host);
    EXPECT_EQ(d.kind, Kind::kRefuse) << host;
    EXPECT_EQ(d.status, 403) << host;
  }
  // A rebinding page cannot spend the token either.
  DashboardGate fresh(8123, "127.0.0.1", kToken, [] { return "s"; });
  EXPECT_EQ(
      fresh.Check({"GET", "/?token=" + kToken, "evil.example:8123", "", false})
          .status,
      403);
  EXPECT_EQ(
      fresh.Check({"GET", "/?token=" + kToken, "127.0.0.1:8123", "", false})
          .kind,
      Kind::kRedirect);
}

TEST_F(DashboardGateTest, AnIpv6ListenAddressIsAcceptedAsHost) {
  DashboardGate v6(9000, "::1", kToken, [] { return "s"; });
  EXPECT_EQ(
      v6.Check({"GET", "/?token=" + kToken, "[::1]:9000", "", false}).kind,
      Kind::kRedirect);
}

TEST_F(DashboardGateTest, ChangesNeedTheDashboardHeader) {
  const std::string cookie = Login();
  GateDecision bare = gate_.Check(
      {"POST", "/v1/sites/X/approve", "127.0.0.1:8123", cookie, false});
  EXPECT_EQ(bare.kind, Kind::kRefuse);
  EXPECT_EQ(bare.status, 403);
  EXPECT_EQ(gate_
                .Check({"POST", "/v1/sites/X/approve", "127.0.0.1:8123", cookie,
                        true})
                .kind,
            Kind::kAllow);
  EXPECT_EQ(gate_
                .Check({"DELETE", "/v1/rounds/queue", "127.0.0.1:8123", cookie,
                        false})
                .status,
            403);
  // The token opens with GET only.
  DashboardGate fresh(8123, "127.0.0.1", kToken, [] { return "s"; });
  EXPECT_EQ(
      fresh.Check({"POST", "/?token=" + kToken, "127.0.0.1:8123", "", true})
          .status,
      401);
}

TEST_F(DashboardGateTest, ASessionEndsAfterItsLifetime) {
  const std::string cookie = Login();
  now_ += DashboardGate::kSessionLifetime;
  EXPECT_EQ(Get("/", cookie).kind, Kind::kAllow);
  now_ += std::chrono::seconds(1);
  EXPECT_EQ(Get("/", cookie).status, 401);
}

TEST(DashboardQueryTest, StripsTheTokenAndKeepsTheRest) {
  EXPECT_EQ(StripTokenParameter("/?token=abc"), "/");
  EXPECT_EQ(StripTokenParameter("/a?x=1&token=abc&y=2"), "/a?x=1&y=2");
  EXPECT_EQ(StripTokenParameter("/a?token=abc&y=2"), "/a?y=2");
  EXPECT_EQ(StripTokenParameter("/a"), "/a");
  EXPECT_EQ(StripTokenParameter("/a?tokens=1"), "/a?tokens=1");
  EXPECT_EQ(QueryParameter("/?a=1&token=t", "token"), "t");
  EXPECT_EQ(QueryParameter("/?mytoken=t", "token"), "");
}

}  // namespace
}  // namespace cls::console
