#include "core/robust/attack_simulation.h"

#include <algorithm>
#include <filesystem>
#include <random>

#include "core/dataset.h"
#include "core/heart_disease_schema.h"
#include "core/logistic_regression.h"
#include "core/quantization.h"
#include "core/shuffle.h"

namespace cls::core::robust {
namespace {

constexpr double kTestFraction = 0.2;
constexpr uint64_t kSplitSeed = 7;
constexpr uint64_t kPartSeed = 11;
constexpr double kLearningRate = 0.2;
constexpr int kBatch = 16;
constexpr double kL2 = 1e-3;

struct Hospital {
  const char* name;
  const char* file;
  int parts5, parts8;
};
constexpr Hospital kHospitals[] = {{"Cleveland", "cleveland.csv", 2, 3},
                                   {"Hungary", "hungarian.csv", 1, 2},
                                   {"Switzerland", "switzerland.csv", 1, 1},
                                   {"VA", "va.csv", 1, 2}};

}  // namespace

Result<HeartFederation> HeartFederation::Load(const std::string& data_dir,
                                              int num_sites) {
  if (num_sites != 5 && num_sites != 8) {
    return InvalidArgument("attack suite: " + std::to_string(num_sites) +
                           " sites, expected 5 or 8");
  }
  const DatasetSchema schema = HeartSchema();
  RawTable all;
  struct Part {
    std::string name;
    std::vector<int> train, test;  // rows of `all`
  };
  std::vector<Part> parts;
  for (size_t h = 0; h < std::size(kHospitals); ++h) {
    const Hospital& hospital = kHospitals[h];
    const std::string path =
        (std::filesystem::path(data_dir) / hospital.file).string();
    auto loaded = LoadCsv(path, schema);
    if (!loaded) return std::unexpected(loaded.error());
    const int offset = static_cast<int>(all.rows.size());
    RawTable& t = loaded->table;
    const int count = static_cast<int>(t.rows.size());
    for (int r = 0; r < count; ++r) {
      all.rows.push_back(std::move(t.rows[static_cast<size_t>(r)]));
      all.labels.push_back(t.labels[static_cast<size_t>(r)]);
    }
    const int num_parts = num_sites == 5 ? hospital.parts5 : hospital.parts8;
    // Label-stratified round robin after a seeded shuffle per label.
    std::vector<std::vector<int>> members(static_cast<size_t>(num_parts));
    std::mt19937_64 rng(kPartSeed + h);
    for (float label : {0.0f, 1.0f}) {
      std::vector<int> rows;
      for (int r = 0; r < count; ++r) {
        if (all.labels[static_cast<size_t>(offset + r)] == label) {
          rows.push_back(offset + r);
        }
      }
      Shuffle(rows, rng);
      for (size_t i = 0; i < rows.size(); ++i) {
        members[i % static_cast<size_t>(num_parts)].push_back(rows[i]);
      }
    }
    for (int p = 0; p < num_parts; ++p) {
      std::vector<int>& rows = members[static_cast<size_t>(p)];
      std::sort(rows.begin(), rows.end());
      std::vector<float> labels;
      for (int r : rows) labels.push_back(all.labels[static_cast<size_t>(r)]);
      const Split split = StratifiedSplit(labels, kTestFraction, kSplitSeed);
      Part part;
      part.name = num_parts == 1 ? std::string(hospital.name)
                                 : std::string(hospital.name) + "-" +
                                       std::to_string(p + 1);
      for (int i : split.train)
        part.train.push_back(rows[static_cast<size_t>(i)]);
      for (int i : split.test)
        part.test.push_back(rows[static_cast<size_t>(i)]);
      parts.push_back(std::move(part));
    }
  }
  std::vector<int> pooled_train;
  for (const Part& p : parts) {
    pooled_train.insert(pooled_train.end(), p.train.begin(), p.train.end());
  }
  auto prep = Preprocessor::Fit(schema, all, pooled_train);
  if (!prep) return std::unexpected(prep.error());
  HeartFederation fed;
  for (const Part& p : parts) {
    SiteData s;
    s.name = p.name;
    s.x_train = prep->Transform(all, p.train);
    s.y_train = prep->Labels(all, p.train);
    s.x_test = prep->Transform(all, p.test);
    s.y_test = prep->Labels(all, p.test);
    fed.sites_.push_back(std::move(s));
  }
  // Cleveland-1 is site 0; the second attacker is VA (5) or Hungary-1 (8).
  fed.malicious_order_ =
      num_sites == 5 ? std::vector<int>{0, 4} : std::vector<int>{0, 3};
  return fed;
}

Result<SimulationResult> HeartFederation::Run(
    const SimulationConfig& config) const {
  const int n = num_sites();
  if (config.num_malicious < 0 ||
      config.num_malicious > static_cast<int>(malicious_order_.size())) {
    return InvalidArgument(
        "attack suite: " + std::to_string(config.num_malicious) +
        " malicious sites, at most " + std::to_string(malicious_order_.size()));
  }
  if (config.rounds < 1) return InvalidArgument("attack suite: rounds < 1");
  if (config.robust) {
    if (auto s = ValidateTrustConfig(config.trust); !s) {
      return std::unexpected(s.error());
    }
  }
  const int features = static_cast<int>(sites_[0].x_train.cols());
  const size_t p = static_cast<size_t>(features) + 1;
  const double clip = config.pipeline.clip;
  const bool attacked =
      config.attack.kind != AttackKind::kNone && config.num_malicious > 0;
  std::vector<bool> malicious(static_cast<size_t>(n), false);
  SimulationResult result;
  for (int i = 0; i < (attacked ? config.num_malicious : 0); ++i) {
    const int k = malicious_order_[static_cast<size_t>(i)];
    malicious[static_cast<size_t>(k)] = true;
    result.malicious_sites.push_back(sites_[static_cast<size_t>(k)].name);
    result.malicious_quarantined_round.push_back(-1);
  }
  std::vector<Eigen::VectorXf> flipped(static_cast<size_t>(n));
  for (int k = 0; k < n; ++k) {
    if (malicious[static_cast<size_t>(k)] &&
        config.attack.kind == AttackKind::kLabelFlip) {
      flipped[static_cast<size_t>(k)] =
          FlipLabels(sites_[static_cast<size_t>(k)].y_train);
    }
  }

  std::vector<SiteTrust> trust(static_cast<size_t>(n));
  std::vector<float> global(p, 0.0f), previous_update;
  std::mt19937_64 attack_rng(config.seed * 0x9E3779B97F4A7C15ull + 17);
  std::vector<std::vector<float>> delta(static_cast<size_t>(n),
                                        std::vector<float>(p));
  for (int round = 1; round <= config.rounds; ++round) {
    std::vector<int> active;
    for (int k = 0; k < n; ++k) {
      if (!trust[static_cast<size_t>(k)].quarantined) active.push_back(k);
    }
    if (active.empty()) break;
    // Local training from the global model.
    int active_malicious = 0;
    std::vector<std::span<const float>> benign;
    for (int k : active) {
      const SiteData& s = sites_[static_cast<size_t>(k)];
      const bool bad = malicious[static_cast<size_t>(k)];
      active_malicious += bad ? 1 : 0;
      LogisticRegression model(features);
      (void)model.SetParameters(global);
      TrainConfig cfg;
      cfg.epochs = 1;
      cfg.batch_size = kBatch;
      cfg.learning_rate = kLearningRate;
      cfg.l2 = kL2;
      cfg.seed = config.seed ^ static_cast<uint64_t>(round);
      const bool flip = bad && config.attack.kind == AttackKind::kLabelFlip;
      model.Train(s.x_train, flip ? flipped[static_cast<size_t>(k)] : s.y_train,
                  cfg);
      std::vector<float>& dk = delta[static_cast<size_t>(k)];
      const auto local = model.parameters();
      for (size_t i = 0; i < p; ++i) dk[i] = local[i] - global[i];
      ClipToL2Norm(dk, clip);
      if (!bad) benign.emplace_back(dk);
    }
    if (attacked && config.attack.kind != AttackKind::kLabelFlip) {
      std::vector<std::vector<float>> poisoned;
      for (int k : active) {
        if (!malicious[static_cast<size_t>(k)]) continue;
        auto u = PoisonUpdate(config.attack, delta[static_cast<size_t>(k)],
                              benign, static_cast<int>(active.size()),
                              active_malicious, attack_rng);
        if (!u) return std::unexpected(u.error());
        poisoned.push_back(std::move(*u));
      }
      size_t j = 0;
      for (int k : active) {
        if (malicious[static_cast<size_t>(k)]) {
          delta[static_cast<size_t>(k)] = std::move(poisoned[j++]);
        }
      }
    }
    // Weights and the submissions the quantizer can carry.
    std::vector<double> weight(static_cast<size_t>(n), 0.0);
    double total = 0;
    for (int k : active) {
      const double samples =
          static_cast<double>(sites_[static_cast<size_t>(k)].y_train.size());
      weight[static_cast<size_t>(k)] =
          config.robust
              ? ContributionWeight(trust[static_cast<size_t>(k)],
                                   static_cast<int64_t>(samples), config.trust)
              : samples;
      total += weight[static_cast<size_t>(k)];
    }
    if (!(total > 0)) break;
    for (double& w : weight) w /= total;
    std::vector<std::vector<float>> submission(static_cast<size_t>(n));
    for (int k : active) {
      std::vector<float>& u = submission[static_cast<size_t>(k)];
      u = delta[static_cast<size_t>(k)];
      const float w = static_cast<float>(weight[static_cast<size_t>(k)]);
      const float c = static_cast<float>(clip);
      for (float& v : u) v = std::clamp(v * w, -c, c);
    }

    if (!config.robust) {
      for (int k : active) {
        for (size_t i = 0; i < p; ++i) {
          global[i] += submission[static_cast<size_t>(k)][i];
        }
      }
      continue;
    }
    auto grouping =
        AssignGroups(static_cast<int>(active.size()), config.group_size,
                     config.seed * 1000003ull + static_cast<uint64_t>(round));
    if (!grouping) return std::unexpected(grouping.error());
    std::vector<Group> groups;
    std::vector<std::vector<float>> sums;
    for (const Group& g : *grouping) {
      Group members;
      std::vector<float> sum(p, 0.0f);
      for (int idx : g) {
        const int k = active[static_cast<size_t>(idx)];
        members.push_back(k);
        for (size_t i = 0; i < p; ++i) {
          sum[i] += submission[static_cast<size_t>(k)][i];
        }
      }
      groups.push_back(std::move(members));
      sums.push_back(std::move(sum));
    }
    std::vector<std::span<const float>> sum_views(sums.begin(), sums.end());
    auto outcome = AggregateGroupSums(config.pipeline, groups, sum_views,
                                      weight, previous_update);
    if (!outcome) return std::unexpected(outcome.error());
    for (const GroupOutcome& g : outcome->groups) {
      result.rejected_groups += g.rejected ? 1 : 0;
    }
    if (outcome->rule_used != config.pipeline.rule.rule) {
      ++result.fallback_rounds;
    }
    if (outcome->accepted > 0) {
      for (size_t i = 0; i < p; ++i) global[i] += outcome->update[i];
      previous_update = outcome->update;
    }
    auto changes = ApplyGroupEvidence(trust, groups, *outcome, config.trust);
    if (!changes) return std::unexpected(changes.error());
    for (int k = 0; k < n; ++k) {
      if (!(*changes)[static_cast<size_t>(k)].quarantined_now) continue;
      if (malicious[static_cast<size_t>(k)]) {
        for (size_t j = 0; j < result.malicious_sites.size(); ++j) {
          if (result.malicious_sites[j] ==
              sites_[static_cast<size_t>(k)].name) {
            result.malicious_quarantined_round[j] = round;
          }
        }
      } else {
        result.honest_quarantined.push_back(
            sites_[static_cast<size_t>(k)].name);
      }
    }
  }

  // Pooled test rows of every site.
  LogisticRegression model(features);
  (void)model.SetParameters(global);
  Eigen::Index rows = 0;
  for (const SiteData& s : sites_) rows += s.x_test.rows();
  Eigen::VectorXf prob(rows), labels(rows);
  Eigen::Index at = 0;
  for (const SiteData& s : sites_) {
    prob.segment(at, s.x_test.rows()) = model.PredictProbability(s.x_test);
    labels.segment(at, s.x_test.rows()) = s.y_test;
    at += s.x_test.rows();
  }
  const BinaryMetrics m = EvaluateBinary(prob, labels);
  result.accuracy = m.accuracy;
  result.auc = m.auc;
  for (int k = 0; k < n; ++k) {
    result.site_names.push_back(sites_[static_cast<size_t>(k)].name);
    result.final_trust.push_back(
        TrustScore(trust[static_cast<size_t>(k)], config.trust));
  }
  return result;
}

}  // namespace cls::core::robust
