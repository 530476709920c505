// Online backup of a live coordinator database, retention, and restore's
// refusals, against real SQLite files.
#include "coordinator/storage/backup.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "audit/audit_test_util.h"
#include "coordinator/storage/backup_service.h"
#include "coordinator/storage/restore.h"
#include "coordinator/storage/store.h"

namespace cls::coordinator {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int64_t Count(SqliteDb& db, const std::string& sql) {
  auto stmt = db.Prepare(sql);
  EXPECT_TRUE(stmt) << stmt.error().message;
  auto row = stmt->Step();
  EXPECT_TRUE(row && *row);
  return stmt->Int(0);
}

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("cls-backup-test-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "state");
    db_path_ = root_ / "state" / "coordinator.db";
    backups_ = root_ / "backups";
    auto store = CoordinatorStore::Open(db_path_.string());
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    ASSERT_TRUE(
        store_->db()
            .Exec("CREATE TABLE pairs (id INTEGER PRIMARY KEY, half INTEGER, "
                  "payload BLOB)")
            .has_value());
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(root_);
  }

  // Rows in twos, one transaction each: a torn copy would show an odd count.
  static Status AddPair(SqliteDb& db, size_t payload_bytes) {
    return db.Transaction([&]() -> Status {
      for (int64_t half : {0, 1}) {
        CLS_RETURN_IF_ERROR(
            db.Run("INSERT INTO pairs (half, payload) VALUES "
                   "(?, zeroblob(?))",
                   {half, static_cast<int64_t>(payload_bytes)}));
      }
      return {};
    });
  }

  CoordinatorConfig RestoreConfig(const std::string& data_dir) {
    id_ = cls::testing::MakeCoordinatorIdentity(root_.string(), "coord");
    CoordinatorConfig c;
    c.data_dir = data_dir;
    c.tls.cert_file = id_.cert_file;
    c.tls.ca_file = id_.cert_file;  // self-signed: its own CA
    c.versions.kek_file = (root_ / "model.kek").string();
    return c;
  }

  fs::path root_, db_path_, backups_;
  std::unique_ptr<CoordinatorStore> store_;
  cls::testing::TestCoordinatorIdentity id_;
};

TEST_F(BackupTest, LiveStoreWithAConcurrentWriterGivesConsistentCopies) {
  // ~24 MB, so each copy takes several steps while the writer commits.
  for (int i = 0; i < 24; ++i) {
    ASSERT_TRUE(AddPair(store_->db(), 512 * 1024).has_value());
  }
  std::atomic<bool> stop{false};
  std::atomic<int64_t> committed{0};
  std::thread writer([&] {
    auto store = CoordinatorStore::Open(db_path_.string());
    ASSERT_TRUE(store) << store.error().message;
    while (!stop.load()) {
      ASSERT_TRUE(AddPair((*store)->db(), 4096).has_value());
      ASSERT_TRUE(
          (*store)
              ->Audit("alice", "admin", "site_approved",
                      {{"site_id", "HOSP_" + std::to_string(committed.load())}})
              .has_value());
      committed.fetch_add(1);
    }
  });
  // The writer is committing before the copies start.
  while (committed.load() < 5) std::this_thread::yield();
  std::vector<BackupResult> results;
  for (int i = 0; i < 3; ++i) {
    auto backup = WriteBackup(db_path_, backups_);
    ASSERT_TRUE(backup) << backup.error().message;
    results.push_back(*backup);
  }
  const int64_t before_stop = committed.load();
  stop = true;
  writer.join();
  EXPECT_GT(before_stop, 5);

  for (const auto& b : results) {
    SCOPED_TRACE(b.file);
    // No rounds yet: round 0 in the name (and a suffix within one second).
    EXPECT_TRUE(std::regex_match(
        b.file, std::regex(R"(coordinator-\d{8}T\d{6}Z-0(-\d+)?\.db)")));
    EXPECT_FALSE(fs::exists(b.path + ".tmp"));
    EXPECT_EQ(static_cast<int64_t>(fs::file_size(b.path)), b.bytes);
    EXPECT_EQ(ReadFile(b.path + ".sha256"), b.sha256 + "  " + b.file + "\n");
    EXPECT_EQ(*FileSha256Hex(b.path), b.sha256);
    EXPECT_TRUE(CheckDatabaseIntegrity(b.path).has_value());
    // A standalone file: opened read-only, no WAL needed.
    auto copy = SqliteDb::Open(b.path);
    ASSERT_TRUE(copy) << copy.error().message;
    const int64_t rows = Count(**copy, "SELECT COUNT(*) FROM pairs");
    EXPECT_EQ(rows % 2, 0) << "a transaction was torn";
    EXPECT_GE(rows, 48 + 10);
    EXPECT_EQ(Count(**copy, "SELECT COUNT(*) FROM pairs WHERE half = 0") * 2,
              rows);
    // The audit chain in the copy is whole.
    AuditLog log(**copy);
    auto report = log.Verify(nullptr);
    ASSERT_TRUE(report) << report.error().message;
    EXPECT_TRUE(report->ok()) << audit::ReportToJson(*report).dump();
    EXPECT_GE(report->entries, 5);
  }
}

