#ifndef CLS_SITE_AGENT_CONFIG_H_
#define CLS_SITE_AGENT_CONFIG_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/logging.h"
#include "core/dataset.h"

namespace cls::site {

// The site's TLS identity. Paths are absolute once loaded.
struct TlsConfig {
  std::string ca;
  std::string cert;
  std::string key;
  std::string crl;  // empty = none
};

// The hospital's CSV and how to read it.
struct DataConfig {
  std::string csv;
  core::DatasetSchema schema;
  double test_fraction = 0.2;
  uint64_t split_seed = 7;
};

// Continuous learning from new cases ([online]; needs [data]): CSV files
// dropped into `inbox` are validated against the [data] schema, bad rows
// quarantined, and the site's model updated incrementally
// (core::OnlineLearningSystem). The learning state (with its rehearsal
// reservoir of past rows) is stored encrypted with the key in `key_file`.
struct OnlineConfig {
  std::string inbox;     // absolute
  std::string key_file;  // absolute; default data_dir/keys/online-state.key
  uint32_t poll_interval_s = 10;
  uint32_t batch_size = 32;
  double learning_rate = 0.01;
  double retention_rate = 0.9;
  uint32_t reservoir_size = 1000;
  uint32_t rehearsal_samples = 32;
  // The online model as a site-local candidate next to the deployed
  // version (docs/serving.md "The site-local candidate"): "off", "shadow"
  // (scored and logged, never returned) or "ab" (answers candidate_share of
  // the requests). Needs [serve].
  std::string serve_candidate = "off";
  double candidate_share = 0.1;
};

// Benchmark mode: no data; each round's delta is a seeded random vector.
struct BenchmarkConfig {
  uint64_t parameters = 0;
};

// The local HTTPS prediction endpoint ([serve]; needs [data]); absent or
// without `listen` = not serving. site-agent/prediction_server.h.
struct ServeConfig {
  std::string host = "127.0.0.1";  // from listen = "HOST:PORT"
  uint16_t port = 8443;
  std::string cert;  // absolute; default [tls] cert (needs serverAuth for
  std::string key;   // strict HTTPS clients); default [tls] key
  bool require_client_cert = true;   // project CA + [tls] crl
  double retention_hours = 24;       // predictions kept to join outcomes
  uint64_t max_tracked = 100'000;    // predictions kept at most
  uint32_t report_interval_s = 300;  // DriftReport to the coordinator
  uint32_t idle_timeout_s = 30;      // keep-alive connections
  // Serving's own threads (never the agent's protocol thread), [1, 64].
  uint32_t threads = 2;
  // Data drift on the served inputs (docs/drift.md "Data drift at the
  // sites"): the last input_drift_window raw rows per version, in memory,
  // tested against the train rows when the window fills again and at least
  // every input_drift_interval_s. 0 = off.
  uint32_t input_drift_window = 500;
  uint32_t input_drift_interval_s = 300;
  // Who may call, with require_client_cert (docs/serving.md "Who may
  // call"): certificate roles (OU), and this site's own certificate. Other
  // hospitals' site certificates never.
  std::vector<std::string> client_roles = {"ehr"};
  bool allow_own_site_cert = false;
};

// [secure_aggregation]: the limits this hospital sets on the rounds it joins,
// whatever the coordinator asks (issue 11: a coordinator may be malicious).
struct SecureAggregationConfig {
  // The smallest neighbourhood (this site included) the site joins; smaller
  // ones would let the coordinator learn (nearly) its own update. 2..1000.
  uint32_t min_neighbourhood = 3;
  // Join rounds of this site alone ([robust] secure_aggregation = false at the
  // coordinator), where the coordinator sees its update. Off by default.
  bool allow_single_site = false;
};

// [privacy]: record-level (patient-level) differential privacy of this
// site's own training, enforced by the site whatever the coordinator asks
// (docs/privacy.md "Patient-level privacy (DP-SGD)"). With dp_sgd on, every
// local training (federated rounds and online updates) runs DP-SGD with
// clip_norm and noise_multiplier, charged to the site's own RDP accountant
// (site-agent/record_privacy.h) before it starts; training that would take
// epsilon at `delta` past target_epsilon is refused.
struct PrivacyConfig {
  bool dp_sgd = false;
  double target_epsilon = 0;  // required (> 0) with dp_sgd
  // Absent: min(1e-5, 1 / n^1.1), n = the train rows at startup (delta
  // must be well below 1/n, or releasing one row outright would satisfy it).
  std::optional<double> delta;
  double clip_norm = 1.0;
  double noise_multiplier = 1.1;
};

// The site agent's configuration file (TOML), validated. Exactly one of
// `data` and `benchmark` is set. Plain value type.
struct AgentConfig {
  std::string config_path;  // absolute
  std::string site_id;      // must equal the certificate CN
  std::string site_name;
  std::string location;
  std::string coordinator_host;
  uint16_t coordinator_port = 0;
  std::string data_dir;  // absolute
  std::string log_level = "info";
  LogSettings log;
  // The monitoring port (/metrics, /healthz, /readyz), plain HTTP;
  // metrics_listen = "" turns it off.
  bool metrics_enabled = true;
  std::string metrics_host = "127.0.0.1";
  uint16_t metrics_port = 9465;
  TlsConfig tls;
  std::optional<DataConfig> data;
  std::optional<BenchmarkConfig> benchmark;
  std::optional<OnlineConfig> online;
  std::optional<ServeConfig> serve;
  SecureAggregationConfig secure_aggregation;
  PrivacyConfig privacy;
};

// Reads and validates a config file. Relative paths resolve against the
// file's directory. Unknown keys, wrong types and bad values are
// InvalidArgument naming the key (and the allowed values); a missing file is
// NotFound. Never reads the CSV itself.
Result<AgentConfig> LoadConfig(const std::string& path);

// Same, from text; `base_dir` resolves relative paths, `origin` names the
// source in error messages.
Result<AgentConfig> ParseConfig(std::string_view text,
                                const std::filesystem::path& base_dir,
                                const std::string& origin);

// "trace", "debug", "info", "warn", "error", "critical", "off".
bool IsValidLogLevel(std::string_view level);
inline constexpr std::string_view kLogLevels =
    "trace|debug|info|warn|error|critical|off";

}  // namespace cls::site

#endif  // CLS_SITE_AGENT_CONFIG_H_
