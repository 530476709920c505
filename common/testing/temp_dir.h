#ifndef CLS_COMMON_TESTING_TEMP_DIR_H_
#define CLS_COMMON_TESTING_TEMP_DIR_H_

// For tests only: a fresh folder under the system temp dir, removed at the
// end, unique per process and per instance.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace cls::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "cls-test") {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            (prefix + "-" + std::to_string(::getpid()) + "-" +
             std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes `content` to `name` (folders created), returns its path.
  std::filesystem::path Write(const std::string& name,
                              const std::string& content) const {
    const auto file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    return file;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace cls::testing

#endif  // CLS_COMMON_TESTING_TEMP_DIR_H_
