#include "core/drift/adwin.h"

#include <cmath>
#include <string>

namespace cls::drift {

Result<Adwin> Adwin::Create(const AdwinConfig& config) {
  if (!(config.delta > 0 && config.delta < 1)) {
    return InvalidArgument("adwin: delta must be in (0, 1)");
  }
  if (config.clock < 1) return InvalidArgument("adwin: clock must be >= 1");
  if (config.max_buckets < 2 || config.max_buckets > kMaxBucketsLimit) {
    return InvalidArgument("adwin: max_buckets must be in [2, " +
                           std::to_string(kMaxBucketsLimit) + "]");
  }
  if (config.min_window_length < 1) {
    return InvalidArgument("adwin: min_window_length must be >= 1");
  }
  return Adwin(config);
}

bool Adwin::Update(double x) {
  if (rows_.empty()) rows_.emplace_back();
  // The new value is a bucket of one with zero spread.
  Row& first = rows_[0];
  first.total[static_cast<size_t>(first.size)] = x;
  first.variance[static_cast<size_t>(first.size)] = 0;
  ++first.size;
  if (width_ > 0) {
    const double mean = total_ / width_;
    variance_ += width_ * (x - mean) * (x - mean) / (width_ + 1);
  }
  ++width_;
  total_ += x;
  Compress();
  ++ticks_;
  if (ticks_ % config_.clock != 0 || width_ <= config_.grace_period) {
    return false;
  }
  return DetectChange();
}

void Adwin::Compress() {
  for (size_t i = 0; i < rows_.size(); ++i) {
    Row& row = rows_[i];
    if (row.size <= config_.max_buckets) break;
    // Merge the two oldest buckets of this row into the newest slot of the
    // next row (they are newer than everything already there).
    const double n = std::ldexp(1.0, static_cast<int>(i));
    const double t0 = row.total[0], t1 = row.total[1];
    const double diff = t0 / n - t1 / n;
    const double merged_variance =
        row.variance[0] + row.variance[1] + n * n / (2 * n) * diff * diff;
    for (int k = 2; k < row.size; ++k) {
      row.total[static_cast<size_t>(k - 2)] = row.total[static_cast<size_t>(k)];
      row.variance[static_cast<size_t>(k - 2)] =
          row.variance[static_cast<size_t>(k)];
    }
    row.size -= 2;
    if (i + 1 == rows_.size()) rows_.emplace_back();
    Row& next = rows_[i + 1];  // rows_ may have reallocated: index again
    next.total[static_cast<size_t>(next.size)] = t0 + t1;
    next.variance[static_cast<size_t>(next.size)] = merged_variance;
    ++next.size;
  }
}

void Adwin::DeleteOldestBucket() {
  // The oldest bucket is the first of the last non-empty row.
  while (!rows_.empty() && rows_.back().size == 0) rows_.pop_back();
  if (rows_.empty()) return;
  Row& row = rows_.back();
  const double n = std::ldexp(1.0, static_cast<int>(rows_.size() - 1));
  const double t = row.total[0];
  const double v = row.variance[0];
  for (int k = 1; k < row.size; ++k) {
    row.total[static_cast<size_t>(k - 1)] = row.total[static_cast<size_t>(k)];
    row.variance[static_cast<size_t>(k - 1)] =
        row.variance[static_cast<size_t>(k)];
  }
  --row.size;
  width_ -= static_cast<int64_t>(n);
  total_ -= t;
  if (width_ > 0) {
    const double rest_mean = total_ / width_;
    const double d = t / n - rest_mean;
    variance_ -= v + n * width_ * d * d / (n + width_);
    if (variance_ < 0) variance_ = 0;
  } else {
    total_ = 0;
    variance_ = 0;
  }
  if (row.size == 0) rows_.pop_back();
}

bool Adwin::DetectChange() {
  bool changed = false;
  const double min_len = config_.min_window_length;
  bool reduced = true;
  while (reduced && width_ > config_.grace_period) {
    reduced = false;
    const double w = static_cast<double>(width_);
    const double dd = std::log(2.0 * std::log(w) / config_.delta);
    const double var = variance_ / w;
    double n0 = 0, u0 = 0;
    // Walk from the oldest bucket to the newest, W0 growing.
    for (size_t r = rows_.size(); r-- > 0 && !reduced;) {
      const Row& row = rows_[r];
      const double n = std::ldexp(1.0, static_cast<int>(r));
      for (int k = 0; k < row.size; ++k) {
        n0 += n;
        u0 += row.total[static_cast<size_t>(k)];
        const double n1 = w - n0;
        if (n1 <= min_len + 1) {
          r = 0;  // W1 only shrinks from here: this pass is over
          break;
        }
        if (n0 <= min_len + 1) continue;
        const double u1 = total_ - u0;
        const double diff = u0 / n0 - u1 / n1;
        const double m =
            1.0 / (n0 - min_len + 1.0) + 1.0 / (n1 - min_len + 1.0);
        const double eps = std::sqrt(2.0 * m * var * dd) + 2.0 / 3.0 * dd * m;
        if (std::abs(diff) > eps) {
          if (!changed) {
            cut_old_mean_ = u0 / n0;
            cut_old_width_ = static_cast<int64_t>(n0);
          }
          changed = true;
          reduced = true;
          DeleteOldestBucket();
          break;
        }
      }
    }
  }
  if (changed) {
    ++detections_;
    cut_new_mean_ = Mean();
    cut_new_width_ = width_;
  }
  return changed;
}

}  // namespace cls::drift
