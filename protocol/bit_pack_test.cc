#include "protocol/bit_pack.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace cls::protocol {
namespace {

// The layout spelled out one bit at a time.
std::vector<uint8_t> ReferencePack(const std::vector<uint32_t>& values,
                                   int bits) {
  std::vector<uint8_t> out(PackedBytes(values.size(), bits), 0);
  size_t bit = 0;
  for (uint32_t v : values) {
    for (int j = 0; j < bits; ++j, ++bit) {
      if ((v >> j) & 1u) out[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
    }
  }
  return out;
}

std::vector<uint32_t> RandomValues(size_t count, int bits, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const uint32_t mask = bits == 32 ? 0xffffffffu : (uint32_t{1} << bits) - 1;
  std::vector<uint32_t> values(count);
  for (auto& v : values) v = static_cast<uint32_t>(rng()) & mask;
  return values;
}

std::vector<uint8_t> Pack(const std::vector<uint32_t>& values, int bits) {
  std::vector<uint8_t> out(PackedBytes(values.size(), bits));
  PackBits(values, bits, out);
  return out;
}

std::string UnpackError(const std::vector<uint8_t>& packed, int bits,
                        size_t count) {
  std::vector<uint32_t> out(count);
  auto s = UnpackBits(packed, bits, out);
  if (s) return "unpacked";
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  return s.error().message;
}

TEST(BitPack, RoundTripsEveryWidthFrom1To32) {
  for (int bits = 1; bits <= 32; ++bits) {
    for (size_t count : {0u, 1u, 2u, 7u, 63u, 64u, 65u, 1000u, 1001u}) {
      SCOPED_TRACE(std::to_string(bits) + " bits, " + std::to_string(count) +
                   " values");
      const auto values = RandomValues(count, bits, bits * 1000 + count);
      const auto packed = Pack(values, bits);
      ASSERT_EQ(packed.size(), (count * bits + 7) / 8);
      ASSERT_EQ(packed, ReferencePack(values, bits));
      std::vector<uint32_t> back(count, 0xdeadbeef);
      auto s = UnpackBits(packed, bits, back);
      ASSERT_TRUE(s.has_value()) << s.error().message;
      ASSERT_EQ(back, values);
    }
  }
}

TEST(BitPack, RoundTripsTheExtremeValuesOfEachWidth) {
  for (int bits = 1; bits <= 32; ++bits) {
    const uint32_t top = bits == 32 ? 0xffffffffu : (uint32_t{1} << bits) - 1;
    std::vector<uint32_t> values;
    for (int i = 0; i < 100; ++i) values.push_back(i % 3 == 0 ? 0 : top);
    std::vector<uint32_t> back(values.size());
    ASSERT_TRUE(UnpackBits(Pack(values, bits), bits, back).has_value());
    EXPECT_EQ(back, values) << bits << " bits";
  }
}

TEST(BitPack, ThirtyTwoBitsIsThePlainLittleEndianArray) {
  const std::vector<uint32_t> values = {0x04030201u, 0xfffefdfcu};
  EXPECT_EQ(Pack(values, 32),
            (std::vector<uint8_t>{1, 2, 3, 4, 0xfc, 0xfd, 0xfe, 0xff}));
}

TEST(BitPack, DropsBitsAboveTheWidthWhenPacking) {
  const std::vector<uint32_t> wide = {0xfffu, 0x1234u};
  const auto packed = Pack(wide, 4);
  EXPECT_EQ(packed, (std::vector<uint8_t>{0x4f}));
}

TEST(BitPack, RefusesABlobOfTheWrongLength) {
  const auto values = RandomValues(10, 20, 1);
  auto packed = Pack(values, 20);  // 25 bytes
  auto shorter = packed;
  shorter.pop_back();
  EXPECT_EQ(UnpackError(shorter, 20, 10),
            "is 24 bytes, expected 25 for 10 values of 20 bits");
  auto longer = packed;
  longer.push_back(0);
  EXPECT_EQ(UnpackError(longer, 20, 10),
            "is 26 bytes, expected 25 for 10 values of 20 bits");
  // The same bytes under another declared count or width.
  EXPECT_EQ(UnpackError(packed, 20, 11),
            "is 25 bytes, expected 28 for 11 values of 20 bits");
  EXPECT_EQ(UnpackError(packed, 21, 10),
            "is 25 bytes, expected 27 for 10 values of 21 bits");
  EXPECT_EQ(UnpackError({}, 20, 1),
            "is 0 bytes, expected 3 for 1 values of 20 bits");
}

TEST(BitPack, RefusesNonzeroPaddingBits) {
  // 3 values of 5 bits: 15 bits in 2 bytes, the top bit of byte 1 is padding.
  const auto packed = Pack({31, 0, 17}, 5);
  ASSERT_EQ(packed.size(), 2u);
  auto padded = packed;
  padded[1] ^= 0x80;
  EXPECT_EQ(UnpackError(padded, 5, 3), "has nonzero padding bits");
  // Past a whole 64-bit word too.
  const auto values = RandomValues(13, 5, 2);  // 65 bits in 9 bytes
  auto long_padded = Pack(values, 5);
  ASSERT_EQ(long_padded.size(), 9u);
  long_padded[8] ^= 0x02;
  EXPECT_EQ(UnpackError(long_padded, 5, 13), "has nonzero padding bits");
}

TEST(BitPack, RefusesAWidthOutside1To32) {
  EXPECT_EQ(UnpackError({}, 0, 0), "has a width of 0 bits, expected 1 to 32");
  EXPECT_EQ(UnpackError(std::vector<uint8_t>(5), 33, 1),
            "has a width of 33 bits, expected 1 to 32");
}

}  // namespace
}  // namespace cls::protocol
