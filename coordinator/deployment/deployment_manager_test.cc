#include "coordinator/deployment/deployment_manager.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/federation.h"  // ParameterHash
#include "coordinator/storage/store.h"
#include "core/drift/drift_summary.h"

namespace cls::coordinator {
namespace {

namespace fs = std::filesystem;

constexpr char kV1[] = "v1_20260101_000000";
constexpr char kV2[] = "v2_20260102_000000";
constexpr int64_t kNow = 1'800'000'000;

// Records what would go to the sites.
struct FakeSites {
  std::vector<std::string> connected = {"HOSP_A", "HOSP_B"};
  std::vector<std::pair<std::string, protocol::DeploymentUpdate>> sent;

  DeploymentSender Sender() {
    return {[this] { return connected; },
            [this](const std::string& site, protocol::Message m) {
              sent.emplace_back(site, std::get<protocol::DeploymentUpdate>(m));
            },
            nullptr};
  }
};

std::string Summary(const std::string& version, int64_t n, int64_t correct) {
  drift::DriftSummary s;
  s.version_id = version;
  s.predictions = n;
  s.correct = correct;
  s.window_predictions = std::min<int64_t>(n, 100);
  s.window_correct = n > 0 ? s.window_predictions * correct / n : 0;
  return drift::SerializeDriftSummary(s);
}

class DeploymentManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cls-deployment-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto store = CoordinatorStore::Open((dir_ / "coordinator.db").string());
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
    int64_t sequence = 1;
    for (const char* version : {kV1, kV2}) {
      ModelRecord m;
      m.version_id = version;
      m.sequence = sequence;
      m.round_id = sequence - 1;
      m.parameters = {0.1f * static_cast<float>(sequence), -0.5f, 2.0f};
      m.hash = ParameterHash(m.parameters);
      m.created_at = "2026-01-01T00:00:00Z";
      ASSERT_TRUE(store_->InsertModel(m).has_value());
      ++sequence;
    }
    Reopen();
  }
  void TearDown() override {
    manager_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  void Reopen() {
    manager_.reset();
    auto m = DeploymentManager::Open(*store_, "logistic_regression",
                                     sites_.Sender());
    ASSERT_TRUE(m.has_value()) << m.error().message;
    manager_ = std::move(*m);
  }

  // v1 serving, v2 rolling out at 10%.
  void StartRollout() {
    ASSERT_TRUE(manager_->Deploy(kV1, "immediate", op_, "").has_value());
    auto r = manager_->Deploy(kV2, "gradual_rollout", op_, "canary");
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->state.percentage, 10);
  }

  std::vector<audit::AuditEntry> Entries(const std::string& event) {
    std::vector<audit::AuditEntry> out;
    auto all = store_->audit_log().Entries("", "");
    for (auto& e : *all)
      if (e.event_type == event) out.push_back(e);
    return out;
  }

  fs::path dir_;
  std::unique_ptr<CoordinatorStore> store_;
  FakeSites sites_;
  std::unique_ptr<DeploymentManager> manager_;
  DeploymentActor op_{"alice", "operator"};
};

TEST_F(DeploymentManagerTest, DeployingAnUnknownVersionIsRefused) {
  auto r = manager_->Deploy("v9_20260101_000000", "immediate", op_, "");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(r.error().message, "no model version 'v9_20260101_000000'");
  EXPECT_TRUE(sites_.sent.empty());
}

TEST_F(DeploymentManagerTest, AnUnknownStrategyIsRefused) {
  auto r = manager_->Deploy(kV1, "yolo", op_, "");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(DeploymentManagerTest, TheFirstDeploymentMustBeImmediate) {
  auto r = manager_->Deploy(kV1, "gradual_rollout", op_, "");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
}

// A deployment is stored together with its audit entry or not at all: here
// the audit log refuses every write (a trigger standing in for a full disk),
// and neither the deployment nor a message to the sites may happen.
TEST_F(DeploymentManagerTest,
       ADeploymentWhoseAuditEntryFailsIsNotStoredOrSent) {
  ASSERT_TRUE(
      store_->db()
          .Exec("CREATE TRIGGER audit_full BEFORE INSERT ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); "
                "END")
          .has_value());
  auto r = manager_->Deploy(kV1, "immediate", op_, "first release");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("database or disk is full"),
            std::string::npos)
      << r.error().message;
  EXPECT_TRUE(sites_.sent.empty());
  ASSERT_TRUE(store_->db().Exec("DROP TRIGGER audit_full").has_value());
  Reopen();
  EXPECT_FALSE(manager_->current().has_value());
  // Nothing half-done blocks the next attempt.
  auto again = manager_->Deploy(kV1, "immediate", op_, "first release");
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(again->sequence, 1);
  EXPECT_EQ(Entries("version_deployed").size(), 1u);
}

