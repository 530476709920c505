#include "site-agent/audit_checkpoint_store.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <system_error>

#include "common/bytes.h"
#include "common/durable_file.h"
#include "site-agent/state_store.h"

namespace cls::site {
namespace {

Result<audit::AuditCheckpoint> Parse(const std::string& text) {
  const auto j = nlohmann::json::parse(text, nullptr,
                                       /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgument("audit checkpoint: not JSON");
  }
  auto c = audit::CheckpointFromJson(j);
  if (!c) {
    return InvalidArgument("audit checkpoint: " + c.error().message);
  }
  if (c->seq < 0 || c->hash.size() != 64) {
    return InvalidArgument("audit checkpoint: bad seq or hash");
  }
  return c;
}

// The kept checkpoint, if there is one that still verifies; `unverified`
// is set when a file is there but does not (or cannot be read).
Result<std::optional<audit::AuditCheckpoint>> ReadKept(
    const std::filesystem::path& path,
    const audit::CheckpointVerifier& coordinator, bool& unverified) {
  unverified = false;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto kept = Parse(buffer.str());
  if (!kept || !coordinator.Verify(*kept)) {
    unverified = true;
    return std::nullopt;
  }
  return *kept;
}

}  // namespace

Result<CheckpointVerdict> KeepLatestCheckpoint(
    const std::filesystem::path& data_dir, const std::string& checkpoint_json,
    const audit::CheckpointVerifier& coordinator) {
  auto incoming = Parse(checkpoint_json);
  if (!incoming) return std::unexpected(incoming.error());
  // Integrity before anything else: only the coordinator's own signature
  // makes a checkpoint evidence, and only evidence may move the bound.
  if (!coordinator.Verify(*incoming)) {
    return PermissionDenied(
        "audit checkpoint seq " + std::to_string(incoming->seq) +
        ": the signature does not verify against the coordinator "
        "certificate '" +
        coordinator.subject() + "'");
  }
  const auto path = data_dir / kAuditCheckpointFile;
  bool unverified = false;
  auto kept = ReadKept(path, coordinator, unverified);
  if (!kept) return std::unexpected(kept.error());
  if (*kept) {
    const audit::AuditCheckpoint& k = **kept;
    if (incoming->seq < k.seq ||
        (incoming->seq == k.seq && incoming->hash != k.hash)) {
      return CheckpointVerdict::kWentBack;
    }
    if (incoming->seq == k.seq) return CheckpointVerdict::kSame;
  }
  if (unverified) {
    if (auto s = RenameDurably(path, data_dir / kUnverifiedCheckpointFile);
        !s) {
      return Unavailable("audit checkpoint: cannot set aside " + path.string() +
                         ": " + s.error().message);
    }
  }
  if (auto s = WriteFileAtomically(path, AsBytes(checkpoint_json)); !s) {
    return std::unexpected(s.error());
  }
  return unverified ? CheckpointVerdict::kReplacedUnverified
                    : CheckpointVerdict::kStored;
}

}  // namespace cls::site
