#include "crypto/shamir.h"

#include <gtest/gtest.h>

#include <vector>

#include "crypto/random.h"
#include "crypto/x25519.h"

namespace cls::crypto {
namespace {

const std::vector<uint32_t> kXs = {1, 2, 3, 4, 5};

Bytes FixedSecret(size_t length) {
  Bytes secret(length);
  for (size_t i = 0; i < length; ++i)
    secret[i] = static_cast<uint8_t>(0xa5 ^ (i * 29));
  return secret;
}

std::vector<ShamirShare> SplitOrDie(ByteSpan secret, int threshold,
                                    std::span<const uint32_t> xs) {
  auto shares = ShamirSplit(secret, threshold, xs);
  EXPECT_TRUE(shares.has_value()) << shares.error().ToString();
  return shares.value_or(std::vector<ShamirShare>{});
}

// Calls visit(subset) for every k-element subset of `shares`, in every order
// the recursion produces (index order).
template <typename Visit>
void ForEachSubset(const std::vector<ShamirShare>& shares, size_t k,
                   std::vector<ShamirShare>& current, size_t next,
                   Visit& visit) {
  if (current.size() == k) {
    visit(current);
    return;
  }
  for (size_t i = next; i < shares.size(); ++i) {
    current.push_back(shares[i]);
    ForEachSubset(shares, k, current, i + 1, visit);
    current.pop_back();
  }
}

TEST(ShamirTest, ChunkCountIsSevenBytesPerElement) {
  EXPECT_EQ(ShamirChunkCount(0), 0u);
  EXPECT_EQ(ShamirChunkCount(1), 1u);
  EXPECT_EQ(ShamirChunkCount(7), 1u);
  EXPECT_EQ(ShamirChunkCount(8), 2u);
  EXPECT_EQ(ShamirChunkCount(32), 5u);
}

TEST(ShamirTest, SharesCarryTheirPointAndOneElementBelowPPerChunk) {
  const std::vector<ShamirShare> shares = SplitOrDie(FixedSecret(32), 3, kXs);
  ASSERT_EQ(shares.size(), kXs.size());
  for (size_t i = 0; i < shares.size(); ++i) {
    EXPECT_EQ(shares[i].x, kXs[i]);
    ASSERT_EQ(shares[i].y.size(), 5u);
    for (uint64_t y : shares[i].y) EXPECT_LT(y, kShamirPrime);
  }
}

TEST(ShamirTest, ReconstructsWithThresholdShares) {
  for (size_t length : {1u, 6u, 7u, 8u, 14u, 32u, 100u}) {
    const Bytes secret = FixedSecret(length);
    const std::vector<ShamirShare> shares = SplitOrDie(secret, 3, kXs);
    auto combined = ShamirCombine(shares, 3, length);
    ASSERT_TRUE(combined.has_value()) << combined.error().ToString();
    EXPECT_EQ(*combined, secret) << length;
  }
}

TEST(ShamirTest, ReconstructsFromAnySubsetOfThresholdShares) {
  const Bytes secret = FixedSecret(32);
  const std::vector<ShamirShare> shares = SplitOrDie(secret, 3, kXs);
  std::vector<ShamirShare> current;
  int subsets = 0;
  auto check = [&](const std::vector<ShamirShare>& subset) {
    ++subsets;
    auto combined = ShamirCombine(subset, 3, secret.size());
    ASSERT_TRUE(combined.has_value());
    EXPECT_EQ(*combined, secret);
    // Order does not matter either.
    const std::vector<ShamirShare> reversed(subset.rbegin(), subset.rend());
    auto combined_reversed = ShamirCombine(reversed, 3, secret.size());
    ASSERT_TRUE(combined_reversed.has_value());
    EXPECT_EQ(*combined_reversed, secret);
  };
  ForEachSubset(shares, 3, current, 0, check);
  EXPECT_EQ(subsets, 10);  // C(5, 3)
}

TEST(ShamirTest, ReconstructsWithMoreThanThresholdShares) {
  const Bytes secret = FixedSecret(32);
  const std::vector<ShamirShare> shares = SplitOrDie(secret, 3, kXs);
  auto combined = ShamirCombine(shares, 3, secret.size());
  ASSERT_TRUE(combined.has_value());
  EXPECT_EQ(*combined, secret);
}

TEST(ShamirTest, FailsToReconstructWithThresholdMinusOneShares) {
  const Bytes secret = FixedSecret(32);
  const std::vector<ShamirShare> shares = SplitOrDie(secret, 3, kXs);
  std::vector<ShamirShare> current;
  auto check = [&](const std::vector<ShamirShare>& subset) {
    // Interpolating the degree-2 polynomial as if it had degree 1.
    auto combined = ShamirCombine(subset, 2, secret.size());
    ASSERT_TRUE(combined.has_value());
    EXPECT_NE(*combined, secret);
  };
  ForEachSubset(shares, 2, current, 0, check);
}

TEST(ShamirTest, WorksWithLargePointsAndLargeThresholds) {
  const Bytes secret(32, 0xff);  // every chunk at its maximum 2^56 - 1
  std::vector<uint32_t> xs;
  for (uint32_t i = 0; i < 40; ++i)
    xs.push_back((uint32_t{1} << 31) - i * 7919);
  const std::vector<ShamirShare> shares = SplitOrDie(secret, 25, xs);
  const std::vector<ShamirShare> last(shares.end() - 25, shares.end());
  auto combined = ShamirCombine(last, 25, secret.size());
  ASSERT_TRUE(combined.has_value());
  EXPECT_EQ(*combined, secret);
}

TEST(ShamirTest, ThresholdOneGivesTheSecretInEveryShare) {
  const Bytes secret = FixedSecret(10);
  const std::vector<ShamirShare> shares = SplitOrDie(secret, 1, kXs);
  for (const ShamirShare& share : shares) {
    auto combined = ShamirCombine(std::span(&share, 1), 1, secret.size());
    ASSERT_TRUE(combined.has_value());
    EXPECT_EQ(*combined, secret);
  }
}

TEST(ShamirTest, SplittingTwiceUsesFreshRandomness) {
  const Bytes secret = FixedSecret(32);
  EXPECT_NE(SplitOrDie(secret, 3, kXs)[0].y, SplitOrDie(secret, 3, kXs)[0].y);
}

TEST(ShamirTest, ReconstructedX25519PrivateKeyReproducesThePublicKey) {
  auto pair = GenerateX25519KeyPair();
  ASSERT_TRUE(pair.has_value());
  const std::vector<ShamirShare> shares = SplitOrDie(pair->private_key, 3, kXs);
  const std::vector<ShamirShare> some = {shares[4], shares[1], shares[2]};
  auto combined = ShamirCombine(some, 3, pair->private_key.size());
  ASSERT_TRUE(combined.has_value());
  Key32 private_key;
  std::copy(combined->begin(), combined->end(), private_key.begin());
  auto rebuilt = X25519KeyPairFromPrivate(private_key);
  ASSERT_TRUE(rebuilt.has_value());
  EXPECT_EQ(rebuilt->public_key, pair->public_key);
}

void ExpectInvalidArgument(const auto& result, std::string_view message) {
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(result.error().message, message);
}

TEST(ShamirTest, SplitRejectsBadParameters) {
  const Bytes secret = FixedSecret(32);
  ExpectInvalidArgument(ShamirSplit(secret, 0, kXs), "shamir: threshold 0 < 1");
  ExpectInvalidArgument(ShamirSplit(secret, 6, kXs),
                        "shamir: threshold 6 > 5 shares");
  ExpectInvalidArgument(ShamirSplit({}, 3, kXs), "shamir: empty secret");
  const std::vector<uint32_t> with_zero = {1, 0, 2};
  ExpectInvalidArgument(ShamirSplit(secret, 2, with_zero), "shamir: x = 0");
  const std::vector<uint32_t> repeated = {4, 9, 4};
  ExpectInvalidArgument(ShamirSplit(secret, 2, repeated),
                        "shamir: x = 4 repeated");
}

TEST(ShamirTest, CombineRejectsBadParameters) {
  const Bytes secret = FixedSecret(32);
  const std::vector<ShamirShare> shares = SplitOrDie(secret, 3, kXs);
  const std::vector<ShamirShare> two(shares.begin(), shares.begin() + 2);
  ExpectInvalidArgument(ShamirCombine(two, 3, 32),
                        "shamir: 2 shares, threshold 3");
  ExpectInvalidArgument(ShamirCombine(shares, 0, 32),
                        "shamir: threshold 0 < 1");
  ExpectInvalidArgument(ShamirCombine(shares, 3, 0), "shamir: empty secret");
  ExpectInvalidArgument(ShamirCombine(shares, 3, 40),
                        "shamir: share x = 1 has 5 elements, expected 6");

  std::vector<ShamirShare> repeated = {shares[0], shares[1], shares[0]};
  ExpectInvalidArgument(ShamirCombine(repeated, 3, 32),
                        "shamir: x = 1 repeated");

  std::vector<ShamirShare> short_share = {shares[0], shares[1], shares[2]};
  short_share[1].y.pop_back();
  ExpectInvalidArgument(ShamirCombine(short_share, 3, 32),
                        "shamir: share x = 2 has 4 elements, expected 5");

  std::vector<ShamirShare> out_of_field = {shares[0], shares[1], shares[2]};
  out_of_field[2].y[3] = kShamirPrime;
  ExpectInvalidArgument(ShamirCombine(out_of_field, 3, 32),
                        "shamir: share x = 3 has an element >= p");

  std::vector<ShamirShare> zero_x = {shares[0], shares[1], shares[2]};
  zero_x[0].x = 0;
  ExpectInvalidArgument(ShamirCombine(zero_x, 3, 32), "shamir: x = 0");
}

}  // namespace
}  // namespace cls::crypto
