#include "coordinator/storage/backup.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <memory>
#include <vector>

#include "common/durable_file.h"
#include "crypto/sha256.h"

namespace cls::coordinator {
namespace {

namespace fs = std::filesystem;

// Pages per backup step: 4 MiB at SQLite's default page size, so a cancel
// is noticed quickly and no step holds the destination long.
constexpr int kPagesPerStep = 1024;

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbHandle = std::unique_ptr<sqlite3, CloseDb>;

Result<DbHandle> OpenDb(const fs::path& path, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DbHandle db(raw);
  if (rc != SQLITE_OK) {
    return Unavailable("backup: cannot open " + path.string() + ": " +
                       (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(raw, 5000);
  return db;
}

Status Exec(sqlite3* db, const char* sql, const fs::path& path) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    return Unavailable("backup: " + std::string(sql) + " on " + path.string() +
                       ": " + text);
  }
  return {};
}

// One integer from a query (0 when no row).
int64_t QueryInt(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  int64_t value = 0;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    value = sqlite3_column_int64(stmt, 0);
  }
  sqlite3_finalize(stmt);
  return value;
}

Status FsyncFile(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Unavailable("backup: cannot open " + path.string());
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Unavailable("backup: fsync of " + path.string());
  return {};
}

std::string Format(std::time_t t, const char* format) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

bool IsBackupName(const std::string& name) {
  return name.starts_with("coordinator-") && name.ends_with(".db");
}

}  // namespace

Result<std::string> FileSha256Hex(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path.string());
  crypto::Sha256Hasher hasher;
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto n = in.gcount();
    if (n > 0) {
      hasher.Update(ByteSpan(reinterpret_cast<const uint8_t*>(buffer.data()),
                             static_cast<size_t>(n)));
    }
  }
  if (in.bad()) return Unavailable("error reading " + path.string());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (uint8_t b : hasher.Finish()) {
    hex += kHex[b >> 4];
    hex += kHex[b & 15];
  }
  return hex;
}

Status CheckDatabaseIntegrity(const fs::path& path) {
  if (!fs::is_regular_file(path)) return NotFound("no file " + path.string());
  auto db = OpenDb(path, SQLITE_OPEN_READONLY);
  if (!db) return std::unexpected(db.error());
  sqlite3_stmt* stmt = nullptr;
  std::string verdict;
  int rc = sqlite3_prepare_v2(db->get(), "PRAGMA integrity_check", -1, &stmt,
                              nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    const auto* text = sqlite3_column_text(stmt, 0);
    verdict = text ? reinterpret_cast<const char*>(text) : "";
  } else {
    verdict = sqlite3_errmsg(db->get());
  }
  sqlite3_finalize(stmt);
  if (verdict != "ok") {
    return DataLoss(path.string() +
                    " fails PRAGMA integrity_check: " + verdict);
  }
  return {};
}

