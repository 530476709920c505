#include "common/durable_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>

namespace cls {
namespace {

namespace fs = std::filesystem;

class DurableFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cls_durable_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string Read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  }
  static mode_t Mode(const fs::path& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 0777;
  }

  fs::path dir_;
};

TEST_F(DurableFileTest, WritesTheWholeFileWithTheModeWhateverTheUmask) {
  const mode_t old_umask = ::umask(0);
  const std::string data(100000, 'x');
  const fs::path path = dir_ / "state.bin";
  ASSERT_TRUE(WriteFileDurably(path, AsBytes(data)).has_value());
  EXPECT_EQ(Read(path), data);
  EXPECT_EQ(Mode(path), 0600u);

  ::umask(077);
  ASSERT_TRUE(
      WriteFileDurably(dir_ / "public.txt", AsBytes("ok\n"), {.mode = 0644})
          .has_value());
  ::umask(old_umask);
  EXPECT_EQ(Mode(dir_ / "public.txt"), 0644u);
  EXPECT_FALSE(fs::exists(dir_ / "state.bin.tmp"));
}

TEST_F(DurableFileTest, ReplacesAnOlderFileAndNarrowsAStaleTemporaryMode) {
  const fs::path path = dir_ / "status.json";
  std::ofstream(path) << "old";
  std::ofstream(path.string() + ".tmp") << "left by a crash";
  ASSERT_EQ(::chmod((path.string() + ".tmp").c_str(), 0666), 0);
  ASSERT_TRUE(WriteFileDurably(path, AsBytes("new")).has_value());
  EXPECT_EQ(Read(path), "new");
  EXPECT_EQ(Mode(path), 0600u);
}

TEST_F(DurableFileTest, CreatesMissingFoldersOnlyWhenAsked) {
  const fs::path path = dir_ / "a" / "b" / "file";
  auto refused = WriteFileDurably(path, AsBytes("x"));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(refused.error().message,
            "open " + path.string() + ".tmp: No such file or directory");
  ASSERT_TRUE(WriteFileDurably(path, AsBytes("x"), {.create_folders = true}));
  EXPECT_EQ(Read(path), "x");
  EXPECT_EQ(Mode(dir_ / "a"), 0700u);
}

int FailingRename(const char*, const char*) {
  errno = EIO;
  return -1;
}

TEST_F(DurableFileTest, AFailingRenameLeavesTheOldFileIntact) {
  const fs::path path = dir_ / "audit_checkpoint.json";
  ASSERT_TRUE(WriteFileDurably(path, AsBytes("old checkpoint")).has_value());
  const FileSystemCalls calls{.rename = &FailingRename};
  auto failed =
      WriteFileDurably(path, AsBytes("new checkpoint"), {.calls = &calls});
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(failed.error().message, "rename " + path.string() + ".tmp to " +
                                        path.string() + ": Input/output error");
  EXPECT_EQ(Read(path), "old checkpoint");
  EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
}

int FailingFsync(int) {
  errno = EIO;
  return -1;
}

TEST_F(DurableFileTest, AFailingFileFsyncNeverReachesTheRename) {
  const fs::path path = dir_ / "model.bin";
  std::ofstream(path) << "old model";
  const FileSystemCalls calls{.fsync = &FailingFsync};
  auto failed = WriteFileDurably(path, AsBytes("new model"), {.calls = &calls});
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().message,
            "fsync " + path.string() + ".tmp: Input/output error");
  EXPECT_EQ(Read(path), "old model");
  EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
}

TEST_F(DurableFileTest, WithoutReplaceAnExistingFileIsKept) {
  const fs::path path = dir_ / "model.kek";
  ASSERT_TRUE(WriteFileDurably(path, AsBytes("first key"), {.replace = false}));
  auto again =
      WriteFileDurably(path, AsBytes("second key"), {.replace = false});
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(again.error().message, path.string() + " already exists");
  EXPECT_EQ(Read(path), "first key");
  EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
}

TEST_F(DurableFileTest, RenameAndRemoveDurably) {
  const fs::path from = dir_ / "next.kek";
  const fs::path to = dir_ / "model.kek";
  ASSERT_TRUE(WriteFileDurably(from, AsBytes("k")).has_value());
  ASSERT_TRUE(RenameDurably(from, to).has_value());
  EXPECT_EQ(Read(to), "k");
  EXPECT_FALSE(fs::exists(from));
  auto missing = RenameDurably(from, to);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().message, "rename " + from.string() + " to " +
                                         to.string() +
                                         ": No such file or directory");
  ASSERT_TRUE(RemoveDurably(to).has_value());
  EXPECT_FALSE(fs::exists(to));
  EXPECT_TRUE(RemoveDurably(to).has_value());  // already gone: fine
}

}  // namespace
}  // namespace cls
