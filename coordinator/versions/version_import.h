#ifndef CLS_COORDINATOR_VERSIONS_VERSION_IMPORT_H_
#define CLS_COORDINATOR_VERSIONS_VERSION_IMPORT_H_

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "coordinator/storage/store.h"

namespace cls::coordinator {

// What an imported model must match: the federation's model.
struct ImportTarget {
  std::string model_type;  // [model] type, e.g. diagnosis_predictor
  std::string model_kind;  // [model] kind, e.g. logistic_regression
  int64_t parameters = 0;  // [model] parameters
};

// The federation's parameter layout as text (core/model_layout.h): for
// logistic regression "logreg:w[Dx1],b[1]" (D = parameters - 1), for any
// other kind "KIND:params[P]".
std::string FederationLayout(const std::string& model_kind, int64_t parameters);

// A model file (docs/versions.md "Importing a model"):
//   {"format": "cls-model/1", "model_type": ..., "layout": ...,
//    "parameters": [numbers], "metrics": {name: number}, "description": ...}
struct ImportedModel {
  std::vector<float> parameters;
  std::string layout;
  std::string description;
  nlohmann::json metrics;  // object of finite numbers
};
inline constexpr const char* kModelFileFormat = "cls-model/1";

// InvalidArgument naming the field (and the parameter's index) when the file
// does not fit the target: a missing or mistyped field, another model type or
// layout, a value that is not a finite float32. Never echoes a value.
Result<ImportedModel> ParseModelFile(const nlohmann::json& file,
                                     const ImportTarget& target);

// Stores an operator's model as a new version: outside the training lineage
// (round 0, no parent, sequence -1, -2, ... so it never becomes the base of
// the next round), id "import{K}_{YYYYMMDD_HHMMSS}", sealed like every
// artifact when a vault is attached, with its description, layout and
// metrics in imported_versions; audited as version_imported in the same
// transaction. Single-threaded (io thread).
class VersionImporter {
 public:
  VersionImporter(CoordinatorStore& store, ImportTarget target)
      : store_(store), target_(std::move(target)) {}

  struct Imported {
    ModelRecord model;  // parameters included
    ImportedModel file;
  };
  Result<Imported> Import(const nlohmann::json& file, const std::string& actor,
                          const std::string& actor_role);

  // The import metadata of `version_id`, or nullopt (not imported).
  Result<std::optional<nlohmann::json>> Find(const std::string& version_id);

  const ImportTarget& target() const { return target_; }

 private:
  Status EnsureTable();

  CoordinatorStore& store_;
  ImportTarget target_;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_VERSIONS_VERSION_IMPORT_H_
