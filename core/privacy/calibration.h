#ifndef CLS_CORE_PRIVACY_CALIBRATION_H_
#define CLS_CORE_PRIVACY_CALIBRATION_H_

#include <cstdint>
#include <span>
#include <vector>

#include "common/error.h"
#include "core/privacy/rdp_accountant.h"

namespace cls::core::privacy {

// The offline calculator behind `clsctl privacy epsilon`: epsilon (and the
// order that achieves it) after `rounds` rounds of the Poisson-subsampled
// Gaussian with the given noise multiplier and sampling rate, at `delta`.
// InvalidArgument for noise_multiplier <= 0, rounds < 1, sampling_rate
// outside (0, 1], delta outside (0, 1).
Result<EpsilonAtOrder> ComputeEpsilon(double noise_multiplier, int64_t rounds,
                                      double sampling_rate, double delta,
                                      std::span<const double> orders = {});

// The smallest noise multiplier z for which `rounds` rounds at
// `sampling_rate` stay within (target_epsilon, delta): the coordinator's
// `privacy_epsilon` is a per-round target, so it calls this with rounds = 1.
// Bisection on log z against the accountant (epsilon falls as z grows) to a
// relative precision of 1e-9; the result is rounded up, never down.
// InvalidArgument for target_epsilon <= 0 and the cases of ComputeEpsilon;
// an empty `orders` means DefaultRdpOrders().
Result<double> CalibrateNoiseMultiplier(double target_epsilon, double delta,
                                        double sampling_rate = 1.0,
                                        int64_t rounds = 1,
                                        std::span<const double> orders = {});

// Checks the parameters shared by the calculator and the calibration.
Status ValidatePrivacyParameters(double delta, double sampling_rate,
                                 int64_t rounds);

}  // namespace cls::core::privacy

#endif  // CLS_CORE_PRIVACY_CALIBRATION_H_
