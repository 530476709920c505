#ifndef CLS_COORDINATOR_CONFIG_H_
#define CLS_COORDINATOR_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "crypto/tls_context.h"
#include "protocol/messages.h"

namespace cls::coordinator {

// The original guide's ModelType.
inline constexpr const char* kModelTypes[] = {
    "diagnosis_predictor", "readmission_risk", "medication_recommender",
    "clinical_nlp", "imaging_classifier"};

struct CoordinatorConfig {
  std::string coordinator_id = "coordinator";
  std::string data_dir = "./coordinator-state";
  std::string listen_host = "0.0.0.0";
  uint16_t listen_port = 7443;
  std::string admin_host = "127.0.0.1";
  uint16_t admin_port = 7444;
  int min_sites = 3;
  std::string log_level = "info";
  crypto::TlsFiles tls;

  std::string model_type = "diagnosis_predictor";
  std::string model_kind = "logistic_regression";  // or "benchmark_vector"
  int64_t model_parameters = 0;

  std::chrono::milliseconds stage_timeout{30000};
  double clip = 1.0;
  int value_bits = 16;
  double server_learning_rate = 1.0;
  size_t complete_graph_up_to = 32;
  std::chrono::milliseconds pause_between_rounds{500};

  protocol::TrainingConfig training;

  // Audit log and operator access (docs/audit.md, docs/hipaa.md).
  int audit_retention_years = 7;     // [audit] retention_years, at least 6
  int audit_checkpoint_every = 100;  // [audit] checkpoint_every (entries)
  int break_glass_max_hours = 4;     // [admin] break_glass_max_hours
  std::chrono::seconds admin_idle_timeout{300};  // [admin] idle_timeout_s
  std::chrono::seconds admin_session_max{900};   // [admin] session_max_s
};

// Reads a TOML file. Unknown keys, wrong types and impossible values are
// errors that name the key; relative paths resolve against the file's folder.
Result<CoordinatorConfig> LoadCoordinatorConfig(const std::string& path);

// "host:port" -> parts; InvalidArgument naming `what` on a bad value.
Status ParseHostPort(const std::string& value, const std::string& what,
                     std::string& host, uint16_t& port);

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_CONFIG_H_
