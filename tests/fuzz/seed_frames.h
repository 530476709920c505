#ifndef CLS_TESTS_FUZZ_SEED_FRAMES_H_
#define CLS_TESTS_FUZZ_SEED_FRAMES_H_

#include <cstdint>
#include <vector>

#include "protocol/frame.h"
#include "protocol/messages.h"

namespace cls::fuzz {

// Small valid frames of every kind: starting points for mutation.
inline std::vector<Bytes> SeedFrames() {
  using namespace cls::protocol;
  Key32 key{};
  for (size_t i = 0; i < key.size(); ++i)
    key[i] = static_cast<uint8_t>(i * 13 + 1);
  const Bytes ciphertext(44, 0xab);
  const ValidationMetrics metrics{
      .count = 100, .correct = 90, .loss_sum = 12.5, .train_samples = 400};
  RoundAnnounce announce;
  announce.round_id = 7;
  announce.model_version = "v1";
  announce.model_hash = "00ff";
  announce.model_kind = "logistic_regression";
  announce.parameters = {0.5f, -1.0f, 2.0f, 0.25f};
  announce.self_index = 1;
  announce.neighbours = {{"site-1", 1}, {"site-2", 2}};
  announce.threshold = 2;
  announce.stage_timeout_ms = 1000;

  const std::vector<Message> messages = {
      Hello{"site-1", "General", "Basel", 1234, "0.1.0", "v1"},
      Welcome{"site-1", true},
      Rejected{"not approved"},
      announce,
      AdvertiseKeys{7, key, key, key, Bytes(70, 0x30)},
      KeyDirectory{7,
                   {{1, key, key, key, Bytes(300, 0x82), Bytes(70, 0x30)},
                    {2, key, key, key, Bytes(300, 0x82), Bytes(71, 0x30)}}},
      ShareKeys{7, {{1, 2, ciphertext}, {1, 3, ciphertext}}},
      ShareDelivery{7, {{2, 1, ciphertext}}},
      MaskedInput{7, {1, 2, 3, 0xffffffff, 5, 6}, metrics},
      // Packed at a 20-bit ring (the usual width: 16-bit values, 10 sites).
      MaskedInput{7, {1, 2, 3, 0xfffff, 5, 6, 7}, metrics, 20},
      SurvivorSet{7, {1, 2}},
      SurvivorSetSignature{7, Bytes(70, 0x30)},
      UnmaskRequest{7, {1, 2}, {3}, {{1, Bytes(70, 0x30)}}},
      UnmaskResponse{7,
                     {{1, 2, {5, 6, 7, 8}, Bytes(70, 0x31)}},
                     {{3, 2, {9, 10, 11, 12}, Bytes(71, 0x32)}}},
      RoundResult{7, "v2", "abcd", {1.0f, 2.0f}, 2, {4.0, 2.5}},
      RoundAborted{7, "timeout"},
      EvaluationReport{7, "v2", metrics, {3, 1, 4, 2, {0, 1, 5}, {4, 1, 0}}},
      AuditCheckpoint{"{\"seq\":1}"},
  };
  std::vector<Bytes> frames;
  for (const Message& m : messages) frames.push_back(EncodeFrame(m));
  return frames;
}

}  // namespace cls::fuzz

#endif  // CLS_TESTS_FUZZ_SEED_FRAMES_H_
