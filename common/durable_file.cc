#include "common/durable_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace cls {
namespace {

namespace fs = std::filesystem;

Status Errno(const std::string& what, const fs::path& path) {
  return Unavailable(what + " " + path.string() + ": " + std::strerror(errno));
}

int Rename(const FileSystemCalls* calls, const char* from, const char* to) {
  return calls && calls->rename ? calls->rename(from, to) : ::rename(from, to);
}

int Fsync(const FileSystemCalls* calls, int fd) {
  return calls && calls->fsync ? calls->fsync(fd) : ::fsync(fd);
}

Status WriteAll(int fd, ByteSpan data, const fs::path& path) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write", path);
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

fs::path FolderOf(const fs::path& path) {
  return path.has_parent_path() ? path.parent_path() : fs::path(".");
}

Status SyncFolder(const fs::path& folder, const FileSystemCalls* calls) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open folder", folder);
  const int rc = Fsync(calls, fd);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  if (rc != 0) return Errno("fsync", folder);
  return {};
}

Status CreateFolders(const fs::path& folder) {
  std::error_code ec;
  if (folder.empty() || fs::exists(folder, ec)) return {};
  if (auto s = CreateFolders(folder.parent_path()); !s) return s;
  // Each folder created is the owner's only, whatever the umask.
  if (::mkdir(folder.c_str(), 0700) != 0 && errno != EEXIST) {
    return Errno("create directory", folder);
  }
  if (::chmod(folder.c_str(), 0700) != 0) return Errno("chmod 0700", folder);
  return {};
}

}  // namespace

Status WriteFileDurably(const fs::path& path, ByteSpan data,
                        const DurableWriteOptions& options) {
  const fs::path folder = FolderOf(path);
  if (options.create_folders) {
    if (auto s = CreateFolders(folder); !s) return s;
  }
  if (!options.replace && ::access(path.c_str(), F_OK) == 0) {
    return MakeError(ErrorCode::kAlreadyExists,
                     path.string() + " already exists");
  }
  const fs::path temp = path.string() + ".tmp";
  // O_NOFOLLOW: a link planted at the temporary name is not followed.
  const int fd = ::open(temp.c_str(),
                        O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                        options.mode);
  if (fd < 0) return Errno("open", temp);
  // O_CREAT's mode is masked by the umask, and a stale temporary file keeps
  // its old mode: set it explicitly.
  Status written =
      ::fchmod(fd, options.mode) == 0 ? Status{} : Errno("chmod", temp);
  if (written) written = WriteAll(fd, data, temp);
  if (written && Fsync(options.calls, fd) != 0) written = Errno("fsync", temp);
  if (::close(fd) != 0 && written) written = Errno("close", temp);
  if (!written) {
    ::unlink(temp.c_str());
    return written;
  }
  if (options.replace) {
    if (Rename(options.calls, temp.c_str(), path.c_str()) != 0) {
      Status failed = Errno("rename " + temp.string() + " to", path);
      ::unlink(temp.c_str());
      return failed;
    }
  } else {
    // link(2) fails with EEXIST rather than replace: no window in which a
    // file created meanwhile is overwritten.
    if (::link(temp.c_str(), path.c_str()) != 0) {
      const bool exists = errno == EEXIST;
      Status failed = Errno("link " + temp.string() + " to", path);
      ::unlink(temp.c_str());
      if (exists) {
        return MakeError(ErrorCode::kAlreadyExists,
                         path.string() + " already exists");
      }
      return failed;
    }
    ::unlink(temp.c_str());
  }
  // The new name is durable only once the folder entry is.
  return SyncFolder(folder, options.calls);
}

Status RenameDurably(const fs::path& from, const fs::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return Errno("rename " + from.string() + " to", to);
  }
  return SyncFolderOf(to);
}

Status RemoveDurably(const fs::path& path) {
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return {};
    return Errno("remove", path);
  }
  return SyncFolderOf(path);
}

Status SyncFolderOf(const fs::path& path) {
  return SyncFolder(FolderOf(path), nullptr);
}

}  // namespace cls
