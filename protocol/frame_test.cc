// Framing (frame.h): the header and its kind table, the segment table, Cap'n
// Proto's reading limits, and the checks a reader makes before allocating.
// Each family's field checks are in codec_<family>_test.cc.
#include "protocol/frame.h"

#include <gtest/gtest.h>

#include <array>
#include <random>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <capnp/message.h>

#include "cls.capnp.h"
#include "protocol/codec_test_util.h"
#include "protocol/messages.h"

namespace cls::protocol {
namespace {

TEST(Frame, WritesKindAndPayloadLengthInTheHeader) {
  for (const Message& message : SampleMessages()) {
    const Bytes frame = EncodeFrame(message);
    ASSERT_GE(frame.size(), kFrameHeaderBytes + 8);
    auto header =
        DecodeFrameHeader(std::span(frame).first<kFrameHeaderBytes>());
    ASSERT_TRUE(header.has_value()) << header.error().ToString();
    EXPECT_EQ(header->kind, message.index() + 1);
    EXPECT_EQ(header->length, frame.size() - kFrameHeaderBytes);
    EXPECT_EQ(header->length % 8, 0u);
    EXPECT_LE(header->length, MaxPayloadBytes(header->kind));
  }
}

TEST(Frame, NamesEveryMessageKind) {
  const std::array<std::string_view, 20> names = {"hello",
                                                  "welcome",
                                                  "rejected",
                                                  "round_announce",
                                                  "advertise_keys",
                                                  "key_directory",
                                                  "share_keys",
                                                  "share_delivery",
                                                  "masked_input",
                                                  "unmask_request",
                                                  "unmask_response",
                                                  "round_result",
                                                  "round_aborted",
                                                  "evaluation_report",
                                                  "deployment_update",
                                                  "deployment_ack",
                                                  "drift_report",
                                                  "audit_checkpoint",
                                                  "survivor_set",
                                                  "survivor_set_signature"};
  const auto messages = SampleMessages();
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(MessageName(messages[i]), names[i]);
    EXPECT_EQ(MessageKindName(static_cast<uint32_t>(i + 1)), names[i]);
  }
  EXPECT_EQ(MessageKindName(0), "unknown");
  EXPECT_EQ(MessageKindName(21), "unknown");
}

TEST(Frame, GivesEachKindAPayloadLimit) {
  constexpr uint32_t kControl = 64 * 1024;
  constexpr uint32_t kKeys = 16 * 1024 * 1024;
  constexpr uint32_t kVector = kMaxParameters * 4 + 1024 * 1024;
  constexpr uint32_t kDeployment = kMaxParameters * 16 + 1024 * 1024;
  constexpr uint32_t kDrift = 4 * 1024 * 1024;
  const std::array<uint32_t, 20> limits = {
      kControl,    kControl, kControl, kVector,  kControl, kKeys,    kKeys,
      kKeys,       kVector,  kKeys,    kKeys,    kVector,  kControl, kControl,
      kDeployment, kControl, kDrift,   kControl, kKeys,    kControl};
  for (size_t i = 0; i < limits.size(); ++i) {
    EXPECT_EQ(MaxPayloadBytes(static_cast<uint32_t>(i + 1)), limits[i])
        << MessageKindName(static_cast<uint32_t>(i + 1));
  }
  EXPECT_EQ(MaxPayloadBytes(0), 0u);
  EXPECT_EQ(MaxPayloadBytes(21), 0u);
}

TEST(Frame, RejectsAnUnknownKind) {
  for (uint32_t kind : {0u, 21u, 0xffffffffu}) {
    const Bytes frame = WithHeader(kind, 8, Bytes(8, 0));
    EXPECT_EQ(DecodeError(frame),
              "frame: unknown kind " + std::to_string(kind));
  }
}

TEST(Frame, RejectsAnOversizeControlPayloadBeforeReadingIt) {
  // Only the header is there: the limit is checked before the payload is
  // awaited or allocated.
  const Bytes header = WithHeader(kHelloKind, 64 * 1024 + 8, {});
  EXPECT_EQ(DecodeError(header),
            "frame: hello payload 65544 bytes, at most 65536");
  auto parsed = DecodeFrameHeader(std::span(header).first<kFrameHeaderBytes>());
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);

