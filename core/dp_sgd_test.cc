#include "core/dp_sgd.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "core/logistic_regression.h"
#include "core/mlp.h"
#include "core/softmax_regression.h"

namespace cls::core {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// n rows of d standard normal features; label 1 when the first feature
// plus a little noise is positive (binary), or the argmax of the first
// `classes` features (multi-class).
void MakeData(int n, int d, int classes, uint64_t seed, Eigen::MatrixXf& x,
              Eigen::VectorXi& labels) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  x.resize(n, d);
  labels.resize(n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < d; ++j) x(i, j) = normal(rng);
    if (classes == 2) {
      labels(i) = x(i, 0) + 0.3f * normal(rng) > 0 ? 1 : 0;
    } else {
      Eigen::Index best = 0;
      x.row(i).head(classes).maxCoeff(&best);
      labels(i) = static_cast<int>(best);
    }
  }
}

TrainConfig PlainConfig() {
  TrainConfig cfg;
  cfg.epochs = 3;
  cfg.batch_size = 8;
  cfg.learning_rate = 0.2;
  cfg.l2 = 1e-3;
  cfg.seed = 11;
  return cfg;
}

// sigma = 0, C = inf, plain SGD's batches: DP-SGD reduces to plain SGD.
TrainConfig NoOpDpConfig() {
  TrainConfig cfg = PlainConfig();
  cfg.dp.enabled = true;
  cfg.dp.clip_norm = kInf;
  cfg.dp.noise_multiplier = 0.0;
  cfg.dp.poisson_sampling = false;
  return cfg;
}

// One full-batch step of learning rate 1 without l2 or Poisson sampling:
// the update is minus the (clipped, noised) mean gradient, so tests can read
// DP-SGD's arithmetic straight off the parameters.
TrainConfig OneDpStepConfig(int batch_size, double clip_norm,
                            double noise_multiplier) {
  TrainConfig cfg;
  cfg.epochs = 1;
  cfg.batch_size = batch_size;
  cfg.learning_rate = 1.0;
  cfg.l2 = 0;
  cfg.dp.enabled = true;
  cfg.dp.clip_norm = clip_norm;
  cfg.dp.noise_multiplier = noise_multiplier;
  cfg.dp.poisson_sampling = false;
  return cfg;
}

double L2Distance(std::span<const float> a, std::span<const float> b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    sum += d * d;
  }
  return std::sqrt(sum);
}

TEST(DpSgdTest, ScheduleIsCeilNOverBatchStepsPerEpochAtRateBatchOverN) {
  TrainConfig cfg;
  cfg.epochs = 3;
  cfg.batch_size = 32;
  const DpSgdSchedule s = DpSgdScheduleFor(1000, cfg);
  EXPECT_DOUBLE_EQ(s.sampling_rate, 0.032);
  EXPECT_EQ(s.steps_per_epoch, 32);  // ceil(1000 / 32)
  EXPECT_EQ(s.steps, 96);
  cfg.batch_size = 5000;  // larger than the data: every row, every step
  EXPECT_DOUBLE_EQ(DpSgdScheduleFor(1000, cfg).sampling_rate, 1.0);
}

TEST(DpSgdTest, ValidateRejectsBadClipAndNoise) {
  DpSgdConfig dp;
  dp.clip_norm = 0;
  EXPECT_FALSE(ValidateDpSgd(dp));
  dp.clip_norm = 1;
  dp.noise_multiplier = -1;
  EXPECT_FALSE(ValidateDpSgd(dp));
  dp.noise_multiplier = std::nan("");
  EXPECT_FALSE(ValidateDpSgd(dp));
  dp.clip_norm = kInf;
  dp.noise_multiplier = 1.0;  // sigma * inf noise is meaningless
  auto s = ValidateDpSgd(dp);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("clip_norm"), std::string::npos);
  dp.noise_multiplier = 0;
  EXPECT_TRUE(ValidateDpSgd(dp));
}

