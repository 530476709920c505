// heart_eval: held-out accuracy and ROC AUC on the UCI heart-disease data
// (four hospitals, label num > 0) for local-only training, FedAvg, FedProx
// and pooled (centralised) training. One JSON object per line on stdout,
// progress on stderr; --markdown PATH also writes the result tables.
//
// The federation is simulated in process: no sockets and no secure
// aggregation (tested elsewhere), but each round does what the real site
// agent does to its update (site-agent/round_participant.cc): train from the
// global model, delta = local - global, clip the delta to L2 norm C, multiply
// by the site's sample-count weight n_k / sum n, quantize (16 bits, stochastic
// rounding); the coordinator decodes the sum and adds it to the model.
//
// Every site keeps the fixed stratified 80/20 split of the real agent
// (core::StratifiedSplit, seed 7). Settings are chosen on validation splits
// carved from the TRAIN rows only (kValFolds repeated stratified 80/20 splits
// of each site's train rows), by the mean pooled validation log loss; the
// test rows are used once, for the final numbers.
//
// Preprocessing: "federation" standardisation fits means and variances from
// the per-site sums, sums of squares and counts of the training rows, added
// over the sites (in the real system those sums would go through secure
// aggregation; here they are just added), and imputes missing numeric values
// with the federation-wide mean. "site-local" fits them on each site's own
// training rows, as the site agent's Preprocessor does today. Missing
// categories are an all-zero one-hot either way.

#include <Eigen/Dense>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "core/dataset.h"
#include "core/heart_disease_schema.h"
#include "core/logistic_regression.h"
#include "core/prior_shift.h"
#include "core/quantization.h"

namespace {

using cls::core::BinaryMetrics;
using cls::core::ColumnSpec;
using cls::core::DatasetSchema;
using cls::core::LogisticRegression;
using cls::core::RawTable;
using cls::core::Split;
using cls::core::TrainConfig;
using Json = nlohmann::json;

constexpr double kTestFraction = 0.2;
constexpr uint64_t kSplitSeed = 7;
constexpr double kValFraction = 0.2;
constexpr int kValFolds = 3;
constexpr uint64_t kValSeed = 101;
constexpr double kClip = 1.0;  // the demo coordinator's clip
constexpr int kValueBits = 16;
constexpr int kBatch = 16;
constexpr double kL2 = 1e-3;
constexpr uint64_t kTrainingSeed = 1;
// Grids. Rounds (federated) and epochs (local, pooled) are checkpoints of one
// run, so every value costs nothing extra.
const std::vector<int> kCheckpoints{5, 10, 20, 40, 80};
const std::vector<double> kLearningRates{0.01, 0.05, 0.2};
const std::vector<int> kLocalEpochs{1, 5};
const std::vector<double> kMus{0.01, 0.1, 1.0};

enum class Mode { kFederation, kSiteLocal };
const char* ModeName(Mode m) {
  return m == Mode::kFederation ? "federation" : "site-local";
}

using cls::core::HeartSchema;

struct Site {
  std::string name;
  RawTable table;
  Split split;
};

// Per schema column: count, sum and sum of squares of the present values.
struct ColumnSums {
  double n = 0, sum = 0, sumsq = 0;
};
using Sums = std::vector<ColumnSums>;

Sums ComputeSums(const DatasetSchema& schema, const RawTable& table,
                 const std::vector<int>& rows) {
  Sums sums(schema.features.size());
  for (int r : rows) {
    const auto& row = table.rows[static_cast<size_t>(r)];
    for (size_t c = 0; c < sums.size(); ++c) {
      if (schema.features[c].kind != ColumnSpec::Kind::kNumeric) continue;
      if (std::isnan(row[c])) continue;
      sums[c].n += 1;
      sums[c].sum += row[c];
      sums[c].sumsq += row[c] * row[c];
    }
  }
  return sums;
}

struct Prep {
  std::vector<double> fill, mean, scale;
};

Prep PrepFromSums(const Sums& sums) {
  Prep p;
  p.fill.assign(sums.size(), 0.0);
  p.mean.assign(sums.size(), 0.0);
  p.scale.assign(sums.size(), 1.0);
  for (size_t c = 0; c < sums.size(); ++c) {
    if (sums[c].n == 0) continue;  // entirely missing: fill 0, scale 1
    const double mean = sums[c].sum / sums[c].n;
    const double var = std::max(0.0, sums[c].sumsq / sums[c].n - mean * mean);
    const double sd = std::sqrt(var);
    p.mean[c] = mean;
    p.fill[c] = mean;
    p.scale[c] = sd > 1e-12 && std::isfinite(sd) ? sd : 1.0;
  }
  return p;
}

Eigen::MatrixXf Transform(const DatasetSchema& schema, const Prep& prep,
                          const RawTable& table, const std::vector<int>& rows) {
  Eigen::MatrixXf x = Eigen::MatrixXf::Zero(
      static_cast<Eigen::Index>(rows.size()), schema.FeatureCount());
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& row = table.rows[static_cast<size_t>(rows[i])];
    const auto out = static_cast<Eigen::Index>(i);
    Eigen::Index col = 0;
    for (size_t c = 0; c < schema.features.size(); ++c) {
      const ColumnSpec& spec = schema.features[c];
      const double v = row[c];
      if (spec.kind == ColumnSpec::Kind::kNumeric) {
        const double filled = std::isnan(v) ? prep.fill[c] : v;
        x(out, col++) =
            static_cast<float>((filled - prep.mean[c]) / prep.scale[c]);
      } else {
        for (double category : spec.categories) {
          x(out, col++) = (!std::isnan(v) && v == category) ? 1.0f : 0.0f;
        }
      }
    }
  }
  return x;
}

