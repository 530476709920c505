// Data drift and concept drift at the site (docs/drift.md "Data drift at the
// sites") and the coordinator's [drift] settings as a deployment carries
// them: InputDriftTracker, DriftSettings and their use in PredictionService.
#include "site-agent/input_drift.h"

#include <gtest/gtest.h>

#include <random>

#include "core/drift/drift_summary.h"
#include "site-agent/drift_settings.h"
#include "site-agent/prediction_service.h"
#include "site-agent/serving_test_util.h"
#include "site-agent/test_util.h"

namespace cls::site {
namespace {

using nlohmann::json;
using testing::MakeUpdate;
using testing::MakeVersion;
using testing::ServingSchema;
using testing::ServingStandardiser;
using testing::TempDir;

constexpr int64_t kNow = 1'700'000'000;

TEST(InputDriftTracker, KeepsTheLastRowsAndIsDueWhenTheWindowFillsAgain) {
  InputDriftTracker t({.window = 5, .interval_s = 100, .min_rows = 3});
  for (int i = 0; i < 4; ++i) t.Record("v1", {double(i)}, kNow);
  EXPECT_TRUE(t.TakeDue(kNow).empty());  // 4 of 5, interval not over
  t.Record("v1", {4}, kNow);
  auto due = t.TakeDue(kNow);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].first, "v1");
  EXPECT_EQ(due[0].second.rows.size(), 5u);
  EXPECT_TRUE(t.TakeDue(kNow).empty());  // counted afresh
  // Seven more rows: the window holds the last five (5..9 minus 2..6 gone).
  for (int i = 5; i < 12; ++i) t.Record("v1", {double(i)}, kNow);
  due = t.TakeDue(kNow);
  ASSERT_EQ(due.size(), 1u);
  std::multiset<double> kept;
  for (const auto& row : due[0].second.rows) kept.insert(row[0]);
  EXPECT_EQ(kept, (std::multiset<double>{7, 8, 9, 10, 11}));
}

TEST(InputDriftTracker, PeriodicallyWithEnoughNewRowsAndForgetsOldVersions) {
  InputDriftTracker t({.window = 100, .interval_s = 60, .min_rows = 3});
  t.Record("v1", {1}, kNow);
  t.Record("v1", {2}, kNow);
  EXPECT_TRUE(t.TakeDue(kNow + 61).empty());  // 2 < min_rows
  t.Record("v1", {3}, kNow + 61);
  EXPECT_TRUE(t.TakeDue(kNow + 59).empty());  // interval not over
  EXPECT_EQ(t.TakeDue(kNow + 61).size(), 1u);
  t.Record("v2", {1}, kNow);
  t.Retain({"v2"});
  EXPECT_EQ(t.rows("v1"), 0u);
  EXPECT_EQ(t.rows("v2"), 1u);
  InputDriftTracker off({.window = 0});
  off.Record("v1", {1}, kNow);
  EXPECT_EQ(off.rows("v1"), 0u);
}

TEST(DriftSettings, OutOfRangeValuesAreRefusedNamingTheField) {
  protocol::DeploymentUpdate u;
  EXPECT_EQ(*DriftSettingsFromUpdate(u), DriftSettings{});  // all unset
  u.drift_performance_threshold = 1.0;
  auto bad = DriftSettingsFromUpdate(u);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("performance_threshold"),
            std::string::npos);
  u.drift_performance_threshold = 0.05;
  u.drift_window_size = 9;
  bad = DriftSettingsFromUpdate(u);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("window_size"), std::string::npos);
  u.drift_window_size = 10;
  u.candidate_baseline = 1.5;
  bad = DriftSettingsFromUpdate(u);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("baseline"), std::string::npos);
  u.candidate_baseline = 0.8;
  auto good = DriftSettingsFromUpdate(u);
  ASSERT_TRUE(good) << good.error().message;
  auto again = DriftSettingsFromJson(DriftSettingsJson(*good));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *good);
  // An older deployment file without "drift": no settings.
  EXPECT_EQ(*DriftSettingsFromJson(json()), DriftSettings{});
  EXPECT_FALSE(DriftSettingsFromJson(json{{"window_size", 100}}));
}

