#ifndef CLS_SITE_AGENT_ROUND_PARTICIPANT_H_
#define CLS_SITE_AGENT_ROUND_PARTICIPANT_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "common/error.h"
#include "protocol/messages.h"
#include "secagg/client/secagg_client.h"
#include "site-agent/local_model.h"
#include "site-agent/local_training.h"
#include "site-agent/state_store.h"

namespace cls::site {

inline constexpr std::string_view kLogisticRegressionKind =
    "logistic_regression";
inline constexpr std::string_view kBenchmarkVectorKind = "benchmark_vector";
// A secure statistics round: the site's input is the limb-encoded feature
// sums of its train rows (core/feature_statistics.h), not a model delta.
inline constexpr std::string_view kFeatureStatisticsKind = "feature_statistics";

struct ParticipantOptions {
  std::string site_id;
  // Identity, trust anchor and limits for secure aggregation; its
  // coordinator_id is set on each connection (SetCoordinatorId).
  SecAggSiteSetup secagg;
  // Where global_model.bin and status.json go; empty = nothing persisted.
  std::filesystem::path data_dir;
  // TESTING ONLY: writes each round's weighted, clipped delta (before
  // quantization) as DIR/round-<id>.f32. Empty = off (the default).
  std::filesystem::path expose_deltas_dir;
  // TESTING ONLY: multiplies the weighted, clipped delta by this factor
  // before quantization (a Byzantine site that ignores the clip). 1 = off.
  double test_scale_delta = 1.0;
  // Benchmark mode (no LocalModel): the configured vector size.
  uint64_t benchmark_parameters = 0;
  // [privacy] dp_sgd: the site's record-level ledger (TrainingSetup).
  RecordPrivacyLedger* record_privacy = nullptr;
  // Rows the CSV loader refused (for status.json).
  uint64_t rows_rejected = 0;
  // Called with each new global model of a training round (the online
  // learner restarts from it; serving makes it the default version).
  std::function<void(const GlobalModel&)> on_global_model;
  // Called (on the participant's thread) whenever the LocalModel's
  // standardisation may have changed (federation-wide statistics adopted),
  // so serving can take a copy of it.
  std::function<void(const LocalModel&)> on_standardisation;
};

// The site's side of federated rounds, as pure logic: it turns each message
// from the coordinator into the reply to send (no sockets, no clock), using
// SecAggClient for the masking protocol and LocalModel for training and
// evaluation. It owns the current round's state and the latest global model,
// which it persists in the data directory.
//
// Per round: RoundAnnounce -> AdvertiseKeys, KeyDirectory -> ShareKeys,
// ShareDelivery -> MaskedInput, SurvivorSet -> SurvivorSetSignature,
// UnmaskRequest -> UnmaskResponse,
// RoundResult -> EvaluationReport. Anything wrong inside a round (bad hash,
// wrong size, a SecAggClient refusal) makes the site leave that round, with a
// warning; it never ends the connection. A message that has no place in the
// protocol after Welcome does.
//
// With a null LocalModel the participant is in benchmark mode: its delta is a
// seeded random vector. Not thread-safe; the LocalModel must outlive it.
class RoundParticipant {
 public:
  RoundParticipant(ParticipantOptions options, LocalModel* model);

  // Loads data_dir/global_model.bin and feature_statistics.bin if present (a
  // corrupt file is an error).
  Status LoadState();

  // The reply to `message`, if any. An error means: drop the connection and
  // reconnect (the coordinator sent something out of protocol). Runs a
  // round's training on the calling thread: Begin + FinishTraining.
  Result<std::optional<protocol::Message>> OnMessage(
      const protocol::Message& message);

  // A RoundAnnounce's training, for a worker thread: `work` shares nothing
  // mutable with the participant; it reads the LocalModel, which the caller
  // keeps untouched until FinishTraining (site-agent/model_lane.h).
  struct TrainingJob {
    uint64_t round_id = 0;
    std::function<Result<RoundInput>()> work;
  };
  using Begun =
      std::variant<Result<std::optional<protocol::Message>>, TrainingJob>;
  // As OnMessage, except that a RoundAnnounce that passes its checks
  // returns the TrainingJob instead of running it; hand its result to
  // FinishTraining before the next message.
  Begun Begin(const protocol::Message& message);
  // The AdvertiseKeys that follows training (none when this site left the
  // round: a failed training or a refused secure-aggregation setup).
  Result<std::optional<protocol::Message>> FinishTraining(
      uint64_t round_id, Result<RoundInput> trained);

  // The connection is gone: the coordinator has dropped this site from any
  // round in flight, so its secrets for that round are discarded.
  void OnDisconnected();
  // The CN of the coordinator certificate the TLS handshake verified: bound
  // into what this site signs in rounds.
  void SetCoordinatorId(std::string coordinator_id) {
    options_.secagg.coordinator_id = std::move(coordinator_id);
  }

  const std::string& model_version() const { return global_.version; }
  uint64_t num_samples() const;
  // The record-level DP-SGD ledger as the coordinator is told it (Hello,
  // MaskedInput); all zero without [privacy] dp_sgd.
  protocol::RecordPrivacyReport record_privacy() const;
  // The round this site is currently working on, if any.
  std::optional<uint64_t> active_round() const;

  SiteStatus CurrentStatus() const;
  // Writes status.json (no-op without a data directory).
  Status WriteStatusFile() const;

 private:
  struct Round {
    uint64_t round_id = 0;
    std::string model_kind;
    // The model trained this round; empty for statistics and benchmark
    // rounds.
    std::optional<core::ModelSpec> spec;
    std::optional<SecAggClient> secagg;  // empty once this site left the round
    std::vector<uint32_t> input;         // quantized weighted delta
    protocol::ValidationMetrics metrics;
    // Set while the round's training runs (between Begin and
    // FinishTraining).
    std::shared_ptr<const protocol::RoundAnnounce> announce;
  };
  using Announced = std::variant<std::optional<protocol::Message>, TrainingJob>;

  Announced OnAnnounce(const protocol::RoundAnnounce& a);
  std::optional<protocol::Message> OnResult(const protocol::RoundResult& r);
  // Switches the local model to federation-wide statistics (and keeps them
  // in the data directory); empty = none yet.
  void AdoptFeatureStatistics(const std::vector<double>& sums,
                              uint64_t round_id);
  std::optional<protocol::Message> AnnounceStatistics(
      const protocol::RoundAnnounce& a);
  // The round `round_id` if this site is still taking part in it; logs and
  // returns null otherwise.
  Round* ActiveRound(uint64_t round_id, std::string_view message);
  void LeaveRound(const Error& error);

  ParticipantOptions options_;
  LocalModel* model_;
  GlobalModel global_;
  // The spec of the latest global model accepted this run; empty: the
  // site's default (e.g. a model loaded from disk after a restart).
  std::optional<core::ModelSpec> spec_;
  std::optional<Round> round_;
};

}  // namespace cls::site

#endif  // CLS_SITE_AGENT_ROUND_PARTICIPANT_H_
