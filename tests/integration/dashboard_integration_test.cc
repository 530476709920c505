// `clsctl dashboard` against the real daemons, looked at by a real browser:
// a three-site federation runs two rounds, clsctl serves the dashboard with
// the admin's certificate, and Debian's headless Chromium loads every page
// (DOM and screenshot). Then what must be refused is shown refused: no
// session, the link used twice, a foreign Host, and a viewer's dashboard
// trying to approve a site.
#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/integration/cluster.h"

namespace cls::testing {
namespace {
using namespace std::chrono_literals;
namespace http = boost::beast::http;
const std::vector<std::string> kSites = {"HOSP_001", "HOSP_002", "HOSP_003"};
const std::vector<std::string> kPages = {"overview", "rounds", "privacy",
                                         "trust",    "drift",  "audit"};
constexpr const char* kChromium = "/usr/bin/chromium";

struct Reply {
  int status = 0;
  std::string body;
  std::string location;
  std::string cookie;  // name=value of Set-Cookie
};

// One plain HTTP/1.1 request to the dashboard on 127.0.0.1.
Reply Request(int port, http::verb verb, const std::string& target,
              const std::string& host, const std::string& cookie = "",
              const std::string& body = "") {
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect(
      {asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)});
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, host);
  if (!cookie.empty()) req.set(http::field::cookie, cookie);
  req.set("X-CLS-Dashboard", "1");
  req.keep_alive(false);
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::write(socket, req);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res);
  const std::string set_cookie(res[http::field::set_cookie]);
  return {static_cast<int>(res.result_int()), res.body(),
          std::string(res[http::field::location]),
          set_cookie.substr(0, set_cookie.find(';'))};
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A running `clsctl dashboard` and the link it printed.
struct Dashboard {
  std::unique_ptr<Process> process;
  std::string url;  // http://127.0.0.1:PORT/?token=...
  int port = 0;
  std::string token;
};

Dashboard StartDashboard(Cluster& cluster, const std::string& identity) {
  Dashboard d;
  // A log of its own: an earlier dashboard's link must not be read.
  static int started = 0;
  const std::string log = cluster.Path("dashboard-" + identity + "-" +
                                       std::to_string(++started) + ".log");
  d.process = std::make_unique<Process>(
      std::vector<std::string>{
          BinaryPath("clsctl"), "--coordinator",
          "127.0.0.1:" + std::to_string(cluster.admin_port()), "--ca",
          cluster.Path("pki/ca.pem"), "--cert",
          cluster.Path("pki/issued/" + identity + ".pem"), "--key",
          cluster.Path("pki/issued/" + identity + ".key"), "dashboard",
          "--port", "0"},
      log);
  const std::regex link(
      R"(Dashboard: (http://127\.0\.0\.1:(\d+)/\?token=([0-9a-f]{64}))\n)");
  std::smatch m;
  EXPECT_TRUE(WaitUntil(
      [&] {
        const std::string text = d.process->Log();
        if (!std::regex_search(text, m, link)) return false;
        d.url = m[1];
        d.port = std::stoi(m[2]);
        d.token = m[3];
        return true;
      },
      30s))
      << d.process->Log();
  return d;
}

struct BrowserRun {
  std::string dom;
  std::string stderr_text;
};

// Headless Chromium with a profile of its own in `profile` (it keeps the
// session cookie between runs, as a browser the operator keeps open does).
BrowserRun Chromium(const std::string& profile, const std::string& url,
                    const std::string& screenshot = "") {
  std::vector<std::string> argv = {
      kChromium, "--headless", "--no-sandbox", "--disable-gpu",
      "--user-data-dir=" + profile, "--no-first-run", "--disable-extensions",
      "--disable-background-networking", "--disable-component-update",
      "--enable-logging=stderr", "--v=0",
      // Time the page's timers may use: its fetches and first render.
      "--virtual-time-budget=8000"};
  if (screenshot.empty()) {
    argv.push_back("--dump-dom");
  } else {
    argv.push_back("--screenshot=" + screenshot);
    argv.push_back("--window-size=1280,900");
    argv.push_back("--hide-scrollbars");
  }
  argv.push_back(url);
  CommandResult r = RunCommand(argv, 120s);
  EXPECT_EQ(r.exit_code, 0) << r.error;
  return {r.output, r.error};
}

