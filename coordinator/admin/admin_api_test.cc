#include "coordinator/admin/admin_api.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>

#include "coordinator/admin/admin_api_test_fixture.h"

namespace cls::coordinator {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using std::chrono::hours;

TEST(RoleAllowsTest, EveryOperatorRoleMayRead) {
  for (const char* role :
       {"admin", "operator", "auditor", "viewer", "break_glass"}) {
    EXPECT_TRUE(RoleAllows(role, "status.read")) << role;
    EXPECT_TRUE(RoleAllows(role, "round.read")) << role;
  }
}

TEST(RoleAllowsTest, OnlyAdminsAndOperatorsChangeState) {
  for (const char* permission : {"round.start", "site.approve"}) {
    EXPECT_TRUE(RoleAllows("admin", permission));
    EXPECT_TRUE(RoleAllows("operator", permission));
    EXPECT_FALSE(RoleAllows("auditor", permission));
    EXPECT_FALSE(RoleAllows("viewer", permission));
  }
  for (const char* permission :
       {"site.revoke", "privacy.reset", "keys.rotate"}) {
    EXPECT_TRUE(RoleAllows("admin", permission));
    EXPECT_FALSE(RoleAllows("operator", permission)) << permission;
  }
}

TEST(RoleAllowsTest, OnlyAdminsAndAuditorsExportTheAuditLog) {
  EXPECT_TRUE(RoleAllows("admin", "audit.export"));
  EXPECT_TRUE(RoleAllows("auditor", "audit.export"));
  EXPECT_FALSE(RoleAllows("operator", "audit.export"));
  EXPECT_FALSE(RoleAllows("viewer", "audit.export"));
}

TEST(RoleAllowsTest, BreakGlassHoldsWhatAdminHolds) {
  for (const auto& p : PermissionTable()) {
    EXPECT_EQ(RoleAllows("break_glass", p.permission),
              RoleAllows("admin", p.permission))
        << p.permission;
    EXPECT_TRUE(RoleAllows("admin", p.permission)) << p.permission;
  }
}

TEST(RoleAllowsTest, SitesAndUnknownRolesMayDoNothing) {
  for (const char* role : {"site", "coordinator", "", "root"}) {
    for (const auto& p : PermissionTable()) {
      EXPECT_FALSE(RoleAllows(role, p.permission)) << role;
    }
  }
  EXPECT_FALSE(RoleAllows("admin", "no.such.permission"));
}

TEST(RouteTableTest, EveryRouteHasAKnownPermission) {
  std::set<std::string> known;
  for (const auto& p : PermissionTable()) known.insert(p.permission);
  for (const auto& r : RouteTable()) {
    EXPECT_TRUE(known.count(r.permission)) << r.pattern;
  }
}

class AdminApiTest : public AdminApiFixture {
 protected:
  void SetUp() override {
    OpenFederation("cls-admin-api");
    if (HasFatalFailure()) return;
    api_->SetClockForTesting([this] { return now_; });
    SiteRecord site{"HOSP_1",
                    "General",
                    "",
                    100,
                    1.0,
                    SiteStatus::kApproved,
                    "2026-11-27T00:00:00Z",
                    "",
                    ""};
    ASSERT_TRUE(store_->InsertSite(site).has_value());
  }

  AdminResponse Call(const std::string& method, const std::string& target,
                     const std::string& role, const std::string& body = "",
                     std::optional<std::chrono::system_clock::time_point>
                         not_before = std::nullopt) {
    if (!not_before) not_before = now_ - hours(1);
    return api_->Handle(
        {method, target, body, {"user_" + role, role}, not_before});
  }

  std::vector<audit::AuditEntry> Entries(const std::string& event) {
    std::vector<audit::AuditEntry> out;
    auto all = store_->audit_log().Entries("", "");
    for (auto& e : *all) {
      if (e.event_type == event) out.push_back(e);
    }
    return out;
  }

  static std::string Concrete(const std::string& pattern) {
    std::string path = pattern;
    if (auto p = path.find("{id}"); p != std::string::npos) {
      path.replace(p, 4, "HOSP_1");
    }
    return path;
  }

