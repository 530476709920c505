#ifndef CLS_COORDINATOR_STORAGE_BACKUP_SERVICE_H_
#define CLS_COORDINATOR_STORAGE_BACKUP_SERVICE_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/worker_pool.h"
#include "coordinator/config.h"
#include "coordinator/storage/backup.h"
#include "coordinator/storage/store.h"

namespace cls::coordinator {

// The coordinator's online backups ([backup] in the config): on demand
// (POST /v1/backup) and every `interval_s` when set. The copy, its check,
// its checksum and the pruning run on the worker pool (WriteBackup over a
// connection of their own); the io thread only starts them and, once one
// finished, audits backup_created (file, bytes, sha256: nothing about
// patients) or backup_failed and answers whoever asked.
//
// One backup at a time: a request while one runs waits for that one (it
// started after the request's data was committed or while it was, and is
// as good a copy). Single-threaded: the io thread. The pool (null: the work
// runs inline) is borrowed and must be joined before the service goes.
class BackupService {
 public:
  using Done = std::function<void(const Result<BackupResult>&)>;

  BackupService(boost::asio::io_context& io, const BackupConfig& config,
                std::string db_path, CoordinatorStore& store,
                cls::WorkerPool* workers);
  ~BackupService();
  BackupService(const BackupService&) = delete;
  BackupService& operator=(const BackupService&) = delete;

  // Arms the timer when interval_s > 0.
  void Start();
  // Cancels the timer and asks a running copy to stop at its next step.
  void Stop();

  // Takes a backup for `actor` (audited with the name and role), or joins
  // the running one; `done` runs on the io thread.
  void Create(const std::string& actor, const std::string& actor_role,
              Done done);

  const BackupConfig& config() const { return config_; }

 private:
  void ArmTimer();
  void Finished(Result<BackupResult> result, int pruned);

  boost::asio::io_context& io_;
  const BackupConfig& config_;
  std::string db_path_;
  CoordinatorStore& store_;
  cls::WorkerPool* workers_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  bool running_ = false;
  std::string actor_, actor_role_;  // who started the running one
  std::vector<Done> waiting_;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_STORAGE_BACKUP_SERVICE_H_
