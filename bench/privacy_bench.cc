// Differential-privacy benchmark: the accountant the coordinator runs before
// and after every round, and the noise samplers.
// Prints one JSON line per figure (see scripts/bench.sh):
//   dp.accountant_10000_rounds_ms  10,000 rounds composed AND converted to
//       epsilon after each one (what Check + Charge do per round), on a fresh
//       accountant so the RDP curves of every distinct round are computed
//       inside the timer; median of 21 runs. The rounds: 10 sites, distributed
//       noise with z = 1.1 and 8..10 contributors (dropouts change the
//       effective noise multiplier), sampling rate 1 on most rounds and 0.5 on
//       every fourth: 6 distinct (q, z_eff) curves.
//   dp.rdp_curve_ms  one Poisson-subsampled Gaussian curve (q 0.5, z 1.1) at
//       the default orders, median of 21.
//   dp.calibrate_ms  CalibrateNoiseMultiplier(1.0, 1e-5, q 0.5), median of 5.
//   dp.gaussian_noise_1m_ms / dp.skellam_noise_1m_ms  central Gaussian noise
//       on 1,000,000 floats / one site's Skellam share on 1,000,000 ring
//       values (variance 1e8 / 10), median of 5.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/privacy/calibration.h"
#include "core/privacy/noise.h"
#include "core/privacy/rdp_accountant.h"

namespace {

using cls::core::privacy::RdpAccountant;
using Clock = std::chrono::steady_clock;

constexpr int kRounds = 10000;
constexpr int kSites = 10;
constexpr double kNoiseMultiplier = 1.1;
constexpr double kDelta = 1e-5;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// CPU time of this thread: on a shared machine it shows the work apart from
// time spent waiting for a core.
double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void Print(const char* name, double value, nlohmann::json params) {
  nlohmann::json line = {{"name", name},
                         {"value", value},
                         {"unit", "ms"},
                         {"params", std::move(params)}};
  std::printf("%s\n", line.dump().c_str());
  std::fflush(stdout);
}

// One run of 10,000 rounds; returns the final epsilon (checked by the caller
// so the work cannot be optimised away).
double AccountRounds() {
  RdpAccountant accountant;
  double epsilon = 0;
  for (int round = 0; round < kRounds; ++round) {
    const double q = round % 4 == 3 ? 0.5 : 1.0;
    const int contributed = kSites - (round * 7 % 3);  // 10, 9 or 8
    const double z = *cls::core::privacy::EffectiveNoiseMultiplier(
        kNoiseMultiplier, kSites, contributed);
    if (!accountant.ComposeSubsampledGaussian(q, z)) return -1;
    auto eps = accountant.Epsilon(kDelta);
    if (!eps) return -1;
    epsilon = eps->epsilon;
  }
  return epsilon;
}

}  // namespace

int main() {
  std::fprintf(stderr, "privacy_bench: accountant, %d rounds x 21\n", kRounds);
  std::vector<double> times, cpu_times;
  double epsilon = 0;
  for (int run = 0; run < 21; ++run) {
    const auto t0 = Clock::now();
    const double cpu0 = ThreadCpuMs();
    epsilon = AccountRounds();
    cpu_times.push_back(ThreadCpuMs() - cpu0);
    times.push_back(MsSince(t0));
  }
  if (epsilon < 0) {
    std::fprintf(stderr, "privacy_bench: accountant failed\n");
    return 1;
  }
  Print("dp.accountant_10000_rounds_ms", Median(times),
        {{"rounds", kRounds},
         {"orders", cls::core::privacy::DefaultRdpOrders().size()},
         {"distinct_curves", 6},
         {"sites", kSites},
         {"noise_multiplier", kNoiseMultiplier},
         {"delta", kDelta},
         {"final_epsilon", epsilon},
         {"cpu_ms_median", Median(cpu_times)},
         {"wall_ms_min", *std::min_element(times.begin(), times.end())},
         {"measure",
          "compose + convert after every round, fresh accountant, "
          "median of 21"},
         {"target", 10}});

  std::fprintf(stderr, "privacy_bench: one RDP curve x 21\n");
  times.clear();
  const auto orders = cls::core::privacy::DefaultRdpOrders();
  for (int run = 0; run < 21; ++run) {
    const auto t0 = Clock::now();
    auto curve = cls::core::privacy::SubsampledGaussianRdp(0.5, 1.1, orders);
    times.push_back(MsSince(t0));
    if (!curve) return 1;
  }
  Print("dp.rdp_curve_ms", Median(times),
        {{"sampling_rate", 0.5},
         {"noise_multiplier", 1.1},
         {"orders", orders.size()}});

  std::fprintf(stderr, "privacy_bench: calibration x 5\n");
  times.clear();
  double z = 0;
  for (int run = 0; run < 5; ++run) {
    const auto t0 = Clock::now();
    auto calibrated =
        cls::core::privacy::CalibrateNoiseMultiplier(1.0, kDelta, 0.5, 1);
    times.push_back(MsSince(t0));
    if (!calibrated) return 1;
    z = *calibrated;
  }
  Print("dp.calibrate_ms", Median(times),
        {{"target_epsilon", 1.0},
         {"delta", kDelta},
         {"sampling_rate", 0.5},
         {"noise_multiplier", z}});

  std::fprintf(stderr, "privacy_bench: noise on 1,000,000 values x 5\n");
  auto rng = cls::core::privacy::NoiseRng::FromSystemEntropy();
  std::vector<float> values(1000000, 0.0f);
  times.clear();
  for (int run = 0; run < 5; ++run) {
    const auto t0 = Clock::now();
    if (!cls::core::privacy::AddGaussianNoise(values, 1.0, rng)) return 1;
    times.push_back(MsSince(t0));
  }
  Print("dp.gaussian_noise_1m_ms", Median(times),
        {{"values", values.size()}, {"stddev", 1.0}});
  std::vector<uint32_t> ring(1000000, 0);
  times.clear();
  for (int run = 0; run < 5; ++run) {
    const auto t0 = Clock::now();
    if (!cls::core::privacy::AddSkellamNoise(ring, 1e8 / kSites, 32, rng)) {
      return 1;
    }
    times.push_back(MsSince(t0));
  }
  Print("dp.skellam_noise_1m_ms", Median(times),
        {{"values", ring.size()},
         {"variance_per_site", 1e8 / kSites},
         {"ring_bits", 32}});
  return 0;
}
