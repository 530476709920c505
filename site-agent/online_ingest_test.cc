#include "site-agent/online_ingest.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "site-agent/test_util.h"

namespace cls::site {
namespace {
namespace fs = std::filesystem;
using testing::ReadFile;
using testing::SyntheticCsv;
using testing::SyntheticDataConfig;
using testing::TempDir;

class OnlineIngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    csv_ = dir_.Write("site.csv", SyntheticCsv(120, 1));
    config_.inbox = (dir_.path() / "inbox").string();
    config_.key_file = (dir_.path() / "state" / "keys" / "online.key").string();
    config_.batch_size = 16;
    config_.reservoir_size = 50;
    config_.rehearsal_samples = 8;
  }

  LocalModel Model() {
    auto m = LocalModel::Load(SyntheticDataConfig(csv_.string()));
    EXPECT_TRUE(m.has_value());
    return std::move(*m);
  }

  std::unique_ptr<OnlineIngest> Open(LocalModel& model) {
    auto ingest =
        OnlineIngest::Open(config_, "HOSP_T", dir_.path() / "state", model);
    EXPECT_TRUE(ingest.has_value()) << ingest.error().message;
    return ingest ? std::move(*ingest) : nullptr;
  }

  fs::path Drop(const std::string& name, const std::string& content) {
    return dir_.Write("inbox/" + name, content);
  }

  TempDir dir_;
  fs::path csv_;
  OnlineConfig config_;
};

TEST_F(OnlineIngestTest, EachFileIsLearnedOnceAndJoinsTheTrainRows) {
  LocalModel model = Model();
  const uint64_t before = model.num_samples();
  auto ingest = Open(model);
  ASSERT_TRUE(ingest);
  Drop("day-001.csv", SyntheticCsv(40, 11));
  Drop("day-002.csv", SyntheticCsv(30, 12));
  auto taken = ingest->ProcessInbox();
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(*taken, 2);
  EXPECT_EQ(ingest->system().history().size(), 2u);
  ASSERT_EQ(ingest->ledger().size(), 2u);
  EXPECT_EQ(ingest->ledger()[0].name, "day-001.csv");
  EXPECT_EQ(ingest->ledger()[0].rows_accepted, 40u);
  EXPECT_EQ(ingest->ledger()[0].rows_rejected, 2u);
  EXPECT_EQ(model.num_samples(), before + 70);
  EXPECT_TRUE(fs::is_empty(config_.inbox));

  // The same content again, under another name (re-sent, or a crash after
  // the state was saved but before the move): not learned twice.
  Drop("day-001-resent.csv", SyntheticCsv(40, 11));
  ASSERT_EQ(*ingest->ProcessInbox(), 1);
  EXPECT_EQ(ingest->system().history().size(), 2u);
  EXPECT_EQ(ingest->ledger().size(), 2u);
  EXPECT_EQ(model.num_samples(), before + 70);
}

TEST_F(OnlineIngestTest, RestartResumesTheLedgerTheModelAndTheRows) {
  std::vector<uint8_t> saved_state;
  {
    LocalModel model = Model();
    auto ingest = Open(model);
    ASSERT_TRUE(ingest);
    Drop("day-001.csv", SyntheticCsv(40, 21));
    ASSERT_EQ(*ingest->ProcessInbox(), 1);
    saved_state = ingest->system().Serialize();
  }
  LocalModel model = Model();
  const uint64_t fresh = model.num_samples();
  auto ingest = Open(model);
  ASSERT_TRUE(ingest);
  EXPECT_EQ(ingest->ledger().size(), 1u);
  EXPECT_EQ(ingest->system().Serialize(), saved_state);
  EXPECT_EQ(model.num_samples(), fresh + 40);
  Drop("again.csv", SyntheticCsv(40, 21));
  ASSERT_EQ(*ingest->ProcessInbox(), 1);
  EXPECT_EQ(ingest->system().history().size(), 1u);
}

