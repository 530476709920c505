#include "common/sqlite_db.h"

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/testing/temp_dir.h"

namespace cls {
namespace {

class SqliteTransactionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = SqliteDb::Open(":memory:");
    ASSERT_TRUE(db) << db.error().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Exec("CREATE TABLE t (name TEXT NOT NULL)").has_value());
  }
  Status Insert(const std::string& name) {
    return db_->Run("INSERT INTO t (name) VALUES (?)", {name});
  }
  std::vector<std::string> Names() {
    auto rows =
        QueryRows<std::string>(*db_, "SELECT name FROM t ORDER BY rowid", {},
                               [](const SqlStatement& s) { return s.Text(0); });
    EXPECT_TRUE(rows);
    return *rows;
  }
  std::unique_ptr<SqliteDb> db_;
};

TEST_F(SqliteTransactionTest, ANestedTransactionCommitsWithTheOuterOne) {
  Status s = db_->Transaction([&]() -> Status {
    if (auto i = Insert("change"); !i) return i;
    EXPECT_TRUE(db_->InTransaction());
    return db_->Transaction([&] { return Insert("audit entry"); });
  });
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_FALSE(db_->InTransaction());
  EXPECT_EQ(Names(), (std::vector<std::string>{"change", "audit entry"}));
}

TEST_F(SqliteTransactionTest, AFailedNestedTransactionUndoesOnlyItsOwnChanges) {
  Status s = db_->Transaction([&]() -> Status {
    if (auto i = Insert("kept"); !i) return i;
    Status inner = db_->Transaction([&]() -> Status {
      if (auto i = Insert("undone"); !i) return i;
      return Aborted("inner step refused");
    });
    EXPECT_FALSE(inner);
    EXPECT_TRUE(db_->InTransaction());
    return Insert("after");
  });
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(Names(), (std::vector<std::string>{"kept", "after"}));
}

TEST_F(SqliteTransactionTest, AFailedOuterTransactionUndoesItsNestedOnes) {
  Status s = db_->Transaction([&]() -> Status {
    if (auto inner = db_->Transaction([&] { return Insert("audit entry"); });
        !inner) {
      return inner;
    }
    return Aborted("the change failed after its audit entry");
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "the change failed after its audit entry");
  EXPECT_FALSE(db_->InTransaction());
  EXPECT_TRUE(Names().empty());
}

// A commit only wakes the checkpointer; its thread copies the WAL into the
// database file, and what it copied is there after a reopen.
TEST(WalCheckpointerTest, TheThreadCheckpointsWhatCommitsLeaveInTheWal) {
  testing::TempDir dir("cls-wal-checkpointer");
  const std::string path = (dir.path() / "db.sqlite").string();
  {
    auto db = SqliteDb::Open(path);
    ASSERT_TRUE(db) << db.error().ToString();
    ASSERT_TRUE((*db)->Exec("CREATE TABLE t (b BLOB NOT NULL)").has_value());
    ASSERT_TRUE((*db)->CheckpointInBackground(/*pages=*/16).has_value());
    ASSERT_TRUE(
        (*db)->Exec("INSERT INTO t VALUES (randomblob(1048576))").has_value());
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (((*db)->checkpointer()->checkpoints() < 1 ||
            std::filesystem::file_size(path) < (size_t{1} << 20)) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_GE(std::filesystem::file_size(path), size_t{1} << 20);
    EXPECT_GE((*db)->checkpointer()->checkpoints(), 1);
  }
  auto reopened = SqliteDb::Open(path);
  ASSERT_TRUE(reopened);
  auto rows =
      QueryRows<int64_t>(**reopened, "SELECT length(b) FROM t", {},
                         [](const SqlStatement& s) { return s.Int(0); });
  ASSERT_TRUE(rows);
  EXPECT_EQ(*rows, std::vector<int64_t>{int64_t{1} << 20});
}

TEST(WalCheckpointerTest, ASmallWalIsLeftAloneAndMemoryIsRefused) {
  testing::TempDir dir("cls-wal-checkpointer");
  auto db = SqliteDb::Open((dir.path() / "db.sqlite").string());
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->CheckpointInBackground(/*pages=*/100000).has_value());
  ASSERT_TRUE((*db)->Exec("CREATE TABLE t (x INTEGER)").has_value());
  EXPECT_EQ((*db)->checkpointer()->checkpoints(), 0);

  auto memory = SqliteDb::Open(":memory:");
  ASSERT_TRUE(memory);
  auto refused = (*memory)->CheckpointInBackground();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
}

}  // namespace
}  // namespace cls
