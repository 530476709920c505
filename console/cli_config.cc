#include "console/cli_config.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/toml_reader.h"
#include "console/render.h"

namespace cls::console {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string Resolve(const fs::path& base, const std::string& p) {
  if (p.empty() || fs::path(p).is_absolute()) return p;
  return (base / p).lexically_normal().string();
}

std::string KnownContexts(const ClsctlConfig& config) {
  if (config.contexts.empty()) return "the file defines none";
  std::string known = "known: ";
  for (size_t i = 0; i < config.contexts.size(); ++i) {
    known += (i ? ", " : "") + config.contexts[i].name;
  }
  return known;
}

}  // namespace

std::string DefaultConfigPath(
    const std::function<const char*(const char*)>& getenv) {
  if (const char* xdg = getenv("XDG_CONFIG_HOME"); xdg && *xdg) {
    return (fs::path(xdg) / "clsctl" / "config.toml").string();
  }
  if (const char* home = getenv("HOME"); home && *home) {
    return (fs::path(home) / ".config" / "clsctl" / "config.toml").string();
  }
  return "";
}

Result<ClsctlConfig> LoadClsctlConfig(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return NotFound("config file '" + path + "' not found");
  }
  auto text = ReadConfigFile(path);
  if (!text) return std::unexpected(text.error());
  auto parsed = ParseToml(*text, path);
  if (!parsed) return std::unexpected(parsed.error());
  const TomlStyle style{.prefix = path + ": ", .detailed = true};
  const TomlTable top(*parsed, "", {"current_context", "contexts"}, style);
  if (auto s = top.CheckKeys(); !s) return std::unexpected(s.error());

  ClsctlConfig config;
  config.path = path;
  if (auto s = top.Read("current_context", config.current_context); !s) {
    return std::unexpected(s.error());
  }
  auto contexts = top.Table("contexts");
  if (!contexts) return std::unexpected(contexts.error());
  const fs::path base = fs::absolute(path).parent_path();
  if (*contexts) {
    for (const auto& [key, node] : **contexts) {
      const std::string name(key.str());
      const toml::table* table = node.as_table();
      if (table == nullptr) {
        return top.WrongType(node, "contexts." + name, "a table");
      }
      const TomlTable t(*table, "contexts." + name,
                        {"coordinator", "ca", "cert", "key"}, style);
      if (auto s = t.CheckKeys(); !s) return std::unexpected(s.error());
      ClsctlContext context{.name = name};
      for (auto [k, out] : {std::pair{"coordinator", &context.coordinator},
                            {"ca", &context.ca_file},
                            {"cert", &context.cert_file},
                            {"key", &context.key_file}}) {
        if (auto s = t.Read(k, *out); !s) return std::unexpected(s.error());
      }
      if (!context.coordinator.empty()) {
        if (auto e = ParseEndpoint(context.coordinator); !e) {
          return InvalidArgument(path + ": 'contexts." + name +
                                 ".coordinator' " + e.error().message);
        }
      }
      for (std::string* file :
           {&context.ca_file, &context.cert_file, &context.key_file}) {
        *file = Resolve(base, *file);
      }
      config.contexts.push_back(std::move(context));
    }
  }
  std::sort(config.contexts.begin(), config.contexts.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  if (!config.current_context.empty()) {
    if (auto s = SelectContext(config, config.current_context); !s) {
      return InvalidArgument(path + ": current_context '" +
                             config.current_context + "' names no [contexts." +
                             config.current_context + "] table (" +
                             KnownContexts(config) + ")");
    }
  }
  return config;
}

Result<const ClsctlContext*> SelectContext(const ClsctlConfig& config,
                                           const std::string& name) {
  const std::string& wanted = name.empty() ? config.current_context : name;
  if (wanted.empty()) return nullptr;
  for (const auto& c : config.contexts) {
    if (c.name == wanted) return &c;
  }
  return NotFound("no context '" + wanted + "' in " + config.path + " (" +
                  KnownContexts(config) + ")");
}

void ApplyContext(const ClsctlContext& context, const ExplicitOptions& given,
                  GlobalOptions& options) {
  if (!given.coordinator && !context.coordinator.empty()) {
    options.coordinator = context.coordinator;
  }
  if (!given.ca && !context.ca_file.empty()) options.ca_file = context.ca_file;
  if (!given.cert && !context.cert_file.empty()) {
    options.cert_file = context.cert_file;
  }
  if (!given.key && !context.key_file.empty()) {
    options.key_file = context.key_file;
  }
}

Result<std::optional<ClsctlConfig>> ResolveClsctlConfig(
    const std::string& config_flag, const std::string& context_flag,
    const ExplicitOptions& given, GlobalOptions& options,
    const std::function<const char*(const char*)>& getenv) {
  const std::string path =
      config_flag.empty() ? DefaultConfigPath(getenv) : config_flag;
  if (path.empty()) {
    if (!context_flag.empty()) {
      return InvalidArgument("--context " + context_flag +
                             ": no config file (HOME is not set; pass "
                             "--config FILE)");
    }
    return std::optional<ClsctlConfig>();
  }
  auto config = LoadClsctlConfig(path);
  if (!config) {
    // No file at the default place: today's behaviour, flags and
    // environment only.
    if (config.error().code == ErrorCode::kNotFound && config_flag.empty() &&
        context_flag.empty()) {
      return std::optional<ClsctlConfig>();
    }
    if (config.error().code == ErrorCode::kNotFound) {
      return InvalidArgument((config_flag.empty()
                                  ? "--context " + context_flag + ": "
                                  : "--config: ") +
                             config.error().message);
    }
    return std::unexpected(config.error());
  }
  auto context = SelectContext(*config, context_flag);
  if (!context) {
    return InvalidArgument((context_flag.empty() ? "" : "--context: ") +
                           context.error().message);
  }
  if (*context) ApplyContext(**context, given, options);
  return std::optional<ClsctlConfig>(std::move(*config));
}

CommandResult RunConfigContexts(CommandContext& ctx,
                                const std::optional<ClsctlConfig>& config,
                                const std::string& path) {
  if (ctx.json) {
    json list = json::array();
    if (config) {
      for (const auto& c : config->contexts) {
        list.push_back({{"name", c.name},
                        {"current", c.name == config->current_context},
                        {"coordinator", c.coordinator},
                        {"ca", c.ca_file},
                        {"cert", c.cert_file},
                        {"key", c.key_file}});
      }
    }
    ctx.out << RenderJson(
        json{{"config_file", path},
             {"exists", config.has_value()},
             {"current_context", config && !config->current_context.empty()
                                     ? json(config->current_context)
                                     : json(nullptr)},
             {"contexts", list}});
    return {};
  }
  if (!config) {
    ctx.out << "no config file at " << (path.empty() ? "(no HOME)" : path)
            << "; see docs/console.md \"Config file\"\n";
    return {};
  }
  ctx.out << "config file: " << config->path << "\n";
  if (config->contexts.empty()) {
    ctx.out << "no contexts\n";
    return {};
  }
  for (const auto& c : config->contexts) {
    ctx.out << (c.name == config->current_context ? "* " : "  ") << c.name
            << "  " << (c.coordinator.empty() ? "-" : c.coordinator) << "\n";
  }
  return {};
}

}  // namespace cls::console
