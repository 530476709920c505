// The deployment and drift routes over a real Federation and SQLite store:
// what they refuse, with which status, and that the roles are enforced.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "coordinator/admin/admin_api.h"
#include "coordinator/admin/admin_api_test_fixture.h"
#include "coordinator/federation.h"
#include "coordinator/storage/store.h"

namespace cls::coordinator {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class AdminApiDeploymentsTest : public AdminApiFixture {
 protected:
  void SetUp() override {
    OpenFederation("cls-admin-deploy");
    if (HasFatalFailure()) return;
    v1_ = federation_->model().version_id;
  }
  AdminResponse Call(const std::string& method, const std::string& target,
                     const std::string& body = "",
                     const std::string& role = "operator") {
    return api_->Handle({method, target, body, {"alice", role}, std::nullopt});
  }

  std::string v1_;
};

TEST_F(AdminApiDeploymentsTest, DeployNeedsAKnownStrategyAndVersion) {
  EXPECT_EQ(Call("POST", "/v1/versions/" + v1_ + "/deploy", "").status, 400);
  EXPECT_EQ(Call("POST", "/v1/versions/" + v1_ + "/deploy", "[1]").status, 400);
  auto bad = Call("POST", "/v1/versions/" + v1_ + "/deploy",
                  R"({"strategy": "yolo"})");
  EXPECT_EQ(bad.status, 400);
  auto unknown = Call("POST", "/v1/versions/v9_20260101_000000/deploy",
                      R"({"strategy": "immediate"})");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body["error"]["message"],
            "no model version 'v9_20260101_000000'");
  auto first = Call("POST", "/v1/versions/" + v1_ + "/deploy",
                    R"({"strategy": "gradual_rollout"})");
  EXPECT_EQ(first.status, 409);
  auto ok = Call("POST", "/v1/versions/" + v1_ + "/deploy",
                 R"({"strategy": "immediate", "reason": "first"})");
  ASSERT_EQ(ok.status, 200) << ok.body.dump();
  EXPECT_EQ(ok.body["current_version"], v1_);
  EXPECT_EQ(ok.body["reason"], "first");
  EXPECT_TRUE(ok.body["candidate_version"].is_null());
}

TEST_F(AdminApiDeploymentsTest,
       RolloutRollbackAndPromoteRefuseWithoutARollout) {
  ASSERT_EQ(Call("POST", "/v1/versions/" + v1_ + "/deploy",
                 R"({"strategy": "immediate"})")
                .status,
            200);
  EXPECT_EQ(Call("POST", "/v1/versions/" + v1_ + "/rollout", R"({})").status,
            400);
  EXPECT_EQ(
      Call("POST", "/v1/versions/" + v1_ + "/rollout", R"({"percent": 150})")
          .status,
      400);
  EXPECT_EQ(
      Call("POST", "/v1/versions/" + v1_ + "/rollout", R"({"percent": 50})")
          .status,
      409);
  EXPECT_EQ(Call("POST", "/v1/versions/rollback", "").status, 409);
  EXPECT_EQ(Call("POST", "/v1/versions/promote", "").status, 409);
  EXPECT_EQ(Call("POST", "/v1/versions/rollback",
                 R"({"reason": )" + json(std::string(300, 'x')).dump() + "}")
                .status,
            400);
}

TEST_F(AdminApiDeploymentsTest, ViewersReadDriftButCannotDeploy) {
  auto denied = Call("POST", "/v1/versions/" + v1_ + "/deploy",
                     R"({"strategy": "immediate"})", "viewer");
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(Call("POST", "/v1/versions/rollback", "", "auditor").status, 403);
  auto drift = Call("GET", "/v1/drift", "", "viewer");
  ASSERT_EQ(drift.status, 200);
  EXPECT_TRUE(drift.body["deployment"].is_null());
  EXPECT_TRUE(drift.body["versions"].empty());
  EXPECT_EQ(Call("GET", "/v1/drift/alerts", "", "viewer").status, 200);
  EXPECT_EQ(Call("GET", "/v1/deployment", "", "viewer").status, 403);
  EXPECT_EQ(Call("GET", "/v1/deployment", "", "auditor").status, 200);
}

TEST_F(AdminApiDeploymentsTest, QueriesAreChecked) {
  EXPECT_EQ(Call("GET", "/v1/versions/compare?a=" + v1_).status, 400);
  EXPECT_EQ(Call("GET", "/v1/versions/compare?a=" + v1_ + "&b=" + v1_).status,
            400);
  EXPECT_EQ(
      Call("GET", "/v1/versions/compare?a=" + v1_ + "&b=v9_20260101_000000")
          .status,
      404);
  EXPECT_EQ(Call("GET", "/v1/drift/alerts?limit=0").status, 400);
  EXPECT_EQ(Call("GET", "/v1/drift/alerts?limit=5x").status, 400);
  auto status = Call("GET", "/v1/deployment");
  ASSERT_EQ(status.status, 200);
  EXPECT_TRUE(status.body["deployment"].is_null());
  EXPECT_EQ(status.body["policy"]["max_severity"], 0.8);
}

}  // namespace
}  // namespace cls::coordinator
