// cls-test-cluster: a whole consortium (PKI, coordinator, site agents) on
// loopback for clients written in other languages (the Python package's
// tests, python/tests/conftest.py). It prints ONE JSON line on stdout with
// everything a client needs (addresses, CA, identities, sites and their
// prediction endpoints), then runs until its stdin closes or it gets
// SIGTERM/SIGINT/SIGHUP, and stops every process it started and removes its
// temporary directory. Progress and errors go to stderr.
//
//   cls-test-cluster [--sites N] [--min-sites N] [--rounds N] [--serve]
//                    [--privacy off|central]
//
// --rounds N approves the first --min-sites sites and runs N rounds before
// reporting; without it every site is left pending for the client to
// approve.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/integration/cluster.h"

namespace {
using cls::testing::Cluster;
using json = nlohmann::json;
using namespace std::chrono_literals;

// Self-pipe: the handler only writes a byte; the main loop polls it with
// stdin. Handlers (unlike a blocked mask) are reset in the children at exec.
int g_signal_pipe[2] = {-1, -1};
std::atomic<bool> g_stop{false};

void OnSignal(int) {
  g_stop = true;
  const char byte = 1;
  [[maybe_unused]] ssize_t n = write(g_signal_pipe[1], &byte, 1);
}

void InstallHandlers() {
  if (pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw std::runtime_error("pipe2 failed");
  }
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaction(s, &sa, nullptr);
  // A client that goes away mid-write must not kill us before cleanup.
  signal(SIGPIPE, SIG_IGN);
}

struct Options {
  int sites = 3;
  int min_sites = -1;  // default: all sites
  int rounds = 0;
  bool serve = false;
  std::string privacy = "central";
};

constexpr const char* kUsage =
    "usage: cls-test-cluster [--sites N] [--min-sites N] [--rounds N] "
    "[--serve] [--privacy off|central]\n";

[[noreturn]] void Usage(const std::string& error) {
  std::cerr << "cls-test-cluster: " << error << "\n" << kUsage;
  std::exit(2);
}

int IntArg(int& i, int argc, char** argv, int lo, int hi) {
  const std::string name = argv[i];
  if (++i >= argc) Usage(name + " needs a value");
  char* end = nullptr;
  long v = std::strtol(argv[i], &end, 10);
  if (*end != '\0' || v < lo || v > hi) {
    Usage(name + " must be an integer " + std::to_string(lo) + ".." +
          std::to_string(hi));
  }
  return static_cast<int>(v);
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--sites") {
      o.sites = IntArg(i, argc, argv, 1, 20);
    } else if (a == "--min-sites") {
      o.min_sites = IntArg(i, argc, argv, 1, 20);
    } else if (a == "--rounds") {
      o.rounds = IntArg(i, argc, argv, 0, 100);
    } else if (a == "--serve") {
      o.serve = true;
    } else if (a == "--privacy") {
      if (++i >= argc) Usage("--privacy needs a value");
      o.privacy = argv[i];
      if (o.privacy != "off" && o.privacy != "central") {
        Usage("--privacy must be off or central");
      }
    } else if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else {
      Usage("unknown option '" + a + "'");
    }
  }
  if (o.min_sites < 0) o.min_sites = o.sites;
  if (o.min_sites > o.sites) Usage("--min-sites exceeds --sites");
  return o;
}

void StopIfAsked() {
  if (g_stop) throw std::runtime_error("stopped by a signal while starting");
}

std::string SiteId(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "HOSP_%03d", i);
  return buf;
}

json Identity(const Cluster& c, const std::string& name) {
  return {{"cert", c.Path("pki/issued/" + name + ".pem")},
          {"key", c.Path("pki/issued/" + name + ".key")}};
}

// clsctl's config file (console/cli_config.h) with one context per
// operator identity, so clients can be tested reading it.
std::string WriteClsctlConfig(const Cluster& c) {
  const std::string path = c.Path("clsctl.toml");
  std::ofstream out(path);
  out << "current_context = \"admin\"\n";
  for (const char* role : {"admin", "operator", "auditor", "viewer"}) {
    out << "[contexts." << role
        << "]\ncoordinator = \"127.0.0.1:" << c.admin_port()
        << "\"\nca = \"pki/ca.pem\"\ncert = \"pki/issued/" << role
        << ".pem\"\nkey = \"pki/issued/" << role << ".key\"\n";
  }
  if (!out) throw std::runtime_error("cannot write " + path);
  return path;
}

json DaemonPids(Cluster& c, const std::vector<std::string>& site_ids) {
  json pids = json::array({static_cast<int>(c.coordinator()->pid())});
  for (const auto& id : site_ids) {
    pids.push_back(static_cast<int>(c.site(id)->pid()));
  }
  return pids;
}

// Waits for stdin to close (EOF or error) or a signal.
void WaitForEnd() {
  pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {g_signal_pipe[0], POLLIN, 0}};
  char buf[256];
  while (!g_stop) {
    int n = poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents != 0) {
      ssize_t r = read(STDIN_FILENO, buf, sizeof buf);
      if (r <= 0 && !(r < 0 && errno == EINTR)) return;
    }
  }
}