Eigen::VectorXf Labels(const RawTable& table, const std::vector<int>& rows) {
  Eigen::VectorXf y(static_cast<Eigen::Index>(rows.size()));
  for (size_t i = 0; i < rows.size(); ++i) {
    y(static_cast<Eigen::Index>(i)) =
        table.labels[static_cast<size_t>(rows[i])];
  }
  return y;
}

// Rows each site fits on and evaluates on (train/test, or sub-train/val).
struct Fold {
  std::vector<std::vector<int>> fit, eval;
};

struct SiteData {
  Eigen::MatrixXf x_fit, x_eval;
  Eigen::VectorXf y_fit, y_eval;
};

struct Prepared {
  std::vector<Prep> preps;  // per site (all equal in federation mode)
  std::vector<SiteData> sites;
};

Prepared Prepare(const DatasetSchema& schema, const std::vector<Site>& sites,
                 const Fold& fold, Mode mode) {
  Prepared out;
  std::vector<Sums> sums;
  for (size_t k = 0; k < sites.size(); ++k) {
    sums.push_back(ComputeSums(schema, sites[k].table, fold.fit[k]));
  }
  if (mode == Mode::kFederation) {
    Sums total(schema.features.size());
    for (const Sums& s : sums) {
      for (size_t c = 0; c < total.size(); ++c) {
        total[c].n += s[c].n;
        total[c].sum += s[c].sum;
        total[c].sumsq += s[c].sumsq;
      }
    }
    out.preps.assign(sites.size(), PrepFromSums(total));
  } else {
    for (const Sums& s : sums) out.preps.push_back(PrepFromSums(s));
  }
  for (size_t k = 0; k < sites.size(); ++k) {
    SiteData d;
    d.x_fit = Transform(schema, out.preps[k], sites[k].table, fold.fit[k]);
    d.y_fit = Labels(sites[k].table, fold.fit[k]);
    d.x_eval = Transform(schema, out.preps[k], sites[k].table, fold.eval[k]);
    d.y_eval = Labels(sites[k].table, fold.eval[k]);
    out.sites.push_back(std::move(d));
  }
  return out;
}

Eigen::MatrixXf StackRows(const std::vector<const Eigen::MatrixXf*>& parts) {
  Eigen::Index rows = 0;
  for (const auto* p : parts) rows += p->rows();
  Eigen::MatrixXf out(rows, parts.empty() ? 0 : parts[0]->cols());
  Eigen::Index at = 0;
  for (const auto* p : parts) {
    out.middleRows(at, p->rows()) = *p;
    at += p->rows();
  }
  return out;
}

