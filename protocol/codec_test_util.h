// Test helpers shared by the protocol codec and frame tests: one sample
// message of every kind, field-by-field comparisons, and raw frames for
// messages the encoder cannot produce.
#ifndef CLS_PROTOCOL_CODEC_TEST_UTIL_H_
#define CLS_PROTOCOL_CODEC_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "cls.capnp.h"
#include "protocol/frame.h"
#include "protocol/messages.h"

namespace cls::protocol {

// Text that must never show up in an error message.
inline constexpr std::string_view kSecret = "PATIENT-0042";

inline Key32 KeyFilled(uint8_t first) {
  Key32 key;
  for (size_t i = 0; i < key.size(); ++i)
    key[i] = static_cast<uint8_t>(first + i * 7);
  return key;
}

inline ValidationMetrics SampleMetrics() {
  return {.count = 1234,
          .correct = 1001,
          .loss_sum = 87.25,
          .train_samples = 56789,
          .class_correct = {300, 200, 501},
          .class_support = {400, 300, 534},
          .class_predicted = {350, 250, 634}};
}

inline EncryptedShare SampleShare(uint32_t from, uint32_t to) {
  EncryptedShare share{.from_index = from, .to_index = to, .ciphertext = {}};
  for (uint32_t i = 0; i < 60 + from; ++i) {
    share.ciphertext.push_back(static_cast<uint8_t>(i * 31 + to));
  }
  return share;
}

// One message of every kind, with no field left at its default.
inline std::vector<Message> SampleMessages() {
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
  announce.model_spec =
      "kind=mlp;features=3;classes=2;hidden=2;activation=relu";
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
                                             {1.5f, -2.5f, 0.001f},
                                             "kind=logistic_regression;"
                                             "features=2;classes=2"},
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
inline void ExpectSame(const ValidationMetrics& a, const ValidationMetrics& b) {
  EXPECT_EQ(a.count, b.count);
  EXPECT_EQ(a.correct, b.correct);
  EXPECT_EQ(a.loss_sum, b.loss_sum);
  EXPECT_EQ(a.train_samples, b.train_samples);
  EXPECT_EQ(a.class_correct, b.class_correct);
  EXPECT_EQ(a.class_support, b.class_support);
  EXPECT_EQ(a.class_predicted, b.class_predicted);
}
inline void ExpectSame(const EncryptedShare& a, const EncryptedShare& b) {
  EXPECT_EQ(a.from_index, b.from_index);
  EXPECT_EQ(a.to_index, b.to_index);
  EXPECT_EQ(a.ciphertext, b.ciphertext);
}
inline void ExpectSame(const SecretShare& a, const SecretShare& b) {
  EXPECT_EQ(a.owner_index, b.owner_index);
  EXPECT_EQ(a.x, b.x);
  EXPECT_EQ(a.y, b.y);
  EXPECT_EQ(a.signature, b.signature);
}
inline void ExpectSame(const KeyEntry& a, const KeyEntry& b) {
  EXPECT_EQ(a.index, b.index);
  EXPECT_EQ(a.cipher_public_key, b.cipher_public_key);
  EXPECT_EQ(a.mask_public_key, b.mask_public_key);
  EXPECT_EQ(a.self_mask_commitment, b.self_mask_commitment);
  EXPECT_EQ(a.certificate, b.certificate);
  EXPECT_EQ(a.signature, b.signature);
}
inline void ExpectSame(const SurvivorSignature& a, const SurvivorSignature& b) {
  EXPECT_EQ(a.index, b.index);
  EXPECT_EQ(a.signature, b.signature);
}
inline void ExpectSame(const Neighbour& a, const Neighbour& b) {
  EXPECT_EQ(a.site_id, b.site_id);
  EXPECT_EQ(a.index, b.index);
}
template <typename T>
void ExpectSame(const std::vector<T>& a, const std::vector<T>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ExpectSame(a[i], b[i]);
}
inline void ExpectSame(const Hello& a, const Hello& b) {
  EXPECT_EQ(a.site_id, b.site_id);
  EXPECT_EQ(a.site_name, b.site_name);
  EXPECT_EQ(a.location, b.location);
  EXPECT_EQ(a.num_samples, b.num_samples);
  EXPECT_EQ(a.agent_version, b.agent_version);
  EXPECT_EQ(a.model_version, b.model_version);
}
inline void ExpectSame(const Welcome& a, const Welcome& b) {
  EXPECT_EQ(a.site_id, b.site_id);
  EXPECT_EQ(a.approved, b.approved);
}
inline void ExpectSame(const Rejected& a, const Rejected& b) {
  EXPECT_EQ(a.reason, b.reason);
}
inline void ExpectSame(const RoundAnnounce& a, const RoundAnnounce& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  EXPECT_EQ(a.model_version, b.model_version);
  EXPECT_EQ(a.model_hash, b.model_hash);
  EXPECT_EQ(a.model_kind, b.model_kind);
  EXPECT_EQ(a.model_spec, b.model_spec);
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
inline void ExpectSame(const AdvertiseKeys& a, const AdvertiseKeys& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  EXPECT_EQ(a.cipher_public_key, b.cipher_public_key);
  EXPECT_EQ(a.mask_public_key, b.mask_public_key);
  EXPECT_EQ(a.self_mask_commitment, b.self_mask_commitment);
  EXPECT_EQ(a.signature, b.signature);
}
inline void ExpectSame(const KeyDirectory& a, const KeyDirectory& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  ExpectSame(a.keys, b.keys);
}
inline void ExpectSame(const ShareKeys& a, const ShareKeys& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  ExpectSame(a.shares, b.shares);
}
inline void ExpectSame(const ShareDelivery& a, const ShareDelivery& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  ExpectSame(a.shares, b.shares);
}
inline void ExpectSame(const MaskedInput& a, const MaskedInput& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  EXPECT_EQ(a.ring_bits, b.ring_bits);
  EXPECT_EQ(a.masked, b.masked);
  ExpectSame(a.metrics, b.metrics);
}
inline void ExpectSame(const UnmaskRequest& a, const UnmaskRequest& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  EXPECT_EQ(a.survivors, b.survivors);
  EXPECT_EQ(a.dropped, b.dropped);
  ExpectSame(a.signatures, b.signatures);
}
inline void ExpectSame(const SurvivorSet& a, const SurvivorSet& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  EXPECT_EQ(a.survivors, b.survivors);
}
inline void ExpectSame(const SurvivorSetSignature& a,
                       const SurvivorSetSignature& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  EXPECT_EQ(a.signature, b.signature);
}
inline void ExpectSame(const UnmaskResponse& a, const UnmaskResponse& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  ExpectSame(a.self_mask_shares, b.self_mask_shares);
  ExpectSame(a.mask_key_shares, b.mask_key_shares);
}
inline void ExpectSame(const RoundResult& a, const RoundResult& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  EXPECT_EQ(a.model_version, b.model_version);
  EXPECT_EQ(a.model_hash, b.model_hash);
  EXPECT_EQ(a.parameters, b.parameters);
  EXPECT_EQ(a.participants, b.participants);
}
inline void ExpectSame(const RoundAborted& a, const RoundAborted& b) {
  EXPECT_EQ(a.round_id, b.round_id);
  EXPECT_EQ(a.reason, b.reason);
}
inline void ExpectSame(const EvaluationReport& a, const EvaluationReport& b) {
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
inline void ExpectSame(const ServedModel& a, const ServedModel& b) {
  EXPECT_EQ(a.version_id, b.version_id);
  EXPECT_EQ(a.model_hash, b.model_hash);
  EXPECT_EQ(a.model_kind, b.model_kind);
  EXPECT_EQ(a.parameters, b.parameters);
  EXPECT_EQ(a.model_spec, b.model_spec);
}
inline void ExpectSame(const DeploymentUpdate& a, const DeploymentUpdate& b) {
  EXPECT_EQ(a.deployment_id, b.deployment_id);
  EXPECT_EQ(a.strategy, b.strategy);
  ExpectSame(a.current, b.current);
  ExpectSame(a.candidate, b.candidate);
  EXPECT_EQ(a.rollout_percent, b.rollout_percent);
  EXPECT_EQ(a.salt, b.salt);
  EXPECT_EQ(a.feature_statistics, b.feature_statistics);
}
inline void ExpectSame(const DeploymentAck& a, const DeploymentAck& b) {
  EXPECT_EQ(a.deployment_id, b.deployment_id);
  EXPECT_EQ(a.accepted, b.accepted);
  EXPECT_EQ(a.current_version, b.current_version);
  EXPECT_EQ(a.candidate_version, b.candidate_version);
  EXPECT_EQ(a.reason, b.reason);
}
inline void ExpectSame(const DriftReport& a, const DriftReport& b) {
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
inline void ExpectSame(const AuditCheckpoint& a, const AuditCheckpoint& b) {
  EXPECT_EQ(a.checkpoint_json, b.checkpoint_json);
}
inline void ExpectSameMessage(const Message& a, const Message& b) {
  ASSERT_EQ(a.index(), b.index()) << MessageName(a) << " vs " << MessageName(b);
  std::visit(
      [&](const auto& x) {
        ExpectSame(x, std::get<std::decay_t<decltype(x)>>(b));
      },
      a);
}

inline void PutU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

inline Bytes WithHeader(uint32_t kind, uint32_t length, ByteSpan payload) {
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
inline Bytes RawFrame(uint32_t kind, capnp::MessageBuilder& builder) {
  const auto flat = capnp::messageToFlatArray(builder);
  const auto bytes = flat.asBytes();
  return WithHeader(kind, static_cast<uint32_t>(bytes.size()),
                    ByteSpan(bytes.begin(), bytes.size()));
}

inline Bytes RawFrame(uint32_t kind, std::span<const uint64_t> words) {
  return WithHeader(kind, static_cast<uint32_t>(words.size() * 8),
                    ByteSpan(reinterpret_cast<const uint8_t*>(words.data()),
                             words.size() * 8));
}

inline std::string DecodeError(ByteSpan frame) {
  auto result = DecodeFrame(frame);
  if (result) return "decoded as " + std::string(MessageName(*result));
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  return result.error().message;
}

inline constexpr uint32_t kHelloKind = 1;
inline constexpr uint32_t kAdvertiseKeysKind = 5;
inline constexpr uint32_t kKeyDirectoryKind = 6;
inline constexpr uint32_t kMaskedInputKind = 9;
inline constexpr uint32_t kRoundAnnounceKind = 4;

inline Key32 WideKey(uint8_t first) {
  Key32 key;
  for (size_t i = 0; i < key.size(); ++i) {
    key[i] = static_cast<uint8_t>(first + i * 11);
  }
  return key;
}

inline std::string WideText(size_t bytes, char c) {
  return std::string(bytes, c);
}

// Each kind with many small list entries (where per-entry overhead dominates)
// and its texts at their longest: the messages an estimate is most likely to
// fall short on. Ordered by Message::index().
inline std::vector<Message> WideMessages() {
  constexpr size_t kMany = 3000;
  std::vector<Message> out;
  out.push_back(Hello{.site_id = WideText(256, 'i'),
                      .site_name = WideText(256, 'n'),
                      .location = WideText(256, 'l'),
                      .num_samples = 1,
                      .agent_version = WideText(256, 'a'),
                      .model_version = WideText(256, 'm')});
  out.push_back(Welcome{.site_id = WideText(256, 's'), .approved = true});
  out.push_back(Rejected{.reason = WideText(4096, 'r')});
  RoundAnnounce announce;
  announce.model_version = WideText(256, 'v');
  announce.model_hash = WideText(256, 'h');
  announce.model_kind = WideText(256, 'k');
  announce.parameters.assign(1001, 0.5f);
  for (uint32_t i = 0; i < kMany; ++i) {
    announce.neighbours.push_back({WideText(i % 2, 'x'), i});
  }
  announce.feature_statistics.assign(77, 1.5);
  out.push_back(announce);
  out.push_back(AdvertiseKeys{.round_id = 1,
                              .cipher_public_key = WideKey(1),
                              .mask_public_key = WideKey(2),
                              .self_mask_commitment = WideKey(3),
                              .signature = Bytes(256, 0x30)});
  KeyDirectory directory{.round_id = 2, .keys = {}};
  for (uint32_t i = 0; i < kMany; ++i) {
    directory.keys.push_back({i, WideKey(4), WideKey(5), WideKey(6),
                              Bytes(i % 3, 0x82), Bytes(i % 2, 0x30)});
  }
  out.push_back(directory);
  ShareKeys share_keys{.round_id = 3, .shares = {}};
  ShareDelivery delivery{.round_id = 4, .shares = {}};
  for (uint32_t i = 0; i < kMany; ++i) {
    share_keys.shares.push_back({1, i, Bytes(i % 9, 0xab)});
    delivery.shares.push_back({i, 1, Bytes(i % 9, 0xcd)});
  }
  out.push_back(share_keys);
  out.push_back(delivery);
  MaskedInput masked{.round_id = 5, .masked = {}, .metrics = {}};
  masked.ring_bits = 13;
  for (uint32_t i = 0; i < 10007; ++i) masked.masked.push_back(i & 0x1fff);
  out.push_back(masked);
  UnmaskRequest request;
  request.round_id = 6;
  for (uint32_t i = 0; i < kMany; ++i) {
    request.survivors.push_back(i);
    request.dropped.push_back(i + kMany);
    request.signatures.push_back({i, Bytes(i % 2, 0x41)});
  }
  out.push_back(request);
  UnmaskResponse response;
  response.round_id = 7;
  for (uint32_t i = 0; i < kMany; ++i) {
    response.self_mask_shares.push_back({i, 1, {}, Bytes(i % 2, 0x51)});
    response.mask_key_shares.push_back({i, 2, {i}, {}});
  }
  out.push_back(response);
  RoundResult result;
  result.model_version = WideText(256, 'v');
  result.model_hash = WideText(256, 'h');
  result.parameters.assign(999, -1.0f);
  result.feature_statistics.assign(33, 2.0);
  out.push_back(result);
  out.push_back(RoundAborted{.round_id = 8, .reason = WideText(4096, 'a')});
  EvaluationReport report;
  report.round_id = 9;
  report.model_version = WideText(256, 'v');
  report.scores.positive_histogram.assign(1000, 1);
  report.scores.negative_histogram.assign(1000, 2);
  out.push_back(report);
  DeploymentUpdate update{
      .deployment_id = WideText(256, 'd'),
      .strategy = WideText(256, 's'),
      .current = {WideText(256, 'c'), WideText(256, 'h'), WideText(256, 'k'),
                  std::vector(503, 1.0f)},
      .candidate = {WideText(256, 'C'), WideText(256, 'H'), WideText(256, 'K'),
                    std::vector(501, 2.0f)},
      .rollout_percent = 50,
      .salt = WideText(256, 'z'),
      .feature_statistics = std::vector(17, 3.0)};
  out.push_back(update);
  out.push_back(DeploymentAck{.deployment_id = WideText(256, 'd'),
                              .accepted = false,
                              .current_version = WideText(256, 'c'),
                              .candidate_version = WideText(256, 'n'),
                              .reason = WideText(4096, 'r')});
  DriftReport drift;
  drift.reported_at_s = 1;
  drift.summaries.assign(16, WideText(1001, 'j'));
  for (uint32_t i = 0; i < 1000; ++i) {
    drift.alerts.push_back({WideText(i % 2, 'v'), WideText(i % 3, 't'), 0.5,
                            WideText(i % 2, 'd'), i});
  }
  out.push_back(drift);
  out.push_back(AuditCheckpoint{WideText(16 * 1024, 'j')});
  SurvivorSet survivors{.round_id = 10, .survivors = {}};
  for (uint32_t i = 0; i < kMany; ++i) survivors.survivors.push_back(i);
  out.push_back(survivors);
  out.push_back(
      SurvivorSetSignature{.round_id = 11, .signature = Bytes(256, 0x61)});
  return out;
}

}  // namespace cls::protocol

#endif  // CLS_PROTOCOL_CODEC_TEST_UTIL_H_
