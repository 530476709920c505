// GET /v1/versions, GET /v1/versions/{id} and POST /v1/keys/rotate over a
// real store and federation (no sockets), and the checks on the score
// counts sites report.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "coordinator/admin/admin_api_test_fixture.h"
#include "coordinator/versions/kek_file.h"
#include "coordinator/versions/version_evaluation.h"

namespace cls::coordinator {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class AdminApiVersionsTest : public AdminApiFixture {
 protected:
  void SetUp() override {
    OpenFederationWithKeys("cls-admin-versions");
    if (HasFatalFailure()) return;
    v1_ = federation_->model().version_id;
  }

  std::string v1_;
};

TEST_F(AdminApiVersionsTest, ListsVersionsNewestFirstWithSummedMetrics) {
  const std::string v2 = AddTrainedVersion(2, 1, v1_, {"HOSP_A", "HOSP_B"});
  ASSERT_TRUE(
      RecordVersionEvaluation(*store_, v2, BinaryReport(v2, 8, 2, 7, 3)));
  ASSERT_TRUE(
      RecordVersionEvaluation(*store_, v2, BinaryReport(v2, 4, 0, 5, 1)));
  auto r = Call("GET", "/v1/versions", "operator");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  const json& list = r.body["versions"];
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["version_id"], v2);
  EXPECT_EQ(list[1]["version_id"], v1_);
  EXPECT_EQ(list[1]["current"], true);  // the federation's model in memory
  EXPECT_FALSE(list[0].contains("parameters"));
  const json& m = list[0]["metrics"];
  EXPECT_EQ(m["reports"], 2);
  EXPECT_EQ(m["evaluated_rows"], 30);
  EXPECT_DOUBLE_EQ(m["accuracy"].get<double>(), 24.0 / 30);
  EXPECT_DOUBLE_EQ(m["precision"].get<double>(), 12.0 / 14);
  EXPECT_DOUBLE_EQ(m["recall"].get<double>(), 12.0 / 16);
  EXPECT_EQ(m["training_samples"], 200);
  EXPECT_EQ(m["auc_bins"], 4);
  EXPECT_GT(m["auc"].get<double>(), 0.9);
  // No reports yet: null, not zero.
  EXPECT_TRUE(list[1]["metrics"]["accuracy"].is_null());
  EXPECT_TRUE(list[1]["metrics"]["auc"].is_null());

  EXPECT_EQ(
      Call("GET", "/v1/versions?limit=1", "operator").body["versions"].size(),
      1u);
  EXPECT_EQ(Call("GET", "/v1/versions?limit=0", "operator").status, 400);
}

TEST_F(AdminApiVersionsTest, ShowsLineageKekAndCountsButNeverParameters) {
  const std::string v2 = AddTrainedVersion(2, 1, v1_, {"HOSP_A", "HOSP_B"});
  const std::string v3 = AddTrainedVersion(3, 2, v2, {"HOSP_B", "HOSP_C"});
  ASSERT_TRUE(
      RecordVersionEvaluation(*store_, v3, BinaryReport(v3, 1, 1, 1, 1)));
  auto r = Call("GET", "/v1/versions/" + v3, "auditor");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["version_id"], v3);
  EXPECT_EQ(r.body["model_type"], "diagnosis_predictor");
  EXPECT_EQ(r.body["kek_id"], keys_->kek_id());
  EXPECT_EQ(r.body["encrypted"], true);
  EXPECT_FALSE(r.body.contains("parameters"));
  const json& lineage = r.body["lineage"];
  EXPECT_EQ(lineage["parent_version"], v2);
  EXPECT_EQ(lineage["round_id"], 2);
  EXPECT_EQ(lineage["contributing_sites"], json({"HOSP_B", "HOSP_C"}));
  EXPECT_EQ(lineage["all_sites"], json({"HOSP_A", "HOSP_B", "HOSP_C"}));
  ASSERT_EQ(lineage["rounds"].size(), 2u);
  EXPECT_EQ(lineage["rounds"][0]["round_id"], 2);
  EXPECT_EQ(lineage["rounds"][1]["version_id"], v2);
  EXPECT_TRUE(lineage["privacy"].is_null());  // privacy off
  EXPECT_EQ(r.body["evaluation"]["true_positives"], 1);
  EXPECT_EQ(r.body["evaluation"]["positive_histogram"], json({0, 1, 1, 0}));

  auto missing = Call("GET", "/v1/versions/v9_20260101_000000", "operator");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body["error"]["message"],
            "no model version 'v9_20260101_000000' (clsctl versions list)");
}