Eigen::VectorXf StackVec(const std::vector<const Eigen::VectorXf*>& parts) {
  Eigen::Index rows = 0;
  for (const auto* p : parts) rows += p->size();
  Eigen::VectorXf out(rows);
  Eigen::Index at = 0;
  for (const auto* p : parts) {
    out.segment(at, p->size()) = *p;
    at += p->size();
  }
  return out;
}

using Params = std::vector<float>;

Eigen::VectorXf Predict(const Params& params, const Eigen::MatrixXf& x) {
  LogisticRegression m(static_cast<int>(x.cols()));
  if (!m.SetParameters(params)) {
    return Eigen::VectorXf::Constant(x.rows(), 0.5f);
  }
  return m.PredictProbability(x);
}

struct Eval {
  std::vector<BinaryMetrics> site;
  BinaryMetrics overall;  // all sites' eval rows pooled
};

// models[k] evaluated on site k's eval rows; overall pools the predictions.
Eval Evaluate(const std::vector<SiteData>& data,
              const std::vector<Params>& models) {
  Eval e;
  std::vector<Eigen::VectorXf> probs;
  std::vector<const Eigen::VectorXf*> p_parts, y_parts;
  for (size_t k = 0; k < data.size(); ++k) {
    probs.push_back(Predict(models[k], data[k].x_eval));
  }
  for (size_t k = 0; k < data.size(); ++k) {
    e.site.push_back(cls::core::EvaluateBinary(probs[k], data[k].y_eval));
    p_parts.push_back(&probs[k]);
    y_parts.push_back(&data[k].y_eval);
  }
  e.overall = cls::core::EvaluateBinary(StackVec(p_parts), StackVec(y_parts));
  return e;
}

// The federated model with each site's intercept shifted from the
// federation's class balance (over all fit rows) to the site's own.
std::vector<Params> SitePriorModels(const std::vector<SiteData>& data,
                                    const Params& global) {
  double positives = 0, rows = 0;
  for (const auto& d : data) {
    positives += d.y_fit.sum();
    rows += static_cast<double>(d.y_fit.size());
  }
  std::vector<Params> out;
  for (const auto& d : data) {
    const double site_rate = d.y_fit.mean();
    auto shifted = cls::core::ShiftInterceptToSitePrior(global, site_rate,
                                                        positives / rows);
    out.push_back(shifted ? *shifted : global);
  }
  return out;
}

struct FedSettings {
  int local_epochs = 1;
  double learning_rate = 0.05;
  double mu = 0.0;
};

struct FedRun {
  std::vector<Params> at_checkpoint;
  int deltas = 0, clipped = 0;
};

// The simulated federation, from an all-zero model; the global parameters
// after each round in kCheckpoints.
FedRun RunFederated(const std::vector<SiteData>& data, const FedSettings& s) {
  const int features = static_cast<int>(data[0].x_fit.cols());
  const size_t p = static_cast<size_t>(features) + 1;
  const int num_sites = static_cast<int>(data.size());
  double total = 0;
  for (const auto& d : data) total += static_cast<double>(d.y_fit.size());
  cls::core::QuantizationSpec spec{kClip, kValueBits, 32};
  spec.ring_bits = cls::core::RingBitsFor(kValueBits, num_sites).value_or(32);
  std::mt19937_64 quant_rng(20261127);

  FedRun run;
  Params global(p, 0.0f);
  std::vector<uint32_t> sum(p), q(p);
  std::vector<float> delta(p), mean(p);
  for (int round = 1; round <= kCheckpoints.back(); ++round) {
    std::fill(sum.begin(), sum.end(), 0u);
    for (const SiteData& d : data) {
      LogisticRegression m(features);
      (void)m.SetParameters(global);
      TrainConfig cfg;
      cfg.epochs = s.local_epochs;
      cfg.batch_size = kBatch;
      cfg.learning_rate = s.learning_rate;
      cfg.l2 = kL2;
      cfg.seed = kTrainingSeed ^ static_cast<uint64_t>(round);  // as the agent
      cfg.proximal_mu = s.mu;
      m.Train(d.x_fit, d.y_fit, cfg, global);
      const auto local = m.parameters();
      for (size_t i = 0; i < p; ++i) delta[i] = local[i] - global[i];
      const double norm = cls::core::ClipToL2Norm(delta, kClip);
      ++run.deltas;
      if (norm > kClip) ++run.clipped;
      const double weight = static_cast<double>(d.y_fit.size()) / total;
      for (float& v : delta) v = static_cast<float>(v * weight);
      cls::core::Quantize(delta, spec, quant_rng, q);
      for (size_t i = 0; i < p; ++i) sum[i] += q[i];
    }
    cls::core::DequantizeSum(sum, num_sites, spec, mean);
    for (size_t i = 0; i < p; ++i) global[i] += mean[i];
    if (std::find(kCheckpoints.begin(), kCheckpoints.end(), round) !=
        kCheckpoints.end()) {
      run.at_checkpoint.push_back(global);
    }
  }
  return run;
}

