// cls-coordinator: runs federated training rounds with secure aggregation.
#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <filesystem>
#include <iostream>

#include "common/large_buffers.h"
#include "common/logging.h"
#include "common/metrics_server.h"
#include "common/version.h"
#include "coordinator/admin/admin_api.h"
#include "coordinator/admin/admin_server.h"
#include "coordinator/config.h"
#include "coordinator/federation.h"
#include "coordinator/hangup.h"
#include "coordinator/metrics_refresh.h"
#include "coordinator/monitoring/coordinator_metrics.h"
#include "coordinator/site_server.h"
#include "coordinator/stop.h"
#include "coordinator/storage/restore.h"
#include "coordinator/storage/store.h"

namespace {

constexpr const char* kDescription =
    R"(cls-coordinator - the coordinator of a clinical federated learning consortium.

Runs federated training rounds over mutual TLS 1.3: site agents connect with
their site certificates, train on their own data and send only masked,
quantized parameter deltas; the coordinator learns only their weighted sum
(secure aggregation), updates the global model and records every round, model
version and operator action in its SQLite database (data_dir/coordinator.db).

Operators drive it with clsctl over the admin API (admin_listen):
  clsctl sites list                 see which sites have connected
  clsctl sites approve HOSP_001     let a site join rounds
  clsctl round start --rounds 10    run training rounds

A round in flight when the coordinator stops is aborted at the next start;
the next round continues from the last committed global model.

Backups ([backup] dir): `clsctl backup` or every [backup] interval_s; restore
with the coordinator stopped: cls-coordinator -c FILE --restore BACKUP.db
(docs/operations.md "Backup and restore"; the KEK is backed up separately).)";

constexpr const char* kExample = R"(
Example configuration (TOML):
  coordinator_id = "coordinator"
  data_dir = "./coordinator-state"
  listen = "0.0.0.0:7443"          # site agents connect here
  admin_listen = "127.0.0.1:7444"  # clsctl connects here
  min_sites = 3
  [tls]
  ca = "pki/ca.pem"
  cert = "pki/issued/coordinator.pem"
  key = "pki/issued/coordinator.key"
  crl = "pki/ca-crl.pem"
  [model]
  type = "diagnosis_predictor"     # the original guide's ModelType
  kind = "logistic_regression"
  parameters = 23                  # features + 1 (bias)
  standardisation = "federation"   # secure statistics round first, or "site"
  [round]
  stage_timeout_s = 30
  clip = 1.0                       # L2 bound of each site's delta (before weighting)
  value_bits = 16
  server_optimizer = "fedavg"      # or "fedavgm", "fedadam"
  [training]
  epochs = 5
  batch_size = 32
  learning_rate = 0.1
  l2 = 0.0001
  proximal_mu = 0.0                # FedProx mu; 0 = FedAvg
  [versions]
  kek_file = "model.kek"           # 0600; default data_dir/model.kek, created
                                   # on first start; CLS_MODEL_KEK (64 hex
                                   # digits) in the environment overrides it
  [backup]
  dir = "/var/backups/cls"         # outside data_dir; unset = no backups
  interval_s = 86400               # 0 = only `clsctl backup`
  keep = 7
See docs/operations.md for every option, docs/versions.md for the keys.)";

}  // namespace

