#include "core/online_learning.h"

#include <gtest/gtest.h>

#include <random>
#include <regex>
#include <vector>

namespace cls::core {
namespace {

// n examples labelled by a fixed logistic model: y ~ Bernoulli(sigmoid(
// scale * (<w, x> + b))); scale large makes the labels nearly deterministic.
void MakeStream(int n, const Eigen::VectorXf& w, float b, float scale,
                std::mt19937_64& rng, Eigen::MatrixXf& x, Eigen::VectorXf& y) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  x.resize(n, w.size());
  y.resize(n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < w.size(); ++j) x(i, j) = normal(rng);
    const float z = scale * (x.row(i).dot(w) + b);
    y(i) = uniform(rng) < 1.0f / (1.0f + std::exp(-z)) ? 1.0f : 0.0f;
  }
}

double Accuracy(const LogisticRegression& m, const Eigen::MatrixXf& x,
                const Eigen::VectorXf& y) {
  return EvaluateBinary(m.PredictProbability(x), y).accuracy;
}

TEST(OnlineLearningTest, DefaultsFollowTheUserGuide) {
  const OnlineLearningConfig cfg;
  EXPECT_EQ(cfg.learning_rate, 0.001);
  EXPECT_EQ(cfg.batch_size, 32);
  EXPECT_EQ(cfg.retention_rate, 0.9);
  EXPECT_EQ(cfg.epochs_per_update, 1);
  EXPECT_EQ(cfg.holdout_size, 200);
}

