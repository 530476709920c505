// Severity responses (docs/drift.md "Severity responses"): the thresholds,
// the audit entry of each response, retraining, and the webhook POSTed to a
// real HTTP receiver on loopback in this process (Boost.Beast), including a
// receiver that never answers (the timeout) and one that is not there.

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <memory>
#include <optional>

#include "coordinator/deployment/drift_responder.h"
#include "coordinator/deployment/drift_webhook.h"
#include "coordinator/sites/fake_site_connection.h"

namespace cls::coordinator {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;
using nlohmann::json;
using testing::AuditEntries;

// Accepts connections on a free loopback port; records each request and
// answers `status`, or never answers when `silent`.
class Receiver {
 public:
  Receiver(boost::asio::io_context& io, unsigned status, bool silent)
      : acceptor_(io, {boost::asio::ip::make_address("127.0.0.1"), 0}),
        status_(status),
        silent_(silent) {
    Accept();
  }
  int port() const { return acceptor_.local_endpoint().port(); }
  std::vector<http::request<http::string_body>> requests;

 private:
  struct Conn {
    explicit Conn(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::response<http::string_body> response;
  };
  void Accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      auto c = std::make_shared<Conn>(std::move(socket));
      held_.push_back(c);
      http::async_read(c->socket, c->buffer, c->request,
                       [this, c](beast::error_code ec, std::size_t) {
                         if (ec) return;
                         requests.push_back(c->request);
                         if (silent_) return;  // held open, never answered
                         c->response.result(status_);
                         c->response.version(11);
                         c->response.body() = "{}";
                         c->response.prepare_payload();
                         http::async_write(
                             c->socket, c->response,
                             [c](beast::error_code, std::size_t) {});
                       });
      Accept();
    });
  }
  tcp::acceptor acceptor_;
  unsigned status_;
  bool silent_;
  std::vector<std::shared_ptr<Conn>> held_;
};

class DriftResponderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cls-drift-responder-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store_ = std::move(*CoordinatorStore::Open((dir_ / "c.db").string()));
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  static StoredAlert Alert(double severity,
                           std::string type = "performance_drift") {
    return {
        0, "HOSP_A", "v3_20261207_060000", std::move(type), severity, "adwin",
        1, 2};
  }
  void RunUntil(const std::function<bool()>& done) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io_.run_for(std::chrono::milliseconds(5));
      io_.restart();
    }
  }
  // A responder with the webhook at `port` (0: none) and counters.
  std::unique_ptr<DriftResponder> Responder(int port, bool retrain) {
    config_.drift.retrain_on_drift = retrain;
    config_.drift.webhook_timeout_ms = 300;
    DriftResponseActions actions;
    if (port > 0) {
      WebhookUrl url{"127.0.0.1", std::to_string(port), "/hooks/drift"};
      webhook_ = std::make_unique<DriftWebhook>(io_, url,
                                                std::chrono::milliseconds(300));
      actions.notify = [this](std::string body,
                              std::function<void(Status)> done) {
        webhook_->Post(std::move(body), std::move(done));
      };
    }
    actions.queue_training_round = [this]() -> Result<int64_t> {
      ++rounds_queued_;
      if (rounds_queued_ > 1) {
        return FailedPrecondition("1 requested rounds are still queued");
      }
      return 7;
    };
    actions.count_response = [this](DriftResponse r) {
      ++responses_[std::string(DriftResponseName(r))];
    };
    actions.count_notification = [this](bool sent) {
      ++(sent ? sent_ : failed_);
    };
    return std::make_unique<DriftResponder>(config_, *store_,
                                            std::move(actions));
  }

  std::filesystem::path dir_;
  boost::asio::io_context io_;
  CoordinatorConfig config_;
  std::unique_ptr<CoordinatorStore> store_;
  std::unique_ptr<DriftWebhook> webhook_;
  int rounds_queued_ = 0;
  std::map<std::string, int> responses_;
  int sent_ = 0, failed_ = 0;
};

TEST_F(DriftResponderTest, SeverityThresholdsAreTheGuides) {
  EXPECT_EQ(ClassifyDriftSeverity(0.81, config_), DriftResponse::kRollback);
  EXPECT_EQ(ClassifyDriftSeverity(0.8, config_), DriftResponse::kNotify);
  EXPECT_EQ(ClassifyDriftSeverity(0.51, config_), DriftResponse::kNotify);
  EXPECT_EQ(ClassifyDriftSeverity(0.5, config_), DriftResponse::kRecord);
  config_.drift.notify_severity = 0.3;
  EXPECT_EQ(ClassifyDriftSeverity(0.4, config_), DriftResponse::kNotify);
}

TEST_F(DriftResponderTest, MinorDriftIsRecordedOnly) {
  Receiver receiver(io_, 200, false);
  auto responder = Responder(receiver.port(), true);
  responder->OnReport("HOSP_A", {Alert(0.3), Alert(0.45, "data_drift")}, false);
  io_.run_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(receiver.requests.empty());
  EXPECT_EQ(rounds_queued_, 0);
  EXPECT_EQ(responses_["record"], 1);
  auto entries = AuditEntries(*store_, "drift_response");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].fields["response"], "record");
  EXPECT_EQ(entries[0].fields["alerts"], 2);
  EXPECT_EQ(entries[0].fields["by_type"]["data_drift"], 1);
  // A report without alerts gets no response at all.
  responder->OnReport("HOSP_A", {}, false);
  EXPECT_EQ(AuditEntries(*store_, "drift_response").size(), 1u);
}

