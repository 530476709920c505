// GET /v1/versions, GET /v1/versions/{id} and POST /v1/keys/rotate over a
// real store and federation (no sockets), and the checks on the score
// counts sites report.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstring>
#include <filesystem>

#include "coordinator/admin/admin_api.h"
#include "coordinator/federation.h"
#include "coordinator/versions/kek_file.h"
#include "coordinator/versions/version_evaluation.h"
#include "crypto/sha256.h"

namespace cls::coordinator {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class AdminApiVersionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv(kKekEnvironmentVariable);
    dir_ = fs::temp_directory_path() /
           ("cls-admin-versions-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    config_.model_parameters = 3;
    config_.data_dir = dir_.string();
    config_.versions.kek_file = (dir_ / "model.kek").string();
    store_ =
        std::move(*CoordinatorStore::Open((dir_ / "coordinator.db").string()));
    auto keys = ModelKeys::Open(config_.versions, *store_);
    ASSERT_TRUE(keys.has_value()) << keys.error().message;
    keys_ = std::move(*keys);
    federation_ = std::make_unique<Federation>(io_, config_, *store_);
    ASSERT_TRUE(federation_->Initialize().has_value());
    api_ = std::make_unique<AdminApi>(federation_->admin_services());
    api_->SetModelKeys(keys_.get());
    v1_ = federation_->model().version_id;
  }
  void TearDown() override {
    api_.reset();
    federation_.reset();
    keys_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  AdminResponse Call(const std::string& method, const std::string& target,
                     const std::string& role, const std::string& body = "") {
    return api_->Handle({method,
                         target,
                         body,
                         {"user_" + role, role},
                         std::chrono::system_clock::now()});
  }

  // A version produced by `round_id`, with its round's contributors.
  std::string AddVersion(int64_t sequence, int64_t round_id,
                         const std::string& parent,
                         std::vector<std::string> contributors) {
    RoundRecord round;
    round.round_id = round_id;
    round.status = "running";
    round.started_at = "2026-11-27T12:00:00Z";
    round.participants = contributors;
    EXPECT_TRUE(store_->InsertRound(round).has_value());
    ModelRecord m;
    m.sequence = sequence;
    m.version_id = "v" + std::to_string(sequence) + "_20261127_12000" +
                   std::to_string(sequence);
    m.round_id = round_id;
    m.parent_version = parent;
    m.parameters = {0.1f * static_cast<float>(sequence), 0.2f, 0.3f};
    Bytes bytes(12);
    std::memcpy(bytes.data(), m.parameters.data(), 12);
    m.hash = crypto::Sha256Hex(bytes);
    m.created_at = "2026-11-27T12:00:0" + std::to_string(sequence) + "Z";
    m.model_type = config_.model_type;
    EXPECT_TRUE(store_->InsertModel(m).has_value());
    round.status = "completed";
    round.contributors = std::move(contributors);
    round.model_version = m.version_id;
    EXPECT_TRUE(store_->UpdateRound(round).has_value());
    return m.version_id;
  }

  static protocol::EvaluationReport Report(const std::string& version,
                                           uint64_t tp, uint64_t fp,
                                           uint64_t tn, uint64_t fn) {
    protocol::EvaluationReport r;
    r.model_version = version;
    r.metrics.count = tp + fp + tn + fn;
    r.metrics.correct = tp + tn;
    r.metrics.loss_sum = 0.5 * static_cast<double>(r.metrics.count);
    r.metrics.train_samples = 100;
    r.scores = {tp, fp, tn, fn, {0, fn, tp, 0}, {tn, fp, 0, 0}};
    return r;
  }

  fs::path dir_;
  boost::asio::io_context io_;
  CoordinatorConfig config_;
  std::unique_ptr<CoordinatorStore> store_;
  std::unique_ptr<ModelKeys> keys_;
  std::unique_ptr<Federation> federation_;
  std::unique_ptr<AdminApi> api_;
  std::string v1_;
};

TEST_F(AdminApiVersionsTest, ListsVersionsNewestFirstWithSummedMetrics) {
  const std::string v2 = AddVersion(2, 1, v1_, {"HOSP_A", "HOSP_B"});
  ASSERT_TRUE(RecordVersionEvaluation(*store_, v2, Report(v2, 8, 2, 7, 3)));
  ASSERT_TRUE(RecordVersionEvaluation(*store_, v2, Report(v2, 4, 0, 5, 1)));
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
  const std::string v2 = AddVersion(2, 1, v1_, {"HOSP_A", "HOSP_B"});
  const std::string v3 = AddVersion(3, 2, v2, {"HOSP_B", "HOSP_C"});
  ASSERT_TRUE(RecordVersionEvaluation(*store_, v3, Report(v3, 1, 1, 1, 1)));
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

TEST_F(AdminApiVersionsTest,
       RotationRewrapsWhileServingAndIsAuditedWithoutKeys) {
  AddVersion(2, 1, v1_, {"HOSP_A"});
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
