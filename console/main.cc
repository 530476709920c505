// clsctl: the operator console for the coordinator's admin API.

#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>
#include <memory>
#include <string>

#include "console/admin_client.h"
#include "console/commands.h"

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
  3  refused by the coordinator (HTTP 4xx); its message is printed
  4  coordinator error (HTTP 5xx or malformed response))";

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
  CLI::App* sites = app.add_subcommand("sites", "List and approve sites");
  sites->require_subcommand(1);

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

  cls::console::GlobalOptions globals;
  AddGlobalOptions(app, globals);
  Action action;
  AddStatusCommand(app, action);
  AddSitesCommands(app, action);
  AddRoundCommands(app, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; every parse error is a usage error.
    return app.exit(e) == 0 ? 0 : static_cast<int>(ExitCode::kUsage);
  }
  if (!action) return Fail(ExitCode::kUsage, "no command given; see --help");

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
