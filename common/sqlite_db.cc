#include "common/sqlite_db.h"

#include <sqlite3.h>

namespace cls {

SqlStatement::SqlStatement(SqlStatement&& o) noexcept
    : db_(o.db_), stmt_(o.stmt_) {
  o.stmt_ = nullptr;
}
SqlStatement& SqlStatement::operator=(SqlStatement&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(stmt_);
    db_ = o.db_;
    stmt_ = o.stmt_;
    o.stmt_ = nullptr;
  }
  return *this;
}
SqlStatement::~SqlStatement() { sqlite3_finalize(stmt_); }

Status SqlStatement::Bind(std::initializer_list<SqlValue> values) {
  int i = 1;
  for (const auto& v : values) {
    int rc = std::visit(
        [&](const auto& x) -> int {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, std::nullptr_t>) {
            return sqlite3_bind_null(stmt_, i);
          } else if constexpr (std::is_same_v<T, int64_t>) {
            return sqlite3_bind_int64(stmt_, i, x);
          } else if constexpr (std::is_same_v<T, double>) {
            return sqlite3_bind_double(stmt_, i, x);
          } else if constexpr (std::is_same_v<T, std::string>) {
            return sqlite3_bind_text(stmt_, i, x.data(),
                                     static_cast<int>(x.size()),
                                     SQLITE_TRANSIENT);
          } else {
            return sqlite3_bind_blob(stmt_, i, x.data(),
                                     static_cast<int>(x.size()),
                                     SQLITE_TRANSIENT);
          }
        },
        v);
    if (rc != SQLITE_OK) {
      return Internal(std::string("sqlite bind: ") + sqlite3_errmsg(db_));
    }
    ++i;
  }
  return {};
}

Result<bool> SqlStatement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  if (rc == SQLITE_BUSY) return Unavailable("sqlite: database is busy");
  return Internal(std::string("sqlite step: ") + sqlite3_errmsg(db_));
}

int64_t SqlStatement::Int(int c) const {
  return sqlite3_column_int64(stmt_, c);
}
double SqlStatement::Double(int c) const {
  return sqlite3_column_double(stmt_, c);
}
bool SqlStatement::IsNull(int c) const {
  return sqlite3_column_type(stmt_, c) == SQLITE_NULL;
}
std::string SqlStatement::Text(int c) const {
  const auto* p = sqlite3_column_text(stmt_, c);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         sqlite3_column_bytes(stmt_, c))
           : std::string();
}
Bytes SqlStatement::Blob(int c) const {
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, c));
  return p ? Bytes(p, p + sqlite3_column_bytes(stmt_, c)) : Bytes();
}

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &raw,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
      nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close(raw);
    return Unavailable("cannot open database " + path + ": " + msg);
  }
  std::unique_ptr<SqliteDb> db(new SqliteDb(raw));
  sqlite3_busy_timeout(raw, 5000);
  for (const char* pragma :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
        "PRAGMA foreign_keys=ON"}) {
    if (auto s = db->Exec(pragma); !s) return std::unexpected(s.error());
  }
  return db;
}

// sqlite3_close refuses (SQLITE_BUSY) while a statement is unfinalized and
// the connection leaked; close_v2 closes it when the last one is finalized.
SqliteDb::~SqliteDb() {
  checkpointer_.reset();
  sqlite3_close_v2(db_);
}

Status SqliteDb::CheckpointInBackground(int pages) {
  if (checkpointer_) return {};
  auto checkpointer = WalCheckpointer::Attach(db_, pages);
  if (!checkpointer) return std::unexpected(checkpointer.error());
  checkpointer_ = std::move(*checkpointer);
  return {};
}

Error SqliteDb::LastError(const std::string& what) const {
  return Error{ErrorCode::kInternal, what + ": " + sqlite3_errmsg(db_)};
}

bool SqliteDb::InTransaction() const {
  return sqlite3_get_autocommit(db_) == 0;
}

Status SqliteDb::Exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Internal("sqlite: " + msg);
  }
  return {};
}

Result<SqlStatement> SqliteDb::Prepare(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    return std::unexpected(LastError("sqlite prepare"));
  }
  return SqlStatement(db_, stmt);
}

Status SqliteDb::Run(const std::string& sql,
                     std::initializer_list<SqlValue> values) {
  auto stmt = Prepare(sql);
  if (!stmt) return std::unexpected(stmt.error());
  if (auto s = stmt->Bind(values); !s) return s;
  while (true) {
    auto more = stmt->Step();
    if (!more) return std::unexpected(more.error());
    if (!*more) return {};
  }
}

int64_t SqliteDb::LastInsertId() const {
  return sqlite3_last_insert_rowid(db_);
}

}  // namespace cls
