// OnlineLearningSystem::Serialize / Deserialize: the learning state on disk.
#include <bit>
#include <cmath>
#include <cstring>
#include <sstream>
#include <string>

#include "core/online_learning.h"

namespace cls::core {
namespace {

constexpr char kMagic[4] = {'C', 'L', 'S', 'O'};
// 1: binary logistic regression only (the feature count, then the state).
// 2: the model spec as text (ModelSpec::ToString) in place of the count.
constexpr uint32_t kVersion = 2;
constexpr uint32_t kVersionLogisticOnly = 1;
constexpr uint64_t kMaxCount = uint64_t{1} << 28;

class Writer {
 public:
  template <typename T>
  void Put(T v) {
    uint64_t bits;
    if constexpr (std::is_same_v<T, double>) {
      bits = std::bit_cast<uint64_t>(v);
    } else if constexpr (std::is_same_v<T, float>) {
      bits = std::bit_cast<uint32_t>(v);
    } else {
      bits = static_cast<uint64_t>(v);
    }
    for (size_t i = 0; i < sizeof(T); ++i) {
      out_.push_back(static_cast<uint8_t>(bits >> (8 * i)));
    }
  }
  void PutString(const std::string& s) {
    Put<uint64_t>(s.size());
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void PutBytes(std::span<const uint8_t> b) {
    Put<uint64_t>(b.size());
    out_.insert(out_.end(), b.begin(), b.end());
  }
  void PutFloats(std::span<const float> v) {
    Put<uint64_t>(v.size());
    for (float f : v) Put(f);
  }
  std::vector<uint8_t> Take() { return std::move(out_); }

 private:
  std::vector<uint8_t> out_;
};

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) : b_(b) {}
  template <typename T>
  bool Get(T& v) {
    if (b_.size() - pos_ < sizeof(T)) return false;
    uint64_t bits = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
      bits |= static_cast<uint64_t>(b_[pos_ + i]) << (8 * i);
    }
    pos_ += sizeof(T);
    if constexpr (std::is_same_v<T, double>) {
      v = std::bit_cast<double>(bits);
    } else if constexpr (std::is_same_v<T, float>) {
      v = std::bit_cast<float>(static_cast<uint32_t>(bits));
    } else {
      v = static_cast<T>(bits);
    }
    return true;
  }
  bool GetCount(uint64_t& n, size_t unit) {
    return Get(n) && n <= kMaxCount && (b_.size() - pos_) / unit >= n;
  }
  bool GetString(std::string& s) {
    uint64_t n = 0;
    if (!GetCount(n, 1)) return false;
    s.assign(reinterpret_cast<const char*>(b_.data() + pos_), n);
    pos_ += n;
    return true;
  }
  bool GetBytes(std::span<const uint8_t>& out) {
    uint64_t n = 0;
    if (!GetCount(n, 1)) return false;
    out = b_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  bool GetFloats(std::vector<float>& v) {
    uint64_t n = 0;
    if (!GetCount(n, 4)) return false;
    v.resize(n);
    for (float& f : v) Get(f);
    return true;
  }
  bool done() const { return pos_ == b_.size(); }

 private:
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
};

std::unexpected<Error> Corrupt(const std::string& what) {
  return DataLoss("online learning state: " + what);
}

// Magic, format and the model the state was stored for: format 1 (logistic
// regression only) recorded its feature count, format 2 the spec text.
Result<ModelSpec> ReadHeader(Reader& r) {
  uint8_t magic[4];
  for (uint8_t& c : magic) {
    if (!r.Get(c)) return Corrupt("truncated header");
  }
  if (std::memcmp(magic, kMagic, 4) != 0) return Corrupt("bad magic");
  uint32_t version = 0;
  if (!r.Get(version)) return Corrupt("truncated header");
  if (version == kVersionLogisticOnly) {
    uint32_t features = 0;
    if (!r.Get(features)) return Corrupt("truncated header");
    ModelSpec spec;
    spec.kind = ModelKind::kLogisticRegression;
    spec.num_features = static_cast<int>(features);
    spec.num_classes = 2;
    return spec;
  }
  if (version != kVersion) return Corrupt("unknown version");
  std::string stored;
  if (!r.GetString(stored)) return Corrupt("truncated header");
  auto spec = ModelSpec::Parse(stored);
  if (!spec) return Corrupt("model spec: " + spec.error().message);
  return spec;
}

}  // namespace