// The text of the element with `id` in a DOM dump ("" when empty).
std::string ElementText(const std::string& dom, const std::string& id) {
  std::smatch m;
  std::regex element("id=\"" + id + "\"[^>]*>([^<]*)<");
  if (!std::regex_search(dom, m, element)) return "<no element " + id + ">";
  return m[1];
}

// Console messages Chromium logged (errors, failed loads, uncaught
// exceptions); the page itself logs nothing.
std::vector<std::string> ConsoleLines(const std::string& stderr_text) {
  std::vector<std::string> out;
  std::istringstream in(stderr_text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(":CONSOLE(") != std::string::npos ||
        line.find("Uncaught") != std::string::npos) {
      out.push_back(line);
    }
  }
  return out;
}

void ExpectPng(const std::string& path) {
  const std::string png = ReadFile(path);
  ASSERT_GT(png.size(), 20000u) << path << ": too small for a page";
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << path;
  auto be32 = [&](size_t at) {
    return (static_cast<uint32_t>(static_cast<uint8_t>(png[at])) << 24) |
           (static_cast<uint32_t>(static_cast<uint8_t>(png[at + 1])) << 16) |
           (static_cast<uint32_t>(static_cast<uint8_t>(png[at + 2])) << 8) |
           static_cast<uint32_t>(static_cast<uint8_t>(png[at + 3]));
  };
  EXPECT_EQ(png.substr(12, 4), "IHDR") << path;
  EXPECT_EQ(be32(16), 1280u) << path;
  EXPECT_EQ(be32(20), 900u) << path;
}

class DashboardIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new Cluster();
    // Privacy accounting on, so the privacy page has rounds to plot.
    cluster_->StartCoordinator(
        "min_sites = 3\n[privacy]\nmode = \"central\"\n"
        "privacy_epsilon = 2.0\nbudget_epsilon = 10.0");
    for (const auto& id : kSites) cluster_->StartSite(id);
    cluster_->ApproveAll(kSites);
    rounds_ = cluster_->RunRounds(2, 240s);
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  static Cluster* cluster_;
  static nlohmann::json rounds_;
};
Cluster* DashboardIntegrationTest::cluster_ = nullptr;
nlohmann::json DashboardIntegrationTest::rounds_;

TEST_F(DashboardIntegrationTest, EveryPageRendersInHeadlessChromium) {
  ASSERT_TRUE(std::filesystem::exists(kChromium))
      << "scripts/install-deps.sh installs chromium";
  ASSERT_EQ(rounds_.size(), 2u) << rounds_.dump();
  int completed = 0;
  for (const auto& r : rounds_) completed += r["status"] == "completed";
  ASSERT_EQ(completed, 2) << rounds_.dump();

  Dashboard d = StartDashboard(*cluster_, "admin");
  ASSERT_FALSE(d.url.empty());
  const std::string base = "http://127.0.0.1:" + std::to_string(d.port) + "/";
  const std::string profile = cluster_->Path("chromium-admin");
  const std::string shots =
      std::string(CLS_BIN_DIR) + "/../dashboard-screenshots";
  std::filesystem::create_directories(shots);

  for (size_t i = 0; i < kPages.size(); ++i) {
    const std::string& page = kPages[i];
    SCOPED_TRACE(page);
    // The first load spends the one-time link; the profile's cookie opens
    // the rest.
    const std::string url = (i == 0 ? d.url : base) + "#/" + page;
    BrowserRun run = Chromium(profile, url);
    EXPECT_NE(run.dom.find("data-page=\"" + page + "\""), std::string::npos)
        << run.dom.substr(0, 2000);
    for (const auto& site : kSites) {
      EXPECT_NE(run.dom.find(site), std::string::npos) << site;
    }
    EXPECT_EQ(ElementText(run.dom, "rounds-completed"), "2");
    EXPECT_EQ(ElementText(run.dom, "js-errors"), "");
    EXPECT_EQ(ElementText(run.dom, "notice"), "");
    EXPECT_EQ(ConsoleLines(run.stderr_text), std::vector<std::string>{});

    const std::string png = shots + "/" + page + ".png";
    std::filesystem::remove(png);
    BrowserRun shot = Chromium(profile, base + "#/" + page, png);
    EXPECT_EQ(ConsoleLines(shot.stderr_text), std::vector<std::string>{});
    ExpectPng(png);

    // What each page is for, from the coordinator's own numbers.
    if (page == "overview") {
      EXPECT_NE(run.dom.find("data-action=\"deploy\""), std::string::npos)
          << "an admin may deploy an earlier version";
      EXPECT_NE(run.dom.find(rounds_[1]["model_version"].get<std::string>()),
                std::string::npos);
    } else if (page == "rounds") {
      EXPECT_NE(run.dom.find("<canvas"), std::string::npos);
    } else if (page == "privacy") {
      EXPECT_NE(run.dom.find("id=\"privacy-left\""), std::string::npos);
      EXPECT_NE(run.dom.find("<canvas"), std::string::npos);
    } else if (page == "audit") {
      EXPECT_NE(ElementText(run.dom, "audit-verified").find("verified"),
                std::string::npos);
    }
  }
  EXPECT_EQ(d.process->Stop(SIGTERM, 10s), 0) << d.process->Log();
}