TEST_F(DeploymentManagerTest,
       ADeploymentIsPushedToEveryConnectedSiteAndAudited) {
  auto r = manager_->Deploy(kV1, "immediate", op_, "first release");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_EQ(sites_.sent.size(), 2u);
  const auto& update = sites_.sent[0].second;
  EXPECT_EQ(update.deployment_id, r->deployment_id);
  EXPECT_EQ(update.strategy, "immediate");
  EXPECT_EQ(update.current.version_id, kV1);
  EXPECT_EQ(update.current.model_kind, "logistic_regression");
  EXPECT_EQ(update.current.model_hash,
            ParameterHash(update.current.parameters));
  EXPECT_TRUE(update.candidate.version_id.empty());
  auto audited = Entries("version_deployed");
  ASSERT_EQ(audited.size(), 1u);
  EXPECT_EQ(audited[0].actor, "alice");
  EXPECT_EQ(audited[0].fields["reason"], "first release");
  EXPECT_EQ(audited[0].fields["current_version"], kV1);
}

TEST_F(DeploymentManagerTest,
       TheDeploymentSurvivesARestartAndReachesAReconnectingSite) {
  StartRollout();
  const auto before = *manager_->current();
  Reopen();
  ASSERT_TRUE(manager_->current().has_value());
  EXPECT_EQ(manager_->current()->deployment_id, before.deployment_id);
  EXPECT_EQ(manager_->current()->state.candidate_version, kV2);
  EXPECT_EQ(manager_->current()->state.salt, before.state.salt);
  sites_.sent.clear();
  manager_->OnSiteConnected("HOSP_C");
  ASSERT_EQ(sites_.sent.size(), 1u);
  EXPECT_EQ(sites_.sent[0].first, "HOSP_C");
  EXPECT_EQ(sites_.sent[0].second.deployment_id, before.deployment_id);
  EXPECT_EQ(sites_.sent[0].second.candidate.version_id, kV2);
  EXPECT_EQ(sites_.sent[0].second.rollout_percent, 10);
}

TEST_F(DeploymentManagerTest,
       RaisingARolloutKeepsTheSaltAndLoweringItIsRefused) {
  StartRollout();
  const auto at10 = *manager_->current();
  auto at50 = manager_->SetRollout(kV2, 50, op_);
  ASSERT_TRUE(at50.has_value()) << at50.error().message;
  EXPECT_NE(at50->deployment_id, at10.deployment_id);
  EXPECT_EQ(at50->state.salt, at10.state.salt);  // encounters stay put
  EXPECT_EQ(at50->state.percentage, 50);
  auto lower = manager_->SetRollout(kV2, 25, op_);
  ASSERT_FALSE(lower.has_value());
  EXPECT_EQ(lower.error().code, ErrorCode::kInvalidArgument);
  auto wrong = manager_->SetRollout(kV1, 75, op_);
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(manager_->current()->state.percentage, 50);
}

TEST_F(DeploymentManagerTest, EachRolloutGetsAFreshSalt) {
  StartRollout();
  const std::string first = manager_->current()->state.salt;
  ASSERT_TRUE(manager_->Rollback(op_, "try again").has_value());
  ASSERT_TRUE(manager_->Deploy(kV2, "ab_testing", op_, "").has_value());
  EXPECT_NE(manager_->current()->state.salt, first);
  EXPECT_EQ(manager_->current()->state.percentage, 50);
}

TEST_F(DeploymentManagerTest, AcksAreRecordedPerSiteAndStaleOnesIgnored) {
  StartRollout();
  const std::string id = manager_->current()->deployment_id;
  manager_->OnAck("HOSP_A", {id, true, kV1, kV2, ""});
  manager_->OnAck("HOSP_B",
                  {id, false, kV1, "", "parameter count 3, expected 22"});
  manager_->OnAck("HOSP_C", {"d1_stale", true, kV1, "", ""});
  auto acks = manager_->Acks();
  ASSERT_TRUE(acks.has_value());
  ASSERT_EQ(acks->size(), 2u);
  EXPECT_EQ((*acks)[0].site_id, "HOSP_A");
  EXPECT_TRUE((*acks)[0].accepted);
  EXPECT_EQ((*acks)[1].site_id, "HOSP_B");
  EXPECT_FALSE((*acks)[1].accepted);
  EXPECT_EQ((*acks)[1].reason, "parameter count 3, expected 22");
  EXPECT_EQ(Entries("deployment_acknowledged").size(), 2u);
}

