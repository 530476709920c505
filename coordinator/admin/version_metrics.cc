#include "coordinator/admin/version_metrics.h"

#include "core/metrics.h"
#include "core/score_counts.h"

namespace cls::coordinator {
namespace {

using nlohmann::json;

json Ratio(int64_t a, int64_t b) {
  return b > 0 ? json(static_cast<double>(a) / static_cast<double>(b))
               : json(nullptr);
}

json Difference(const json& a, const json& b) {
  return a.is_number() && b.is_number()
             ? json(b.get<double>() - a.get<double>())
             : json(nullptr);
}

}  // namespace

json VersionMetricsJson(const VersionEvaluation& e) {
  json m = {
      {"reports", e.reports},
      {"evaluated_rows", e.count},
      {"accuracy", Ratio(e.correct, e.count)},
      {"precision", nullptr},
      {"recall", nullptr},
      {"f1", nullptr},
      {"auc", nullptr},
      {"loss", e.count > 0 ? json(e.loss_sum / static_cast<double>(e.count))
                           : json(nullptr)},
      {"training_samples", e.train_samples}};
  if (e.scores.count() > 0) {
    const auto s = core::SummariseBinaryScores(e.scores);
    m["precision"] = s.precision;
    m["recall"] = s.recall;
    m["f1"] = s.f1;
    if (!e.scores.positive_histogram.empty()) {
      m["auc"] = s.auc;
      m["auc_bins"] = e.scores.positive_histogram.size();
    }
  }
  if (!e.classes.support.empty()) {
    // Multi-class: macro averages (also as precision, recall and f1) and
    // each class's own, by class index (the sites' label_classes order).
    const core::ClassReport r = core::ReportClasses(e.classes);
    m["precision"] = r.macro_precision;
    m["recall"] = r.macro_recall;
    m["f1"] = r.macro_f1;
    m["macro_precision"] = r.macro_precision;
    m["macro_recall"] = r.macro_recall;
    m["macro_f1"] = r.macro_f1;
    json per_class = json::array();
    for (size_t c = 0; c < r.f1.size(); ++c) {
      per_class.push_back({{"class", c},
                           {"precision", r.precision[c]},
                           {"recall", r.recall[c]},
                           {"f1", r.f1[c]},
                           {"support", e.classes.support[c]}});
    }
    m["per_class"] = std::move(per_class);
  }
  return m;
}

json ValidationComparisonJson(const VersionEvaluation& a,
                              const VersionEvaluation& b) {
  json ma = VersionMetricsJson(a);
  json mb = VersionMetricsJson(b);
  // Both binary (no class counts) or both multi-class over the same K:
  // otherwise precision, recall, F1 and AUC mean different things.
  const size_t classes = a.classes.support.size();
  const bool same_kind = classes == b.classes.support.size();
  json delta = {{"accuracy", Difference(ma["accuracy"], mb["accuracy"])},
                {"loss", Difference(ma["loss"], mb["loss"])}};
  for (const char* key : {"precision", "recall", "f1", "auc"}) {
    delta[key] = same_kind ? Difference(ma[key], mb[key]) : json(nullptr);
  }
  delta["macro_f1"] = nullptr;
  json per_class = nullptr;
  if (same_kind && classes > 0) {
    delta["macro_f1"] = Difference(ma["macro_f1"], mb["macro_f1"]);
    per_class = json::array();
    for (size_t c = 0; c < classes; ++c) {
      const json& ca = ma["per_class"][c];
      const json& cb = mb["per_class"][c];
      per_class.push_back(
          {{"class", c},
           {"precision", Difference(ca["precision"], cb["precision"])},
           {"recall", Difference(ca["recall"], cb["recall"])},
           {"f1", Difference(ca["f1"], cb["f1"])}});
    }
  }
  return {{"a", std::move(ma)},
          {"b", std::move(mb)},
          {"delta", std::move(delta)},
          {"per_class_delta", std::move(per_class)}};
}

}  // namespace cls::coordinator
