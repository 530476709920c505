#ifndef CLS_SITE_AGENT_SERVING_TEST_UTIL_H_
#define CLS_SITE_AGENT_SERVING_TEST_UTIL_H_

// Helpers shared by the serving tests only: a three-column schema, a
// preprocessor fitted on a few rows, and versions with known parameters.

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/dataset.h"
#include "crypto/https_test_client.h"
#include "site-agent/prediction_service.h"
#include "site-agent/serving_state.h"
#include "site-agent/state_store.h"

namespace cls::site::testing {

using crypto::testing::Client;
using crypto::testing::Reply;
#ifdef CLS_PKI_SCRIPT
using crypto::testing::RunPki;
#endif

// age (numeric), chol (numeric, 0 = missing), cp (categorical 1..4):
// 2 + 4 = 6 features, 7 parameters.
inline core::DatasetSchema ServingSchema() {
  core::DatasetSchema schema;
  schema.features.push_back({"age", core::ColumnSpec::Kind::kNumeric, {}});
  schema.features.push_back(
      {"chol", core::ColumnSpec::Kind::kNumeric, {}, /*zero_is_missing=*/true});
  schema.features.push_back(
      {"cp", core::ColumnSpec::Kind::kCategorical, {1, 2, 3, 4}});
  schema.label = {"num", 0};
  return schema;
}

inline core::Preprocessor ServingPreprocessor() {
  core::RawTable table;
  table.rows = {{40, 200, 1}, {50, 240, 2}, {60, 280, 3}, {70, 320, 4}};
  table.labels = {0, 0, 1, 1};
  return *core::Preprocessor::Fit(ServingSchema(), table, {0, 1, 2, 3});
}

inline PredictionService::Standardiser ServingStandardiser() {
  auto pre = std::make_shared<core::Preprocessor>(ServingPreprocessor());
  return [pre](const core::RawTable& table) {
    std::vector<int> rows(table.rows.size());
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int>(i);
    return pre->Transform(table, rows);
  };
}

// A version whose probability rises with age (weight `age_weight` on the
// standardised age, bias `bias`).
inline ServedVersion MakeVersion(const std::string& id, float age_weight,
                                 float bias = 0) {
  std::vector<float> p = {age_weight, 0, 0, 0, 0, 0, bias};
  return {id, ModelHash(p), p};
}

inline protocol::ServedModel ToWire(const ServedVersion& v) {
  std::string kind = "logistic_regression";
  if (auto spec = core::ModelSpec::Parse(v.spec)) {
    kind = std::string(core::ModelKindName(spec->kind));
  }
  return {v.version_id, v.hash, kind, v.parameters, v.spec};
}

inline protocol::DeploymentUpdate MakeUpdate(const std::string& id,
                                             const std::string& strategy,
                                             const ServedVersion& current,
                                             const ServedVersion* candidate,
                                             double percent,
                                             const std::string& salt) {
  protocol::DeploymentUpdate u;
  u.deployment_id = id;
  u.strategy = strategy;
  u.current = ToWire(current);
  if (candidate != nullptr) u.candidate = ToWire(*candidate);
  u.rollout_percent = percent;
  u.salt = salt;
  return u;
}

}  // namespace cls::site::testing

#endif  // CLS_SITE_AGENT_SERVING_TEST_UTIL_H_