  const Bytes huge = WithHeader(kMaskedInputKind, 0xfffffff8u, {});
  EXPECT_EQ(DecodeError(huge),
            "frame: masked_input payload 4294967288 bytes, at most 68157440");
}

TEST(Frame, AcceptsAHeaderAtTheControlLimit) {
  const Bytes header = WithHeader(kHelloKind, 64 * 1024, {});
  auto parsed = DecodeFrameHeader(std::span(header).first<kFrameHeaderBytes>());
  ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();
  EXPECT_EQ(parsed->length, 64u * 1024);
}

TEST(Frame, RejectsAPayloadLengthThatIsNotWhole64BitWords) {
  const Bytes frame = WithHeader(kMaskedInputKind, 9, Bytes(9, 0));
  EXPECT_EQ(DecodeError(frame),
            "frame: masked_input payload 9 bytes, not a multiple of 8");
  EXPECT_EQ(DecodeError(WithHeader(kHelloKind, 0, {})),
            "frame: hello payload is empty");
}

TEST(Frame, RejectsTooManySegments) {
  std::vector<uint64_t> words(10, 0);
  words[0] = 16;  // 17 segments
  EXPECT_EQ(DecodeError(RawFrame(kHelloKind, words)),
            "frame: 17 segments, at most 16");
  words[0] = 0xffffffff;
  EXPECT_EQ(DecodeError(RawFrame(kHelloKind, words)),
            "frame: 4294967296 segments, at most 16");
}

TEST(Frame, RejectsSegmentSizesThatDoNotAddUpToThePayload) {
  const Bytes valid = EncodeFrame(SampleMessages()[0]);
  const size_t words = (valid.size() - kFrameHeaderBytes) / 8;

  // One word more than the segment table describes.
  Bytes longer = valid;
  longer.insert(longer.end(), 8, 0);
  PutU32(longer.data() + 4,
         static_cast<uint32_t>(longer.size() - kFrameHeaderBytes));
  EXPECT_EQ(DecodeError(longer),
            "frame: segment table and segments take " + std::to_string(words) +
                " words, payload has " + std::to_string(words + 1));

  // First segment one word short.
  Bytes shorter = valid;
  PutU32(shorter.data() + kFrameHeaderBytes + 4,
         static_cast<uint32_t>(words - 2));
  EXPECT_EQ(DecodeError(shorter), "frame: segment table and segments take " +
                                      std::to_string(words - 1) +
                                      " words, payload has " +
                                      std::to_string(words));

  // Sizes that would overflow 32 bits.
  std::vector<uint64_t> table = {0xffffffff'00000001ull, 0xffffffffull, 0};
  EXPECT_EQ(
      DecodeError(RawFrame(kHelloKind, table)),
      "frame: segment table and segments take 8589934592 words, payload has 3");

  // A table that does not fit in the payload.
  std::vector<uint64_t> cut = {15};
  EXPECT_EQ(DecodeError(RawFrame(kHelloKind, cut)),
            "frame: segment table of 9 words, payload has 1");
}

TEST(Frame, AcceptsAMultiSegmentMessage) {
  capnp::MallocMessageBuilder builder(8, capnp::AllocationStrategy::FIXED_SIZE);
  auto envelope = builder.initRoot<wire::Envelope>();
  envelope.setProtocolVersion(kProtocolVersion);
  auto hello = envelope.getBody().initHello();
  hello.setSiteId("site-1");
  hello.setSiteName("a name long enough for another segment");
  hello.setNumSamples(5);
  ASSERT_GT(builder.getSegmentsForOutput().size(), 1u);
  auto decoded = DecodeFrame(RawFrame(kHelloKind, builder));
  ASSERT_TRUE(decoded.has_value()) << decoded.error().ToString();
  EXPECT_EQ(std::get<Hello>(*decoded).site_name,
            "a name long enough for another segment");
}

TEST(Frame, RejectsTruncatedFramesAndTrailingBytes) {
  const Bytes valid = EncodeFrame(SampleMessages()[0]);
  const std::string total = std::to_string(valid.size());
  EXPECT_EQ(DecodeError(ByteSpan(valid).first(3)),
            "frame: truncated: 3 of 8 bytes");
  EXPECT_EQ(DecodeError(ByteSpan(valid).first(12)),
            "frame: truncated: 12 of " + total + " bytes");
  for (size_t n = 0; n < valid.size(); ++n) {
    EXPECT_NE(DecodeError(ByteSpan(valid).first(n)).find("frame: truncated: "),
              std::string::npos);
  }
  Bytes trailing = valid;
  trailing.push_back(0);
  EXPECT_EQ(DecodeError(trailing),
            "frame: 1 trailing bytes after a " + total + "-byte frame");
  trailing.insert(trailing.end(), valid.begin(), valid.end());
  EXPECT_NE(DecodeError(trailing).find("trailing bytes"), std::string::npos);
}

TEST(Frame, RejectsAPayloadWhoseSizeDiffersFromTheHeader) {
  const Bytes valid = EncodeFrame(SampleMessages()[0]);
  auto header = DecodeFrameHeader(std::span(valid).first<kFrameHeaderBytes>());
  ASSERT_TRUE(header.has_value());
  std::vector<uint64_t> words((valid.size() - kFrameHeaderBytes) / 8 + 1, 0);
  auto result = DecodeFramePayload(*header, words);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().message, "frame: header says hello payload of " +
                                        std::to_string(header->length) +
                                        " bytes, got " +
                                        std::to_string(words.size() * 8));
}

