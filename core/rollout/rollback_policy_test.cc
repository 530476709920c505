#include "core/rollout/rollback_policy.h"

#include <gtest/gtest.h>

#include <vector>

namespace cls::rollout {
namespace {

drift::DriftAlert Alert(drift::DriftType type, double severity) {
  drift::DriftAlert a;
  a.drift_type = type;
  a.severity = severity;
  a.detector = "adwin";
  return a;
}

TEST(RollbackPolicyTest, SeverePerformanceDriftRollsBack) {
  const std::vector<drift::DriftAlert> alerts = {
      Alert(drift::DriftType::kPerformance, 0.5),
      Alert(drift::DriftType::kPerformance, 0.9)};
  const RollbackDecision d = DecideRollback({}, alerts, std::nullopt);
  EXPECT_EQ(d.action, RollbackAction::kRollback);
  EXPECT_EQ(d.reason, "performance_drift (adwin) severity 0.90 > 0.80");
}

TEST(RollbackPolicyTest, SevereConceptDriftRollsBack) {
  const std::vector<drift::DriftAlert> alerts = {
      Alert(drift::DriftType::kConcept, 0.85)};
  EXPECT_EQ(DecideRollback({}, alerts, std::nullopt).action,
            RollbackAction::kRollback);
}

TEST(RollbackPolicyTest, DataOrCalibrationDriftAloneKeeps) {
  const std::vector<drift::DriftAlert> alerts = {
      Alert(drift::DriftType::kData, 1.0),
      Alert(drift::DriftType::kCalibration, 1.0),
      Alert(drift::DriftType::kPerformance, 0.8)};  // not above 0.8
  const RollbackDecision d = DecideRollback({}, alerts, std::nullopt);
  EXPECT_EQ(d.action, RollbackAction::kKeep);
  EXPECT_TRUE(d.reason.empty());
}

TEST(RollbackPolicyTest, SequentialTestSayingWorseRollsBack) {
  ComparisonResult r;
  r.verdict = Verdict::kCandidateWorse;
  r.effect = -0.05;
  r.ci_low = -0.08;
  r.ci_high = -0.02;
  r.p_value = 0.001;
  const RollbackDecision d = DecideRollback({}, {}, r);
  EXPECT_EQ(d.action, RollbackAction::kRollback);
  EXPECT_EQ(d.reason,
            "sequential test: candidate worse by 5.00 points (CI -8.00 to "
            "-2.00, p = 0.001)");
  RollbackPolicy lenient;
  lenient.rollback_when_worse = false;
  EXPECT_EQ(DecideRollback(lenient, {}, r).action, RollbackAction::kKeep);
  r.verdict = Verdict::kInconclusive;
  EXPECT_EQ(DecideRollback({}, {}, r).action, RollbackAction::kKeep);
}

}  // namespace
}  // namespace cls::rollout
