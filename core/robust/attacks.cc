#include "core/robust/attacks.h"

#include <cmath>
#include <string>

namespace cls::core::robust {

std::string_view AttackKindName(AttackKind kind) {
  switch (kind) {
    case AttackKind::kNone:
      return "none";
    case AttackKind::kSignFlip:
      return "sign_flip";
    case AttackKind::kScaling:
      return "scaling";
    case AttackKind::kGaussianNoise:
      return "gaussian_noise";
    case AttackKind::kLabelFlip:
      return "label_flip";
    case AttackKind::kALittleIsEnough:
      return "alie";
    case AttackKind::kInnerProductManipulation:
      return "ipm";
  }
  return "unknown";
}

double NormalQuantile(double p) {
  if (!(p > 0 && p < 1)) return std::nan("");
  double lo = -40, hi = 40;
  for (int i = 0; i < 200 && hi - lo > 1e-13; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return 0.5 * (lo + hi);
}

double AlieZ(int num_participants, int num_malicious) {
  const int n = num_participants;
  const int s = n / 2 + 1 - num_malicious;
  const double p = static_cast<double>(n - s) / n;
  if (!(p > 0.5) || !(p < 1)) return 0.0;
  return NormalQuantile(p);
}

Result<std::vector<float>> PoisonUpdate(
    const AttackSpec& spec, std::span<const float> own,
    std::span<const std::span<const float>> benign, int num_participants,
    int num_malicious, std::mt19937_64& rng) {
  const size_t d = own.size();
  for (size_t i = 0; i < benign.size(); ++i) {
    if (benign[i].size() != d) {
      return InvalidArgument("attack: benign update " + std::to_string(i) +
                             " has " + std::to_string(benign[i].size()) +
                             " values, expected " + std::to_string(d));
    }
  }
  std::vector<float> out(own.begin(), own.end());
  // Mean and standard deviation of the benign updates, per coordinate.
  auto moments = [&](std::vector<double>& mean, std::vector<double>& sd) {
    mean.assign(d, 0.0);
    sd.assign(d, 0.0);
    const double n = static_cast<double>(benign.size());
    for (const auto& b : benign) {
      for (size_t c = 0; c < d; ++c) mean[c] += b[c] / n;
    }
    for (const auto& b : benign) {
      for (size_t c = 0; c < d; ++c) {
        sd[c] += (b[c] - mean[c]) * (b[c] - mean[c]) / n;
      }
    }
    for (double& v : sd) v = std::sqrt(v);
  };
  std::vector<double> mean, sd;
  switch (spec.kind) {
    case AttackKind::kNone:
      break;
    case AttackKind::kSignFlip:
      for (float& v : out) v = -v;
      break;
    case AttackKind::kScaling:
      for (float& v : out) v = static_cast<float>(v * spec.scale);
      break;
    case AttackKind::kGaussianNoise: {
      std::normal_distribution<double> noise(0.0, spec.noise_std);
      for (float& v : out) v = static_cast<float>(noise(rng));
      break;
    }
    case AttackKind::kLabelFlip:
      return InvalidArgument(
          "attack: label flipping poisons the data, not the update");
    case AttackKind::kALittleIsEnough: {
      if (benign.empty()) {
        return InvalidArgument("attack: ALIE needs the benign updates");
      }
      const double z =
          spec.z > 0 ? spec.z : AlieZ(num_participants, num_malicious);
      moments(mean, sd);
      for (size_t c = 0; c < d; ++c) {
        out[c] = static_cast<float>(mean[c] - z * sd[c]);
      }
      break;
    }
    case AttackKind::kInnerProductManipulation: {
      if (benign.empty()) {
        return InvalidArgument("attack: IPM needs the benign updates");
      }
      moments(mean, sd);
      for (size_t c = 0; c < d; ++c) {
        out[c] = static_cast<float>(-spec.epsilon * mean[c]);
      }
      break;
    }
  }
  return out;
}

Eigen::VectorXf FlipLabels(const Eigen::VectorXf& labels) {
  return (1.0f - labels.array()).matrix();
}

}  // namespace cls::core::robust
