// Properties every message kind must have, checked kind by kind so that a new
// message cannot skip them: it round-trips with every field, it is encoded in
// one segment in place (its size estimate bounds its encoded size), and it
// fits its kind's payload limit. Also the field checks shared by families.
// Tests moved here from frame_test.cc keep their suite name (Frame).
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "crypto/sha256.h"
#include "protocol/codec.h"
#include "protocol/codec_test_util.h"
#include "protocol/frame.h"
#include "protocol/messages.h"

namespace cls::protocol {
namespace {

TEST(Frame, RoundTripsEveryMessageTypeWithAllFields) {
  const auto messages = SampleMessages();
  ASSERT_EQ(messages.size(), std::variant_size_v<Message>);
  for (size_t i = 0; i < messages.size(); ++i) {
    SCOPED_TRACE(MessageName(messages[i]));
    ASSERT_EQ(messages[i].index(), i);
    const Bytes frame = EncodeFrame(messages[i]);
    auto decoded = DecodeFrame(frame);
    ASSERT_TRUE(decoded.has_value()) << decoded.error().ToString();
    ExpectSameMessage(messages[i], *decoded);
  }
}

template <size_t... I>
std::vector<Message> DefaultMessages(std::index_sequence<I...>) {
  return {Message(std::in_place_index<I>)...};
}

TEST(Frame, RoundTripsEveryMessageTypeWithDefaultFields) {
  for (const Message& message : DefaultMessages(
           std::make_index_sequence<std::variant_size_v<Message>>())) {
    SCOPED_TRACE(MessageName(message));
    auto decoded = DecodeFrame(EncodeFrame(message));
    ASSERT_TRUE(decoded.has_value()) << decoded.error().ToString();
    ExpectSameMessage(message, *decoded);
  }
}

TEST(Frame, RejectsOverlongText) {
  Hello hello;
  hello.site_id = std::string(256, 'x');
  EXPECT_TRUE(DecodeFrame(EncodeFrame(hello)).has_value());
  hello.site_id.push_back('x');
  EXPECT_EQ(DecodeError(EncodeFrame(hello)),
            "hello: site id is 257 bytes, at most 256");

  RoundAborted aborted{.round_id = 1, .reason = std::string(4096, 'r')};
  EXPECT_TRUE(DecodeFrame(EncodeFrame(aborted)).has_value());
  aborted.reason.push_back('r');
  EXPECT_EQ(DecodeError(EncodeFrame(aborted)),
            "round_aborted: reason is 4097 bytes, at most 4096");

  RoundAnnounce announce;
  announce.neighbours = {{"a", 1}, {std::string(300, 'n'), 2}};
  EXPECT_EQ(DecodeError(EncodeFrame(announce)),
            "round_announce: neighbour 1: site id is 300 bytes, at most 256");
}

// --- Site-reported counts (issue 11) ----------------------------------------

TEST(Frame, RefusesSampleCountsAbove2To40) {
  constexpr uint64_t kTooMany = uint64_t{1} << 63;
  Hello hello;
  hello.site_id = "site-1";
  hello.num_samples = kMaxSampleCount;
  EXPECT_TRUE(DecodeFrame(EncodeFrame(hello)).has_value());
  hello.num_samples = kTooMany;
  EXPECT_EQ(DecodeError(EncodeFrame(hello)),
            "hello: num samples is 9223372036854775808, at most "
            "1099511627776");
  hello.num_samples = kMaxSampleCount + 1;
  EXPECT_EQ(DecodeError(EncodeFrame(hello)),
            "hello: num samples is 1099511627777, at most 1099511627776");

  MaskedInput input{.round_id = 1, .masked = {1, 2}, .metrics = {}};
  input.metrics.count = kTooMany;
  EXPECT_EQ(DecodeError(EncodeFrame(input)),
            "masked_input: metrics count is 9223372036854775808, at most "
            "1099511627776");
  input.metrics = {};
  input.metrics.train_samples = kMaxSampleCount + 1;
  EXPECT_EQ(DecodeError(EncodeFrame(input)),
            "masked_input: metrics train samples is 1099511627777, at most "
            "1099511627776");

  EvaluationReport report;
  report.metrics.correct = kTooMany;
  EXPECT_EQ(DecodeError(EncodeFrame(report)),
            "evaluation_report: metrics correct is 9223372036854775808, at "
            "most 1099511627776");
  report.metrics = {};
  report.scores.false_negatives = kTooMany;
  EXPECT_EQ(DecodeError(EncodeFrame(report)),
            "evaluation_report: scores false negatives is "
            "9223372036854775808, at most 1099511627776");
  report.scores = {};
  report.scores.positive_histogram = {1, kMaxSampleCount + 1};
  EXPECT_EQ(DecodeError(EncodeFrame(report)),
            "evaluation_report: positive histogram bin 1 is 1099511627777, "
            "at most 1099511627776");
  report.scores.positive_histogram = {1, kMaxSampleCount};
  EXPECT_TRUE(DecodeFrame(EncodeFrame(report)).has_value());
}

// The segment count - 1 in the payload's segment table.
uint32_t ExtraSegments(const Bytes& frame) {
  uint32_t extra = 0;
  for (int i = 0; i < 4; ++i) {
    extra |= uint32_t{frame[kFrameHeaderBytes + i]} << (8 * i);
  }
  return extra;
}

TEST(Codec, EncodesEveryKindInOneSegmentWithinItsLimitAndRoundTrips) {
  const auto wide = WideMessages();
  ASSERT_EQ(wide.size(), std::variant_size_v<Message>);
  const auto defaults =
      DefaultMessages(std::make_index_sequence<std::variant_size_v<Message>>());
  for (const auto* set : {&wide, &defaults}) {
    for (size_t i = 0; i < set->size(); ++i) {
      const Message& message = (*set)[i];
      SCOPED_TRACE(MessageName(message));
      ASSERT_EQ(message.index(), i);
      const Bytes frame = EncodeFrame(message);
      EXPECT_EQ(ExtraSegments(frame), 0u)
          << "the size estimate fell short: more than one segment";
      EXPECT_LE(frame.size() - kFrameHeaderBytes,
                MaxPayloadBytes(static_cast<uint32_t>(i + 1)));
      auto decoded = DecodeFrame(frame);
      ASSERT_TRUE(decoded.has_value()) << decoded.error().ToString();
      EXPECT_EQ(decoded->index(), i);
      EXPECT_EQ(EncodeFrame(*decoded), frame) << "re-encodes to other bytes";
    }
  }
}

// The bound EncodeFrame relies on, checked directly: the words it reserves
// for a message's one segment cover what the message's encoder writes.
TEST(Codec, SizeEstimateBoundsTheEncodedSizeOfEveryKind) {
  const auto defaults =
      DefaultMessages(std::make_index_sequence<std::variant_size_v<Message>>());
  for (const auto& set : {SampleMessages(), WideMessages(), defaults}) {
    ASSERT_EQ(set.size(), std::variant_size_v<Message>);
    for (const Message& message : set) {
      SCOPED_TRACE(MessageName(message));
      const Bytes frame = EncodeFrame(message);
      // The payload: a one-word segment table, then the segment.
      const size_t segment_words = (frame.size() - kFrameHeaderBytes) / 8 - 1;
      EXPECT_LE(segment_words, codec::SegmentWordsFor(message));
    }
  }
}

TEST(Codec, EveryKindHasOneCodecOfItsOwnKind) {
  size_t codecs = 0;
  for (auto family :
       {codec::ControlCodecs(), codec::RoundCodecs(), codec::ServingCodecs()}) {
    codecs += family.size();
  }
  EXPECT_EQ(codecs, kKinds.size());
  for (uint32_t kind = 1; kind <= kKinds.size(); ++kind) {
    EXPECT_EQ(codec::CodecOf(kind).kind, kind) << MessageKindName(kind);
  }
}

// The wire format is pinned: per kind, SHA-256 (first 16 bytes, hex) over
// the frames of its sample, wide and default messages. Recorded from the
// encoder before the codecs were split by family (commit 17e1a56); a change
// here is a wire format change, which needs kProtocolVersion bumped.
// Except fields appended to a struct with new ordinals, which older
// decoders skip and newer ones default: issue 14's Hello.recordPrivacy,
// MaskedInput.recordPrivacy, RoundAnnounce.modelSpec, ServedModel.modelSpec,
// ValidationMetrics' class counts and DeploymentUpdate's [drift] settings
// (fields 7-10) changed those digests; version 2 peers still understand
// each other.
TEST(Codec, EncodesEveryKindToTheSameBytesAsProtocolVersion2) {
  ASSERT_EQ(kProtocolVersion, 2);
  const std::array<std::pair<std::string_view, std::string_view>, 20> pinned = {
      {
          {"hello", "9b9448560bc8ea3356f41f2a67caf9f3"},
          {"welcome", "f1f690974fcf9dac25f213a0bd5749b6"},
          {"rejected", "248e3db4bd2d8061197355ec929f8b11"},
          {"round_announce", "9f08b0fca9a3ce7a1c052170ec31e3d5"},
          {"advertise_keys", "2479ab67999460c27d50cd1292824fb3"},
          {"key_directory", "f6c2add6cd6b10d4be1f0c19b31254e3"},
          {"share_keys", "2f58d59dc658283810e25b215138887c"},
          {"share_delivery", "5e795eb903074147c19ccb5016e84cdd"},
          {"masked_input", "d711f65184619815babdadf8dd692d49"},
          {"unmask_request", "331070d611cabecead4e535c672e7b1d"},
          {"unmask_response", "f0a5783d3324ea83021600b30a825dac"},
          {"round_result", "1935b70d210d86ad270d5b526ef7251e"},
          {"round_aborted", "baeee924043f40465ee94203587a994e"},
          {"evaluation_report", "53a4516f394599c6d7e9236a08afbff6"},
          // Fields 7-10 (issue 14, the [drift] settings) added: a
          // compatible change (an older reader ignores them, a newer one
          // reads defaults that mean "unset"), so the version stays 2.
          {"deployment_update", "ce6e4f0a5d44137ab8e2658b21401a4e"},
          {"deployment_ack", "5ad0aca91d23e84eaf2a79d7d8406290"},
          {"drift_report", "82b763cfa2c59b80465b94cdb621e875"},
          {"audit_checkpoint", "47f52594335d1e35e712efb5cb43bf85"},
          {"survivor_set", "ec7f4e708590ac823aa435911bc40fb5"},
          {"survivor_set_signature", "ccfb519980f2fdd74f4f72e1a1b5cf45"},
      }};
  ASSERT_EQ(pinned.size(), std::variant_size_v<Message>);
  const auto sample = SampleMessages();
  const auto wide = WideMessages();
  const auto defaults =
      DefaultMessages(std::make_index_sequence<std::variant_size_v<Message>>());
  for (size_t i = 0; i < pinned.size(); ++i) {
    SCOPED_TRACE(pinned[i].first);
    EXPECT_EQ(MessageName(sample[i]), pinned[i].first);
    Bytes frames;
    for (const auto* set : {&sample, &wide, &defaults}) {
      const Bytes frame = EncodeFrame((*set)[i]);
      frames.insert(frames.end(), frame.begin(), frame.end());
    }
    const crypto::Digest digest = crypto::Sha256(frames);
    EXPECT_EQ(ToHex(ByteSpan(digest.data(), 16)), pinned[i].second);
  }
}

}  // namespace
}  // namespace cls::protocol
