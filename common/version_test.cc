#include "common/version.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace cls {
namespace {

TEST(VersionTest, TheProjectVersionIsMajorMinorPatch) {
  EXPECT_TRUE(std::regex_match(std::string(ProjectVersion()),
                               std::regex(R"(\d+\.\d+\.\d+)")))
      << ProjectVersion();
}

TEST(VersionTest, TheRevisionIsAGitHashOrUnknown) {
  EXPECT_TRUE(
      std::regex_match(std::string(GitRevision()),
                       std::regex(R"([0-9a-f]{7,40}(-dirty)?|unknown)")))
      << GitRevision();
}

TEST(VersionTest, TheVersionLineNamesTheProgramVersionAndRevision) {
  EXPECT_EQ(VersionLine("clsctl"), "clsctl " + std::string(ProjectVersion()) +
                                       " (git " + std::string(GitRevision()) +
                                       ")");
}

}  // namespace
}  // namespace cls
