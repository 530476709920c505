#include "site-agent/prediction_service.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "core/drift/drift_summary.h"
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

class PredictionServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Make({}); }

  void Make(PredictionServiceOptions options) {
    auto service = PredictionService::Create(
        options, ServingSchema(), ServingStandardiser(), dir_.path());
    ASSERT_TRUE(service) << service.error().ToString();
    service_ = std::move(*service);
  }

  void Deploy(const protocol::DeploymentUpdate& update) {
    const auto ack = service_->OnDeploymentUpdate(update);
    ASSERT_TRUE(ack.accepted) << ack.reason;
  }

  static json Features(double age) {
    return {{"age", age}, {"chol", 250}, {"cp", 2}};
  }

  TempDir dir_;
  std::unique_ptr<PredictionService> service_;
  const ServedVersion v1_ = MakeVersion("v1", 2.0f);
  const ServedVersion v2_ = MakeVersion("v2", -2.0f);
};

TEST_F(PredictionServiceTest, NothingDeployedIsUnavailable) {
  auto p = service_->Predict("e1", Features(60), kNow);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(HttpStatusFor(p.error()), 503);
}

TEST_F(PredictionServiceTest,
       ServesTheLatestGlobalModelUntilADeploymentArrives) {
  GlobalModel g{.round_id = 1,
                .version = "v1",
                .hash = v1_.hash,
                .parameters = v1_.parameters};
  ASSERT_TRUE(service_->OnGlobalModel(g));
  auto p = service_->Predict("e1", Features(70), kNow);
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ(p->version_id, "v1");
  // Standardised age of 70 with mean 55 and the population std of 40..70.
  const double z = (70.0 - 55.0) / std::sqrt(125.0);
  EXPECT_NEAR(p->probability, 1 / (1 + std::exp(-2.0 * z)), 1e-5);
  EXPECT_EQ(p->label, 1);

  Deploy(MakeUpdate("dep-1", "immediate", v2_, nullptr, 0, ""));
  GlobalModel g3{.round_id = 3,
                 .version = "v3",
                 .hash = v1_.hash,
                 .parameters = v1_.parameters};
  ASSERT_TRUE(service_->OnGlobalModel(g3));
  EXPECT_EQ(service_->Predict("e1", Features(70), kNow)->version_id, "v2");
}

TEST_F(PredictionServiceTest, RoutingIsStickyAndMatchesTheRolloutShare) {
  Deploy(MakeUpdate("dep-1", "gradual_rollout", v1_, &v2_, 10, "salt-1"));
  std::map<std::string, std::string> first;
  int candidate = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::string key = "enc-" + std::to_string(i);
    auto p = service_->Predict(key, Features(55), kNow);
    ASSERT_TRUE(p);
    first[key] = p->version_id;
    candidate += p->version_id == "v2";
  }
  // 10% of 2000 = 200; binomial sd about 13.
  EXPECT_GT(candidate, 140);
  EXPECT_LT(candidate, 260);
  // Raised to 25%: everyone who saw v2 still does.
  Deploy(MakeUpdate("dep-2", "gradual_rollout", v1_, &v2_, 25, "salt-1"));
  int now_candidate = 0;
  for (const auto& [key, version] : first) {
    auto p = service_->Predict(key, Features(55), kNow);
    ASSERT_TRUE(p);
    if (version == "v2") {
      EXPECT_EQ(p->version_id, "v2") << key;
    }
    now_candidate += p->version_id == "v2";
  }
  EXPECT_GT(now_candidate, 420);
  EXPECT_LT(now_candidate, 580);
}

TEST_F(PredictionServiceTest, ShadowModeReturnsTheCurrentVersionOnly) {
  Deploy(MakeUpdate("dep-1", "shadow_mode", v1_, &v2_, 0, "salt-s"));
  for (int i = 0; i < 50; ++i) {
    auto p = service_->Predict("s" + std::to_string(i), Features(70), kNow);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->version_id, "v1");
    ASSERT_TRUE(p->shadow_probability);
    // v2 has the opposite weight: its score mirrors v1's.
    EXPECT_NEAR(*p->shadow_probability, 1 - p->probability, 1e-5);
  }
  const std::string metrics = service_->MetricsText();
  EXPECT_NE(metrics.find("cls_predictions_total{version=\"v1\"} 50"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("cls_shadow_predictions_total{version=\"v2\"} 50"),
            std::string::npos);
  EXPECT_NE(metrics.find("cls_shadow_disagreements_total 50"),
            std::string::npos);
  EXPECT_NE(metrics.find("cls_predictions_total{version=\"v2\"} 0\n"),
            std::string::npos);
  // Outcomes feed both versions' monitors.
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(service_->RecordOutcome("s" + std::to_string(i), 1, kNow));
  }
  const auto report = service_->TakeDriftReport(kNow);
  ASSERT_EQ(report.summaries.size(), 2u);
  auto s1 = drift::ParseDriftSummary(report.summaries[0]);
  auto s2 = drift::ParseDriftSummary(report.summaries[1]);
  ASSERT_TRUE(s1 && s2);
  EXPECT_EQ(s1->version_id, "v1");
  EXPECT_EQ(s1->predictions, 50);
  EXPECT_EQ(s1->correct, 50);
  EXPECT_EQ(s2->version_id, "v2");
  EXPECT_EQ(s2->correct, 0);
}

