#include "coordinator/audit/audit_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "audit/audit_test_util.h"
#include "coordinator/config.h"
#include "coordinator/storage/schema.h"

namespace cls::coordinator {
namespace {

using audit::ChainProblemKind;
using nlohmann::json;
namespace fs = std::filesystem;
using std::chrono::hours;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cls-audit-log-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "checkpoints");
    id_ = cls::testing::MakeCoordinatorIdentity(dir_.string(), "coord");
    Open();
  }
  void TearDown() override {
    log_.reset();
    db_.reset();
    fs::remove_all(dir_);
  }

  void Open() {
    log_.reset();
    db_ = std::move(*SqliteDb::Open((dir_ / "coordinator.db").string()));
    ASSERT_TRUE(storage::Migrate(*db_).has_value());
    log_ = std::make_unique<AuditLog>(*db_);
    log_->SetClockForTesting([this] { return now_; });
  }

  void EnableSigning(int every = 1000) {
    AuditCheckpointing c;
    c.coordinator_id = "coord";
    c.signer = std::move(*audit::CheckpointSigner::LoadKeyFile(id_.key_file));
    c.certificate_pem = ReadFile(id_.cert_file);
    c.directory = (dir_ / "checkpoints").string();
    c.every_entries = every;
    log_->EnableCheckpoints(std::move(c));
  }

  std::unique_ptr<audit::CheckpointVerifier> Verifier() {
    return std::move(*audit::CheckpointVerifier::FromCertificatePem(
        ReadFile(id_.cert_file), id_.cert_file));
  }

  void AppendMany(int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(log_->Append("alice", "admin", "site_approved",
                               {{"site_id", "HOSP_" + std::to_string(i)}})
                      .has_value());
    }
  }

  audit::ChainReport VerifyNow() {
    auto v = Verifier();
    auto r = log_->Verify(v.get());
    EXPECT_TRUE(r.has_value());
    return *r;
  }

  fs::path dir_;
  cls::testing::TestCoordinatorIdentity id_;
  std::unique_ptr<SqliteDb> db_;
  std::unique_ptr<AuditLog> log_;
  std::chrono::system_clock::time_point now_ = std::chrono::system_clock::now();
};

TEST_F(AuditLogTest, EntriesChainAcrossReopeningTheDatabase) {
  AppendMany(3);
  Open();
  AppendMany(2);
  auto entries = log_->Entries("", "");
  ASSERT_TRUE(entries.has_value());
  ASSERT_EQ(entries->size(), 5u);
  EXPECT_EQ(entries->front().prev_hash, audit::kGenesisHash);
  for (size_t i = 1; i < entries->size(); ++i) {
    EXPECT_EQ((*entries)[i].seq, int64_t(i) + 1);
    EXPECT_EQ((*entries)[i].prev_hash, (*entries)[i - 1].hash);
  }
  EXPECT_TRUE(VerifyNow().ok());
}

TEST_F(AuditLogTest, BreakGlassEntriesAreMarked) {
  auto e = log_->Append("dr_night", "break_glass", "site_approved",
                        {{"site_id", "HOSP_1"}});
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->fields["break_glass"], true);
  auto normal = log_->Append("alice", "admin", "site_approved", json::object());
  EXPECT_FALSE(normal->fields.contains("break_glass"));
  EXPECT_FALSE(log_->Append("a", "admin", "x", json::array()).has_value());
}

TEST_F(AuditLogTest, CheckpointsAreSignedEveryNEntriesAndAfterRounds) {
  EnableSigning(/*every=*/4);
  AppendMany(9);
  ASSERT_TRUE(log_->Append("coordinator", "system", "federated_round_completed",
                           {{"round", 1}})
                  .has_value());
  auto checkpoints = log_->Checkpoints();
  ASSERT_TRUE(checkpoints.has_value());
  ASSERT_EQ(checkpoints->size(), 3u);  // seq 4, 8, and the round at 10
  EXPECT_EQ((*checkpoints)[0].seq, 4);
  EXPECT_EQ((*checkpoints)[2].seq, 10);
  EXPECT_EQ((*checkpoints)[2].reason, "federated_round_completed");
  auto v = Verifier();
  for (const auto& c : *checkpoints) EXPECT_TRUE(v->Verify(c));
  auto r = VerifyNow();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.last_signed_seq, 10);
  int files = 0;
  for (auto& f : fs::directory_iterator(dir_ / "checkpoints")) {
    files += f.path().extension() == ".json";
  }
  EXPECT_EQ(files, 3);
}

