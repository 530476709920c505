#include "crypto/sha256.h"

#include <gtest/gtest.h>

#include <set>

#include "crypto/random.h"

namespace cls::crypto {
namespace {

TEST(Sha256Test, MatchesKnownVectorForAbc) {
  EXPECT_EQ(Sha256Hex(AsBytes("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, MatchesKnownVectorForEmptyInput) {
  EXPECT_EQ(Sha256Hex({}),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256Test, IncrementalHashEqualsOneShotHash) {
  Sha256Hasher hasher;
  hasher.Update(AsBytes("a"));
  hasher.Update(AsBytes(""));
  hasher.Update(AsBytes("bc"));
  EXPECT_EQ(hasher.Finish(), Sha256(AsBytes("abc")));
}

TEST(Sha256Test, HasherStartsOverAfterFinish) {
  Sha256Hasher hasher;
  hasher.Update(AsBytes("something else"));
  hasher.Finish();
  hasher.Update(AsBytes("abc"));
  EXPECT_EQ(hasher.Finish(), Sha256(AsBytes("abc")));
}

TEST(RandomTest, ReturnsRequestedLengthAndDiffersBetweenCalls) {
  EXPECT_EQ(RandomBytes(0).size(), 0u);
  EXPECT_EQ(RandomBytes(37).size(), 37u);
  std::set<Key32> keys;
  for (int i = 0; i < 8; ++i) keys.insert(RandomKey32());
  EXPECT_EQ(keys.size(), 8u);
}

}  // namespace
}  // namespace cls::crypto
