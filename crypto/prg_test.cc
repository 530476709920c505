#include "crypto/prg.h"

#include <gtest/gtest.h>

#include <array>
#include <numeric>
#include <vector>

#include "crypto/hkdf.h"
#include "crypto/x25519.h"

namespace cls::crypto {
namespace {

Key32 FixedKey(uint8_t first) {
  Key32 key;
  for (size_t i = 0; i < key.size(); ++i)
    key[i] = static_cast<uint8_t>(first + 3 * i);
  return key;
}

std::vector<uint32_t> Expand(const Key32& seed, int bits, size_t n) {
  std::vector<uint32_t> out(n);
  ExpandMask(seed, bits, out);
  return out;
}

std::vector<uint32_t> Ramp(size_t n) {
  std::vector<uint32_t> values(n);
  for (size_t i = 0; i < n; ++i)
    values[i] = static_cast<uint32_t>(i * 2654435761u);
  return values;
}

TEST(PrgTest, IsTheAes256CtrKeystreamAsLittleEndianWords) {
  // AES-256 with an all-zero key of the all-zero block (counter 0) is
  // dc95c078 a2408989 ad48a214 92842087.
  const std::vector<uint32_t> words = Expand(Key32{}, 32, 4);
  EXPECT_EQ(words[0], 0x78c095dcu);
  EXPECT_EQ(words[1], 0x898940a2u);
  EXPECT_EQ(words[2], 0x14a248adu);
  EXPECT_EQ(words[3], 0x87208492u);
}

TEST(PrgTest, SameSeedGivesSameOutput) {
  EXPECT_EQ(Expand(FixedKey(1), 32, 10000), Expand(FixedKey(1), 32, 10000));
}

TEST(PrgTest, DifferentSeedsGiveDifferentOutput) {
  const std::vector<uint32_t> a = Expand(FixedKey(1), 32, 1000);
  const std::vector<uint32_t> b = Expand(FixedKey(2), 32, 1000);
  size_t equal = 0;
  for (size_t i = 0; i < a.size(); ++i) equal += a[i] == b[i];
  EXPECT_LE(equal, 1u);
}

TEST(PrgTest, ShorterOutputIsAPrefixOfLongerOutputAcrossChunkBoundaries) {
  const std::vector<uint32_t> longer = Expand(FixedKey(4), 32, 20001);
  for (size_t n : {1u, 3u, 4095u, 4096u, 4097u, 8192u, 12345u}) {
    const std::vector<uint32_t> shorter = Expand(FixedKey(4), 32, n);
    EXPECT_TRUE(std::equal(shorter.begin(), shorter.end(), longer.begin()))
        << n;
  }
}

TEST(PrgTest, LowBitsOfTheFullWordAreTheMaskForFewerBits) {
  const std::vector<uint32_t> full = Expand(FixedKey(5), 32, 5000);
  const std::vector<uint32_t> low = Expand(FixedKey(5), 20, 5000);
  for (size_t i = 0; i < full.size(); ++i) {
    ASSERT_EQ(low[i], full[i] & 0xfffffu) << i;
  }
}

TEST(PrgTest, AddMaskAddsTheExpandedMask) {
  for (int bits : {1, 16, 24, 32}) {
    const uint32_t modulus_mask =
        bits == 32 ? ~uint32_t{0} : (uint32_t{1} << bits) - 1;
    std::vector<uint32_t> values = Ramp(9000);
    for (uint32_t& v : values) v &= modulus_mask;
    const std::vector<uint32_t> original = values;
    AddMask(FixedKey(6), bits, +1, values);
    const std::vector<uint32_t> mask = Expand(FixedKey(6), bits, values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      ASSERT_EQ(values[i], (original[i] + mask[i]) & modulus_mask)
          << "bits " << bits << " index " << i;
    }
  }
}

TEST(PrgTest, AddMaskThenSubtractRestoresTheValues) {
  for (int bits : {1, 7, 20, 31, 32}) {
    const uint32_t modulus_mask =
        bits == 32 ? ~uint32_t{0} : (uint32_t{1} << bits) - 1;
    std::vector<uint32_t> values = Ramp(10007);
    for (uint32_t& v : values) v &= modulus_mask;
    const std::vector<uint32_t> original = values;
    AddMask(FixedKey(7), bits, +1, values);
    EXPECT_NE(values, original) << bits;
    AddMask(FixedKey(7), bits, -1, values);
    EXPECT_EQ(values, original) << bits;
  }
}

TEST(PrgTest, FewerThan32BitsKeepsValuesBelowTwoToTheBits) {
  for (int bits : {1, 8, 13, 20, 31}) {
    const uint32_t bound = uint32_t{1} << bits;
    for (uint32_t value : Expand(FixedKey(8), bits, 5000)) {
      ASSERT_LT(value, bound) << bits;
    }
    std::vector<uint32_t> values(5000, bound - 1);
    AddMask(FixedKey(8), bits, +1, values);
    for (uint32_t value : values) ASSERT_LT(value, bound) << bits;
    AddMask(FixedKey(9), bits, -1, values);
    for (uint32_t value : values) ASSERT_LT(value, bound) << bits;
  }
}

TEST(PrgTest, HandlesEmptyInput) {
  std::vector<uint32_t> empty;
  AddMask(FixedKey(1), 32, +1, empty);
  ExpandMask(FixedKey(1), 32, empty);
  EXPECT_TRUE(empty.empty());
}

// The secure-aggregation identity: party u sends
//   y_u = x_u + sum_{v > u} PRG(s_uv) - sum_{v < u} PRG(s_uv)  (mod 2^bits)
// and the pairwise masks cancel in sum_u y_u.
TEST(PrgTest, PairwiseMasksFromX25519AndHkdfCancelInTheSum) {
  constexpr size_t kParties = 3;
  constexpr size_t kLength = 10000;
  const std::array<Key32, kParties> private_keys = {FixedKey(11), FixedKey(22),
                                                    FixedKey(33)};
  std::array<Key32, kParties> public_keys;
  for (size_t u = 0; u < kParties; ++u) {
    auto pair = X25519KeyPairFromPrivate(private_keys[u]);
    ASSERT_TRUE(pair.has_value());
    public_keys[u] = pair->public_key;
  }
  const Bytes salt(AsBytes("round 1").begin(), AsBytes("round 1").end());
  auto seed = [&](size_t u, size_t v) {
    auto shared = X25519SharedSecret(private_keys[u], public_keys[v]);
    EXPECT_TRUE(shared.has_value());
    auto key = DeriveKey32(*shared, salt, "cls pairwise mask");
    EXPECT_TRUE(key.has_value());
    return *key;
  };
  EXPECT_EQ(seed(0, 1), seed(1, 0));
  EXPECT_EQ(seed(0, 2), seed(2, 0));
  EXPECT_EQ(seed(1, 2), seed(2, 1));
  EXPECT_NE(seed(0, 1), seed(0, 2));

  for (int bits : {16, 32}) {
    const uint32_t modulus_mask =
        bits == 32 ? ~uint32_t{0} : (uint32_t{1} << bits) - 1;
    std::array<std::vector<uint32_t>, kParties> inputs;
    std::vector<uint32_t> expected(kLength, 0);
    std::vector<uint32_t> sum(kLength, 0);
    for (size_t u = 0; u < kParties; ++u) {
      inputs[u] = Ramp(kLength);
      for (uint32_t& x : inputs[u]) x = (x * (u + 3) + u) & modulus_mask;
      for (size_t i = 0; i < kLength; ++i) expected[i] += inputs[u][i];

      std::vector<uint32_t> masked = inputs[u];
      for (size_t v = 0; v < kParties; ++v) {
        if (v == u) continue;
        AddMask(seed(u, v), bits, v > u ? +1 : -1, masked);
      }
      EXPECT_NE(masked, inputs[u]);
      for (size_t i = 0; i < kLength; ++i) sum[i] += masked[i];
    }
    for (size_t i = 0; i < kLength; ++i) {
      ASSERT_EQ(sum[i] & modulus_mask, expected[i] & modulus_mask)
          << "bits " << bits << " index " << i;
    }
  }
}

}  // namespace
}  // namespace cls::crypto