TEST_F(DeploymentManagerTest, ASeverePerformanceAlertOnTheCandidateRollsBack) {
  StartRollout();
  sites_.sent.clear();
  protocol::DriftReport report;
  report.reported_at_s = kNow;
  report.summaries = {Summary(kV1, 50, 45), Summary(kV2, 20, 10)};
  report.alerts = {{kV2, "performance_drift", 0.9, "adwin", kNow}};
  auto s = manager_->OnDriftReport("HOSP_A", report, kNow);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  const auto& now = *manager_->current();
  EXPECT_EQ(now.action, "rollback");
  EXPECT_TRUE(now.automatic);
  EXPECT_EQ(now.state.current_version, kV1);
  EXPECT_TRUE(now.state.candidate_version.empty());
  EXPECT_NE(now.reason.find("severity 0.90 > 0.80"), std::string::npos)
      << now.reason;
  ASSERT_EQ(sites_.sent.size(), 2u);  // pushed at once
  EXPECT_TRUE(sites_.sent[0].second.candidate.version_id.empty());
  auto audited = Entries("version_rolled_back");
  ASSERT_EQ(audited.size(), 1u);
  EXPECT_EQ(audited[0].actor, "coordinator");
  EXPECT_EQ(audited[0].fields["automatic"], true);
}

TEST_F(DeploymentManagerTest,
       TheSequentialTestDeclaringTheCandidateWorseRollsBack) {
  StartRollout();
  protocol::DriftReport a{
      kNow, {Summary(kV1, 1000, 900), Summary(kV2, 400, 240)}, {}};
  protocol::DriftReport b{
      kNow, {Summary(kV1, 800, 720), Summary(kV2, 400, 250)}, {}};
  ASSERT_TRUE(manager_->OnDriftReport("HOSP_A", a, kNow).has_value());
  ASSERT_TRUE(manager_->OnDriftReport("HOSP_B", b, kNow).has_value());
  const auto& now = *manager_->current();
  EXPECT_EQ(now.action, "rollback");
  EXPECT_TRUE(now.automatic);
  EXPECT_NE(now.reason.find("sequential test: candidate worse"),
            std::string::npos)
      << now.reason;
  // The counts were summed over the two sites.
  auto compare = manager_->Compare(kV1, kV2);
  ASSERT_TRUE(compare.has_value());
  EXPECT_EQ(compare->current.n, 1800);
  EXPECT_EQ(compare->candidate.n, 800);
  EXPECT_EQ(compare->verdict, rollout::Verdict::kCandidateWorse);
}

TEST_F(DeploymentManagerTest, DataDriftAloneDoesNotRollBack) {
  StartRollout();
  protocol::DriftReport report{
      kNow,
      {Summary(kV1, 200, 180), Summary(kV2, 200, 182)},
      {{kV2, "data_drift", 1.0, "data_drift", kNow},
       {kV2, "performance_drift", 0.6, "adwin", kNow}}};
  ASSERT_TRUE(manager_->OnDriftReport("HOSP_A", report, kNow).has_value());
  EXPECT_EQ(manager_->current()->state.candidate_version, kV2);
  EXPECT_FALSE(manager_->current()->automatic);
  auto stats = manager_->DriftStatistics(kNow);
  ASSERT_TRUE(stats.has_value());
  ASSERT_EQ(stats->size(), 2u);
  EXPECT_EQ((*stats)[1].version_id, kV2);
  EXPECT_EQ((*stats)[1].total_alerts, 2);
  EXPECT_EQ((*stats)[1].alerts_last_7_days, 2);
  auto later = manager_->DriftStatistics(kNow + 8 * 24 * 3600);
  EXPECT_EQ((*later)[1].alerts_last_7_days, 0);
}

TEST_F(DeploymentManagerTest, AnAlertRaisedBeforeTheRolloutDoesNotRollItBack) {
  ASSERT_TRUE(manager_->Deploy(kV2, "immediate", op_, "").has_value());
  protocol::DriftReport old{
      kNow, {}, {{kV2, "performance_drift", 1.0, "adwin", kNow}}};
  ASSERT_TRUE(manager_->OnDriftReport("HOSP_A", old, kNow).has_value());
  ASSERT_TRUE(manager_->Deploy(kV1, "gradual_rollout", op_, "").has_value());
  // v1 is now the candidate; v2's old alert is not its business, and an
  // empty report leaves the rollout alone.
  ASSERT_TRUE(
      manager_->OnDriftReport("HOSP_A", {kNow, {}, {}}, kNow).has_value());
  EXPECT_EQ(manager_->current()->state.candidate_version, kV1);
}

