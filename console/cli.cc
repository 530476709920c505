// clsctl's command line: options, subcommands, and the run of one command.

#include "console/cli.h"

#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <string>

#include "common/version.h"
#include "console/admin_client.h"
#include "console/audit_commands.h"
#include "console/backup_commands.h"
#include "console/cli_config.h"
#include "console/commands.h"
#include "console/completion.h"
#include "console/dashboard_commands.h"
#include "console/deployment_commands.h"
#include "console/federation_commands.h"
#include "console/operator_commands.h"
#include "console/privacy_commands.h"
#include "console/render.h"
#include "console/version_commands.h"

namespace cls::console {

const char* const kExitCodes = R"(Exit codes:
  0  success
  1  usage error (bad arguments, missing or unreadable certificate files,
     a bad config file or unknown --context)
  2  cannot reach the coordinator, or TLS failure
  3  refused by the coordinator (another HTTP 4xx); its message is printed;
     also a command this coordinator does not support yet
  4  coordinator error (HTTP 5xx or malformed response)
  5  audit verify found tampering (each problem is listed)
  6  permission denied (HTTP 403): your role lacks the permission
  7  not found (HTTP 404): no such site, version, ...
  8  conflict (HTTP 409): not possible now, e.g. no round is running
  9  round start --wait: at least one of the rounds aborted
With --json, an error is also printed on stdout as
{"error": {"code", "http_status", "message"}} (http_status 0: no answer).)";

