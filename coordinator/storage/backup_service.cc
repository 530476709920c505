#include "coordinator/storage/backup_service.h"

#include <spdlog/spdlog.h>

#include <chrono>

namespace cls::coordinator {

namespace {

// The work's answer: the backup and how many old ones were pruned.
struct Outcome {
  BackupResult backup;
  int pruned = 0;
};

}  // namespace

BackupService::BackupService(boost::asio::io_context& io,
                             const BackupConfig& config, std::string db_path,
                             CoordinatorStore& store, cls::WorkerPool* workers)
    : io_(io),
      config_(config),
      db_path_(std::move(db_path)),
      store_(store),
      workers_(workers),
      timer_(io),
      cancel_(std::make_shared<std::atomic<bool>>(false)) {}

BackupService::~BackupService() { Stop(); }

void BackupService::Start() {
  if (config_.interval_s > 0) ArmTimer();
}

void BackupService::Stop() {
  cancel_->store(true);
  timer_.cancel();
}

void BackupService::ArmTimer() {
  timer_.expires_after(std::chrono::seconds(config_.interval_s));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || cancel_->load()) return;
    Create("coordinator", "system", [](const Result<BackupResult>&) {});
    ArmTimer();
  });
}

void BackupService::Create(const std::string& actor,
                           const std::string& actor_role, Done done) {
  waiting_.push_back(std::move(done));
  if (running_) return;
  running_ = true;
  actor_ = actor;
  actor_role_ = actor_role;
  auto work = [db = db_path_, folder = config_.dir, keep = config_.keep,
               cancel = cancel_]() -> Result<Outcome> {
    auto backup = WriteBackup(db, folder, cancel.get());
    if (!backup) return std::unexpected(backup.error());
    // Pruning after the new one is complete: there are never fewer than
    // `keep` good backups on disk.
    auto pruned = PruneBackups(folder, keep);
    if (!pruned) return std::unexpected(pruned.error());
    return Outcome{std::move(*backup), *pruned};
  };
  auto finished = [this](Result<Outcome> outcome) {
    if (!outcome) {
      Finished(std::unexpected(outcome.error()), 0);
    } else {
      Finished(std::move(outcome->backup), outcome->pruned);
    }
  };
  if (workers_ == nullptr) {
    finished(work());
    return;
  }
  workers_->Run(io_.get_executor(), "backup", std::move(work),
                std::move(finished));
}

void BackupService::Finished(Result<BackupResult> result, int pruned) {
  running_ = false;
  if (result) {
    spdlog::info(
        "backup: {} ({} bytes, sha256 {}, round {}) in {} ms; {} old "
        "backup(s) pruned",
        result->path, result->bytes, result->sha256, result->round_id,
        result->duration_ms, pruned);
    if (auto s = store_.Audit(actor_, actor_role_, "backup_created",
                              {{"file", result->file},
                               {"bytes", result->bytes},
                               {"sha256", result->sha256},
                               {"round_id", result->round_id},
                               {"duration_ms", result->duration_ms},
                               {"pruned", pruned}});
        !s) {
      spdlog::error("audit: backup_created not recorded: {}",
                    s.error().message);
    }
  } else {
    spdlog::error("backup failed: {}", result.error().message);
    if (auto s = store_.Audit(actor_, actor_role_, "backup_failed",
                              {{"reason", result.error().message}});
        !s) {
      spdlog::error("audit: backup_failed not recorded: {}", s.error().message);
    }
  }
  store_.audit_log().SignCheckpointIfCommitted();
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& done : waiting) done(result);
}

}  // namespace cls::coordinator