// Plain mini-batch SGD on one data set; parameters after each epoch count in
// kCheckpoints.
std::vector<Params> RunCentral(const Eigen::MatrixXf& x,
                               const Eigen::VectorXf& y, double lr) {
  LogisticRegression m(static_cast<int>(x.cols()));
  std::vector<Params> out;
  for (int epoch = 1; epoch <= kCheckpoints.back(); ++epoch) {
    TrainConfig cfg;
    cfg.epochs = 1;
    cfg.batch_size = kBatch;
    cfg.learning_rate = lr;
    cfg.l2 = kL2;
    cfg.seed = kTrainingSeed + static_cast<uint64_t>(epoch);
    m.Train(x, y, cfg);
    if (std::find(kCheckpoints.begin(), kCheckpoints.end(), epoch) !=
        kCheckpoints.end()) {
      out.emplace_back(m.parameters().begin(), m.parameters().end());
    }
  }
  return out;
}

Params PooledFit(const std::vector<SiteData>& data, double lr, int epochs) {
  std::vector<const Eigen::MatrixXf*> xs;
  std::vector<const Eigen::VectorXf*> ys;
  for (const auto& d : data) {
    xs.push_back(&d.x_fit);
    ys.push_back(&d.y_fit);
  }
  const auto runs = RunCentral(StackRows(xs), StackVec(ys), lr);
  const auto it = std::find(kCheckpoints.begin(), kCheckpoints.end(), epochs);
  return runs[static_cast<size_t>(it - kCheckpoints.begin())];
}

// A candidate's score: mean over the validation folds.
struct Score {
  double loss = 0, accuracy = 0;
};

struct MethodResult {
  Json settings;
  Score validation;
  Eval test;
  // Local-only: site k's model on all four test splits (with its own
  // preprocessing), as FLamby reports single-site training.
  std::vector<BinaryMetrics> on_pooled_test;
  double clipped_fraction = -1;
  // Federated: the same model with each site's intercept moved to its own
  // class balance (core/prior_shift.h), evaluated on the same test rows.
  std::optional<Eval> test_site_prior;
};

Json MetricsJson(const BinaryMetrics& m) {
  return {{"accuracy", std::round(m.accuracy * 1e4) / 1e4},
          {"auc", std::round(m.auc * 1e4) / 1e4},
          {"n", m.count}};
}

class Evaluator {
 public:
  Evaluator(DatasetSchema schema, std::vector<Site> sites)
      : schema_(std::move(schema)), sites_(std::move(sites)) {
    for (const Site& s : sites_) {
      test_fold_.fit.push_back(s.split.train);
      test_fold_.eval.push_back(s.split.test);
    }
    for (int f = 0; f < kValFolds; ++f) {
      Fold fold;
      for (const Site& s : sites_) {
        std::vector<float> labels;
        for (int r : s.split.train) {
          labels.push_back(s.table.labels[static_cast<size_t>(r)]);
        }
        const Split inner = cls::core::StratifiedSplit(
            labels, kValFraction, kValSeed + static_cast<uint64_t>(f));
        std::vector<int> fit, eval;
        for (int i : inner.train)
          fit.push_back(s.split.train[static_cast<size_t>(i)]);
        for (int i : inner.test)
          eval.push_back(s.split.train[static_cast<size_t>(i)]);
        fold.fit.push_back(std::move(fit));
        fold.eval.push_back(std::move(eval));
      }
      val_folds_.push_back(std::move(fold));
    }
  }