Result<BackupResult> WriteBackup(const fs::path& db_path,
                                 const fs::path& folder,
                                 const std::atomic<bool>* cancel) {
  const auto started = std::chrono::steady_clock::now();
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) {
    return Unavailable("backup: cannot create " + folder.string() + ": " +
                       ec.message());
  }
  auto source = OpenDb(db_path, SQLITE_OPEN_READONLY);
  if (!source) return std::unexpected(source.error());
  // One snapshot for the whole copy: the read transaction pins it, so the
  // coordinator's commits meanwhile neither show up half nor restart the
  // copy (WAL: readers never block the writer).
  CLS_RETURN_IF_ERROR(Exec(source->get(), "BEGIN", db_path));
  BackupResult result;
  result.round_id =
      QueryInt(source->get(), "SELECT COALESCE(MAX(round_id), 0) FROM rounds");
  const std::time_t now = std::time(nullptr);
  result.created_at = Format(now, "%Y-%m-%dT%H:%M:%SZ");
  const std::string stem = "coordinator-" + Format(now, "%Y%m%dT%H%M%SZ") +
                           "-" + std::to_string(result.round_id);
  result.file = stem + ".db";
  // Two backups in the same second of the same round get distinct names.
  for (int n = 2; fs::exists(folder / result.file); ++n) {
    result.file = stem + "-" + std::to_string(n) + ".db";
  }
  result.path = (folder / result.file).string();
  const fs::path tmp = result.path + ".tmp";
  fs::remove(tmp, ec);
  struct RemoveTmp {
    const fs::path& tmp;
    bool keep = false;
    ~RemoveTmp() {
      std::error_code ignored;
      if (!keep) fs::remove(tmp, ignored);
    }
  } remove_tmp{tmp};
  {
    auto dest = OpenDb(tmp, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (!dest) return std::unexpected(dest.error());
    sqlite3_backup* backup =
        sqlite3_backup_init(dest->get(), "main", source->get(), "main");
    if (backup == nullptr) {
      return Unavailable("backup: cannot start the copy into " + tmp.string() +
                         ": " + sqlite3_errmsg(dest->get()));
    }
    int rc = SQLITE_OK;
    while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
      if (cancel != nullptr && cancel->load()) break;
      rc = sqlite3_backup_step(backup, kPagesPerStep);
      if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(10);
    }
    sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE) {
      if (cancel != nullptr && cancel->load()) {
        return MakeError(ErrorCode::kAborted,
                         "backup: cancelled (the coordinator is stopping)");
      }
      return Unavailable("backup: copy into " + tmp.string() +
                         " failed: " + sqlite3_errstr(rc));
    }
    // The copy is a standalone file: no WAL beside it.
    CLS_RETURN_IF_ERROR(Exec(dest->get(), "PRAGMA journal_mode = DELETE", tmp));
  }
  (void)Exec(source->get(), "COMMIT", db_path);
  source->reset();
  CLS_RETURN_IF_ERROR(FsyncFile(tmp));
  // A copy that fails the check never takes a backup's name.
  CLS_RETURN_IF_ERROR(CheckDatabaseIntegrity(tmp));
  CLS_RETURN_IF_ERROR(RenameDurably(tmp, result.path));
  remove_tmp.keep = true;
  result.bytes = static_cast<int64_t>(fs::file_size(result.path, ec));
  auto sha = FileSha256Hex(result.path);
  if (!sha) return std::unexpected(sha.error());
  result.sha256 = *sha;
  const std::string line = result.sha256 + "  " + result.file + "\n";
  CLS_RETURN_IF_ERROR(WriteFileDurably(result.path + ".sha256", AsBytes(line)));
  result.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - started)
                           .count();
  return result;
}

Result<int> PruneBackups(const fs::path& folder, int keep) {
  struct Found {
    fs::file_time_type mtime;
    std::string name;
  };
  std::vector<Found> backups;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("coordinator-") && name.ends_with(".db.tmp")) {
      // An interrupted backup's leftover (never a finished one).
      fs::remove(entry.path(), ec);
      continue;
    }
    if (!IsBackupName(name) || !entry.is_regular_file()) continue;
    backups.push_back({entry.last_write_time(), name});
  }
  if (ec) {
    return Unavailable("backup: cannot list " + folder.string() + ": " +
                       ec.message());
  }
  // Newest first: by modification time, then by name.
  std::sort(backups.begin(), backups.end(), [](const Found& a, const Found& b) {
    return a.mtime != b.mtime ? a.mtime > b.mtime : a.name > b.name;
  });
  int removed = 0;
  for (size_t i = static_cast<size_t>(std::max(keep, 1)); i < backups.size();
       ++i) {
    const fs::path db = folder / backups[i].name;
    CLS_RETURN_IF_ERROR(RemoveDurably(db.string() + ".sha256"));
    CLS_RETURN_IF_ERROR(RemoveDurably(db));
    ++removed;
  }
  return removed;
}

}  // namespace cls::coordinator
