#include "core/model_layout.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace cls::core {

ParameterBlock ParameterBlock::Matrix(std::string name, int rows, int cols) {
  return ParameterBlock{std::move(name), std::max(rows, 0), std::max(cols, 0),
                        false};
}

ParameterBlock ParameterBlock::Vector(std::string name, int size) {
  return ParameterBlock{std::move(name), std::max(size, 0), 1, true};
}

size_t ParameterBlock::size() const {
  return static_cast<size_t>(rows) * static_cast<size_t>(cols);
}

std::string ParameterBlock::ToString() const {
  if (is_vector) return name + "[" + std::to_string(rows) + "]";
  return name + "[" + std::to_string(rows) + "x" + std::to_string(cols) + "]";
}

ParameterLayout::ParameterLayout(std::string model_name,
                                 std::vector<ParameterBlock> blocks)
    : model_name_(std::move(model_name)), blocks_(std::move(blocks)) {
  offsets_.reserve(blocks_.size());
  for (const ParameterBlock& b : blocks_) {
    offsets_.push_back(total_size_);
    total_size_ += b.size();
  }
}

std::string ParameterLayout::ToString() const {
  std::string s = model_name_ + ":";
  for (size_t i = 0; i < blocks_.size(); ++i) {
    if (i > 0) s += ",";
    s += blocks_[i].ToString();
  }
  return s;
}

Status ParameterLayout::Check(std::span<const float> params) const {
  if (params.size() != total_size_) {
    return InvalidArgument("model: " + std::to_string(params.size()) +
                           " parameters, layout " + ToString() + " needs " +
                           std::to_string(total_size_));
  }
  for (size_t b = 0; b < blocks_.size(); ++b) {
    const ParameterBlock& block = blocks_[b];
    for (size_t i = 0; i < block.size(); ++i) {
      if (std::isfinite(params[offsets_[b] + i])) continue;
      std::string where = block.name + "[";
      if (block.is_vector) {
        where += std::to_string(i);
      } else {
        const size_t cols = static_cast<size_t>(block.cols);
        where += std::to_string(i / cols) + "," + std::to_string(i % cols);
      }
      return InvalidArgument("model: parameter " +
                             std::to_string(offsets_[b] + i) + " (" + where +
                             "]) is not finite");
    }
  }
  return {};
}

}  // namespace cls::core
