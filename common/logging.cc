#include "common/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>

namespace cls {
namespace {

// The message, escaped for a JSON string (`%*` in the json pattern).
class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    static constexpr char kHex[] = "0123456789abcdef";
    for (char c : msg.payload) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        dest.push_back('\\');
        dest.push_back(c);
      } else if (c == '\n') {
        dest.append(std::string_view("\\n"));
      } else if (u < 0x20) {
        const char escaped[] = {'\\', 'u',          '0',
                                '0',  kHex[u >> 4], kHex[u & 15]};
        dest.append(escaped, escaped + sizeof escaped);
      } else {
        dest.push_back(c);
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};

// A size-rotated file that SIGHUP can reopen: the rotating sink inside is
// replaced under the sink's own lock, so no message is lost or written to
// a closed file meanwhile.
class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  static Result<std::shared_ptr<ReopenableFileSink>> Open(
      const LogSettings& settings) {
    auto sink =
        std::shared_ptr<ReopenableFileSink>(new ReopenableFileSink(settings));
    if (auto s = sink->Reopen(); !s) return std::unexpected(s.error());
    return sink;
  }

  Status Reopen() {
    std::lock_guard lock(mutex_);
    try {
      inner_ = std::make_unique<spdlog::sinks::rotating_file_sink_st>(
          settings_.file,
          static_cast<size_t>(settings_.max_size_mb) * 1024 * 1024,
          static_cast<size_t>(settings_.max_files));
      if (formatter_) inner_->set_formatter(formatter_->clone());
    } catch (const spdlog::spdlog_ex& e) {
      return Unavailable("log_file '" + settings_.file +
                         "' cannot be opened for writing: " + e.what());
    }
    return {};
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    // The inner sink formats with the pattern set on it (set_formatter_).
    if (inner_) inner_->log(msg);
  }
  void flush_() override {
    if (inner_) inner_->flush();
  }
  void set_pattern_(const std::string& pattern) override {
    set_formatter_(std::make_unique<spdlog::pattern_formatter>(pattern));
  }
  void set_formatter_(std::unique_ptr<spdlog::formatter> formatter) override {
    formatter_ = std::move(formatter);
    if (inner_) inner_->set_formatter(formatter_->clone());
  }

 private:
  explicit ReopenableFileSink(LogSettings settings)
      : settings_(std::move(settings)) {}

  LogSettings settings_;
  std::unique_ptr<spdlog::sinks::rotating_file_sink_st> inner_;
};

std::mutex g_file_sink_mutex;
std::shared_ptr<ReopenableFileSink> g_file_sink;  // null: stderr

std::unique_ptr<spdlog::formatter> MakeFormatter(const LogSettings& settings) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>(
      spdlog::pattern_time_type::utc);
  if (settings.format == "json") {
    formatter->add_flag<JsonEscapedMessage>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","logger":"%n","message":"%*"})");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l [%n] %v");
  }
  return formatter;
}

}  // namespace

Status ReadLogSettings(const TomlTable& root, const std::filesystem::path& base,
                       LogSettings& out) {
  CLS_RETURN_IF_ERROR(root.Read("log_format", out.format));
  if (out.format != "text" && out.format != "json") {
    return root.Invalid(root.Name("log_format") + " is '" + out.format +
                        "'; allowed values: text, json");
  }
  CLS_RETURN_IF_ERROR(root.Read("log_file", out.file));
  if (!out.file.empty() && std::filesystem::path(out.file).is_relative()) {
    out.file = (base / out.file).lexically_normal().string();
  }
  auto size = root.Integer("log_max_size_mb", 1, 100000);
  if (!size) return std::unexpected(size.error());
  if (*size) out.max_size_mb = static_cast<int>(**size);
  auto files = root.Integer("log_max_files", 1, 1000);
  if (!files) return std::unexpected(files.error());
  if (*files) out.max_files = static_cast<int>(**files);
  return {};
}

Status ConfigureLogging(const std::string& logger_name,
                        const LogSettings& settings) {
  spdlog::sink_ptr sink;
  std::shared_ptr<ReopenableFileSink> file_sink;
  if (settings.file.empty()) {
    sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  } else {
    auto opened = ReopenableFileSink::Open(settings);
    if (!opened) return std::unexpected(opened.error());
    file_sink = *opened;
    sink = file_sink;
  }
  sink->set_formatter(MakeFormatter(settings));
  auto logger = std::make_shared<spdlog::logger>(logger_name, sink);
  // Every line reaches the file at once: nothing lost on a crash, and a
  // tail -f or log shipper sees it live. Daemon logs are a few lines a
  // second at info.
  logger->flush_on(spdlog::level::trace);
  if (auto previous = spdlog::default_logger()) {
    logger->set_level(previous->level());
  }
  spdlog::set_default_logger(logger);
  std::lock_guard lock(g_file_sink_mutex);
  g_file_sink = std::move(file_sink);
  return {};
}

Status ReopenLogs() {
  std::lock_guard lock(g_file_sink_mutex);
  if (!g_file_sink) return {};
  return g_file_sink->Reopen();
}

}  // namespace cls