TEST_F(BackupTest, RetentionKeepsTheNewestAndRemovesLeftovers) {
  ASSERT_TRUE(AddPair(store_->db(), 16).has_value());
  std::vector<std::string> names;
  for (int i = 0; i < 5; ++i) {
    auto backup = WriteBackup(db_path_, backups_);
    ASSERT_TRUE(backup) << backup.error().message;
    names.push_back(backup->file);
  }
  // Same second, same round: the names still differ.
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), 5u);
  std::ofstream(backups_ / "coordinator-20260101T000000Z-1.db.tmp") << "torn";
  std::ofstream(backups_ / "notes.txt") << "an operator's file";
  auto pruned = PruneBackups(backups_, 3);
  ASSERT_TRUE(pruned) << pruned.error().message;
  EXPECT_EQ(*pruned, 2);
  for (int i = 0; i < 5; ++i) {
    const bool kept = i >= 2;
    EXPECT_EQ(fs::exists(backups_ / names[i]), kept) << names[i];
    EXPECT_EQ(fs::exists(backups_ / (names[i] + ".sha256")), kept);
  }
  EXPECT_FALSE(fs::exists(backups_ / "coordinator-20260101T000000Z-1.db.tmp"));
  EXPECT_TRUE(fs::exists(backups_ / "notes.txt"));
}

TEST_F(BackupTest, TheTimerTakesBackupsOnThePoolAndAuditsThem) {
  BackupConfig config{.dir = backups_.string(), .interval_s = 1, .keep = 2};
  boost::asio::io_context io;
  auto workers = std::make_unique<cls::WorkerPool>(1);
  BackupService service(io, config, db_path_.string(), *store_, workers.get());
  service.Start();
  const auto count = [&] {
    int n = 0;
    auto entries = store_->audit_log().Entries("", "");
    for (const auto& e : *entries) {
      n += e.event_type == "backup_created" && e.actor == "coordinator";
    }
    return n;
  };
  // Three ticks: retention keeps two.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (count() < 3 && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(100));
  }
  service.Stop();
  workers.reset();
  ASSERT_EQ(count(), 3);
  int kept = 0;
  for (const auto& e : fs::directory_iterator(backups_)) {
    kept += e.path().extension() == ".db";
  }
  EXPECT_EQ(kept, 2);
}

