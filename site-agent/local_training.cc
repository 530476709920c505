#include "site-agent/local_training.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <random>

#include "core/privacy/noise.h"
#include "core/quantization.h"
#include "crypto/random.h"
#include "crypto/sha256.h"
#include "site-agent/round_participant.h"
#include "site-agent/state_store.h"

namespace cls::site {
namespace {

// Upper bound on epochs a coordinator may ask for: a typo there would
// otherwise keep the site busy for hours.
constexpr uint32_t kMaxEpochs = 10000;

std::string RoundPrefix(uint64_t round_id) {
  return "round " + std::to_string(round_id) + ": ";
}

#if CLS_BENCH_HOOKS
// A per-site, per-round seed for the benchmark vector.
uint64_t BenchmarkSeed(const std::string& site_id, uint64_t round_id,
                       uint64_t training_seed) {
  const crypto::Digest digest = crypto::Sha256(AsBytes(site_id));
  uint64_t site = 0;
  for (int i = 0; i < 8; ++i) site = (site << 8) | digest[i];
  return site ^ training_seed ^ (round_id * 0x9e3779b97f4a7c15ULL);
}
#endif  // CLS_BENCH_HOOKS

Result<std::vector<float>> ComputeDelta(const protocol::RoundAnnounce& a,
                                        const TrainingSetup& setup,
                                        protocol::ValidationMetrics& metrics) {
  const size_t n = a.parameters.size();
#if CLS_BENCH_HOOKS
  // Benchmark mode: only in test and benchmark builds; elsewhere a
  // benchmark_vector round is an unknown kind.
  if (a.model_kind == kBenchmarkVectorKind) {
    if (setup.benchmark_parameters != 0 && setup.benchmark_parameters != n) {
      spdlog::warn("{}benchmark vector has {} parameters, configured {}",
                   RoundPrefix(a.round_id), n, setup.benchmark_parameters);
    }
    metrics = protocol::ValidationMetrics{};
    metrics.train_samples = setup.num_samples;
    return BenchmarkDelta(
        n, a.clip, BenchmarkSeed(setup.site_id, a.round_id, a.training.seed));
  }
  constexpr std::string_view kKnownKinds =
      "logistic_regression, benchmark_vector";
#else
  constexpr std::string_view kKnownKinds =
      "logistic_regression, softmax_regression, mlp";
#endif
  if (!core::ParseModelKind(a.model_kind)) {
    return InvalidArgument("unknown model kind '" + a.model_kind +
                           "'; known: " + std::string(kKnownKinds));
  }
  const LocalModel* model = setup.model;
  if (!model) {
    return FailedPrecondition(a.model_kind +
                              " round, but this agent has no "
                              "data (benchmark mode)");
  }
  auto spec = ModelSpecFor(*model, a.model_kind, a.model_spec);
  if (!spec) return std::unexpected(spec.error());
  if (n != spec->NumParameters()) {
    return InvalidArgument(
        "model: " + std::to_string(n) + " parameters, expected " +
        std::to_string(spec->NumParameters()) + " for " + spec->ToString());
  }
  if (a.training.epochs > kMaxEpochs || a.training.batch_size == 0 ||
      !(a.training.proximal_mu >= 0 && a.training.proximal_mu <= 100)) {
    return InvalidArgument("training config: epochs " +
                           std::to_string(a.training.epochs) + ", batch size " +
                           std::to_string(a.training.batch_size) +
                           " out of range");
  }
  // The global model's quality on this site's held-out rows, before training.
  auto validation = model->Validate(*spec, a.parameters);
  if (!validation) return std::unexpected(validation.error());
  metrics = *validation;

