#include "crypto/aead.h"

#include <gtest/gtest.h>

#include <string>

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

Key32 FixedKey(uint8_t first) {
  Key32 key;
  for (size_t i = 0; i < key.size(); ++i)
    key[i] = static_cast<uint8_t>(first + i);
  return key;
}

const Key32 kKey = FixedKey(1);
const Bytes kPlaintext(AsBytes("masking key share for site 7").begin(),
                       AsBytes("masking key share for site 7").end());
const Bytes kAssociatedData(AsBytes("round 12 | from 3 | to 7").begin(),
                            AsBytes("round 12 | from 3 | to 7").end());

Bytes SealOrDie(ByteSpan plaintext, ByteSpan associated_data) {
  auto sealed = AesGcmSeal(kKey, plaintext, associated_data);
  EXPECT_TRUE(sealed.has_value());
  return sealed.value_or(Bytes{});
}

void ExpectAuthenticationFailure(const Result<Bytes>& opened) {
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code, ErrorCode::kDataLoss);
  EXPECT_EQ(opened.error().message, "aead: authentication failed");
}

TEST(AesGcmTest, RoundTripsPlaintextWithAssociatedData) {
  const Bytes sealed = SealOrDie(kPlaintext, kAssociatedData);
  EXPECT_EQ(sealed.size(), kGcmNonceBytes + kPlaintext.size() + kGcmTagBytes);
  auto opened = AesGcmOpen(kKey, sealed, kAssociatedData);
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  EXPECT_EQ(*opened, kPlaintext);
}

TEST(AesGcmTest, RoundTripsEmptyPlaintextAndLargePlaintext) {
  auto empty = AesGcmOpen(kKey, SealOrDie({}, {}), {});
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());

  Bytes large(1 << 20);
  for (size_t i = 0; i < large.size(); ++i)
    large[i] = static_cast<uint8_t>(i * 7);
  auto opened =
      AesGcmOpen(kKey, SealOrDie(large, kAssociatedData), kAssociatedData);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(*opened, large);
}

TEST(AesGcmTest, UsesAFreshNonceForEverySeal) {
  const Bytes a = SealOrDie(kPlaintext, kAssociatedData);
  const Bytes b = SealOrDie(kPlaintext, kAssociatedData);
  EXPECT_NE(Bytes(a.begin(), a.begin() + kGcmNonceBytes),
            Bytes(b.begin(), b.begin() + kGcmNonceBytes));
  EXPECT_NE(a, b);
}

TEST(AesGcmTest, OpensNistGcmTestCase16) {
  // McGrew & Viega, "The Galois/Counter Mode of Operation", test case 16.
  Key32 key;
  const Bytes key_bytes = FromHex(
      "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  std::copy(key_bytes.begin(), key_bytes.end(), key.begin());
  const Bytes sealed = FromHex(
      "cafebabefacedbaddecaf888"
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
      "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
      "76fc6ece0f4e1768cddf8853bb2d551b");
  const Bytes aad = FromHex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  auto opened = AesGcmOpen(key, sealed, aad);
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  EXPECT_EQ(ToHex(*opened),
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
            "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
}

TEST(AesGcmTest, RejectsAFlippedBitInTheNonce) {
  Bytes sealed = SealOrDie(kPlaintext, kAssociatedData);
  sealed[0] ^= 0x01;
  ExpectAuthenticationFailure(AesGcmOpen(kKey, sealed, kAssociatedData));
}

TEST(AesGcmTest, RejectsAFlippedBitInTheCiphertext) {
  Bytes sealed = SealOrDie(kPlaintext, kAssociatedData);
  sealed[kGcmNonceBytes + 3] ^= 0x80;
  ExpectAuthenticationFailure(AesGcmOpen(kKey, sealed, kAssociatedData));
}

TEST(AesGcmTest, RejectsAFlippedBitInTheTag) {
  Bytes sealed = SealOrDie(kPlaintext, kAssociatedData);
  sealed.back() ^= 0x01;
  ExpectAuthenticationFailure(AesGcmOpen(kKey, sealed, kAssociatedData));
}

TEST(AesGcmTest, RejectsAFlippedBitInTheAssociatedData) {
  const Bytes sealed = SealOrDie(kPlaintext, kAssociatedData);
  Bytes associated_data = kAssociatedData;
  associated_data[6] ^= 0x04;
  ExpectAuthenticationFailure(AesGcmOpen(kKey, sealed, associated_data));
  ExpectAuthenticationFailure(AesGcmOpen(kKey, sealed, {}));
}

TEST(AesGcmTest, RejectsTheWrongKey) {
  const Bytes sealed = SealOrDie(kPlaintext, kAssociatedData);
  ExpectAuthenticationFailure(AesGcmOpen(FixedKey(2), sealed, kAssociatedData));
}

TEST(AesGcmTest, RejectsTruncatedInput) {
  const Bytes sealed = SealOrDie({}, {});
  ASSERT_EQ(sealed.size(), kGcmNonceBytes + kGcmTagBytes);
  auto opened = AesGcmOpen(kKey, ByteSpan(sealed).first(sealed.size() - 1), {});
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(AesGcmOpen(kKey, {}, {}).error().code, ErrorCode::kInvalidArgument);

  // Cutting the tag off a longer message leaves enough bytes to parse but
  // fails authentication.
  const Bytes longer = SealOrDie(kPlaintext, kAssociatedData);
  ExpectAuthenticationFailure(AesGcmOpen(
      kKey, ByteSpan(longer).first(longer.size() - 1), kAssociatedData));
}

}  // namespace
}  // namespace cls::crypto