TEST(OnlineLearningTest, ScoresTheBatchBeforeLearningFromIt) {
  // A zero model predicts p = 0.5 -> positive for everything; a batch of
  // negatives therefore scores 0 before learning and 1 after it.
  OnlineLearningConfig cfg;
  cfg.learning_rate = 0.5;
  cfg.retention_rate = 0;
  auto sys = OnlineLearningSystem::Create(2, cfg);
  ASSERT_TRUE(sys.has_value());
  Eigen::MatrixXf x = Eigen::MatrixXf::Constant(64, 2, 1.0f);
  Eigen::VectorXf y = Eigen::VectorXf::Zero(64);
  auto u = sys->IncrementalUpdate(x, y);
  ASSERT_TRUE(u.has_value()) << u.error().ToString();
  EXPECT_EQ(u->validation_accuracy, 0.0);
  EXPECT_EQ(u->precision, 0.0);
  EXPECT_EQ(Accuracy(sys->model(), x, y), 1.0);
  EXPECT_EQ(u->new_samples, 64);
  EXPECT_EQ(u->holdout_count, 0);
  EXPECT_EQ(u->update_id, "upd_000001");
  EXPECT_TRUE(std::regex_match(
      u->timestamp, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << u->timestamp;
  // The next update sees the first batch in its holdout.
  auto u2 = sys->IncrementalUpdate(x, y);
  ASSERT_TRUE(u2.has_value());
  EXPECT_EQ(u2->update_id, "upd_000002");
  EXPECT_EQ(u2->validation_accuracy, 1.0);
  EXPECT_EQ(u2->holdout_count, 64);
  EXPECT_EQ(u2->holdout_accuracy, 1.0);
}

TEST(OnlineLearningTest, ImprovesOverAStreamFromAFixedLogisticModel) {
  std::mt19937_64 rng(42);
  Eigen::VectorXf w(10);
  w << 1.0f, -0.8f, 0.6f, 0.5f, -0.4f, 0.3f, 0.0f, 0.2f, -0.2f, 0.1f;
  OnlineLearningConfig cfg;
  cfg.learning_rate = 0.02;
  cfg.holdout_size = 100;
  auto sys = OnlineLearningSystem::Create(10, cfg);
  ASSERT_TRUE(sys.has_value());
  std::vector<double> acc;
  for (int t = 0; t < 20; ++t) {
    Eigen::MatrixXf x;
    Eigen::VectorXf y;
    MakeStream(100, w, 0.2f, 4.0f, rng, x, y);
    auto u = sys->IncrementalUpdate(x, y);
    ASSERT_TRUE(u.has_value());
    acc.push_back(u->validation_accuracy);
  }
  const double late = (acc[15] + acc[16] + acc[17] + acc[18] + acc[19]) / 5;
  EXPECT_GT(late, 0.85);
  EXPECT_GT(late, acc[0] + 0.2);
  const UpdateStatistics s = sys->GetUpdateStatistics();
  EXPECT_EQ(s.total_updates, 20);
  EXPECT_EQ(s.total_samples_processed, 2000);
  EXPECT_EQ(s.latest_accuracy, acc.back());
  EXPECT_GT(s.average_loss, 0.0);
  EXPECT_EQ(s.accuracy_trend, "improving");
  EXPECT_LT(s.trend_p_value, 0.05);
}

// Task A: y = [x0 + x1 > 0]; task B: y = [x0 - x1 > 0] (boundaries at right
// angles). Learn A, anchor, learn B: with retention the model stays better
// on A than plain SGD does.
double AccuracyOnAAfterB(double retention) {
  std::mt19937_64 rng(5);
  Eigen::VectorXf wa(2), wb(2);
  wa << 1, 1;
  wb << 1, -1;
  OnlineLearningConfig cfg;
  cfg.learning_rate = 0.1;
  cfg.retention_rate = retention;
  cfg.elastic_strength = 1.0;
  auto sys = OnlineLearningSystem::Create(2, cfg);
  EXPECT_TRUE(sys.has_value());
  Eigen::MatrixXf x;
  Eigen::VectorXf y;
  for (int t = 0; t < 10; ++t) {
    MakeStream(200, wa, 0, 20.0f, rng, x, y);
    EXPECT_TRUE(sys->IncrementalUpdate(x, y).has_value());
  }
  MakeStream(500, wa, 0, 20.0f, rng, x, y);
  EXPECT_TRUE(sys->AnchorToCurrent(x, y).has_value());
  Eigen::MatrixXf test_x;
  Eigen::VectorXf test_y;
  MakeStream(1000, wa, 0, 1000.0f, rng, test_x, test_y);
  EXPECT_GT(Accuracy(sys->model(), test_x, test_y), 0.95);
  for (int t = 0; t < 10; ++t) {
    MakeStream(200, wb, 0, 20.0f, rng, x, y);
    EXPECT_TRUE(sys->IncrementalUpdate(x, y).has_value());
  }
  return Accuracy(sys->model(), test_x, test_y);
}

TEST(OnlineLearningTest, ElasticAnchorLimitsForgettingOfAnEarlierTask) {
  const double plain = AccuracyOnAAfterB(0.0);
  const double anchored = AccuracyOnAAfterB(0.9);
  EXPECT_GT(anchored, plain + 0.2)
      << "plain " << plain << " anchored " << anchored;
}

TEST(OnlineLearningTest, MixesRehearsalExamplesIntoUpdates) {
  OnlineLearningConfig cfg;
  cfg.rehearsal_samples = 16;
  cfg.reservoir_capacity = 50;
  auto sys = OnlineLearningSystem::Create(3, cfg);
  ASSERT_TRUE(sys.has_value());
  std::mt19937_64 rng(1);
  Eigen::VectorXf w = Eigen::VectorXf::Ones(3);
  Eigen::MatrixXf x;
  Eigen::VectorXf y;
  MakeStream(40, w, 0, 5, rng, x, y);
  auto u1 = sys->IncrementalUpdate(x, y);
  ASSERT_TRUE(u1.has_value());
  EXPECT_EQ(u1->rehearsal_samples, 0);  // nothing in the past yet
  auto u2 = sys->IncrementalUpdate(x, y);
  ASSERT_TRUE(u2.has_value());
  EXPECT_EQ(u2->rehearsal_samples, 16);
  EXPECT_EQ(sys->reservoir().size(), 50);
  EXPECT_EQ(sys->GetUpdateStatistics().total_samples_processed, 80);
}

TEST(OnlineLearningTest, RejectsBadInputNamingCountsAndChangesNothing) {
  auto sys = OnlineLearningSystem::Create(3, OnlineLearningConfig{});
  ASSERT_TRUE(sys.has_value());
  auto err = [&](const Eigen::MatrixXf& x, const Eigen::VectorXf& y) {
    auto u = sys->IncrementalUpdate(x, y);
    EXPECT_FALSE(u.has_value());
    if (u.has_value()) return std::string();
    EXPECT_EQ(u.error().code, ErrorCode::kInvalidArgument);
    return u.error().message;
  };
  Eigen::MatrixXf x = Eigen::MatrixXf::Constant(4, 3, 0.5f);
  Eigen::VectorXf y = Eigen::VectorXf::Zero(4);
  EXPECT_EQ(err(x, Eigen::VectorXf::Zero(5)),
            "online update: 4 rows, 5 labels");
  EXPECT_EQ(err(Eigen::MatrixXf::Zero(4, 2), y),
            "online update: 2 features, expected 3");
  EXPECT_EQ(err(Eigen::MatrixXf(0, 3), Eigen::VectorXf(0)),
            "online update: empty batch");
  Eigen::MatrixXf bad = x;
  bad(1, 1) = std::numeric_limits<float>::quiet_NaN();
  bad(2, 0) = std::numeric_limits<float>::infinity();
  EXPECT_EQ(err(bad, y), "online update: 2 non-finite feature values");
  Eigen::VectorXf labels = y;
  labels(3) = 2.0f;
  EXPECT_EQ(err(x, labels), "online update: 1 of 4 labels are not 0 or 1");
  const UpdateStatistics s = sys->GetUpdateStatistics();
  EXPECT_EQ(s.total_updates, 0);
  EXPECT_EQ(s.accuracy_trend, "stable");
  for (float p : sys->model().parameters()) EXPECT_EQ(p, 0.0f);
}

TEST(OnlineLearningTest, RejectsBadConfig) {
  OnlineLearningConfig cfg;
  cfg.retention_rate = 1.0;
  auto sys = OnlineLearningSystem::Create(3, cfg);
  ASSERT_FALSE(sys.has_value());
  EXPECT_EQ(sys.error().message,
            "online learning: retention_rate must be in [0, 1)");
  cfg = OnlineLearningConfig{};
  cfg.batch_size = 0;
  EXPECT_FALSE(OnlineLearningSystem::Create(3, cfg).has_value());
}

TEST(OnlineLearningTest, DeployAnchorsAtTheDeployedParameters) {
  auto sys = OnlineLearningSystem::Create(2, OnlineLearningConfig{});
  ASSERT_TRUE(sys.has_value());
  const std::vector<float> params = {0.5f, -0.5f, 0.1f};
  ASSERT_TRUE(sys->Deploy(params, std::vector<float>{1, 1, 1}));
  EXPECT_EQ(std::vector<float>(sys->model().parameters().begin(),
                               sys->model().parameters().end()),
            params);
  EXPECT_TRUE(sys->anchor().active());
  EXPECT_FALSE(sys->Deploy(params, std::vector<float>{1, 1}).has_value());
}

}  // namespace
}  // namespace cls::core
