#ifndef CLS_CORE_RESERVOIR_H_
#define CLS_CORE_RESERVOIR_H_

#include <Eigen/Dense>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "common/error.h"

namespace cls::core {

// A bounded uniform sample of past labelled examples for rehearsal: Vitter's
// algorithm R (1985). After n examples have been offered, each of them is in
// the reservoir with probability min(1, capacity / n). Seeded, and
// reproducible across platforms (UniformBelow, not std distributions).
//
// The rows are patient data: Serialize() output must be stored encrypted
// (the site agent does that); it never goes into logs or errors.
// Not thread-safe; owned by value.
class Reservoir {
 public:
  Reservoir(int capacity, int num_features, uint64_t seed);

  int capacity() const { return capacity_; }
  int num_features() const { return num_features_; }
  int size() const { return static_cast<int>(labels_.size()); }
  // Examples offered so far.
  int64_t seen() const { return seen_; }
  std::span<const float> row(int i) const {
    return {data_.data() + static_cast<size_t>(i) * num_features_,
            static_cast<size_t>(num_features_)};
  }
  float label(int i) const { return labels_[static_cast<size_t>(i)]; }

  // Offers one example (x.size() == num_features(); the caller validates).
  void Add(std::span<const float> x, float y);
  // Offers every row of x in order.
  void AddRows(const Eigen::MatrixXf& x, const Eigen::VectorXf& y);

  // min(k, size()) distinct stored examples, uniformly chosen with rng.
  void Sample(int k, std::mt19937_64& rng, Eigen::MatrixXf& x,
              Eigen::VectorXf& y) const;

  // Versioned little-endian binary: "CLSR", u32 version (1), u32 capacity,
  // u32 num_features, u64 seen, u32 size, u32 rng_state_length, rng state
  // (text), then size rows of num_features f32 and one f32 label each.
  std::vector<uint8_t> Serialize() const;
  // DataLoss on truncation, trailing bytes, an unknown version or values
  // that cannot come from Serialize (messages give sizes, never values).
  static Result<Reservoir> Deserialize(std::span<const uint8_t> bytes);

 private:
  int capacity_;
  int num_features_;
  int64_t seen_ = 0;
  std::mt19937_64 rng_;
  std::vector<float> data_;    // size() x num_features_, row-major
  std::vector<float> labels_;  // class indices: 0 or 1 when binary
};

}  // namespace cls::core

#endif  // CLS_CORE_RESERVOIR_H_
