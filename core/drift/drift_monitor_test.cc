#include "core/drift/drift_monitor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/drift/drift_summary.h"

namespace cls::drift {
namespace {

constexpr int64_t kDay = 24 * 3600;

DriftMonitor MakeMonitor(double baseline, DriftMonitorConfig config = {}) {
  auto m = DriftMonitor::Create(config);
  EXPECT_TRUE(m.has_value());
  EXPECT_TRUE(m->SetBaseline(baseline).has_value());
  return std::move(*m);
}

// Feeds n predictions at `accuracy` with confidence equal to it (a
// calibrated model); returns the alerts raised.
std::vector<DriftAlert> Feed(DriftMonitor& m, std::mt19937_64& rng, int n,
                             double accuracy, int64_t now_s = 0) {
  std::uniform_real_distribution<double> u;
  std::vector<DriftAlert> alerts;
  for (int i = 0; i < n; ++i) {
    auto a = m.RecordPrediction(accuracy, u(rng) < accuracy, now_s);
    EXPECT_TRUE(a.has_value());
    if (a.has_value() && *a) alerts.push_back(**a);
  }
  return alerts;
}

TEST(DriftMonitorTest, StatisticsHaveTheGuideFields) {
  DriftMonitor m = MakeMonitor(0.9);
  ASSERT_TRUE(m.RecordPrediction(0.92, true, 0).has_value());
  ASSERT_TRUE(m.RecordPrediction(0.88, true, 0).has_value());
  ASSERT_TRUE(m.RecordPrediction(0.65, false, 0).has_value());
  const DriftStatistics s = m.GetDriftStatistics(0);
  EXPECT_EQ(s.total_predictions, 3);
  EXPECT_NEAR(s.recent_accuracy, 2.0 / 3, 1e-12);
  EXPECT_DOUBLE_EQ(s.baseline_accuracy, 0.9);
  EXPECT_EQ(s.total_alerts, 0);
  EXPECT_EQ(s.alerts_last_7_days, 0);
  EXPECT_FALSE(m.CheckDrift().has_value());
}

TEST(DriftMonitorTest, RefusesConfidenceOutsideUnitInterval) {
  DriftMonitor m = MakeMonitor(0.9);
  for (double bad : {-0.1, 1.1, std::nan("")}) {
    auto r = m.RecordPrediction(bad, true, 0);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_EQ(m.GetDriftStatistics(0).total_predictions, 0);
  DriftMonitorConfig config;
  config.performance_threshold = 0;
  EXPECT_EQ(DriftMonitor::Create(config).error().code,
            ErrorCode::kInvalidArgument);
}

TEST(DriftMonitorTest, QuietOnAStationaryStream) {
  DriftMonitor m = MakeMonitor(0.85);
  std::mt19937_64 rng(41);
  const auto alerts = Feed(m, rng, 100'000, 0.85);
  // All five detectors and calibration together, 100k predictions.
  EXPECT_LE(alerts.size(), 8u);
}

TEST(DriftMonitorTest, LargeDropIsSeverePerformanceDriftWithRollback) {
  DriftMonitor m = MakeMonitor(0.90);
  std::mt19937_64 rng(42);
  Feed(m, rng, 3000, 0.90);
  while (m.CheckDrift()) {
  }
  const auto alerts = Feed(m, rng, 3000, 0.70);
  ASSERT_FALSE(alerts.empty());
  auto worst = m.CheckDrift();
  ASSERT_TRUE(worst.has_value());
  EXPECT_EQ(worst->drift_type, DriftType::kPerformance);
  EXPECT_GT(worst->severity, 0.8);
  EXPECT_EQ(worst->recommended_action, "roll back to the last stable version");
  EXPECT_TRUE(worst->evidence.contains("accuracy_drop"));
  EXPECT_NEAR(worst->severity,
              PerformanceSeverity(worst->evidence.at("accuracy_drop"), 0.05),
              1e-12);
}

TEST(DriftMonitorTest, DropWithUnchangedInputsIsConceptDrift) {
  DriftMonitor m = MakeMonitor(0.90);
  DataDriftReport stable;  // no feature drifted
  EXPECT_FALSE(m.ObserveDataDrift(stable, 0).has_value());
  std::mt19937_64 rng(43);
  Feed(m, rng, 2000, 0.90);
  const auto alerts = Feed(m, rng, 2000, 0.72);
  ASSERT_FALSE(alerts.empty());
  EXPECT_EQ(alerts.front().drift_type, DriftType::kConcept);
  EXPECT_EQ(alerts.front().evidence.at("inputs_drifted"), 0.0);
}

TEST(DriftMonitorTest, DataDriftReportRaisesDataAlert) {
  DriftMonitor m = MakeMonitor(0.90);
  DataDriftReport report;
  FeatureDrift f;
  f.feature = "age";
  f.psi = 0.3;
  f.psi_critical = 0.05;
  f.test = "ks";
  f.statistic = 0.3;
  f.p_value = 1e-8;
  f.drifted = true;
  report.features.push_back(f);
  report.drifted_features = 1;
  report.drifted_share = 1;
  report.max_psi = 0.3;
  report.dataset_drift = true;
  auto alert = m.ObserveDataDrift(report, 100);
  ASSERT_TRUE(alert.has_value());
  EXPECT_EQ(alert->drift_type, DriftType::kData);
  EXPECT_NEAR(alert->severity, 0.6, 1e-12);
  EXPECT_EQ(alert->evidence.at("age.p_value"), 1e-8);
  EXPECT_EQ(m.GetDriftStatistics(100).total_alerts, 1);
}

TEST(DriftMonitorTest, AlertsOlderThanSevenDaysLeaveTheRecentCount) {
  DriftMonitor m = MakeMonitor(0.90);
  DataDriftReport report;
  report.dataset_drift = true;
  report.max_psi = 0.2;
  ASSERT_TRUE(m.ObserveDataDrift(report, 0).has_value());
  ASSERT_TRUE(m.ObserveDataDrift(report, 5 * kDay).has_value());
  EXPECT_EQ(m.GetDriftStatistics(6 * kDay).alerts_last_7_days, 2);
  EXPECT_EQ(m.GetDriftStatistics(8 * kDay).alerts_last_7_days, 1);
  EXPECT_EQ(m.GetDriftStatistics(8 * kDay).total_alerts, 2);
}

TEST(DriftMonitorTest, CalibrationDriftWhenConfidenceStopsMatching) {
  DriftMonitorConfig config;
  config.use_adwin = config.use_ddm = config.use_eddm =
      config.use_page_hinkley = config.use_windowed_binomial = false;
  DriftMonitor m = MakeMonitor(0.85, config);
  std::mt19937_64 rng(44);
  std::uniform_real_distribution<double> u;
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(m.RecordPrediction(0.85, u(rng) < 0.85, 0).has_value());
  }
  EXPECT_EQ(m.GetDriftStatistics(0).total_alerts, 0);
  // Same accuracy, but the model now claims 0.99.
  bool calibration_alert = false;
  for (int i = 0; i < 2000; ++i) {
    auto a = m.RecordPrediction(0.99, u(rng) < 0.85, 0);
    ASSERT_TRUE(a.has_value());
    if (*a && (*a)->drift_type == DriftType::kCalibration) {
      calibration_alert = true;
    }
  }
  EXPECT_TRUE(calibration_alert);
}

TEST(DriftMonitorTest, LabelFreeEstimateFlagsAConfidenceDrop) {
  DriftMonitor m = MakeMonitor(0.90);
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(m.RecordUnlabelled(0.9, 0).has_value());
  }
  EXPECT_EQ(m.GetDriftStatistics(0).total_alerts, 0);
  EXPECT_NEAR(m.GetDriftStatistics(0).estimated_accuracy, 0.9, 1e-12);
  bool alerted = false;
  for (int i = 0; i < 2000 && !alerted; ++i) {
    auto a = m.RecordUnlabelled(0.7, 0);
    ASSERT_TRUE(a.has_value());
    alerted = a->has_value() && (*a)->detector == "cbpe";
  }
  EXPECT_TRUE(alerted);
}

TEST(DriftSummaryTest, RoundTripsAndMergesCounts) {
  DriftMonitor m = MakeMonitor(0.9);
  std::mt19937_64 rng(45);
  Feed(m, rng, 500, 0.9);
  const DriftSummary s = m.Summary("v3_20260101_000000");
  EXPECT_EQ(s.predictions, 500);
  auto parsed = ParseDriftSummary(SerializeDriftSummary(s));
  ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();
  EXPECT_EQ(parsed->predictions, s.predictions);
  EXPECT_EQ(parsed->correct, s.correct);
  EXPECT_EQ(parsed->calibration.size(), 10u);
  EXPECT_NEAR(parsed->Ece(), s.Ece(), 1e-12);
  const DriftSummary parts[] = {s, *parsed};
  auto merged = MergeDriftSummaries(parts);
  ASSERT_TRUE(merged.has_value());
  EXPECT_EQ(merged->predictions, 1000);
  EXPECT_EQ(merged->correct, 2 * s.correct);
  EXPECT_EQ(merged->sites, 2);
  EXPECT_NEAR(merged->Accuracy(), s.Accuracy(), 1e-12);
}

TEST(DriftSummaryTest, ParseRefusesInconsistentOrHostileInput) {
  DriftSummary s;
  s.version_id = "v1";
  s.predictions = 10;
  s.correct = 11;  // more correct than predictions
  auto r = ParseDriftSummary(SerializeDriftSummary(s));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(ParseDriftSummary("not json").has_value());
  EXPECT_FALSE(ParseDriftSummary("[1, 2]").has_value());
  EXPECT_FALSE(ParseDriftSummary(R"({"version_id": "v1"})").has_value());
  DriftSummary other;
  other.version_id = "v2";
  const DriftSummary mixed[] = {s, other};
  EXPECT_EQ(MergeDriftSummaries(mixed).error().code,
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace cls::drift