double F1(double precision, double recall) {
  return 2 * precision * recall / (precision + recall);
}

TEST_F(AdminApiVersionsTest, MultiClassVersionsShowMacroAveragesAndEachClass) {
  const std::string v2 = AddTrainedVersion(2, 1, v1_, {"HOSP_A", "HOSP_B"});
  // Two sites' counts of three classes; the coordinator sums them:
  // correct {8, 5, 6}, support {10, 10, 10}, predicted {12, 8, 10}.
  ASSERT_TRUE(RecordVersionEvaluation(
      *store_, v2, MultiClassReport(v2, {4, 2, 3}, {5, 5, 5}, {6, 4, 5})));
  ASSERT_TRUE(RecordVersionEvaluation(
      *store_, v2, MultiClassReport(v2, {4, 3, 3}, {5, 5, 5}, {6, 4, 5})));
  auto r = Call("GET", "/v1/versions/" + v2, "auditor");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  const json& m = r.body["metrics"];
  EXPECT_DOUBLE_EQ(m["accuracy"].get<double>(), 19.0 / 30);
  ASSERT_EQ(m["per_class"].size(), 3u);
  const double precision[] = {8.0 / 12, 5.0 / 8, 6.0 / 10};
  const double recall[] = {0.8, 0.5, 0.6};
  double f1_sum = 0;
  for (size_t c = 0; c < 3; ++c) {
    const json& k = m["per_class"][c];
    EXPECT_EQ(k["class"], c);
    EXPECT_EQ(k["support"], 10);
    EXPECT_DOUBLE_EQ(k["precision"].get<double>(), precision[c]);
    EXPECT_DOUBLE_EQ(k["recall"].get<double>(), recall[c]);
    EXPECT_NEAR(k["f1"].get<double>(), F1(precision[c], recall[c]), 1e-12);
    f1_sum += F1(precision[c], recall[c]);
  }
  EXPECT_NEAR(m["macro_f1"].get<double>(), f1_sum / 3, 1e-12);
  EXPECT_EQ(m["f1"], m["macro_f1"]);  // the headline figure is the macro one
  EXPECT_NEAR(m["macro_precision"].get<double>(),
              (precision[0] + precision[1] + precision[2]) / 3, 1e-12);
  EXPECT_TRUE(m["auc"].is_null());  // no binary scores

  // The list carries the same metrics object; a binary version none of the
  // multi-class fields.
  auto list = Call("GET", "/v1/versions", "auditor");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body["versions"][0]["metrics"], m);
  EXPECT_FALSE(list.body["versions"][1]["metrics"].contains("macro_f1"));
  EXPECT_FALSE(list.body["versions"][1]["metrics"].contains("per_class"));
}

