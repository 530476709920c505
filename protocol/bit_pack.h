#ifndef CLS_PROTOCOL_BIT_PACK_H_
#define CLS_PROTOCOL_BIT_PACK_H_

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/error.h"

namespace cls::protocol {

// Fixed-width bit packing of unsigned values, used for masked vectors, whose
// values live in Z_(2^ring_bits) and so need only ring_bits bits each.
//
// Layout: value i occupies bits [i * bits, (i + 1) * bits) of the blob, bit
// j of the blob being bit (j % 8) of byte j / 8 (little-endian bit order, as
// a little-endian integer of unbounded width). The blob is
// PackedBytes(count, bits) bytes; the unused high bits of its last byte are
// zero. bits = 32 is the plain little-endian u32 array.
//
// Both directions work a 64-bit word at a time (about a millisecond per
// million values). Stateless; thread-safe.

inline constexpr int kMinPackedBits = 1;
inline constexpr int kMaxPackedBits = 32;

// ceil(count * bits / 8).
constexpr size_t PackedBytes(size_t count, int bits) {
  return (count * static_cast<size_t>(bits) + 7) / 8;
}

// Writes `values` at `bits` bits each into `out`, which must be exactly
// PackedBytes(values.size(), bits) bytes. Bits of a value above `bits` are
// dropped (the caller's values are already reduced modulo 2^bits). `bits`
// must be in [kMinPackedBits, kMaxPackedBits].
void PackBits(std::span<const uint32_t> values, int bits,
              std::span<uint8_t> out);

// Reads `out.size()` values of `bits` bits each from `packed`. Fails
// (InvalidArgument) if `bits` is out of range, `packed` is not exactly
// PackedBytes(out.size(), bits) bytes, or its padding bits are not zero (one
// vector, one encoding).
Status UnpackBits(std::span<const uint8_t> packed, int bits,
                  std::span<uint32_t> out);

}  // namespace cls::protocol

#endif  // CLS_PROTOCOL_BIT_PACK_H_
