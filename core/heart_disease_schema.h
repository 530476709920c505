#ifndef CLS_CORE_HEART_DISEASE_SCHEMA_H_
#define CLS_CORE_HEART_DISEASE_SCHEMA_H_

#include <string>
#include <vector>

#include "core/dataset.h"

namespace cls::core {

// The demo sites' schema (scripts/demo.sh writes the same one into each
// site's config) for the UCI heart-disease files: 9 numeric columns
// (chol 0 = missing) and one-hot cp, restecg, slope, thal; label num > 0.
// 23 features + bias.
inline DatasetSchema HeartSchema() {
  DatasetSchema schema;
  for (const char* name : {"age", "sex", "trestbps", "chol", "fbs", "thalach",
                           "exang", "oldpeak", "ca"}) {
    ColumnSpec c;
    c.name = name;
    c.zero_is_missing = std::string(name) == "chol";
    schema.features.push_back(c);
  }
  auto categorical = [&](const char* name, std::vector<double> categories) {
    ColumnSpec c;
    c.name = name;
    c.kind = ColumnSpec::Kind::kCategorical;
    c.categories = std::move(categories);
    schema.features.push_back(c);
  };
  categorical("cp", {1, 2, 3, 4});
  categorical("restecg", {0, 1, 2});
  categorical("slope", {1, 2, 3});
  categorical("thal", {3, 6, 7});
  schema.label = {"num", 0.0};
  return schema;
}

}  // namespace cls::core

#endif  // CLS_CORE_HEART_DISEASE_SCHEMA_H_