TEST_F(PredictionServiceTest, JoinsAnOutcomeToItsPredictionOnce) {
  Deploy(MakeUpdate("dep-1", "immediate", v1_, nullptr, 0, ""));
  ASSERT_TRUE(service_->Predict("e1", Features(70), kNow));
  ASSERT_TRUE(service_->Predict("e2", Features(40), kNow));
  ASSERT_TRUE(service_->RecordOutcome("e1", 1, kNow + 60));
  ASSERT_TRUE(service_->RecordOutcome("e2", 1, kNow + 60));
  auto again = service_->RecordOutcome("e1", 0, kNow + 61);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(HttpStatusFor(again.error()), 409);
  auto unknown = service_->RecordOutcome("never-seen", 1, kNow);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(HttpStatusFor(unknown.error()), 404);

  const std::string metrics = service_->MetricsText();
  EXPECT_NE(metrics.find("cls_outcomes_total{version=\"v1\"} 2"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("cls_accuracy{version=\"v1\"} 0.5"),
            std::string::npos);
  const auto report = service_->TakeDriftReport(kNow + 100);
  ASSERT_EQ(report.summaries.size(), 1u);
  auto summary = drift::ParseDriftSummary(report.summaries[0]);
  ASSERT_TRUE(summary);
  EXPECT_EQ(summary->predictions, 2);
  EXPECT_EQ(summary->correct, 1);
  // Counts only: the report carries no request key.
  EXPECT_EQ(report.summaries[0].find("e1"), std::string::npos);
}

TEST_F(PredictionServiceTest, ForgetsPredictionsAfterTheRetentionWindow) {
  Make({.retention_s = 3600, .max_tracked = 1000, .drift = {}});
  Deploy(MakeUpdate("dep-1", "immediate", v1_, nullptr, 0, ""));
  ASSERT_TRUE(service_->Predict("old", Features(60), kNow));
  ASSERT_TRUE(service_->Predict("new", Features(60), kNow + 3000));
  EXPECT_EQ(service_->tracked(), 2u);
  auto late = service_->RecordOutcome("old", 1, kNow + 3600);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(service_->tracked(), 1u);
  EXPECT_TRUE(service_->RecordOutcome("new", 1, kNow + 3600));
}

TEST_F(PredictionServiceTest, KeepsAtMostMaxTrackedPredictionsOldestFirst) {
  Make({.retention_s = 3600, .max_tracked = 100, .drift = {}});
  Deploy(MakeUpdate("dep-1", "immediate", v1_, nullptr, 0, ""));
  for (int i = 0; i < 250; ++i) {
    ASSERT_TRUE(service_->Predict("k" + std::to_string(i), Features(60), kNow));
    // Re-predicting a key replaces its entry, not adds one.
    ASSERT_TRUE(service_->Predict("k" + std::to_string(i), Features(60), kNow));
  }
  EXPECT_EQ(service_->tracked(), 100u);
  EXPECT_FALSE(service_->RecordOutcome("k149", 1, kNow));
  EXPECT_TRUE(service_->RecordOutcome("k150", 1, kNow));
  EXPECT_TRUE(service_->RecordOutcome("k249", 1, kNow));
}

TEST_F(PredictionServiceTest, RefusesBadFeaturesWithoutEchoingValues) {
  Deploy(MakeUpdate("dep-1", "immediate", v1_, nullptr, 0, ""));
  struct Case {
    json features;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{{"age", 61}, {"mrn", 12345}}, "unknown feature 'mrn'"},
      {{{"age", "sixty-one"}}, "feature 'age': not a number"},
      {{{"cp", 7}}, "feature 'cp': not a known category"},
      {json::array({61, 250}),
       "features must be a JSON object keyed by column"},
      {{{"age", true}}, "feature 'age': not a number"},
  };
  for (const auto& c : cases) {
    auto p = service_->Predict("e1", c.features, kNow);
    ASSERT_FALSE(p) << c.expected;
    EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(p.error().message, c.expected);
    EXPECT_EQ(p.error().message.find("sixty"), std::string::npos);
    EXPECT_EQ(p.error().message.find("12345"), std::string::npos);
  }
  auto key = service_->Predict("", Features(60), kNow);
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(service_->Predict(std::string(257, 'k'), Features(60), kNow));
  EXPECT_EQ(service_->tracked(), 0u);
}

