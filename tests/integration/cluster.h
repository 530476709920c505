#ifndef CLS_TESTS_INTEGRATION_CLUSTER_H_
#define CLS_TESTS_INTEGRATION_CLUSTER_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cls::testing {

// A child process with its output in a log file. Killed (SIGKILL) when
// destroyed if still running.
class Process {
 public:
  Process(std::vector<std::string> argv, std::string log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool Running();
  // Sends the signal and waits up to `timeout`; returns the exit status
  // (128 + signal when killed), or -1 if it did not exit in time.
  int Stop(int signal, std::chrono::milliseconds timeout);
  int Wait(std::chrono::milliseconds timeout);
  const std::string& log_path() const { return log_path_; }
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string log_path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout
  std::string error;   // stderr
  // stdout as JSON; discarded when it is not JSON or is clsctl's --json
  // error document.
  nlohmann::json Json() const;
  // The "error" object of clsctl's --json output; null when there is none.
  nlohmann::json ErrorJson() const;
};

// A site's [serve] section on 127.0.0.1:port with the test PKI's loopback
// server certificate; `more` is further keys of the section
// (e.g. "report_interval_s = 1\n").
std::string ServeSection(int port, const std::string& more = "");

// Runs a command to completion, capturing stdout and stderr.
CommandResult RunCommand(
    const std::vector<std::string>& argv,
    std::chrono::seconds timeout = std::chrono::seconds(60));

// A synthetic cohort: `rows` patients with features f1..f4 (numeric) and
// `group` (categorical 1..3), label from a fixed logistic model plus noise.
// `shift` moves the feature means (a non-IID site). Deterministic in `seed`.
void WriteSyntheticCohort(const std::string& path, int rows, double shift,
                          unsigned seed);
// Number of model parameters for that cohort's schema (features + bias).
inline constexpr int kSyntheticParameters = 4 + 3 + 1;

struct SiteOptions {
  std::vector<std::string> extra_args = {};
  int rows = 120;
  double shift = 0.0;
  // TOML appended to the site config after [data] (e.g. an [online] table).
  std::string extra_toml = {};
  // A whole [data] section (csv, label, [[data.columns]]) replacing the
  // synthetic cohort's; the test writes the CSV it names. rows and shift
  // are then unused.
  std::string data_section = {};
  // [secure_aggregation]: the test federations are small, so their sites
  // join neighbourhoods of two; 0 leaves the agent's own default (3).
  int min_neighbourhood = 2;
  // Join rounds of the site alone ([robust] secure_aggregation = false).
  bool allow_single_site = false;
};

// A whole federation in a temporary directory: PKI, coordinator, site agents
// and clsctl, as real processes on loopback with free ports.
class Cluster {
 public:
  Cluster();
  ~Cluster();

  const std::string& dir() const { return dir_; }
  std::string Path(const std::string& rel) const { return dir_ + "/" + rel; }

  // cls-pki on this cluster's PKI directory.
  CommandResult Pki(std::vector<std::string> args);

  // Writes the coordinator config (extra TOML lines appended to [round],
  // [model] or top level as given; a stage_timeout_s in extra_round replaces
  // the default 10 s) and starts it; waits until the admin API
  // answers. By default sites standardise with their own statistics, so
  // every round is a training round; the statistics-round test passes
  // `standardisation = "federation"`.
  void StartCoordinator(
      const std::string& extra_top = "", const std::string& extra_round = "",
      const std::string& extra_model = "standardisation = \"site\"");
  int StopCoordinator(int signal = 15);
  // For the next StartCoordinator: [model] parameters (default: the
  // synthetic cohort's) and the [training] table's lines (default: epochs =
  // 3, learning_rate = 0.1).
  void SetModelParameters(int parameters) { model_parameters_ = parameters; }
  void SetTraining(std::string lines) { training_ = std::move(lines); }
  // Replaces the default [model] section (logistic regression over the
  // synthetic cohort) for later StartCoordinator calls; extra_model is
  // still appended.
  void SetModelSection(std::string toml) { model_section_ = std::move(toml); }
  Process* coordinator() { return coordinator_.get(); }

  // Issues the site certificate (once), writes its data and config, starts it.
  void StartSite(const std::string& site_id, const SiteOptions& options = {});
  int StopSite(const std::string& site_id, int signal = 15);
  Process* site(const std::string& site_id) { return sites_[site_id].get(); }
  std::string SiteConfigPath(const std::string& site_id) const;

  // clsctl with the admin operator certificate (or another identity),
  // --json.
  CommandResult Ctl(std::vector<std::string> args,
                    const std::string& identity = "admin");
  // The same without --json: the text an operator reads.
  CommandResult CtlText(std::vector<std::string> args,
                        const std::string& identity = "admin");

  // Runs a Python client of a site's serving port (/v1/predict,
  // /v1/outcome) as the EHR certificate `identity` (issued with
  // Pki({"issue", "ehr", identity})). `script` starts with a connected
  // HTTPS client `c`, `call(path, body) -> (status, text)` for JSON POSTs
  // and its own arguments in `args` (strings), with json, math, random and
  // sys imported.
  CommandResult RunEhrClient(
      const std::string& identity, int port, const std::string& script,
      const std::vector<std::string>& args,
      std::chrono::seconds timeout = std::chrono::seconds(120));

  // Approves every site, waiting until each has connected and is approved.
  void ApproveAll(const std::vector<std::string>& site_ids);
  // Waits until `n` approved sites are connected.
  bool WaitConnected(int n, std::chrono::seconds timeout);
  // Starts rounds and waits until none is running or queued; the history of
  // the rounds it started.
  nlohmann::json RunRounds(int rounds, std::chrono::seconds timeout);

  int site_port() const { return site_port_; }
  int admin_port() const { return admin_port_; }
  int metrics_port() const { return metrics_port_; }
  // The site agent's monitoring port, which it picked (from its log; -1
  // if it never said).
  int site_metrics_port(const std::string& site_id);

 private:
  // One start of the coordinator; false when it did not come up.
  bool TryStartCoordinator(const std::string& extra_top,
                           const std::string& extra_round,
                           const std::string& extra_model);

  std::string dir_;
  std::string model_section_;
  int site_port_ = 0;
  int admin_port_ = 0;
  int metrics_port_ = 0;
  int model_parameters_ = kSyntheticParameters;
  std::string training_ = "epochs = 3\nlearning_rate = 0.1\n";
  std::unique_ptr<Process> coordinator_;
  std::map<std::string, std::unique_ptr<Process>> sites_;
};

// Polls `condition` every 100 ms until it holds or `timeout` passes.
bool WaitUntil(const std::function<bool()>& condition,
               std::chrono::milliseconds timeout);

// A TCP port that was free a moment ago.
int FreePort();

std::string BinaryPath(const std::string& name);

}  // namespace cls::testing

#endif  // CLS_TESTS_INTEGRATION_CLUSTER_H_