  size_t num_sites() const { return sites_.size(); }
  const Site& site(size_t k) const { return sites_[k]; }

  MethodResult Federated(Mode mode, const std::vector<double>& mus) {
    std::vector<Prepared> val = PrepareFolds(mode);
    MethodResult best;
    best.validation.loss = std::numeric_limits<double>::infinity();
    FedSettings chosen;
    int chosen_rounds = 0;
    for (double mu : mus) {
      for (int epochs : kLocalEpochs) {
        for (double lr : kLearningRates) {
          const FedSettings s{epochs, lr, mu};
          std::vector<Score> scores(kCheckpoints.size());
          for (const Prepared& fold : val) {
            const FedRun run = RunFederated(fold.sites, s);
            for (size_t c = 0; c < kCheckpoints.size(); ++c) {
              const Eval e = Evaluate(
                  fold.sites,
                  std::vector<Params>(num_sites(), run.at_checkpoint[c]));
              scores[c].loss += e.overall.log_loss / kValFolds;
              scores[c].accuracy += e.overall.accuracy / kValFolds;
            }
          }
          for (size_t c = 0; c < kCheckpoints.size(); ++c) {
            if (scores[c].loss < best.validation.loss) {
              best.validation = scores[c];
              chosen = s;
              chosen_rounds = kCheckpoints[c];
            }
          }
        }
      }
    }
    const Prepared test = Prepare(schema_, sites_, test_fold_, mode);
    const FedRun run = RunFederated(test.sites, chosen);
    const size_t c = static_cast<size_t>(
        std::find(kCheckpoints.begin(), kCheckpoints.end(), chosen_rounds) -
        kCheckpoints.begin());
    best.test = Evaluate(
        test.sites, std::vector<Params>(num_sites(), run.at_checkpoint[c]));
    best.test_site_prior =
        Evaluate(test.sites, SitePriorModels(test.sites, run.at_checkpoint[c]));
    // Clipping over all rounds run (kCheckpoints.back()).
    best.clipped_fraction =
        static_cast<double>(run.clipped) / static_cast<double>(run.deltas);
    best.settings = {{"rounds", chosen_rounds},
                     {"local_epochs", chosen.local_epochs},
                     {"learning_rate", chosen.learning_rate},
                     {"batch_size", kBatch},
                     {"l2", kL2},
                     {"clip", kClip},
                     {"value_bits", kValueBits}};
    if (chosen.mu > 0) best.settings["mu"] = chosen.mu;
    return best;
  }

  MethodResult Pooled(Mode mode) {
    std::vector<Prepared> val = PrepareFolds(mode);
    MethodResult best;
    best.validation.loss = std::numeric_limits<double>::infinity();
    double chosen_lr = 0;
    int chosen_epochs = 0;
    for (double lr : kLearningRates) {
      std::vector<Score> scores(kCheckpoints.size());
      for (const Prepared& fold : val) {
        std::vector<const Eigen::MatrixXf*> xs;
        std::vector<const Eigen::VectorXf*> ys;
        for (const auto& d : fold.sites) {
          xs.push_back(&d.x_fit);
          ys.push_back(&d.y_fit);
        }
        const auto runs = RunCentral(StackRows(xs), StackVec(ys), lr);
        for (size_t c = 0; c < kCheckpoints.size(); ++c) {
          const Eval e =
              Evaluate(fold.sites, std::vector<Params>(num_sites(), runs[c]));
          scores[c].loss += e.overall.log_loss / kValFolds;
          scores[c].accuracy += e.overall.accuracy / kValFolds;
        }
      }
      for (size_t c = 0; c < kCheckpoints.size(); ++c) {
        if (scores[c].loss < best.validation.loss) {
          best.validation = scores[c];
          chosen_lr = lr;
          chosen_epochs = kCheckpoints[c];
        }
      }
    }
    const Prepared test = Prepare(schema_, sites_, test_fold_, mode);
    best.test = Evaluate(
        test.sites,
        std::vector<Params>(num_sites(),
                            PooledFit(test.sites, chosen_lr, chosen_epochs)));
    best.settings = {{"epochs", chosen_epochs},
                     {"learning_rate", chosen_lr},
                     {"batch_size", kBatch},
                     {"l2", kL2}};
    return best;
  }

