#ifndef CLS_COORDINATOR_STORAGE_BACKUP_H_
#define CLS_COORDINATOR_STORAGE_BACKUP_H_

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>

#include "common/error.h"

namespace cls::coordinator {

// One finished backup (docs/operations.md "Backup and restore").
struct BackupResult {
  std::string file;  // the name inside the backup folder
  std::string path;  // folder / file
  int64_t bytes = 0;
  std::string sha256;      // lower-case hex of the whole file
  std::string created_at;  // "2026-12-07T03:10:00Z"
  int64_t round_id = 0;    // the newest round in the copy (0: none)
  int64_t duration_ms = 0;
};

// Copies the live database at `db_path` into `folder` as
// coordinator-YYYYMMDDTHHMMSSZ-<round>.db with SQLite's online backup API,
// from a connection of its own that holds one read transaction throughout:
// WAL lets the coordinator keep committing meanwhile, and the copy is the
// database as it was when that transaction began (a commit during the copy
// neither tears it nor restarts it). The copy goes to a .tmp name, is
// fsynced, passes PRAGMA integrity_check, and only then takes its final name;
// a `<file>.sha256` (sha256sum format) is written beside it. `cancel` (may be
// null) stops the copy between steps with kAborted.
// Blocking file and database work: call it off the io thread.
Result<BackupResult> WriteBackup(const std::filesystem::path& db_path,
                                 const std::filesystem::path& folder,
                                 const std::atomic<bool>* cancel = nullptr);

// Deletes all but the newest `keep` backups in `folder` (with their .sha256
// files); leftovers of interrupted backups (*.db.tmp) go too. Returns how
// many backups were deleted.
Result<int> PruneBackups(const std::filesystem::path& folder, int keep);

// Lower-case hex SHA-256 of a file, read in chunks.
Result<std::string> FileSha256Hex(const std::filesystem::path& path);

// PRAGMA integrity_check on a database file opened read-only: OK, or
// DataLoss with SQLite's first complaint and the file's name.
Status CheckDatabaseIntegrity(const std::filesystem::path& path);

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_STORAGE_BACKUP_H_
