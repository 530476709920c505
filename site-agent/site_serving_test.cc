#include "site-agent/site_serving.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "site-agent/serving_test_util.h"
#include "site-agent/test_util.h"

namespace cls::site {
namespace {

using testing::Client;
using testing::MakeUpdate;
using testing::MakeVersion;
using testing::RunPki;
using testing::TempDir;

AgentConfig ServingConfig(const TempDir& dir) {
  const std::string text = R"(
site_id = "HOSP_001"
coordinator = "127.0.0.1:7443"
data_dir = ")" + dir.path().string() +
                           R"("

[tls]
ca = "ca.pem"
cert = "site.pem"
key = "site.key"

[data]
csv = "heart.csv"
label_column = "num"

[[data.columns]]
name = "age"

[[data.columns]]
name = "chol"
zero_is_missing = true

[[data.columns]]
name = "cp"
kind = "categorical"
categories = [1, 2, 3, 4]

[serve]
listen = "127.0.0.1:0"
require_client_cert = false
report_interval_s = 60
)";
  auto config = ParseConfig(text, dir.path(), "site.toml");
  EXPECT_TRUE(config) << config.error().ToString();
  return *config;
}

TEST(SiteServingTest,
     AnswersADeploymentUpdateWithAnAckAndIgnoresOtherMessages) {
  TempDir dir;
  auto serving = SiteServing::Create(
      ServingConfig(dir), testing::ServingStandardiser(), std::nullopt);
  ASSERT_TRUE(serving) << serving.error().ToString();
  const ServedVersion v1 = MakeVersion("v1", 1);
  auto reply = (*serving)->OnMessage(
      MakeUpdate("dep-9", "immediate", v1, nullptr, 0, ""));
  ASSERT_TRUE(reply);
  const auto* ack = std::get_if<protocol::DeploymentAck>(&*reply);
  ASSERT_NE(ack, nullptr);
  EXPECT_TRUE(ack->accepted) << ack->reason;
  EXPECT_EQ(ack->deployment_id, "dep-9");
  EXPECT_EQ(ack->current_version, "v1");
  EXPECT_TRUE(std::filesystem::exists(dir.path() / kDeploymentFile));
  EXPECT_FALSE((*serving)->OnMessage(protocol::RoundAborted{}));
}

TEST(SiteServingTest, ReportsEveryIntervalAndOnlyWithSomethingToSay) {
  TempDir dir;
  const ServedVersion v1 = MakeVersion("v1", 1);
  GlobalModel latest{.round_id = 1,
                     .version = "v1",
                     .hash = v1.hash,
                     .parameters = v1.parameters};
  auto serving = SiteServing::Create(ServingConfig(dir),
                                     testing::ServingStandardiser(), latest);
  ASSERT_TRUE(serving) << serving.error().ToString();
  PredictionService& service = (*serving)->service();
  EXPECT_FALSE((*serving)->DueReport(1000));  // nothing recorded yet
  const nlohmann::json features = {{"age", 60}};
  ASSERT_TRUE(service.Predict("e1", features, 1000));
  ASSERT_TRUE(service.RecordOutcome("e1", 1, 1001));
  EXPECT_FALSE((*serving)->DueReport(1030));  // within report_interval_s
  auto report = (*serving)->DueReport(1060);
  ASSERT_TRUE(report);
  ASSERT_EQ(report->summaries.size(), 1u);
  EXPECT_EQ(report->reported_at_s, 1060);
}

TEST(SiteServingTest, ServesOverHttpsOnItsOwnThreads) {
  TempDir dir;
  auto serving = SiteServing::Create(
      ServingConfig(dir), testing::ServingStandardiser(), std::nullopt);
  ASSERT_TRUE(serving);
  // The [tls] files of this config do not exist: a clear error, no crash.
  auto port = (*serving)->Start();
  ASSERT_FALSE(port);
  EXPECT_EQ(port.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(port.error().message.find("cannot use certificate"),
            std::string::npos)
      << port.error().message;
}

// ServingConfig with a real PKI in dir/pki: the server's certificate is
// issued for 127.0.0.1.
AgentConfig ServingConfigWithPki(const TempDir& dir) {
  const auto pki = dir.path() / "pki";
  EXPECT_EQ(RunPki(pki, "init --name 'Serving Test CA'"), 0);
  EXPECT_EQ(RunPki(pki, "issue coordinator 127.0.0.1"), 0);
  AgentConfig config = ServingConfig(dir);
  config.tls.ca = (pki / "ca.pem").string();
  config.serve->cert = (pki / "issued" / "127.0.0.1.pem").string();
  config.serve->key = (pki / "issued" / "127.0.0.1.key").string();
  return config;
}

// Stop joins serving's threads and destroys the server before its
// io_context: the acceptor belongs to that io_context. (When serving ran on
// the agent's io_context, nothing stopped it and ~SiteServing closed the open
// acceptor after the io_context was gone (ASan: heap-use-after-free in
// reactive_socket_service_base::close from ~PredictionServer at every
// graceful shutdown of a serving site agent.)
TEST(SiteServingTest, StopReleasesThePortBeforeTheIoContextGoes) {
  TempDir dir;
  AgentConfig config = ServingConfigWithPki(dir);
  ASSERT_FALSE(::testing::Test::HasFailure());
  auto serving =
      SiteServing::Create(config, testing::ServingStandardiser(), std::nullopt);
  ASSERT_TRUE(serving) << serving.error().ToString();
  {
    boost::asio::io_context io;  // stands for the agent's io_context
    auto port = (*serving)->Start();
    ASSERT_TRUE(port) << port.error().ToString();
    (*serving)->Stop();
    // The port is free again at once.
    boost::asio::ip::tcp::acceptor again(io);
    boost::system::error_code ec;
    again.open(boost::asio::ip::tcp::v4(), ec);
    again.bind({boost::asio::ip::make_address("127.0.0.1"), *port}, ec);
    EXPECT_FALSE(ec) << ec.message();
  }
  // The io_context is gone; SiteServing still lives and is destroyed last,
  // as in the agent's main.
  serving->reset();
}

// A hospital's prediction must not wait for the agent's protocol thread:
// that thread trains for a whole round (seconds to minutes). Here the
// agent's io_context is kept busy by a stand-in for training while a client
// asks for /healthz. Before serving had its own threads, the server ran on
// the agent's io_context and the handshake timed out after 10 s.
TEST(SiteServingTest, AnswersWhileTheAgentThreadIsBusyTraining) {
  TempDir dir;
  AgentConfig config = ServingConfigWithPki(dir);
  ASSERT_FALSE(::testing::Test::HasFailure());
  const ServedVersion v1 = MakeVersion("v1", 2.0f);
  auto serving = SiteServing::Create(
      config, testing::ServingStandardiser(),
      GlobalModel{1, v1.version_id, v1.hash, v1.parameters});
  ASSERT_TRUE(serving) << serving.error().ToString();

  boost::asio::io_context agent_io;
  auto port = (*serving)->Start();
  ASSERT_TRUE(port) << port.error().ToString();
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  boost::asio::post(agent_io, [released] {
    released.wait_for(std::chrono::seconds(30));  // "training"
  });
  std::thread agent_thread([&] { agent_io.run(); });

  auto tls = std::make_shared<boost::asio::ssl::context>(
      boost::asio::ssl::context::tls_client);
  tls->load_verify_file(config.tls.ca);
  tls->set_verify_mode(boost::asio::ssl::verify_peer);
  // The client runs on its own thread, so a server that does not answer
  // fails the test after 5 s instead of hanging it.
  auto call = std::async(std::launch::async, [&] {
    Client client(tls, *port);
    if (auto ec = client.Handshake()) {
      return testing::Reply{-1, "handshake: " + ec.message(), ""};
    }
    return client.Call(boost::beast::http::verb::get, "/healthz");
  });
  const bool answered =
      call.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  release.set_value();
  const testing::Reply health = call.get();
  agent_io.stop();
  agent_thread.join();
  (*serving)->Stop();

  EXPECT_TRUE(answered)
      << "no answer within 5 s while the agent's thread was busy";
  EXPECT_EQ(health.status, 200) << health.body;
}

// Serving threads read the standardisation while the agent's thread swaps
// it: every row comes out standardised wholly by the old or wholly by the
// new statistics.
TEST(StandardisationTest, ASwapIsSeenWholeByConcurrentReaders) {
  core::RawTable other;
  other.rows = {{20, 100, 1}, {90, 500, 4}, {30, 150, 2}};
  other.labels = {0, 1, 0};
  const core::Preprocessor a = testing::ServingPreprocessor();
  const core::Preprocessor b =
      *core::Preprocessor::Fit(testing::ServingSchema(), other, {0, 1, 2});
  core::RawTable row;
  row.rows = {{55, 260, 3}};
  row.labels = {0};
  const Eigen::MatrixXf xa = a.Transform(row, {0});
  const Eigen::MatrixXf xb = b.Transform(row, {0});
  ASSERT_FALSE(xa.isApprox(xb));

  auto standardisation = std::make_shared<Standardisation>(a);
  const auto standardise = Standardisation::Standardiser(standardisation);
  std::atomic<bool> done{false};
  std::atomic<int> mixed{0}, reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!done.load()) {
        const Eigen::MatrixXf x = standardise(row);
        if (x != xa && x != xb) mixed.fetch_add(1);
        reads.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < 2000; ++i) standardisation->Set(i % 2 ? a : b);
  // Readers keep reading a while after the last swap too.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (reads.load() < 1000 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  done.store(true);
  for (auto& r : readers) r.join();
  EXPECT_EQ(mixed.load(), 0);
  EXPECT_GE(reads.load(), 1000);
  EXPECT_EQ(standardise(row), xa);  // the last Set
}

}  // namespace
}  // namespace cls::site
