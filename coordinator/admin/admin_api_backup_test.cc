// POST /v1/backup through AdminApi over a real Federation: answered after
// the copy ran on the worker pool (the io thread is not held), audited,
// refused with what to set when backups are off, and for roles without
// backup.create.
#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <memory>
#include <optional>

#include "common/worker_pool.h"
#include "coordinator/admin/admin_api.h"
#include "coordinator/federation.h"
#include "coordinator/privacy/privacy_high_water.h"

namespace cls::coordinator {
namespace {

namespace fs = std::filesystem;

class AdminApiBackupTest : public ::testing::Test {
 protected:
  void Open(bool backups) {
    root_ = fs::temp_directory_path() /
            ("cls-admin-backup-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "state");
    config_.model_parameters = 3;
    config_.data_dir = (root_ / "state").string();
    config_.privacy.mode = "central";
    if (backups) config_.backup.dir = (root_ / "backups").string();
    store_ = std::move(
        *CoordinatorStore::Open((root_ / "state" / "coordinator.db").string()));
    workers_ = std::make_unique<cls::WorkerPool>(1);
    federation_ =
        std::make_unique<Federation>(io_, config_, *store_, workers_.get());
    ASSERT_TRUE(federation_->Initialize().has_value());
    api_ = std::make_unique<AdminApi>(federation_->admin_services());
  }
  void TearDown() override {
    workers_.reset();  // before what its completions would call into
    api_.reset();
    federation_.reset();
    store_.reset();
    fs::remove_all(root_);
  }

  AdminRequest Post(const std::string& role) {
    return {"POST", "/v1/backup", "{}", {"alice", role}, std::nullopt};
  }

  int CountAudit(const std::string& event) {
    auto entries = store_->audit_log().Entries("", "");
    int n = 0;
    for (const auto& e : *entries) n += e.event_type == event;
    return n;
  }

  fs::path root_;
  boost::asio::io_context io_;
  CoordinatorConfig config_;
  std::unique_ptr<CoordinatorStore> store_;
  std::unique_ptr<cls::WorkerPool> workers_;
  std::unique_ptr<Federation> federation_;
  std::unique_ptr<AdminApi> api_;
};

TEST_F(AdminApiBackupTest, AnsweredOnTheIoThreadAfterThePoolCopied) {
  Open(true);
  // Backups on and privacy on: the high-water mark exists from the start.
  EXPECT_TRUE(fs::exists(root_ / "backups" / kPrivacyHighWaterFile));
  std::optional<AdminResponse> answer;
  api_->HandleAsync(Post("operator"),
                    [&](AdminResponse r) { answer = std::move(r); });
  EXPECT_FALSE(answer) << "the route returned before the copy ran";
  // The pool's completion arrives as a handler on the io thread.
  auto busy = boost::asio::make_work_guard(io_);
  while (!answer) io_.run_one();
  ASSERT_EQ(answer->status, 200) << answer->body.dump();
  const auto& b = answer->body;
  const fs::path file = b["file"].get<std::string>();
  EXPECT_EQ(file.parent_path(), root_ / "backups");
  EXPECT_TRUE(fs::exists(file));
  EXPECT_EQ(b["bytes"].get<int64_t>(),
            static_cast<int64_t>(fs::file_size(file)));
  EXPECT_EQ(b["sha256"].get<std::string>().size(), 64u);
  EXPECT_TRUE(b["created_at"].is_string());
  EXPECT_EQ(CountAudit("backup_created"), 1);
  // The synchronous entry point cannot wait for it and says so.
  EXPECT_EQ(api_->Handle(Post("admin")).status, 500);
  while (CountAudit("backup_created") < 2) io_.run_one();
}

TEST_F(AdminApiBackupTest, OffIsRefusedNamingTheKeyAndRolesAreChecked) {
  Open(false);
  auto off = api_->Handle(Post("admin"));
  EXPECT_EQ(off.status, 409);
  EXPECT_NE(off.body.dump().find("[backup] dir"), std::string::npos);
  EXPECT_EQ(CountAudit("command_refused"), 1);
  for (const char* role : {"viewer", "auditor"}) {
    EXPECT_EQ(api_->Handle(Post(role)).status, 403) << role;
  }
  EXPECT_EQ(CountAudit("access_denied"), 2);
}

}  // namespace
}  // namespace cls::coordinator