TEST(Frame, RejectsABodyWhoseKindDiffersFromTheHeader) {
  Bytes frame = EncodeFrame(SampleMessages()[0]);
  PutU32(frame.data(), kMaskedInputKind);
  EXPECT_EQ(DecodeError(frame),
            "frame: body is hello, header says masked_input");

  // A union discriminant this build does not know.
  capnp::MallocMessageBuilder builder;
  auto envelope = builder.initRoot<wire::Envelope>();
  envelope.setProtocolVersion(kProtocolVersion);
  envelope.getBody().initHello();
  Bytes unknown = RawFrame(kHelloKind, builder);
  // Data section of the root struct: u16 version, then the u16 discriminant.
  const size_t discriminant =
      kFrameHeaderBytes + 8 /*table*/ + 8 /*root ptr*/ + 2;
  ASSERT_EQ(unknown[discriminant], 0);
  unknown[discriminant] = 40;
  EXPECT_EQ(DecodeError(unknown),
            "frame: body is unknown kind 41, header says hello");
}

TEST(Frame, RejectsAWrongProtocolVersion) {
  capnp::MallocMessageBuilder builder;
  auto envelope = builder.initRoot<wire::Envelope>();
  envelope.setProtocolVersion(kProtocolVersion + 1);
  envelope.getBody().initWelcome().setSiteId("site-1");
  EXPECT_EQ(DecodeError(RawFrame(2, builder)),
            "frame: protocol version " + std::to_string(kProtocolVersion + 1) +
                " is not supported; supported versions: " +
                std::to_string(kProtocolVersion));
}

TEST(Frame, RejectsMalformedCapnProtoWithoutThrowing) {
  // Root pointer to a struct far outside the single segment.
  std::vector<uint64_t> words = {uint64_t{2} << 32, 0x0001000100fffffcull, 0};
  EXPECT_EQ(DecodeError(RawFrame(kHelloKind, words)),
            "frame: malformed hello message");
  // A first segment of zero words.
  words = {0, 0, 0};
  words[0] = uint64_t{0} << 32 | 1;  // 2 segments: sizes 0 and 1
  words[1] = 1;
  EXPECT_EQ(DecodeError(RawFrame(kHelloKind, std::span(words).first(3))),
            "frame: malformed hello message");
}

