#include "site-agent/state_store.h"

#include <bit>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/durable_file.h"
#include "crypto/sha256.h"

namespace cls::site {
namespace {

namespace fs = std::filesystem;

// 001: no model spec (read as the site's default model); 002: the spec text
// after the hash.
constexpr std::string_view kMagic = "CLSGM002";
constexpr std::string_view kMagicWithoutSpec = "CLSGM001";
// A version or hash string longer than this is a corrupt file.
constexpr uint32_t kMaxStringBytes = 4096;
constexpr uint64_t kMaxStoredParameters = 16 * 1024 * 1024;

template <typename T>
void PutLe(Bytes& out, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) {
    out.push_back(
        static_cast<uint8_t>(static_cast<uint64_t>(value) >> (8 * i)));
  }
}

void PutString(Bytes& out, const std::string& s) {
  PutLe<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

// Reads little-endian fields from a byte span, remembering a short read.
class Reader {
 public:
  explicit Reader(ByteSpan bytes) : bytes_(bytes) {}
  template <typename T>
  bool Get(T& value) {
    if (bytes_.size() - pos_ < sizeof(T)) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
      v |= static_cast<uint64_t>(bytes_[pos_ + i]) << (8 * i);
    }
    value = static_cast<T>(v);
    pos_ += sizeof(T);
    return true;
  }
  bool GetString(std::string& s) {
    uint32_t n = 0;
    if (!Get(n) || n > kMaxStringBytes || bytes_.size() - pos_ < n)
      return false;
    s.assign(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return true;
  }
  size_t remaining() const { return bytes_.size() - pos_; }
  ByteSpan Rest() const { return bytes_.subspan(pos_); }

 private:
  ByteSpan bytes_;
  size_t pos_ = 0;
};

nlohmann::json MetricsJson(const std::optional<MetricsSummary>& m) {
  if (!m) return nullptr;
  return {{"accuracy", m->accuracy}, {"auc", m->auc}, {"count", m->count}};
}

}  // namespace

Bytes ParameterBytes(std::span<const float> parameters) {
  Bytes out(parameters.size() * sizeof(float));
  if constexpr (std::endian::native == std::endian::little) {
    // An empty span may have a null data(): memcpy from null is undefined
    // even for zero bytes.
    if (!out.empty()) std::memcpy(out.data(), parameters.data(), out.size());
  } else {
    for (size_t i = 0; i < parameters.size(); ++i) {
      const uint32_t bits = std::bit_cast<uint32_t>(parameters[i]);
      for (size_t b = 0; b < 4; ++b)
        out[4 * i + b] = static_cast<uint8_t>(bits >> (8 * b));
    }
  }
  return out;
}

std::string ModelHash(std::span<const float> parameters) {
  return crypto::Sha256Hex(ParameterBytes(parameters));
}

Status WriteFileAtomically(const fs::path& path, ByteSpan data) {
  return WriteFileDurably(path, data, {.create_folders = true});
}

Bytes EncodeGlobalModel(const GlobalModel& model) {
  Bytes out(kMagic.begin(), kMagic.end());
  PutLe<uint64_t>(out, model.round_id);
  PutString(out, model.version);
  PutString(out, model.hash);
  PutString(out, model.spec);
  PutLe<uint64_t>(out, model.parameters.size());
  const Bytes params = ParameterBytes(model.parameters);
  out.insert(out.end(), params.begin(), params.end());
  return out;
}

Result<GlobalModel> DecodeGlobalModel(ByteSpan bytes) {
  const auto starts_with = [&](std::string_view magic) {
    return bytes.size() >= magic.size() &&
           std::memcmp(bytes.data(), magic.data(), magic.size()) == 0;
  };
  const bool with_spec = starts_with(kMagic);
  if (!with_spec && !starts_with(kMagicWithoutSpec)) {
    return DataLoss("global model file: bad magic");
  }
  Reader reader(bytes.subspan(kMagic.size()));
  GlobalModel model;
  uint64_t count = 0;
  if (!reader.Get(model.round_id) || !reader.GetString(model.version) ||
      !reader.GetString(model.hash) ||
      (with_spec && !reader.GetString(model.spec)) || !reader.Get(count)) {
    return DataLoss("global model file: truncated header");
  }
  if (count > kMaxStoredParameters || reader.remaining() != count * 4) {
    return DataLoss("global model file: " + std::to_string(reader.remaining()) +
                    " parameter bytes, expected " + std::to_string(count * 4));
  }
  model.parameters.resize(count);
  const ByteSpan rest = reader.Rest();
  for (size_t i = 0; i < count; ++i) {
    uint32_t bits = 0;
    for (size_t b = 0; b < 4; ++b)
      bits |= static_cast<uint32_t>(rest[4 * i + b]) << (8 * b);
    model.parameters[i] = std::bit_cast<float>(bits);
  }
  if (ModelHash(model.parameters) != model.hash) {
    return DataLoss("global model file: parameters do not match their hash");
  }
  return model;
}

namespace {
constexpr std::string_view kStatisticsMagic = "CLSFS001";
constexpr uint64_t kMaxStoredStatistics = 1u << 26;
}  // namespace

Status SaveFeatureStatistics(const fs::path& path,
                             std::span<const double> sums) {
  Bytes out(kStatisticsMagic.begin(), kStatisticsMagic.end());
  PutLe<uint64_t>(out, sums.size());
  for (double v : sums) PutLe<uint64_t>(out, std::bit_cast<uint64_t>(v));
  const crypto::Digest digest = crypto::Sha256(out);
  out.insert(out.end(), digest.begin(), digest.end());
  return WriteFileAtomically(path, out);
}

Result<std::optional<std::vector<double>>> LoadFeatureStatistics(
    const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Unavailable("cannot open " + path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string content = std::move(buffer).str();
  const ByteSpan bytes = AsBytes(content);
  const size_t digest_size = crypto::Digest{}.size();
  if (bytes.size() < kStatisticsMagic.size() + 8 + digest_size ||
      std::memcmp(bytes.data(), kStatisticsMagic.data(),
                  kStatisticsMagic.size()) != 0) {
    return DataLoss(path.string() + ": not a feature statistics file");
  }
  const ByteSpan body = bytes.first(bytes.size() - digest_size);
  const crypto::Digest digest = crypto::Sha256(body);
  if (std::memcmp(digest.data(), bytes.data() + body.size(), digest_size) !=
      0) {
    return DataLoss(path.string() + ": checksum mismatch");
  }
  Reader reader(body.subspan(kStatisticsMagic.size()));
  uint64_t count = 0;
  if (!reader.Get(count) || count > kMaxStoredStatistics ||
      reader.remaining() != count * 8) {
    return DataLoss(path.string() + ": truncated");
  }
  std::vector<double> sums(count);
  for (double& v : sums) {
    uint64_t bits = 0;
    reader.Get(bits);
    v = std::bit_cast<double>(bits);
  }
  return std::optional<std::vector<double>>(std::move(sums));
}

Status SaveGlobalModel(const fs::path& path, const GlobalModel& model) {
  return WriteFileAtomically(path, EncodeGlobalModel(model));
}

Result<std::optional<GlobalModel>> LoadGlobalModel(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Unavailable("cannot open " + path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string content = std::move(buffer).str();
  auto model = DecodeGlobalModel(AsBytes(content));
  if (!model) {
    return DataLoss(path.string() + ": " + model.error().message);
  }
  return std::optional<GlobalModel>(std::move(*model));
}

std::string Iso8601Utc(std::chrono::system_clock::time_point time) {
  const std::time_t t = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string StatusJson(const SiteStatus& status) {
  nlohmann::json j = {
      {"site_id", status.site_id},
      {"model_version", status.model_version},
      {"round_id", status.round_id},
      {"federated", MetricsJson(status.federated)},
      {"local_only", MetricsJson(status.local_only)},
      {"federated_site_prior", MetricsJson(status.federated_site_prior)},
      {"standardisation", status.standardisation},
      {"num_samples", status.num_samples},
      {"rows_rejected", status.rows_rejected},
      {"updated_at", Iso8601Utc(status.updated_at)},
  };
  return j.dump(2) + "\n";
}

Status WriteStatus(const fs::path& path, const SiteStatus& status) {
  return WriteFileAtomically(path, AsBytes(StatusJson(status)));
}

}  // namespace cls::site
