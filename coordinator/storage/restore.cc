#include "coordinator/storage/restore.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/audit_chain.h"
#include "common/durable_file.h"
#include "coordinator/storage/backup.h"

namespace cls::coordinator {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Stamp() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

// Streams `from` into `to` and fsyncs it (a database may be larger than
// memory allows reading at once).
Status CopyDurably(const fs::path& from, const fs::path& to) {
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return NotFound("restore: cannot read " + from.string());
  const int out =
      ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) {
    ::close(in);
    return Unavailable("restore: cannot create " + to.string());
  }
  std::vector<char> buffer(1 << 20);
  bool ok = true;
  while (ok) {
    const ssize_t n = ::read(in, buffer.data(), buffer.size());
    if (n == 0) break;
    ok = n > 0;
    for (ssize_t done = 0; ok && done < n;) {
      const ssize_t w = ::write(out, buffer.data() + done, n - done);
      ok = w > 0;
      done += w;
    }
  }
  ok = ok && ::fsync(out) == 0;
  ::close(in);
  ::close(out);
  if (!ok)
    return Unavailable("restore: copying into " + to.string() + " failed");
  return SyncFolderOf(to);
}

// The chain and its signed checkpoints, against the coordinator's
// certificate as the CA vouches for it.
Status VerifyAuditLog(CoordinatorStore& store, const CoordinatorConfig& config,
                      const std::string& what) {
  auto verifier = audit::CheckpointVerifier::FromCertificatePem(
      ReadText(config.tls.cert_file), config.tls.ca_file);
  if (!verifier) return std::unexpected(verifier.error());
  auto report = store.audit_log().Verify(verifier->get());
  if (!report) return std::unexpected(report.error());
  if (!report->ok()) {
    const auto& p = report->problems.front();
    return DataLoss(what + ": the audit log does not verify (" +
                    std::to_string(report->problems.size()) +
                    " problem(s); first at seq " + std::to_string(p.seq) +
                    ": " + p.message + ")");
  }
  spdlog::info("{}: audit log verified: {} entries, {} signed checkpoints",
               what, report->entries, report->checkpoints_checked);
  return {};
}

}  // namespace

Result<std::string> RestoreBackup(const fs::path& file,
                                  const CoordinatorConfig& config, bool force) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) {
    return NotFound("--restore: no backup file " + file.string());
  }
  // 1. The checksum written beside it, then SQLite's own check.
  const fs::path sha_file = file.string() + ".sha256";
  std::istringstream sha_line(ReadText(sha_file));
  std::string expected;
  sha_line >> expected;
  if (expected.size() != 64) {
    return FailedPrecondition("--restore: " + sha_file.string() +
                              " is missing or unreadable; without it the "
                              "backup cannot be checked");
  }
  auto actual = FileSha256Hex(file);
  if (!actual) return std::unexpected(actual.error());
  if (*actual != expected) {
    return DataLoss("--restore: " + file.string() +
                    " does not match its sha256 file (expected " + expected +
                    ", found " + *actual +
                    "): the backup is damaged; restore an older one");
  }
  if (auto s = CheckDatabaseIntegrity(file); !s) {
    return DataLoss("--restore: " + s.error().message);
  }

  // 2. Never overwrite, never delete.
  const fs::path data_dir = config.data_dir;
  const fs::path target = data_dir / "coordinator.db";
  const std::vector<fs::path> live = {target, target.string() + "-wal",
                                      target.string() + "-shm",
                                      data_dir / "audit-checkpoints"};
  const bool exists =
      fs::exists(target, ec) || fs::exists(target.string() + "-wal", ec);
  if (exists && !force) {
    return MakeError(
        ErrorCode::kAlreadyExists,
        "--restore: " + target.string() +
            " exists; stop the coordinator and pass --force to move it (with "
            "its -wal, -shm and audit-checkpoints) aside as *.replaced-<time> "
            "(nothing is deleted)");
  }
  fs::create_directories(data_dir, ec);
  if (ec) {
    return Unavailable("--restore: cannot create data_dir " +
                       data_dir.string() + ": " + ec.message());
  }

  // 3. Copy, verify the copy's audit log, then take the database's name.
  const fs::path incoming = data_dir / "coordinator.db.restoring";
  for (const char* suffix : {"", "-wal", "-shm"}) {
    fs::remove(incoming.string() + suffix, ec);
  }
  CLS_RETURN_IF_ERROR(CopyDurably(file, incoming));
  {
    auto store = CoordinatorStore::Open(incoming.string());
    if (!store) return std::unexpected(store.error());
    if (auto s = VerifyAuditLog(**store, config, "--restore " + file.string());
        !s) {
      store->reset();
      fs::remove(incoming, ec);
      return std::unexpected(s.error());
    }
  }
  // Closing the last connection folded its WAL into the file; a WAL left
  // behind would be lost by the rename below.
  if (fs::exists(incoming.string() + "-wal", ec)) {
    return Unavailable("--restore: " + incoming.string() +
                       "-wal was not folded into the copy; nothing replaced");
  }
  // Checkpoint files signed for the replaced log would not match the
  // restored one: they go aside too, even when the database was already gone.
  std::vector<std::string> moved;
  {
    const std::string suffix = ".replaced-" + Stamp();
    for (const auto& path : live) {
      if (!fs::exists(path, ec)) continue;
      const fs::path aside = path.string() + suffix;
      CLS_RETURN_IF_ERROR(RenameDurably(path, aside));
      moved.push_back(aside.string());
    }
  }
  CLS_RETURN_IF_ERROR(RenameDurably(incoming, target));
  const json marker = {{"backup_file", file.filename().string()},
                       {"sha256", expected},
                       {"bytes", static_cast<int64_t>(fs::file_size(target))},
                       {"restored_at", UtcNow()},
                       {"moved_aside", moved}};
  CLS_RETURN_IF_ERROR(WriteFileDurably(data_dir / kRestoreMarkerFile,
                                       AsBytes(marker.dump(1) + "\n")));

  std::string out = "restored " + file.string() + " (sha256 " + expected +
                    ") into " + target.string() + "\n";
  for (const auto& m : moved) out += "moved aside: " + m + "\n";
  const char* env_kek = std::getenv("CLS_MODEL_KEK");
  if ((env_kek == nullptr || *env_kek == '\0') &&
      !fs::exists(config.versions.kek_file, ec)) {
    out += "WARNING: the model key-encryption key is not in the backup and " +
           config.versions.kek_file +
           " is missing: put back the KEK from its own backup (or set "
           "CLS_MODEL_KEK) before starting, or no model version can be read\n";
  }
  out +=
      "start the coordinator as usual: it verifies the audit log again and "
      "raises the privacy ledger to the high-water mark in [backup] dir\n";
  return out;
}

Status FinishRestoreAtStart(CoordinatorStore& store,
                            const CoordinatorConfig& config) {
  const fs::path marker_path = fs::path(config.data_dir) / kRestoreMarkerFile;
  std::error_code ec;
  if (!fs::exists(marker_path, ec)) return {};
  const json marker = json::parse(ReadText(marker_path), nullptr, false);
  CLS_RETURN_IF_ERROR(
      VerifyAuditLog(store, config, "start after a restore from backup"));
  json fields = {{"backup_file", ""}, {"sha256", ""}, {"restored_at", ""}};
  if (marker.is_object()) {
    for (auto& [key, value] : fields.items()) {
      value = marker.value(key, std::string());
    }
  }
  CLS_RETURN_IF_ERROR(
      store.Audit("coordinator", "system", "coordinator_restored", fields));
  return RemoveDurably(marker_path);
}

}  // namespace cls::coordinator
