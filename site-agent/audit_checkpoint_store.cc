#include "site-agent/audit_checkpoint_store.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/bytes.h"
#include "site-agent/state_store.h"

namespace cls::site {
namespace {

struct Head {
  int64_t seq = 0;
  std::string hash;
};

Result<Head> ParseHead(const std::string& text) {
  try {
    const auto j = nlohmann::json::parse(text);
    Head h{j.at("seq").get<int64_t>(), j.at("hash").get<std::string>()};
    if (h.seq < 0 || h.hash.size() != 64) {
      return InvalidArgument("audit checkpoint: bad seq or hash");
    }
    return h;
  } catch (const nlohmann::json::exception&) {
    return InvalidArgument("audit checkpoint: not a checkpoint (seq, hash)");
  }
}

}  // namespace

Result<CheckpointVerdict> KeepLatestCheckpoint(
    const std::filesystem::path& data_dir, const std::string& checkpoint_json) {
  auto incoming = ParseHead(checkpoint_json);
  if (!incoming) return std::unexpected(incoming.error());
  const auto path = data_dir / kAuditCheckpointFile;
  std::ifstream in(path, std::ios::binary);
  if (in) {
    std::stringstream buffer;
    buffer << in.rdbuf();
    auto kept = ParseHead(buffer.str());
    if (kept) {
      if (incoming->seq < kept->seq ||
          (incoming->seq == kept->seq && incoming->hash != kept->hash)) {
        return CheckpointVerdict::kWentBack;
      }
      if (incoming->seq == kept->seq) return CheckpointVerdict::kSame;
    }
  }
  if (auto s = WriteFileAtomically(path, AsBytes(checkpoint_json)); !s) {
    return std::unexpected(s.error());
  }
  return CheckpointVerdict::kStored;
}

}  // namespace cls::site
