#include "core/online_learning.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <ostream>
#include <random>
#include <regex>
#include <vector>

namespace cls::core {
// Parameterised test names and failures show the spec as text.
void PrintTo(const ModelSpec& spec, std::ostream* os);
void PrintTo(const ModelSpec& spec, std::ostream* os) {
  *os << spec.ToString();
}

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

double Accuracy(const Model& m, const Eigen::MatrixXf& x,
                const Eigen::VectorXf& y) {
  return EvaluateBinary(m.PredictProbability(x).col(1), y).accuracy;
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

// ---- Every model kind (softmax regression, MLP) ----

ModelSpec SoftmaxSpec(int features = 4, int classes = 3) {
  ModelSpec spec;
  spec.kind = ModelKind::kSoftmaxRegression;
  spec.num_features = features;
  spec.num_classes = classes;
  return spec;
}

ModelSpec MlpSpec(int features = 4, int classes = 3,
                  std::vector<int> hidden = {8}) {
  ModelSpec spec;
  spec.kind = ModelKind::kMlp;
  spec.num_features = features;
  spec.num_classes = classes;
  spec.hidden = std::move(hidden);
  return spec;
}

// Synthetic: three Gaussian blobs in 4 dimensions, class c centred at
// `spread` * e_c with unit noise; the label is permuted by `shift`
// ((c + shift) mod 3), so shift 1 is a task that contradicts shift 0.
void MakeBlobs(int n, float spread, int shift, std::mt19937_64& rng,
               Eigen::MatrixXf& x, Eigen::VectorXf& y) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  x.resize(n, 4);
  y.resize(n);
  for (int i = 0; i < n; ++i) {
    const int c = i % 3;
    for (int j = 0; j < 4; ++j) x(i, j) = normal(rng);
    x(i, c) += spread;
    y(i) = static_cast<float>((c + shift) % 3);
  }
}

double MultiAccuracy(const Model& m, const Eigen::MatrixXf& x,
                     const Eigen::VectorXf& y) {
  return EvaluateMultiClass(m.PredictProbability(x), ClassIndices(y)).accuracy;
}

Result<OnlineLearningSystem> CreateKind(const ModelSpec& spec,
                                        const OnlineLearningConfig& cfg) {
  auto model = Model::Create(spec, 7);
  if (!model) return std::unexpected(model.error());
  return OnlineLearningSystem::Create(*model, cfg);
}

class OnlineKindsTest : public testing::TestWithParam<ModelSpec> {};

TEST_P(OnlineKindsTest, LearnsASeparableMultiClassStream) {
  OnlineLearningConfig cfg;
  cfg.learning_rate = 0.1;
  cfg.batch_size = 16;
  cfg.holdout_size = 60;
  auto sys = CreateKind(GetParam(), cfg);
  ASSERT_TRUE(sys.has_value()) << sys.error().message;
  std::mt19937_64 rng(11);
  std::vector<TrainingUpdate> updates;
  for (int t = 0; t < 15; ++t) {
    Eigen::MatrixXf x;
    Eigen::VectorXf y;
    MakeBlobs(60, 4.0f, 0, rng, x, y);
    auto u = sys->IncrementalUpdate(x, y);
    ASSERT_TRUE(u.has_value()) << u.error().message;
    updates.push_back(*u);
  }
  const TrainingUpdate& last = updates.back();
  EXPECT_GT(last.validation_accuracy, 0.9);
  // Macro figures for K = 3, each in [0, 1] and consistent with accuracy.
  EXPECT_GT(last.precision, 0.85);
  EXPECT_GT(last.recall, 0.85);
  EXPECT_GT(last.f1, 0.85);
  EXPECT_LE(last.f1, 1.0);
  EXPECT_EQ(last.holdout_count, 60);
  EXPECT_GT(last.holdout_accuracy, 0.9);
  EXPECT_GT(last.validation_accuracy, updates.front().validation_accuracy);
  EXPECT_LT(last.training_loss, updates.front().training_loss);
  const UpdateStatistics s = sys->GetUpdateStatistics();
  EXPECT_EQ(s.total_updates, 15);
  EXPECT_EQ(s.total_samples_processed, 900);
}

// Learn task A, anchor there, then learn the contradicting task B: with
// retention 0.9 the elastic anchor (the kind's own Fisher, applied after
// every mini-batch) keeps more of A than plain SGD (retention 0).
double KindAccuracyOnAAfterB(const ModelSpec& spec, double retention) {
  OnlineLearningConfig cfg;
  cfg.learning_rate = 0.05;
  cfg.batch_size = 16;
  cfg.retention_rate = retention;
  cfg.elastic_strength = 10.0;
  auto sys = CreateKind(spec, cfg);
  EXPECT_TRUE(sys.has_value());
  if (!sys) return 0;
  std::mt19937_64 rng(3);
  Eigen::MatrixXf x;
  Eigen::VectorXf y;
  for (int t = 0; t < 10; ++t) {
    MakeBlobs(90, 2.0f, 0, rng, x, y);
    EXPECT_TRUE(sys->IncrementalUpdate(x, y).has_value());
  }
  MakeBlobs(300, 2.0f, 0, rng, x, y);
  EXPECT_TRUE(sys->AnchorToCurrent(x, y).has_value());
  EXPECT_EQ(sys->anchor().active(), retention > 0);
  Eigen::MatrixXf test_x;
  Eigen::VectorXf test_y;
  MakeBlobs(600, 2.0f, 0, rng, test_x, test_y);
  EXPECT_GT(MultiAccuracy(sys->model(), test_x, test_y), 0.8);
  for (int t = 0; t < 4; ++t) {
    MakeBlobs(90, 2.0f, 1, rng, x, y);
    EXPECT_TRUE(sys->IncrementalUpdate(x, y).has_value());
  }
  return MultiAccuracy(sys->model(), test_x, test_y);
}

TEST_P(OnlineKindsTest, ElasticAnchorLimitsForgetting) {
  const double plain = KindAccuracyOnAAfterB(GetParam(), 0.0);
  const double anchored = KindAccuracyOnAAfterB(GetParam(), 0.9);
  EXPECT_GT(anchored, plain + 0.3)
      << "plain " << plain << " anchored " << anchored;
}

TEST_P(OnlineKindsTest, RestoredStateContinuesBitForBit) {
  OnlineLearningConfig cfg;
  cfg.learning_rate = 0.05;
  cfg.reservoir_capacity = 40;
  cfg.rehearsal_samples = 8;
  cfg.holdout_size = 20;
  auto a = CreateKind(GetParam(), cfg);
  ASSERT_TRUE(a.has_value());
  std::mt19937_64 rng(9);
  Eigen::MatrixXf x;
  Eigen::VectorXf y;
  for (int i = 0; i < 3; ++i) {
    MakeBlobs(30, 3.0f, 0, rng, x, y);
    ASSERT_TRUE(a->IncrementalUpdate(x, y).has_value());
    if (i == 1) {
      ASSERT_TRUE(a->AnchorToCurrent(x, y).has_value());
    }
  }
  const std::vector<uint8_t> bytes = a->Serialize();
  auto b = OnlineLearningSystem::Deserialize(bytes, GetParam(), cfg);
  ASSERT_TRUE(b.has_value()) << b.error().message;
  EXPECT_EQ(b->model().spec(), GetParam());
  EXPECT_EQ(b->Serialize(), bytes);
  MakeBlobs(30, 3.0f, 0, rng, x, y);
  auto ua = a->IncrementalUpdate(x, y);
  auto ub = b->IncrementalUpdate(x, y);
  ASSERT_TRUE(ua && ub);
  EXPECT_EQ(ua->training_loss, ub->training_loss);
  EXPECT_EQ(ua->validation_accuracy, ub->validation_accuracy);
  const auto pa = a->model().parameters(), pb = b->model().parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) ASSERT_EQ(pa[i], pb[i]) << i;

