#include "tests/integration/cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace cls::testing {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

pid_t Spawn(const std::vector<std::string>& argv, const std::string& out_path,
            const std::string& err_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
  return pid;
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string BinaryPath(const std::string& name) {
  return std::string(CLS_BIN_DIR) + "/" + name;
}

bool WaitUntil(const std::function<bool()>& condition,
               std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return condition();
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

Process::Process(std::vector<std::string> argv, std::string log_path)
    : log_path_(std::move(log_path)) {
  pid_ = Spawn(argv, log_path_, log_path_);
}

Process::~Process() {
  if (pid_ > 0 && Running()) Stop(SIGKILL, 5s);
}

bool Process::Running() {
  if (pid_ <= 0 || status_ != -1) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    status_ = DecodeStatus(status);
    return false;
  }
  return true;
}

int Process::Wait(std::chrono::milliseconds timeout) {
  WaitUntil([&] { return !Running(); }, timeout);
  return Running() ? -1 : status_;
}

int Process::Stop(int signal, std::chrono::milliseconds timeout) {
  if (Running()) kill(pid_, signal);
  return Wait(timeout);
}

std::string Process::Log() const { return ReadFile(log_path_); }

nlohmann::json CommandResult::Json() const {
  auto doc = nlohmann::json::parse(output, nullptr, false);
  // A failed command's --json error ({"error": {...}} alone) is not the
  // answer the callers poll for: read as no answer, as before clsctl
  // printed errors on stdout. ErrorJson() has it.
  if (doc.is_object() && doc.size() == 1 && doc.contains("error")) {
    return nlohmann::json::value_t::discarded;
  }
  return doc;
}

nlohmann::json CommandResult::ErrorJson() const {
  auto doc = nlohmann::json::parse(output, nullptr, false);
  if (doc.is_object() && doc.contains("error")) return doc["error"];
  return nullptr;
}

CommandResult RunCommand(const std::vector<std::string>& argv,
                         std::chrono::seconds timeout) {
  static int counter = 0;
  std::string base = fs::temp_directory_path().string() + "/cls-cmd-" +
                     std::to_string(getpid()) + "-" + std::to_string(counter++);
  pid_t pid = Spawn(argv, base + ".out", base + ".err");
  CommandResult result;
  int status = 0;
  auto end = std::chrono::steady_clock::now() + timeout;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > end) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  result.exit_code = DecodeStatus(status);
  result.output = ReadFile(base + ".out");
  result.error = ReadFile(base + ".err");
  fs::remove(base + ".out");
  fs::remove(base + ".err");
  return result;
}

void WriteSyntheticCohort(const std::string& path, int rows, double shift,
                          unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_int_distribution<int> group(1, 3);
  std::ostringstream out;
  out << "f1,f2,f3,f4,group,y\n";
  for (int i = 0; i < rows; ++i) {
    double f[4];
    for (double& v : f) v = shift + normal(rng);
    int g = group(rng);
    double logit = 1.5 * f[0] - 1.0 * f[1] + 0.5 * f[2] + (g == 2 ? 0.8 : -0.4);
    double p = 1.0 / (1.0 + std::exp(-logit));
    int y = std::uniform_real_distribution<double>(0, 1)(rng) < p ? 1 : 0;
    out << f[0] << "," << f[1] << "," << f[2] << "," << f[3] << "," << g << ","
        << y << "\n";
  }
  WriteFile(path, out.str());
}

Cluster::Cluster() {
  char tmpl[] = "/tmp/cls-cluster-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  auto check = [](const CommandResult& r, const std::string& what) {
    if (r.exit_code != 0)
      throw std::runtime_error(what + " failed: " + r.error);
  };
  check(Pki({"init"}), "cls-pki init");
  check(Pki({"issue", "coordinator", "127.0.0.1"}), "issue coordinator");
  for (const char* role : {"admin", "operator", "auditor", "viewer"}) {
    check(Pki({"issue", "operator", role, "--role", role}), "issue operator");
  }
  site_port_ = FreePort();
  admin_port_ = FreePort();
  metrics_port_ = FreePort();
}

Cluster::~Cluster() {
  for (auto& [id, p] : sites_)
    if (p) p->Stop(SIGKILL, 5s);
  if (coordinator_) coordinator_->Stop(SIGKILL, 5s);
  if (std::getenv("CLS_KEEP_TEST_DIRS") == nullptr) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

CommandResult Cluster::Pki(std::vector<std::string> args) {
  std::vector<std::string> argv = {
      std::string(CLS_SOURCE_DIR) + "/certs/cls-pki", "--dir", Path("pki")};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, 60s);
}

