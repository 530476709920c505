#ifndef CLS_COMMON_WAL_CHECKPOINTER_H_
#define CLS_COMMON_WAL_CHECKPOINTER_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "common/error.h"

struct sqlite3;

namespace cls {

// Takes a WAL database's checkpoints off the thread that commits. SQLite
// checkpoints on the committing connection by default, once the WAL holds
// 1,000 pages: it copies them into the database file and fsyncs it, inside
// the commit's call. After a 4 MB model version that is ~10 ms more on the
// coordinator's io thread. Here the committing connection's WAL hook only
// wakes this thread, which checkpoints (PASSIVE: it never waits for, nor
// blocks, readers and writers) through a connection of its own. A crash
// loses nothing: what is not yet checkpointed is in the WAL, which SQLite
// replays on the next open.
class WalCheckpointer {
 public:
  // Attaches to `db` (a WAL database file; wal_autocheckpoint is turned off
  // on it) and starts the thread. Destroy it before `db` is closed.
  static Result<std::unique_ptr<WalCheckpointer>> Attach(sqlite3* db,
                                                         int pages = 1000);
  // Detaches from `db` and joins the thread.
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // How many checkpoints ran (tests).
  int checkpoints() const;

 private:
  WalCheckpointer(sqlite3* db, sqlite3* own, int pages);
  static int OnCommit(void* self, sqlite3* db, const char* name, int pages);
  void Run();

  sqlite3* db_;   // the committing connection (borrowed)
  sqlite3* own_;  // this thread's connection
  const int pages_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool due_ = false;
  bool stop_ = false;
  int checkpoints_ = 0;
  std::thread thread_;
};

}  // namespace cls

#endif  // CLS_COMMON_WAL_CHECKPOINTER_H_
