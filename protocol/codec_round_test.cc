// The secure aggregation round's codecs (codec_round.cc): keys, vectors and
// masked inputs. The suite keeps its name (Frame) from before the split.
#include <gtest/gtest.h>

#include <array>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <capnp/message.h>

#include "cls.capnp.h"
#include "protocol/codec_test_util.h"
#include "protocol/frame.h"
#include "protocol/messages.h"

namespace cls::protocol {
namespace {

TEST(Frame, RejectsA31BytePublicKey) {
  const Key32 key = KeyFilled(9);
  const auto key31 = capnp::Data::Reader(key.data(), 31);
  const auto key32 = capnp::Data::Reader(key.data(), 32);
  {
    capnp::MallocMessageBuilder builder;
    auto envelope = builder.initRoot<wire::Envelope>();
    envelope.setProtocolVersion(kProtocolVersion);
    auto keys = envelope.getBody().initAdvertiseKeys();
    keys.setCipherPublicKey(key32);
    keys.setMaskPublicKey(key31);
    keys.setSelfMaskCommitment(key32);
    EXPECT_EQ(DecodeError(RawFrame(kAdvertiseKeysKind, builder)),
              "advertise_keys: mask public key is 31 bytes, expected 32");
  }
  {
    capnp::MallocMessageBuilder builder;
    auto envelope = builder.initRoot<wire::Envelope>();
    envelope.setProtocolVersion(kProtocolVersion);
    auto list = envelope.getBody().initKeyDirectory().initKeys(3);
    for (unsigned i = 0; i < 3; ++i) {
      list[i].setCipherPublicKey(i == 2 ? key31 : key32);
      list[i].setMaskPublicKey(key32);
      list[i].setSelfMaskCommitment(key32);
    }
    EXPECT_EQ(
        DecodeError(RawFrame(kKeyDirectoryKind, builder)),
        "key_directory: key 2: cipher public key is 31 bytes, expected 32");
  }
  {
    // A missing key is 0 bytes.
    capnp::MallocMessageBuilder builder;
    auto envelope = builder.initRoot<wire::Envelope>();
    envelope.setProtocolVersion(kProtocolVersion);
    envelope.getBody().initAdvertiseKeys().setRoundId(3);
    EXPECT_EQ(DecodeError(RawFrame(kAdvertiseKeysKind, builder)),
              "advertise_keys: cipher public key is 0 bytes, expected 32");
  }
}

TEST(Frame, RejectsAVectorBlobWhoseLengthIsNotAMultipleOf4) {
  const std::array<uint8_t, 10> blob{};
  {
    // Masked vectors are bit-packed (see the MaskedInput tests below): at 32
    // bits the blob must hold exactly `count` words.
    capnp::MallocMessageBuilder builder;
    auto envelope = builder.initRoot<wire::Envelope>();
    envelope.setProtocolVersion(kProtocolVersion);
    auto input = envelope.getBody().initMaskedInput();
    input.setMasked(capnp::Data::Reader(blob.data(), blob.size()));
    input.setBits(32);
    input.setCount(2);
    EXPECT_EQ(DecodeError(RawFrame(kMaskedInputKind, builder)),
              "masked_input: masked is 10 bytes, expected 8 for 2 values of "
              "32 bits");
  }
  {
    capnp::MallocMessageBuilder builder;
    auto envelope = builder.initRoot<wire::Envelope>();
    envelope.setProtocolVersion(kProtocolVersion);
    envelope.getBody().initAnnounce().setParameters(
        capnp::Data::Reader(blob.data(), 7));
    EXPECT_EQ(DecodeError(RawFrame(kRoundAnnounceKind, builder)),
              "round_announce: parameters is 7 bytes, not a multiple of 4");
  }
}

TEST(Frame, EncodesLargeVectorsInOneSegment) {
  MaskedInput masked;
  masked.masked.resize(1'000'000);
  for (size_t i = 0; i < masked.masked.size(); ++i) {
    masked.masked[i] = static_cast<uint32_t>(i * 2654435761u);
  }
  const Bytes frame = EncodeFrame(masked);
  EXPECT_EQ(frame[kFrameHeaderBytes], 0) << "segment count - 1";
  EXPECT_LT(frame.size(), 4'000'000u + 1024);
  auto decoded = DecodeFrame(frame);
  ASSERT_TRUE(decoded.has_value()) << decoded.error().ToString();
  EXPECT_EQ(std::get<MaskedInput>(*decoded).masked, masked.masked);
}

// Random bytes, random headers over random payloads, and bit flips / byte
// edits of valid frames: DecodeFrame must either decode or return an error,
// never crash, throw, or quote the payload.

// --- Masked vectors at the ring's width (issue 11) --------------------------

TEST(Frame, PacksTheMaskedVectorAtTheRingWidth) {
  MaskedInput input{.round_id = 5, .masked = {}, .metrics = SampleMetrics()};
  input.ring_bits = 20;
  for (uint32_t i = 0; i < 100000; ++i) {
    input.masked.push_back((i * 2654435761u) & 0xfffffu);
  }
  const Bytes frame = EncodeFrame(input);
  // 100,000 x 20 bits = 250,000 bytes, plus a few words of envelope.
  EXPECT_GE(frame.size(), 250'000u);
  EXPECT_LT(frame.size(), 250'000u + 256);
  auto decoded = DecodeFrame(frame);
  ASSERT_TRUE(decoded.has_value()) << decoded.error().ToString();
  ExpectSame(input, std::get<MaskedInput>(*decoded));

  // Every width from 1 to 32 round-trips through the frame codec.
  for (uint8_t bits = 1; bits <= 32; ++bits) {
    MaskedInput m{.round_id = bits, .masked = {}, .metrics = {}};
    m.ring_bits = bits;
    const uint32_t mask = bits == 32 ? ~0u : (1u << bits) - 1;
    for (uint32_t i = 0; i < 257; ++i) m.masked.push_back(i * 40503u & mask);
    auto back = DecodeFrame(EncodeFrame(m));
    ASSERT_TRUE(back.has_value()) << int{bits} << ": " << back.error().message;
    ExpectSame(m, std::get<MaskedInput>(*back));
  }
}

// --- The site's record-level DP-SGD ledger (issue 14) ---------------------

TEST(Frame, CarriesTheSitesRecordPrivacyInHelloAndMaskedInput) {
  const RecordPrivacyReport report{.dp_sgd = true,
                                   .epsilon = 2.75,
                                   .delta = 1e-5,
                                   .target_epsilon = 8.5,
                                   .refusals = 3};
  MaskedInput input{.round_id = 9, .masked = {1, 2, 3}, .metrics = {}};
  input.record_privacy = report;
  auto back = DecodeFrame(EncodeFrame(input));
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  const auto& got = std::get<MaskedInput>(*back).record_privacy;
  EXPECT_TRUE(got.dp_sgd);
  EXPECT_EQ(got.epsilon, 2.75);
  EXPECT_EQ(got.delta, 1e-5);
  EXPECT_EQ(got.target_epsilon, 8.5);
  EXPECT_EQ(got.refusals, 3u);

  Hello hello;
  hello.site_id = "HOSP_A";
  hello.num_samples = 10;
  hello.record_privacy = report;
  auto h = DecodeFrame(EncodeFrame(hello));
  ASSERT_TRUE(h.has_value()) << h.error().ToString();
  EXPECT_EQ(std::get<Hello>(*h).record_privacy.epsilon, 2.75);

  // A site without DP-SGD sends zeros; a negative or non-finite epsilon is
  // refused.
  hello.record_privacy = {};
  h = DecodeFrame(EncodeFrame(hello));
  ASSERT_TRUE(h.has_value());
  EXPECT_FALSE(std::get<Hello>(*h).record_privacy.dp_sgd);
  input.record_privacy.epsilon = -1;
  auto bad = DecodeFrame(EncodeFrame(input));
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("record epsilon"), std::string::npos)
      << bad.error().message;
  input.record_privacy.epsilon = std::numeric_limits<double>::infinity();
  EXPECT_FALSE(DecodeFrame(EncodeFrame(input)).has_value());
}

Bytes MaskedFrame(size_t blob_bytes, uint8_t bits, uint32_t count,
                  uint8_t last_byte = 0) {
  std::vector<uint8_t> blob(blob_bytes, 0);
  if (!blob.empty()) blob.back() = last_byte;
  capnp::MallocMessageBuilder builder;
  auto envelope = builder.initRoot<wire::Envelope>();
  envelope.setProtocolVersion(kProtocolVersion);
  auto input = envelope.getBody().initMaskedInput();
  input.setRoundId(3);
  input.setMasked(capnp::Data::Reader(blob.data(), blob.size()));
  input.setBits(bits);
  input.setCount(count);
  return RawFrame(kMaskedInputKind, builder);
}

TEST(Frame, RefusesAMaskedVectorThatDoesNotMatchItsCountAndWidth) {
  EXPECT_TRUE(DecodeFrame(MaskedFrame(25, 20, 10)).has_value());
  EXPECT_EQ(DecodeError(MaskedFrame(24, 20, 10)),
            "masked_input: masked is 24 bytes, expected 25 for 10 values of "
            "20 bits");
  EXPECT_EQ(DecodeError(MaskedFrame(26, 20, 10)),
            "masked_input: masked is 26 bytes, expected 25 for 10 values of "
            "20 bits");
  EXPECT_EQ(DecodeError(MaskedFrame(25, 20, 11)),
            "masked_input: masked is 25 bytes, expected 28 for 11 values of "
            "20 bits");
  // 3 values of 7 bits: the top 3 bits of byte 2 are padding.
  EXPECT_TRUE(DecodeFrame(MaskedFrame(3, 7, 3, 0x1f)).has_value());
  EXPECT_EQ(DecodeError(MaskedFrame(3, 7, 3, 0x1f ^ 0x80)),
            "masked_input: masked has nonzero padding bits");
  // A sender of the older format (no width) and impossible widths.
  EXPECT_EQ(DecodeError(MaskedFrame(8, 0, 2)),
            "masked_input: bits is 0, expected 1 to 32");
  EXPECT_EQ(DecodeError(MaskedFrame(8, 33, 2)),
            "masked_input: bits is 33, expected 1 to 32");
  EXPECT_EQ(DecodeError(MaskedFrame(8, 1, kMaxParameters + 1)),
            "masked_input: count is 16777217, at most 16777216");
}

TEST(Frame, EncodesAMillionMaskedValuesAtTwentyBitsInTwoAndAHalfMegabytes) {
  MaskedInput input;
  input.ring_bits = 20;
  input.masked.resize(1'000'000);
  for (size_t i = 0; i < input.masked.size(); ++i) {
    input.masked[i] = static_cast<uint32_t>(i * 2654435761u) & 0xfffffu;
  }
  const Bytes frame = EncodeFrame(input);
  EXPECT_EQ(frame[kFrameHeaderBytes], 0) << "segment count - 1";
  EXPECT_LT(frame.size(), 2'500'000u + 1024);
  EXPECT_LE(frame.size() - kFrameHeaderBytes,
            MaxPayloadBytes(kMaskedInputKind));
  auto decoded = DecodeFrame(frame);
  ASSERT_TRUE(decoded.has_value()) << decoded.error().ToString();
  EXPECT_EQ(std::get<MaskedInput>(*decoded).masked, input.masked);
}

}  // namespace
}  // namespace cls::protocol