  // Another spec (another kind, width or class count) is refused.
  ModelSpec other = GetParam();
  other.num_features = 5;
  auto refused = OnlineLearningSystem::Deserialize(bytes, other, cfg);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kDataLoss);
  EXPECT_FALSE(OnlineLearningSystem::Deserialize(bytes, 4, cfg).has_value());
}

TEST_P(OnlineKindsTest, RefusesLabelsThatAreNotClassIndices) {
  OnlineLearningConfig cfg;
  cfg.rehearsal_samples = 4;
  auto sys = CreateKind(GetParam(), cfg);
  ASSERT_TRUE(sys.has_value());
  const std::vector<float> before(sys->model().parameters().begin(),
                                  sys->model().parameters().end());
  Eigen::MatrixXf x = Eigen::MatrixXf::Constant(6, 4, 0.5f);
  Eigen::VectorXf y(6);
  y << 0, 1, 3, -1, 1.5f, std::numeric_limits<float>::quiet_NaN();
  auto u = sys->IncrementalUpdate(x, y);
  ASSERT_FALSE(u.has_value());
  EXPECT_EQ(u.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(u.error().message,
            "online update: 4 of 6 labels are not class indices in [0, 3)");
  EXPECT_FALSE(sys->AnchorToCurrent(x, y).has_value());
  EXPECT_EQ(std::vector<float>(sys->model().parameters().begin(),
                               sys->model().parameters().end()),
            before);
  EXPECT_TRUE(sys->history().empty());
  EXPECT_EQ(sys->reservoir().size(), 0);
  EXPECT_FALSE(sys->anchor().active());
  // Class 2 is a valid label for K = 3.
  y << 0, 1, 2, 2, 1, 0;
  EXPECT_TRUE(sys->IncrementalUpdate(x, y).has_value());
}

INSTANTIATE_TEST_SUITE_P(Kinds, OnlineKindsTest,
                         testing::Values(SoftmaxSpec(), MlpSpec(),
                                         MlpSpec(4, 3, {6, 5})),
                         [](const testing::TestParamInfo<ModelSpec>& info) {
                           return info.param.kind == ModelKind::kMlp
                                      ? "Mlp" + std::to_string(
                                                    info.param.hidden.size())
                                      : std::string("Softmax");
                         });

// The closed-form diagonal Fisher of each kind equals the mean of the
// squared per-example gradients, each taken by the kind's own training
// code: one SGD step (batch 1, learning rate 1, no l2) on that example
// alone moves the parameters by exactly minus its gradient.
void ExpectFisherIsMeanSquaredExampleGradient(const ModelSpec& spec) {
  auto model = Model::Create(spec, 5);
  ASSERT_TRUE(model.has_value()) << model.error().message;
  std::mt19937_64 rng(2);
  std::normal_distribution<float> normal(0.0f, 0.7f);
  std::vector<float> params(model->parameters().size());
  for (float& p : params) p = normal(rng);
  ASSERT_TRUE(model->SetParameters(params));
  const int n = 7;
  Eigen::MatrixXf x(n, spec.num_features);
  Eigen::VectorXi labels(n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < spec.num_features; ++j) x(i, j) = normal(rng) * 2;
    labels(i) = i % spec.num_classes;
  }
  auto fisher = model->DiagonalFisher(x, labels);
  ASSERT_TRUE(fisher.has_value()) << fisher.error().message;
  ASSERT_EQ(fisher->size(), params.size());

  std::vector<double> expected(params.size(), 0.0);
  TrainConfig step;
  step.epochs = 1;
  step.batch_size = 1;
  step.learning_rate = 1.0;
  step.l2 = 0.0;
  for (int i = 0; i < n; ++i) {
    Model one = *model;
    auto loss = one.Train(x.row(i), labels.segment(i, 1), step);
    ASSERT_TRUE(loss.has_value());
    for (size_t k = 0; k < params.size(); ++k) {
      const double g = static_cast<double>(params[k]) - one.parameters()[k];
      expected[k] += g * g / n;
    }
  }
  double largest = 0;
  for (size_t k = 0; k < params.size(); ++k) {
    EXPECT_NEAR((*fisher)[k], expected[k], 1e-5 + 1e-4 * expected[k])
        << ModelKindName(spec.kind) << " parameter " << k;
    largest = std::max(largest, expected[k]);
  }
  EXPECT_GT(largest, 1e-3);  // not trivially zero
}

