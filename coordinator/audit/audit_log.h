#ifndef CLS_COORDINATOR_AUDIT_AUDIT_LOG_H_
#define CLS_COORDINATOR_AUDIT_AUDIT_LOG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/audit_chain.h"
#include "common/error.h"
#include "common/sqlite_db.h"

namespace cls::coordinator {

// How the audit log signs its head (docs/audit.md).
struct AuditCheckpointing {
  std::string coordinator_id;
  std::unique_ptr<audit::CheckpointSigner> signer;
  std::string certificate_pem;  // goes into exports, to verify signatures
  std::string directory;        // one JSON file per checkpoint; "" = none
  int every_entries = 100;
};

// The coordinator's tamper-evident audit log: an append-only hash chain in
// the coordinator's SQLite database (synchronous FULL, one transaction per
// entry), signed checkpoints of its head in a table and as files, pruning
// behind a signed checkpoint, and exports that clsctl verifies offline.
// Thread-compatible: the coordinator's io thread only. Borrows the database.
class AuditLog {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  // `db` has the coordinator schema (coordinator/storage/schema.h).
  explicit AuditLog(SqliteDb& db);

  // Turns on signed checkpoints: every `every_entries` entries, after each
  // completed round, at a prune cut, and on request.
  void EnableCheckpoints(AuditCheckpointing checkpointing);
  bool checkpoints_enabled() const { return checkpointing_.signer != nullptr; }
  // Called with each new checkpoint (e.g. to send it to the sites).
  void OnCheckpoint(std::function<void(const audit::AuditCheckpoint&)> f) {
    on_checkpoint_ = std::move(f);
  }
  // Tests move time.
  void SetClockForTesting(Clock clock) { clock_ = std::move(clock); }

  // Appends one entry chained to the head. An entry made under the
  // break_glass role carries "break_glass": true in its fields.
  //
  // Inside a transaction (CoordinatorStore::AuditedChange) the entry
  // commits or rolls back with the change it records, and a checkpoint it
  // makes due is signed only once it is committed
  // (SignCheckpointIfCommitted): a checkpoint must never cover an entry
  // that could still be rolled back.
  Result<audit::AuditEntry> Append(const std::string& actor,
                                   const std::string& actor_role,
                                   const std::string& event_type,
                                   const nlohmann::json& fields);

  // Entries with since <= timestamp <= until (empty = unbounded), by seq.
  Result<std::vector<audit::AuditEntry>> Entries(const std::string& since,
                                                 const std::string& until);
  // Checkpoints from the table and from the checkpoint files, by seq; the
  // files keep a checkpoint deleted from the table.
  Result<std::vector<audit::AuditCheckpoint>> Checkpoints();

  // Signs the checkpoint the last Append made due, once that entry is
  // committed; drops it if the entry was rolled back. Does nothing inside a
  // transaction or when none is due.
  void SignCheckpointIfCommitted();

  // Signs the current head; FailedPrecondition if signing is off or the log
  // is empty.
  Result<audit::AuditCheckpoint> WriteCheckpoint(const std::string& reason);

  // Deletes entries older than `cutoff` (ISO 8601 UTC), never the head,
  // after signing a checkpoint at the last deleted entry so the rest still
  // verifies; audits the prune. Returns how many entries went.
  Result<int64_t> Prune(const std::string& cutoff);
  // Prune(now - retention_years), 365.25-day years.
  Result<int64_t> PruneOlderThanYears(int retention_years);

  // The export document (audit_chain.h, kExportFormat).
  Result<nlohmann::json> Export(const std::string& since,
                                const std::string& until);
  // VerifyChain over the whole database and every checkpoint.
  Result<audit::ChainReport> Verify(const audit::CheckpointVerifier* verifier);

  std::string Now() const;

 private:
  Result<audit::AuditCheckpoint> SignAndStore(int64_t seq,
                                              const std::string& hash,
                                              const std::string& reason);
  Status WriteCheckpointFile(const audit::AuditCheckpoint& checkpoint);

  // A checkpoint made due by an entry that was not yet committed.
  struct DueCheckpoint {
    int64_t seq = 0;
    std::string hash;
    std::string reason;
  };

  SqliteDb& db_;
  AuditCheckpointing checkpointing_;
  std::optional<DueCheckpoint> due_checkpoint_;
  std::function<void(const audit::AuditCheckpoint&)> on_checkpoint_;
  Clock clock_;
};

// "2026-11-27T05:16:42Z".
std::string FormatUtc(std::chrono::system_clock::time_point t);

struct CoordinatorConfig;
// Loads the coordinator's TLS key and certificate as checkpoint signer,
// checkpoints into data_dir/audit-checkpoints, prunes past the configured
// retention and signs the head if no checkpoint covers it yet.
Status ConfigureAuditLog(AuditLog& log, const CoordinatorConfig& config);

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_AUDIT_AUDIT_LOG_H_