namespace {

using cls::console::CommandContext;
using cls::console::CommandResult;
using cls::console::ExitCode;

void AddGlobalOptions(CLI::App& app, CliState& state) {
  cls::console::GlobalOptions& options = state.globals;
  state.coordinator_option =
      app.add_option("--coordinator", options.coordinator,
                     "Admin API address, HOST:PORT")
          ->type_name("HOST:PORT")
          ->envname("CLS_ADMIN")
          ->capture_default_str();
  state.ca_option =
      app.add_option("--ca", options.ca_file, "Project CA certificate (PEM)")
          ->type_name("FILE")
          ->envname("CLS_CA");
  state.cert_option =
      app.add_option("--cert", options.cert_file, "Operator certificate (PEM)")
          ->type_name("FILE")
          ->envname("CLS_CERT");
  state.key_option =
      app.add_option("--key", options.key_file, "Operator private key (PEM)")
          ->type_name("FILE")
          ->envname("CLS_KEY");
  app.add_option("--config", state.config_file,
                 "clsctl config file with named contexts (default: "
                 "$XDG_CONFIG_HOME/clsctl/config.toml or "
                 "~/.config/clsctl/config.toml)")
      ->type_name("FILE");
  app.add_option("--context", state.context,
                 "Context of the config file to use (default: its "
                 "current_context); flags and CLS_* variables override it")
      ->type_name("NAME");
  app.add_flag("--json", options.json,
               "Print the coordinator's JSON instead of tables")
      ->envname("CLS_JSON");
  app.add_option("--timeout", options.timeout_seconds,
                 "Seconds allowed for each request to the coordinator")
      ->type_name("SECONDS")
      ->envname("CLS_TIMEOUT")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
}

void AddSiteAdminCommands(CLI::App& sites, Action& action);

void AddStatusCommand(CLI::App& app, Action& action) {
  app.add_subcommand("status",
                     "Show the coordinator: model version, sites, round")
      ->callback([&action] {
        action = [](CommandContext& ctx) {
          return cls::console::RunStatus(ctx);
        };
      });
}

void AddSitesCommands(CLI::App& app, Action& action) {
  CLI::App* sites = app.add_subcommand(
      "sites", "List, show, approve, revoke and trust sites");
  sites->require_subcommand(1);
  AddSiteAdminCommands(*sites, action);

  sites->add_subcommand("list", "List registered sites and their state")
      ->callback([&action] {
        action = [](CommandContext& ctx) {
          return cls::console::RunSitesList(ctx);
        };
      });

  CLI::App* approve = sites->add_subcommand(
      "approve", "Approve a pending site so it can join rounds");
  auto site_id = std::make_shared<std::string>();
  approve->add_option("SITE_ID", *site_id, "The site to approve")->required();
  approve->callback([&action, site_id] {
    action = [site_id](CommandContext& ctx) {
      return cls::console::RunSitesApprove(ctx, *site_id);
    };
  });
}

void AddRoundCommands(CLI::App& app, Action& action) {
  CLI::App* round = app.add_subcommand("round", "Start and follow rounds");
  round->require_subcommand(1);

  CLI::App* start =
      round->add_subcommand("start", "Queue federated training rounds");
  auto start_options = std::make_shared<cls::console::RoundStartOptions>();
  start->add_option("--rounds", start_options->rounds, "How many rounds")
      ->type_name("N")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  start->add_flag("--wait", start_options->wait,
                  "Follow the rounds until they finish, then show them; exit "
                  "9 when any of them aborted");
  start->callback([&action, start_options] {
    action = [start_options](CommandContext& ctx) {
      return cls::console::RunRoundStart(ctx, *start_options);
    };
  });

  round->add_subcommand("status", "Show the running round")
      ->callback([&action] {
        action = [](CommandContext& ctx) {
          return cls::console::RunRoundStatus(ctx);
        };
      });

  round
      ->add_subcommand("abort",
                       "Abort the running round (audited; the sites are "
                       "told, nothing is committed or charged; queued "
                       "rounds still run)")
      ->callback([&action] {
        action = [](CommandContext& ctx) {
          return cls::console::RunRoundAbort(ctx);
        };
      });
  CLI::App* queue =
      round->add_subcommand("queue", "The rounds requested but not started");
  queue->require_subcommand(1);
  queue
      ->add_subcommand("clear",
                       "Drop the queued rounds (audited); a running round "
                       "goes on")
      ->callback([&action] {
        action = [](CommandContext& ctx) {
          return cls::console::RunRoundQueueClear(ctx);
        };
      });

  CLI::App* history =
      round->add_subcommand("history", "Show finished and aborted rounds");
  auto limit = std::make_shared<std::int64_t>(20);
  history->add_option("--limit", *limit, "How many recent rounds")
      ->type_name("N")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  history->callback([&action, limit] {
    action = [limit](CommandContext& ctx) {
      return cls::console::RunRoundHistory(ctx, *limit);
    };
  });
}

void AddSiteAdminCommands(CLI::App& sites, Action& action) {
  {
    auto id = std::make_shared<std::string>();
    auto trust = std::make_shared<double>(1.0);
    CLI::App* reinstate = sites.add_subcommand(
        "reinstate",
        "Lift a trust quarantine: clear the site's evidence and let it join "
        "rounds again (audited)");
    reinstate->add_option("SITE_ID", *id, "The quarantined site")->required();
    reinstate->add_option("--trust", *trust, "The operator's trust score, 0..1")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    reinstate->callback([&action, id, trust] {
      action = [id, trust](CommandContext& ctx) {
        return cls::console::RunGeneric(
            ctx,
            {cls::console::HttpMethod::kPost,
             "/v1/sites/" + cls::console::EscapePathSegment(*id) + "/reinstate",
             nlohmann::json{{"trust_score", *trust}}});
      };
    });
  }
  auto site_id = std::make_shared<std::string>();
  CLI::App* show = sites.add_subcommand("show", "Show one site");
  show->add_option("SITE_ID", *site_id, "The site")->required();
  show->callback([&action, site_id] {
    action = [site_id](CommandContext& ctx) {
      return cls::console::RunSitesShow(ctx, *site_id);
    };
  });

  auto reason = std::make_shared<std::string>();
  CLI::App* revoke = sites.add_subcommand(
      "revoke",
      "Bar a site from the federation (it is disconnected now and refused "
      "from then on; also revoke its certificate with cls-pki revoke)");
  revoke->add_option("SITE_ID", *site_id, "The site to revoke")->required();
  revoke->add_option("--reason", *reason, "Why (recorded in the audit log)");
  revoke->callback([&action, site_id, reason] {
    action = [site_id, reason](CommandContext& ctx) {
      return cls::console::RunSitesRevoke(ctx, *site_id, *reason);
    };
  });

  auto score = std::make_shared<double>(1.0);
  CLI::App* trust =
      sites.add_subcommand("trust", "Set a site's trust score (0 to 1)");
  trust->add_option("SITE_ID", *site_id, "The site")->required();
  trust->add_option("SCORE", *score, "Trust score, 0 to 1")
      ->required()
      ->check(CLI::Range(0.0, 1.0));
  trust->callback([&action, site_id, score] {
    action = [site_id, score](CommandContext& ctx) {
      return cls::console::RunSitesTrust(ctx, *site_id, *score);
    };
  });
}

void AddVersionCommands(CLI::App& app, Action& action) {
  using cls::console::GenericCommand;
  using cls::console::HttpMethod;
  CLI::App* versions = app.add_subcommand(
      "versions", "Model versions: list, show, deploy, roll out, roll back");
  versions->require_subcommand(1);
  auto list_limit = std::make_shared<std::int64_t>(0);
  CLI::App* list = versions->add_subcommand(
      "list",
      "List model versions, newest first, with their metrics (accuracy, "
      "precision, recall, F1, binned AUC, training samples)");
  list->add_option("--limit", *list_limit, "Newest N versions only")
      ->check(CLI::Range(1, 100000));
  list->callback([&action, list_limit] {
    action = [list_limit](CommandContext& ctx) {
      return cls::console::RunVersionsList(ctx, *list_limit);
    };
  });

  auto id = std::make_shared<std::string>();
  CLI::App* show = versions->add_subcommand(
      "show",
      "Show one version: metrics, lineage (parent, rounds, contributing "
      "sites, privacy spend), hash and the id of the key wrapping it");
  show->add_option("VERSION_ID", *id, "e.g. v7_20261127_061644")->required();
  show->callback([&action, id] {
    action = [id](CommandContext& ctx) {
      return cls::console::RunVersionsShow(ctx, *id);
    };
  });

  // deploy, rollout, promote, rollback, compare, deployment.
  cls::console::AddDeploymentCommands(*versions, action);
  cls::console::AddVersionImportCommand(*versions, action);
}

void AddDriftPrivacyKeysCommands(CLI::App& app, CliState& state) {
  Action& action = state.action;
  using cls::console::GenericCommand;
  using cls::console::HttpMethod;
  CLI::App* drift = app.add_subcommand("drift", "Drift detection at the sites");
  drift->require_subcommand(1);
  cls::console::AddDriftCommands(*drift, action);

  CLI::App* privacy =
      app.add_subcommand("privacy", "Differential-privacy budget");
  privacy->require_subcommand(1);
  auto history = std::make_shared<std::int64_t>(20);
  CLI::App* privacy_status = privacy->add_subcommand(
      "status", "Privacy budget spent and left, with the per-round history");
  privacy_status->add_option("--limit", *history, "Rounds of history to show")
      ->type_name("N")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  privacy_status->callback([&action, history] {
    action = [history](CommandContext& ctx) {
      return cls::console::RunPrivacyStatus(ctx, *history);
    };
  });

  auto calc = std::make_shared<cls::console::PrivacyEpsilonOptions>();
  CLI::App* epsilon = privacy->add_subcommand(
      "epsilon",
      "Offline calculator: epsilon and the optimal RDP order after T rounds "
      "of the subsampled Gaussian (no coordinator needed)");
  epsilon
      ->add_option("--noise-multiplier", calc->noise_multiplier,
                   "Noise stddev / L2 sensitivity (z)")
      ->type_name("Z")
      ->required();
  epsilon->add_option("--rounds", calc->rounds, "Rounds (T)")
      ->type_name("T")
      ->capture_default_str();
  epsilon
      ->add_option("--sampling-rate", calc->sampling_rate,
                   "Site sampling probability per round (q)")
      ->type_name("Q")
      ->capture_default_str();
  epsilon->add_option("--delta", calc->delta, "Target delta")
      ->type_name("D")
      ->capture_default_str();
  epsilon->callback([&state, calc] {
    Action& action = state.action;
    state.offline = true;
    action = [calc](CommandContext& ctx) {
      return cls::console::RunPrivacyEpsilon(ctx, *calc);
    };
  });

  auto budget = std::make_shared<double>(0);
  auto reason = std::make_shared<std::string>();
  CLI::App* reset = privacy->add_subcommand(
      "reset",
      "Start a new budget period (the only way to reset the spend; audited, "
      "admin only)");
  reset->add_option("--budget", *budget, "Epsilon budget of the new period")
      ->type_name("EPSILON")
      ->required();
  reset->add_option("--reason", *reason, "Why (recorded in the audit log)")
      ->required();
  reset->callback([&action, budget, reason] {
    action = [budget, reason](CommandContext& ctx) {
      return cls::console::RunGeneric(
          ctx,
          {HttpMethod::kPost, "/v1/privacy/reset",
           nlohmann::json{{"budget_epsilon", *budget}, {"reason", *reason}}});
    };
  });

  CLI::App* keys = app.add_subcommand("keys", "Key management");
  keys->require_subcommand(1);
  auto new_key_file = std::make_shared<std::string>();
  CLI::App* rotate = keys->add_subcommand(
      "rotate",
      "Re-wrap every model artifact's data key under a new key-encryption "
      "key, while the coordinator keeps serving (admin role). The new key is "
      "random and replaces [versions] kek_file, or is read from "
      "--new-key-file");
  rotate
      ->add_option("--new-key-file", *new_key_file,
                   "Absolute path ON THE COORDINATOR HOST of a 0600 file "
                   "holding the new key (64 hex digits); required when the "
                   "coordinator's key comes from CLS_MODEL_KEK")
      ->type_name("PATH");
  rotate->callback([&action, new_key_file] {
    action = [new_key_file](CommandContext& ctx) {
      return cls::console::RunKeysRotate(ctx, *new_key_file);
    };
  });
}

void AddAuditCommands(CLI::App& app, CliState& state) {
  Action& action = state.action;
  const cls::console::GlobalOptions& globals = state.globals;
  CLI::App* audit = app.add_subcommand(
      "audit", "Export and verify the tamper-evident audit log");
  audit->require_subcommand(1);

  auto exp = std::make_shared<cls::console::AuditExportOptions>();
  CLI::App* export_cmd = audit->add_subcommand(
      "export", "Write the audit log as JSON (entries and signed checkpoints)");
  export_cmd->add_option("--since", exp->since,
                         "From this UTC time (2026-11-27 or "
                         "2026-11-27T05:16:42Z), inclusive");
  export_cmd->add_option("--until", exp->until,
                         "Up to this UTC time, inclusive");
  export_cmd
      ->add_option("-o,--output", exp->output,
                   "Write to FILE instead of stdout")
      ->type_name("FILE");
  export_cmd->callback([&action, exp] {
    action = [exp](CommandContext& ctx) {
      return cls::console::RunAuditExport(ctx, *exp);
    };
  });

  auto ver = std::make_shared<cls::console::AuditVerifyOptions>();
  CLI::App* verify = audit->add_subcommand(
      "verify",
      "Verify an export FILE offline, or the live log: recompute every hash "
      "and check the coordinator's signed checkpoints (exit 5 on tampering)");
  verify->add_option(
      "FILE", ver->file,
      "An export from `clsctl audit export` (omit: the live log)");
  verify
      ->add_option("--coordinator-cert", ver->coordinator_cert,
                   "Coordinator certificate (default: the one in the export; "
                   "either must chain to --ca)")
      ->type_name("PEM");
  verify
      ->add_option("--checkpoint", ver->checkpoint_files,
                   "Extra signed checkpoint file(s), e.g. a site's copy")
      ->type_name("FILE");
  verify->callback([&state, ver, &globals] {
    Action& action = state.action;
    state.offline = !ver->file.empty();
    action = [ver, &globals](CommandContext& ctx) {
      cls::console::AuditVerifyOptions options = *ver;
      options.ca_file = globals.ca_file;
      return cls::console::RunAuditVerify(ctx, options);
    };
  });
}

void AddClientCommands(CLI::App& app, CliState& state) {
  app.add_subcommand("version",
                     "Show clsctl's version and the coordinator's (exit 2, "
                     "after clsctl's, when it cannot be reached)")
      ->callback([&state] {
        state.version_command = true;
        state.action = [](CommandContext& ctx) {
          return RunVersion(ctx, cls::VersionLine("clsctl"));
        };
      });

  CLI::App* completion =
      app.add_subcommand("completion", "Print a shell completion script");
  completion->require_subcommand(1);
  completion
      ->add_subcommand("bash",
                       "Bash completion: clsctl completion bash > "
                       "/etc/bash_completion.d/clsctl")
      ->callback([&state, &app] {
        state.offline = true;
        state.action = [&app](CommandContext& ctx) -> CommandResult {
          ctx.out << BashCompletion(app);
          return {};
        };
      });

  CLI::App* config = app.add_subcommand("config", "clsctl's config file");
  config->require_subcommand(1);
  config
      ->add_subcommand("contexts",
                       "List the config file's contexts, * marking the "
                       "current one")
      ->callback([&state] {
        state.offline = true;
        state.contexts_command = true;
      });
}

// Prints the error: "clsctl: MESSAGE" on stderr and, with --json, the
// error object on stdout.
int Fail(const CommandError& error, bool json) {
  std::cout << std::flush;
  if (json && !error.json_printed) {
    std::cout << RenderJson(ErrorJson(error)) << std::flush;
  }
  std::cerr << "clsctl: " << error.message << "\n";
  return static_cast<int>(error.exit_code);
}

int Fail(ExitCode code, const std::string& message, bool json) {
  return Fail(CommandError{code, message}, json);
}

int FailWith(const Error& error, ExitCode code, bool json) {
  return Fail(CommandError{code, error.message, ErrorCodeId(error.code)}, json);
}

// Answers every request with the error that kept the client from being
// made, so `version` still prints clsctl's own line.
class FailingApi final : public AdminApi {
 public:
  explicit FailingApi(Error error) : error_(std::move(error)) {}
  Result<AdminResponse> Send(const AdminRequest&) override {
    return std::unexpected(error_);
  }