// An entry written inside the transaction of the change it records rolls
// back with it, and no checkpoint may ever cover it: a checkpoint the sites
// hold for an entry that then disappears would look like tampering.
TEST_F(AuditLogTest,
       AnEntryInATransactionThatRollsBackLeavesNoEntryAndNoCheckpoint) {
  EnableSigning(/*every=*/1000);
  AppendMany(2);
  Status rolled_back = db_->Transaction([&]() -> Status {
    auto e = log_->Append("coordinator", "system", "federated_round_completed",
                          {{"round", 1}});
    EXPECT_TRUE(e.has_value()) << e.error().ToString();
    return Aborted("the round's commit failed");
  });
  ASSERT_FALSE(rolled_back);
  log_->SignCheckpointIfCommitted();
  auto entries = log_->Entries("", "");
  ASSERT_TRUE(entries.has_value());
  EXPECT_EQ(entries->size(), 2u);
  auto checkpoints = log_->Checkpoints();
  ASSERT_TRUE(checkpoints.has_value());
  EXPECT_TRUE(checkpoints->empty());
  // Committed, the same event is checkpointed once the commit is done.
  Status committed = db_->Transaction([&]() -> Status {
    auto e = log_->Append("coordinator", "system", "federated_round_completed",
                          {{"round", 1}});
    if (!e) return std::unexpected(e.error());
    auto inside = log_->Checkpoints();
    EXPECT_TRUE(inside.has_value() && inside->empty());
    return {};
  });
  ASSERT_TRUE(committed) << committed.error().ToString();
  log_->SignCheckpointIfCommitted();
  checkpoints = log_->Checkpoints();
  ASSERT_TRUE(checkpoints.has_value());
  ASSERT_EQ(checkpoints->size(), 1u);
  EXPECT_EQ(checkpoints->front().seq, 3);
  EXPECT_TRUE(VerifyNow().ok());
}

TEST_F(AuditLogTest, EditInTheDatabaseIsNamed) {
  AppendMany(6);
  ASSERT_TRUE(db_->Run("UPDATE audit_log SET fields = ? WHERE seq = 3",
                       {std::string(R"({"site_id":"HOSP_X"})")})
                  .has_value());
  auto r = VerifyNow();
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].kind, ChainProblemKind::kEdited);
  EXPECT_EQ(r.problems[0].seq, 3);
}

TEST_F(AuditLogTest, DeleteInTheDatabaseIsNamed) {
  AppendMany(6);
  ASSERT_TRUE(db_->Run("DELETE FROM audit_log WHERE seq = 4").has_value());
  auto r = VerifyNow();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problems[0].kind, ChainProblemKind::kDeleted);
  EXPECT_EQ(r.problems[0].seq, 4);
}

// The whole table rewritten with recomputed hashes, and the checkpoint
// table emptied: the checkpoint files still expose it.
TEST_F(AuditLogTest, RewrittenDatabaseIsCaughtByTheCheckpointFiles) {
  EnableSigning(/*every=*/5);
  AppendMany(10);
  auto entries = *log_->Entries("", "");
  entries[1].fields = {{"site_id", "HOSP_FORGED"}};
  std::string prev = audit::kGenesisHash;
  ASSERT_TRUE(db_->Run("DELETE FROM audit_log").has_value());
  ASSERT_TRUE(db_->Run("DELETE FROM audit_checkpoints").has_value());
  for (auto& e : entries) {
    e.prev_hash = prev;
    e.hash = audit::ComputeEntryHash(e);
    prev = e.hash;
    ASSERT_TRUE(db_->Run("INSERT INTO audit_log VALUES (?,?,?,?,?,?,?,?)",
                         {e.seq, e.timestamp, e.actor, e.actor_role,
                          e.event_type, e.fields.dump(), e.prev_hash, e.hash})
                    .has_value());
  }
  auto r = VerifyNow();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problems[0].kind, ChainProblemKind::kRewritten);
  EXPECT_EQ(r.problems[0].seq, 5);
}

