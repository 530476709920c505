#include "core/prior_shift.h"

#include <algorithm>
#include <cmath>

namespace cls::core {
namespace {

double Logit(double p) {
  p = std::clamp(p, 1e-3, 1.0 - 1e-3);
  return std::log(p / (1.0 - p));
}

}  // namespace

Result<std::vector<float>> ShiftInterceptToSitePrior(
    std::span<const float> parameters, double site_positive_rate,
    double federation_positive_rate) {
  if (parameters.empty()) {
    return InvalidArgument("prior shift: empty parameter vector");
  }
  for (double rate : {site_positive_rate, federation_positive_rate}) {
    if (!(rate >= 0.0 && rate <= 1.0)) {
      return InvalidArgument("prior shift: a positive rate must be in [0, 1]");
    }
  }
  std::vector<float> out(parameters.begin(), parameters.end());
  out.back() += static_cast<float>(Logit(site_positive_rate) -
                                   Logit(federation_positive_rate));
  return out;
}

}  // namespace cls::core