TEST_F(PredictionServiceTest, MissingValuesAreImputed) {
  Deploy(MakeUpdate("dep-1", "immediate", v1_, nullptr, 0, ""));
  // Age missing (null) or absent -> the mean age -> z = 0 -> p = 0.5;
  // chol 0 counts as missing.
  auto absent = service_->Predict("a", json{{"chol", 0}}, kNow);
  auto null = service_->Predict("b", json{{"age", nullptr}}, kNow);
  ASSERT_TRUE(absent && null);
  EXPECT_NEAR(absent->probability, 0.5, 1e-6);
  EXPECT_NEAR(null->probability, 0.5, 1e-6);
}

TEST_F(PredictionServiceTest, ARefusedDeploymentKeepsThePreviousOne) {
  Deploy(MakeUpdate("dep-1", "immediate", v1_, nullptr, 0, ""));
  auto bad = MakeUpdate("dep-2", "ab_testing", v1_, &v2_, 50, "s");
  bad.candidate.model_hash = std::string(64, '0');
  const auto ack = service_->OnDeploymentUpdate(bad);
  EXPECT_FALSE(ack.accepted);
  EXPECT_EQ(ack.deployment_id, "dep-2");
  EXPECT_NE(ack.reason.find("do not match the model hash"), std::string::npos);
  EXPECT_EQ(service_->state()->deployment().deployment_id, "dep-1");

  // A restart restores the last accepted deployment from the data dir.
  Make({});
  ASSERT_TRUE(service_->Restore(std::nullopt));
  ASSERT_TRUE(service_->state());
  EXPECT_EQ(service_->state()->deployment().deployment_id, "dep-1");
}

// Issue 14: after a restart the site serves its stored softmax global model
// (data_dir/global_model.bin) as softmax, before any new round. Failed
// before the file kept the spec: Restore refused a 3-class model read as
// logistic regression.
TEST_F(PredictionServiceTest, RestoresAStoredSoftmaxGlobalModelAfterARestart) {
  core::DatasetSchema schema = ServingSchema();
  schema.label.classes = {0, 1, 2};
  const core::ModelSpec spec{
      core::ModelKind::kSoftmaxRegression, 6, 3, {}, "relu"};
  GlobalModel g;
  g.round_id = 1;
  g.version = "v1_softmax";
  g.parameters.assign(spec.NumParameters(), 0.0f);
  g.parameters.back() = 2.0f;  // bias of class 2
  g.hash = ModelHash(g.parameters);
  g.spec = spec.ToString();
  ASSERT_TRUE(SaveGlobalModel(dir_.path() / kGlobalModelFile, g));

  // The restarted agent: a new service over the same data dir.
  auto service =
      PredictionService::Create({}, schema, ServingStandardiser(), dir_.path());
  ASSERT_TRUE(service) << service.error().ToString();
  auto latest = LoadGlobalModel(dir_.path() / kGlobalModelFile);
  ASSERT_TRUE(latest) << latest.error().ToString();
  auto restored = (*service)->Restore(*latest);
  ASSERT_TRUE(restored) << restored.error().ToString();
  auto p = (*service)->Predict("e1", Features(55), kNow);
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ(p->version_id, "v1_softmax");
  ASSERT_EQ(p->probabilities.size(), 3u);
  EXPECT_NEAR(p->probabilities[0] + p->probabilities[1] + p->probabilities[2],
              1.0, 1e-5);
  EXPECT_GT(p->probabilities[2], p->probabilities[0]);
}

TEST_F(PredictionServiceTest, AbTestingSplitsAboutEvenly) {
  Deploy(MakeUpdate("dep-1", "ab_testing", v1_, &v2_, 50, "salt-ab"));
  int v2 = 0;
  for (int i = 0; i < 1000; ++i) {
    auto p = service_->Predict("ab-" + std::to_string(i), Features(55), kNow);
    ASSERT_TRUE(p);
    v2 += p->version_id == "v2";
    EXPECT_FALSE(p->shadow_probability);
  }
  EXPECT_GT(v2, 430);  // 500 +- 4.4 sd
  EXPECT_LT(v2, 570);
}

}  // namespace
}  // namespace cls::site