 private:
  Error error_;
};

// --json anywhere on the command line or CLS_JSON set: for parse errors,
// when the flag itself may not have been parsed.
bool JsonRequested(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--json") return true;
  }
  const char* env = std::getenv("CLS_JSON");
  return env != nullptr && *env != '\0' && std::string(env) != "0" &&
         std::string(env) != "false";
}

int RunAction(CliState& state, AdminApi& api) {
  CommandContext ctx{.api = api,
                     .out = std::cout,
                     .diagnostics = std::cerr,
                     .json = state.globals.json};
  if (auto result = state.action(ctx); !result) {
    return Fail(result.error(), state.globals.json);
  }
  return static_cast<int>(ExitCode::kOk);
}

}  // namespace

void BuildClsctlApp(CLI::App& app, CliState& state) {
  // Set before the subcommands are added: they inherit both.
  app.footer(kExitCodes);
  app.fallthrough();  // global options also after the subcommand
  app.require_subcommand(1);
  app.set_version_flag("--version", cls::VersionLine("clsctl"));

  AddGlobalOptions(app, state);
  Action& action = state.action;
  AddStatusCommand(app, action);
  AddSitesCommands(app, action);
  AddRoundCommands(app, action);
  AddVersionCommands(app, action);
  cls::console::AddFederationCommands(app, action);
  AddDriftPrivacyKeysCommands(app, state);
  AddAuditCommands(app, state);
  app.add_subcommand("backup",
                     "Online backup of the coordinator's database into its "
                     "[backup] dir; prints the file, size and sha256")
      ->callback([&action] { action = RunBackup; });
  AddClientCommands(app, state);
  AddDashboardCommand(app, state);
}