TEST_F(DeploymentManagerTest, MalformedReportsAreRefusedWholeAndNothingIsKept) {
  StartRollout();
  const std::string id = manager_->current()->deployment_id;
  const std::vector<protocol::DriftReport> bad = {
      {kNow, {"{not json"}, {}},
      {kNow,
       {R"({"version_id":"v1_20260101_000000","predictions":5,"correct":9})"},
       {}},
      {kNow, {Summary(kV1, 10, 9), Summary(kV1, 10, 9)}, {}},
      {kNow,
       {Summary(kV1, 10, 9)},
       {{kV2, "performance_drift", 1.5, "adwin", kNow}}},
      {kNow, {Summary(kV1, 10, 9)}, {{kV2, "gremlins", 0.9, "adwin", kNow}}},
      {kNow, {}, {{kV2, "performance_drift", NAN, "adwin", kNow}}},
  };
  for (const auto& report : bad) {
    auto s = manager_->OnDriftReport("HOSP_A", report, kNow);
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  }
  auto reports = manager_->Reports();
  EXPECT_TRUE(reports->empty());
  auto alerts = manager_->Alerts("", 100);
  EXPECT_TRUE(alerts->empty());
  EXPECT_EQ(manager_->current()->deployment_id, id);  // no rollback
}

TEST_F(DeploymentManagerTest, ManualRollbackNeedsARolloutAndIsAudited) {
  auto none = manager_->Rollback(op_, "");
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, ErrorCode::kFailedPrecondition);
  StartRollout();
  auto r = manager_->Rollback(op_, "clinician complaint");
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->automatic);
  EXPECT_EQ(r->state.current_version, kV1);
  auto audited = Entries("version_rolled_back");
  ASSERT_EQ(audited.size(), 1u);
  EXPECT_EQ(audited[0].fields["reason"], "clinician complaint");
  EXPECT_EQ(audited[0].fields["automatic"], false);
}

TEST_F(DeploymentManagerTest, PromoteMakesTheCandidateCurrent) {
  StartRollout();
  auto r = manager_->Promote(op_, "looks good");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->state.current_version, kV2);
  EXPECT_TRUE(r->state.candidate_version.empty());
}

// [drift] settings go to the sites with every deployment: threshold, window
// and, with baseline = "validation", each version's summed held-out
// accuracy (none when no site evaluated it); a fixed baseline for both.
TEST_F(DeploymentManagerTest, DeploymentsCarryTheDriftSettings) {
  VersionEvaluation e;
  e.reports = 2;
  e.count = 200;
  e.correct = 174;
  ASSERT_TRUE(store_->AddVersionEvaluation(kV1, e).has_value());
  auto open = [&](DeploymentDriftSettings drift) {
    manager_.reset();
    DeploymentSender sender = sites_.Sender();
    sender.drift = drift;
    auto m = DeploymentManager::Open(*store_, "logistic_regression",
                                     std::move(sender));
    ASSERT_TRUE(m.has_value()) << m.error().message;
    manager_ = std::move(*m);
  };
  open({.performance_threshold = 0.08,
        .window_size = 250,
        .baseline_validation = true});
  StartRollout();
  ASSERT_FALSE(sites_.sent.empty());
  const protocol::DeploymentUpdate& u = sites_.sent.back().second;
  EXPECT_EQ(u.drift_performance_threshold, 0.08);
  EXPECT_EQ(u.drift_window_size, 250u);
  EXPECT_DOUBLE_EQ(u.current_baseline, 0.87);
  EXPECT_EQ(u.candidate_baseline, -1);  // v2 never evaluated

  open({.performance_threshold = 0.05, .window_size = 100, .baseline = 0.9});
  manager_->OnSiteConnected("HOSP_A");  // the restored deployment, rebuilt
  const protocol::DeploymentUpdate& fixed = sites_.sent.back().second;
  EXPECT_EQ(fixed.current_baseline, 0.9);
  EXPECT_EQ(fixed.candidate_baseline, 0.9);
  EXPECT_EQ(fixed.drift_window_size, 100u);
}

}  // namespace
}  // namespace cls::coordinator
