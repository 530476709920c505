// The site-local candidate (docs/serving.md "The site-local candidate"):
// LocalCandidate alone, and served by PredictionService next to the deployed
// version.
#include "site-agent/local_candidate.h"

#include <gtest/gtest.h>

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
constexpr int kFeatures = 6;  // ServingSchema: age, chol, cp one-hot x4

Eigen::MatrixXf Row(float age_z) {
  Eigen::MatrixXf x = Eigen::MatrixXf::Zero(1, kFeatures);
  x(0, 0) = age_z;
  return x;
}

std::unique_ptr<LocalCandidate> Make(LocalCandidateMode mode,
                                     double share = 0.1) {
  LocalCandidateOptions options;
  options.mode = mode;
  options.share = share;
  auto c = LocalCandidate::Create(options);
  EXPECT_TRUE(c) << c.error().message;
  return c ? std::move(*c) : nullptr;
}

TEST(LocalCandidate, BadOptionsAndParametersAreRefused) {
  LocalCandidateOptions options;
  options.mode = LocalCandidateMode::kAb;
  options.share = 1.0;
  EXPECT_FALSE(LocalCandidate::Create(options));
  auto c = Make(LocalCandidateMode::kShadow);
  EXPECT_FALSE(c->Set({1, 2}, kFeatures));  // 2 of 7 parameters
  EXPECT_FALSE(c->Set(std::vector<float>(7, NAN), kFeatures));
  EXPECT_FALSE(c->active());
  EXPECT_FALSE(c->Score("k", Row(1)));
  EXPECT_FALSE(ParseLocalCandidateMode("canary"));
}

TEST(LocalCandidate, ShadowNeverAnswersAndABAnswersItsShareStickily) {
  auto shadow = Make(LocalCandidateMode::kShadow);
  ASSERT_TRUE(shadow->Set({2, 0, 0, 0, 0, 0, 0}, kFeatures));
  auto ab = Make(LocalCandidateMode::kAb, 0.3);
  ASSERT_TRUE(ab->Set({2, 0, 0, 0, 0, 0, 0}, kFeatures));
  int served = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::string key = "enc-" + std::to_string(i);
    auto s = shadow->Score(key, Row(1));
    ASSERT_TRUE(s);
    EXPECT_FALSE(s->served);
    EXPECT_NEAR(s->probability, 1 / (1 + std::exp(-2.0)), 1e-6);
    auto a = ab->Score(key, Row(1));
    ASSERT_TRUE(a);
    served += a->served;
    EXPECT_EQ(ab->Score(key, Row(1))->served, a->served);  // sticky
  }
  // 30% of 2000 = 600, binomial sd about 20.
  EXPECT_GT(served, 500);
  EXPECT_LT(served, 700);
}

// Shadow: the candidate is wrong where the deployed version is right; the
// sequential test withdraws it; new parameters make a new candidate.
TEST(LocalCandidate, AWorseCandidateIsWithdrawnByTheSequentialTest) {
  auto c = Make(LocalCandidateMode::kShadow);
  ASSERT_TRUE(c->Set({2, 0, 0, 0, 0, 0, 0}, kFeatures));
  int outcomes = 0;
  for (int i = 0; i < 1000 && c->active(); ++i) {
    auto s = c->Score("e" + std::to_string(i), Row(1));  // predicts 1
    ASSERT_TRUE(s);
    // Deployed predicted 0 and is right 85% of the time; the candidate 15%.
    const int outcome = i % 20 < 17 ? 0 : 1;
    c->RecordOutcome(*s, /*deployed_label=*/0, outcome, kNow);
    ++outcomes;
  }
  EXPECT_FALSE(c->active());
  EXPECT_GE(outcomes, 100);  // the test judges from 100 outcomes per arm
  EXPECT_NE(c->withdrawn_reason().find("sequential test"), std::string::npos)
      << c->withdrawn_reason();
  EXPECT_EQ(c->comparison().verdict, rollout::Verdict::kCandidateWorse);
  EXPECT_EQ(c->withdrawals(), 1);
  EXPECT_FALSE(c->Score("e", Row(1)));
  ASSERT_TRUE(c->Set({-2, 0, 0, 0, 0, 0, 0}, kFeatures));
  EXPECT_TRUE(c->active());
  EXPECT_EQ(c->generation(), 2u);
}

// With the sequential test out of reach, a severe drift alert withdraws it:
// right at first, then always wrong.
TEST(LocalCandidate, ASevereDriftAlertWithdrawsIt) {
  LocalCandidateOptions options;
  options.mode = LocalCandidateMode::kShadow;
  options.test.min_samples_per_arm = 1'000'000;
  auto c = std::move(*LocalCandidate::Create(options));
  ASSERT_TRUE(c->Set({2, 0, 0, 0, 0, 0, 0}, kFeatures));
  for (int i = 0; i < 2000 && c->active(); ++i) {
    auto s = c->Score("e" + std::to_string(i), Row(1));
    c->RecordOutcome(*s, 1, i < 300 ? 1 : 0, kNow);
  }
  EXPECT_FALSE(c->active());
  EXPECT_NE(c->withdrawn_reason().find("severity"), std::string::npos)
      << c->withdrawn_reason();
}

