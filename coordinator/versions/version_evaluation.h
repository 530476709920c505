#ifndef CLS_COORDINATOR_VERSIONS_VERSION_EVALUATION_H_
#define CLS_COORDINATOR_VERSIONS_VERSION_EVALUATION_H_

#include <string>

#include "common/error.h"
#include "coordinator/storage/store.h"
#include "protocol/messages.h"

namespace cls::coordinator {

// Whether a site's score counts are consistent: both histograms empty, or
// of equal length whose totals match the confusion counts of each class,
// all adding up to the reported row count. A site that sends anything else
// is misbehaving.
bool CheckEvaluationScores(const protocol::EvaluationReport& report);

// Adds a site's held-out evaluation (already checked) to the sums of
// `current_version`, the version the round produced. A report about another
// version is ignored (not an error): it arrived after a newer version.
Status RecordVersionEvaluation(CoordinatorStore& store,
                               const std::string& current_version,
                               const protocol::EvaluationReport& report);

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_VERSIONS_VERSION_EVALUATION_H_