  // Each site tunes on its own validation rows (as it would alone).
  MethodResult Local(Mode mode) {
    std::vector<Prepared> val = PrepareFolds(mode);
    MethodResult out;
    out.settings = Json::object();
    std::vector<Params> models;
    const Prepared test = Prepare(schema_, sites_, test_fold_, mode);
    for (size_t k = 0; k < num_sites(); ++k) {
      Score best;
      best.loss = std::numeric_limits<double>::infinity();
      double chosen_lr = 0;
      int chosen_epochs = 0;
      for (double lr : kLearningRates) {
        std::vector<Score> scores(kCheckpoints.size());
        for (const Prepared& fold : val) {
          const SiteData& d = fold.sites[k];
          const auto runs = RunCentral(d.x_fit, d.y_fit, lr);
          for (size_t c = 0; c < kCheckpoints.size(); ++c) {
            const BinaryMetrics m =
                cls::core::EvaluateBinary(Predict(runs[c], d.x_eval), d.y_eval);
            scores[c].loss += m.log_loss / kValFolds;
            scores[c].accuracy += m.accuracy / kValFolds;
          }
        }
        for (size_t c = 0; c < kCheckpoints.size(); ++c) {
          if (scores[c].loss < best.loss) {
            best = scores[c];
            chosen_lr = lr;
            chosen_epochs = kCheckpoints[c];
          }
        }
      }
      const SiteData& d = test.sites[k];
      const auto runs = RunCentral(d.x_fit, d.y_fit, chosen_lr);
      const size_t c = static_cast<size_t>(
          std::find(kCheckpoints.begin(), kCheckpoints.end(), chosen_epochs) -
          kCheckpoints.begin());
      models.push_back(runs[c]);
      out.settings[site(k).name] = {{"epochs", chosen_epochs},
                                    {"learning_rate", chosen_lr}};
      out.validation.loss += best.loss / static_cast<double>(num_sites());
      out.validation.accuracy +=
          best.accuracy / static_cast<double>(num_sites());
    }
    out.settings["batch_size"] = kBatch;
    out.settings["l2"] = kL2;
    out.test = Evaluate(test.sites, models);
    // Each local model on the pooled test set, with its own preprocessing.
    for (size_t k = 0; k < num_sites(); ++k) {
      std::vector<Eigen::MatrixXf> xs;
      std::vector<const Eigen::MatrixXf*> x_parts;
      std::vector<const Eigen::VectorXf*> y_parts;
      for (size_t j = 0; j < num_sites(); ++j) {
        xs.push_back(Transform(schema_, test.preps[k], sites_[j].table,
                               test_fold_.eval[j]));
      }
      for (size_t j = 0; j < num_sites(); ++j) {
        x_parts.push_back(&xs[j]);
        y_parts.push_back(&test.sites[j].y_eval);
      }
      out.on_pooled_test.push_back(cls::core::EvaluateBinary(
          Predict(models[k], StackRows(x_parts)), StackVec(y_parts)));
    }
    return out;
  }

 private:
  std::vector<Prepared> PrepareFolds(Mode mode) const {
    std::vector<Prepared> out;
    for (const Fold& f : val_folds_)
      out.push_back(Prepare(schema_, sites_, f, mode));
    return out;
  }

  DatasetSchema schema_;
  std::vector<Site> sites_;
  Fold test_fold_;
  std::vector<Fold> val_folds_;
};

