// Issue 14, severity responses end to end (docs/operations.md "Severity
// responses"): a hospital alone ([federation] federated = false) serves the
// deployed version; its outcomes turn bad, the site's monitor raises a
// performance drift alert of severity above 0.5 and the coordinator, with
// nothing to roll back to, notifies: it POSTs a JSON summary to the
// [drift] notify_webhook — a real HTTP receiver on loopback in this test
// process, which records it — queues a retraining round
// (retrain_on_drift = true), counts it on /metrics and audits it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/cluster.h"

namespace cls::testing {
namespace {
using namespace std::chrono_literals;
using nlohmann::json;

// A minimal HTTP/1.1 receiver: accepts on 127.0.0.1, reads one request per
// connection (headers and a Content-Length body), records it, answers 200.
class WebhookReceiver {
 public:
  WebhookReceiver() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~WebhookReceiver() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  std::vector<std::string> Requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void Serve() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      timeval tv{10, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      std::string data;
      char buf[4096];
      size_t want = std::string::npos;
      while (want == std::string::npos || data.size() < want) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        data.append(buf, static_cast<size_t>(n));
        const size_t end = data.find("\r\n\r\n");
        if (want == std::string::npos && end != std::string::npos) {
          size_t length = 0;
          std::string lower = data.substr(0, end);
          for (auto& ch : lower) ch = static_cast<char>(std::tolower(ch));
          if (auto p = lower.find("content-length:"); p != std::string::npos) {
            length = std::stoul(lower.substr(p + 15));
          }
          want = end + 4 + length;
        }
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(data);
      }
      const std::string answer =
          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
      ::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> requests_;
};

// Predictions and outcomes over mutual TLS: "good" answers each prediction
// with its own label, "bad" with the opposite. Prints {"served", "errors"}.
constexpr const char* kStream = R"PY(
prefix, n, mode = args
rng = random.Random(prefix)
served, errors = 0, 0
for i in range(int(n)):
    k = "%s-%05d" % (prefix, i)
    f = {"f1": rng.gauss(0, 1), "f2": rng.gauss(0, 1),
         "f3": rng.gauss(0, 1), "f4": rng.gauss(0, 1),
         "group": rng.choice([1, 2, 3])}
    status, text = call("/v1/predict", {"request_key": k, "features": f})
    if status != 200:
        errors += 1
        continue
    served += 1
    label = json.loads(text)["label"]
    outcome = label if mode == "good" else 1 - label
    if call("/v1/outcome", {"request_key": k, "outcome": outcome})[0] != 200:
        errors += 1
print(json.dumps({"served": served, "errors": errors}))
)PY";

json Events(Cluster& cluster, const std::string& type) {
  const std::string file = cluster.Path("audit.json");
  auto r = cluster.Ctl({"audit", "export", "--output", file}, "auditor");
  EXPECT_EQ(r.exit_code, 0) << r.error;
  auto text = RunCommand({"/bin/cat", file}).output;
  json doc = json::parse(text, nullptr, false);
  json out = json::array();
  if (doc.is_discarded()) return out;
  for (const auto& e : doc["entries"]) {
    if (e["event_type"] == type) out.push_back(e);
  }
  return out;
}

TEST(DriftResponseIntegrationTest, SevereDriftIsNotifiedToTheWebhook) {
  WebhookReceiver receiver;
  Cluster cluster;
  cluster.StartCoordinator(
      "[federation]\nfederated = false\n[drift]\nnotify_webhook = "
      "\"http://127.0.0.1:" +
      std::to_string(receiver.port()) +
      "/hooks/cls\"\nretrain_on_drift = true\n");
  const int serve_port = FreePort();
  SiteOptions options;
  options.allow_single_site = true;
  options.extra_toml = ServeSection(serve_port, "report_interval_s = 1\n");
  cluster.StartSite("HOSP_ALONE", options);
  cluster.ApproveAll({"HOSP_ALONE"});
  auto rounds = cluster.RunRounds(1, 180s);
  ASSERT_EQ(rounds.size(), 1u);
  ASSERT_EQ(rounds[0]["status"], "completed") << rounds[0].dump();
  const std::string v = rounds[0]["model_version"];
  ASSERT_EQ(cluster.Ctl({"versions", "deploy", v, "--strategy", "immediate"})
                .exit_code,
            0);
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto d = cluster.Ctl({"versions", "deployment"}).Json();
        return d.contains("sites") && d["sites"].size() == 1 &&
               d["sites"][0]["up_to_date"] == true;
      },
      30s));

  ASSERT_EQ(cluster.Pki({"issue", "ehr", "HOSP_ALONE-ehr"}).exit_code, 0);
  auto stream = [&](const std::string& prefix, const std::string& mode) {
    return cluster.RunEhrClient("HOSP_ALONE-ehr", serve_port, kStream,
                                {prefix, "400", mode}, 120s);
  };
  auto good = stream("enc-good", "good");
  ASSERT_EQ(good.exit_code, 0) << good.error;
  EXPECT_EQ(good.Json()["errors"], 0) << good.output;
  EXPECT_TRUE(receiver.Requests().empty());  // no drift, no notification
  auto bad = stream("enc-bad", "bad");
  ASSERT_EQ(bad.exit_code, 0) << bad.error;

  ASSERT_TRUE(WaitUntil([&] { return !receiver.Requests().empty(); }, 60s))
      << cluster.coordinator()->Log();
  const std::string request = receiver.Requests()[0];
  EXPECT_EQ(request.rfind("POST /hooks/cls HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("application/json"), std::string::npos);
  const json body = json::parse(request.substr(request.find("\r\n\r\n") + 4));
  EXPECT_EQ(body["event"], "drift_alert");
  EXPECT_EQ(body["site_id"], "HOSP_ALONE");
  EXPECT_EQ(body["response"], "notify");  // nothing to roll back to
  EXPECT_GT(body["max_severity"].get<double>(), 0.5);
  EXPECT_EQ(body["versions"], json::array({v}));
  EXPECT_TRUE(body["retraining_round"].is_number_integer()) << body.dump();
  // No request key, feature or outcome travels: the prefix of every
  // request key is absent.
  EXPECT_EQ(request.find("enc-"), std::string::npos);

  // The queued retraining round runs; the response is audited and counted.
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto h = cluster.Ctl({"round", "history"}).Json();
        return h.contains("rounds") && h["rounds"].size() >= 2 &&
               h["rounds"][0]["status"] != "running";
      },
      120s));
  json responses = Events(cluster, "drift_response");
  ASSERT_FALSE(responses.empty());
  bool notified = false;
  for (const auto& e : responses) {
    notified = notified || (e["response"] == "notify" &&
                            e["retraining_round"] == body["retraining_round"]);
  }
  EXPECT_TRUE(notified) << responses.dump();
  auto metrics =
      RunCommand({"/usr/bin/curl", "-s",
                  "http://127.0.0.1:" + std::to_string(cluster.metrics_port()) +
                      "/metrics"});
  const std::string sent = "cls_drift_notifications_total{result=\"sent\"} ";
  const size_t at = metrics.output.find(sent);
  ASSERT_NE(at, std::string::npos) << metrics.output.substr(0, 4000);
  EXPECT_GE(std::stoi(metrics.output.substr(at + sent.size())), 1);
  EXPECT_NE(
      metrics.output.find("cls_drift_responses_total{response=\"notify\"}"),
      std::string::npos);
}

}  // namespace
}  // namespace cls::testing
