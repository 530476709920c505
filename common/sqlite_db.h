#ifndef CLS_COMMON_SQLITE_DB_H_
#define CLS_COMMON_SQLITE_DB_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "common/wal_checkpointer.h"

struct sqlite3;
struct sqlite3_stmt;

namespace cls {

// A value bound to or read from a statement.
using SqlValue =
    std::variant<std::nullptr_t, int64_t, double, std::string, Bytes>;

// One prepared statement. Move-only; finalized on destruction.
class SqlStatement {
 public:
  SqlStatement(SqlStatement&&) noexcept;
  SqlStatement& operator=(SqlStatement&&) noexcept;
  ~SqlStatement();

  // Binds 1-based parameters in order.
  Status Bind(std::initializer_list<SqlValue> values);
  // Advances: true with a row ready, false when done.
  Result<bool> Step();
  int64_t Int(int column) const;
  double Double(int column) const;
  std::string Text(int column) const;
  Bytes Blob(int column) const;
  bool IsNull(int column) const;

 private:
  friend class SqliteDb;
  SqlStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// A SQLite database in WAL mode with foreign keys on. Thread-compatible:
// one thread at a time. `synchronous=FULL` so a committed transaction
// survives power loss (the audit log and ledgers depend on it). A statement
// may outlive its database: the connection closes when both are gone.
class SqliteDb {
 public:
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  Status Exec(const std::string& sql);
  Result<SqlStatement> Prepare(const std::string& sql);
  // Prepare + bind + step to completion.
  Status Run(const std::string& sql,
             std::initializer_list<SqlValue> values = {});
  int64_t LastInsertId() const;

  // Runs `body` inside BEGIN IMMEDIATE / COMMIT, rolling back on error.
  // Inside another transaction it is a SAVEPOINT of that one: its changes
  // are undone if `body` fails, and made durable only when the outermost
  // transaction commits. This is how a change and its audit entry share one
  // transaction although each also runs alone.
  template <typename F>
  Status Transaction(F&& body) {
    const bool nested = InTransaction();
    if (auto s = Exec(nested ? "SAVEPOINT nested" : "BEGIN IMMEDIATE"); !s) {
      return s;
    }
    Status result = body();
    if (!result) {
      if (nested) {
        (void)Exec("ROLLBACK TO nested");
        (void)Exec("RELEASE nested");
      } else {
        (void)Exec("ROLLBACK");
      }
      return result;
    }
    return Exec(nested ? "RELEASE nested" : "COMMIT");
  }
  // True between BEGIN and COMMIT/ROLLBACK.
  bool InTransaction() const;

  // From now on the WAL is checkpointed on a thread of its own instead of
  // inside a commit (common/wal_checkpointer.h). A database file only.
  Status CheckpointInBackground(int pages = 1000);
  const WalCheckpointer* checkpointer() const { return checkpointer_.get(); }

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  Error LastError(const std::string& what) const;
  sqlite3* db_;
  std::unique_ptr<WalCheckpointer> checkpointer_;  // stopped before db_ closes
};

// Every row of `sql` with `args` bound, each turned into a T by `read`
// (called with the statement positioned on the row).
template <typename T, typename F>
Result<std::vector<T>> QueryRows(SqliteDb& db, const std::string& sql,
                                 std::initializer_list<SqlValue> args, F read) {
  auto stmt = db.Prepare(sql);
  if (!stmt) return std::unexpected(stmt.error());
  if (auto s = stmt->Bind(args); !s) return std::unexpected(s.error());
  std::vector<T> out;
  while (true) {
    auto row = stmt->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return out;
    out.push_back(read(*stmt));
  }
}

}  // namespace cls

#endif  // CLS_COMMON_SQLITE_DB_H_
