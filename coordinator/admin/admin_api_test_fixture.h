#ifndef CLS_COORDINATOR_ADMIN_ADMIN_API_TEST_FIXTURE_H_
#define CLS_COORDINATOR_ADMIN_ADMIN_API_TEST_FIXTURE_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "coordinator/admin/admin_api.h"
#include "coordinator/config.h"
#include "coordinator/federation.h"
#include "coordinator/storage/store.h"

namespace cls::coordinator {

// A real store and Federation in a fresh temporary folder, and the AdminApi
// over them: what the admin route tests share.
class AdminApiFixture : public ::testing::Test {
 protected:
  // `name` prefixes the folder; 3 model parameters.
  void OpenFederation(const std::string& name) {
    dir_ = std::filesystem::temp_directory_path() /
           (name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    config_.model_parameters = 3;
    config_.data_dir = dir_.string();
    store_ =
        std::move(*CoordinatorStore::Open((dir_ / "coordinator.db").string()));
    federation_ = std::make_unique<Federation>(io_, config_, *store_);
    ASSERT_TRUE(federation_->Initialize().has_value());
    api_ = std::make_unique<AdminApi>(federation_->admin_services());
  }
  void TearDown() override {
    api_.reset();
    federation_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  boost::asio::io_context io_;
  CoordinatorConfig config_;
  std::unique_ptr<CoordinatorStore> store_;
  std::unique_ptr<Federation> federation_;
  std::unique_ptr<AdminApi> api_;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_ADMIN_ADMIN_API_TEST_FIXTURE_H_
