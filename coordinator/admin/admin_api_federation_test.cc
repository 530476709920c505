// GET /v1/federation/stats, POST /v1/versions/import and POST
// /v1/versions/rollback {"version_id"} over a real store (with the model
// vault) and Federation; sites connect through fake connections.

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <gtest/gtest.h>

#include <cmath>

#include "coordinator/admin/admin_api_test_fixture.h"
#include "coordinator/sites/fake_site_connection.h"
#include "secagg/server/round_test_util.h"

namespace cls::coordinator {
namespace {

using nlohmann::json;
using testing::AuditEntries;
using testing::FakeSiteConnection;
using testing::HelloFrom;

class AdminApiFederationTest : public AdminApiFixture {
 protected:
  void SetUp() override { OpenFederationWithKeys("cls-admin-federation"); }

  // Registers `id` with `samples`; approved and connected unless told.
  void AddSite(const std::string& id, uint64_t samples, bool approve,
               bool connect) {
    auto c = std::make_shared<FakeSiteConnection>();
    crypto::PeerIdentity peer{id, "site", "01", ids_.Certificate(id)->der()};
    SiteRegistry& sites = federation_->sites();
    (void)sites.Admit(c, peer, HelloFrom(id, samples));  // pending
    if (approve) {
      ASSERT_TRUE(sites.Approve(id, {"alice", "operator"}).has_value());
    }
    if (approve && connect) {
      ASSERT_TRUE(sites.Admit(c, peer, HelloFrom(id, samples)).has_value());
      connections_.push_back(c);
    }
  }

  json ModelFile() const {
    return {{"format", "cls-model/1"},
            {"model_type", config_.model_type},
            {"layout", "logreg:w[2x1],b[1]"},
            {"parameters", {0.5, -0.25, 1.0}},
            {"metrics", {{"accuracy", 0.81}, {"auc", 0.88}}},
            {"description", "trained offline on the 2025 cohort"}};
  }
  AdminResponse Import(const json& model,
                       const std::string& role = "operator") {
    return Call("POST", "/v1/versions/import", role,
                json({{"model", model}}).dump());
  }

  TestSiteIdentities ids_;
  std::vector<std::shared_ptr<FakeSiteConnection>> connections_;
};

TEST_F(AdminApiFederationTest, StatsBeforeAnyRound) {
  AddSite("HOSP_A", 120, true, true);
  AddSite("HOSP_B", 80, false, false);  // registered, still pending
  auto r = Call("GET", "/v1/federation/stats", "viewer");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body, json({{"federated", true},
                          {"total_sites", 2},
                          {"active_sites", 1},
                          {"total_rounds", 0},
                          {"total_samples", 0},
                          {"average_accuracy", nullptr},
                          {"total_privacy_budget_used", 0.0}}));
}

TEST_F(AdminApiFederationTest, StatsCountCompletedTrainingRoundsOnly) {
  AddSite("HOSP_A", 120, true, true);
  AddSite("HOSP_B", 80, true, true);
  AddSite("HOSP_C", 50, true, false);  // approved, offline
  AddTrainedVersion(2, 1, federation_->model().version_id,
                    {"HOSP_A", "HOSP_B", "HOSP_C"}, 100, 70);
  AddTrainedVersion(3, 2, federation_->model().version_id, {"HOSP_A", "HOSP_B"},
                    40, 30);
  // Neither an aborted round nor the statistics round (no model) counts.
  RoundRecord aborted;
  aborted.round_id = 3;
  aborted.status = "aborted";
  aborted.started_at = "2026-12-07T06:01:00Z";
  aborted.contributors = {"HOSP_A"};
  ASSERT_TRUE(store_->InsertRound(aborted).has_value());
  RoundRecord statistics = aborted;
  statistics.round_id = 4;
  statistics.status = "completed";
  ASSERT_TRUE(store_->InsertRound(statistics).has_value());
  StartFederation();  // the current model is now the newest, v3 from round 2
  auto r = Call("GET", "/v1/federation/stats", "auditor");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["total_sites"], 3);
  EXPECT_EQ(r.body["active_sites"], 0);  // the restart dropped them
  EXPECT_EQ(r.body["total_rounds"], 2);
  // Round 2's contributors: 120 + 80.
  EXPECT_EQ(r.body["total_samples"], 200);
  EXPECT_DOUBLE_EQ(r.body["average_accuracy"].get<double>(), 0.75);
}

