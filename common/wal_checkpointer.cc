#include "common/wal_checkpointer.h"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <string>

namespace cls {

Result<std::unique_ptr<WalCheckpointer>> WalCheckpointer::Attach(sqlite3* db,
                                                                 int pages) {
  const char* path = sqlite3_db_filename(db, "main");
  if (path == nullptr || *path == '\0') {
    return FailedPrecondition("background checkpoints need a database file");
  }
  sqlite3* own = nullptr;
  if (sqlite3_open_v2(path, &own, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = own ? sqlite3_errmsg(own) : "out of memory";
    sqlite3_close(own);
    return Unavailable("cannot open " + std::string(path) +
                       " for checkpoints: " + msg);
  }
  sqlite3_busy_timeout(own, 5000);
  // The checkpoint fsyncs the database file as `synchronous` says; and a
  // connection sees the WAL only once it has read the file (journal_mode).
  for (auto [connection, sql] :
       {std::pair{own, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL"},
        std::pair{db, "PRAGMA wal_autocheckpoint=0"}}) {
    char* err = nullptr;
    if (sqlite3_exec(connection, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown error";
      sqlite3_free(err);
      sqlite3_close(own);
      return Internal("sqlite: " + msg);
    }
  }
  return std::unique_ptr<WalCheckpointer>(new WalCheckpointer(db, own, pages));
}

WalCheckpointer::WalCheckpointer(sqlite3* db, sqlite3* own, int pages)
    : db_(db), own_(own), pages_(pages) {
  sqlite3_wal_hook(db_, &WalCheckpointer::OnCommit, this);
  thread_ = std::thread([this] { Run(); });
}

WalCheckpointer::~WalCheckpointer() {
  sqlite3_wal_hook(db_, nullptr, nullptr);
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
  sqlite3_close(own_);
}

int WalCheckpointer::checkpoints() const {
  std::lock_guard lock(mutex_);
  return checkpoints_;
}

// On the committing thread, right after each commit: only a wake-up.
int WalCheckpointer::OnCommit(void* self, sqlite3*, const char*, int pages) {
  auto* checkpointer = static_cast<WalCheckpointer*>(self);
  if (pages < checkpointer->pages_) return SQLITE_OK;
  {
    std::lock_guard lock(checkpointer->mutex_);
    checkpointer->due_ = true;
  }
  checkpointer->wake_.notify_one();
  return SQLITE_OK;
}

void WalCheckpointer::Run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return due_ || stop_; });
    if (stop_) return;
    due_ = false;
    lock.unlock();
    int rc = sqlite3_wal_checkpoint_v2(own_, "main", SQLITE_CHECKPOINT_PASSIVE,
                                       nullptr, nullptr);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      spdlog::warn("sqlite: background checkpoint failed: {}",
                   sqlite3_errmsg(own_));
    }
    lock.lock();
    ++checkpoints_;
  }
}

}  // namespace cls
