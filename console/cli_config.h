#ifndef CLS_CONSOLE_CLI_CONFIG_H_
#define CLS_CONSOLE_CLI_CONFIG_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "console/commands.h"

// clsctl's own config file (docs/console.md "Config file"): named contexts,
// each a coordinator address and the operator's PKI files, so an operator
// does not need the four CLS_* environment variables.
//
//   current_context = "prod"
//   [contexts.prod]
//   coordinator = "coordinator.example.org:7444"
//   ca = "pki/ca.crt"            # relative to the config file
//   cert = "pki/alice.crt"
//   key = "pki/alice.key"
namespace cls::console {

struct ClsctlContext {
  std::string name{};
  std::string coordinator{};  // "" when the context does not set it
  std::string ca_file{};      // absolute, or "" when not set
  std::string cert_file{};
  std::string key_file{};
};

struct ClsctlConfig {
  std::string path;
  std::string current_context;          // "" when the file names none
  std::vector<ClsctlContext> contexts;  // sorted by name
};

// $XDG_CONFIG_HOME/clsctl/config.toml when XDG_CONFIG_HOME is set and not
// empty, else $HOME/.config/clsctl/config.toml; "" when neither is set.
std::string DefaultConfigPath(
    const std::function<const char*(const char*)>& getenv);

// Reads and checks the file: NotFound when it does not exist;
// InvalidArgument for TOML syntax, an unknown key, a wrong type, or a
// current_context that names no context (each message names the file and
// the key).
Result<ClsctlConfig> LoadClsctlConfig(const std::string& path);

// The context called `name` (or the file's current_context when `name` is
// empty; nullptr when that is empty too). NotFound names the known ones.
Result<const ClsctlContext*> SelectContext(const ClsctlConfig& config,
                                           const std::string& name);

// Which global options came from the command line or the environment
// (those win over the context).
struct ExplicitOptions {
  bool coordinator = false;
  bool ca = false;
  bool cert = false;
  bool key = false;
};

// Fills the options not given explicitly from the context.
void ApplyContext(const ClsctlContext& context, const ExplicitOptions& given,
                  GlobalOptions& options);

// The whole lookup for a command: the file (`config_flag`, else the
// default path; a missing default file means no contexts, a missing
// --config file is an error), then the context (`context_flag`, else the
// file's current_context) applied under the explicit options. Returns the
// config read, if any.
Result<std::optional<ClsctlConfig>> ResolveClsctlConfig(
    const std::string& config_flag, const std::string& context_flag,
    const ExplicitOptions& given, GlobalOptions& options,
    const std::function<const char*(const char*)>& getenv);

// `config contexts`: every context, "*" marking the current one (with
// --json: {"config_file", "current_context", "contexts": [...]}).
CommandResult RunConfigContexts(CommandContext& ctx,
                                const std::optional<ClsctlConfig>& config,
                                const std::string& path);

}  // namespace cls::console

#endif  // CLS_CONSOLE_CLI_CONFIG_H_
