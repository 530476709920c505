#include "site-agent/site_serving.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "site-agent/serving_test_util.h"
#include "site-agent/test_util.h"

namespace cls::site {
namespace {

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

TEST(SiteServingTest, ServesOverHttpsOnTheGivenIoContext) {
  TempDir dir;
  auto serving = SiteServing::Create(
      ServingConfig(dir), testing::ServingStandardiser(), std::nullopt);
  ASSERT_TRUE(serving);
  boost::asio::io_context io;
  // The [tls] files of this config do not exist: a clear error, no crash.
  auto port = (*serving)->Start(io);
  ASSERT_FALSE(port);
  EXPECT_EQ(port.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(port.error().message.find("cannot use certificate"),
            std::string::npos)
      << port.error().message;
}

// RunAgent stops serving (AgentOptions::on_stop) before its io_context is
// destroyed, and Stop destroys the server: its acceptor belongs to that
// io_context. Before, nothing stopped it and ~SiteServing closed the open
// acceptor after the io_context was gone (ASan: heap-use-after-free in
// reactive_socket_service_base::close from ~PredictionServer at every
// graceful shutdown of a serving site agent; this test without the Stop
// call below reproduces it).
TEST(SiteServingTest, StopReleasesThePortBeforeTheIoContextGoes) {
  TempDir dir;
  const auto pki = dir.path() / "pki";
  ASSERT_EQ(RunPki(pki, "init --name 'Serving Test CA'"), 0);
  ASSERT_EQ(RunPki(pki, "issue coordinator 127.0.0.1"), 0);
  AgentConfig config = ServingConfig(dir);
  config.tls.ca = (pki / "ca.pem").string();
  config.serve->cert = (pki / "issued" / "127.0.0.1.pem").string();
  config.serve->key = (pki / "issued" / "127.0.0.1.key").string();
  auto serving =
      SiteServing::Create(config, testing::ServingStandardiser(), std::nullopt);
  ASSERT_TRUE(serving) << serving.error().ToString();
  {
    boost::asio::io_context io;
    auto port = (*serving)->Start(io);
    ASSERT_TRUE(port) << port.error().ToString();
    io.poll();
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

}  // namespace
}  // namespace cls::site
