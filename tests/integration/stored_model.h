#ifndef CLS_TESTS_INTEGRATION_STORED_MODEL_H_
#define CLS_TESTS_INTEGRATION_STORED_MODEL_H_

#include <string>
#include <vector>

namespace cls::testing {

struct StoredModel {
  std::string version_id;
  std::string parent_version;
  std::vector<float> parameters;
};

// The newest model version straight from a coordinator's database, its
// artifact decrypted with the key-encryption key file beside it (the data
// dir's model.kek), as an auditor with the key would. Test failures (not
// exceptions) on any error.
StoredModel ReadLatestModel(const std::string& data_dir);
// Every version, newest first, decrypted the same way.
std::vector<StoredModel> ReadModels(const std::string& data_dir);

}  // namespace cls::testing

#endif  // CLS_TESTS_INTEGRATION_STORED_MODEL_H_
