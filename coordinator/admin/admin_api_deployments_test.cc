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
#include "coordinator/versions/version_evaluation.h"

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

  std::string v1_;
};

TEST_F(AdminApiDeploymentsTest, DeployNeedsAKnownStrategyAndVersion) {
  EXPECT_EQ(Call("POST", "/v1/versions/" + v1_ + "/deploy", "operator").status,
            400);
  EXPECT_EQ(
      Call("POST", "/v1/versions/" + v1_ + "/deploy", "operator", "[1]").status,
      400);
  auto bad = Call("POST", "/v1/versions/" + v1_ + "/deploy", "operator",
                  R"({"strategy": "yolo"})");
  EXPECT_EQ(bad.status, 400);
  auto unknown = Call("POST", "/v1/versions/v9_20260101_000000/deploy",
                      "operator", R"({"strategy": "immediate"})");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body["error"]["message"],
            "no model version 'v9_20260101_000000'");
  auto first = Call("POST", "/v1/versions/" + v1_ + "/deploy", "operator",
                    R"({"strategy": "gradual_rollout"})");
  EXPECT_EQ(first.status, 409);
  auto ok = Call("POST", "/v1/versions/" + v1_ + "/deploy", "operator",
                 R"({"strategy": "immediate", "reason": "first"})");
  ASSERT_EQ(ok.status, 200) << ok.body.dump();
  EXPECT_EQ(ok.body["current_version"], v1_);
  EXPECT_EQ(ok.body["reason"], "first");
  EXPECT_TRUE(ok.body["candidate_version"].is_null());
}

TEST_F(AdminApiDeploymentsTest,
       RolloutRollbackAndPromoteRefuseWithoutARollout) {
  ASSERT_EQ(Call("POST", "/v1/versions/" + v1_ + "/deploy", "operator",
                 R"({"strategy": "immediate"})")
                .status,
            200);
  EXPECT_EQ(
      Call("POST", "/v1/versions/" + v1_ + "/rollout", "operator", R"({})")
          .status,
      400);
  EXPECT_EQ(Call("POST", "/v1/versions/" + v1_ + "/rollout", "operator",
                 R"({"percent": 150})")
                .status,
            400);
  EXPECT_EQ(Call("POST", "/v1/versions/" + v1_ + "/rollout", "operator",
                 R"({"percent": 50})")
                .status,
            409);
  EXPECT_EQ(Call("POST", "/v1/versions/rollback", "operator").status, 409);
  EXPECT_EQ(Call("POST", "/v1/versions/promote", "operator").status, 409);
  EXPECT_EQ(Call("POST", "/v1/versions/rollback", "operator",
                 R"({"reason": )" + json(std::string(300, 'x')).dump() + "}")
                .status,
            400);
}

TEST_F(AdminApiDeploymentsTest, ViewersReadDriftButCannotDeploy) {
  auto denied = Call("POST", "/v1/versions/" + v1_ + "/deploy", "viewer",
                     R"({"strategy": "immediate"})");
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(Call("POST", "/v1/versions/rollback", "auditor").status, 403);
  auto drift = Call("GET", "/v1/drift", "viewer");
  ASSERT_EQ(drift.status, 200);
  EXPECT_TRUE(drift.body["deployment"].is_null());
  EXPECT_TRUE(drift.body["versions"].empty());
  EXPECT_EQ(Call("GET", "/v1/drift/alerts", "viewer").status, 200);
  EXPECT_EQ(Call("GET", "/v1/deployment", "viewer").status, 403);
  EXPECT_EQ(Call("GET", "/v1/deployment", "auditor").status, 200);
}

TEST_F(AdminApiDeploymentsTest, QueriesAreChecked) {
  EXPECT_EQ(Call("GET", "/v1/versions/compare?a=" + v1_, "operator").status,
            400);
  EXPECT_EQ(
      Call("GET", "/v1/versions/compare?a=" + v1_ + "&b=" + v1_, "operator")
          .status,
      400);
  EXPECT_EQ(
      Call("GET", "/v1/versions/compare?a=" + v1_ + "&b=v9_20260101_000000",
           "operator")
          .status,
      404);
  EXPECT_EQ(Call("GET", "/v1/drift/alerts?limit=0", "operator").status, 400);
  EXPECT_EQ(Call("GET", "/v1/drift/alerts?limit=5x", "operator").status, 400);
  auto status = Call("GET", "/v1/deployment", "operator");
  ASSERT_EQ(status.status, 200);
  EXPECT_TRUE(status.body["deployment"].is_null());
  EXPECT_EQ(status.body["policy"]["max_severity"], 0.8);
}

double F1(double precision, double recall) {
  return 2 * precision * recall / (precision + recall);
}

