#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "core/drift/adwin.h"
#include "core/drift/ddm.h"
#include "core/drift/distributions.h"
#include "core/drift/eddm.h"
#include "core/drift/page_hinkley.h"
#include "core/drift/windowed_binomial.h"

namespace cls::drift {
namespace {

// A stream of correct(1)/wrong(0) outcomes at `accuracy`, reproducible.
class OutcomeStream {
 public:
  explicit OutcomeStream(uint64_t seed) : rng_(seed) {}
  bool Next(double accuracy) { return uniform_(rng_) < accuracy; }

 private:
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> uniform_{0.0, 1.0};
};

// Feeds `detect(is_correct)` 90% accuracy for `before` predictions, then
// 75%; returns the delay of the first alarm after the change (-1: none in
// `after`), counting alarms before it in *early.
template <typename Detect>
int64_t DropDelay(Detect detect, uint64_t seed, int before, int after,
                  int* early) {
  OutcomeStream s(seed);
  for (int i = 0; i < before; ++i) {
    if (detect(s.Next(0.90))) ++*early;
  }
  for (int i = 0; i < after; ++i) {
    if (detect(s.Next(0.75))) return i;
  }
  return -1;
}

template <typename Detect>
int StationaryAlarms(Detect detect, uint64_t seed, int n, double accuracy) {
  OutcomeStream s(seed);
  int alarms = 0;
  for (int i = 0; i < n; ++i) alarms += detect(s.Next(accuracy)) ? 1 : 0;
  return alarms;
}

WindowedBinomialTest MakeBinomial(int window, double baseline) {
  auto t = WindowedBinomialTest::Create({window, 0.05, 1e-3});
  EXPECT_TRUE(t.has_value());
  EXPECT_TRUE(t->SetBaseline(baseline).has_value());
  return std::move(*t);
}

TEST(WindowedBinomialTest, TwentyPredictionsAtEightyPercentDoNotAlarm) {
  WindowedBinomialTest t = MakeBinomial(20, 0.90);
  // 16 of 20 correct: the raw check (0.80 < 0.90 - 0.05) would alarm.
  bool alarm = false;
  for (int i = 0; i < 20; ++i) alarm |= t.Update(i % 5 != 0);
  EXPECT_FALSE(alarm);
  EXPECT_DOUBLE_EQ(t.WindowAccuracy(), 0.8);
  // P(X <= 16 | 20, 0.85) = 0.352 by direct summation.
  EXPECT_NEAR(t.PValue(), 0.35227, 1e-4);
}

TEST(WindowedBinomialTest, TwoThousandPredictionsAtEightyPercentAlarm) {
  WindowedBinomialTest t = MakeBinomial(2000, 0.90);
  int alarms = 0;
  for (int i = 0; i < 2000; ++i) alarms += t.Update(i % 5 != 0) ? 1 : 0;
  EXPECT_EQ(alarms, 1);
  EXPECT_LT(t.PValue(), 1e-8);
}

TEST(WindowedBinomialTest, CriticalCountIsTheLastBelowAlpha) {
  WindowedBinomialTest t = MakeBinomial(100, 0.90);
  const int k = t.critical_count();
  EXPECT_LT(BinomialCdf(k, 100, 0.85), 1e-3);
  EXPECT_GE(BinomialCdf(k + 1, 100, 0.85), 1e-3);
}

TEST(WindowedBinomialTest, RefusesBadConfigAndBaseline) {
  EXPECT_FALSE(WindowedBinomialTest::Create({0, 0.05, 1e-3}).has_value());
  EXPECT_FALSE(WindowedBinomialTest::Create({100, 0.05, 0}).has_value());
  auto t = WindowedBinomialTest::Create({});
  ASSERT_TRUE(t.has_value());
  const auto s = t->SetBaseline(1.5);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
}

TEST(WindowedBinomialTest, DetectsDropAndIsQuietWhenStationary) {
  int early = 0;
  WindowedBinomialTest drop = MakeBinomial(100, 0.90);
  const int64_t delay =
      DropDelay([&](bool c) { return drop.Update(c); }, 1, 5000, 5000, &early);
  EXPECT_GE(delay, 0);
  EXPECT_LT(delay, 1000);
  WindowedBinomialTest flat = MakeBinomial(100, 0.85);
  EXPECT_LE(StationaryAlarms([&](bool c) { return flat.Update(c); }, 2, 100'000,
                             0.85),
            5);
}

TEST(AdwinTest, DetectsAMeanShiftSoonAfterIt) {
  // River's docstring stream shape: 1,000 coin flips, then values in 4..7.
  auto adwin = Adwin::Create({});
  ASSERT_TRUE(adwin.has_value());
  std::mt19937_64 rng(12345);
  std::uniform_int_distribution<int> coin(0, 1), high(4, 7);
  int first = -1;
  for (int i = 0; i < 2000; ++i) {
    const double x = i < 1000 ? coin(rng) : high(rng);
    if (adwin->Update(x) && first < 0) first = i;
  }
  EXPECT_GE(first, 1000);
  EXPECT_LT(first, 1064);  // within two clock ticks
  EXPECT_GT(adwin->cut_new_mean(), adwin->cut_old_mean());
  // Most of the old regime was dropped.
  EXPECT_GT(adwin->Mean(), 4.0);
}

TEST(AdwinTest, DetectsAccuracyDropAndShrinksTheWindow) {
  auto adwin = Adwin::Create({});
  ASSERT_TRUE(adwin.has_value());
  int early = 0;
  const int64_t delay =
      DropDelay([&](bool c) { return adwin->Update(c ? 1.0 : 0.0); }, 3, 5000,
                5000, &early);
  EXPECT_EQ(early, 0);
  EXPECT_GE(delay, 0);
  EXPECT_LT(delay, 1000);
  EXPECT_LT(adwin->cut_new_mean(), adwin->cut_old_mean());
  EXPECT_LT(adwin->width(), 5000);
}

TEST(AdwinTest, FewFalseAlarmsOnAStationaryStream) {
  auto adwin = Adwin::Create({});
  ASSERT_TRUE(adwin.has_value());
  EXPECT_LE(
      StationaryAlarms([&](bool c) { return adwin->Update(c ? 1.0 : 0.0); }, 4,
                       100'000, 0.85),
      2);
  EXPECT_NEAR(adwin->Mean(), 0.85, 0.01);
}

TEST(AdwinTest, VarianceMatchesTheWindowValues) {
  auto adwin = Adwin::Create({});
  ASSERT_TRUE(adwin.has_value());
  // 100 values 0..99 (no change is detected on a slow ramp of this size).
  for (int i = 0; i < 100; ++i) adwin->Update(i % 10);
  EXPECT_EQ(adwin->width(), 100);
  EXPECT_NEAR(adwin->Mean(), 4.5, 1e-12);
  EXPECT_NEAR(adwin->Variance(), 8.25, 1e-9);  // population variance of 0..9
}

TEST(DdmTest, DetectsAnAccuracyDrop) {
  auto ddm = Ddm::Create({});
  ASSERT_TRUE(ddm.has_value());
  int early = 0;
  const int64_t delay = DropDelay(
      [&](bool c) { return ddm->Update(!c) == DetectorSignal::kDrift; }, 5,
      5000, 10000, &early);
  EXPECT_GE(delay, 0);
  EXPECT_LT(delay, 5000);  // DDM is slow after a long stable stretch
}

TEST(DdmTest, FewFalseAlarmsOnAStationaryStream) {
  auto ddm = Ddm::Create({});
  ASSERT_TRUE(ddm.has_value());
  EXPECT_LE(
      StationaryAlarms(
          [&](bool c) { return ddm->Update(!c) == DetectorSignal::kDrift; }, 6,
          100'000, 0.85),
      10);
}

TEST(EddmTest, DetectsAnAccuracyDrop) {
  auto eddm = Eddm::Create({});
  ASSERT_TRUE(eddm.has_value());
  int early = 0;
  const int64_t delay = DropDelay(
      [&](bool c) { return eddm->Update(!c) == DetectorSignal::kDrift; }, 7,
      5000, 10000, &early);
  EXPECT_GE(delay, 0);
  EXPECT_LT(delay, 3000);
}

// EDDM is built for gradual drift and is known to alarm on noise; on a
// stationary 85% stream it fires a few times per 100,000 (the monitor only
// turns such an alarm into an alert when the accuracy drop is real).
TEST(EddmTest, BoundedFalseAlarmsOnAStationaryStream) {
  auto eddm = Eddm::Create({});
  ASSERT_TRUE(eddm.has_value());
  EXPECT_LE(
      StationaryAlarms(
          [&](bool c) { return eddm->Update(!c) == DetectorSignal::kDrift; }, 8,
          100'000, 0.85),
      15);
}

TEST(PageHinkleyTest, DetectsAnErrorRateIncrease) {
  auto ph = PageHinkley::Create({});
  ASSERT_TRUE(ph.has_value());
  int early = 0;
  const int64_t delay =
      DropDelay([&](bool c) { return ph->Update(c ? 0.0 : 1.0); }, 9, 5000,
                10000, &early);
  EXPECT_EQ(early, 0);
  EXPECT_GE(delay, 0);
  EXPECT_LT(delay, 2000);
}

TEST(PageHinkleyTest, FewFalseAlarmsOnAStationaryStream) {
  auto ph = PageHinkley::Create({});
  ASSERT_TRUE(ph.has_value());
  EXPECT_LE(StationaryAlarms([&](bool c) { return ph->Update(c ? 0.0 : 1.0); },
                             10, 100'000, 0.85),
            8);
}

TEST(DetectorsTest, RefuseBadConfigs) {
  AdwinConfig adwin;
  adwin.delta = 0;
  EXPECT_EQ(Adwin::Create(adwin).error().code, ErrorCode::kInvalidArgument);
  DdmConfig ddm;
  ddm.warning_level = 3;
  ddm.drift_level = 2;
  EXPECT_EQ(Ddm::Create(ddm).error().code, ErrorCode::kInvalidArgument);
  EddmConfig eddm;
  eddm.warning_level = 0.9;
  eddm.drift_level = 0.95;
  EXPECT_EQ(Eddm::Create(eddm).error().code, ErrorCode::kInvalidArgument);
  PageHinkleyConfig ph;
  ph.threshold = 0;
  EXPECT_EQ(PageHinkley::Create(ph).error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace cls::drift
