#include "core/reservoir.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <sstream>
#include <string>

#include "core/shuffle.h"

namespace cls::core {
namespace {

constexpr char kMagic[4] = {'C', 'L', 'S', 'R'};
constexpr uint32_t kVersion = 1;
// Bounds on what a stored reservoir may declare, checked before allocating.
constexpr uint32_t kMaxCapacity = 10'000'000;
constexpr uint32_t kMaxFeatures = 1'000'000;
constexpr uint32_t kMaxRngState = 1 << 16;

void PutU32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void PutU64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void PutF32(std::vector<uint8_t>& out, float f) {
  uint32_t v;
  std::memcpy(&v, &f, sizeof v);
  PutU32(out, v);
}

// Bounds-checked little-endian reader.
class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> b) : b_(b) {}
  size_t remaining() const { return b_.size() - pos_; }
  bool U32(uint32_t& v) {
    if (remaining() < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t{b_[pos_ + i]} << (8 * i);
    pos_ += 4;
    return true;
  }
  bool U64(uint64_t& v) {
    if (remaining() < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{b_[pos_ + i]} << (8 * i);
    pos_ += 8;
    return true;
  }
  bool F32(float& f) {
    uint32_t v;
    if (!U32(v)) return false;
    std::memcpy(&f, &v, sizeof f);
    return true;
  }
  bool Bytes(size_t n, std::string& s) {
    if (remaining() < n) return false;
    s.assign(reinterpret_cast<const char*>(b_.data() + pos_), n);
    pos_ += n;
    return true;
  }

 private:
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
};

}  // namespace

Reservoir::Reservoir(int capacity, int num_features, uint64_t seed)
    : capacity_(std::max(capacity, 0)),
      num_features_(std::max(num_features, 0)),
      rng_(seed) {}

void Reservoir::Add(std::span<const float> x, float y) {
  if (static_cast<int>(x.size()) != num_features_ || capacity_ == 0) {
    ++seen_;
    return;
  }
  ++seen_;
  if (size() < capacity_) {
    data_.insert(data_.end(), x.begin(), x.end());
    labels_.push_back(y);
    return;
  }
  // Algorithm R: the seen_-th example replaces a random slot with
  // probability capacity / seen_.
  const uint64_t j = UniformBelow(rng_, static_cast<uint64_t>(seen_));
  if (j < static_cast<uint64_t>(capacity_)) {
    std::copy(x.begin(), x.end(),
              data_.begin() + static_cast<ptrdiff_t>(j * num_features_));
    labels_[j] = y;
  }
}

void Reservoir::AddRows(const Eigen::MatrixXf& x, const Eigen::VectorXf& y) {
  std::vector<float> row(static_cast<size_t>(x.cols()));
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    for (Eigen::Index j = 0; j < x.cols(); ++j) row[j] = x(i, j);
    Add(row, y(i));
  }
}

void Reservoir::Sample(int k, std::mt19937_64& rng, Eigen::MatrixXf& x,
                       Eigen::VectorXf& y) const {
  const int n = std::clamp(k, 0, size());
  // Partial Fisher-Yates over the slot indices: n distinct slots.
  std::vector<int> slots(static_cast<size_t>(size()));
  std::iota(slots.begin(), slots.end(), 0);
  for (int i = 0; i < n; ++i) {
    const auto j =
        static_cast<size_t>(i + static_cast<int>(UniformBelow(
                                    rng, static_cast<uint64_t>(size() - i))));
    std::swap(slots[static_cast<size_t>(i)], slots[j]);
  }
  x.resize(n, num_features_);
  y.resize(n);
  for (int i = 0; i < n; ++i) {
    const auto r = row(slots[static_cast<size_t>(i)]);
    for (int j = 0; j < num_features_; ++j) x(i, j) = r[static_cast<size_t>(j)];
    y(i) = label(slots[static_cast<size_t>(i)]);
  }
}

std::vector<uint8_t> Reservoir::Serialize() const {
  std::ostringstream rng_text;
  rng_text << rng_;
  const std::string state = rng_text.str();
  std::vector<uint8_t> out(kMagic, kMagic + 4);
  out.reserve(36 + state.size() + data_.size() * 4 + labels_.size() * 4);
  PutU32(out, kVersion);
  PutU32(out, static_cast<uint32_t>(capacity_));
  PutU32(out, static_cast<uint32_t>(num_features_));
  PutU64(out, static_cast<uint64_t>(seen_));
  PutU32(out, static_cast<uint32_t>(size()));
  PutU32(out, static_cast<uint32_t>(state.size()));
  out.insert(out.end(), state.begin(), state.end());
  for (int i = 0; i < size(); ++i) {
    for (float v : row(i)) PutF32(out, v);
    PutF32(out, label(i));
  }
  return out;
}

Result<Reservoir> Reservoir::Deserialize(std::span<const uint8_t> bytes) {
  if (bytes.size() < 4 || std::memcmp(bytes.data(), kMagic, 4) != 0) {
    return DataLoss("reservoir: not a reservoir (bad magic)");
  }
  ByteReader in(bytes.subspan(4));
  uint32_t version, capacity, features, size, state_len;
  uint64_t seen;
  if (!in.U32(version)) {
    return DataLoss("reservoir: truncated header (" +
                    std::to_string(bytes.size()) + " bytes)");
  }
  if (version != kVersion) {
    return DataLoss("reservoir: version " + std::to_string(version) +
                    ", expected " + std::to_string(kVersion));
  }
  if (!in.U32(capacity) || !in.U32(features) || !in.U64(seen) ||
      !in.U32(size) || !in.U32(state_len)) {
    return DataLoss("reservoir: truncated header (" +
                    std::to_string(bytes.size()) + " bytes)");
  }
  if (capacity > kMaxCapacity || features > kMaxFeatures ||
      state_len > kMaxRngState) {
    return DataLoss("reservoir: header exceeds limits");
  }
  if (size > capacity || seen < size || seen > (uint64_t{1} << 62)) {
    return DataLoss("reservoir: " + std::to_string(size) + " rows, capacity " +
                    std::to_string(capacity) + ", seen " +
                    std::to_string(seen));
  }
  const uint64_t body =
      uint64_t{state_len} + uint64_t{size} * (uint64_t{features} + 1) * 4;
  if (in.remaining() != body) {
    return DataLoss("reservoir: " + std::to_string(in.remaining()) +
                    " body bytes, expected " + std::to_string(body) +
                    (in.remaining() < body ? " (truncated)" : ""));
  }
  std::string state;
  in.Bytes(state_len, state);
  Reservoir r(static_cast<int>(capacity), static_cast<int>(features), 0);
  std::istringstream state_in(state);
  state_in >> r.rng_;
  if (state_in.fail()) return DataLoss("reservoir: bad generator state");
  r.seen_ = static_cast<int64_t>(seen);
  r.data_.resize(static_cast<size_t>(size) * features);
  r.labels_.resize(size);
  size_t bad = 0;
  for (uint32_t i = 0; i < size; ++i) {
    for (uint32_t j = 0; j < features; ++j) {
      float& v = r.data_[static_cast<size_t>(i) * features + j];
      in.F32(v);
      bad += !std::isfinite(v);
    }
    float& y = r.labels_[i];
    in.F32(y);
    // Class indices (0/1 for a binary model); the owner checks them
    // against its class count.
    bad += !(y >= 0.0f && y < 16777216.0f && y == std::floor(y));
  }
  if (bad > 0) {
    return DataLoss("reservoir: " + std::to_string(bad) +
                    " non-finite values or labels not class indices");
  }
  return r;
}

}  // namespace cls::core