TEST_F(AdminApiDeploymentsTest, CompareShowsMultiClassValidationPerClass) {
  const std::string a = AddTrainedVersion(2, 1, v1_, {"HOSP_A"});
  const std::string b = AddTrainedVersion(3, 2, a, {"HOSP_A"});
  ASSERT_TRUE(RecordVersionEvaluation(
      *store_, a, MultiClassReport(a, {8, 5, 6}, {10, 10, 10}, {12, 8, 10})));
  ASSERT_TRUE(RecordVersionEvaluation(
      *store_, b, MultiClassReport(b, {9, 7, 6}, {10, 10, 10}, {10, 10, 10})));
  auto r = Call("GET", "/v1/versions/compare?a=" + a + "&b=" + b, "auditor");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  // The served-outcome test is still there (no outcomes yet).
  EXPECT_EQ(r.body["verdict"], "inconclusive");
  EXPECT_EQ(r.body["counts"]["a"]["n"], 0);
  const json& v = r.body["validation"];
  // Each side is exactly the metrics object of GET /v1/versions/{id}.
  EXPECT_EQ(v["a"],
            Call("GET", "/v1/versions/" + a, "operator").body["metrics"]);
  EXPECT_EQ(v["b"],
            Call("GET", "/v1/versions/" + b, "operator").body["metrics"]);
  ASSERT_EQ(v["per_class_delta"].size(), 3u);
  const double f1_a[] = {F1(8.0 / 12, 0.8), F1(5.0 / 8, 0.5), 0.6};
  const double f1_b[] = {0.9, 0.7, 0.6};
  for (size_t c = 0; c < 3; ++c) {
    const json& d = v["per_class_delta"][c];
    EXPECT_EQ(d["class"], c);
    EXPECT_NEAR(d["f1"].get<double>(), f1_b[c] - f1_a[c], 1e-12) << c;
  }
  EXPECT_NEAR(v["per_class_delta"][0]["precision"].get<double>(),
              0.9 - 8.0 / 12, 1e-12);
  EXPECT_NEAR(v["per_class_delta"][1]["recall"].get<double>(), 0.7 - 0.5,
              1e-12);
  EXPECT_NEAR(v["delta"]["macro_f1"].get<double>(),
              (f1_b[0] + f1_b[1] + f1_b[2] - f1_a[0] - f1_a[1] - f1_a[2]) / 3,
              1e-12);
  EXPECT_NEAR(v["delta"]["accuracy"].get<double>(), 22.0 / 30 - 19.0 / 30,
              1e-12);
  EXPECT_TRUE(v["delta"]["auc"].is_null());

  // Other classes (4), or a binary model: the macro figures are shown but
  // not subtracted; accuracy still is.
  const std::string four = AddTrainedVersion(4, 3, b, {"HOSP_A"});
  ASSERT_TRUE(RecordVersionEvaluation(
      *store_, four,
      MultiClassReport(four, {1, 1, 1, 1}, {2, 2, 2, 2}, {2, 2, 2, 2})));
  const std::string binary = AddTrainedVersion(5, 4, four, {"HOSP_A"});
  ASSERT_TRUE(RecordVersionEvaluation(*store_, binary,
                                      BinaryReport(binary, 8, 2, 7, 3)));
  for (const std::string& other : {four, binary}) {
    auto u =
        Call("GET", "/v1/versions/compare?a=" + a + "&b=" + other, "operator");
    ASSERT_EQ(u.status, 200) << u.body.dump();
    const json& w = u.body["validation"];
    EXPECT_TRUE(w["per_class_delta"].is_null()) << other;
    EXPECT_TRUE(w["delta"]["f1"].is_null()) << other;
    EXPECT_TRUE(w["delta"]["macro_f1"].is_null()) << other;
    EXPECT_TRUE(w["b"]["f1"].is_number()) << other;
    EXPECT_TRUE(w["delta"]["accuracy"].is_number()) << other;
  }
}

TEST_F(AdminApiDeploymentsTest, CompareShowsBinaryValidationSideBySide) {
  const std::string a = AddTrainedVersion(2, 1, v1_, {"HOSP_A"});
  const std::string b = AddTrainedVersion(3, 2, a, {"HOSP_A"});
  ASSERT_TRUE(RecordVersionEvaluation(*store_, a, BinaryReport(a, 8, 2, 7, 3)));
  ASSERT_TRUE(RecordVersionEvaluation(*store_, b, BinaryReport(b, 9, 1, 8, 2)));
  auto r = Call("GET", "/v1/versions/compare?a=" + a + "&b=" + b, "operator");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  const json& v = r.body["validation"];
  EXPECT_EQ(v["a"],
            Call("GET", "/v1/versions/" + a, "operator").body["metrics"]);
  EXPECT_EQ(v["b"],
            Call("GET", "/v1/versions/" + b, "operator").body["metrics"]);
  EXPECT_FALSE(v["a"].contains("per_class"));
  const json& d = v["delta"];
  EXPECT_NEAR(d["accuracy"].get<double>(), 17.0 / 20 - 15.0 / 20, 1e-12);
  EXPECT_NEAR(d["precision"].get<double>(), 0.9 - 0.8, 1e-12);
  EXPECT_NEAR(d["recall"].get<double>(), 9.0 / 11 - 8.0 / 11, 1e-12);
  EXPECT_NEAR(d["f1"].get<double>(), F1(0.9, 9.0 / 11) - F1(0.8, 8.0 / 11),
              1e-12);
  EXPECT_NEAR(d["auc"].get<double>(),
              v["b"]["auc"].get<double>() - v["a"]["auc"].get<double>(), 1e-12);
  EXPECT_TRUE(d["macro_f1"].is_null());
  EXPECT_TRUE(v["per_class_delta"].is_null());
  // A version no site evaluated yet: its figures and the deltas are null.
  const std::string fresh = AddTrainedVersion(4, 3, b, {"HOSP_A"});
  auto u =
      Call("GET", "/v1/versions/compare?a=" + b + "&b=" + fresh, "operator");
  ASSERT_EQ(u.status, 200) << u.body.dump();
  EXPECT_TRUE(u.body["validation"]["b"]["accuracy"].is_null());
  EXPECT_TRUE(u.body["validation"]["delta"]["accuracy"].is_null());
}

}  // namespace
}  // namespace cls::coordinator
