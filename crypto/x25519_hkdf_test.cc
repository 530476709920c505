#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "crypto/hkdf.h"
#include "crypto/x25519.h"

namespace cls::crypto {
namespace {

Bytes FromHex(std::string_view hex) {
  Bytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(
        std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

Key32 Key32FromHex(std::string_view hex) {
  const Bytes bytes = FromHex(hex);
  Key32 key{};
  std::copy(bytes.begin(), bytes.end(), key.begin());
  return key;
}

// RFC 7748 section 6.1.
const Key32 kAlicePrivate = Key32FromHex(
    "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
const Key32 kAlicePublic = Key32FromHex(
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
const Key32 kBobPrivate = Key32FromHex(
    "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
const Key32 kBobPublic = Key32FromHex(
    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
const Key32 kSharedSecret = Key32FromHex(
    "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");

TEST(X25519Test, KeyPairFromPrivateReproducesThePublicKey) {
  auto alice = X25519KeyPairFromPrivate(kAlicePrivate);
  ASSERT_TRUE(alice.has_value()) << alice.error().ToString();
  EXPECT_EQ(alice->private_key, kAlicePrivate);
  EXPECT_EQ(alice->public_key, kAlicePublic);
  auto bob = X25519KeyPairFromPrivate(kBobPrivate);
  ASSERT_TRUE(bob.has_value());
  EXPECT_EQ(bob->public_key, kBobPublic);
}

TEST(X25519Test, SharedSecretMatchesRfc7748AndIsSymmetric) {
  auto alice_side = X25519SharedSecret(kAlicePrivate, kBobPublic);
  auto bob_side = X25519SharedSecret(kBobPrivate, kAlicePublic);
  ASSERT_TRUE(alice_side.has_value()) << alice_side.error().ToString();
  ASSERT_TRUE(bob_side.has_value()) << bob_side.error().ToString();
  EXPECT_EQ(*alice_side, kSharedSecret);
  EXPECT_EQ(*bob_side, kSharedSecret);
}

TEST(X25519Test, GeneratedKeyPairsAgreeAndRegenerateFromPrivate) {
  auto a = GenerateX25519KeyPair();
  auto b = GenerateX25519KeyPair();
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_NE(a->public_key, b->public_key);
  auto ab = X25519SharedSecret(a->private_key, b->public_key);
  auto ba = X25519SharedSecret(b->private_key, a->public_key);
  ASSERT_TRUE(ab.has_value() && ba.has_value());
  EXPECT_EQ(*ab, *ba);
  auto again = X25519KeyPairFromPrivate(a->private_key);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->public_key, a->public_key);
}

TEST(X25519Test, RejectsLowOrderPeerKey) {
  const Key32 zero_point{};  // the point of order 1: every result is zero
  auto secret = X25519SharedSecret(kAlicePrivate, zero_point);
  ASSERT_FALSE(secret.has_value());
  EXPECT_EQ(secret.error().code, ErrorCode::kInvalidArgument);
}

TEST(HkdfTest, MatchesRfc5869TestCase1) {
  const Bytes ikm(22, 0x0b);
  const Bytes salt = FromHex("000102030405060708090a0b0c");
  const Bytes info = FromHex("f0f1f2f3f4f5f6f7f8f9");
  auto okm = HkdfSha256(ikm, salt, info, 42);
  ASSERT_TRUE(okm.has_value()) << okm.error().ToString();
  EXPECT_EQ(ToHex(*okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
            "34007208d5b887185865");
}

TEST(HkdfTest, MatchesRfc5869TestCase3WithEmptySaltAndInfo) {
  const Bytes ikm(22, 0x0b);
  auto okm = HkdfSha256(ikm, {}, {}, 42);
  ASSERT_TRUE(okm.has_value()) << okm.error().ToString();
  EXPECT_EQ(ToHex(*okm),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
            "9d201395faa4b61a96c8");
}

TEST(HkdfTest, DeriveKey32IsTheFirst32BytesOfHkdfWithTheLabel) {
  const Bytes ikm(22, 0x0b);
  const Bytes salt = FromHex("000102030405060708090a0b0c");
  auto key = DeriveKey32(ikm, salt, "cls test label");
  auto okm = HkdfSha256(ikm, salt, AsBytes("cls test label"), 32);
  ASSERT_TRUE(key.has_value() && okm.has_value());
  EXPECT_TRUE(std::equal(key->begin(), key->end(), okm->begin(), okm->end()));
  auto other = DeriveKey32(ikm, salt, "another label");
  ASSERT_TRUE(other.has_value());
  EXPECT_NE(*key, *other);
}

TEST(HkdfTest, RejectsBadLengthsAndEmptyKey) {
  const Bytes ikm(22, 0x0b);
  EXPECT_EQ(HkdfSha256(ikm, {}, {}, 0).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(HkdfSha256(ikm, {}, {}, 255 * 32 + 1).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_TRUE(HkdfSha256(ikm, {}, {}, 255 * 32).has_value());
  EXPECT_EQ(HkdfSha256({}, {}, {}, 32).error().code,
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace cls::crypto
