#include "coordinator/privacy/privacy_ledger.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "coordinator/privacy/privacy_high_water.h"
#include "coordinator/storage/backup.h"
#include "coordinator/storage/schema.h"
#include "core/privacy/calibration.h"

namespace cls::coordinator {
namespace {

struct AuditRecord {
  std::string actor;
  std::string event;
  nlohmann::json fields;
};

class PrivacyLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cls_privacy_ledger_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/coordinator.db";
    Reopen();
  }
  void TearDown() override {
    ledger_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Closes everything and opens the file again, as a restart does.
  void Reopen(PrivacyBudget budget = {10.0, 1e-5}) {
    ledger_.reset();
    db_.reset();
    auto db = SqliteDb::Open(path_);
    ASSERT_TRUE(db) << db.error().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(storage::Migrate(*db_).has_value());
    auto ledger = PrivacyLedger::Open(*db_, budget, Sink());
    ASSERT_TRUE(ledger) << ledger.error().ToString();
    ledger_ = std::move(*ledger);
  }

  PrivacyLedger::AuditSink Sink() {
    return [this](const std::string& actor, const std::string& event,
                  const nlohmann::json& fields) -> Status {
      if (audit_fails_) return Unavailable("audit log: disk I/O error");
      audits_.push_back({actor, event, fields});
      return {};
    };
  }

  static PrivacyCharge Central(int64_t round, double z, double q = 1.0) {
    PrivacyCharge c;
    c.round_id = round;
    c.mode = DpMode::kCentral;
    c.noise_multiplier = z;
    c.sampling_rate = q;
    c.sites_planned = 10;
    c.sites_contributed = 10;
    return c;
  }

  std::string dir_, path_;
  std::unique_ptr<SqliteDb> db_;
  std::unique_ptr<PrivacyLedger> ledger_;
  std::vector<AuditRecord> audits_;
  bool audit_fails_ = false;
};

TEST_F(PrivacyLedgerTest, NewDatabaseStartsPeriodOneWithTheConfiguredBudget) {
  auto status = ledger_->Snapshot();
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(status->period.period_id, 1);
  EXPECT_EQ(status->period.epsilon_budget, 10.0);
  EXPECT_EQ(status->period.delta, 1e-5);
  EXPECT_EQ(status->period.started_by, "system");
  EXPECT_EQ(status->spent_epsilon, 0.0);
  EXPECT_EQ(status->remaining_epsilon, 10.0);
  EXPECT_TRUE(status->history.empty());
}

TEST_F(PrivacyLedgerTest, ChargesMatchTheAccountantAndSurviveARestart) {
  for (int64_t round = 1; round <= 3; ++round) {
    auto entry = ledger_->Charge(Central(round, 4.0));
    ASSERT_TRUE(entry) << entry.error().ToString();
    auto expected = core::privacy::ComputeEpsilon(4.0, round, 1.0, 1e-5);
    ASSERT_TRUE(expected);
    EXPECT_NEAR(entry->epsilon_after, expected->epsilon, 1e-12);
    EXPECT_EQ(entry->order_after, expected->order);
  }
  const double spent = ledger_->Snapshot()->spent_epsilon;
  Reopen();
  auto status = ledger_->Snapshot();
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(status->spent_epsilon, spent);
  EXPECT_EQ(status->rounds_charged, 3);
  ASSERT_EQ(status->history.size(), 3u);
  EXPECT_EQ(status->history[0].round_id, 1);
  EXPECT_EQ(status->history[2].round_id, 3);
  EXPECT_EQ(status->history[2].epsilon_after, spent);
  // The next round continues from the restored curve.
  auto fourth = ledger_->Charge(Central(4, 4.0));
  ASSERT_TRUE(fourth);
  EXPECT_NEAR(fourth->epsilon_after,
              core::privacy::ComputeEpsilon(4.0, 4, 1.0, 1e-5)->epsilon, 1e-12);
}

TEST_F(PrivacyLedgerTest, RoundThatWouldExceedTheBudgetIsRefusedAndAudited) {
  // z = 0.6 at full participation: one round costs about 8.6 at delta 1e-5.
  ASSERT_TRUE(ledger_->Charge(Central(1, 0.6)));
  const double spent = ledger_->Snapshot()->spent_epsilon;
  audits_.clear();
  auto checked = ledger_->Check(Central(2, 0.6));
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(checked.error().message.rfind(
                "Privacy budget exhausted: spending round 2 would bring "
                "epsilon to ",
                0),
            0u)
      << checked.error().message;
  EXPECT_NE(checked.error().message.find("> budget 10 at delta 1e-05"),
            std::string::npos)
      << checked.error().message;
  ASSERT_EQ(audits_.size(), 1u);
  EXPECT_EQ(audits_[0].event, "privacy_round_refused");
  EXPECT_EQ(audits_[0].fields["round_id"], 2);
  EXPECT_EQ(ledger_->Snapshot()->spent_epsilon, spent);  // nothing charged
  // A round with enough noise still fits.
  auto fits = ledger_->Check(Central(2, 20.0));
  ASSERT_TRUE(fits) << fits.error().ToString();
  EXPECT_GT(*fits, spent);
  EXPECT_LE(*fits, 10.0);
}

TEST_F(PrivacyLedgerTest, CentralReleaseOverBudgetIsNotRecorded) {
  ASSERT_TRUE(ledger_->Charge(Central(1, 0.6)));
  auto over = ledger_->Charge(Central(2, 0.6));
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(audits_.back().event, "privacy_release_refused");
  EXPECT_EQ(ledger_->Snapshot()->rounds_charged, 1);
}

TEST_F(PrivacyLedgerTest, DistributedDropoutsAreChargedForTheNoiseAdded) {
  PrivacyCharge planned = Central(1, 3.0);
  planned.mode = DpMode::kDistributed;
  planned.sites_contributed = 6;  // the threshold the round may end with
  auto checked = ledger_->Check(planned);
  ASSERT_TRUE(checked);

  PrivacyCharge actual = planned;
  actual.sites_contributed = 7;  // 3 of 10 dropped
  auto entry = ledger_->Charge(actual);
  ASSERT_TRUE(entry) << entry.error().ToString();
  EXPECT_NEAR(entry->effective_noise_multiplier, 3.0 * std::sqrt(0.7), 1e-12);
  EXPECT_NEAR(entry->epsilon_after,
              core::privacy::ComputeEpsilon(3.0 * std::sqrt(0.7), 1, 1.0, 1e-5)
                  ->epsilon,
              1e-12);
  // More than had all ten contributed, no more than the checked worst case.
  EXPECT_GT(entry->epsilon_after,
            core::privacy::ComputeEpsilon(3.0, 1, 1.0, 1e-5)->epsilon);
  EXPECT_LE(entry->epsilon_after, *checked);
  EXPECT_EQ(audits_.back().event, "privacy_charge");
  EXPECT_EQ(audits_.back().fields["sites_contributed"], 7);
}

TEST_F(PrivacyLedgerTest, DistributedOverrunIsRecordedBecauseTheSumWasSeen) {
  PrivacyCharge c = Central(1, 0.6);
  c.mode = DpMode::kDistributed;
  ASSERT_TRUE(ledger_->Charge(c));
  c.round_id = 2;
  auto over = ledger_->Charge(c);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(audits_.back().event, "privacy_budget_overrun");
  auto status = ledger_->Snapshot();
  EXPECT_EQ(status->rounds_charged, 2);
  EXPECT_GT(status->spent_epsilon, 10.0);
  EXPECT_EQ(status->remaining_epsilon, 0.0);
}

TEST_F(PrivacyLedgerTest, SkellamRoundsAreChargedWithTheSkellamBound) {
  PrivacyCharge c;
  c.round_id = 1;
  c.mode = DpMode::kDistributed;
  c.mechanism = DpMechanism::kSkellam;
  c.sites_planned = 4;
  c.sites_contributed = 4;
  c.skellam_l2 = 1000;
  c.skellam_l1 = 30000;
  c.skellam_variance = 25e6;  // z = 5
  auto entry = ledger_->Charge(c);
  ASSERT_TRUE(entry) << entry.error().ToString();
  EXPECT_EQ(entry->mechanism, "skellam");
  EXPECT_NEAR(entry->noise_multiplier, 5.0, 1e-12);
  const double gaussian =
      core::privacy::ComputeEpsilon(5.0, 1, 1.0, 1e-5)->epsilon;
  EXPECT_GE(entry->epsilon_after, gaussian);
  EXPECT_LT(entry->epsilon_after, gaussian * 1.01);
  c.mode = DpMode::kCentral;
  c.round_id = 2;
  EXPECT_EQ(ledger_->Charge(c).error().code, ErrorCode::kInvalidArgument);
}

TEST_F(PrivacyLedgerTest, ARoundIsChargedOnlyOnce) {
  ASSERT_TRUE(ledger_->Charge(Central(1, 5.0)));
  EXPECT_EQ(ledger_->Check(Central(1, 5.0)).error().code,
            ErrorCode::kAlreadyExists);
  EXPECT_EQ(ledger_->Charge(Central(1, 5.0)).error().code,
            ErrorCode::kAlreadyExists);
  EXPECT_EQ(ledger_->Snapshot()->rounds_charged, 1);
}

TEST_F(PrivacyLedgerTest, NothingButANewPeriodResetsTheSpend) {
  ASSERT_TRUE(ledger_->Charge(Central(1, 2.0)));
  const double spent = ledger_->Snapshot()->spent_epsilon;
  ASSERT_GT(spent, 0.0);
  // Direct SQL cannot remove or rewrite charges, lower the spend or move
  // the budget.
  EXPECT_FALSE(db_->Exec("DELETE FROM privacy_charges"));
  EXPECT_FALSE(db_->Exec("UPDATE privacy_charges SET round_epsilon = 0"));
  EXPECT_FALSE(db_->Exec("UPDATE privacy_periods SET spent_epsilon = 0"));
  EXPECT_FALSE(db_->Exec("UPDATE privacy_periods SET epsilon_budget = 1e9"));
  EXPECT_FALSE(db_->Exec("DELETE FROM privacy_periods"));
  // A restart with a bigger configured budget keeps the stored one.
  Reopen({1000.0, 1e-5});
  auto status = ledger_->Snapshot();
  EXPECT_EQ(status->period.epsilon_budget, 10.0);
  EXPECT_EQ(status->spent_epsilon, spent);
}

TEST_F(PrivacyLedgerTest, ATamperedTotalIsDetectedOnOpen) {
  ASSERT_TRUE(ledger_->Charge(Central(1, 2.0)));
  const size_t bytes = ledger_->accountant().orders().size() * sizeof(double);
  ASSERT_TRUE(db_->Exec("UPDATE privacy_periods SET rdp = zeroblob(" +
                        std::to_string(bytes) + ")"));
  ledger_.reset();
  auto reopened = PrivacyLedger::Open(*db_, {10.0, 1e-5});
  ASSERT_FALSE(reopened);
  EXPECT_EQ(reopened.error().code, ErrorCode::kDataLoss);
}

TEST_F(PrivacyLedgerTest, StartNewPeriodIsTheAuditedReset) {
  ASSERT_TRUE(ledger_->Charge(Central(1, 2.0)));
  EXPECT_EQ(ledger_->StartNewPeriod("", "why", {5.0, 1e-6}).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(ledger_->StartNewPeriod("alice", "", {5.0, 1e-6}).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_FALSE(ledger_->StartNewPeriod("alice", "why", {0.0, 1e-6}));
  EXPECT_FALSE(ledger_->StartNewPeriod("alice", "why", {5.0, 1.0}));
  auto period =
      ledger_->StartNewPeriod("alice", "new IRB approval", {5.0, 1e-6});
  ASSERT_TRUE(period) << period.error().ToString();
  EXPECT_EQ(period->period_id, 2);
  EXPECT_EQ(period->started_by, "alice");
  EXPECT_EQ(period->reason, "new IRB approval");
  ASSERT_FALSE(audits_.empty());
  EXPECT_EQ(audits_.back().actor, "alice");
  EXPECT_EQ(audits_.back().event, "privacy_period_started");
  EXPECT_EQ(audits_.back().fields["previous_rounds_charged"], 1);
  auto status = ledger_->Snapshot();
  EXPECT_EQ(status->spent_epsilon, 0.0);
  EXPECT_EQ(status->period.delta, 1e-6);
  EXPECT_TRUE(status->history.empty());
  // The old period's rows stay; the new period survives a restart.
  Reopen();
  EXPECT_EQ(ledger_->period().period_id, 2);
  EXPECT_EQ(ledger_->period().epsilon_budget, 5.0);
  auto rows = db_->Prepare("SELECT COUNT(*) FROM privacy_charges");
  ASSERT_TRUE(rows && *rows->Step());
  EXPECT_EQ(rows->Int(0), 1);
}

// A charge or a new period is stored together with its audit entry or not
// at all: the security officer never finds spend the audit log does not
// show.
TEST_F(PrivacyLedgerTest, AChangeWhoseAuditEntryFailsIsNotStored) {
  ASSERT_TRUE(ledger_->Charge(Central(1, 2.0)));
  audit_fails_ = true;
  auto charge = ledger_->Charge(Central(2, 2.0));
  ASSERT_FALSE(charge);
  EXPECT_EQ(charge.error().message, "audit log: disk I/O error");
  auto period =
      ledger_->StartNewPeriod("alice", "new IRB approval", {5.0, 1e-6});
  ASSERT_FALSE(period);
  EXPECT_EQ(period.error().message, "audit log: disk I/O error");
  audit_fails_ = false;
  Reopen();
  auto status = ledger_->Snapshot();
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(status->period.period_id, 1);
  EXPECT_EQ(status->rounds_charged, 1);
  ASSERT_EQ(status->history.size(), 1u);
  EXPECT_EQ(status->history[0].round_id, 1);
  // Round 2 was never charged, so it can be charged now.
  EXPECT_TRUE(ledger_->Charge(Central(2, 2.0)));
}

TEST_F(PrivacyLedgerTest, SnapshotLimitsHistoryToTheNewestRounds) {
  for (int64_t round = 1; round <= 5; ++round) {
    ASSERT_TRUE(ledger_->Charge(Central(round, 8.0)));
  }
  auto status = ledger_->Snapshot(2);
  ASSERT_TRUE(status);
  ASSERT_EQ(status->history.size(), 2u);
  EXPECT_EQ(status->history[0].round_id, 4);
  EXPECT_EQ(status->history[1].round_id, 5);
  const nlohmann::json j = ToJson(*status);
  EXPECT_EQ(j["rounds_charged"], 5);
  EXPECT_EQ(j["history"].size(), 2u);
  EXPECT_EQ(j["period"]["epsilon_budget"], 10.0);
  EXPECT_DOUBLE_EQ(j["remaining_epsilon"].get<double>(),
                   10.0 - status->spent_epsilon);
}

TEST_F(PrivacyLedgerTest, BadChargesAreRejectedWithTheReason) {
  PrivacyCharge c = Central(1, 2.0);
  c.sites_contributed = 11;
  auto bad = ledger_->Charge(c);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "round 1: contributing sites must be in 1..10, got 11");
  c = Central(1, 0.0);
  EXPECT_EQ(ledger_->Check(c).error().code, ErrorCode::kInvalidArgument);
  c = Central(1, 2.0, 0.0);
  EXPECT_EQ(ledger_->Charge(c).error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(PrivacyLedger::Open(*db_, {-1.0, 1e-5}));
  EXPECT_EQ(ledger_->Snapshot()->rounds_charged, 0);
}

// The privacy high-water mark (privacy_high_water.h) across a restore from
// an online backup taken before some spends.
class PrivacyHighWaterTest : public PrivacyLedgerTest {
 protected:
  // An online backup of the live file now.
  std::string Backup() {
    auto b = WriteBackup(path_, dir_ + "/backups");
    EXPECT_TRUE(b) << b.error().ToString();
    return b ? b->path : "";
  }
  // The backup replaces the database, as `cls-coordinator --restore` does.
  void Restore(const std::string& backup) {
    ledger_.reset();
    db_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(path_ + suffix);
    }
    std::filesystem::copy_file(backup, path_);
    Reopen();
  }
  // Every mark the ledger hands out goes to the file.
  void KeepMarks() {
    ledger_->OnSpend([this](const PrivacySpendMark& m) {
      ASSERT_TRUE(WritePrivacyHighWater(MarkFile(), m).has_value());
      marks_.push_back(m);
    });
  }
  std::string MarkFile() const { return dir_ + "/backups/privacy-spent.json"; }
  double Spent() { return ledger_->Snapshot()->spent_epsilon; }

  std::vector<PrivacySpendMark> marks_;
};

TEST_F(PrivacyHighWaterTest, RaisesARestoredLedgerAndNeverLowersIt) {
  KeepMarks();
  ASSERT_TRUE(ledger_->Charge(Central(1, 4.0)));
  ASSERT_TRUE(ledger_->Charge(Central(2, 4.0)));
  const std::string backup = Backup();
  const double at_backup = Spent();
  ASSERT_TRUE(ledger_->Charge(Central(3, 4.0)));
  ASSERT_TRUE(ledger_->Charge(Central(4, 4.0)));
  const double spent = Spent();
  ASSERT_EQ(marks_.size(), 4u);
  EXPECT_EQ(marks_.back().spent_epsilon, spent);
  EXPECT_EQ(marks_.back().last_round_id, 4);

  Restore(backup);
  ASSERT_EQ(Spent(), at_backup) << "the backup lacks rounds 3 and 4";
  auto mark = ReadPrivacyHighWater(MarkFile());
  ASSERT_TRUE(mark && *mark) << "the mark survives outside the database";
  audits_.clear();
  auto raised = ledger_->RaiseToHighWater(**mark);
  ASSERT_TRUE(raised) << raised.error().ToString();
  EXPECT_TRUE(*raised);
  EXPECT_GE(Spent(), spent * (1 - 1e-12));
  EXPECT_NEAR(Spent(), spent, 1e-9);
  ASSERT_EQ(audits_.size(), 1u);
  EXPECT_EQ(audits_[0].event, "privacy_ledger_raised_after_restore");
  EXPECT_EQ(audits_[0].fields["spent_epsilon_restored"], at_backup);
  EXPECT_EQ(audits_[0].fields["high_water_last_round_id"], 4);

  // The adjustment is a stored row: it survives a restart, the stored total
  // still agrees with the rows, and it is no round.
  Reopen();
  auto status = ledger_->Snapshot();
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_NEAR(status->spent_epsilon, spent, 1e-9);
  EXPECT_EQ(status->rounds_charged, 2);
  ASSERT_EQ(status->history.size(), 3u);
  EXPECT_EQ(status->history[2].round_id, -1);
  EXPECT_EQ(status->history[2].mode, "adjustment");

  // Never twice, never down: the same mark and an older one change nothing.
  audits_.clear();
  EXPECT_FALSE(*ledger_->RaiseToHighWater(**mark));
  EXPECT_FALSE(*ledger_->RaiseToHighWater(marks_[1]));
  EXPECT_NEAR(Spent(), spent, 1e-9);
  EXPECT_TRUE(audits_.empty());

  // The next round charges on top of everything spent.
  KeepMarks();
  auto next = ledger_->Charge(Central(3, 4.0));
  ASSERT_TRUE(next) << next.error().ToString();
  EXPECT_GT(next->epsilon_after, spent);
  EXPECT_EQ(marks_.back().spent_epsilon, next->epsilon_after);
}

TEST_F(PrivacyHighWaterTest, APeriodStartedAfterTheBackupIsRecreated) {
  KeepMarks();
  ASSERT_TRUE(ledger_->Charge(Central(1, 4.0)));
  const std::string backup = Backup();
  ASSERT_TRUE(ledger_->StartNewPeriod("alice", "new study", {5.0, 1e-6}));
  ASSERT_TRUE(ledger_->Charge(Central(2, 4.0)));
  const double spent = Spent();

  Restore(backup);
  EXPECT_EQ(ledger_->period().period_id, 1);
  auto mark = ReadPrivacyHighWater(MarkFile());
  ASSERT_TRUE(mark && *mark);
  EXPECT_EQ((**mark).period_id, 2);
  ASSERT_TRUE(*ledger_->RaiseToHighWater(**mark));
  EXPECT_EQ(ledger_->period().period_id, 2);
  EXPECT_EQ(ledger_->period().epsilon_budget, 5.0);
  EXPECT_EQ(ledger_->period().delta, 1e-6);
  EXPECT_NEAR(Spent(), spent, 1e-9);
  Reopen();
  EXPECT_EQ(ledger_->period().period_id, 2);
  EXPECT_NEAR(Spent(), spent, 1e-9);
}

TEST_F(PrivacyHighWaterTest, AnUnreadableMarkIsDataLossNamingTheFile) {
  EXPECT_FALSE(*ReadPrivacyHighWater(MarkFile())) << "no file: no mark";
  std::filesystem::create_directories(dir_ + "/backups");
  { std::ofstream(MarkFile()) << "{\"period_id\": 1"; }
  auto mark = ReadPrivacyHighWater(MarkFile());
  ASSERT_FALSE(mark);
  EXPECT_EQ(mark.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(mark.error().message.find(MarkFile()), std::string::npos);
}

}  // namespace
}  // namespace cls::coordinator