TEST_F(BackupTest, RestoreRefusesACorruptedBackup) {
  ASSERT_TRUE(
      store_->Audit("alice", "admin", "site_approved", {{"site_id", "HOSP_B"}})
          .has_value());
  auto backup = WriteBackup(db_path_, backups_);
  ASSERT_TRUE(backup) << backup.error().message;
  {
    std::fstream f(backup->path,
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(backup->bytes / 2);
    char c = 0;
    f.read(&c, 1);
    c ^= 0x5a;
    f.seekp(backup->bytes / 2);
    f.write(&c, 1);
  }
  const std::string data_dir = (root_ / "restored").string();
  auto restored = RestoreBackup(backup->path, RestoreConfig(data_dir), false);
  ASSERT_FALSE(restored);
  EXPECT_EQ(restored.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(restored.error().message.find("does not match its sha256 file"),
            std::string::npos)
      << restored.error().message;
  EXPECT_FALSE(fs::exists(fs::path(data_dir) / "coordinator.db"));

  // Without its checksum file a backup cannot be checked: refused too.
  auto good = WriteBackup(db_path_, backups_);
  ASSERT_TRUE(good);
  fs::remove(good->path + ".sha256");
  auto unchecked = RestoreBackup(good->path, RestoreConfig(data_dir), false);
  ASSERT_FALSE(unchecked);
  EXPECT_NE(unchecked.error().message.find(".sha256"), std::string::npos);
}

TEST_F(BackupTest, RestoreRefusesToOverwriteWithoutForceAndNeverDeletes) {
  ASSERT_TRUE(
      store_->Audit("alice", "admin", "site_approved", {{"site_id", "HOSP_A"}})
          .has_value());
  auto backup = WriteBackup(db_path_, backups_);
  ASSERT_TRUE(backup) << backup.error().message;
  // The live database moves on after the backup.
  ASSERT_TRUE(AddPair(store_->db(), 16).has_value());
  store_.reset();
  const auto config = RestoreConfig((root_ / "state").string());

  auto refused = RestoreBackup(backup->path, config, false);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kAlreadyExists);
  EXPECT_NE(refused.error().message.find("--force"), std::string::npos);
  {
    auto db = SqliteDb::Open(db_path_.string());
    ASSERT_TRUE(db);
    EXPECT_EQ(Count(**db, "SELECT COUNT(*) FROM pairs"), 2) << "untouched";
  }

  // Checkpoints signed for the replaced log would not match the restored one.
  fs::create_directories(root_ / "state" / "audit-checkpoints");
  std::ofstream(root_ / "state" / "audit-checkpoints" / "checkpoint-1.json")
      << "{}";
  auto forced = RestoreBackup(backup->path, config, true);
  ASSERT_TRUE(forced) << forced.error().message;
  EXPECT_NE(forced->find("moved aside"), std::string::npos) << *forced;
  EXPECT_NE(forced->find("WARNING: the model key-encryption key"),
            std::string::npos)
      << "no KEK file: the operator is told";
  // The old database is beside it, whole.
  int replaced = 0;
  for (const auto& e : fs::directory_iterator(root_ / "state")) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with("coordinator.db.replaced-")) continue;
    ++replaced;
    auto old = SqliteDb::Open(e.path().string());
    ASSERT_TRUE(old);
    EXPECT_EQ(Count(**old, "SELECT COUNT(*) FROM pairs"), 2);
  }
  EXPECT_EQ(replaced, 1);
  EXPECT_FALSE(fs::exists(root_ / "state" / "audit-checkpoints"));
  EXPECT_NE(forced->find("audit-checkpoints.replaced-"), std::string::npos);
  EXPECT_TRUE(fs::exists(root_ / "state" / kRestoreMarkerFile));
  // The restored database is the backup's, and the next start verifies its
  // audit log, records the restore and removes the marker.
  auto restored = CoordinatorStore::Open(db_path_.string());
  ASSERT_TRUE(restored);
  EXPECT_EQ(Count((*restored)->db(), "SELECT COUNT(*) FROM pairs"), 0);
  ASSERT_TRUE(FinishRestoreAtStart(**restored, config).has_value());
  EXPECT_FALSE(fs::exists(root_ / "state" / kRestoreMarkerFile));
  auto entries = (*restored)->audit_log().Entries("", "");
  ASSERT_TRUE(entries);
  EXPECT_EQ(entries->back().event_type, "coordinator_restored");
}

}  // namespace
}  // namespace cls::coordinator