TEST(DpSgdTest, PoissonBatchesAverageTheBatchSizeAndAreSortedRowIndices) {
  DpSgdConfig dp;
  dp.enabled = true;
  dp.test_seed = 5;
  DpSgdStep step(dp, 1000, 50);  // q = 0.05
  std::vector<Eigen::Index> rows;
  double total = 0;
  std::vector<int> hits(1000, 0);
  constexpr int kSteps = 2000;
  for (int t = 0; t < kSteps; ++t) {
    step.SampleBatch(rows);
    total += static_cast<double>(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      ASSERT_GE(rows[i], 0);
      ASSERT_LT(rows[i], 1000);
      if (i > 0) {
        ASSERT_GT(rows[i], rows[i - 1]);
      }
      ++hits[static_cast<size_t>(rows[i])];
    }
  }
  // Mean 50, sd of the mean sqrt(47.5 / 2000) ~ 0.15.
  EXPECT_NEAR(total / kSteps, 50.0, 1.0);
  // Every row is sampled about q * steps = 100 times (Binomial sd ~ 10):
  // the first and last rows too (no edge bias in the geometric skips).
  EXPECT_NEAR(hits.front(), 100, 50);
  EXPECT_NEAR(hits.back(), 100, 50);
  EXPECT_EQ(step.Denominator(7), 50.0f);  // the expected size, not 7
}

TEST(DpSgdTest, SigmaZeroInfiniteClipEqualsPlainSgdExactly) {
  Eigen::MatrixXf x;
  Eigen::VectorXi labels;
  MakeData(101, 6, 2, 1, x, labels);  // 101: a short last batch too
  const Eigen::VectorXf y = labels.cast<float>();
  {
    LogisticRegression plain(6), dp(6);
    plain.Train(x, y, PlainConfig());
    dp.Train(x, y, NoOpDpConfig());
    EXPECT_EQ(
        std::vector<float>(plain.parameters().begin(),
                           plain.parameters().end()),
        std::vector<float>(dp.parameters().begin(), dp.parameters().end()));
  }
  MakeData(101, 6, 3, 2, x, labels);
  {
    auto plain = SoftmaxRegression::Create(6, 3);
    auto dp = SoftmaxRegression::Create(6, 3);
    ASSERT_TRUE(plain && dp);
    ASSERT_TRUE(plain->Train(x, labels, PlainConfig()));
    ASSERT_TRUE(dp->Train(x, labels, NoOpDpConfig()));
    EXPECT_EQ(
        std::vector<float>(plain->parameters().begin(),
                           plain->parameters().end()),
        std::vector<float>(dp->parameters().begin(), dp->parameters().end()));
  }
  for (int classes : {2, 3}) {
    MakeData(101, 6, classes, 3, x, labels);
    auto plain = Mlp::Create({6, {5, 4}, classes}, 9);
    auto dp = Mlp::Create({6, {5, 4}, classes}, 9);
    ASSERT_TRUE(plain && dp);
    ASSERT_TRUE(plain->Train(x, labels, PlainConfig()));
    ASSERT_TRUE(dp->Train(x, labels, NoOpDpConfig()));
    EXPECT_EQ(
        std::vector<float>(plain->parameters().begin(),
                           plain->parameters().end()),
        std::vector<float>(dp->parameters().begin(), dp->parameters().end()))
        << classes << " classes";
  }
}