TEST_F(DriftResponderTest, ModerateDriftPostsASummaryAndQueuesRetraining) {
  Receiver receiver(io_, 200, false);
  auto responder = Responder(receiver.port(), true);
  responder->OnReport("HOSP_A", {Alert(0.62), Alert(0.2, "data_drift")}, false);
  RunUntil([&] { return sent_ == 1; });
  ASSERT_EQ(receiver.requests.size(), 1u);
  const auto& request = receiver.requests[0];
  EXPECT_EQ(request.method(), http::verb::post);
  EXPECT_EQ(request.target(), "/hooks/drift");
  EXPECT_EQ(request[http::field::content_type], "application/json");
  const json body = json::parse(request.body());
  EXPECT_EQ(body["event"], "drift_alert");
  EXPECT_EQ(body["response"], "notify");
  EXPECT_EQ(body["site_id"], "HOSP_A");
  EXPECT_EQ(body["alerts"], 2);
  EXPECT_DOUBLE_EQ(body["max_severity"].get<double>(), 0.62);
  EXPECT_EQ(body["retraining_round"], 7);
  EXPECT_EQ(body["versions"], json::array({"v3_20261207_060000"}));
  // Counts only: nothing beyond the summary's keys.
  for (const auto& [key, _] : body.items()) {
    EXPECT_TRUE(key == "event" || key == "coordinator_id" || key == "site_id" ||
                key == "response" || key == "alerts" || key == "by_type" ||
                key == "versions" || key == "max_severity" ||
                key == "retraining_round")
        << key;
  }
  EXPECT_EQ(rounds_queued_, 1);
  auto entries = AuditEntries(*store_, "drift_response");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].fields["response"], "notify");
  EXPECT_EQ(entries[0].fields["retraining_round"], 7);
  EXPECT_EQ(entries[0].fields["webhook"], "sent");
  // A second report while a round is queued: notified, not queued again,
  // and the audit entry says why.
  responder->OnReport("HOSP_A", {Alert(0.7)}, false);
  RunUntil([&] { return sent_ == 2; });
  entries = AuditEntries(*store_, "drift_response");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_TRUE(entries[1].fields["retraining_round"].is_null());
  EXPECT_NE(entries[1].fields["retraining_not_queued"].get<std::string>().find(
                "queued"),
            std::string::npos);
  EXPECT_EQ(responses_["notify"], 2);
}

TEST_F(DriftResponderTest, SevereDriftIsARollbackWhenTheManagerRolledBack) {
  Receiver receiver(io_, 200, false);
  auto responder = Responder(receiver.port(), false);
  responder->OnReport("HOSP_A", {Alert(0.95)}, true);
  RunUntil([&] { return sent_ == 1; });
  EXPECT_EQ(json::parse(receiver.requests.at(0).body())["response"],
            "rollback");
  // Severe, but nothing was rolled back (no candidate): the team is told.
  responder->OnReport("HOSP_A", {Alert(0.95)}, false);
  RunUntil([&] { return sent_ == 2; });
  EXPECT_EQ(json::parse(receiver.requests.at(1).body())["response"], "notify");
  EXPECT_EQ(rounds_queued_, 0);  // retrain_on_drift = false
  EXPECT_EQ(responses_["rollback"], 1);
}

TEST_F(DriftResponderTest, FailedDeliveriesAreCountedNotWaitedFor) {
  {
    // A receiver that answers 500.
    Receiver receiver(io_, 500, false);
    auto responder = Responder(receiver.port(), false);
    responder->OnReport("HOSP_A", {Alert(0.6)}, false);
    RunUntil([&] { return failed_ == 1; });
    EXPECT_EQ(failed_, 1);
    EXPECT_EQ(receiver.requests.size(), 1u);
  }
  {
    // One that never answers: the 300 ms deadline ends it.
    Receiver receiver(io_, 200, true);
    auto responder = Responder(receiver.port(), false);
    const auto start = std::chrono::steady_clock::now();
    responder->OnReport("HOSP_A", {Alert(0.6)}, false);
    // OnReport returned before any answer could come.
    EXPECT_EQ(failed_, 1);
    RunUntil([&] { return failed_ == 2; });
    EXPECT_EQ(failed_, 2);
    EXPECT_LT(std::chrono::steady_clock::now() - start,
              std::chrono::seconds(15));
  }
  {
    // Nobody listening.
    int port = 0;
    {
      Receiver gone(io_, 200, false);
      port = gone.port();
    }
    auto responder = Responder(port, false);
    responder->OnReport("HOSP_A", {Alert(0.6)}, false);
    RunUntil([&] { return failed_ == 3; });
    EXPECT_EQ(failed_, 3);
  }
  EXPECT_EQ(sent_, 0);
  EXPECT_EQ(AuditEntries(*store_, "drift_response").size(), 3u);
}

TEST(WebhookUrlTest, ParsesHttpUrlsAndRefusesTheRest) {
  auto u = ParseWebhookUrl("http://alerts.example.org:8080/hooks/cls");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->host, "alerts.example.org");
  EXPECT_EQ(u->port, "8080");
  EXPECT_EQ(u->target, "/hooks/cls");
  auto bare = ParseWebhookUrl("http://10.0.0.5");
  ASSERT_TRUE(bare.has_value());
  EXPECT_EQ(bare->port, "80");
  EXPECT_EQ(bare->target, "/");
  auto v6 = ParseWebhookUrl("http://[::1]:9000/x");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, "9000");
  for (const char* bad :
       {"https://a.example/x", "http://user:pw@a.example/", "http://:80/",
        "http://a.example:0/", "http://a.example:99999/", "ftp://a",
        "http://a.example/x y", "http://a.example/#frag"}) {
    EXPECT_FALSE(ParseWebhookUrl(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace cls::coordinator