TEST(Frame, RejectsTextWithoutItsTerminator) {
  capnp::MallocMessageBuilder builder;
  auto envelope = builder.initRoot<wire::Envelope>();
  envelope.setProtocolVersion(kProtocolVersion);
  envelope.getBody().initRejected().setReason("abcdefg");  // 8 bytes with NUL
  Bytes frame = RawFrame(3, builder);
  // The text is the last word of the segment; overwrite its NUL.
  ASSERT_EQ(frame.back(), 0);
  frame.back() = 'h';
  EXPECT_EQ(DecodeError(frame), "frame: malformed rejected message");
}

TEST(Frame, SurvivesRandomBytesAndBitFlipsOfValidFrames) {
  std::mt19937_64 rng(0x5eed'f4a3e);
  std::vector<Bytes> seeds;
  for (const Message& m : SampleMessages()) seeds.push_back(EncodeFrame(m));
  auto below = [&](uint64_t n) { return n == 0 ? 0 : rng() % n; };

  int decoded = 0;
  int rejected = 0;
  int bad_errors = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes input;
    switch (i % 5) {
      case 0: {  // random bytes
        input.resize(below(300));
        for (auto& b : input) b = static_cast<uint8_t>(rng());
        break;
      }
      case 1: {  // a valid header and segment table over random words
        const uint32_t words = 2 + static_cast<uint32_t>(below(40));
        std::vector<uint64_t> payload(words);
        for (auto& w : payload) w = rng();
        payload[0] = uint64_t{words - 1} << 32;
        input = RawFrame(1 + static_cast<uint32_t>(below(14)), payload);
        break;
      }
      case 2:
      case 3: {  // bit flips
        input = seeds[below(seeds.size())];
        const int flips = 1 + static_cast<int>(below(8));
        for (int f = 0; f < flips; ++f) {
          const size_t bit = below(input.size() * 8);
          input[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        }
        break;
      }
      case 4: {  // byte edits, truncation, extension
        input = seeds[below(seeds.size())];
        const int edits = 1 + static_cast<int>(below(4));
        for (int e = 0; e < edits; ++e) {
          switch (below(3)) {
            case 0:
              input[below(input.size())] = static_cast<uint8_t>(rng());
              break;
            case 1:
              input.resize(below(input.size() + 1));
              break;
            case 2:
              input.push_back(static_cast<uint8_t>(rng()));
              break;
          }
          if (input.empty()) break;
        }
        break;
      }
    }
    auto result = DecodeFrame(input);
    if (result) {
      ++decoded;
      // Whatever decodes re-encodes and decodes again.
      auto again = DecodeFrame(EncodeFrame(*result));
      if (!again) ++bad_errors;
    } else {
      ++rejected;
      const Error& error = result.error();
      if (error.code != ErrorCode::kInvalidArgument || error.message.empty() ||
          error.message.find(kSecret) != std::string::npos ||
          error.message.find("St. Elsewhere") != std::string::npos) {
        ++bad_errors;
        ADD_FAILURE() << "input " << i << ": " << error.ToString();
      }
    }
  }
  EXPECT_EQ(bad_errors, 0);
  EXPECT_EQ(decoded + rejected, 20000);
  EXPECT_GT(decoded, 100);
  EXPECT_GT(rejected, 10000);
}

// --- Direction and first-frame checks at the header (issue 11) -------------

FrameHeader Header(uint32_t kind, uint32_t length) {
  return FrameHeader{.kind = kind, .length = length};
}

std::string FilterError(const FrameHeader& header, const FrameFilter& filter) {
  auto s = CheckFrameFilter(header, filter);
  if (s) return "accepted";
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  return s.error().message;
}

TEST(Frame, GivesEveryKindOneDirection) {
  using enum Direction;
  const std::array<Direction, 20> directions = {
      kSiteToCoordinator, kCoordinatorToSite, kCoordinatorToSite,  // 1-3
      kCoordinatorToSite, kSiteToCoordinator, kCoordinatorToSite,  // 4-6
      kSiteToCoordinator, kCoordinatorToSite, kSiteToCoordinator,  // 7-9
      kCoordinatorToSite, kSiteToCoordinator, kCoordinatorToSite,  // 10-12
      kCoordinatorToSite, kSiteToCoordinator, kCoordinatorToSite,  // 13-15
      kSiteToCoordinator, kSiteToCoordinator, kCoordinatorToSite,  // 16-18
      kCoordinatorToSite, kSiteToCoordinator};                     // 19-20
  ASSERT_EQ(directions.size(), std::variant_size_v<Message>);
  for (size_t i = 0; i < directions.size(); ++i) {
    const auto kind = static_cast<uint32_t>(i + 1);
    EXPECT_EQ(DirectionOf(kind), directions[i]) << MessageKindName(kind);
  }
  EXPECT_EQ(DirectionOf(0), std::nullopt);
  EXPECT_EQ(DirectionOf(21), std::nullopt);
  EXPECT_EQ(FrameKind<Hello>(), 1u);
  EXPECT_EQ(FrameKind<DeploymentUpdate>(), 15u);
}

TEST(Frame, RefusesAKindOfTheWrongDirectionAtTheHeader) {
  const FrameFilter at_coordinator{.inbound = Direction::kSiteToCoordinator};
  const FrameFilter at_site{.inbound = Direction::kCoordinatorToSite};
  // Only the 8 header bytes exist: the refusal needs no payload.
  EXPECT_EQ(FilterError(Header(FrameKind<DeploymentUpdate>(),
                               MaxPayloadBytes(FrameKind<DeploymentUpdate>())),
                        at_coordinator),
            "frame: deployment_update is sent by the coordinator, not a site");
  EXPECT_EQ(FilterError(Header(kRoundAnnounceKind, 64), at_coordinator),
            "frame: round_announce is sent by the coordinator, not a site");
  EXPECT_EQ(FilterError(Header(kMaskedInputKind, 64), at_site),
            "frame: masked_input is sent by a site, not the coordinator");
  EXPECT_EQ(FilterError(Header(kHelloKind, 64), at_site),
            "frame: hello is sent by a site, not the coordinator");
  EXPECT_EQ(FilterError(Header(21, 64), at_site), "frame: unknown kind 21");
  // Every kind passes in its own direction and fails in the other.
  for (uint32_t kind = 1; kind <= std::variant_size_v<Message>; ++kind) {
    const bool to_coordinator =
        DirectionOf(kind) == Direction::kSiteToCoordinator;
    EXPECT_EQ(FilterError(Header(kind, 64), at_coordinator) == "accepted",
              to_coordinator)
        << MessageKindName(kind);
    EXPECT_EQ(FilterError(Header(kind, 64), at_site) == "accepted",
              !to_coordinator)
        << MessageKindName(kind);
  }
}

TEST(Frame, AcceptsOnlyASmallHelloAsTheFirstFrame) {
  const FrameFilter first{.inbound = Direction::kSiteToCoordinator,
                          .only_kind = FrameKind<Hello>(),
                          .max_length = kMaxHelloPayloadBytes};
  EXPECT_EQ(FilterError(Header(FrameKind<DeploymentAck>(), 64), first),
            "frame: expected hello first, got deployment_ack");
  EXPECT_EQ(FilterError(Header(kMaskedInputKind, kMaxParameters * 4), first),
            "frame: expected hello first, got masked_input");
  EXPECT_EQ(FilterError(Header(kHelloKind, 4096 + 8), first),
            "frame: hello payload 4104 bytes, at most 4096 here");
  EXPECT_EQ(FilterError(Header(kHelloKind, 4096), first), "accepted");
  // The largest Hello the decoder accepts fits.
  Hello largest{.site_id = std::string(256, 'i'),
                .site_name = std::string(256, 'n'),
                .location = std::string(256, 'l'),
                .num_samples = kMaxSampleCount,
                .agent_version = std::string(256, 'a'),
                .model_version = std::string(256, 'm')};
  const Bytes frame = EncodeFrame(largest);
  ASSERT_TRUE(DecodeFrame(frame).has_value());
  EXPECT_LE(frame.size() - kFrameHeaderBytes, kMaxHelloPayloadBytes);
}

}  // namespace
}  // namespace cls::protocol
