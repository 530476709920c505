#ifndef CLS_SITE_AGENT_STATE_STORE_H_
#define CLS_SITE_AGENT_STATE_STORE_H_

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"

namespace cls::site {

// The agent's files in its data directory: the latest global model
// (global_model.bin) and a status summary for the hospital's IT team
// (status.json). Both are replaced atomically (temp file, fsync, rename,
// fsync of the directory), so a crash leaves the old or the new file, never a
// torn one. Free functions; no shared state.

inline constexpr std::string_view kGlobalModelFile = "global_model.bin";
inline constexpr std::string_view kStatusFile = "status.json";

// Parameters as raw float32 little-endian bytes: what model_hash covers.
Bytes ParameterBytes(std::span<const float> parameters);
// Lower-case hex SHA-256 of ParameterBytes.
std::string ModelHash(std::span<const float> parameters);

// The site agent's state files: WriteFileDurably (common/durable_file.h)
// with mode 0600, creating missing folders 0700.
Status WriteFileAtomically(const std::filesystem::path& path, ByteSpan data);

struct GlobalModel {
  uint64_t round_id = 0;  // the round that produced it
  std::string version;
  std::string hash;  // ModelHash(parameters)
  std::vector<float> parameters;
  // core::ModelSpec text of the round's model; empty = the site's default
  // model (an older coordinator, or a file written before the spec was
  // stored).
  std::string spec = {};
};

// File layout: magic "CLSGM002", u64 round id, u32 length + version, u32
// length + hash hex, u32 length + spec text, u64 count, count float32 (all
// little-endian). "CLSGM001" files (no spec) still load, with spec empty.
Bytes EncodeGlobalModel(const GlobalModel& model);
// DataLoss on a truncated or corrupt file, including a hash mismatch.
Result<GlobalModel> DecodeGlobalModel(ByteSpan bytes);

Status SaveGlobalModel(const std::filesystem::path& path,
                       const GlobalModel& model);
// std::nullopt when the file does not exist.
Result<std::optional<GlobalModel>> LoadGlobalModel(
    const std::filesystem::path& path);

// Federation-wide feature statistics (core/feature_statistics.h flattened
// sums) as received from the coordinator. File layout: magic "CLSFS001",
// u64 count, count float64 (little-endian), then the SHA-256 of everything
// before it, so a torn or edited file is refused rather than used.
inline constexpr std::string_view kFeatureStatisticsFile =
    "feature_statistics.bin";
Status SaveFeatureStatistics(const std::filesystem::path& path,
                             std::span<const double> sums);
// std::nullopt when the file does not exist; DataLoss when it is corrupt.
Result<std::optional<std::vector<double>>> LoadFeatureStatistics(
    const std::filesystem::path& path);

struct MetricsSummary {
  double accuracy = 0;
  double auc = 0;
  uint64_t count = 0;
};

// What status.json says. Aggregates only: no row, no value.
struct SiteStatus {
  std::string site_id;
  std::string model_version;
  uint64_t round_id = 0;
  std::optional<MetricsSummary> federated;   // held-out split, global model
  std::optional<MetricsSummary> local_only;  // held-out split, baseline
  // The global model with its intercept moved to this site's class balance
  // (core/prior_shift.h); once federation-wide statistics are known.
  std::optional<MetricsSummary> federated_site_prior;
  std::string standardisation = "site";  // or "federation"
  uint64_t num_samples = 0;
  uint64_t rows_rejected = 0;
  std::chrono::system_clock::time_point updated_at;
};

// "2024-05-01T12:34:56Z"
std::string Iso8601Utc(std::chrono::system_clock::time_point time);
std::string StatusJson(const SiteStatus& status);
Status WriteStatus(const std::filesystem::path& path, const SiteStatus& status);

}  // namespace cls::site

#endif  // CLS_SITE_AGENT_STATE_STORE_H_
