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

// River's docstring stream for ADWIN and PageHinkley: Python's
//   rng = random.Random(12345)
//   rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
// (generated with CPython's random module, one digit per value). River
// prints "Change detected at index 1023" for ADWIN and "... index 1006" for
// PageHinkley.
constexpr const char* kRiverStream =
    "001000100010101010101000011101110001110111101011011100110010001011110110"
    "010101011100100011000011010110010000110010000100100111100011100101100010"
    "000111101000011100100010000110000001010101110110111000110110000101001001"
    "000000010101111111011001110001001111110011001000010110111111011101000100"
    "101011100100001011111111111001110000001101100011001000100001011110001010"
    "101110000111100100111110000010011100011011101100010111001101010000000110"
    "001011110110000110101110110000111100111111000011100001011101111001100110"
    "101010101000000011110010100010101000001100000100010000001110010111100000"
    "110001010001011000101111100101110100011000101111011001110100111100101111"
    "110011100001001010000011011001111100111110010011110011110011011101001110"
    "100111001111111101011100000000101101000110100110101111100011111110111110"
    "000001010011000100000010001010101011111010111110100010011110000101010111"
    "000100010010000110110101100001111000101000100110011101011011000011000011"
    "101110111101100010000100111100011100000101001010111011011111101146746754"
    "677647566764667464746455555574447774566647666544546465654674477775777776"
    "465457677464757464776645454655577754475474654576744565577646666657775446"
    "745656567775444746754774775544755577555774457775447545475646577666457755"
    "447474564544574556445765564654654544665675675555677557655464454555775754"
    "545767554476757746454644667767556555644774447575474676754477645747464756"
    "467574465644564445464654466464574575745775554576766645545777655577765676"
    "767667575764654457465465477455656476576546574774565565457746767655667457"
    "656444745564446545566474554466777566477675755665776755754765765676455755"
    "774676574546574554765654544775474476577674667565667647547544577465565577"
    "767765676645666475475747664665465745644477456444746466645555745747767577"
    "557665676564766675646664545656554644566466447565654667576745756744467465"
    "577657555646546777477746475466654646456475756554645555577566664475646544"
    "467465664476465456675756556644555754555647675467764564557456456564646745"
    "57457474656557474446554544665474657454765475455747746677";

std::vector<double> RiverStream() {
  std::vector<double> v;
  for (const char* p = kRiverStream; *p != 0; ++p) v.push_back(*p - '0');
  return v;
}

TEST(RiverDocstringTest, AdwinDetectsAtIndex1023) {
  const std::vector<double> stream = RiverStream();
  ASSERT_EQ(stream.size(), 2000u);
  auto adwin = Adwin::Create({});
  ASSERT_TRUE(adwin.has_value());
  std::vector<int> detections;
  for (size_t i = 0; i < stream.size(); ++i) {
    if (adwin->Update(stream[i])) detections.push_back(static_cast<int>(i));
  }
  ASSERT_FALSE(detections.empty());
  EXPECT_EQ(detections.front(), 1023);
}

TEST(RiverDocstringTest, PageHinkleyDetectsAtIndex1006) {
  const std::vector<double> stream = RiverStream();
  auto ph = PageHinkley::Create({});
  ASSERT_TRUE(ph.has_value());
  int first = -1;
  for (size_t i = 0; i < stream.size() && first < 0; ++i) {
    if (ph->Update(stream[i])) first = static_cast<int>(i);
  }
  EXPECT_EQ(first, 1006);
}

// River's DDM docstring stream: random.Random(42), 1,000 fair coin flips
// then 1,000 with P(error) = 0.7 (rng.choices(..., weights=[0.3, 0.7])).
// River prints: warning at 1084, change at 1334, warning at 1492.
constexpr const char* kRiverDdmStream =
    "100011100001001101101100100011111101111110000000100001110100111111000001"
    "101010001011001100011000111101110100011010110110111100011100110001100101"
    "001100110100010001011001001101100000111000100000010110111110000001010011"
    "110011110111010011001011011101001001001100011100111110101100010110100110"
    "000110110001111100011110001101011111010111101011010010000110101110101000"
    "101101010111110010011000000011110100011000011001101110000010010100101100"
    "011001011111111111110001111000001001100100011111000111011100000100001001"
    "010000001011000110111110000110110110110001101011011101100010110111101101"
    "100101101001001001011001010111010010101010100000110001110000001011101011"
    "000010100100101011101001101111001000001001101111110111100011001111000000"
    "011111100101101100001101011100010111100011101101011001101100101101101011"
    "110101110011001011000110101110111001111010101001011111001110011110011011"
    "010001110011010000011100011001000011101101110101011011111111100110010011"
    "111010110010111111010101111100011100110001000100111010000010001101111100"
    "111110100101001101010000100101001111110110111110111110010011111110111110"
    "101110111010100111111011111111101001111111111011001110111010101111110001"
    "101110101011101101000101011111010011111100111110101111110101111110001110"
    "111111111110011001110101111111111111000111100111010111110010111111011111"
    "111111111111110011000101110110101110111010111111111110111110011101101010"
    "110110010110111100110110001111001011101101001101101011111111001111111011"
    "011111011000011110101111011111111111101111011111101110110111110110011111"
    "111111110011110011011011110111101111111100010111110111111011111111011100"
    "001111110110111010111111001111111101111000110111111011110000110101111111"
    "101110101111111111111010110110111111011001111111011011110111111110111111"
    "101110101001011111100011110111111110010100011111001111110011101011101101"
    "110110101111110111101111101011111111010101111110001001111011110100100011"
    "110110011111101010001111111001101101011101100101111101111111010110101111"
    "11111111111101110000111101011011110000110110010101111111";

TEST(RiverDocstringTest, DdmWarnsAndDetectsAtRiversIndices) {
  auto ddm = Ddm::Create({});
  ASSERT_TRUE(ddm.has_value());
  std::vector<std::pair<char, int>> events;  // 'w' first warning, 'c' change
  bool print_warning = true;
  int i = 0;
  for (const char* p = kRiverDdmStream; *p != 0; ++p, ++i) {
    const DetectorSignal s = ddm->Update(*p == '1');
    if (s == DetectorSignal::kWarning && print_warning) {
      events.emplace_back('w', i);
      print_warning = false;
    }
    if (s == DetectorSignal::kDrift) {
      events.emplace_back('c', i);
      print_warning = true;
    }
  }
  EXPECT_EQ(i, 2000);
  const std::vector<std::pair<char, int>> river = {
      {'w', 1084}, {'c', 1334}, {'w', 1492}};
  EXPECT_EQ(events, river);
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
