// cls-site-agent: the hospital's federated-learning daemon.

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <optional>

#include "common/large_buffers.h"
#include "common/logging.h"
#include "common/metrics_server.h"
#include "common/version.h"
#include "crypto/tls_context.h"
#include "site-agent/agent.h"
#include "site-agent/config.h"
#include "site-agent/local_model.h"
#include "site-agent/online_ingest.h"
#include "site-agent/round_participant.h"
#include "site-agent/site_serving.h"

namespace {

constexpr size_t kMaxRejectedRowsLogged = 50;

constexpr const char* kDescription =
    "cls-site-agent: the site agent of the clinical federated-learning "
    "consortium.\n\n"
    "It trains a model on this hospital's own CSV file and takes part in the "
    "training rounds run by the consortium coordinator. Patient data never "
    "leaves this machine: the agent sends only a clipped, quantized and masked "
    "model update (secure aggregation), over mutual TLS 1.3, plus aggregate "
    "metrics. No patient value is ever written to the log.\n";

constexpr const char* kFooter =
    "\nState: the latest global model (global_model.bin) and a status summary "
    "(status.json: the federated model's and a local-only model's accuracy "
    "on this site's held-out rows) are kept in data_dir from the config "
    "file.\n\n"
    "Approval: the coordinator refuses a new site until an operator approves "
    "it. Ask the consortium operator to run\n"
    "    clsctl sites approve SITE_ID\n"
    "Meanwhile the agent keeps retrying every few seconds; no restart is "
    "needed.\n\n"
    "Check a configuration and the data without connecting:\n"
    "    cls-site-agent --check-config --config site.toml\n";

void LogDataSummary(const cls::site::LocalModel& model) {
  spdlog::info(
      "data: {} rows accepted, {} rejected; {} features; {} train / "
      "{} test rows",
      model.rows_accepted(), model.rejected().size(), model.num_features(),
      model.num_samples(), model.num_test());
  size_t logged = 0;
  for (const auto& row : model.rejected()) {
    if (logged++ == kMaxRejectedRowsLogged) {
      spdlog::warn("... and {} more rejected rows",
                   model.rejected().size() - kMaxRejectedRowsLogged);
      break;
    }
    // Line number and reason only: the loader never puts values in a reason.
    spdlog::warn("rejected row at line {}: {}", row.line, row.reason);
  }
  spdlog::info(
      "local-only baseline on the test split: accuracy {:.3f}, AUC "
      "{:.3f} ({} rows)",
      model.baseline().accuracy, model.baseline().auc, model.baseline().count);
}

int CheckConfig(const cls::site::AgentConfig& config) {
  bool ok = true;
  std::printf("config:         %s\n", config.config_path.c_str());
  std::printf("site_id:        %s\n", config.site_id.c_str());
  std::printf("coordinator:    %s:%u\n", config.coordinator_host.c_str(),
              static_cast<unsigned>(config.coordinator_port));
  std::printf("data_dir:       %s\n", config.data_dir.c_str());
  if (auto tls = cls::site::CheckTlsIdentity(config); tls) {
    std::printf("tls:            ok (certificate CN matches site_id)\n");
  } else {
    std::printf("tls:            ERROR: %s\n", tls.error().message.c_str());
    ok = false;
  }
#if CLS_BENCH_HOOKS
  if (config.benchmark) {
    std::printf("mode:           benchmark (%llu parameters, no data)\n",
                static_cast<unsigned long long>(config.benchmark->parameters));
    std::printf("%s\n", ok ? "configuration OK" : "configuration has errors");
    return ok ? 0 : 1;
  }
#endif
  {
    std::printf("csv:            %s\n", config.data->csv.c_str());
    auto model = cls::site::LocalModel::Load(*config.data);
    if (!model) {
      std::printf("data:           ERROR: %s\n", model.error().message.c_str());
      ok = false;
    } else {
      std::printf("rows accepted:  %llu\n",
                  static_cast<unsigned long long>(model->rows_accepted()));
      std::printf("rows rejected:  %zu\n", model->rejected().size());
      for (const auto& row : model->rejected()) {
        std::printf("  line %d: %s\n", row.line, row.reason.c_str());
      }
      std::printf("features:       %d (from %zu columns)\n",
                  model->num_features(), config.data->schema.features.size());
      std::printf("positive rate:  %.3f\n", model->positive_rate());
      std::printf("train / test:   %llu / %llu rows\n",
                  static_cast<unsigned long long>(model->num_samples()),
                  static_cast<unsigned long long>(model->num_test()));
      std::printf("local baseline: accuracy %.3f, AUC %.3f on the test split\n",
                  model->baseline().accuracy, model->baseline().auc);
    }
  }
  std::printf("%s\n", ok ? "configuration OK" : "configuration has errors");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  cls::KeepLargeBuffersInTheHeap();
  CLI::App app{kDescription, "cls-site-agent"};
  app.footer(kFooter);
  app.set_version_flag("--version", cls::VersionLine("cls-site-agent"));
  std::string config_path;
  std::string log_level;
  bool check_config = false;
  app.add_option("--config", config_path, "The agent's TOML configuration file")
      ->required()
      ->type_name("FILE");
  app.add_option("--log-level", log_level,
                 "Overrides log_level from the config: trace, debug, info, "
                 "warn, error, critical, off")
      ->type_name("LEVEL")
      ->check([](const std::string& level) {
        return cls::site::IsValidLogLevel(level)
                   ? std::string()
                   : "must be one of " + std::string(cls::site::kLogLevels);
      });
  app.add_flag("--check-config", check_config,
               "Validate the configuration, TLS files and data, print a "
               "summary and exit (0 = OK, 1 = errors); does not connect");
#if CLS_TEST_HOOKS
  // Test builds only (docs/operations.md "Builds and their hooks"):
  // elsewhere these flags do not exist and are refused as unknown.
  std::string exit_after;
  std::string expose_deltas;
  double scale_delta = 1.0;
  app.add_option("--test-exit-after", exit_after,
                 "TESTING ONLY: exit with code 3 right after sending STAGE "
                 "(advertise_keys, share_keys or masked_input) in round ROUND, "
                 "to simulate a crash mid-round")
      ->type_name("STAGE:ROUND")
      ->group("Testing");
  app.add_option("--test-expose-deltas", expose_deltas,
                 "TESTING ONLY: write each round's weighted, clipped update "
                 "(before quantization) to DIR/round-<id>.f32, so tests can "
                 "check the secure sum. Never use with real data")
      ->type_name("DIR")
      ->group("Testing");
  app.add_option("--test-scale-delta", scale_delta,
                 "TESTING ONLY: multiply each round's weighted, clipped "
                 "update by FACTOR before quantization, as a Byzantine site "
                 "would. Never use with real data")
      ->type_name("FACTOR")
      ->group("Testing");
#endif
  CLI11_PARSE(app, argc, argv);

  (void)cls::ConfigureLogging("site-agent", cls::LogSettings{});  // stderr
  spdlog::set_level(spdlog::level::info);
  if (!log_level.empty()) spdlog::set_level(spdlog::level::from_str(log_level));

  cls::site::AgentOptions options;
#if CLS_TEST_HOOKS
  if (!exit_after.empty()) {
    auto parsed = cls::site::ParseExitAfter(exit_after);
    if (!parsed) {
      std::fprintf(stderr, "cls-site-agent: %s\n",
                   parsed.error().message.c_str());
      return 1;
    }
    options.test_exit_after = *parsed;
  }
#endif

  auto config = cls::site::LoadConfig(config_path);
  if (!config) {
    std::fprintf(stderr, "cls-site-agent: %s\n",
                 config.error().message.c_str());
    return 1;
  }
  if (log_level.empty()) {
    spdlog::set_level(spdlog::level::from_str(config->log_level));
  }
  if (check_config) return CheckConfig(*config);
  if (auto s = cls::ConfigureLogging("site-agent", config->log); !s) {
    std::fprintf(stderr, "cls-site-agent: %s\n", s.error().message.c_str());
    return 1;
  }

  spdlog::info("site agent {} starting (config {})", config->site_id,
               config->config_path);
  if (auto tls = cls::site::CheckTlsIdentity(*config); !tls) {
    spdlog::error("TLS: {}", tls.error().message);
    return 1;
  }
  // The data directory holds the model and metrics of this site only; it is
  // created private to the agent's user.
  std::error_code ec;
  if (std::filesystem::create_directories(config->data_dir, ec)) {
    std::filesystem::permissions(config->data_dir,
                                 std::filesystem::perms::owner_all, ec);
  }
  if (ec) {
    spdlog::error("cannot create data_dir {}: {}", config->data_dir,
                  ec.message());
    return 1;
  }

  cls::metrics::Registry registry;
  cls::site::AgentMetrics agent_metrics(registry);
  cls::site::AgentReadiness readiness;
  std::optional<cls::site::LocalModel> model;
  cls::site::ParticipantOptions participant_options;
  participant_options.site_id = config->site_id;
  participant_options.data_dir = config->data_dir;
#if CLS_TEST_HOOKS
  participant_options.expose_deltas_dir = expose_deltas;
  participant_options.test_scale_delta = scale_delta;
  if (!expose_deltas.empty()) {
    spdlog::warn("test: exposing each round's update in {}", expose_deltas);
  }
  if (scale_delta != 1.0) {
    spdlog::warn("test: scaling each round's update by {}", scale_delta);
  }
#endif
  {
    // Secure aggregation signs with the site certificate's key and checks
    // the neighbours' certificates against the CA (and CRL) it trusts.
    auto signing_key = cls::crypto::SigningKey::FromPemFile(config->tls.key);
    auto authority = cls::crypto::CertificateAuthority::FromFiles(
        config->tls.ca, config->tls.crl);
    if (!signing_key || !authority) {
      spdlog::error("tls: {}", !signing_key ? signing_key.error().message
                                            : authority.error().message);
      return 1;
    }
    auto& secagg = participant_options.secagg;
    secagg.site_id = config->site_id;
    secagg.signing_key =
        std::make_shared<cls::crypto::SigningKey>(std::move(*signing_key));
    secagg.authority = std::make_shared<cls::crypto::CertificateAuthority>(
        std::move(*authority));
    secagg.min_neighbourhood = config->secure_aggregation.min_neighbourhood;
    secagg.allow_single_site = config->secure_aggregation.allow_single_site;
    if (secagg.allow_single_site) {
      spdlog::warn(
          "secure_aggregation.allow_single_site = true: in rounds of this "
          "site alone the coordinator sees its update");
    }
  }
#if CLS_BENCH_HOOKS
  if (config->benchmark) {
    participant_options.benchmark_parameters = config->benchmark->parameters;
    spdlog::info("benchmark mode: no data, random updates of {} parameters",
                 config->benchmark->parameters);
  }
#endif
  if (!participant_options.benchmark_parameters) {
    auto loaded = cls::site::LocalModel::Load(*config->data);
    if (!loaded) {
      spdlog::error("data: {}", loaded.error().message);
      return 1;
    }
    model.emplace(std::move(*loaded));
    LogDataSummary(*model);
    participant_options.rows_rejected = model->rejected().size();
  }

  // [privacy] dp_sgd: the site's own record-level accountant, before any
  // training can start.
  std::unique_ptr<cls::site::RecordPrivacyLedger> record_privacy;
  if (config->privacy.dp_sgd && model) {
    auto opened = cls::site::RecordPrivacyLedger::Open(
        config->data_dir, config->privacy, model->num_samples());
    if (!opened) {
      spdlog::error("record-level privacy ledger: {}", opened.error().message);
      return 1;
    }
    record_privacy = std::move(*opened);
    const auto s = record_privacy->Current();
    spdlog::info(
        "DP-SGD on: record-level epsilon {:.4g} of target {:.4g} spent at "
        "delta {:.3g} (clip_norm {}, noise_multiplier {})",
        s.epsilon, s.target_epsilon, s.delta, s.clip_norm, s.noise_multiplier);
    record_privacy->SetOnChange([&](const cls::site::RecordPrivacyStatus& r) {
      agent_metrics.SetRecordPrivacy(r);
    });
    participant_options.record_privacy = record_privacy.get();
  }

  std::unique_ptr<cls::site::OnlineIngest> online;
  std::unique_ptr<cls::site::SiteServing> serving;  // set below with [serve]
  if (config->online && model) {
    auto opened = cls::site::OnlineIngest::Open(
        *config->online, config->site_id, config->data_dir, *model,
        record_privacy.get());
    if (!opened) {
      // Never overwrite a state we cannot read: stop and say why.
      spdlog::error("online learning: {}", opened.error().message);
      return 1;
    }
    online = std::move(*opened);
    options.periodic = [&] {
      if (auto files = online->ProcessInbox(); files && *files > 0) {
        agent_metrics.OnlineUpdates(*files);
        // The model learned here becomes the site-local candidate's next
        // generation ([online] serve_candidate; it never leaves the site).
        if (serving) {
          const auto& m = online->system().model();
          const auto p = m.parameters();
          if (auto s = serving->service().SetLocalCandidate(
                  std::vector<float>(p.begin(), p.end()), m.spec());
              !s) {
            spdlog::warn("serving: site-local candidate: {}",
                         s.error().message);
          }
        }
      }
    };
    options.periodic_interval =
        std::chrono::seconds(config->online->poll_interval_s);
    spdlog::info("online learning: watching {} every {} s",
                 config->online->inbox, config->online->poll_interval_s);
  }

  // Serving's threads standardise with a copy of the model's statistics,
  // replaced whole when the round logic adopts federation-wide ones.
  std::shared_ptr<cls::site::Standardisation> standardisation;
  if (config->serve && model) {
    auto latest = cls::site::LoadGlobalModel(
        std::filesystem::path(config->data_dir) / cls::site::kGlobalModelFile);
    standardisation =
        std::make_shared<cls::site::Standardisation>(model->preprocessor());
    participant_options.on_standardisation =
        [&](const cls::site::LocalModel& m) {
          standardisation->Set(m.preprocessor());
        };
    // The site's own train rows are the reference of the input drift test
    // (federation-wide means and variances are not a distribution).
    std::shared_ptr<const cls::drift::DataDriftDetector> input_reference;
    // Text and embedding columns are not judged (docs/columns.md): a schema
    // of only those has no input drift test.
    const auto& columns = model->schema().features;
    const bool judgeable =
        std::any_of(columns.begin(), columns.end(), [](const auto& c) {
          return c.kind == cls::core::ColumnSpec::Kind::kNumeric ||
                 c.kind == cls::core::ColumnSpec::Kind::kCategorical;
        });
    if (config->serve->input_drift_window > 0 && !judgeable) {
      spdlog::warn(
          "serving: input drift test off: the [data] schema has only text "
          "and embedding columns, which it does not judge");
    }
    if (config->serve->input_drift_window > 0 && judgeable) {
      auto fitted = cls::drift::DataDriftDetector::Fit(model->schema(),
                                                       model->TrainTable());
      if (!fitted) {
        spdlog::error("serving: input drift reference: {}",
                      fitted.error().message);
        return 1;
      }
      input_reference = std::make_shared<const cls::drift::DataDriftDetector>(
          std::move(*fitted));
    }
    auto created = cls::site::SiteServing::Create(
        *config, cls::site::Standardisation::Standardiser(standardisation),
        latest ? *latest : std::nullopt, std::move(input_reference));
    if (!created) {
      spdlog::error("serving: {}", created.error().message);
      return 1;
    }
    serving = std::move(*created);
    options.serving_message = [&](const cls::protocol::Message& m) {
      return serving->OnMessage(m);
    };
    options.outgoing = [&]() -> std::optional<cls::protocol::Message> {
      const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      if (auto report = serving->DueReport(now)) return *report;
      return std::nullopt;
    };
    // Serving runs on its own io_context and threads ([serve] threads),
    // never on the agent's protocol thread.
    options.on_start = [&](boost::asio::io_context&) -> cls::Status {
      auto port = serving->Start();
      if (!port) return std::unexpected(port.error());
      spdlog::info("serving predictions on port {}", *port);
      return {};
    };
    options.on_stop = [&] { serving->Stop(); };
  }
  // Each new global model: the online learner's new anchor, and serving's
  // default version.
  participant_options.on_global_model = [&](const cls::site::GlobalModel& g) {
    // The online learner restarts from it, whatever its kind (g.spec; empty
    // from an older coordinator: the site's default model).
    if (online) {
      if (auto s = online->Deploy(g.parameters, g.spec); !s) {
        spdlog::error("online learning: deploying the global model: {}",
                      s.error().message);
      }
    }
    if (serving) {
      if (auto s = serving->OnGlobalModel(g); !s) {
        spdlog::error("serving: new global model: {}", s.error().message);
      }
    }
  };

  cls::site::RoundParticipant participant(std::move(participant_options),
                                          model ? &*model : nullptr);
  if (auto s = participant.LoadState(); !s) {
    // The coordinator sends the current model with the next round anyway.
    spdlog::warn("ignoring the stored global model: {}", s.error().message);
  }
  if (auto s = participant.WriteStatusFile(); !s) {
    spdlog::warn("cannot write status: {}", s.error().message);
  }
  std::signal(SIGPIPE, SIG_IGN);
  // The monitoring port, on its own thread, whether or not this site
  // serves predictions; serving's own metrics are added when it does.
  if (auto next = cls::crypto::CrlNextUpdate(config->tls.crl);
      next && !config->tls.crl.empty()) {
    readiness.SetCrlNextUpdate(*next);
  }
  cls::metrics::MetricsServer monitoring(
      registry, [&readiness] { return readiness.Reason(std::time(nullptr)); },
      [&serving]() -> std::string {
        return serving ? serving->service().MetricsText() : "";
      });
  if (config->metrics_enabled) {
    auto port = monitoring.Listen(config->metrics_host, config->metrics_port,
                                  "metrics_listen");
    if (!port) {
      spdlog::error("{}", port.error().message);
      return 1;
    }
    spdlog::info("metrics and health on {}:{}", config->metrics_host, *port);
  }
  options.metrics = &agent_metrics;
  options.readiness = &readiness;
  const int code = cls::site::RunAgent(*config, participant, options);
  spdlog::info("site agent stopped");
  return code;
}
