// What must be refused, tried against the real daemons and shown refused.
#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <random>
#include <thread>

#include "crypto/tls_context.h"
#include "protocol/frame.h"
#include "tests/integration/cluster.h"

namespace cls::testing {
namespace {
using namespace std::chrono_literals;
namespace asio = boost::asio;

bool SiteConnected(Cluster& cluster, const std::string& id) {
  auto sites = cluster.Ctl({"sites", "list"}).Json();
  if (!sites.is_object()) return false;
  for (const auto& s : sites["sites"]) {
    if (s["site_id"] == id) return s["connected"].get<bool>();
  }
  return false;
}

TEST(RefusalIntegrationTest, SiteNobodyApprovedCannotJoin) {
  Cluster cluster;
  cluster.StartCoordinator("min_sites = 2");
  cluster.StartSite("HOSP_001");
  ASSERT_TRUE(WaitUntil(
      [&] {
        return cluster.Ctl({"sites", "list"}).Json()["sites"].size() == 1;
      },
      30s));
  auto site = cluster.Ctl({"sites", "list"}).Json()["sites"][0];
  EXPECT_EQ(site["status"], "pending");
  EXPECT_FALSE(site["connected"].get<bool>());
  EXPECT_TRUE(WaitUntil(
      [&] {
        return cluster.site("HOSP_001")
                   ->Log()
                   .find("awaits operator approval") != std::string::npos;
      },
      30s));
  EXPECT_EQ(cluster.Ctl({"status"}).Json()["sites"]["connected"], 0);
}

TEST(RefusalIntegrationTest, RevokedSiteCertificateIsRefused) {
  Cluster cluster;
  cluster.StartCoordinator("min_sites = 2");
  for (const char* id : {"HOSP_001", "HOSP_002"}) cluster.StartSite(id);
  cluster.ApproveAll({"HOSP_001", "HOSP_002"});
  cluster.StopCoordinator();
  ASSERT_EQ(cluster.Pki({"revoke", "HOSP_002"}).exit_code, 0);
  cluster.StartCoordinator("min_sites = 2");
  ASSERT_TRUE(
      WaitUntil([&] { return SiteConnected(cluster, "HOSP_001"); }, 60s));
  std::this_thread::sleep_for(3s);
  EXPECT_FALSE(SiteConnected(cluster, "HOSP_002"));
  EXPECT_NE(cluster.coordinator()->Log().find("certificate revoked"),
            std::string::npos);
  auto r = cluster.Ctl({"round", "start"});
  EXPECT_EQ(r.exit_code, 8);
  EXPECT_NE(r.error.find("Insufficient active sites: 1 < 2"), std::string::npos)
      << r.error;
}

// Issue 11: a hospital's agent refuses a neighbourhood smaller than its own
// minimum (default 3), whatever the coordinator asks, and says so in its log;
// the round then aborts without it and releases nothing.
TEST(RefusalIntegrationTest, SiteRefusesANeighbourhoodBelowItsMinimum) {
  Cluster cluster;
  cluster.StartCoordinator("min_sites = 2");
  cluster.StartSite("HOSP_001");
  SiteOptions strict;
  strict.min_neighbourhood = 0;  // the agent's default
  cluster.StartSite("HOSP_002", strict);
  cluster.ApproveAll({"HOSP_001", "HOSP_002"});
  ASSERT_EQ(cluster.Ctl({"round", "start"}).exit_code, 0);
  EXPECT_TRUE(WaitUntil(
      [&] {
        return cluster.site("HOSP_002")
                   ->Log()
                   .find(
                       "refused a neighbourhood of 2 sites, fewer than this "
                       "site's minimum of 3") != std::string::npos;
      },
      60s))
      << cluster.site("HOSP_002")->Log();
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto rounds = cluster.Ctl({"round", "history"}).Json()["rounds"];
        return rounds.size() == 1 && rounds[0]["status"] == "aborted";
      },
      90s));
  auto rounds = cluster.Ctl({"round", "history"}).Json()["rounds"];
  EXPECT_NE(rounds[0]["abort_reason"].get<std::string>().find(
                "advertise_keys: too few sites left: HOSP_001 has 1 live "
                "neighbours"),
            std::string::npos)
      << rounds[0].dump();
}

