#ifndef CLS_COMMON_LOGGING_H_
#define CLS_COMMON_LOGGING_H_

#include <array>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/toml_reader.h"

namespace cls {

// Where and how a daemon logs (both daemons' top-level config keys).
struct LogSettings {
  // "text": `2026-12-07T03:04:05.678Z info message`; "json": one object per
  // line {"time","level","logger","message"} for a log shipper.
  std::string format = "text";
  // "" = stderr (journald takes it when systemd runs the daemon); else a
  // file rotated by size: FILE, FILE.1 ... FILE.<max_files>.
  std::string file;
  int max_size_mb = 100;
  int max_files = 5;
};

inline constexpr std::array<std::string_view, 4> kLogSettingKeys = {
    "log_format", "log_file", "log_max_size_mb", "log_max_files"};

// Reads kLogSettingKeys from a config's root table (the caller lists them
// among its allowed keys); a relative log_file is relative to `base`.
Status ReadLogSettings(const TomlTable& root, const std::filesystem::path& base,
                       LogSettings& out);

// Makes `logger_name` the default logger with `settings`. The file (and its
// folder) must be writable: the error says which path is not.
Status ConfigureLogging(const std::string& logger_name,
                        const LogSettings& settings);

// SIGHUP: closes and reopens the log file, so logrotate's "create" (the
// file moved aside, then the signal) continues in a new file. With
// "copytruncate" nothing is needed: the file is opened for appending.
// Logging to stderr: nothing to do.
Status ReopenLogs();

}  // namespace cls

#endif  // CLS_COMMON_LOGGING_H_
