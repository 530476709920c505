#ifndef CLS_COMMON_BYTES_H_
#define CLS_COMMON_BYTES_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace cls {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;
using Key32 = std::array<uint8_t, 32>;

inline ByteSpan AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

inline std::string ToHex(ByteSpan bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

}  // namespace cls

#endif  // CLS_COMMON_BYTES_H_