// Rows like the reference's (age ~ N(55, 8), chol ~ N(240, 30), cp 1..4),
// age shifted by `age_shift`.
core::RawTable Rows(int n, unsigned seed, double age_shift = 0) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> age(55, 8), chol(240, 30);
  std::uniform_int_distribution<int> cp(1, 4);
  core::RawTable t;
  for (int i = 0; i < n; ++i) {
    t.rows.push_back({age(rng) + age_shift, chol(rng), double(cp(rng))});
    t.labels.push_back(0);
  }
  return t;
}

json Features(const std::vector<double>& row) {
  return {{"age", row[0]}, {"chol", row[1]}, {"cp", row[2]}};
}

class SiteDriftTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto reference =
        drift::DataDriftDetector::Fit(ServingSchema(), Rows(1000, 1));
    ASSERT_TRUE(reference) << reference.error().message;
    PredictionServiceOptions options;
    options.input_reference =
        std::make_shared<const drift::DataDriftDetector>(std::move(*reference));
    options.input_drift = {.window = 200, .interval_s = 300};
    auto service = PredictionService::Create(
        options, ServingSchema(), ServingStandardiser(), dir_.path());
    ASSERT_TRUE(service) << service.error().ToString();
    service_ = std::move(*service);
  }

  void Deploy(const protocol::DeploymentUpdate& update) {
    const auto ack = service_->OnDeploymentUpdate(update);
    ASSERT_TRUE(ack.accepted) << ack.reason;
  }

  // Serves `rows`; returns each key's predicted label.
  std::vector<std::pair<std::string, int>> Serve(const core::RawTable& rows,
                                                 const std::string& prefix) {
    std::vector<std::pair<std::string, int>> out;
    for (size_t i = 0; i < rows.rows.size(); ++i) {
      const std::string key = prefix + std::to_string(i);
      auto p = service_->Predict(key, Features(rows.rows[i]), kNow);
      EXPECT_TRUE(p) << p.error().ToString();
      if (p) out.emplace_back(key, p->label);
    }
    return out;
  }

  static std::vector<std::string> Types(const protocol::DriftReport& r) {
    std::vector<std::string> types;
    for (const auto& a : r.alerts) types.push_back(a.drift_type);
    return types;
  }

  TempDir dir_;
  std::unique_ptr<PredictionService> service_;
  const ServedVersion v1_ = MakeVersion("v1", 2.0f);
};

TEST_F(SiteDriftTest, ShiftedInputsRaiseADataDriftAlert) {
  Deploy(MakeUpdate("dep-1", "immediate", v1_, nullptr, 0, ""));
  Serve(Rows(200, 2, /*age_shift=*/15), "shifted-");
  const auto report = service_->TakeDriftReport(kNow);
  ASSERT_EQ(Types(report), std::vector<std::string>{"data_drift"});
  EXPECT_EQ(report.alerts[0].version_id, "v1");
  EXPECT_GT(report.alerts[0].severity, 0);
  ASSERT_EQ(report.summaries.size(), 1u);
  auto summary = drift::ParseDriftSummary(report.summaries[0]);
  ASSERT_TRUE(summary);
  EXPECT_EQ(summary->sites_with_data_drift, 1);
  EXPECT_GT(summary->max_psi, 0.25);
  const std::string metrics = service_->MetricsText();
  EXPECT_NE(metrics.find("cls_input_drift_detected_total{version=\"v1\"} 1"),
            std::string::npos)
      << metrics;
}