TEST_F(OnlineIngestTest, BadRowsAndBadFilesAreQuarantinedWithReasons) {
  LocalModel model = Model();
  auto ingest = Open(model);
  ASSERT_TRUE(ingest);
  Drop("a-rows.csv", SyntheticCsv(20, 31));
  Drop("b-header.csv", "x1,group,y\n1,1,1\n");  // x2 missing
  Drop("c-empty.csv", "");
  ASSERT_EQ(*ingest->ProcessInbox(), 3);
  const fs::path q = dir_.path() / "state" / "online" / "quarantine";
  const std::string rejected = ReadFile(q / "a-rows.csv.rejected-rows.csv");
  EXPECT_NE(rejected.find("22,"), std::string::npos);  // line 22: category 9
  EXPECT_NE(rejected.find("23,"), std::string::npos);  // line 23: "abc"
  EXPECT_TRUE(fs::exists(q / "b-header.csv"));
  ASSERT_EQ(ingest->ledger().size(), 3u);
  EXPECT_FALSE(ingest->ledger()[1].error.empty());
  EXPECT_FALSE(ingest->ledger()[2].error.empty());
  EXPECT_EQ(ingest->system().history().size(), 1u);
  const std::string status = ingest->StatusJson();
  EXPECT_NE(status.find("\"files_refused\": 2"), std::string::npos) << status;
  EXPECT_NE(status.find("\"rows_rejected\": 2"), std::string::npos) << status;
}

TEST_F(OnlineIngestTest,
       StateIsEncryptedAndATamperedStateIsRefusedNotReplaced) {
  {
    LocalModel model = Model();
    auto ingest = Open(model);
    ASSERT_TRUE(ingest);
    Drop("day-001.csv", SyntheticCsv(40, 41));
    ASSERT_EQ(*ingest->ProcessInbox(), 1);
  }
  struct stat st {};
  ASSERT_EQ(::stat(config_.key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const fs::path state = dir_.path() / "state" / "online" / "state.enc";
  std::string bytes = ReadFile(state);
  EXPECT_EQ(bytes.find("day-001.csv"), std::string::npos);  // ledger sealed
  bytes[bytes.size() / 2] ^= 1;
  dir_.Write("state/online/state.enc", bytes);
  LocalModel model = Model();
  auto ingest =
      OnlineIngest::Open(config_, "HOSP_T", dir_.path() / "state", model);
  ASSERT_FALSE(ingest.has_value());
  EXPECT_EQ(ingest.error().code, ErrorCode::kDataLoss);
  EXPECT_EQ(ReadFile(state), bytes);  // left as it is

  // Another site's key cannot read it either.
  auto other = config_;
  other.key_file = (dir_.path() / "other.key").string();
  auto refused =
      OnlineIngest::Open(other, "HOSP_T", dir_.path() / "state", model);
  EXPECT_FALSE(refused.has_value());
}

TEST_F(OnlineIngestTest, DeployAnchorsToTheGlobalModel) {
  LocalModel model = Model();
  auto ingest = Open(model);
  ASSERT_TRUE(ingest);
  std::vector<float> global(static_cast<size_t>(model.num_parameters()), 0.25f);
  ASSERT_TRUE(ingest->Deploy(global).has_value());
  const auto p = ingest->system().model().parameters();
  EXPECT_EQ(std::vector<float>(p.begin(), p.end()), global);
  EXPECT_TRUE(ingest->system().anchor().active());
}

TEST_F(OnlineIngestTest, RefusesAMultiClassSiteClearly) {
  // Labels 0 and 1 listed as classes plus one more: a 3-class site, which
  // the logistic-regression learner cannot update.
  DataConfig data = SyntheticDataConfig(csv_.string());
  data.schema.label.classes = {0, 1, 2};
  auto model = LocalModel::Load(data);
  ASSERT_TRUE(model.has_value()) << model.error().message;
  auto ingest =
      OnlineIngest::Open(config_, "HOSP_T", dir_.path() / "state", *model);
  ASSERT_FALSE(ingest.has_value());
  EXPECT_EQ(ingest.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(ingest.error().message.find("binary logistic regression only"),
            std::string::npos)
      << ingest.error().message;
  // Nothing was created for it.
  EXPECT_FALSE(fs::exists(dir_.path() / "state" / "keys" / "online.key"));
}

TEST(OnlineKey, RefusesAKeyReadableByOthers) {
  TempDir dir;
  const auto path = dir.Write("k.key", std::string(32, 'k'));
  ::chmod(path.c_str(), 0644);
  auto key = LoadOrCreateKey(path);
  ASSERT_FALSE(key.has_value());
  EXPECT_NE(key.error().message.find("chmod 600"), std::string::npos);
}

}  // namespace
}  // namespace cls::site
