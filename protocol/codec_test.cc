// Properties every message kind must have, checked kind by kind so that a new
// message cannot skip them: it round-trips, it is encoded in one segment in
// place (its size estimate bounds its encoded size), and it fits its kind's
// payload limit.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "protocol/frame.h"
#include "protocol/messages.h"

namespace cls::protocol {
namespace {

Key32 Key(uint8_t first) {
  Key32 key;
  for (size_t i = 0; i < key.size(); ++i) {
    key[i] = static_cast<uint8_t>(first + i * 11);
  }
  return key;
}

std::string Text(size_t bytes, char c) { return std::string(bytes, c); }

// Each kind with many small list entries (where per-entry overhead dominates)
// and its texts at their longest: the messages an estimate is most likely to
// fall short on. Ordered by Message::index().
std::vector<Message> WideMessages() {
  constexpr size_t kMany = 3000;
  std::vector<Message> out;
  out.push_back(Hello{.site_id = Text(256, 'i'),
                      .site_name = Text(256, 'n'),
                      .location = Text(256, 'l'),
                      .num_samples = 1,
                      .agent_version = Text(256, 'a'),
                      .model_version = Text(256, 'm')});
  out.push_back(Welcome{.site_id = Text(256, 's'), .approved = true});
  out.push_back(Rejected{.reason = Text(4096, 'r')});
  RoundAnnounce announce;
  announce.model_version = Text(256, 'v');
  announce.model_hash = Text(256, 'h');
  announce.model_kind = Text(256, 'k');
  announce.parameters.assign(1001, 0.5f);
  for (uint32_t i = 0; i < kMany; ++i) {
    announce.neighbours.push_back({Text(i % 2, 'x'), i});
  }
  announce.feature_statistics.assign(77, 1.5);
  out.push_back(announce);
  out.push_back(AdvertiseKeys{.round_id = 1,
                              .cipher_public_key = Key(1),
                              .mask_public_key = Key(2),
                              .self_mask_commitment = Key(3),
                              .signature = Bytes(256, 0x30)});
  KeyDirectory directory{.round_id = 2, .keys = {}};
  for (uint32_t i = 0; i < kMany; ++i) {
    directory.keys.push_back(
        {i, Key(4), Key(5), Key(6), Bytes(i % 3, 0x82), Bytes(i % 2, 0x30)});
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
  result.model_version = Text(256, 'v');
  result.model_hash = Text(256, 'h');
  result.parameters.assign(999, -1.0f);
  result.feature_statistics.assign(33, 2.0);
  out.push_back(result);
  out.push_back(RoundAborted{.round_id = 8, .reason = Text(4096, 'a')});
  EvaluationReport report;
  report.round_id = 9;
  report.model_version = Text(256, 'v');
  report.scores.positive_histogram.assign(1000, 1);
  report.scores.negative_histogram.assign(1000, 2);
  out.push_back(report);
  DeploymentUpdate update{.deployment_id = Text(256, 'd'),
                          .strategy = Text(256, 's'),
                          .current = {Text(256, 'c'), Text(256, 'h'),
                                      Text(256, 'k'), std::vector(503, 1.0f)},
                          .candidate = {Text(256, 'C'), Text(256, 'H'),
                                        Text(256, 'K'), std::vector(501, 2.0f)},
                          .rollout_percent = 50,
                          .salt = Text(256, 'z'),
                          .feature_statistics = std::vector(17, 3.0)};
  out.push_back(update);
  out.push_back(DeploymentAck{.deployment_id = Text(256, 'd'),
                              .accepted = false,
                              .current_version = Text(256, 'c'),
                              .candidate_version = Text(256, 'n'),
                              .reason = Text(4096, 'r')});
  DriftReport drift;
  drift.reported_at_s = 1;
  drift.summaries.assign(16, Text(1001, 'j'));
  for (uint32_t i = 0; i < 1000; ++i) {
    drift.alerts.push_back(
        {Text(i % 2, 'v'), Text(i % 3, 't'), 0.5, Text(i % 2, 'd'), i});
  }
  out.push_back(drift);
  out.push_back(AuditCheckpoint{Text(16 * 1024, 'j')});
  SurvivorSet survivors{.round_id = 10, .survivors = {}};
  for (uint32_t i = 0; i < kMany; ++i) survivors.survivors.push_back(i);
  out.push_back(survivors);
  out.push_back(
      SurvivorSetSignature{.round_id = 11, .signature = Bytes(256, 0x61)});
  return out;
}

template <size_t... I>
std::vector<Message> DefaultMessages(std::index_sequence<I...>) {
  return {Message(std::in_place_index<I>)...};
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

}  // namespace
}  // namespace cls::protocol