TEST_F(AdminApiFederationTest, StatusSaysWhetherFederated) {
  auto r = Call("GET", "/v1/status", "viewer");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["federated"], true);
}

TEST_F(AdminApiFederationTest, ImportStoresASealedAuditedVersion) {
  auto r = Import(ModelFile());
  ASSERT_EQ(r.status, 200) << r.body.dump();
  const std::string id = r.body["version_id"];
  EXPECT_EQ(id.rfind("import1_", 0), 0u) << id;
  EXPECT_EQ(r.body["parameters"], 3);
  EXPECT_EQ(r.body["layout"], "logreg:w[2x1],b[1]");
  auto stored = store_->FindModel(id);
  ASSERT_TRUE(stored.has_value() && stored->has_value());
  EXPECT_EQ((*stored)->parameters, std::vector<float>({0.5f, -0.25f, 1.0f}));
  EXPECT_EQ((*stored)->hash, r.body["hash"]);
  auto summary = store_->FindModelSummary(id);
  ASSERT_TRUE(summary.has_value() && summary->has_value());
  EXPECT_FALSE((*summary)->kek_id.empty()) << "stored unsealed";
  auto entries = AuditEntries(*store_, "version_imported");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].fields["version_id"], id);
  EXPECT_EQ(entries[0].actor, "user_operator");
  EXPECT_FALSE(entries[0].fields.contains("parameters") &&
               entries[0].fields["parameters"].is_array())
      << "parameter values reached the audit log";
  // Shown like any version, with its import metadata; the training model
  // is untouched (an import is not the base of the next round).
  auto show = Call("GET", "/v1/versions/" + id, "auditor");
  ASSERT_EQ(show.status, 200) << show.body.dump();
  EXPECT_EQ(show.body["imported"]["description"],
            "trained offline on the 2025 cohort");
  EXPECT_DOUBLE_EQ(show.body["imported"]["metrics"]["accuracy"].get<double>(),
                   0.81);
  EXPECT_NE(federation_->model().version_id, id);
  StartFederation();
  EXPECT_NE(federation_->model().version_id, id);
  // A second import gets the next id.
  auto again = Import(ModelFile());
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.body["version_id"].get<std::string>().rfind("import2_", 0),
            0u);
  // Deployable like any version.
  auto deploy = Call("POST", "/v1/versions/" + id + "/deploy", "operator",
                     R"({"strategy": "immediate"})");
  ASSERT_EQ(deploy.status, 200) << deploy.body.dump();
  EXPECT_EQ(deploy.body["current_version"], id);
}

TEST_F(AdminApiFederationTest, ImportRefusesBadFilesAndStoresNothing) {
  struct Case {
    std::string what;
    json model;
    std::string message;
  };
  std::vector<Case> cases;
  json wrong_layout = ModelFile();
  wrong_layout["layout"] = "logreg:w[3x1],b[1]";
  cases.push_back({"layout", wrong_layout, "does not match"});
  json short_params = ModelFile();
  short_params["parameters"] = {0.5, 1.0};
  cases.push_back({"count", short_params, "needs 3"});
  json huge = ModelFile();
  huge["parameters"][1] = 1e300;  // finite double, not a float32
  cases.push_back({"overflow", huge, "parameter 1 is not a finite float32"});
  json text = ModelFile();
  text["parameters"][2] = "NaN";
  cases.push_back({"string", text, "parameter 2 is not a number"});
  for (const char* field : {"format", "model_type", "layout", "parameters",
                            "metrics", "description"}) {
    json missing = ModelFile();
    missing.erase(field);
    cases.push_back({std::string("missing ") + field, missing,
                     std::string("missing field '") + field + "'"});
  }
  json other_type = ModelFile();
  other_type["model_type"] = "readmission_risk";
  cases.push_back({"type", other_type, "model_type"});
  json bad_metric = ModelFile();
  bad_metric["metrics"]["auc"] = "high";
  cases.push_back({"metric", bad_metric, "metric 'auc' must be a finite"});
  json extra = ModelFile();
  extra["weights"] = json::array();
  cases.push_back({"extra", extra, "unknown field 'weights'"});
  const auto before = store_->ListModels()->size();
  for (const auto& c : cases) {
    auto r = Import(c.model);
    EXPECT_EQ(r.status, 400) << c.what << ": " << r.body.dump();
    EXPECT_NE(r.body["error"]["message"].get<std::string>().find(c.message),
              std::string::npos)
        << c.what << ": " << r.body.dump();
  }
  // The raw NaN/Infinity a JSON parser refuses: the whole body is refused.
  auto raw = Call("POST", "/v1/versions/import", "operator",
                  R"({"model": {"parameters": [NaN]}})");
  EXPECT_EQ(raw.status, 400);
  EXPECT_EQ(store_->ListModels()->size(), before);
  EXPECT_TRUE(AuditEntries(*store_, "version_imported").empty());
  EXPECT_EQ(AuditEntries(*store_, "command_refused").size(), cases.size() + 1);
  // A viewer may not import.
  EXPECT_EQ(Import(ModelFile(), "viewer").status, 403);
}