std::string Pct(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

std::string Cell(const BinaryMetrics& m) {
  return Pct(m.accuracy) + " / " + Pct(m.auc);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = CLS_HEART_DATA_DIR;
  std::string markdown;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--data" && i + 1 < argc) {
      dir = argv[++i];
    } else if (arg == "--markdown" && i + 1 < argc) {
      markdown = argv[++i];
    } else {
      std::cerr << "usage: heart_eval [--data DIR] [--markdown PATH]\n";
      return 2;
    }
  }
  const DatasetSchema schema = HeartSchema();
  const std::vector<std::pair<std::string, std::string>> files{
      {"Cleveland", "cleveland.csv"},
      {"Hungary", "hungarian.csv"},
      {"Switzerland", "switzerland.csv"},
      {"VA", "va.csv"}};
  std::vector<Site> sites;
  for (const auto& [name, file] : files) {
    const std::string path = (std::filesystem::path(dir) / file).string();
    auto loaded = cls::core::LoadCsv(path, schema);
    if (!loaded) {
      std::cerr << "heart_eval: " << path << ": " << loaded.error().message
                << "\n";
      return 1;
    }
    if (!loaded->rejected.empty()) {
      std::cerr << "heart_eval: " << name << ": " << loaded->rejected.size()
                << " rows rejected\n";
    }
    Site s;
    s.name = name;
    s.table = std::move(loaded->table);
    s.split =
        cls::core::StratifiedSplit(s.table.labels, kTestFraction, kSplitSeed);
    sites.push_back(std::move(s));
  }
  Evaluator ev(schema, std::move(sites));

  struct Row {
    std::string key;
    std::string title;
    Mode main_mode;
    MethodResult result[2];  // [federation, site-local]
  };
  std::vector<Row> rows{{"local", "Local only", Mode::kSiteLocal, {}},
                        {"fedavg", "FedAvg", Mode::kFederation, {}},
                        {"fedprox", "FedProx", Mode::kFederation, {}},
                        {"pooled", "Pooled", Mode::kFederation, {}}};
  for (Row& row : rows) {
    for (Mode mode : {Mode::kFederation, Mode::kSiteLocal}) {
      std::cerr << "heart_eval: " << row.key << ", " << ModeName(mode)
                << " standardisation\n";
      MethodResult r;
      if (row.key == "local") r = ev.Local(mode);
      if (row.key == "fedavg") r = ev.Federated(mode, {0.0});
      if (row.key == "fedprox") r = ev.Federated(mode, kMus);
      if (row.key == "pooled") r = ev.Pooled(mode);
      row.result[mode == Mode::kFederation ? 0 : 1] = std::move(r);
    }
  }

  for (const char* metric : {"acc", "auc"}) {
    for (const Row& row : rows) {
      const int main_index = row.main_mode == Mode::kFederation ? 0 : 1;
      const MethodResult& r = row.result[main_index];
      const MethodResult& alt = row.result[1 - main_index];
      Json per_site = Json::object();
      for (size_t k = 0; k < ev.num_sites(); ++k) {
        per_site[ev.site(k).name] = MetricsJson(r.test.site[k]);
        if (!r.on_pooled_test.empty()) {
          per_site[ev.site(k).name]["on_pooled_test"] =
              MetricsJson(r.on_pooled_test[k]);
        }
      }
      Json params = {
          {"per_site", per_site},
          {"overall", MetricsJson(r.test.overall)},
          {"settings", r.settings},
          {"standardisation", ModeName(row.main_mode)},
          {"validation",
           {{"log_loss", std::round(r.validation.loss * 1e4) / 1e4},
            {"accuracy", std::round(r.validation.accuracy * 1e4) / 1e4}}},
          {"other_standardisation",
           {{"mode",
             ModeName(row.main_mode == Mode::kFederation ? Mode::kSiteLocal
                                                         : Mode::kFederation)},
            {"overall", MetricsJson(alt.test.overall)},
            {"settings", alt.settings}}},
          {"split",
           "stratified 80/20 per site, seed 7; tuned on 3 stratified "
           "80/20 validation splits of the train rows"}};
      if (r.clipped_fraction >= 0) {
        params["clipped_delta_fraction"] =
            std::round(r.clipped_fraction * 1e4) / 1e4;
      }
      const double value = std::string(metric) == "acc"
                               ? r.test.overall.accuracy
                               : r.test.overall.auc;
      Json line = {{"name", std::string("heart.") + metric + "." + row.key},
                   {"value", std::round(value * 1e4) / 1e4},
                   {"unit", std::string(metric) == "acc" ? "accuracy" : "auc"},
                   {"params", params}};
      std::cout << line.dump() << "\n";
      if (r.test_site_prior) {
        const Eval& e = *r.test_site_prior;
        Json sites = Json::object();
        for (size_t k = 0; k < ev.num_sites(); ++k) {
          sites[ev.site(k).name] = MetricsJson(e.site[k]);
        }
        const double v =
            std::string(metric) == "acc" ? e.overall.accuracy : e.overall.auc;
        Json prior = {{"name", std::string("heart.") + metric + "." + row.key +
                                   "_site_prior"},
                      {"value", std::round(v * 1e4) / 1e4},
                      {"unit", line["unit"]},
                      {"params",
                       {{"per_site", sites},
                        {"overall", MetricsJson(e.overall)},
                        {"settings", r.settings},
                        {"correction",
                         "intercept moved by logit(site positive rate) - "
                         "logit(federation positive rate), train rows only"}}}};
        std::cout << prior.dump() << "\n";
      }
    }
  }

  if (!markdown.empty()) {
    std::ofstream md(markdown);
    md << "| site (test rows) | local only, own split | local only, pooled "
          "test | FedAvg | FedProx | pooled | FedAvg + site prior | FedProx + "
          "site prior |\n|---|---|---|---|---|---|---|---|\n";
    for (size_t k = 0; k <= ev.num_sites(); ++k) {
      const bool overall = k == ev.num_sites();
      auto cell = [&](const MethodResult& r) {
        return Cell(overall ? r.test.overall : r.test.site[k]);
      };
      const MethodResult& local = rows[0].result[1];
      std::string pooled_test;
      if (overall) {
        double lo = 1, hi = 0;
        for (const auto& m : local.on_pooled_test) {
          lo = std::min(lo, m.accuracy);
          hi = std::max(hi, m.accuracy);
        }
        pooled_test = "acc " + Pct(lo) + "–" + Pct(hi);
      } else {
        pooled_test = Cell(local.on_pooled_test[k]);
      }
      md << "| " << (overall ? std::string("**overall**") : ev.site(k).name)
         << " ("
         << (overall ? rows[1].result[0].test.overall.count
                     : rows[1].result[0].test.site[k].count)
         << ") | " << cell(local) << " | " << pooled_test << " | "
         << cell(rows[1].result[0]) << " | " << cell(rows[2].result[0]) << " | "
         << cell(rows[3].result[0]) << " | "
         << Cell(overall ? rows[1].result[0].test_site_prior->overall
                         : rows[1].result[0].test_site_prior->site[k])
         << " | "
         << Cell(overall ? rows[2].result[0].test_site_prior->overall
                         : rows[2].result[0].test_site_prior->site[k])
         << " |\n";
    }
    md << "\nStandardisation, overall accuracy / AUC:\n\n"
          "| method | federation-wide | site-local |\n|---|---|---|\n";
    for (const Row& row : rows) {
      md << "| " << row.title << " | " << Cell(row.result[0].test.overall)
         << " | " << Cell(row.result[1].test.overall) << " |\n";
    }
    md << "\nChosen settings (validation log loss / accuracy, mean of 3 "
          "folds):\n\n| method | standardisation | settings | val loss | val "
          "acc |\n|---|---|---|---|---|\n";
    for (const Row& row : rows) {
      for (int i = 0; i < 2; ++i) {
        const MethodResult& r = row.result[i];
        md << "| " << row.title << " | "
           << (i == 0 ? "federation" : "site-local") << " | `"
           << r.settings.dump() << "` | " << Pct(r.validation.loss) << " | "
           << Pct(r.validation.accuracy) << " |\n";
      }
    }
  }
  return 0;
}
