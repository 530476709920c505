#ifndef CLS_SITE_AGENT_AUDIT_CHECKPOINT_STORE_H_
#define CLS_SITE_AGENT_AUDIT_CHECKPOINT_STORE_H_

#include <filesystem>
#include <string>
#include <string_view>

#include "audit/audit_chain.h"
#include "common/error.h"

namespace cls::site {

// The site's copy of the coordinator's latest signed audit checkpoint
// (docs/audit.md): data_dir/audit_checkpoint.json, replaced atomically. A
// copy the coordinator cannot reach is what exposes a rewrite of its whole
// database: `clsctl audit verify --checkpoint FILE` checks the live log
// against it.
inline constexpr std::string_view kAuditCheckpointFile =
    "audit_checkpoint.json";
// Where a kept checkpoint that no longer verifies is moved (see
// kReplacedUnverified), so it is set aside, never deleted.
inline constexpr std::string_view kUnverifiedCheckpointFile =
    "audit_checkpoint.unverified.json";

enum class CheckpointVerdict {
  kStored,    // newer than the kept one (or the first): kept
  kSame,      // the one already kept
  kWentBack,  // an older seq, or the same seq with another hash: refused
  // Kept; the file it replaced does not verify under the coordinator's
  // certificate (written by an agent that did not check signatures, or
  // signed under an earlier coordinator certificate) and was moved to
  // kUnverifiedCheckpointFile instead of blocking every later checkpoint.
  kReplacedUnverified,
};

// Keeps `checkpoint_json` if its signature verifies under `coordinator` (the
// coordinator's certificate, chained to the project CA: the agent builds it
// from the TLS peer certificate) and it is newer than the kept one. The
// signature is checked before the seq is even compared, so a forged
// far-future seq can never be kept and lock out the genuine checkpoints
// that follow. InvalidArgument on JSON that is not a checkpoint;
// PermissionDenied when the signature does not verify (nothing is written).
// Not thread-safe: one caller per data_dir.
Result<CheckpointVerdict> KeepLatestCheckpoint(
    const std::filesystem::path& data_dir, const std::string& checkpoint_json,
    const audit::CheckpointVerifier& coordinator);

}  // namespace cls::site

#endif  // CLS_SITE_AGENT_AUDIT_CHECKPOINT_STORE_H_
