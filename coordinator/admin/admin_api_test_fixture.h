#ifndef CLS_COORDINATOR_ADMIN_ADMIN_API_TEST_FIXTURE_H_
#define CLS_COORDINATOR_ADMIN_ADMIN_API_TEST_FIXTURE_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/admin/admin_api.h"
#include "coordinator/config.h"
#include "coordinator/federation.h"
#include "coordinator/round/round_finalizer.h"
#include "coordinator/storage/store.h"
#include "coordinator/versions/kek_file.h"
#include "coordinator/versions/model_keys.h"
#include "coordinator/versions/version_evaluation.h"
#include "protocol/messages.h"

namespace cls::coordinator {

// A real store and Federation in a fresh temporary folder, and the AdminApi
// over them: what the admin route tests share.
class AdminApiFixture : public ::testing::Test {
 protected:
  // `name` and the test's own name make the folder, so no two tests share
  // one; 3 model parameters.
  void OpenFederation(const std::string& name) {
    OpenStore(name);
    if (HasFatalFailure()) return;
    StartFederation();
  }
  // OpenFederation with the model vault: artifacts sealed under a key file
  // made in the folder (never a key from the environment), and the keys
  // loaded into the API (POST /v1/keys/rotate).
  void OpenFederationWithKeys(const std::string& name) {
    ::unsetenv(kKekEnvironmentVariable);
    OpenStore(name);
    if (HasFatalFailure()) return;
    config_.versions.kek_file = (dir_ / "model.kek").string();
    auto keys = ModelKeys::Open(config_.versions, *store_);
    ASSERT_TRUE(keys.has_value()) << keys.error().message;
    keys_ = std::move(*keys);
    StartFederation();
  }
  // (Re)starts the federation over the store, as the daemon does.
  void StartFederation() {
    api_.reset();
    federation_ = std::make_unique<Federation>(io_, config_, *store_);
    ASSERT_TRUE(federation_->Initialize().has_value());
    api_ = std::make_unique<AdminApi>(federation_->admin_services());
    api_->SetModelKeys(keys_.get());
  }
  void TearDown() override {
    api_.reset();
    federation_.reset();
    keys_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A request by "user_ROLE" with that role.
  AdminResponse Call(const std::string& method, const std::string& target,
                     const std::string& role, const std::string& body = "") {
    return api_->Handle({method,
                         target,
                         body,
                         {"user_" + role, role},
                         std::chrono::system_clock::now()});
  }

  // A completed training round `round_id` by `contributors` (its validation
  // counts as given) and the version vSEQUENCE it made from `parent`.
  std::string AddTrainedVersion(int64_t sequence, int64_t round_id,
                                const std::string& parent,
                                std::vector<std::string> contributors,
                                int64_t val_count = 0,
                                int64_t val_correct = 0) {
    RoundRecord round;
    round.round_id = round_id;
    round.status = "running";
    round.started_at = "2026-12-07T06:00:00Z";
    round.participants = contributors;
    EXPECT_TRUE(store_->InsertRound(round).has_value());
    ModelRecord m;
    m.sequence = sequence;
    m.version_id = "v" + std::to_string(sequence) + "_20261207_06000" +
                   std::to_string(sequence);
    m.round_id = round_id;
    m.parent_version = parent;
    m.parameters = {0.1f * static_cast<float>(sequence), 0.2f, 0.3f};
    m.hash = ParameterHash(m.parameters);
    m.created_at = "2026-12-07T06:00:0" + std::to_string(sequence) + "Z";
    m.model_type = config_.model_type;
    EXPECT_TRUE(store_->InsertModel(m).has_value());
    round.status = "completed";
    round.contributors = std::move(contributors);
    round.model_version = m.version_id;
    round.val_count = val_count;
    round.val_correct = val_correct;
    EXPECT_TRUE(store_->UpdateRound(round).has_value());
    return m.version_id;
  }

  // A site's held-out evaluation of `version` by a binary model: its
  // confusion counts, with 4-bin score histograms that fit them.
  static protocol::EvaluationReport BinaryReport(const std::string& version,
                                                 uint64_t tp, uint64_t fp,
                                                 uint64_t tn, uint64_t fn) {
    protocol::EvaluationReport r;
    r.model_version = version;
    r.metrics.count = tp + fp + tn + fn;
    r.metrics.correct = tp + tn;
    r.metrics.loss_sum = 0.5 * static_cast<double>(r.metrics.count);
    r.metrics.train_samples = 100;
    r.scores = {tp, fp, tn, fn, {0, fn, tp, 0}, {tn, fp, 0, 0}};
    return r;
  }
  // The same by a multi-class model: per class, the rows of the class
  // predicted right, the rows of the class and the rows predicted as it.
  static protocol::EvaluationReport MultiClassReport(
      const std::string& version, std::vector<uint64_t> correct,
      std::vector<uint64_t> support, std::vector<uint64_t> predicted) {
    protocol::EvaluationReport r;
    r.model_version = version;
    for (size_t c = 0; c < support.size(); ++c) {
      r.metrics.count += support[c];
      r.metrics.correct += correct[c];
    }
    r.metrics.loss_sum = 0.5 * static_cast<double>(r.metrics.count);
    r.metrics.train_samples = 100;
    r.metrics.class_correct = std::move(correct);
    r.metrics.class_support = std::move(support);
    r.metrics.class_predicted = std::move(predicted);
    return r;
  }

  std::filesystem::path dir_;
  boost::asio::io_context io_;
  CoordinatorConfig config_;
  std::unique_ptr<CoordinatorStore> store_;
  std::unique_ptr<ModelKeys> keys_;  // OpenFederationWithKeys only
  std::unique_ptr<Federation> federation_;
  std::unique_ptr<AdminApi> api_;

 private:
  void OpenStore(const std::string& name) {
    std::string test =
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(test.begin(), test.end(), '/', '_');  // parameterised tests
    dir_ = std::filesystem::temp_directory_path() /
           (name + "-" + std::to_string(::getpid()) + "-" + test);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    config_.model_parameters = 3;
    config_.data_dir = dir_.string();
    auto store = CoordinatorStore::Open((dir_ / "coordinator.db").string());
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
  }
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_ADMIN_ADMIN_API_TEST_FIXTURE_H_
