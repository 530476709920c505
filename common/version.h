#ifndef CLS_COMMON_VERSION_H_
#define CLS_COMMON_VERSION_H_

#include <string>
#include <string_view>

namespace cls {

// One source for every binary's --version, the agent version a site sends
// in its hello, and the coordinator's status: the CMake project version and
// the git revision the build was made from (cmake/write_version.cmake).

// "0.1.0": CMakeLists.txt's project(VERSION); also the Debian package version.
std::string_view ProjectVersion();

// "3e7eb03c1a2b", with "-dirty" when the tree had uncommitted changes, or
// "unknown" for a build outside a git checkout.
std::string_view GitRevision();

// "0.1.0 (git 3e7eb03c1a2b)".
std::string VersionString();

// "cls-coordinator 0.1.0 (git 3e7eb03c1a2b)": what --version prints.
std::string VersionLine(std::string_view program);

}  // namespace cls

#endif  // CLS_COMMON_VERSION_H_
