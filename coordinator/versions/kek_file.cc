#include "coordinator/versions/kek_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace cls::coordinator {
namespace {

std::string ErrnoText() { return std::strerror(errno); }

std::string Octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

}  // namespace

Result<KeyEncryptionKey> ReadKekFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) {
      return NotFound("key-encryption key file " + path + " does not exist");
    }
    return PermissionDenied("cannot open key-encryption key file " + path +
                            ": " + ErrnoText());
  }
  // fstat on the open descriptor: the mode checked is the file read.
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return PermissionDenied("key-encryption key file " + path +
                            " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return PermissionDenied("key-encryption key file " + path + " has mode " +
                            Octal(st.st_mode) +
                            ": group and others must have no access (chmod "
                            "600 " +
                            path + ")");
  }
  std::string text(256, '\0');
  size_t used = 0;
  while (used < text.size()) {
    const ssize_t n = ::read(fd, text.data() + used, text.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return Unavailable("reading " + path + ": " + ErrnoText());
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  ::close(fd);
  text.resize(used);
  auto kek = ParseKekHex(text);
  std::fill(text.begin(), text.end(), '\0');
  if (!kek) {
    return InvalidArgument(path + ": " + kek.error().message);
  }
  return kek;
}

Status WriteKekFile(const std::string& path, const KeyEncryptionKey& kek) {
  std::string text = KekHex(kek) + "\n";
  Status written =
      WriteFileDurably(path, AsBytes(text), {.mode = 0600, .replace = false});
  std::fill(text.begin(), text.end(), '\0');
  if (!written && written.error().code == ErrorCode::kAlreadyExists) {
    return MakeError(ErrorCode::kAlreadyExists,
                     "key-encryption key file " + path + " already exists");
  }
  return written;
}

Result<std::optional<KeyEncryptionKey>> KekFromEnvironment(
    const char* variable) {
  const char* value = std::getenv(variable);
  if (value == nullptr || *value == '\0') return std::nullopt;
  auto kek = ParseKekHex(value);
  if (!kek) {
    return InvalidArgument(std::string(variable) + ": " + kek.error().message);
  }
  return std::optional<KeyEncryptionKey>(std::move(*kek));
}

}  // namespace cls::coordinator