TEST_F(AuditLogTest, PruningKeepsTheRestVerifiable) {
  EnableSigning();
  now_ -= hours(24 * 365 * 8);  // eight years ago
  AppendMany(5);
  now_ += hours(24 * 365 * 8);
  AppendMany(3);
  auto pruned = log_->PruneOlderThanYears(7);
  ASSERT_TRUE(pruned.has_value()) << pruned.error().message;
  EXPECT_EQ(*pruned, 5);
  auto entries = *log_->Entries("", "");
  ASSERT_EQ(entries.size(), 4u);  // 3 recent + audit_pruned
  EXPECT_EQ(entries.front().seq, 6);
  EXPECT_EQ(entries.back().event_type, "audit_pruned");
  EXPECT_EQ(entries.back().fields["through_seq"], 5);
  auto r = VerifyNow();
  EXPECT_TRUE(r.ok()) << r.problems.front().message;

  // The export verifies offline as a whole log.
  auto doc = log_->Export("", "");
  ASSERT_TRUE(doc.has_value());
  EXPECT_EQ((*doc)["complete"], true);
  auto v = Verifier();
  auto offline = audit::VerifyExport(json::parse(doc->dump()), {}, v.get());
  ASSERT_TRUE(offline.has_value());
  EXPECT_TRUE(offline->ok());
  // Nothing left to prune: the head is never pruned.
  EXPECT_EQ(*log_->PruneOlderThanYears(7), 0);
}

TEST_F(AuditLogTest, PruningWithoutSigningIsRefused) {
  now_ -= hours(24 * 365 * 8);
  AppendMany(3);
  now_ += hours(24 * 365 * 8);
  AppendMany(1);
  auto r = log_->PruneOlderThanYears(7);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(log_->Entries("", "")->size(), 4u);
}

TEST_F(AuditLogTest, ExportSelectsByTimeAndMarksSlices) {
  EnableSigning();
  now_ = std::chrono::system_clock::from_time_t(1795000000);  // 2026-11-18
  AppendMany(2);
  now_ += hours(48);
  AppendMany(2);
  std::string middle = FormatUtc(now_ - hours(24));
  auto doc = log_->Export(middle, "");
  ASSERT_TRUE(doc.has_value());
  EXPECT_EQ((*doc)["entries"].size(), 2u);
  EXPECT_EQ((*doc)["complete"], false);
  EXPECT_EQ((*doc)["entries"][0]["seq"], 3);
  EXPECT_EQ((*doc)["entries"][0]["event_type"], "site_approved");
  EXPECT_EQ((*doc)["entries"][0]["site_id"], "HOSP_0");
  auto early = log_->Export("", middle);
  EXPECT_EQ((*early)["entries"].size(), 2u);
  auto v = Verifier();
  auto r = audit::VerifyExport(*doc, {}, v.get());
  EXPECT_TRUE(r->ok());
}

class AuditConfigTest : public ::testing::Test {
 protected:
  Result<CoordinatorConfig> Load(const std::string& sections) {
    fs::path dir = fs::temp_directory_path() /
                   ("cls-audit-config-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::string path = (dir / "coordinator.toml").string();
    std::ofstream(path) << "[tls]\nca = \"ca.pem\"\ncert = \"c.pem\"\nkey = "
                           "\"c.key\"\n[model]\nparameters = 23\n"
                        << sections;
    auto c = LoadCoordinatorConfig(path);
    fs::remove_all(dir);
    return c;
  }
};

TEST_F(AuditConfigTest, DefaultsKeepSevenYearsAndFourHourBreakGlass) {
  auto c = Load("");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->audit_retention_years, 7);
  EXPECT_EQ(c->audit_checkpoint_every, 100);
  EXPECT_EQ(c->break_glass_max_hours, 4);
  EXPECT_EQ(c->admin_idle_timeout.count(), 300);
}

TEST_F(AuditConfigTest, RetentionUnderSixYearsIsRefused) {
  auto c = Load("[audit]\nretention_years = 5\n");
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(c.error().message.find("164.316(b)(2)"), std::string::npos);
  EXPECT_TRUE(Load("[audit]\nretention_years = 6\n").has_value());
  EXPECT_FALSE(Load("[admin]\nbreak_glass_max_hours = 0\n").has_value());
  EXPECT_FALSE(Load("[audit]\nretention_days = 9\n").has_value());
}

}  // namespace
}  // namespace cls::coordinator
