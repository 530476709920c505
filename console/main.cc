// clsctl: the operator console for the coordinator's admin API.

#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>
#include <memory>
#include <string>

#include "common/version.h"
#include "console/admin_client.h"
#include "console/audit_commands.h"
#include "console/backup_commands.h"
#include "console/commands.h"
#include "console/deployment_commands.h"
#include "console/privacy_commands.h"
#include "console/version_commands.h"

namespace {

using cls::console::CommandContext;
using cls::console::CommandResult;
using cls::console::ExitCode;

// The command chosen on the command line, set by its subcommand's callback.
using Action = std::function<CommandResult(CommandContext&)>;

constexpr const char* kExitCodes = R"(Exit codes:
  0  success
  1  usage error (bad arguments, missing or unreadable certificate files)
  2  cannot reach the coordinator, or TLS failure
  3  refused by the coordinator (HTTP 4xx); its message is printed; also
     a command this coordinator does not support yet
  4  coordinator error (HTTP 5xx or malformed response)
  5  audit verify found tampering (each problem is listed))";

// Set by commands that need no coordinator (audit verify FILE).
bool g_offline = false;

// Answers nothing: an offline command never sends.
class OfflineApi final : public cls::console::AdminApi {
 public:
  cls::Result<cls::console::AdminResponse> Send(
      const cls::console::AdminRequest&) override {
    return cls::Internal("offline command tried to reach the coordinator");
  }
};

void AddGlobalOptions(CLI::App& app, cls::console::GlobalOptions& options) {
  app.add_option("--coordinator", options.coordinator,
                 "Admin API address, HOST:PORT")
      ->type_name("HOST:PORT")
      ->envname("CLS_ADMIN")
      ->capture_default_str();
  app.add_option("--ca", options.ca_file, "Project CA certificate (PEM)")
      ->type_name("FILE")
      ->envname("CLS_CA");
  app.add_option("--cert", options.cert_file, "Operator certificate (PEM)")
      ->type_name("FILE")
      ->envname("CLS_CERT");
  app.add_option("--key", options.key_file, "Operator private key (PEM)")
      ->type_name("FILE")
      ->envname("CLS_KEY");
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
                  "Follow the rounds until they finish, then show them");
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
}

void AddDriftPrivacyKeysCommands(CLI::App& app, Action& action) {
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
  epsilon->callback([&action, calc] {
    g_offline = true;
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

void AddAuditCommands(CLI::App& app, Action& action,
                      const cls::console::GlobalOptions& globals) {
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
  verify->callback([&action, ver, &globals] {
    g_offline = !ver->file.empty();
    action = [ver, &globals](CommandContext& ctx) {
      cls::console::AuditVerifyOptions options = *ver;
      options.ca_file = globals.ca_file;
      return cls::console::RunAuditVerify(ctx, options);
    };
  });
}

int Fail(ExitCode code, const std::string& message) {
  std::cerr << "clsctl: " << message << "\n";
  return static_cast<int>(code);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Operator console for the federated learning coordinator.",
               "clsctl"};
  // Set before the subcommands are added: they inherit both.
  app.footer(kExitCodes);
  app.fallthrough();  // global options also after the subcommand
  app.require_subcommand(1);
  app.set_version_flag("--version", cls::VersionLine("clsctl"));

  cls::console::GlobalOptions globals;
  AddGlobalOptions(app, globals);
  Action action;
  AddStatusCommand(app, action);
  AddSitesCommands(app, action);
  AddRoundCommands(app, action);
  AddVersionCommands(app, action);
  AddDriftPrivacyKeysCommands(app, action);
  AddAuditCommands(app, action, globals);
  app.add_subcommand("backup",
                     "Online backup of the coordinator's database into its "
                     "[backup] dir; prints the file, size and sha256")
      ->callback([&action] { action = cls::console::RunBackup; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; every parse error is a usage error.
    return app.exit(e) == 0 ? 0 : static_cast<int>(ExitCode::kUsage);
  }
  if (!action) return Fail(ExitCode::kUsage, "no command given; see --help");

  if (g_offline) {
    OfflineApi offline;
    CommandContext ctx{.api = offline,
                       .out = std::cout,
                       .diagnostics = std::cerr,
                       .json = globals.json};
    if (auto result = action(ctx); !result) {
      std::cout << std::flush;
      return Fail(result.error().exit_code, result.error().message);
    }
    return static_cast<int>(ExitCode::kOk);
  }
  auto config = cls::console::MakeClientConfig(globals);
  if (!config) return Fail(ExitCode::kUsage, config.error().message);
  auto client = cls::console::AdminClient::Create(std::move(*config));
  if (!client) {
    return Fail(cls::console::ExitCodeFor(client.error()),
                client.error().message);
  }

  CommandContext ctx{.api = **client,
                     .out = std::cout,
                     .diagnostics = std::cerr,
                     .json = globals.json};
  if (auto result = action(ctx); !result) {
    std::cout << std::flush;
    return Fail(result.error().exit_code, result.error().message);
  }
  return static_cast<int>(ExitCode::kOk);
}
