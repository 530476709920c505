// Evaluation and serving codecs (codec_serving.cc). The suite keeps its name
// (Frame) from before the split.
#include <gtest/gtest.h>

#include <array>
#include <random>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <capnp/message.h>

#include "cls.capnp.h"
#include "protocol/codec_test_util.h"
#include "protocol/frame.h"
#include "protocol/messages.h"

namespace cls::protocol {
namespace {

TEST(Frame, RejectsADriftReportWithTooManySummaries) {
  DriftReport report;
  report.summaries.assign(17, "{}");
  const std::string error = DecodeError(EncodeFrame(report));
  EXPECT_EQ(error, "drift_report: summaries has 17 entries, at most 16");
}

TEST(Frame, RejectsAnEvaluationReportWithTooManyScoreBins) {
  EvaluationReport report;
  report.scores.positive_histogram.assign(1000, 1);
  report.scores.negative_histogram.assign(1000, 2);
  auto decoded = DecodeFrame(EncodeFrame(report));
  ASSERT_TRUE(decoded.has_value());
  report.scores.negative_histogram.push_back(3);
  EXPECT_EQ(DecodeError(EncodeFrame(report)),
            "evaluation_report: negative histogram has 1001 entries, at most "
            "1000");
}

TEST(Frame, RejectsAnOverlongDeploymentSaltWithoutQuotingIt) {
  DeploymentUpdate update;
  update.salt = std::string(300, 'x') + std::string(kSecret);
  const std::string error = DecodeError(EncodeFrame(update));
  EXPECT_EQ(error, "deployment_update: salt is 312 bytes, at most 256");
  EXPECT_EQ(error.find(kSecret), std::string::npos);
}

TEST(Frame, DeploymentUpdateCarriesTheDriftSettings) {
  DeploymentUpdate update;
  update.deployment_id = "d1_00000000";
  update.drift_performance_threshold = 0.08;
  update.drift_window_size = 250;
  update.current_baseline = 0.82;
  auto decoded = DecodeFrame(EncodeFrame(update));
  ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
  const auto& d = std::get<DeploymentUpdate>(*decoded);
  EXPECT_EQ(d.drift_performance_threshold, 0.08);
  EXPECT_EQ(d.drift_window_size, 250u);
  EXPECT_EQ(d.current_baseline, 0.82);
  // Unset stays "none" (< 0), not 0: a baseline of 0 would mean "expect
  // every prediction to be wrong".
  EXPECT_EQ(d.candidate_baseline, -1);
}

}  // namespace
}  // namespace cls::protocol
