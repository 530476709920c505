#include "common/version.h"

namespace cls {
namespace version_internal {
// Defined in the generated version_revision.cc.
extern const char kProjectVersion[];
extern const char kGitRevision[];
}  // namespace version_internal

std::string_view ProjectVersion() { return version_internal::kProjectVersion; }

std::string_view GitRevision() { return version_internal::kGitRevision; }

std::string VersionString() {
  return std::string(ProjectVersion()) + " (git " + std::string(GitRevision()) +
         ")";
}

std::string VersionLine(std::string_view program) {
  return std::string(program) + " " + VersionString();
}

}  // namespace cls