std::vector<uint8_t> OnlineLearningSystem::Serialize() const {
  Writer w;
  for (char c : kMagic) w.Put<uint8_t>(static_cast<uint8_t>(c));
  w.Put<uint32_t>(kVersion);
  w.PutString(model_.spec().ToString());
  w.PutFloats(model_.parameters());
  w.PutFloats(anchor_.anchor_params());
  w.PutFloats(anchor_.fisher());
  w.PutBytes(reservoir_.Serialize());
  std::ostringstream rng;
  rng << rng_;
  w.PutString(rng.str());
  w.Put<uint64_t>(holdout_.size());
  for (const auto& [x, y] : holdout_) {
    w.PutFloats(
        std::span<const float>(x.data(), static_cast<size_t>(x.size())));
    w.Put(y);
  }
  w.Put<uint64_t>(history_.size());
  for (const TrainingUpdate& u : history_) {
    w.PutString(u.update_id);
    w.Put(u.training_loss);
    w.Put(u.validation_accuracy);
    w.Put(u.precision);
    w.Put(u.recall);
    w.Put(u.f1);
    w.Put(u.holdout_accuracy);
    w.Put(u.holdout_count);
    w.Put(u.new_samples);
    w.Put(u.rehearsal_samples);
    w.PutString(u.timestamp);
  }
  w.Put(total_samples_);
  return w.Take();
}

Result<ModelSpec> OnlineLearningSystem::StoredSpec(
    std::span<const uint8_t> bytes) {
  Reader r(bytes);
  return ReadHeader(r);
}

Result<OnlineLearningSystem> OnlineLearningSystem::Deserialize(
    std::span<const uint8_t> bytes, int num_features,
    const OnlineLearningConfig& cfg) {
  ModelSpec spec;
  spec.kind = ModelKind::kLogisticRegression;
  spec.num_features = num_features;
  spec.num_classes = 2;
  return Deserialize(bytes, spec, cfg);
}

Result<OnlineLearningSystem> OnlineLearningSystem::Deserialize(
    std::span<const uint8_t> bytes, const ModelSpec& spec,
    const OnlineLearningConfig& cfg) {
  Reader r(bytes);
  auto stored = ReadHeader(r);
  if (!stored) return std::unexpected(stored.error());
  // The spec holds kind, widths and classes only (no data).
  if (*stored != spec) {
    return Corrupt("stored for the model \"" + stored->ToString() +
                   "\", the model is \"" + spec.ToString() + "\"");
  }
  const int num_features = spec.num_features;
  std::vector<float> params, anchor, fisher;
  std::span<const uint8_t> reservoir_bytes;
  std::string rng_state;
  if (!r.GetFloats(params) || !r.GetFloats(anchor) || !r.GetFloats(fisher) ||
      !r.GetBytes(reservoir_bytes) || !r.GetString(rng_state)) {
    return Corrupt("truncated");
  }
  auto model = Model::FromParameters(spec, params);
  if (!model) return Corrupt("model: " + model.error().message);
  auto system = Create(*model, cfg);
  if (!system) return std::unexpected(system.error());
  if (!anchor.empty()) {
    if (auto s = system->anchor_.Anchor(anchor, fisher); !s) {
      return Corrupt("anchor: " + s.error().message);
    }
  }
  auto reservoir = Reservoir::Deserialize(reservoir_bytes);
  if (!reservoir) return std::unexpected(reservoir.error());
  if (reservoir->num_features() != num_features) {
    return Corrupt("reservoir width differs from the model");
  }
  for (int i = 0; i < reservoir->size(); ++i) {
    if (reservoir->label(i) >= static_cast<float>(spec.num_classes)) {
      return Corrupt("reservoir label outside the model's classes");
    }
  }
  system->reservoir_ = std::move(*reservoir);
  std::istringstream rng(rng_state);
  rng >> system->rng_;
  if (rng.fail()) return Corrupt("random state");

  uint64_t holdout = 0;
  if (!r.GetCount(holdout, 8)) return Corrupt("truncated holdout");
  for (uint64_t i = 0; i < holdout; ++i) {
    std::vector<float> x;
    float y = 0;
    if (!r.GetFloats(x) || !r.Get(y) ||
        x.size() != static_cast<size_t>(num_features) ||
        !(y >= 0.0f && y < static_cast<float>(spec.num_classes) &&
          y == std::floor(y))) {
      return Corrupt("holdout row " + std::to_string(i));
    }
    system->holdout_.emplace_back(
        Eigen::Map<const Eigen::VectorXf>(x.data(), num_features), y);
  }
  uint64_t history = 0;
  if (!r.GetCount(history, 8)) return Corrupt("truncated history");
  for (uint64_t i = 0; i < history; ++i) {
    TrainingUpdate u;
    if (!r.GetString(u.update_id) || !r.Get(u.training_loss) ||
        !r.Get(u.validation_accuracy) || !r.Get(u.precision) ||
        !r.Get(u.recall) || !r.Get(u.f1) || !r.Get(u.holdout_accuracy) ||
        !r.Get(u.holdout_count) || !r.Get(u.new_samples) ||
        !r.Get(u.rehearsal_samples) || !r.GetString(u.timestamp)) {
      return Corrupt("update " + std::to_string(i));
    }
    system->history_.push_back(std::move(u));
  }
  if (!r.Get(system->total_samples_) || !r.done()) {
    return Corrupt("trailing or missing bytes");
  }
  return system;
}

}  // namespace cls::core
