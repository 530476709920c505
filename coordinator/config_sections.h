#ifndef CLS_COORDINATOR_CONFIG_SECTIONS_H_
#define CLS_COORDINATOR_CONFIG_SECTIONS_H_

// The coordinator config's sections for single-hospital mode, automatic
// rollback and drift responses (config_sections.cc); config.cc reads the
// rest and calls these.

#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/toml_reader.h"
#include "coordinator/config.h"

namespace cls::coordinator::internal {

// Coordinator messages are short ("config: 'min_sites' has the wrong type").
inline const TomlStyle kStyle{.prefix = "config: ", .detailed = false};

// The table `key` of `parent`, or an empty one when absent; unknown keys
// are errors naming them.
Result<TomlTable> Section(const TomlTable& parent, std::string_view key,
                          std::vector<std::string_view> keys);

// [federation] federated. Read before min_sites is checked.
Status ReadFederation(const TomlTable& top, CoordinatorConfig& c);
// [deployment]: the automatic rollback's thresholds.
Status ReadDeployment(const TomlTable& top, CoordinatorConfig& c);
// [drift]: the sites' drift monitors (the guide's ModelDriftDetector
// settings) and the responses to their alerts (webhook, retraining).
Status ReadDrift(const TomlTable& top, CoordinatorConfig& c);
// min_sites: at least 2 with secure aggregation across sites; exactly 1
// is allowed only with federated = false.
Status CheckMinSites(const CoordinatorConfig& c);

}  // namespace cls::coordinator::internal

#endif  // CLS_COORDINATOR_CONFIG_SECTIONS_H_