int main(int argc, char** argv) {
  using namespace cls::coordinator;
  cls::KeepLargeBuffersInTheHeap();
  CLI::App app{kDescription, "cls-coordinator"};
  app.footer(kExample);
  app.set_version_flag("--version", cls::VersionLine("cls-coordinator"));
  std::string config_path;
  std::string log_level;
  bool check_only = false;
  std::string restore_file;
  bool force = false;
  app.add_option("-c,--config", config_path, "Configuration file (TOML)")
      ->required();
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn or error (overrides the config)");
  app.add_flag("--check-config", check_only,
               "Validate the configuration and exit");
  app.add_option("--restore", restore_file,
                 "With the coordinator stopped: check a backup (its .sha256 "
                 "file, integrity, audit log) and copy it into data_dir, then "
                 "exit");
  app.add_flag("--force", force,
               "With --restore: move an existing database aside "
               "(*.replaced-<time>) instead of refusing; nothing is deleted");
  CLI11_PARSE(app, argc, argv);

  (void)cls::ConfigureLogging("coordinator", cls::LogSettings{});  // stderr

  // The database holds the registry, models and audit log: owner-only.
  ::umask(077);
  if (!log_level.empty() &&
      spdlog::level::from_str(log_level) == spdlog::level::off &&
      log_level != "off") {
    std::cerr << "cls-coordinator: --log-level must be trace, debug, info, "
                 "warn or error\n";
    return 2;
  }
  auto config = LoadCoordinatorConfig(config_path);
  if (!config) {
    std::cerr << "cls-coordinator: " << config.error().message << "\n";
    return 2;
  }
  if (auto s = cls::ConfigureLogging("coordinator", config->log); !s) {
    std::cerr << "cls-coordinator: " << s.error().message << "\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(
      log_level.empty() ? config->log_level : log_level));
  auto server_tls = cls::crypto::MakeServerTlsContext(config->tls);
  if (!server_tls) {
    std::cerr << "cls-coordinator: " << server_tls.error().message << "\n";
    return 2;
  }
  if (!restore_file.empty()) {
    auto restored = RestoreBackup(restore_file, *config, force);
    if (!restored) {
      std::cerr << "cls-coordinator: " << restored.error().message << "\n";
      return 2;
    }
    std::cout << *restored;
    return 0;
  }
  if (force) {
    std::cerr << "cls-coordinator: --force is only for --restore\n";
    return 2;
  }
  auto crl_next_update = cls::crypto::CrlNextUpdate(config->tls.crl_file);
  if (!crl_next_update) {
    std::cerr << "cls-coordinator: " << crl_next_update.error().message << "\n";
    return 2;
  }
  if (check_only) {
    std::cout << "configuration OK: " << config_path << "\n";
    return 0;
  }
  std::error_code ec;
  std::filesystem::create_directories(config->data_dir, ec);
  if (ec) {
    std::cerr << "cls-coordinator: cannot create data_dir " << config->data_dir
              << ": " << ec.message() << "\n";
    return 2;
  }
  auto store = CoordinatorStore::Open(config->data_dir + "/coordinator.db");
  if (!store) {
    std::cerr << "cls-coordinator: " << store.error().message << "\n";
    return 2;
  }

  // After `--restore`: the restored audit log must verify before anything
  // is appended to it.
  if (auto s = FinishRestoreAtStart(**store, *config); !s) {
    std::cerr << "cls-coordinator: " << s.error().message << "\n";
    return 2;
  }

  // Model artifacts are encrypted at rest: load the key-encryption key (and
  // finish an interrupted rotation) before any version is read.
  std::vector<std::string> key_notes;
  auto model_keys =
      cls::coordinator::ModelKeys::Open(config->versions, **store, &key_notes);
  if (!model_keys) {
    std::cerr << "cls-coordinator: " << model_keys.error().message << "\n";
    return 2;
  }
  for (const auto& note : key_notes) spdlog::info("model keys: {}", note);

  CoordinatorReadiness readiness;
  readiness.SetDatabaseOpen(true);
  readiness.SetTlsLoaded(true);
  readiness.SetCrlNextUpdate(*crl_next_update);

  boost::asio::io_context io(1);
  // Heavy work (robust aggregation and DP noise at finalization) leaves the
  // io thread for these threads; joined below before the federation goes.
  auto workers = std::make_unique<cls::WorkerPool>();
  cls::metrics::Registry registry;
  CoordinatorMetrics metrics(registry);
  Federation federation(io, *config, **store, workers.get());
  federation.SetMetrics(&metrics);
  if (auto s = federation.Initialize(); !s) {
    std::cerr << "cls-coordinator: " << s.error().message << "\n";
    return 2;
  }
  MetricsRefresh metrics_refresh(io, federation, metrics);
  metrics_refresh.Start();
  // Signed audit checkpoints and retention (docs/audit.md).
  // Every signed checkpoint also goes to the sites, who keep the latest.
  (*store)->audit_log().OnCheckpoint([&federation](
                                         const cls::audit::AuditCheckpoint& c) {
    federation.PublishAuditCheckpoint(cls::audit::CheckpointToJson(c).dump());
  });
  if (auto s = ConfigureAuditLog((*store)->audit_log(), *config); !s) {
    std::cerr << "cls-coordinator: " << s.error().message << "\n";
    return 2;
  }
  if (auto checkpoints = (*store)->audit_log().Checkpoints();
      checkpoints && !checkpoints->empty()) {
    federation.PublishAuditCheckpoint(
        cls::audit::CheckpointToJson(checkpoints->back()).dump());
  }
  SiteServer sites(
      io, *server_tls, federation,
      {config->max_site_connections, config->max_connections_per_site});
  AdminApi api(federation.admin_services());
  api.SetModelKeys(model_keys->get());
  AdminServer admin(io.get_executor(), *server_tls, api);
  auto site_port = sites.Listen(config->listen_host, config->listen_port);
  if (!site_port) {
    std::cerr << "cls-coordinator: " << site_port.error().message << "\n";
    return 2;
  }
  auto admin_port = admin.Listen(config->admin_host, config->admin_port);
  if (!admin_port) {
    std::cerr << "cls-coordinator: " << admin_port.error().message << "\n";
    return 2;
  }
  cls::metrics::MetricsServer monitoring(
      registry, [&readiness] { return readiness.Reason(std::time(nullptr)); });
  std::string monitoring_text = "off";
  if (config->metrics_enabled) {
    auto port = monitoring.Listen(config->metrics_host, config->metrics_port,
                                  "metrics_listen");
    if (!port) {
      std::cerr << "cls-coordinator: " << port.error().message << "\n";
      return 2;
    }
    monitoring_text = config->metrics_host + ":" + std::to_string(*port);
  }
  spdlog::info(
      "coordinator {} ({}) listening: sites on {}:{}, admin API on {}:{}, "
      "metrics on {}",
      config->coordinator_id, cls::VersionString(), config->listen_host,
      *site_port, config->admin_host, *admin_port, monitoring_text);

  // SIGTERM/SIGINT (systemctl stop): the running round is aborted cleanly,
  // or let commit if it is finalizing; a second signal stops at once
  // (stop.h).
  GracefulStop graceful(io, federation, [&io] { io.stop(); });
  boost::asio::signal_set stop_signals(io, SIGINT, SIGTERM);
  bool stopping = false;
  std::function<void()> wait_for_stop = [&] {
    stop_signals.async_wait(
        [&](const boost::system::error_code& ec, int signal) {
          if (ec) return;
          if (stopping) {
            graceful.StopNow(signal);
          } else {
            stopping = true;
            graceful.Begin(signal);
          }
          wait_for_stop();
        });
  };
  wait_for_stop();
  // SIGHUP (systemctl reload): logs, CRL, revoked sites; see hangup.h.
  boost::asio::signal_set hangup(io, SIGHUP);
  std::function<void()> wait_for_hangup = [&] {
    hangup.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      ReloadOnHangup(federation, **store, **server_tls, *config, readiness);
      wait_for_hangup();
    });
  };
  wait_for_hangup();
  io.run();
  // A backup still copying stops at its next step (its .tmp is removed).
  if (auto* backup = federation.backup()) backup->Stop();
  // A finalization still running commits nothing (its round is aborted at
  // the next start); its completion is dropped with the pool.
  workers.reset();
  spdlog::info("stopped");
  return 0;
}