TEST_F(SiteDriftTest, UnshiftedInputsRaiseNothingAndWaitForAFullWindow) {
  Deploy(MakeUpdate("dep-1", "immediate", v1_, nullptr, 0, ""));
  Serve(Rows(199, 3), "a-");
  EXPECT_EQ(service_->AssessInputs(kNow), 0);  // 199 of 200, interval not over
  Serve(Rows(1, 4), "b-");
  EXPECT_EQ(service_->AssessInputs(kNow), 1);
  EXPECT_TRUE(service_->TakeDriftReport(kNow).alerts.empty());
  const std::string metrics = service_->MetricsText();
  EXPECT_NE(metrics.find("cls_input_drift_assessments_total{version=\"v1\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("cls_input_drift_detected_total{version=\"v1\"} 0"),
            std::string::npos);
}

// Outcomes that turn wrong while the inputs stay as in training: concept
// drift. The same outcomes before any input test: performance drift.
TEST_F(SiteDriftTest, WrongOutcomesOnUnchangedInputsAreConceptDrift) {
  auto update = MakeUpdate("dep-1", "immediate", v1_, nullptr, 0, "");
  update.current_baseline = 0.9;
  Deploy(update);
  const auto served = Serve(Rows(200, 5), "enc-");
  ASSERT_EQ(service_->AssessInputs(kNow), 1);
  for (const auto& [key, label] : served) {
    ASSERT_TRUE(service_->RecordOutcome(key, 1 - label, kNow));
  }
  const auto types = Types(service_->TakeDriftReport(kNow));
  ASSERT_FALSE(types.empty());
  EXPECT_EQ(types[0], "concept_drift");
  EXPECT_EQ(std::count(types.begin(), types.end(), "data_drift"), 0);
}

TEST_F(SiteDriftTest, WrongOutcomesBeforeAnyInputTestArePerformanceDrift) {
  auto update = MakeUpdate("dep-1", "immediate", v1_, nullptr, 0, "");
  update.current_baseline = 0.9;
  Deploy(update);
  const auto served = Serve(Rows(150, 6), "enc-");  // window not full
  for (const auto& [key, label] : served) {
    ASSERT_TRUE(service_->RecordOutcome(key, 1 - label, kNow));
  }
  const auto types = Types(service_->TakeDriftReport(kNow));
  ASSERT_FALSE(types.empty());
  EXPECT_EQ(types[0], "performance_drift");
}

// The coordinator's window and baseline reach the monitor: 12 of 20 right is
// an alert against a baseline of 0.99 over a window of 20, and nothing with
// the site's defaults (window 100, no baseline).
TEST_F(SiteDriftTest, TheDeploymentsWindowAndBaselineReachTheMonitor) {
  auto run = [&](const protocol::DeploymentUpdate& update,
                 const std::string& prefix) {
    Deploy(update);
    const auto served = Serve(Rows(20, 7), prefix);
    for (size_t i = 0; i < served.size(); ++i) {
      const int label = served[i].second;
      EXPECT_TRUE(service_->RecordOutcome(served[i].first,
                                          i < 12 ? label : 1 - label, kNow));
    }
    return service_->TakeDriftReport(kNow);
  };
  const auto plain =
      run(MakeUpdate("dep-1", "immediate", v1_, nullptr, 0, ""), "p-");
  EXPECT_TRUE(plain.alerts.empty());
  const ServedVersion v2 = MakeVersion("v2", 2.0f, 0.1f);
  auto update = MakeUpdate("dep-2", "immediate", v2, nullptr, 0, "");
  update.drift_performance_threshold = 0.05;
  update.drift_window_size = 20;
  update.current_baseline = 0.99;
  const auto set = run(update, "s-");
  ASSERT_EQ(set.alerts.size(), 1u);
  EXPECT_EQ(set.alerts[0].version_id, "v2");
  EXPECT_EQ(set.alerts[0].drift_type, "performance_drift");
  EXPECT_EQ(set.alerts[0].detector, "windowed_binomial");
  auto summary = drift::ParseDriftSummary(set.summaries[0]);
  ASSERT_TRUE(summary);
  EXPECT_EQ(summary->window_predictions, 20);
  // Persisted with the deployment: a restart keeps the settings.
  auto stored = LoadDeployment(dir_.path() / kDeploymentFile);
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->drift.window_size, 20);
  EXPECT_EQ((*stored)->drift.current_baseline, 0.99);
}

TEST_F(SiteDriftTest, ADeploymentWithBadDriftSettingsIsRefused) {
  auto update = MakeUpdate("dep-1", "immediate", v1_, nullptr, 0, "");
  update.drift_window_size = 3;
  const auto ack = service_->OnDeploymentUpdate(update);
  EXPECT_FALSE(ack.accepted);
  EXPECT_NE(ack.reason.find("window_size"), std::string::npos) << ack.reason;
}

}  // namespace
}  // namespace cls::site