  std::chrono::system_clock::time_point now_ = std::chrono::system_clock::now();
};

// Every role against every command: refused exactly when the role lacks the
// route's permission, and each refusal is audited with who, what and where.
TEST_F(AdminApiTest, EveryRoleAgainstEveryCommand) {
  std::vector<std::string> roles = OperatorRoles();
  int denied = 0;
  for (const auto& route : RouteTable()) {
    const std::string path = Concrete(route.pattern);
    for (const auto& role : roles) {
      std::string body =
          route.pattern.ends_with("/trust") ? R"({"trust_score": 0.5})" : "";
      if (route.pattern.ends_with("/revoke")) continue;  // changes the fixture
      AdminResponse r = Call(route.method, path, role, body);
      if (RoleAllows(role, route.permission)) {
        EXPECT_NE(r.status, 403) << role << " " << route.pattern;
        if (!route.served) {
          EXPECT_EQ(r.status, 404) << route.pattern;
          EXPECT_EQ(r.body["error"]["code"], "unimplemented");
        }
      } else {
        ++denied;
        EXPECT_EQ(r.status, 403) << role << " " << route.pattern;
        EXPECT_EQ(r.body["error"]["message"],
                  "role '" + role + "' lacks permission " + route.permission);
        auto entries = Entries("access_denied");
        ASSERT_FALSE(entries.empty());
        const auto& last = entries.back();
        EXPECT_EQ(last.actor, "user_" + role);
        EXPECT_EQ(last.actor_role, role);
        EXPECT_EQ(last.fields["permission"], route.permission);
        EXPECT_EQ(last.fields["path"], path);
      }
    }
  }
  EXPECT_GT(denied, 20);
  EXPECT_EQ(static_cast<int>(Entries("access_denied").size()), denied);
  // Sites only speak the site protocol.
  EXPECT_EQ(Call("GET", "/v1/status", "site").status, 403);
}

TEST_F(AdminApiTest, StatusNamesTheCallerAndWhatItsRoleMayDo) {
  AdminResponse viewer = Call("GET", "/v1/status", "viewer");
  ASSERT_EQ(viewer.status, 200) << viewer.body.dump();
  EXPECT_EQ(viewer.body["caller"]["name"], "user_viewer");
  EXPECT_EQ(viewer.body["caller"]["role"], "viewer");
  EXPECT_EQ(viewer.body["caller"]["permissions"],
            json({"status.read", "site.read", "round.read", "drift.read"}));
  AdminResponse op = Call("GET", "/v1/status", "operator");
  const json& held = op.body["caller"]["permissions"];
  EXPECT_NE(std::find(held.begin(), held.end(), "site.approve"), held.end());
  EXPECT_NE(std::find(held.begin(), held.end(), "model.deploy"), held.end());
  EXPECT_EQ(std::find(held.begin(), held.end(), "site.revoke"), held.end());
}

TEST_F(AdminApiTest, RefusedCommandsAreAudited) {
  AdminResponse r = Call("POST", "/v1/rounds", "operator", R"({"rounds": 2})");
  EXPECT_EQ(r.status, 409);  // one site, min_sites 3
  auto refused = Entries("command_refused");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].fields["permission"], "round.start");
  EXPECT_EQ(refused[0].fields["status"], 409);
  EXPECT_NE(refused[0].fields["reason"].get<std::string>().find(
                "Insufficient active sites"),
            std::string::npos);
}