TEST_F(AdminApiFederationTest, RollbackToANamedEarlierVersion) {
  const std::string v1 = federation_->model().version_id;
  const std::string v2 = AddTrainedVersion(
      2, 1, federation_->model().version_id, {"HOSP_A"}, 10, 8);
  const std::string v3 = AddTrainedVersion(
      3, 2, federation_->model().version_id, {"HOSP_A"}, 10, 9);
  auto body = [](const std::string& v) {
    return json({{"version_id", v}}).dump();
  };
  // Nothing deployed yet.
  auto none = Call("POST", "/v1/versions/rollback", "operator", body(v1));
  EXPECT_EQ(none.status, 409) << none.body.dump();
  ASSERT_EQ(Call("POST", "/v1/versions/" + v3 + "/deploy", "operator",
                 R"({"strategy": "immediate"})")
                .status,
            200);
  auto unknown =
      Call("POST", "/v1/versions/rollback", "operator", body("v99_x"));
  EXPECT_EQ(unknown.status, 404) << unknown.body.dump();
  EXPECT_NE(unknown.body["error"]["message"].get<std::string>().find("v99_x"),
            std::string::npos);
  auto same = Call("POST", "/v1/versions/rollback", "operator", body(v3));
  EXPECT_EQ(same.status, 409) << same.body.dump();
  EXPECT_NE(same.body["error"]["message"].get<std::string>().find(
                "already the version in force"),
            std::string::npos);
  auto r = Call("POST", "/v1/versions/rollback", "operator",
                json({{"version_id", v1}, {"reason", "v3 misbehaves"}}).dump());
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["action"], "rollback");
  EXPECT_EQ(r.body["current_version"], v1);
  EXPECT_TRUE(r.body["candidate_version"].is_null());
  auto entries = AuditEntries(*store_, "version_rolled_back");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].fields["current_version"], v1);
  EXPECT_EQ(entries[0].fields["previous_version"], v3);
  EXPECT_EQ(entries[0].fields["reason"], "v3 misbehaves");
  // During a rollout the candidate is refused (promote it instead).
  ASSERT_EQ(Call("POST", "/v1/versions/" + v2 + "/deploy", "operator",
                 R"({"strategy": "gradual_rollout"})")
                .status,
            200);
  EXPECT_EQ(Call("POST", "/v1/versions/rollback", "operator", body(v2)).status,
            409);
  auto to_v3 = Call("POST", "/v1/versions/rollback", "operator", body(v3));
  ASSERT_EQ(to_v3.status, 200) << to_v3.body.dump();
  EXPECT_EQ(to_v3.body["current_version"], v3);
  EXPECT_TRUE(to_v3.body["candidate_version"].is_null());
  // A viewer may not.
  EXPECT_EQ(Call("POST", "/v1/versions/rollback", "viewer", body(v1)).status,
            403);
}

}  // namespace
}  // namespace cls::coordinator
