#include "site-agent/record_privacy.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/privacy/calibration.h"
#include "site-agent/test_util.h"

namespace cls::site {
namespace {

using testing::TempDir;

PrivacyConfig DpConfig(double target) {
  PrivacyConfig p;
  p.dp_sgd = true;
  p.target_epsilon = target;
  p.delta = 1e-5;
  p.clip_norm = 1.0;
  p.noise_multiplier = 1.1;
  return p;
}

core::TrainConfig Training(const RecordPrivacyLedger& ledger) {
  core::TrainConfig cfg;
  cfg.epochs = 5;
  cfg.batch_size = 32;
  cfg.dp = ledger.DpSgd();
  return cfg;
}

TEST(RecordPrivacyLedgerTest, ChargesMatchTheAccountantAndSurviveARestart) {
  TempDir dir;
  auto ledger = RecordPrivacyLedger::Open(dir.path(), DpConfig(50), 1000);
  ASSERT_TRUE(ledger) << ledger.error().ToString();
  EXPECT_EQ((*ledger)->Current().epsilon, 0.0);
  const core::TrainConfig cfg = Training(**ledger);
  ASSERT_TRUE((*ledger)->Charge(1000, cfg, "round 1"));
  ASSERT_TRUE((*ledger)->Charge(1000, cfg, "round 2"));
  // Two trainings of 5 epochs x 32 steps at q 0.032, sigma 1.1.
  auto expected = core::privacy::ComputeEpsilon(1.1, 2 * 5 * 32, 0.032, 1e-5);
  ASSERT_TRUE(expected);
  const RecordPrivacyStatus s = (*ledger)->Current();
  EXPECT_NEAR(s.epsilon, expected->epsilon, 1e-9);
  EXPECT_EQ(s.steps, 320u);
  EXPECT_EQ(s.trainings, 2u);

  // A new process reads the same total back: nothing lost on a restart.
  auto reopened = RecordPrivacyLedger::Open(dir.path(), DpConfig(50), 1000);
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  EXPECT_NEAR((*reopened)->Current().epsilon, s.epsilon, 1e-12);
  EXPECT_EQ((*reopened)->Current().steps, 320u);
}

TEST(RecordPrivacyLedgerTest, RefusesATrainingThatWouldExceedTheTarget) {
  TempDir dir;
  // One training (160 steps at q 0.032, sigma 1.1) costs 2.57 at 1e-5.
  auto ledger = RecordPrivacyLedger::Open(dir.path(), DpConfig(3.0), 1000);
  ASSERT_TRUE(ledger);
  const core::TrainConfig cfg = Training(**ledger);
  ASSERT_TRUE((*ledger)->Charge(1000, cfg, "round 1"));
  const double spent = (*ledger)->Current().epsilon;
  ASSERT_GT(spent, 0.5);
  ASSERT_LT(spent, 3.0);
  auto refused = (*ledger)->Charge(1000, cfg, "round 2");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kResourceExhausted);
  EXPECT_NE(refused.error().message.find("round 2: refused, record-level "
                                         "privacy budget"),
            std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("target_epsilon 3"),
            std::string::npos);
  // Nothing charged for the refused training, and it is counted.
  EXPECT_EQ((*ledger)->Current().epsilon, spent);
  EXPECT_EQ((*ledger)->Current().refusals, 1u);
  EXPECT_EQ((*ledger)->Current().trainings, 1u);
  // The refusal holds across a restart.
  auto reopened = RecordPrivacyLedger::Open(dir.path(), DpConfig(3.0), 1000);
  ASSERT_TRUE(reopened);
  EXPECT_FALSE((*reopened)->Charge(1000, cfg, "round 3"));
}

TEST(RecordPrivacyLedgerTest, TrainingWithoutTheSitesDpOptionsIsRefused) {
  TempDir dir;
  auto ledger = RecordPrivacyLedger::Open(dir.path(), DpConfig(10), 1000);
  ASSERT_TRUE(ledger);
  core::TrainConfig plain;  // dp off: would leave the site unaccounted
  auto s = (*ledger)->Charge(1000, plain, "round 1");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kFailedPrecondition);
  core::TrainConfig weaker = Training(**ledger);
  weaker.dp.noise_multiplier = 0.5;
  EXPECT_FALSE((*ledger)->Charge(1000, weaker, "round 1"));
  EXPECT_EQ((*ledger)->Current().trainings, 0u);
}

TEST(RecordPrivacyLedgerTest, ACorruptLedgerIsRefusedNotReset) {
  TempDir dir;
  {
    auto ledger = RecordPrivacyLedger::Open(dir.path(), DpConfig(50), 1000);
    ASSERT_TRUE(ledger);
    ASSERT_TRUE((*ledger)->Charge(1000, Training(**ledger), "round 1"));
  }
  const auto path = dir.path() / kRecordPrivacyFile;
  std::string text;
  {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream b;
    b << in.rdbuf();
    text = b.str();
  }
  text[text.find("\"steps\":") + 8] ^= 0x01;  // one digit flipped by XOR
  std::ofstream(path, std::ios::binary) << text;
  auto reopened = RecordPrivacyLedger::Open(dir.path(), DpConfig(50), 1000);
  ASSERT_FALSE(reopened);
  EXPECT_EQ(reopened.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(reopened.error().message.find("checksum"), std::string::npos);
}

TEST(RecordPrivacyLedgerTest,
     DefaultDeltaIsTheSmallerOf1e5AndNToTheMinus1Point1) {
  TempDir dir;
  PrivacyConfig p = DpConfig(5);
  p.delta.reset();
  auto small = RecordPrivacyLedger::Open(dir.path(), p, 300);
  ASSERT_TRUE(small);
  EXPECT_DOUBLE_EQ((*small)->Current().delta, 1e-5);  // 300^-1.1 ~ 1.9e-3
  auto big = RecordPrivacyLedger::Open(dir.path(), p, 100'000'000);
  ASSERT_TRUE(big);
  EXPECT_NEAR((*big)->Current().delta, std::pow(1e8, -1.1), 1e-20);
}

TEST(RecordPrivacyLedgerTest, DisabledLedgerChargesNothing) {
  TempDir dir;
  PrivacyConfig p;  // dp_sgd = false
  auto ledger = RecordPrivacyLedger::Open(dir.path(), p, 1000);
  ASSERT_TRUE(ledger);
  EXPECT_FALSE((*ledger)->DpSgd().enabled);
  core::TrainConfig plain;
  EXPECT_TRUE((*ledger)->Charge(1000, plain, "round 1"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / kRecordPrivacyFile));
}

}  // namespace
}  // namespace cls::site
