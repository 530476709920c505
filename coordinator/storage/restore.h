#ifndef CLS_COORDINATOR_STORAGE_RESTORE_H_
#define CLS_COORDINATOR_STORAGE_RESTORE_H_

#include <filesystem>
#include <string>

#include "common/error.h"
#include "coordinator/config.h"
#include "coordinator/storage/store.h"

namespace cls::coordinator {

// Left in data_dir by a restore; the next start verifies the audit log,
// records coordinator_restored and removes it.
inline constexpr const char* kRestoreMarkerFile = "restored-from-backup.json";

// `cls-coordinator --restore FILE` (docs/operations.md "Backup and
// restore"), with the coordinator stopped:
//  1. FILE must match its FILE.sha256 and pass PRAGMA integrity_check;
//  2. an existing data_dir/coordinator.db is refused (AlreadyExists) unless
//     `force`, which moves it, its -wal and -shm aside with a
//     ".replaced-<time>" suffix; an audit-checkpoints folder (signed for
//     the replaced log) always goes aside the same way: nothing is deleted;
//  3. FILE is copied into data_dir durably, its audit log is verified
//     (chain and signed checkpoints, against [tls] cert and ca) before it
//     takes the database's name, and the marker is written.
// Returns the lines to print. The KEK is not in the database: a line says
// so when neither [versions] kek_file nor CLS_MODEL_KEK is there.
Result<std::string> RestoreBackup(const std::filesystem::path& file,
                                  const CoordinatorConfig& config, bool force);

// At start, when the marker is present: verifies the restored audit log
// (DataLoss with the first problem when it does not verify: the coordinator
// then refuses to start), audits coordinator_restored with the marker's
// backup file and sha256, and removes the marker. Nothing when absent.
Status FinishRestoreAtStart(CoordinatorStore& store,
                            const CoordinatorConfig& config);

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_STORAGE_RESTORE_H_