// One example with a huge feature vector, one step of batch 1, learning
// rate 1, no l2, no noise: the update is minus the clipped gradient, so its
// norm is exactly C; without clipping it is enormous.
TEST(DpSgdTest, AnExampleWithAHugeGradientIsClippedToC) {
  Eigen::MatrixXf x = Eigen::MatrixXf::Constant(1, 4, 1e4f);
  Eigen::VectorXi labels(1);
  labels << 1;
  const TrainConfig cfg = OneDpStepConfig(1, 0.5, 0.0);
  TrainConfig unclipped = cfg;
  unclipped.dp.enabled = false;

  const Eigen::VectorXf y = labels.cast<float>();
  LogisticRegression lr(4), lr_plain(4);
  const std::vector<float> lr_start(lr.parameters().begin(),
                                    lr.parameters().end());
  lr.Train(x, y, cfg);
  lr_plain.Train(x, y, unclipped);
  EXPECT_NEAR(L2Distance(lr.parameters(), lr_start), 0.5, 1e-5);
  EXPECT_GT(L2Distance(lr_plain.parameters(), lr_start), 1000.0);

  auto sm = SoftmaxRegression::Create(4, 3);
  auto sm_plain = SoftmaxRegression::Create(4, 3);
  ASSERT_TRUE(sm && sm_plain);
  const std::vector<float> sm_start(sm->parameters().begin(),
                                    sm->parameters().end());
  ASSERT_TRUE(sm->Train(x, labels, cfg));
  ASSERT_TRUE(sm_plain->Train(x, labels, unclipped));
  EXPECT_NEAR(L2Distance(sm->parameters(), sm_start), 0.5, 1e-5);
  EXPECT_GT(L2Distance(sm_plain->parameters(), sm_start), 1000.0);

  auto mlp = Mlp::Create({4, {8}, 3}, 3);
  auto mlp_plain = Mlp::Create({4, {8}, 3}, 3);
  ASSERT_TRUE(mlp && mlp_plain);
  const std::vector<float> mlp_start(mlp->parameters().begin(),
                                     mlp->parameters().end());
  ASSERT_TRUE(mlp->Train(x, labels, cfg));
  ASSERT_TRUE(mlp_plain->Train(x, labels, unclipped));
  EXPECT_NEAR(L2Distance(mlp->parameters(), mlp_start), 0.5, 1e-4);
  EXPECT_GT(L2Distance(mlp_plain->parameters(), mlp_start), 1000.0);
}

// The MLP's per-example norms come from the deltas and activations without
// forming any per-example gradient; check them against per-example
// gradients computed one row at a time.
TEST(DpSgdTest, MlpClippedMeanMatchesPerExampleGradientsClippedOneByOne) {
  Eigen::MatrixXf x;
  Eigen::VectorXi labels;
  MakeData(12, 5, 3, 4, x, labels);
  x.row(3) *= 50.0f;  // a few examples well over the clip norm
  x.row(7) *= 20.0f;
  auto mlp = Mlp::Create({5, {6, 4}, 3}, 8);
  ASSERT_TRUE(mlp);
  const size_t p = mlp->parameters().size();
  const double clip = 0.3;

  std::vector<double> expected(p, 0.0);
  std::vector<float> g(p);
  int clipped = 0;
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const Eigen::MatrixXf row = x.row(i);
    const Eigen::VectorXi label = labels.segment(i, 1);
    ASSERT_TRUE(mlp->LossAndGradient(row, label, 0.0, g));
    double norm = 0;
    for (float v : g) norm += static_cast<double>(v) * v;
    norm = std::sqrt(norm);
    const double s = std::min(1.0, clip / norm);
    clipped += s < 1.0;
    for (size_t k = 0; k < p; ++k) expected[k] += s * g[k] / 12.0;
  }
  ASSERT_GE(clipped, 2);
  ASSERT_LT(clipped, 12);

  const TrainConfig cfg = OneDpStepConfig(12, clip, 0.0);
  const std::vector<float> start(mlp->parameters().begin(),
                                 mlp->parameters().end());
  ASSERT_TRUE(mlp->Train(x, labels, cfg));
  for (size_t k = 0; k < p; ++k) {
    EXPECT_NEAR(start[k] - mlp->parameters()[k], expected[k], 1e-5)
        << "parameter " << k;
  }
}

