#ifndef CLS_SITE_AGENT_LOCAL_TRAINING_H_
#define CLS_SITE_AGENT_LOCAL_TRAINING_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "protocol/messages.h"
#include "site-agent/local_model.h"
#include "site-agent/record_privacy.h"

namespace cls::site {

// What a round's local training needs besides the announcement, copied out
// of the participant so the work shares nothing mutable with the io thread.
struct TrainingSetup {
  // Read only; the agent's ModelLane keeps the io thread off it while the
  // work runs. Null in benchmark mode.
  const LocalModel* model = nullptr;
  std::string site_id;
  uint64_t num_samples = 1;
  uint64_t benchmark_parameters = 0;
  double test_scale_delta = 1.0;            // TESTING ONLY
  std::filesystem::path expose_deltas_dir;  // TESTING ONLY
  // [privacy] dp_sgd: local training runs DP-SGD, charged here first (the
  // ledger outlives the agent's rounds). Null = plain SGD.
  RecordPrivacyLedger* record_privacy = nullptr;
};

// A round's input, ready for masking: the quantized, weighted, clipped
// delta (with this site's share of the DP noise) and the metrics of the
// global model on the held-out rows.
struct RoundInput {
  std::vector<uint32_t> input;
  protocol::ValidationMetrics metrics;
};

// The heavy part of a RoundAnnounce, runnable on any thread: validates the
// training config, evaluates the global model, trains from it, clips,
// weights and quantizes the delta and adds the noise share. The
// announcement has passed RoundParticipant's cheap checks (quantization
// spec, weight, hash, finiteness). An error means: leave the round.
Result<RoundInput> TrainRoundInput(const protocol::RoundAnnounce& announce,
                                   const TrainingSetup& setup);

// The model a round or deployment names: `spec_text` (core::ModelSpec)
// parsed, its kind equal to `kind` and fitting this site's features and
// classes; an empty text (an older coordinator) means the site's default
// model for logistic_regression. InvalidArgument, saying why, otherwise:
// the site refuses a model it cannot build.
Result<core::ModelSpec> ModelSpecFor(const LocalModel& model,
                                     std::string_view kind,
                                     std::string_view spec_text);

// The benchmark agent's delta: `size` standard normal values, scaled to L2
// norm clip / 2, from a generator seeded with `seed`.
std::vector<float> BenchmarkDelta(size_t size, double clip, uint64_t seed);

}  // namespace cls::site

#endif  // CLS_SITE_AGENT_LOCAL_TRAINING_H_
