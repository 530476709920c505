#include "core/robust/attacks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace cls::core::robust {
namespace {

TEST(AttacksTest, NormalQuantileMatchesTables) {
  EXPECT_NEAR(NormalQuantile(0.975), 1.959963985, 1e-9);
  EXPECT_NEAR(NormalQuantile(0.5), 0.0, 1e-12);
  EXPECT_NEAR(NormalQuantile(0.6), 0.253347103, 1e-9);
  EXPECT_TRUE(std::isnan(NormalQuantile(1.0)));
}

TEST(AttacksTest, AlieZFollowsBaruchEtAl) {
  // n = 5, f = 1: s = floor(3.5) - 1 = 2, z = Phi^-1(3/5).
  EXPECT_NEAR(AlieZ(5, 1), 0.253347103, 1e-9);
  // n = 5, f = 2: s = 1, z = Phi^-1(4/5).
  EXPECT_NEAR(AlieZ(5, 2), 0.841621234, 1e-9);
  // n = 8, f = 1: s = 4, (n - s) / n = 1/2: no room, z = 0.
  EXPECT_EQ(AlieZ(8, 1), 0.0);
}

TEST(AttacksTest, ModelPoisoningUpdates) {
  std::mt19937_64 rng(1);
  const std::vector<float> own{0.5f, -1.0f};
  const std::vector<float> a{1.0f, 2.0f}, b{3.0f, 2.0f};
  const std::vector<std::span<const float>> benign{a, b};
  AttackSpec spec;
  spec.kind = AttackKind::kSignFlip;
  EXPECT_EQ(*PoisonUpdate(spec, own, benign, 3, 1, rng),
            (std::vector<float>{-0.5f, 1.0f}));
  spec.kind = AttackKind::kScaling;
  spec.scale = 100;
  EXPECT_EQ(*PoisonUpdate(spec, own, benign, 3, 1, rng),
            (std::vector<float>{50.0f, -100.0f}));
  spec.kind = AttackKind::kInnerProductManipulation;
  spec.epsilon = 0.5;
  EXPECT_EQ(*PoisonUpdate(spec, own, benign, 3, 1, rng),
            (std::vector<float>{-1.0f, -1.0f}));
  // ALIE: mean (2, 2) minus z times the population std (1, 0).
  spec.kind = AttackKind::kALittleIsEnough;
  spec.z = 1.5;
  EXPECT_EQ(*PoisonUpdate(spec, own, benign, 3, 1, rng),
            (std::vector<float>{0.5f, 2.0f}));
}

TEST(AttacksTest, GaussianNoiseHasTheRequestedSpread) {
  std::mt19937_64 rng(5);
  const std::vector<float> own(100000, 0.3f);
  AttackSpec spec;
  spec.kind = AttackKind::kGaussianNoise;
  spec.noise_std = 2.0;
  auto u = PoisonUpdate(spec, own, {}, 5, 1, rng);
  ASSERT_TRUE(u.has_value());
  double sum = 0, sq = 0;
  for (float v : *u) {
    sum += v;
    sq += static_cast<double>(v) * v;
  }
  const double mean = sum / u->size();
  EXPECT_NEAR(mean, 0.0, 0.03);
  EXPECT_NEAR(std::sqrt(sq / u->size() - mean * mean), 2.0, 0.03);
}

TEST(AttacksTest, MisuseIsRefused) {
  std::mt19937_64 rng(1);
  const std::vector<float> own{1.0f, 2.0f}, short_benign{1.0f};
  AttackSpec spec;
  spec.kind = AttackKind::kLabelFlip;
  EXPECT_EQ(PoisonUpdate(spec, own, {}, 5, 1, rng).error().code,
            ErrorCode::kInvalidArgument);
  spec.kind = AttackKind::kALittleIsEnough;
  EXPECT_EQ(PoisonUpdate(spec, own, {}, 5, 1, rng).error().message,
            "attack: ALIE needs the benign updates");
  const std::vector<std::span<const float>> benign{short_benign};
  EXPECT_EQ(PoisonUpdate(spec, own, benign, 5, 1, rng).error().message,
            "attack: benign update 0 has 1 values, expected 2");
}

TEST(AttacksTest, LabelFlippingSwapsTheClasses) {
  Eigen::VectorXf y(3);
  y << 0, 1, 1;
  const Eigen::VectorXf flipped = FlipLabels(y);
  EXPECT_EQ(flipped(0), 1.0f);
  EXPECT_EQ(flipped(1), 0.0f);
  EXPECT_EQ(flipped(2), 0.0f);
}

}  // namespace
}  // namespace cls::core::robust
