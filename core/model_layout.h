#ifndef CLS_CORE_MODEL_LAYOUT_H_
#define CLS_CORE_MODEL_LAYOUT_H_

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"

namespace cls::core {

// One named block of a flat parameter vector: a rows x cols matrix stored
// row-major, or a vector of `rows` values (printed "b[8]" rather than
// "b[8x1]").
struct ParameterBlock {
  std::string name;
  int rows = 0;
  int cols = 1;
  bool is_vector = false;

  static ParameterBlock Matrix(std::string name, int rows, int cols);
  static ParameterBlock Vector(std::string name, int size);
  size_t size() const;
  std::string ToString() const;  // "w[22x1]" or "b[1]"
};

// Describes how a model's flat float32 parameter vector is cut into named
// blocks, so a vector from a peer or a file is checked against the model's
// shape instead of being silently reinterpreted. Immutable; safe to share
// between threads.
class ParameterLayout {
 public:
  ParameterLayout() = default;
  ParameterLayout(std::string model_name, std::vector<ParameterBlock> blocks);

  const std::string& model_name() const { return model_name_; }
  const std::vector<ParameterBlock>& blocks() const { return blocks_; }
  size_t total_size() const { return total_size_; }
  // Index of the first value of block i in the flat vector.
  size_t Offset(size_t block_index) const { return offsets_[block_index]; }

  // Stable text form, e.g. "logreg:w[22x1],b[1]"; equal layouts give equal
  // strings, so it can be stored with a checkpoint and compared.
  std::string ToString() const;

  // InvalidArgument when params does not fit the layout, e.g.
  // "model: 12 parameters, layout logreg:w[22x1],b[1] needs 23", or when a
  // value is NaN or infinite ("model: parameter 3 (w[3]) is not finite").
  Status Check(std::span<const float> params) const;

  friend bool operator==(const ParameterLayout& a, const ParameterLayout& b) {
    return a.ToString() == b.ToString();
  }

 private:
  std::string model_name_;
  std::vector<ParameterBlock> blocks_;
  std::vector<size_t> offsets_;
  size_t total_size_ = 0;
};

}  // namespace cls::core

#endif  // CLS_CORE_MODEL_LAYOUT_H_