TEST_F(DashboardIntegrationTest,
       WithoutTheLinkOrFromAnotherHostNothingIsServed) {
  Dashboard d = StartDashboard(*cluster_, "admin");
  ASSERT_GT(d.port, 0);
  const std::string host = "127.0.0.1:" + std::to_string(d.port);
  // No token, no cookie.
  EXPECT_EQ(Request(d.port, http::verb::get, "/", host).status, 401);
  EXPECT_EQ(Request(d.port, http::verb::get, "/v1/status", host).status, 401);
  // A rebinding page: its own name in Host, even with the right token.
  EXPECT_EQ(Request(d.port, http::verb::get, "/?token=" + d.token,
                    "attacker.example:" + std::to_string(d.port))
                .status,
            403);
  // The link works once...
  Reply first = Request(d.port, http::verb::get, "/?token=" + d.token, host);
  EXPECT_EQ(first.status, 303);
  EXPECT_EQ(first.location, "/");
  ASSERT_FALSE(first.cookie.empty());
  // ...and is refused the second time.
  Reply second = Request(d.port, http::verb::get, "/?token=" + d.token, host);
  EXPECT_EQ(second.status, 401);
  EXPECT_NE(second.body.find("already used"), std::string::npos);
  // The cookie reaches the coordinator, as the admin.
  Reply status =
      Request(d.port, http::verb::get, "/v1/status", host, first.cookie);
  ASSERT_EQ(status.status, 200) << status.body;
  EXPECT_EQ(nlohmann::json::parse(status.body)["caller"]["role"], "admin");
  // A forged cookie (its last hex digit changed) does not.
  std::string forged = first.cookie;
  forged.back() = forged.back() == '0' ? '1' : '0';
  EXPECT_EQ(Request(d.port, http::verb::get, "/v1/status", host, forged).status,
            401);
  // And a non-loopback listen address is refused outright.
  CommandResult open =
      cluster_->Ctl({"dashboard", "--port", "0", "--listen-host", "0.0.0.0"});
  EXPECT_EQ(open.exit_code, 1) << open.output << open.error;
  EXPECT_NE(open.output.find("loopback"), std::string::npos) << open.output;
  EXPECT_EQ(d.process->Stop(SIGINT, 10s), 0) << d.process->Log();
}

