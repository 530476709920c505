#include "common/sqlite_db.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace cls