TEST_F(AdminApiVersionsTest,
       RotationRewrapsWhileServingAndIsAuditedWithoutKeys) {
  AddTrainedVersion(2, 1, v1_, {"HOSP_A"});
  const std::string old_id = keys_->kek_id();
  auto r = Call("POST", "/v1/keys/rotate", "admin");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["artifacts"], 2);
  EXPECT_EQ(r.body["old_kek_id"], old_id);
  EXPECT_EQ(r.body["new_kek_id"], keys_->kek_id());
  EXPECT_EQ(r.body["source"], "file");
  // The federation still reads versions.
  EXPECT_TRUE(store_->FindModel(v1_).has_value());
  auto entries = store_->audit_log().Entries("", "");
  ASSERT_TRUE(entries.has_value());
  const audit::AuditEntry* rotate = nullptr;
  for (const auto& e : *entries)
    if (e.event_type == "keys.rotate") rotate = &e;
  ASSERT_NE(rotate, nullptr);
  EXPECT_EQ(rotate->actor, "user_admin");
  EXPECT_EQ(rotate->fields["artifacts"], 2);
  EXPECT_EQ(rotate->fields["old_kek_id"], old_id);
  EXPECT_EQ(rotate->fields["new_kek_id"], keys_->kek_id());
  auto kek = ReadKekFile(config_.versions.kek_file);
  ASSERT_TRUE(kek.has_value());
  for (const auto& e : *entries) {
    EXPECT_EQ(CanonicalEncoding(e).find(KekHex(*kek)), std::string::npos);
  }
}

TEST_F(AdminApiVersionsTest, RotationRefusalsAreClearAndAudited) {
  EXPECT_EQ(Call("POST", "/v1/keys/rotate", "operator").status, 403);
  auto bad = Call("POST", "/v1/keys/rotate", "admin", R"({"new_key": "x"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"]["message"],
            "unknown field 'new_key' (only new_key_file)");
  auto absent = Call("POST", "/v1/keys/rotate", "admin",
                     R"({"new_key_file": "/nonexistent/next.kek"})");
  EXPECT_EQ(absent.status, 404);
  int refused = 0;
  auto entries = store_->audit_log().Entries("", "");
  ASSERT_TRUE(entries.has_value());
  for (const auto& e : *entries) refused += e.event_type == "command_refused";
  EXPECT_EQ(refused, 2);
  api_->SetModelKeys(nullptr);
  EXPECT_EQ(Call("POST", "/v1/keys/rotate", "admin").status, 409);
}

TEST(CheckEvaluationScores, AcceptsConsistentCountsAndRefusesTheRest) {
  protocol::EvaluationReport r;
  r.metrics.count = 10;
  EXPECT_TRUE(CheckEvaluationScores(r));  // an agent without score counts
  r.scores = {3, 1, 4, 2, {0, 2, 3}, {4, 1, 0}};
  EXPECT_TRUE(CheckEvaluationScores(r));
  auto bad = r;
  bad.scores.positive_histogram = {0, 2, 4};  // 6 positives, tp + fn = 5
  EXPECT_FALSE(CheckEvaluationScores(bad));
  bad = r;
  bad.scores.negative_histogram = {5, 0};  // lengths differ
  EXPECT_FALSE(CheckEvaluationScores(bad));
  bad = r;
  bad.metrics.count = 11;  // confusion does not add up to the rows
  EXPECT_FALSE(CheckEvaluationScores(bad));
  bad = r;
  bad.scores.true_positives = uint64_t{1} << 62;
  EXPECT_FALSE(CheckEvaluationScores(bad));
}

TEST(CheckEvaluationScores, AReportAboutAnotherVersionIsNotCounted) {
  // Recorded only against the version the round produced.
  const fs::path db =
      fs::temp_directory_path() /
      ("cls-version-eval-" + std::to_string(::getpid()) + ".db");
  fs::remove(db);
  auto store = CoordinatorStore::Open(db.string());
  ASSERT_TRUE(store.has_value());
  protocol::EvaluationReport r;
  r.model_version = "v1_old";
  r.metrics.count = 1;
  ASSERT_TRUE(RecordVersionEvaluation(**store, "v2_new", r).has_value());
  EXPECT_EQ((*store)->FindVersionEvaluation("v1_old")->reports, 0);
  EXPECT_EQ((*store)->FindVersionEvaluation("v2_new")->reports, 0);
  store->reset();
  for (const char* suffix : {"", "-wal", "-shm"}) {
    fs::remove(db.string() + suffix);
  }
}

}  // namespace
}  // namespace cls::coordinator