void Cluster::StartCoordinator(const std::string& extra_top,
                               const std::string& extra_round,
                               const std::string& extra_model) {
  // FreePort's ports are free when picked, not when the coordinator binds
  // them: another test's process may take one in between. Such a start is
  // tried again, on new ports while no site depends on them yet.
  for (int attempt = 1;; ++attempt) {
    if (TryStartCoordinator(extra_top, extra_round, extra_model)) return;
    const std::string log = coordinator_->Log();
    if (attempt == 3 ||
        log.find("Address already in use") == std::string::npos) {
      throw std::runtime_error("coordinator did not start:\n" + log);
    }
    if (sites_.empty()) {
      site_port_ = FreePort();
      admin_port_ = FreePort();
      metrics_port_ = FreePort();
    }
  }
}

bool Cluster::TryStartCoordinator(const std::string& extra_top,
                                  const std::string& extra_round,
                                  const std::string& extra_model) {
  std::ostringstream c;
  c << "coordinator_id = \"test-coordinator\"\n"
    << "data_dir = \"coordinator-state\"\n"
    << "listen = \"127.0.0.1:" << site_port_ << "\"\n"
    << "admin_listen = \"127.0.0.1:" << admin_port_ << "\"\n"
    << "metrics_listen = \"127.0.0.1:" << metrics_port_ << "\"\n"
    << extra_top << "\n"
    << "[tls]\nca = \"pki/ca.pem\"\ncert = \"pki/issued/127.0.0.1.pem\"\n"
    << "key = \"pki/issued/127.0.0.1.key\"\ncrl = \"pki/ca-crl.pem\"\n"
    << (model_section_.empty()
            ? "[model]\nkind = \"logistic_regression\"\nparameters = " +
                  std::to_string(model_parameters_) + "\n"
            : model_section_ + "\n")
    << extra_model
    << "\n"
    // extra_round may set its own stage deadline.
    << "[round]\n"
    << (extra_round.find("stage_timeout_s") == std::string::npos
            ? "stage_timeout_s = 10\n"
            : "")
    << "pause_between_rounds_ms = 100\n"
    << extra_round << "\n"
    << "[training]\n"
    << training_;
  WriteFile(Path("coordinator.toml"), c.str());
  coordinator_ = std::make_unique<Process>(
      std::vector<std::string>{BinaryPath("cls-coordinator"), "--config",
                               Path("coordinator.toml")},
      Path("coordinator.log"));
  bool up = WaitUntil(
      [&] {
        return Ctl({"status"}).exit_code == 0 || !coordinator_->Running();
      },
      30s);
  return up && coordinator_->Running();
}

int Cluster::site_metrics_port(const std::string& site_id) {
  static const std::regex kLine(R"(metrics and health on 127\.0\.0\.1:(\d+))");
  int port = -1;
  WaitUntil(
      [&] {
        std::smatch m;
        const std::string log = sites_.at(site_id)->Log();
        if (!std::regex_search(log, m, kLine)) return false;
        port = std::stoi(m[1]);
        return true;
      },
      30s);
  return port;
}

int Cluster::StopCoordinator(int signal) {
  int rc = coordinator_->Stop(signal, 10s);
  coordinator_.reset();
  return rc;
}

std::string Cluster::SiteConfigPath(const std::string& site_id) const {
  return Path(site_id + ".toml");
}

void Cluster::StartSite(const std::string& site_id,
                        const SiteOptions& options) {
  if (!fs::exists(Path("pki/issued/" + site_id + ".pem"))) {
    auto r = Pki({"issue", "site", site_id});
    if (r.exit_code != 0)
      throw std::runtime_error("issue site failed: " + r.error);
  }
  std::string csv = Path(site_id + ".csv");
  if (options.data_section.empty() && !fs::exists(csv)) {
    WriteSyntheticCohort(
        csv, options.rows, options.shift,
        static_cast<unsigned>(std::hash<std::string>{}(site_id)));
  }
  std::ostringstream c;
  // The agent picks its monitoring port (site_metrics_port reads it from
  // the log): one port fewer to race for.
  c << "site_id = \"" << site_id << "\"\n"
    << "site_name = \"Test " << site_id << "\"\n"
    << "metrics_listen = \"127.0.0.1:0\"\n"
    << "coordinator = \"127.0.0.1:" << site_port_ << "\"\n"
    << "data_dir = \"" << site_id << "-state\"\n"
    << "[tls]\nca = \"pki/ca.pem\"\ncert = \"pki/issued/" << site_id
    << ".pem\"\n"
    << "key = \"pki/issued/" << site_id << ".key\"\ncrl = \"pki/ca-crl.pem\"\n";
  if (!options.data_section.empty()) {
    c << options.data_section << "\n";
  } else {
    c << "[data]\ncsv = \"" << csv
      << "\"\nlabel_column = \"y\"\npositive_above = 0.5\n";
    for (const char* f : {"f1", "f2", "f3", "f4"}) {
      c << "[[data.columns]]\nname = \"" << f << "\"\nkind = \"numeric\"\n";
    }
    c << "[[data.columns]]\nname = \"group\"\nkind = "
         "\"categorical\"\ncategories = [1, 2, 3]\n";
  }
  if (options.min_neighbourhood != 0 || options.allow_single_site) {
    c << "[secure_aggregation]\n";
    if (options.min_neighbourhood != 0) {
      c << "min_neighbourhood = " << options.min_neighbourhood << "\n";
    }
    c << "allow_single_site = "
      << (options.allow_single_site ? "true" : "false") << "\n";
  }
  c << options.extra_toml << "\n";
  WriteFile(SiteConfigPath(site_id), c.str());
  std::vector<std::string> argv = {BinaryPath("cls-site-agent"), "--config",
                                   SiteConfigPath(site_id)};
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  sites_[site_id] = std::make_unique<Process>(argv, Path(site_id + ".log"));
}

