#ifndef CLS_CORE_SHUFFLE_H_
#define CLS_CORE_SHUFFLE_H_

#include <cstdint>
#include <limits>
#include <random>
#include <utility>
#include <vector>

namespace cls::core {

// Uniform integer in [0, bound) by rejection, identical on every platform
// (std::uniform_int_distribution and std::shuffle are implementation-defined,
// and splits and training must be reproducible from their seeds).
inline uint64_t UniformBelow(std::mt19937_64& rng, uint64_t bound) {
  const uint64_t limit = std::numeric_limits<uint64_t>::max() -
                         std::numeric_limits<uint64_t>::max() % bound;
  uint64_t r;
  do {
    r = rng();
  } while (r >= limit);
  return r % bound;
}

// Fisher-Yates with UniformBelow.
template <typename T>
void Shuffle(std::vector<T>& v, std::mt19937_64& rng) {
  for (size_t i = v.size(); i > 1; --i) {
    std::swap(v[i - 1], v[UniformBelow(rng, i)]);
  }
}

}  // namespace cls::core

#endif  // CLS_CORE_SHUFFLE_H_