TEST(LocalCandidate, AnEqualCandidateStaysAndOldOutcomesAreIgnored) {
  auto c = Make(LocalCandidateMode::kShadow);
  ASSERT_TRUE(c->Set({2, 0, 0, 0, 0, 0, 0}, kFeatures));
  auto old = c->Score("old", Row(1));
  ASSERT_TRUE(c->Set({2, 0, 0, 0, 0, 0, 0}, kFeatures));
  c->RecordOutcome(*old, 1, 0, kNow);  // generation 1: ignored
  EXPECT_EQ(c->comparison().candidate.n, 0);
  for (int i = 0; i < 600; ++i) {
    auto s = c->Score("e" + std::to_string(i), Row(1));
    c->RecordOutcome(*s, 1, i % 10 < 8 ? 1 : 0, kNow);  // both 80%
  }
  EXPECT_TRUE(c->active()) << c->withdrawn_reason();
}

// In the service: A/B answers say which model answered; the candidate never
// appears in what goes to the coordinator; withdrawn, the deployed version
// answers everything.
TEST(LocalCandidateService, ABServesSaysWhoAnsweredAndWithdrawsAWorseOne) {
  TempDir dir;
  PredictionServiceOptions options;
  options.local_candidate.mode = LocalCandidateMode::kAb;
  options.local_candidate.share = 0.5;
  auto service = std::move(*PredictionService::Create(
      options, ServingSchema(), ServingStandardiser(), dir.path()));
  const ServedVersion v1 = MakeVersion("v1", 2.0f);
  ASSERT_TRUE(service
                  ->OnDeploymentUpdate(
                      MakeUpdate("d1", "immediate", v1, nullptr, 0, ""))
                  .accepted);
  // The site's online model learned the opposite: it is always wrong where
  // v1 is right.
  ASSERT_TRUE(service->SetLocalCandidate({-2, 0, 0, 0, 0, 0, 0}));
  std::map<std::string, int> by_model;
  int i = 0;
  for (; i < 2000 && service->local_candidate()->active(); ++i) {
    const std::string key = "enc-" + std::to_string(i);
    auto p =
        service->Predict(key, {{"age", 70}, {"chol", 250}, {"cp", 2}}, kNow);
    ASSERT_TRUE(p) << p.error().ToString();
    ++by_model[p->model];
    if (p->model == "site_local_candidate") {
      EXPECT_EQ(p->version_id, kLocalCandidateVersion);
      EXPECT_EQ(p->label, 0);
    } else {
      EXPECT_EQ(p->model, "deployed");
      EXPECT_EQ(p->version_id, "v1");
    }
    ASSERT_TRUE(service->RecordOutcome(key, 1, kNow));  // v1 is right
  }
  EXPECT_FALSE(service->local_candidate()->active());
  EXPECT_GT(by_model["site_local_candidate"], 50);
  EXPECT_GT(by_model["deployed"], 50);
  auto after =
      service->Predict("after", {{"age", 70}, {"chol", 250}, {"cp", 2}}, kNow);
  EXPECT_EQ(after->model, "deployed");
  // Nothing of the candidate goes to the coordinator.
  const auto report = service->TakeDriftReport(kNow);
  for (const auto& s : report.summaries) {
    EXPECT_EQ(s.find(kLocalCandidateVersion), std::string::npos) << s;
  }
  for (const auto& a : report.alerts) {
    EXPECT_NE(a.version_id, kLocalCandidateVersion);
  }
  const std::string metrics = service->MetricsText();
  EXPECT_NE(metrics.find("cls_local_candidate_withdrawals_total 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("cls_local_candidate_active 0"), std::string::npos);
}

// ---- A multi-class (softmax regression) site-local candidate ----

core::ModelSpec SoftmaxSpec() {
  core::ModelSpec spec;
  spec.kind = core::ModelKind::kSoftmaxRegression;
  spec.num_features = kFeatures;
  spec.num_classes = 3;
  return spec;
}

// Softmax parameters (w[6 x 3] row-major, then b[3]) whose class scores
// rise with age by `age_weights` (one per class).
std::vector<float> SoftmaxParams(float c0, float c1, float c2) {
  std::vector<float> p(kFeatures * 3 + 3, 0.0f);
  p[0] = c0;
  p[1] = c1;
  p[2] = c2;
  return p;
}

TEST(LocalCandidateMultiClass, ScoresEveryClassAndIsJudgedByCorrectness) {
  auto c = Make(LocalCandidateMode::kShadow);
  EXPECT_FALSE(c->Set(SoftmaxParams(0, 0, 2), kFeatures));  // not binary
  ASSERT_TRUE(c->Set(SoftmaxParams(0, 0, 2), SoftmaxSpec()));
  auto s = c->Score("k", Row(1));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->label, 2);
  ASSERT_EQ(s->probabilities.size(), 3u);
  EXPECT_NEAR(s->probabilities[0] + s->probabilities[1] + s->probabilities[2],
              1.0, 1e-6);
  EXPECT_FLOAT_EQ(static_cast<float>(s->probability), s->probabilities[2]);
  EXPECT_GT(s->probabilities[2], s->probabilities[0]);

  // Deployed predicts class 0 and is right 85% of the time; the candidate
  // (class 2) only where the outcome is 2: withdrawn by the sequential test.
  int outcomes = 0;
  for (int i = 0; i < 1000 && c->active(); ++i) {
    auto score = c->Score("e" + std::to_string(i), Row(1));
    ASSERT_TRUE(score);
    const int outcome = i % 20 < 17 ? 0 : 2;
    c->RecordOutcome(*score, /*deployed_label=*/0, outcome, kNow);
    ++outcomes;
  }
  EXPECT_FALSE(c->active());
  EXPECT_GE(outcomes, 100);
  EXPECT_NE(c->withdrawn_reason().find("sequential test"), std::string::npos)
      << c->withdrawn_reason();
  EXPECT_EQ(c->comparison().verdict, rollout::Verdict::kCandidateWorse);

  // New parameters, and a candidate as often right as the deployed version
  // (both predict class 2; outcomes 2 in 80%, else 1) stays.
  ASSERT_TRUE(c->Set(SoftmaxParams(0, 0, 2), SoftmaxSpec()));
  for (int i = 0; i < 600; ++i) {
    auto score = c->Score("f" + std::to_string(i), Row(1));
    ASSERT_TRUE(score);
    c->RecordOutcome(*score, 2, i % 10 < 8 ? 2 : 1, kNow);
  }
  EXPECT_TRUE(c->active()) << c->withdrawn_reason();
  EXPECT_EQ(c->comparison().candidate.successes,
            c->comparison().current.successes);
}

// In the service, for a 3-class site: A/B answers from the candidate carry
// its class probabilities and say so; a worse one is withdrawn.
TEST(LocalCandidateService, AMultiClassCandidateAnswersWithProbabilities) {
  TempDir dir;
  PredictionServiceOptions options;
  options.local_candidate.mode = LocalCandidateMode::kAb;
  options.local_candidate.share = 0.5;
  core::DatasetSchema schema = ServingSchema();
  schema.label.classes = {0, 1, 2};
  auto created = PredictionService::Create(options, schema,
                                           ServingStandardiser(), dir.path());
  ASSERT_TRUE(created) << created.error().message;
  auto service = std::move(*created);
  const std::vector<float> deployed = SoftmaxParams(0, 0, 2);
  const ServedVersion v1{"v1", ModelHash(deployed), deployed,
                         SoftmaxSpec().ToString()};
  ASSERT_TRUE(service
                  ->OnDeploymentUpdate(
                      MakeUpdate("d1", "immediate", v1, nullptr, 0, ""))
                  .accepted);
  // A candidate of the wrong shape is refused; the online model learned
  // class 0 where v1 (right) says 2.
  core::ModelSpec binary = SoftmaxSpec();
  binary.num_classes = 2;
  EXPECT_FALSE(service->SetLocalCandidate(std::vector<float>(14, 0), binary));
  ASSERT_TRUE(
      service->SetLocalCandidate(SoftmaxParams(2, 0, 0), SoftmaxSpec()));
  std::map<std::string, int> by_model;
  for (int i = 0; i < 2000 && service->local_candidate()->active(); ++i) {
    const std::string key = "enc-" + std::to_string(i);
    auto p =
        service->Predict(key, {{"age", 70}, {"chol", 250}, {"cp", 2}}, kNow);
    ASSERT_TRUE(p) << p.error().ToString();
    ++by_model[p->model];
    ASSERT_EQ(p->probabilities.size(), 3u);
    if (p->model == "site_local_candidate") {
      EXPECT_EQ(p->version_id, kLocalCandidateVersion);
      EXPECT_EQ(p->label, 0);
      EXPECT_EQ(p->predicted_class, "0");
    } else {
      EXPECT_EQ(p->model, "deployed");
      EXPECT_EQ(p->version_id, "v1");
      EXPECT_EQ(p->label, 2);
    }
    ASSERT_TRUE(service->RecordOutcome(key, 2, kNow));  // v1 is right
  }
  EXPECT_FALSE(service->local_candidate()->active());
  EXPECT_GT(by_model["site_local_candidate"], 50);
  EXPECT_GT(by_model["deployed"], 50);
}

}  // namespace
}  // namespace cls::site