// Two examples whose clipped gradients cancel (x = 0, labels 0 and 1): one
// step of learning rate 1 moves the parameters by the noise alone,
// N(0, (sigma C / 2)^2) per coordinate for a batch of two.
TEST(DpSgdTest, NoiseStandardDeviationIsSigmaTimesCOverTheBatch) {
  constexpr int kFeatures = 20000;
  const Eigen::MatrixXf x = Eigen::MatrixXf::Zero(2, kFeatures);
  Eigen::VectorXf y(2);
  y << 0.0f, 1.0f;
  TrainConfig cfg = OneDpStepConfig(2, 0.8, 1.5);
  cfg.dp.test_seed = 42;
  LogisticRegression model(kFeatures);
  model.Train(x, y, cfg);
  double sum = 0, sum2 = 0;
  for (float v : model.parameters()) {
    sum += v;
    sum2 += static_cast<double>(v) * v;
  }
  const double n = kFeatures + 1;
  const double mean = sum / n;
  const double sd = std::sqrt(sum2 / n - mean * mean);
  const double expected_sd = 1.5 * 0.8 / 2;  // 0.6
  // sd of the sample sd ~ expected / sqrt(2 n) ~ 0.5%; of the mean ~ 0.004.
  EXPECT_NEAR(sd, expected_sd, 0.03 * expected_sd);
  EXPECT_NEAR(mean, 0.0, 0.02);

  // The test seed reproduces the noise; another seed, or the system
  // CSPRNG (no seed), does not.
  LogisticRegression again(kFeatures), other(kFeatures), system(kFeatures);
  again.Train(x, y, cfg);
  EXPECT_EQ(L2Distance(again.parameters(), model.parameters()), 0.0);
  cfg.dp.test_seed = 43;
  other.Train(x, y, cfg);
  EXPECT_GT(L2Distance(other.parameters(), model.parameters()), 1.0);
  cfg.dp.test_seed.reset();
  system.Train(x, y, cfg);
  EXPECT_GT(L2Distance(system.parameters(), model.parameters()), 1.0);
}

TEST(DpSgdTest, PoissonNoiseIsScaledByTheExpectedBatchSize) {
  DpSgdConfig dp;
  dp.enabled = true;
  dp.clip_norm = 2.0;
  dp.noise_multiplier = 0.5;
  dp.test_seed = 7;
  DpSgdStep step(dp, 400, 40);
  std::vector<float> values(20000, 0.0f);
  const float denominator = step.Denominator(33);
  EXPECT_EQ(denominator, 40.0f);
  step.AddNoise(values, denominator);
  double sum2 = 0;
  for (float v : values) sum2 += static_cast<double>(v) * v;
  const double expected_sd = 0.5 * 2.0 / 40.0;
  EXPECT_NEAR(std::sqrt(sum2 / values.size()), expected_sd, 0.03 * expected_sd);
}

TEST(DpSgdTest, PoissonDpSgdStillLearnsWithModerateNoise) {
  Eigen::MatrixXf x;
  Eigen::VectorXi labels;
  MakeData(2000, 5, 2, 6, x, labels);
  const Eigen::VectorXf y = labels.cast<float>();
  TrainConfig cfg;
  cfg.epochs = 5;
  cfg.batch_size = 64;
  cfg.learning_rate = 0.5;
  cfg.dp.enabled = true;
  cfg.dp.clip_norm = 1.0;
  cfg.dp.noise_multiplier = 1.0;
  cfg.dp.test_seed = 3;
  LogisticRegression model(5);
  const double loss = model.Train(x, y, cfg);
  EXPECT_TRUE(std::isfinite(loss));
  const BinaryMetrics m = EvaluateBinary(model.PredictProbability(x), y);
  EXPECT_GT(m.accuracy, 0.85);
}

TEST(DpSgdTest, InvalidDpConfigIsRefusedByTheModels) {
  Eigen::MatrixXf x;
  Eigen::VectorXi labels;
  MakeData(20, 3, 3, 1, x, labels);
  TrainConfig cfg;
  cfg.dp.enabled = true;
  cfg.dp.clip_norm = -1;
  auto sm = SoftmaxRegression::Create(3, 3);
  ASSERT_TRUE(sm);
  auto r = sm->Train(x, labels, cfg);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("clip_norm"), std::string::npos);
  auto mlp = Mlp::Create({3, {4}, 3}, 1);
  ASSERT_TRUE(mlp);
  EXPECT_FALSE(mlp->Train(x, labels, cfg));
  LogisticRegression lr(3);
  EXPECT_TRUE(std::isnan(lr.Train(x, labels.cast<float>(), cfg)));
}

}  // namespace
}  // namespace cls::core