TEST_F(DashboardIntegrationTest, AViewersDashboardCannotApproveOrDeploy) {
  Dashboard d = StartDashboard(*cluster_, "viewer");
  ASSERT_GT(d.port, 0);
  const std::string host = "127.0.0.1:" + std::to_string(d.port);
  // The browser spends the link; the page must not offer what the role
  // cannot do.
  BrowserRun run = Chromium(cluster_->Path("chromium-viewer"), d.url);
  for (const auto& site : kSites) {
    EXPECT_NE(run.dom.find(site), std::string::npos) << site;
  }
  EXPECT_NE(run.dom.find("(viewer)"), std::string::npos);
  EXPECT_EQ(run.dom.find("data-action="), std::string::npos)
      << "no approve, deploy, rollback or reinstate control for a viewer";
  EXPECT_EQ(ElementText(run.dom, "js-errors"), "");

  // Forwarded by hand: the coordinator refuses the viewer's certificate.
  Dashboard d2 = StartDashboard(*cluster_, "viewer");
  const std::string host2 = "127.0.0.1:" + std::to_string(d2.port);
  Reply login = Request(d2.port, http::verb::get, "/?token=" + d2.token, host2);
  ASSERT_EQ(login.status, 303);
  Reply approve = Request(d2.port, http::verb::post,
                          "/v1/sites/HOSP_001/approve", host2, login.cookie);
  EXPECT_EQ(approve.status, 403) << approve.body;
  EXPECT_NE(approve.body.find("site.approve"), std::string::npos)
      << approve.body;
  Reply deploy =
      Request(d2.port, http::verb::post,
              "/v1/versions/" + rounds_[0]["model_version"].get<std::string>() +
                  "/deploy",
              host2, login.cookie, R"({"strategy":"immediate"})");
  EXPECT_EQ(deploy.status, 403) << deploy.body;
  (void)host;
}

// Issue 14: with the coordinator's cross-site privacy off, the privacy
// page and the overview say so (no epsilon figure that could read as
// "nothing spent") and list the DP-SGD site's record-level epsilon; before,
// /v1/privacy answered 409 and the pages showed "privacy accounting is off"
// only.
TEST(DashboardPrivacyOffTest, ShowsOffAndTheSitesRecordLevelEpsilon) {
  ASSERT_TRUE(std::filesystem::exists(kChromium))
      << "scripts/install-deps.sh installs chromium";
  Cluster cluster;
  cluster.StartCoordinator("min_sites = 2");  // [privacy] mode = "off"
  SiteOptions dp;
  dp.extra_toml =
      "[privacy]\ndp_sgd = true\ntarget_epsilon = 8.5\nclip_norm = 1.0\n"
      "noise_multiplier = 1.1\n";
  cluster.StartSite("HOSP_DP", dp);
  cluster.StartSite("HOSP_B");
  cluster.ApproveAll({"HOSP_DP", "HOSP_B"});
  auto rounds = cluster.RunRounds(1, 120s);
  ASSERT_EQ(rounds.size(), 1u);
  ASSERT_EQ(rounds[0]["status"], "completed") << rounds[0].dump();
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto j = cluster.Ctl({"privacy", "status"}).Json();
        return j.is_object() && j["record_level"].size() == 1;
      },
      30s));

  Dashboard d = StartDashboard(cluster, "admin");
  ASSERT_FALSE(d.url.empty());
  const std::string base = "http://127.0.0.1:" + std::to_string(d.port) + "/";
  const std::string profile = cluster.Path("chromium-privacy-off");
  for (const std::string page : {"privacy", "overview"}) {
    SCOPED_TRACE(page);
    BrowserRun run =
        Chromium(profile, (page == "privacy" ? d.url : base) + "#/" + page);
    EXPECT_NE(run.dom.find("data-page=\"" + page + "\""), std::string::npos)
        << run.dom.substr(0, 2000);
    EXPECT_NE(run.dom.find("cross-site differential privacy: off"),
              std::string::npos)
        << run.dom;
    EXPECT_NE(run.dom.find("id=\"privacy-record-level\""), std::string::npos)
        << run.dom;
    EXPECT_EQ(run.dom.find("id=\"privacy-left\""), std::string::npos);
    EXPECT_EQ(ElementText(run.dom, "js-errors"), "");
    EXPECT_EQ(ConsoleLines(run.stderr_text), std::vector<std::string>{});
  }
  EXPECT_EQ(d.process->Stop(SIGINT, 10s), 0) << d.process->Log();
}

}  // namespace
}  // namespace cls::testing
