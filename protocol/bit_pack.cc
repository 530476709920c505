#include "protocol/bit_pack.h"

#include <bit>
#include <cassert>
#include <cstring>
#include <string>

namespace cls::protocol {
namespace {

static_assert(std::endian::native == std::endian::little,
              "bit_pack.cc moves 64-bit words with memcpy");

uint64_t Mask(int bits) {
  return bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
}

}  // namespace

void PackBits(std::span<const uint32_t> values, int bits,
              std::span<uint8_t> out) {
  assert(bits >= kMinPackedBits && bits <= kMaxPackedBits);
  assert(out.size() == PackedBytes(values.size(), bits));
  const uint64_t mask = Mask(bits);
  uint8_t* p = out.data();
  uint64_t acc = 0;  // the low `filled` bits are pending output
  int filled = 0;
  for (uint32_t v : values) {
    const uint64_t x = v & mask;
    acc |= x << filled;  // filled < 64
    filled += bits;
    if (filled >= 64) {
      std::memcpy(p, &acc, 8);
      p += 8;
      filled -= 64;
      // The bits of x that did not fit: its top `filled` bits.
      acc = filled == 0 ? 0 : x >> (bits - filled);
    }
  }
  const int tail = (filled + 7) / 8;
  // Nothing to copy for no values, where `out` may be empty with a null data().
  if (tail > 0) std::memcpy(p, &acc, static_cast<size_t>(tail));
}

Status UnpackBits(std::span<const uint8_t> packed, int bits,
                  std::span<uint32_t> out) {
  if (bits < kMinPackedBits || bits > kMaxPackedBits) {
    return InvalidArgument("has a width of " + std::to_string(bits) +
                           " bits, expected " + std::to_string(kMinPackedBits) +
                           " to " + std::to_string(kMaxPackedBits));
  }
  const size_t expected = PackedBytes(out.size(), bits);
  if (packed.size() != expected) {
    return InvalidArgument("is " + std::to_string(packed.size()) +
                           " bytes, expected " + std::to_string(expected) +
                           " for " + std::to_string(out.size()) +
                           " values of " + std::to_string(bits) + " bits");
  }
  const uint64_t mask = Mask(bits);
  const uint8_t* p = packed.data();
  size_t left = packed.size();
  uint64_t acc = 0;  // the low `avail` bits are unread input
  int avail = 0;
  for (uint32_t& v : out) {
    if (avail >= bits) {
      v = static_cast<uint32_t>(acc & mask);
      acc >>= bits;
      avail -= bits;
      continue;
    }
    // Refill with the next word (the last one may be short).
    uint64_t w = 0;
    const size_t take = left < 8 ? left : 8;
    std::memcpy(&w, p, take);
    p += take;
    left -= take;
    const int used = bits - avail;  // bits of v from w, 1..32
    v = static_cast<uint32_t>((acc | (w << avail)) & mask);
    acc = w >> used;
    avail = static_cast<int>(take * 8) - used;
  }
  // What is left is the last byte's padding.
  if (acc != 0) return InvalidArgument("has nonzero padding bits");
  return {};
}

}  // namespace cls::protocol