int RunClsctl(int argc, char** argv) {
  CLI::App app{"Operator console for the federated learning coordinator.",
               "clsctl"};
  CliState state;
  BuildClsctlApp(app, state);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; every parse error is a usage error.
    if (app.exit(e) == 0) return 0;
    if (JsonRequested(argc, argv)) {
      std::cout << RenderJson(ErrorJson(CommandError{ExitCode::kUsage, e.what(),
                                                     "invalid_argument"}))
                << std::flush;
    }
    return static_cast<int>(ExitCode::kUsage);
  }
  const bool json = state.globals.json;
  if (!state.action && !state.contexts_command) {
    return Fail(ExitCode::kUsage, "no command given; see --help", json);
  }

  const ExplicitOptions given{
      .coordinator = state.coordinator_option->count() > 0,
      .ca = state.ca_option->count() > 0,
      .cert = state.cert_option->count() > 0,
      .key = state.key_option->count() > 0};
  auto config =
      ResolveClsctlConfig(state.config_file, state.context, given,
                          state.globals, [](const char* name) {
                            return static_cast<const char*>(std::getenv(name));
                          });
  if (!config) return FailWith(config.error(), ExitCode::kUsage, json);
  // Its action needs the config just read.
  if (state.contexts_command) {
    const std::string path =
        state.config_file.empty() ? DefaultConfigPath([](const char* name) {
          return static_cast<const char*>(std::getenv(name));
        })
                                  : state.config_file;
    state.action = [&config, path](CommandContext& ctx) {
      return RunConfigContexts(ctx, *config, path);
    };
  }

  if (state.offline) {
    FailingApi offline(Error{ErrorCode::kInternal,
                             "offline command tried to reach the coordinator"});
    return RunAction(state, offline);
  }
  auto client_config = MakeClientConfig(state.globals);
  if (!client_config) {
    if (state.version_command) {
      FailingApi failing(client_config.error());
      return RunAction(state, failing);
    }
    return FailWith(client_config.error(), ExitCode::kUsage, json);
  }
  auto client = AdminClient::Create(std::move(*client_config));
  if (!client) {
    if (state.version_command) {
      FailingApi failing(client.error());
      return RunAction(state, failing);
    }
    return FailWith(client.error(), ExitCodeFor(client.error()), json);
  }
  return RunAction(state, **client);
}

}  // namespace cls::console