  core::TrainConfig train;
  train.epochs = static_cast<int>(a.training.epochs);
  train.batch_size = static_cast<int>(a.training.batch_size);
  train.learning_rate = a.training.learning_rate;
  train.l2 = a.training.l2;
  train.seed = a.training.seed ^ a.round_id;
  // FedProx anchors at the starting point, which is the global model.
  train.proximal_mu = a.training.proximal_mu;
  if (setup.record_privacy) {
    // Record-level DP: charged (and on disk) before training, refused past
    // the site's own budget.
    train.dp = setup.record_privacy->DpSgd();
    CLS_RETURN_IF_ERROR(setup.record_privacy->Charge(
        static_cast<int64_t>(model->num_samples()), train,
        "round " + std::to_string(a.round_id)));
  }
  auto local = model->Train(*spec, a.parameters, train);
  if (!local) return std::unexpected(local.error());
  std::vector<float> delta(n);
  for (size_t i = 0; i < n; ++i) delta[i] = (*local)[i] - a.parameters[i];
  return delta;
}

}  // namespace

Result<core::ModelSpec> ModelSpecFor(const LocalModel& model,
                                     std::string_view kind,
                                     std::string_view spec_text) {
  if (spec_text.empty()) {
    if (kind != kLogisticRegressionKind) {
      return InvalidArgument("model kind '" + std::string(kind) +
                             "' without a model spec");
    }
    core::ModelSpec spec = model.DefaultSpec();
    if (auto s = model.CheckSpec(spec); !s) return std::unexpected(s.error());
    if (spec.kind != core::ModelKind::kLogisticRegression) {
      return InvalidArgument(
          "the coordinator trains binary logistic_regression, but this "
          "site's [data] label_classes has " +
          std::to_string(model.num_classes()) + " classes");
    }
    return spec;
  }
  auto spec = core::ModelSpec::Parse(spec_text);
  if (!spec) return std::unexpected(spec.error());
  if (core::ModelKindName(spec->kind) != kind) {
    return InvalidArgument("model kind '" + std::string(kind) +
                           "' but the spec says " + spec->ToString());
  }
  if (auto s = model.CheckSpec(*spec); !s) return std::unexpected(s.error());
  return spec;
}

std::vector<float> BenchmarkDelta(size_t size, double clip, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> values(size);
  double norm2 = 0;
  for (double& v : values) {
    v = normal(rng);
    norm2 += v * v;
  }
  const double scale = norm2 > 0 ? (clip / 2) / std::sqrt(norm2) : 0.0;
  std::vector<float> out(size);
  for (size_t i = 0; i < size; ++i)
    out[i] = static_cast<float>(values[i] * scale);
  return out;
}

Result<RoundInput> TrainRoundInput(const protocol::RoundAnnounce& a,
                                   const TrainingSetup& setup) {
  RoundInput out;
  auto delta = ComputeDelta(a, setup, out.metrics);
  if (!delta) return std::unexpected(delta.error());
  const double norm = core::ClipToL2Norm(*delta, a.clip);
  for (float& v : *delta) v = static_cast<float>(v * a.weight);
#if CLS_TEST_HOOKS
  if (setup.test_scale_delta != 1.0) {
    for (float& v : *delta) {
      v = static_cast<float>(v * setup.test_scale_delta);
    }
  }
#endif
  spdlog::debug("{}delta norm {:.4f} (clip {}), weight {:.4f}",
                RoundPrefix(a.round_id), norm, a.clip, a.weight);

#if CLS_TEST_HOOKS
  if (!setup.expose_deltas_dir.empty()) {
    const auto path = setup.expose_deltas_dir /
                      ("round-" + std::to_string(a.round_id) + ".f32");
    if (auto s = WriteFileAtomically(path, ParameterBytes(*delta)); !s) {
      spdlog::error("test: cannot expose delta: {}", s.error().message);
    }
  }
#endif

  // Stochastic rounding needs unpredictable randomness: a coordinator that
  // could predict it would learn more about the delta than the sum reveals.
  uint64_t seed = 0;
  crypto::FillRandom({reinterpret_cast<uint8_t*>(&seed), sizeof(seed)});
  std::mt19937_64 rng(seed);
  const core::QuantizationSpec spec{a.clip, a.value_bits, a.ring_bits};
  out.input.resize(delta->size());
  core::Quantize(*delta, spec, rng, out.input);
  if (a.noise_variance != 0) {
    // Distributed DP: this site's share of the Skellam noise, added before
    // masking so the coordinator never unmasks an un-noised sum.
    if (!std::isfinite(a.noise_variance) || a.noise_variance < 0 ||
        a.noise_variance > 1e15) {
      return InvalidArgument("noise variance " +
                             std::to_string(a.noise_variance) +
                             " outside [0, 1e15]");
    }
    auto noise_rng = core::privacy::NoiseRng::FromSystemEntropy();
    if (auto s = core::privacy::AddSkellamNoise(out.input, a.noise_variance,
                                                a.ring_bits, noise_rng);
        !s) {
      return std::unexpected(s.error());
    }
  }
  return out;
}

}  // namespace cls::site