int Cluster::StopSite(const std::string& site_id, int signal) {
  auto& p = sites_[site_id];
  if (!p) return -1;
  int rc = p->Stop(signal, 10s);
  return rc;
}

CommandResult Cluster::Ctl(std::vector<std::string> args,
                           const std::string& identity) {
  args.insert(args.begin(), "--json");
  return CtlText(std::move(args), identity);
}

std::string ServeSection(int port, const std::string& more) {
  return "[serve]\nlisten = \"127.0.0.1:" + std::to_string(port) +
         "\"\ncert = \"pki/issued/127.0.0.1.pem\"\n"
         "key = \"pki/issued/127.0.0.1.key\"\n" +
         more;
}

// What every EHR client script starts with (Cluster::RunEhrClient).
constexpr const char* kEhrClientPrelude = R"PY(
import http.client, json, math, random, ssl, sys
port, ca, cert, key = sys.argv[1:5]
args = sys.argv[5:]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
c = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=10)
def call(path, body):
    c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, r.read().decode()
)PY";

CommandResult Cluster::RunEhrClient(const std::string& identity, int port,
                                    const std::string& script,
                                    const std::vector<std::string>& args,
                                    std::chrono::seconds timeout) {
  std::vector<std::string> argv = {"/usr/bin/python3",
                                   "-c",
                                   std::string(kEhrClientPrelude) + script,
                                   std::to_string(port),
                                   Path("pki/ca.pem"),
                                   Path("pki/issued/" + identity + ".pem"),
                                   Path("pki/issued/" + identity + ".key")};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, timeout);
}

CommandResult Cluster::CtlText(std::vector<std::string> args,
                               const std::string& identity) {
  std::vector<std::string> argv = {BinaryPath("clsctl"),
                                   "--coordinator",
                                   "127.0.0.1:" + std::to_string(admin_port_),
                                   "--ca",
                                   Path("pki/ca.pem"),
                                   "--cert",
                                   Path("pki/issued/" + identity + ".pem"),
                                   "--key",
                                   Path("pki/issued/" + identity + ".key")};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, 60s);
}

void Cluster::ApproveAll(const std::vector<std::string>& site_ids) {
  for (const auto& id : site_ids) {
    bool registered = WaitUntil(
        [&] {
          auto sites = Ctl({"sites", "list"}).Json();
          if (!sites.is_object()) return false;
          for (const auto& s : sites["sites"]) {
            if (s["site_id"] == id) return true;
          }
          return false;
        },
        30s);
    if (!registered)
      throw std::runtime_error("site " + id + " never registered");
    auto r = Ctl({"sites", "approve", id});
    if (r.exit_code != 0)
      throw std::runtime_error("approve " + id + ": " + r.error);
  }
  if (!WaitConnected(static_cast<int>(site_ids.size()), 60s)) {
    throw std::runtime_error("approved sites did not all connect");
  }
}

bool Cluster::WaitConnected(int n, std::chrono::seconds timeout) {
  return WaitUntil(
      [&] {
        auto status = Ctl({"status"}).Json();
        return status.is_object() &&
               status["sites"]["connected"].get<int>() >= n;
      },
      timeout);
}

nlohmann::json Cluster::RunRounds(int rounds, std::chrono::seconds timeout) {
  auto started = Ctl({"round", "start", "--rounds", std::to_string(rounds)});
  if (started.exit_code != 0) {
    throw std::runtime_error("round start: " + started.error + started.output);
  }
  int64_t first = started.Json()["first_round"].get<int64_t>();
  bool done = WaitUntil(
      [&] {
        auto current = Ctl({"round", "status"}).Json();
        return current.is_object() && current["round"].is_null() &&
               current["queued_rounds"].get<int>() == 0;
      },
      timeout);
  if (!done) throw std::runtime_error("rounds did not finish in time");
  auto history = Ctl({"round", "history", "--limit", "1000"}).Json();
  nlohmann::json mine = nlohmann::json::array();
  for (const auto& r : history["rounds"]) {
    if (r["round_id"].get<int64_t>() >= first) mine.push_back(r);
  }
  return mine;
}

}  // namespace cls::testing
