#include "site-agent/audit_checkpoint_store.h"

#include <gtest/gtest.h>

#include "site-agent/test_util.h"

namespace cls::site {
namespace {

std::string Checkpoint(int64_t seq, char hash_char) {
  return "{\"coordinator_id\":\"c\",\"seq\":" + std::to_string(seq) +
         ",\"hash\":\"" + std::string(64, hash_char) +
         "\",\"signature\":\"00\"}";
}

TEST(AuditCheckpointStore, KeepsTheNewestAndFlagsALogThatWentBack) {
  testing::TempDir dir;
  auto first = KeepLatestCheckpoint(dir.path(), Checkpoint(100, 'a'));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, CheckpointVerdict::kStored);
  EXPECT_EQ(*KeepLatestCheckpoint(dir.path(), Checkpoint(100, 'a')),
            CheckpointVerdict::kSame);
  EXPECT_EQ(*KeepLatestCheckpoint(dir.path(), Checkpoint(200, 'b')),
            CheckpointVerdict::kStored);
  // A rewritten log: an older head, or the same seq with another hash.
  EXPECT_EQ(*KeepLatestCheckpoint(dir.path(), Checkpoint(150, 'c')),
            CheckpointVerdict::kWentBack);
  EXPECT_EQ(*KeepLatestCheckpoint(dir.path(), Checkpoint(200, 'd')),
            CheckpointVerdict::kWentBack);
  EXPECT_EQ(testing::ReadFile(dir.path() / kAuditCheckpointFile),
            Checkpoint(200, 'b'));
}

TEST(AuditCheckpointStore, RefusesWhatIsNotACheckpoint) {
  testing::TempDir dir;
  EXPECT_FALSE(KeepLatestCheckpoint(dir.path(), "not json"));
  EXPECT_FALSE(KeepLatestCheckpoint(dir.path(), "{\"seq\":1,\"hash\":\"ab\"}"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / kAuditCheckpointFile));
}

}  // namespace
}  // namespace cls::site
