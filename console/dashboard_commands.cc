#include "console/dashboard_commands.h"

#include <signal.h>

#include <memory>
#include <ostream>
#include <sstream>

#include "console/audit_commands.h"
#include "console/dashboard_server.h"

namespace cls::console {

CommandResult RunDashboard(CommandContext& ctx,
                           const DashboardOptions& options) {
  // Blocked before any thread starts, so every thread inherits the mask
  // and sigwait below is the one place the signals arrive.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  AdminApi& api = ctx.api;
  DashboardServerOptions server_options;
  server_options.listen_host = options.listen_host;
  server_options.port = options.port;
  // The audit page's check: the live log verified here, by clsctl's own
  // chain code, as `clsctl audit verify` does.
  server_options.audit_verify = [&api, ca = options.ca_file] {
    std::ostringstream out, diagnostics;
    CommandContext verify_ctx{
        .api = api, .out = out, .diagnostics = diagnostics, .json = true};
    AuditVerifyOptions verify;
    verify.ca_file = ca;
    auto result = RunAuditVerify(verify_ctx, verify);
    nlohmann::json report =
        nlohmann::json::parse(out.str(), nullptr, /*allow_exceptions=*/false);
    if (!report.is_object()) report = nlohmann::json::object();
    if (!result && !report.contains("error")) {
      report["error"] = ErrorJson(result.error())["error"];
    }
    return report;
  };
  DashboardServer server(api, DashboardAssets(), server_options);
  auto port = server.Start();
  if (!port) {
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
    return std::unexpected(CommandError{ExitCode::kUsage, port.error().message,
                                        ErrorCodeId(port.error().code)});
  }
  ctx.out << "Dashboard: " << server.url() << std::endl;
  ctx.diagnostics << "The link works once, in one browser; anyone who can "
                     "use it acts with your certificate. Ctrl-C stops the "
                     "dashboard."
                  << std::endl;
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  ctx.diagnostics << "dashboard stopped" << std::endl;
  server.Stop();
  pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
  return {};
}

void AddDashboardCommand(CLI::App& app, CliState& state) {
  auto options = std::make_shared<DashboardOptions>();
  CLI::App* dashboard = app.add_subcommand(
      "dashboard",
      "Open the web dashboard: a loopback web server that forwards the "
      "page's requests with your certificate (prints a one-time link; "
      "Ctrl-C stops it)");
  dashboard
      ->add_option("--port", options->port,
                   "Port on the loopback address (0: a free one)")
      ->type_name("N")
      ->capture_default_str();
  dashboard
      ->add_option("--listen-host", options->listen_host,
                   "Loopback address to listen on (127.0.0.1 or ::1; "
                   "anything else is refused)")
      ->type_name("ADDR")
      ->capture_default_str();
  dashboard->callback([&state, options] {
    const GlobalOptions& globals = state.globals;
    state.action = [options, &globals](CommandContext& ctx) {
      DashboardOptions resolved = *options;
      resolved.ca_file = globals.ca_file;
      return RunDashboard(ctx, resolved);
    };
  });
}

}  // namespace cls::console