TEST(RefusalIntegrationTest, ViewerMayReadButNotStartRounds) {
  Cluster cluster;
  cluster.StartCoordinator();
  EXPECT_EQ(cluster.Ctl({"status"}, "viewer").exit_code, 0);
  auto r = cluster.Ctl({"round", "start"}, "viewer");
  EXPECT_EQ(r.exit_code, 6);
  EXPECT_NE(r.error.find("lacks permission round.start"), std::string::npos)
      << r.error;
}

TEST(RefusalIntegrationTest, SiteCertificateCannotUseTheAdminApi) {
  Cluster cluster;
  cluster.StartCoordinator();
  ASSERT_EQ(cluster.Pki({"issue", "site", "HOSP_009"}).exit_code, 0);
  auto r = cluster.Ctl({"status"}, "HOSP_009");
  EXPECT_EQ(r.exit_code, 6);
  EXPECT_NE(r.error.find("may not use the admin API"), std::string::npos)
      << r.error;
}

// An approved site that speaks garbage: it connects, says hello, then sends
// mutated frames, over and over, while honest sites run rounds.
int GarbleLoop(Cluster& cluster, const std::atomic<bool>& stop) {
  auto tls = crypto::MakeClientTlsContext(
      {cluster.Path("pki/ca.pem"), cluster.Path("pki/issued/MALLORY.pem"),
       cluster.Path("pki/issued/MALLORY.key"), ""});
  if (!tls) return -1;
  protocol::Hello hello{"MALLORY", "", "", 100, "0.1.0", ""};
  Bytes hello_frame = protocol::EncodeFrame(hello);
  protocol::MaskedInput input{1, std::vector<uint32_t>(8, 7), {}};
  Bytes input_frame = protocol::EncodeFrame(input);
  std::mt19937 rng(1234);
  int sent = 0;
  asio::io_context io;
  while (!stop) {
    try {
      asio::ssl::stream<asio::ip::tcp::socket> stream(io, **tls);
      asio::ip::tcp::resolver resolver(io);
      asio::connect(
          stream.next_layer(),
          resolver.resolve("127.0.0.1", std::to_string(cluster.site_port())));
      (void)crypto::SetServerHostName(stream.native_handle(), "127.0.0.1");
      stream.handshake(asio::ssl::stream_base::client);
      asio::write(stream, asio::buffer(hello_frame));
      for (int i = 0; i < 50 && !stop; ++i) {
        Bytes frame = (rng() % 2) ? input_frame : hello_frame;
        for (int flips = 1 + rng() % 4; flips > 0; --flips) {
          frame[rng() % frame.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
        }
        if (rng() % 5 == 0) frame.resize(rng() % frame.size());
        asio::write(stream, asio::buffer(frame));
        ++sent;
      }
    } catch (const std::exception&) {
      // The coordinator closed the connection: expected. Reconnect.
    }
  }
  return sent;
}

TEST(RefusalIntegrationTest, GarbledFramesDoNotDisturbAnHonestRound) {
  Cluster cluster;
  cluster.StartCoordinator("min_sites = 3");
  std::vector<std::string> honest = {"HOSP_001", "HOSP_002", "HOSP_003",
                                     "HOSP_004"};
  for (const auto& id : honest) cluster.StartSite(id);
  cluster.ApproveAll(honest);
  // MALLORY registers by saying hello once, then gets approved.
  ASSERT_EQ(cluster.Pki({"issue", "site", "MALLORY"}).exit_code, 0);
  std::atomic<bool> stop{false};
  int sent = 0;
  std::thread attacker([&] { sent = GarbleLoop(cluster, stop); });
  ASSERT_TRUE(WaitUntil(
      [&] {
        return cluster.Ctl({"sites", "approve", "MALLORY"}).exit_code == 0;
      },
      30s));

  auto rounds = cluster.RunRounds(3, 180s);
  stop = true;
  attacker.join();
  ASSERT_EQ(rounds.size(), 3u);
  for (const auto& r : rounds) {
    EXPECT_EQ(r["status"], "completed") << r.dump();
    for (const auto& id : honest) {
      EXPECT_NE(
          std::find(r["contributors"].begin(), r["contributors"].end(), id),
          r["contributors"].end())
          << id << " missing from round " << r["round_id"];
    }
  }
  EXPECT_GT(sent, 1000) << "the attacker should have sent thousands of frames";
  EXPECT_TRUE(cluster.coordinator()->Running());
  EXPECT_NE(cluster.coordinator()->Log().find("malformed frame"),
            std::string::npos);
}

}  // namespace
}  // namespace cls::testing