int Run(const Options& o) {
  Cluster cluster;
  std::cerr << "cls-test-cluster: starting in " << cluster.dir() << "\n";
  // A second, unrelated CA with an operator of its own: what a client that
  // trusts the wrong CA, or an outsider, would hold (negative tests).
  auto foreign = cls::testing::RunCommand(
      {std::string(CLS_SOURCE_DIR) + "/certs/cls-pki", "--dir",
       cluster.Path("foreign-pki"), "init", "--name", "Foreign CA"});
  if (foreign.exit_code != 0) throw std::runtime_error(foreign.error);
  foreign =
      cls::testing::RunCommand({std::string(CLS_SOURCE_DIR) + "/certs/cls-pki",
                                "--dir", cluster.Path("foreign-pki"), "issue",
                                "operator", "intruder", "--role", "admin"});
  if (foreign.exit_code != 0) throw std::runtime_error(foreign.error);
  StopIfAsked();

  std::string top = "min_sites = " + std::to_string(o.min_sites) + "\n";
  if (o.privacy == "central") {
    // A budget no test run exhausts; rounds are still charged and shown.
    top +=
        "[privacy]\nmode = \"central\"\nprivacy_epsilon = 1.0\n"
        "budget_epsilon = 1000.0\n";
  }
  cluster.StartCoordinator(top);
  StopIfAsked();

  json sites = json::array();
  std::vector<std::string> ids;
  for (int i = 1; i <= o.sites; ++i) {
    const std::string id = SiteId(i);
    ids.push_back(id);
    cls::testing::SiteOptions options;
    json site = {{"site_id", id},
                 {"cert", cluster.Path("pki/issued/" + id + ".pem")},
                 {"key", cluster.Path("pki/issued/" + id + ".key")},
                 {"predict", nullptr}};
    if (o.serve) {
      const int port = cls::testing::FreePort();
      // The coordinator's certificate has serverAuth and 127.0.0.1 in its
      // subjectAltName (docs/serving.md); reports every second so drift
      // statistics show up quickly.
      options.extra_toml =
          cls::testing::ServeSection(port, "report_interval_s = 1\n");
      auto ehr = cluster.Pki({"issue", "ehr", id + "-ehr"});
      if (ehr.exit_code != 0) throw std::runtime_error(ehr.error);
      site["predict"] = {
          {"host", "127.0.0.1"},
          {"port", port},
          {"url", "https://127.0.0.1:" + std::to_string(port)},
          {"cert", cluster.Path("pki/issued/" + id + "-ehr.pem")},
          {"key", cluster.Path("pki/issued/" + id + "-ehr.key")}};
    }
    cluster.StartSite(id, options);
    sites.push_back(site);
    StopIfAsked();
  }

  json rounds = json::array();
  if (o.rounds > 0) {
    cluster.ApproveAll(
        std::vector<std::string>(ids.begin(), ids.begin() + o.min_sites));
    StopIfAsked();
    rounds = cluster.RunRounds(o.rounds, 600s);
  }

  json out = {
      {"dir", cluster.dir()},
      {"admin",
       {{"host", "127.0.0.1"},
        {"port", cluster.admin_port()},
        {"url", "https://127.0.0.1:" + std::to_string(cluster.admin_port())}}},
      {"ca", cluster.Path("pki/ca.pem")},
      {"identities",
       {{"admin", Identity(cluster, "admin")},
        {"operator", Identity(cluster, "operator")},
        {"auditor", Identity(cluster, "auditor")},
        {"viewer", Identity(cluster, "viewer")}}},
      {"clsctl", cls::testing::BinaryPath("clsctl")},
      {"clsctl_config", WriteClsctlConfig(cluster)},
      {"min_sites", o.min_sites},
      {"privacy", o.privacy},
      {"sites", sites},
      {"rounds", rounds},
      {"foreign",
       {{"ca", cluster.Path("foreign-pki/ca.pem")},
        {"cert", cluster.Path("foreign-pki/issued/intruder.pem")},
        {"key", cluster.Path("foreign-pki/issued/intruder.key")}}},
      {"pid", static_cast<int>(getpid())},
      // The daemons, so a client can check that none outlives the launcher.
      {"daemon_pids", DaemonPids(cluster, ids)},
  };
  std::cout << out.dump() << std::endl;

  WaitForEnd();
  std::cerr << "cls-test-cluster: stopping\n";
  // SIGTERM first (the daemons' clean shutdown); ~Cluster kills whatever
  // is left and removes the directory.
  for (const auto& id : ids) cluster.StopSite(id, SIGTERM);
  cluster.StopCoordinator(SIGTERM);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = Parse(argc, argv);
  try {
    InstallHandlers();
    return Run(options);
  } catch (const std::exception& e) {
    std::cerr << "cls-test-cluster: " << e.what() << "\n";
    return 1;
  }
}
