#ifndef CLS_CORE_ROBUST_ATTACK_SIMULATION_H_
#define CLS_CORE_ROBUST_ATTACK_SIMULATION_H_

#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "core/robust/attacks.h"
#include "core/robust/robust_pipeline.h"

namespace cls::core::robust {

// The attack suite's federation: logistic regression on the UCI
// heart-disease data, simulated in process.
//
// Sites: 5 = Cleveland split in two, Hungary, Switzerland, VA; 8 = Cleveland
// in three, Hungary in two, Switzerland, VA in two (a hospital is split by a
// seeded, label-stratified round robin). Each site keeps a stratified 80/20
// train/test split (seed 7). Standardisation and imputation are fitted on
// the pooled training rows of all sites (the federation-wide statistics of
// docs/evaluation.md, here simply pooled). Accuracy is on all sites' test
// rows pooled, the same rows for every configuration.
//
// A round: every non-quarantined site trains one epoch from the global model
// (SGD, lr 0.2, batch 16, L2 1e-3: the FedAvg setting chosen in
// docs/evaluation.md), delta = local - global, clipped to C = 1 by honest
// sites. Malicious sites apply their attack; they skip clipping. Weights:
// samples (FedAvg) or trust x samples (robust), normalised to sum 1; each
// site submits weight x delta, clamped per coordinate to [-C, C] (the range
// the quantizer can encode, the only limit secure aggregation imposes on a
// malicious site). Quantization noise itself is left out (16-bit, tested in
// core/quantization_test).
//   FedAvg: global += sum of submissions.
//   Robust: groups from AssignGroups(n, g, seed ^ round); only the group sums
//   are seen (exactly what secure aggregation in groups reveals);
//   AggregateGroupSums, global += update; ApplyGroupEvidence; quarantined
//   sites leave the federation. g = 1 is per-site mode (secure aggregation
//   off).
struct SimulationConfig {
  int num_sites = 5;      // 5 or 8
  int num_malicious = 0;  // 0, 1 or 2
  AttackSpec attack;
  bool robust = false;  // false: plain FedAvg
  int group_size = 2;   // g (robust only); 1 = per-site
  PipelineConfig pipeline;
  TrustConfig trust;
  int rounds = 40;
  uint64_t seed = 1;
};

struct SimulationResult {
  double accuracy = 0;  // pooled test rows, threshold 0.5
  double auc = 0;
  // Per malicious site: the round (1-based) its trust fell below the floor,
  // -1 if it never did.
  std::vector<int> malicious_quarantined_round;
  std::vector<std::string> malicious_sites;
  std::vector<std::string> honest_quarantined;  // must stay empty
  std::vector<double> final_trust;              // per site
  std::vector<std::string> site_names;
  int rejected_groups = 0;  // over all rounds
  int fallback_rounds = 0;  // rounds where the pipeline changed rule
};

// The loaded data, prepared for one site count. Thread-compatible; Run is
// const and deterministic.
class HeartFederation {
 public:
  // InvalidArgument for a site count other than 5 or 8; NotFound/... from
  // LoadCsv when the data is missing.
  static Result<HeartFederation> Load(const std::string& data_dir,
                                      int num_sites);

  // Malicious sites: 5 sites -> Cleveland-1, then VA; 8 sites -> Cleveland-1,
  // then Hungary-1.
  Result<SimulationResult> Run(const SimulationConfig& config) const;

  int num_sites() const { return static_cast<int>(sites_.size()); }

 private:
  struct SiteData {
    std::string name;
    Eigen::MatrixXf x_train, x_test;
    Eigen::VectorXf y_train, y_test;
  };
  std::vector<SiteData> sites_;
  std::vector<int> malicious_order_;
};

}  // namespace cls::core::robust

#endif  // CLS_CORE_ROBUST_ATTACK_SIMULATION_H_
