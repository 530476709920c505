#ifndef CLS_COORDINATOR_ADMIN_VERSION_METRICS_H_
#define CLS_COORDINATOR_ADMIN_VERSION_METRICS_H_

#include <nlohmann/json.hpp>

#include "coordinator/storage/store.h"

// A model version's validation metrics as the admin API shows them: one
// builder for GET /v1/versions, GET /v1/versions/{id} and both sides of
// GET /v1/versions/compare, so the three can never disagree.
namespace cls::coordinator {

// The original guide's version metrics from the sites' summed held-out
// evaluations; null where nothing was reported. AUC is binned
// (core/score_counts.h). Multi-class versions add macro_* and per_class,
// and their precision, recall and f1 are the macro averages.
nlohmann::json VersionMetricsJson(const VersionEvaluation& e);

// B's validation against A's: {"a": metrics, "b": metrics, "delta":
// {metric: b - a}, "per_class_delta": [{class, precision, recall, f1}]}.
// A delta is null where either side has no figure or the two are not the
// same kind (precision of a binary model against a macro average);
// per_class_delta is null unless both are multi-class with the same classes.
nlohmann::json ValidationComparisonJson(const VersionEvaluation& a,
                                        const VersionEvaluation& b);

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_ADMIN_VERSION_METRICS_H_
