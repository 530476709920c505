#include "protocol/frame.h"

#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "cls.capnp.h"
#include "protocol/messages.h"

namespace cls::protocol {
namespace {

// Text that must never show up in an error message.
constexpr std::string_view kSecret = "PATIENT-0042";

Key32 KeyFilled(uint8_t first) {
  Key32 key;
  for (size_t i = 0; i < key.size(); ++i)
    key[i] = static_cast<uint8_t>(first + i * 7);
  return key;
}

ValidationMetrics SampleMetrics() {
  return {.count = 1234,
          .correct = 1001,
          .loss_sum = 87.25,
          .train_samples = 56789};
}

EncryptedShare SampleShare(uint32_t from, uint32_t to) {
  EncryptedShare share{.from_index = from, .to_index = to, .ciphertext = {}};
  for (uint32_t i = 0; i < 60 + from; ++i) {
    share.ciphertext.push_back(static_cast<uint8_t>(i * 31 + to));
  }
  return share;
}

// One message of every kind, with no field left at its default.
std::vector<Message> SampleMessages() {
  std::vector<Message> out;
  out.push_back(Hello{.site_id = "site-7",
                      .site_name = "St. Elsewhere " + std::string(kSecret),
                      .location = "Bâle, CH",
                      .num_samples = 987654321,
                      .agent_version = "0.1.0",
                      .model_version = "v12"});
  out.push_back(Welcome{.site_id = "site-7", .approved = true});
  out.push_back(
      Rejected{.reason = "site not approved: " + std::string(kSecret)});

  RoundAnnounce announce;
  announce.round_id = 0x0102030405060708;
  announce.model_version = "v13";
  announce.model_hash = std::string(64, 'a');
  announce.model_kind = "logistic_regression";
  announce.parameters = {0.5f, -1.25f, 3.0e-8f, 1e30f, -0.0f, 42.0f, 7.0f};
  announce.training = {.epochs = 9,
                       .batch_size = 64,
                       .learning_rate = 0.03,
                       .l2 = 2.5e-5,
                       .seed = 0xfeedface};
  announce.clip = 2.75;
  announce.value_bits = 20;
  announce.ring_bits = 31;
  announce.weight = 0.125;
  announce.self_index = 3;
  announce.neighbours = {{"site-1", 1}, {"site-3", 3}, {"site-9", 9}};
  announce.threshold = 2;
  announce.stage_timeout_ms = 30000;
  out.push_back(announce);

  out.push_back(AdvertiseKeys{.round_id = 77,
                              .cipher_public_key = KeyFilled(1),
                              .mask_public_key = KeyFilled(2),
                              .self_mask_commitment = KeyFilled(3),
                              .signature = Bytes(71, 0x30)});
  out.push_back(
      KeyDirectory{.round_id = 78,
                   .keys = {{1, KeyFilled(10), KeyFilled(11), KeyFilled(12),
                             Bytes(500, 0x82), Bytes(70, 0x31)},
                            {4, KeyFilled(40), KeyFilled(41), KeyFilled(42),
                             Bytes(480, 0x83), Bytes(72, 0x32)}}});
  out.push_back(ShareKeys{.round_id = 79,
                          .shares = {SampleShare(3, 1), SampleShare(3, 9)}});
  out.push_back(ShareDelivery{
      .round_id = 80,
      .shares = {SampleShare(1, 3), SampleShare(9, 3), SampleShare(4, 3)}});
  MaskedInput masked{.round_id = 81, .masked = {}, .metrics = SampleMetrics()};
  for (uint32_t i = 0; i < 1000; ++i) masked.masked.push_back(i * 2654435761u);
  out.push_back(masked);
  out.push_back(UnmaskRequest{
      .round_id = 82,
      .survivors = {1, 3, 9},
      .dropped = {4},
      .signatures = {{1, Bytes(70, 0x41)}, {9, Bytes(71, 0x42)}}});
  out.push_back(UnmaskResponse{
      .round_id = 83,
      .self_mask_shares =
          {{1, 3, {1, 2, 3, 0xffffffffffffffff}, Bytes(70, 0x51)},
           {9, 3, {5, 6, 7, 8}, Bytes(71, 0x52)}},
      .mask_key_shares = {{4, 3, {9, 10, 11, 12}, Bytes(72, 0x53)}}});
  // Field by field, so the sample builds whatever fields RoundResult grows.
  RoundResult result;
  result.round_id = 84;
  result.model_version = "v14";
  result.model_hash = std::string(64, 'b');
  result.parameters = {1.5f, -2.5f, 0.001f};
  result.participants = 3;
  out.push_back(result);
  out.push_back(RoundAborted{.round_id = 85, .reason = "too few survivors"});
  out.push_back(
      EvaluationReport{.round_id = 86,
                       .model_version = "v14",
                       .metrics = SampleMetrics(),
                       .scores = {.true_positives = 5,
                                  .false_positives = 1,
                                  .true_negatives = 7,
                                  .false_negatives = 2,
                                  .positive_histogram = {0, 1, 2, 4},
                                  .negative_histogram = {5, 3, 0, 0}}});
  out.push_back(DeploymentUpdate{.deployment_id = "dep-3",
                                 .strategy = "gradual_rollout",
                                 .current = {"v14",
                                             std::string(64, 'b'),
                                             "logistic_regression",
                                             {1.5f, -2.5f, 0.001f}},
                                 .candidate = {"v15",
                                               std::string(64, 'c'),
                                               "logistic_regression",
                                               {2.5f, -0.5f, 0.25f}},
                                 .rollout_percent = 25,
                                 .salt = "v15-9f2c",
                                 .feature_statistics = {1.0, 2.5, -3.25}});
  out.push_back(DeploymentAck{.deployment_id = "dep-3",
                              .accepted = true,
                              .current_version = "v14",
                              .candidate_version = "v15",
                              .reason = "refused: no reason"});
  out.push_back(DriftReport{
      .reported_at_s = 1700000000,
      .summaries = {R"({"version_id":"v14"})", R"({"version_id":"v15"})"},
      .alerts = {{"v15", "performance_drift", 0.75, "adwin", 1699999999}}});
  out.push_back(
      AuditCheckpoint{"{\"coordinator_id\":\"c\",\"seq\":7,\"hash\":\"ab\"}"});
  out.push_back(SurvivorSet{.round_id = 87, .survivors = {1, 3, 4, 9}});
  out.push_back(
      SurvivorSetSignature{.round_id = 87, .signature = Bytes(70, 0x61)});
  return out;
}

// Field-by-field comparison of every message struct.
void ExpectSame(const ValidationMetrics& a, const ValidationMetrics& b) {
  EXPECT_EQ(a.count, b.count);
  EXPECT_EQ(a.correct, b.correct);
  EXPECT_EQ(a.loss_sum, b.loss_sum);
  EXPECT_EQ(a.train_samples, b.train_samples);
}
void ExpectSame(const EncryptedShare& a, const EncryptedShare& b) {
  EXPECT_EQ(a.from_index, b.from_index);
  EXPECT_EQ(a.to_index, b.to_index);
  EXPECT_EQ(a.ciphertext, b.ciphertext);
}
void ExpectSame(const SecretShare& a, const SecretShare& b) {
  EXPECT_EQ(a.owner_index, b.owner_index);
  EXPECT_EQ(a.x, b.x);
  EXPECT_EQ(a.y, b.y);
  EXPECT_EQ(a.signature, b.signature);
}
void ExpectSame(const KeyEntry& a, const KeyEntry& b) {
  EXPECT_EQ(a.index, b.index);
  EXPECT_EQ(a.cipher_public_key, b.cipher_public_key);
  EXPECT_EQ(a.mask_public_key, b.mask_public_key);
  EXPECT_EQ(a.self_mask_commitment, b.self_mask_commitment);
  EXPECT_EQ(a.certificate, b.certificate);
  EXPECT_EQ(a.signature, b.signature);
}
void ExpectSame(const SurvivorSignature& a, const SurvivorSignature& b) {
  EXPECT_EQ(a.index, b.index);
  EXPECT_EQ(a.signature, b.signature);
}
void ExpectSame(const Neighbour& a, const Neighbour& b) {
  EXPECT_EQ(a.site_id, b.site_id);
  EXPECT_EQ(a.index, b.index);
}
template <typename T>
void ExpectSame(const std::vector<T>& a, const std::vector<T>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ExpectSame(a[i], b[i]);
}
void ExpectSame(const Hello& a, const Hello& b) {
  EXPECT_EQ(a.site_id, b.site_id);
  EXPECT_EQ(a.site_name, b.site_name);
  EXPECT_EQ(a.location, b.location);
  EXPECT_EQ(a.num_samples, b.num_samples);
  EXPECT_EQ(a.agent_version, b.agent_version);
  EXPECT_EQ(a.model_version, b.model_version);
}
void ExpectSame(const Welcome& a, const Welcome& b) {
  EXPECT_EQ(a.site_id, b.site_id);
  EXPECT_EQ(a.approved, b.approved);
}
void ExpectSame(const Rejected& a, const Rejected& b) {
  EXPECT_EQ(a.reason, b.reason);
}
void ExpectSame(const RoundAnnounce& a, const RoundAnnounce& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  EXPECT_EQ(a.model_version, b.model_version);
  EXPECT_EQ(a.model_hash, b.model_hash);
  EXPECT_EQ(a.model_kind, b.model_kind);
  ASSERT_EQ(a.parameters.size(), b.parameters.size());
  for (size_t i = 0; i < a.parameters.size(); ++i) {  // bitwise: -0.0f too
    EXPECT_EQ(std::bit_cast<uint32_t>(a.parameters[i]),
              std::bit_cast<uint32_t>(b.parameters[i]));
  }
  EXPECT_EQ(a.training.epochs, b.training.epochs);
  EXPECT_EQ(a.training.batch_size, b.training.batch_size);
  EXPECT_EQ(a.training.learning_rate, b.training.learning_rate);
  EXPECT_EQ(a.training.l2, b.training.l2);
  EXPECT_EQ(a.training.seed, b.training.seed);
  EXPECT_EQ(a.clip, b.clip);
  EXPECT_EQ(a.value_bits, b.value_bits);
  EXPECT_EQ(a.ring_bits, b.ring_bits);
  EXPECT_EQ(a.weight, b.weight);
  EXPECT_EQ(a.self_index, b.self_index);
  ExpectSame(a.neighbours, b.neighbours);
  EXPECT_EQ(a.threshold, b.threshold);
  EXPECT_EQ(a.stage_timeout_ms, b.stage_timeout_ms);
}
void ExpectSame(const AdvertiseKeys& a, const AdvertiseKeys& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  EXPECT_EQ(a.cipher_public_key, b.cipher_public_key);
  EXPECT_EQ(a.mask_public_key, b.mask_public_key);
  EXPECT_EQ(a.self_mask_commitment, b.self_mask_commitment);
  EXPECT_EQ(a.signature, b.signature);
}
void ExpectSame(const KeyDirectory& a, const KeyDirectory& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  ExpectSame(a.keys, b.keys);
}
void ExpectSame(const ShareKeys& a, const ShareKeys& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  ExpectSame(a.shares, b.shares);
}
void ExpectSame(const ShareDelivery& a, const ShareDelivery& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  ExpectSame(a.shares, b.shares);
}
void ExpectSame(const MaskedInput& a, const MaskedInput& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  EXPECT_EQ(a.ring_bits, b.ring_bits);
  EXPECT_EQ(a.masked, b.masked);
  ExpectSame(a.metrics, b.metrics);
}
void ExpectSame(const UnmaskRequest& a, const UnmaskRequest& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  EXPECT_EQ(a.survivors, b.survivors);
  EXPECT_EQ(a.dropped, b.dropped);
  ExpectSame(a.signatures, b.signatures);
}
void ExpectSame(const SurvivorSet& a, const SurvivorSet& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  EXPECT_EQ(a.survivors, b.survivors);
}
void ExpectSame(const SurvivorSetSignature& a, const SurvivorSetSignature& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  EXPECT_EQ(a.signature, b.signature);
}
void ExpectSame(const UnmaskResponse& a, const UnmaskResponse& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  ExpectSame(a.self_mask_shares, b.self_mask_shares);
  ExpectSame(a.mask_key_shares, b.mask_key_shares);
}
void ExpectSame(const RoundResult& a, const RoundResult& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  EXPECT_EQ(a.model_version, b.model_version);
  EXPECT_EQ(a.model_hash, b.model_hash);
  EXPECT_EQ(a.parameters, b.parameters);
  EXPECT_EQ(a.participants, b.participants);
}
void ExpectSame(const RoundAborted& a, const RoundAborted& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  EXPECT_EQ(a.reason, b.reason);
}
void ExpectSame(const EvaluationReport& a, const EvaluationReport& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  EXPECT_EQ(a.model_version, b.model_version);
  ExpectSame(a.metrics, b.metrics);
  EXPECT_EQ(a.scores.true_positives, b.scores.true_positives);
  EXPECT_EQ(a.scores.false_positives, b.scores.false_positives);
  EXPECT_EQ(a.scores.true_negatives, b.scores.true_negatives);
  EXPECT_EQ(a.scores.false_negatives, b.scores.false_negatives);
  EXPECT_EQ(a.scores.positive_histogram, b.scores.positive_histogram);
  EXPECT_EQ(a.scores.negative_histogram, b.scores.negative_histogram);
}
void ExpectSame(const ServedModel& a, const ServedModel& b) {
  EXPECT_EQ(a.version_id, b.version_id);
  EXPECT_EQ(a.model_hash, b.model_hash);
  EXPECT_EQ(a.model_kind, b.model_kind);
  EXPECT_EQ(a.parameters, b.parameters);
}
void ExpectSame(const DeploymentUpdate& a, const DeploymentUpdate& b) {
  EXPECT_EQ(a.deployment_id, b.deployment_id);
  EXPECT_EQ(a.strategy, b.strategy);
  ExpectSame(a.current, b.current);
  ExpectSame(a.candidate, b.candidate);
  EXPECT_EQ(a.rollout_percent, b.rollout_percent);
  EXPECT_EQ(a.salt, b.salt);
  EXPECT_EQ(a.feature_statistics, b.feature_statistics);
}
void ExpectSame(const DeploymentAck& a, const DeploymentAck& b) {
  EXPECT_EQ(a.deployment_id, b.deployment_id);
  EXPECT_EQ(a.accepted, b.accepted);
  EXPECT_EQ(a.current_version, b.current_version);
  EXPECT_EQ(a.candidate_version, b.candidate_version);
  EXPECT_EQ(a.reason, b.reason);
}
void ExpectSame(const DriftReport& a, const DriftReport& b) {
  EXPECT_EQ(a.reported_at_s, b.reported_at_s);
  EXPECT_EQ(a.summaries, b.summaries);
  ASSERT_EQ(a.alerts.size(), b.alerts.size());
  for (size_t i = 0; i < a.alerts.size(); ++i) {
    EXPECT_EQ(a.alerts[i].version_id, b.alerts[i].version_id);
    EXPECT_EQ(a.alerts[i].drift_type, b.alerts[i].drift_type);
    EXPECT_EQ(a.alerts[i].severity, b.alerts[i].severity);
    EXPECT_EQ(a.alerts[i].detector, b.alerts[i].detector);
    EXPECT_EQ(a.alerts[i].timestamp_s, b.alerts[i].timestamp_s);
  }
}
void ExpectSame(const AuditCheckpoint& a, const AuditCheckpoint& b) {
  EXPECT_EQ(a.checkpoint_json, b.checkpoint_json);
}
void ExpectSameMessage(const Message& a, const Message& b) {
  ASSERT_EQ(a.index(), b.index()) << MessageName(a) << " vs " << MessageName(b);
  std::visit(
      [&](const auto& x) {
        ExpectSame(x, std::get<std::decay_t<decltype(x)>>(b));
      },
      a);
}

void PutU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

Bytes WithHeader(uint32_t kind, uint32_t length, ByteSpan payload) {
  Bytes frame(kFrameHeaderBytes + payload.size());
  PutU32(frame.data(), kind);
  PutU32(frame.data() + 4, length);
  if (!payload.empty()) {
    std::memcpy(frame.data() + kFrameHeaderBytes, payload.data(),
                payload.size());
  }
  return frame;
}

// A frame around a message built directly with Cap'n Proto (for messages the
// encoder cannot produce).
Bytes RawFrame(uint32_t kind, capnp::MessageBuilder& builder) {
  const auto flat = capnp::messageToFlatArray(builder);
  const auto bytes = flat.asBytes();
  return WithHeader(kind, static_cast<uint32_t>(bytes.size()),
                    ByteSpan(bytes.begin(), bytes.size()));
}

Bytes RawFrame(uint32_t kind, std::span<const uint64_t> words) {
  return WithHeader(kind, static_cast<uint32_t>(words.size() * 8),
                    ByteSpan(reinterpret_cast<const uint8_t*>(words.data()),
                             words.size() * 8));
}

std::string DecodeError(ByteSpan frame) {
  auto result = DecodeFrame(frame);
  if (result) return "decoded as " + std::string(MessageName(*result));
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  return result.error().message;
}

constexpr uint32_t kHelloKind = 1;
constexpr uint32_t kAdvertiseKeysKind = 5;
constexpr uint32_t kKeyDirectoryKind = 6;
constexpr uint32_t kMaskedInputKind = 9;
constexpr uint32_t kRoundAnnounceKind = 4;

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
                ", expected " + std::to_string(kProtocolVersion));
}

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

TEST(Frame, RejectsADriftReportWithTooManySummaries) {
  DriftReport report;
  report.summaries.assign(17, "{}");
  const std::string error = DecodeError(EncodeFrame(report));
  EXPECT_EQ(error, "drift_report: summaries has 17 entries, at most 16");
}

TEST(Frame, RejectsAnEvaluationReportWithTooManyScoreBins) {
  EvaluationReport report;
  report.scores.positive_histogram.assign(1000, 1);
  report.scores.negative_histogram.assign(1000, 2);
  auto decoded = DecodeFrame(EncodeFrame(report));
  ASSERT_TRUE(decoded.has_value());
  report.scores.negative_histogram.push_back(3);
  EXPECT_EQ(DecodeError(EncodeFrame(report)),
            "evaluation_report: negative histogram has 1001 entries, at most "
            "1000");
}

TEST(Frame, RejectsAnOverlongDeploymentSaltWithoutQuotingIt) {
  DeploymentUpdate update;
  update.salt = std::string(300, 'x') + std::string(kSecret);
  const std::string error = DecodeError(EncodeFrame(update));
  EXPECT_EQ(error, "deployment_update: salt is 312 bytes, at most 256");
  EXPECT_EQ(error.find(kSecret), std::string::npos);
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