TEST_F(AdminApiTest, RevokeAndTrustChangeTheSiteAndAreAudited) {
  AdminResponse bad = Call("POST", "/v1/sites/HOSP_1/trust", "admin",
                           R"({"trust_score": 1.5})");
  EXPECT_EQ(bad.status, 400);
  AdminResponse trust = Call("POST", "/v1/sites/HOSP_1/trust", "operator",
                             R"({"trust_score": 0.25})");
  EXPECT_EQ(trust.status, 200);
  EXPECT_DOUBLE_EQ((*store_->FindSite("HOSP_1"))->trust_score, 0.25);
  AdminResponse revoke = Call("POST", "/v1/sites/HOSP_1/revoke", "admin",
                              R"({"reason": "left the consortium"})");
  EXPECT_EQ(revoke.status, 200);
  EXPECT_EQ((*store_->FindSite("HOSP_1"))->status, SiteStatus::kRevoked);
  auto revoked = Entries("site_revoked");
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked[0].actor, "user_admin");
  EXPECT_EQ(revoked[0].fields["reason"], "left the consortium");
  EXPECT_EQ(Entries("site_trust_set").size(), 1u);
  AdminResponse show = Call("GET", "/v1/sites/HOSP_1", "viewer");
  EXPECT_EQ(show.body["status"], "revoked");
  EXPECT_EQ(Call("GET", "/v1/sites/NOPE", "viewer").status, 404);
}

TEST_F(AdminApiTest, BreakGlassWorksForItsHoursAndMarksEveryEntry) {
  AdminResponse ok = Call("POST", "/v1/sites/HOSP_1/trust", "break_glass",
                          R"({"trust_score": 0.5})", now_ - hours(3));
  EXPECT_EQ(ok.status, 200);
  AdminResponse read =
      Call("GET", "/v1/status", "break_glass", "", now_ - hours(3));
  EXPECT_EQ(read.status, 200);
  auto all = store_->audit_log().Entries("", "");
  for (const auto& e : *all) {
    if (e.actor_role == "break_glass") {
      EXPECT_EQ(e.fields["break_glass"], true) << e.event_type;
    }
  }
  EXPECT_EQ(Entries("site_trust_set").size(), 1u);
  EXPECT_EQ(Entries("break_glass_access").size(), 2u);  // reads too
}

TEST_F(AdminApiTest, ExpiredBreakGlassIsRefusedAndAudited) {
  AdminResponse r =
      Call("GET", "/v1/status", "break_glass", "", now_ - hours(5));
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body["error"]["message"].get<std::string>().find("expired"),
            std::string::npos);
  auto denied = Entries("access_denied");
  ASSERT_EQ(denied.size(), 1u);
  EXPECT_EQ(denied[0].fields["reason"], "break-glass certificate expired");
  EXPECT_EQ(denied[0].fields["break_glass"], true);
  // Without a readable notBefore there is no emergency access either.
  AdminResponse unknown = api_->Handle(
      {"GET", "/v1/status", "", {"x", "break_glass"}, std::nullopt});
  EXPECT_EQ(unknown.status, 403);
}

TEST_F(AdminApiTest, AuditExportIsItselfAuditedAndVerifies) {
  AdminResponse r = Call("GET", "/v1/audit", "auditor");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["format"], audit::kExportFormat);
  EXPECT_EQ(r.body["complete"], true);
  ASSERT_FALSE(r.body["entries"].empty());
  EXPECT_EQ(r.body["entries"].back()["event_type"], "audit_exported");
  EXPECT_EQ(r.body["entries"].back()["actor"], "user_auditor");
  auto report = audit::VerifyExport(r.body, {}, nullptr);
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->ok());

  AdminResponse slice =
      Call("GET", "/v1/audit?since=2000-01-01&until=2001-01-01", "admin");
  ASSERT_EQ(slice.status, 200);
  EXPECT_TRUE(slice.body["entries"].empty());
  EXPECT_EQ(slice.body["complete"], false);
  EXPECT_EQ(Call("GET", "/v1/audit?since=yesterday", "admin").status, 400);
  EXPECT_EQ(Call("GET", "/v1/audit?since=2001-01-01&until=2000-01-01", "admin")
                .status,
            400);
  EXPECT_EQ(Call("GET", "/v1/audit", "viewer").status, 403);
}

TEST_F(AdminApiTest, UnknownRoutesAreNotFound) {
  AdminResponse r = Call("GET", "/v1/nope", "admin");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body["error"]["message"], "no route GET /v1/nope");
  EXPECT_EQ(Call("DELETE", "/v1/status", "admin").status, 404);
  EXPECT_EQ(Call("GET", "/v1/rounds?limit=0", "admin").status, 400);
}

}  // namespace
}  // namespace cls::coordinator