TEST(OnlineFisherTest, ClosedFormIsMeanSquaredPerExampleGradient) {
  ModelSpec logistic;
  logistic.kind = ModelKind::kLogisticRegression;
  logistic.num_features = 3;
  ExpectFisherIsMeanSquaredExampleGradient(logistic);
  ExpectFisherIsMeanSquaredExampleGradient(SoftmaxSpec(3, 3));
  ExpectFisherIsMeanSquaredExampleGradient(MlpSpec(3, 3, {4}));
  ExpectFisherIsMeanSquaredExampleGradient(MlpSpec(3, 2, {3, 2}));
  ExpectFisherIsMeanSquaredExampleGradient(MlpSpec(3, 4, {3, 3}));
}

TEST(OnlineFisherTest, RefusesOutOfRangeLabelsAndEmptyBatches) {
  auto model = Model::Create(SoftmaxSpec(3, 3), 1);
  ASSERT_TRUE(model.has_value());
  Eigen::MatrixXf x = Eigen::MatrixXf::Zero(2, 3);
  Eigen::VectorXi labels(2);
  labels << 0, 3;
  EXPECT_FALSE(model->DiagonalFisher(x, labels).has_value());
  EXPECT_FALSE(
      model->DiagonalFisher(Eigen::MatrixXf(0, 3), Eigen::VectorXi(0)));
}

}  // namespace
}  // namespace cls::core
