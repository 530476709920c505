// The coordinator's site port under a certificate holder who does not play
// by the rules: frames before Hello, too many connections, impossible sample
// counts. Real coordinator process, real mutual TLS over loopback.
#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "crypto/tls_context.h"
#include "protocol/frame.h"
#include "tests/integration/cluster.h"

namespace cls::testing {
namespace {
using namespace std::chrono_literals;
namespace asio = boost::asio;

// Resident memory of a process, from /proc/PID/status (VmRSS, kB).
int64_t ResidentKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

// A hand-driven site connection: mutual TLS with a site certificate issued
// by the cluster's CA, then whatever bytes the test writes. Blocking calls.
class RawSiteConnection {
 public:
  RawSiteConnection(Cluster& cluster, const std::string& site_id)
      : cluster_(cluster), site_id_(site_id) {}

  // TCP connect and TLS handshake; the error text on failure, "" on success.
  std::string Connect() {
    auto tls = crypto::MakeClientTlsContext(
        {cluster_.Path("pki/ca.pem"),
         cluster_.Path("pki/issued/" + site_id_ + ".pem"),
         cluster_.Path("pki/issued/" + site_id_ + ".key"), ""});
    if (!tls) return tls.error().message;
    tls_ = *tls;
    stream_ =
        std::make_unique<asio::ssl::stream<asio::ip::tcp::socket>>(io_, *tls_);
    try {
      asio::ip::tcp::resolver resolver(io_);
      asio::connect(
          stream_->next_layer(),
          resolver.resolve("127.0.0.1", std::to_string(cluster_.site_port())));
      (void)crypto::SetServerHostName(stream_->native_handle(), "127.0.0.1");
      stream_->handshake(asio::ssl::stream_base::client);
    } catch (const std::exception& e) {
      return std::string("handshake: ") + e.what();
    }
    return "";
  }

  bool Write(ByteSpan bytes) {
    boost::system::error_code ec;
    asio::write(*stream_, asio::buffer(bytes.data(), bytes.size()), ec);
    return !ec;
  }

  // Reads one frame: "rejected: REASON", "message: NAME", or "closed: WHY".
  std::string ReadFrame() {
    std::array<uint8_t, protocol::kFrameHeaderBytes> header_bytes;
    boost::system::error_code ec;
    asio::read(*stream_, asio::buffer(header_bytes), ec);
    if (ec) return "closed: " + ec.message();
    auto header = protocol::DecodeFrameHeader(header_bytes);
    if (!header) return "closed: bad header: " + header.error().message;
    Bytes frame(header_bytes.begin(), header_bytes.end());
    frame.resize(protocol::kFrameHeaderBytes + header->length);
    asio::read(*stream_,
               asio::buffer(frame.data() + protocol::kFrameHeaderBytes,
                            header->length),
               ec);
    if (ec) return "closed: " + ec.message();
    auto message = protocol::DecodeFrame(frame);
    if (!message) return "closed: bad frame: " + message.error().message;
    if (const auto* r = std::get_if<protocol::Rejected>(&*message)) {
      return "rejected: " + r->reason;
    }
    return "message: " + std::string(protocol::MessageName(*message));
  }

 private:
  Cluster& cluster_;
  std::string site_id_;
  asio::io_context io_;
  std::shared_ptr<asio::ssl::context> tls_;
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket>> stream_;
};

Bytes FrameHeaderBytes(uint32_t kind, uint32_t length) {
  Bytes out;
  for (uint32_t v : {kind, length}) {
    for (int shift = 0; shift < 32; shift += 8) {
      out.push_back(static_cast<uint8_t>(v >> shift));
    }
  }
  return out;
}

// ThreadSanitizer keeps shadow memory beside every byte the coordinator
// touches, several times its size, so the memory bounds below are scaled
// there; scaled, they stay well under the 65 MiB an allocated frame costs.
#if defined(__SANITIZE_THREAD__)
constexpr int64_t kSanitizerMemoryScale = 3;
#else
constexpr int64_t kSanitizerMemoryScale = 1;
#endif

// Before its Hello is accepted, a connection with a valid site certificate
// must not make the coordinator allocate a buffer for the frame it announces.
// 30 connections each announce the largest frame there is and send nothing
// more: even ones a DeploymentUpdate of 257 MiB (the largest kind, which
// only the coordinator sends), odd ones a MaskedInput of 65 MiB (the largest
// a site sends, but not a Hello). The coordinator's resident memory must not
// grow by more than 8 MiB while any one of them waits, nor by more than
// 8 MiB in all, and each is refused at its header. Connections are opened
// one after the other and the test stops at the first one that breaks a
// bound, so a coordinator that does allocate costs this machine one buffer,
// not 30. Under AddressSanitizer every freed block sits in its quarantine
// (256 MiB by default) instead of being reused, so the coordinator's memory
// grows by each TLS handshake (about 0.8 MiB) and only the per-connection
// bound applies there; it still catches a 65 MiB buffer.
TEST(ConnectionIntegrationTest, FramesBeforeHelloCostTheCoordinatorNoMemory) {
  Cluster cluster;
  // Room for all 30 under the per-site cap: this test is about memory.
  cluster.StartCoordinator("max_connections_per_site = 64");
  ASSERT_EQ(cluster.Pki({"issue", "site", "MALLORY"}).exit_code, 0);
  const pid_t pid = cluster.coordinator()->pid();
  const int64_t baseline_kib = ResidentKiB(pid);
  ASSERT_GT(baseline_kib, 0);
  constexpr int64_t kBoundKiB = 8 * 1024 * kSanitizerMemoryScale;
  const uint32_t update = protocol::FrameKind<protocol::DeploymentUpdate>();
  const uint32_t masked = protocol::FrameKind<protocol::MaskedInput>();
  ASSERT_GT(protocol::MaxPayloadBytes(update), 256u << 20);
  ASSERT_GT(protocol::MaxPayloadBytes(masked), 64u << 20);

#if defined(__SANITIZE_ADDRESS__)
  constexpr bool kBoundTotalGrowth = false;
#else
  constexpr bool kBoundTotalGrowth = true;
#endif

  std::vector<std::unique_ptr<RawSiteConnection>> held;
  int64_t peak_kib = 0;
  for (int i = 0; i < 30; ++i) {
    SCOPED_TRACE("connection " + std::to_string(i));
    const uint32_t kind = i % 2 == 0 ? update : masked;
    auto& c = held.emplace_back(
        std::make_unique<RawSiteConnection>(cluster, "MALLORY"));
    ASSERT_EQ(c->Connect(), "");
    const int64_t before_header_kib = ResidentKiB(pid);
    int64_t header_peak_kib = 0;
    ASSERT_TRUE(
        c->Write(FrameHeaderBytes(kind, protocol::MaxPayloadBytes(kind))));
    // The coordinator either answers (refuses) or sits reading a payload
    // that never comes; meanwhile watch its memory.
    auto answer =
        std::async(std::launch::async, [&c] { return c->ReadFrame(); });
    bool over = false;
    WaitUntil(
        [&] {
          const int64_t now_kib = ResidentKiB(pid);
          peak_kib = std::max(peak_kib, now_kib - baseline_kib);
          header_peak_kib =
              std::max(header_peak_kib, now_kib - before_header_kib);
          over = header_peak_kib > kBoundKiB ||
                 (kBoundTotalGrowth && peak_kib > kBoundKiB);
          return over || answer.wait_for(0s) == std::future_status::ready;
        },
        20s);
    ASSERT_FALSE(over) << "coordinator resident memory grew by "
                       << header_peak_kib << " KiB for this header, "
                       << peak_kib << " KiB in all, after " << (i + 1)
                       << " connection(s) announcing a "
                       << protocol::MaxPayloadBytes(kind) << "-byte "
                       << protocol::MessageKindName(kind);
    ASSERT_EQ(answer.wait_for(0s), std::future_status::ready);
    EXPECT_EQ(answer.get(),
              kind == update
                  ? "rejected: frame: deployment_update is sent by the "
                    "coordinator, not a site"
                  : "rejected: frame: expected hello first, got masked_input");
  }
  peak_kib = std::max(peak_kib, ResidentKiB(pid) - baseline_kib);
  if (kBoundTotalGrowth) {
    EXPECT_LE(peak_kib, kBoundKiB);
  }
  std::printf("coordinator VmRSS: baseline %lld KiB, peak growth %lld KiB\n",
              static_cast<long long>(baseline_kib),
              static_cast<long long>(peak_kib));
  EXPECT_TRUE(cluster.coordinator()->Running());
  const std::string log = cluster.coordinator()->Log();
  EXPECT_NE(log.find("expected hello first, got masked_input"),
            std::string::npos);
  EXPECT_NE(log.find("deployment_update is sent by the coordinator"),
            std::string::npos);
}

// An admitted site may announce a large frame; the coordinator's buffer grows
// with the bytes that arrive, not to the announced length at once. MALLORY
// says Hello, announces the largest MaskedInput (65 MiB), sends 1 MiB of it
// and stalls: the coordinator must hold well under the announced size.
TEST(ConnectionIntegrationTest, AnnouncedFrameCostsOnlyTheBytesThatArrive) {
  Cluster cluster;
  cluster.StartCoordinator();
  ASSERT_EQ(cluster.Pki({"issue", "site", "MALLORY"}).exit_code, 0);
  const Bytes hello = protocol::EncodeFrame(
      protocol::Hello{"MALLORY", "", "", 100, "0.1.0", ""});
  {
    RawSiteConnection first(cluster, "MALLORY");
    ASSERT_EQ(first.Connect(), "");
    ASSERT_TRUE(first.Write(hello));
    EXPECT_NE(first.ReadFrame().find("awaits operator approval"),
              std::string::npos);
  }
  ASSERT_EQ(cluster.Ctl({"sites", "approve", "MALLORY"}).exit_code, 0);
  RawSiteConnection mallory(cluster, "MALLORY");
  ASSERT_EQ(mallory.Connect(), "");
  ASSERT_TRUE(mallory.Write(hello));
  ASSERT_EQ(mallory.ReadFrame(), "message: welcome");

  const pid_t pid = cluster.coordinator()->pid();
  const int64_t baseline_kib = ResidentKiB(pid);
  const uint32_t kind = protocol::FrameKind<protocol::MaskedInput>();
  const uint32_t announced = protocol::MaxPayloadBytes(kind);
  ASSERT_TRUE(mallory.Write(FrameHeaderBytes(kind, announced)));
  // A valid-looking start: a one-segment table claiming the whole payload.
  Bytes part(1 << 20, 0x5a);
  const uint32_t words = announced / 8 - 1;
  part[0] = part[1] = part[2] = part[3] = 0;
  for (int i = 0; i < 4; ++i)
    part[4 + i] = static_cast<uint8_t>(words >> 8 * i);
  ASSERT_TRUE(mallory.Write(part));
  // Poll for 3 s: the growth must stay small throughout.
  int64_t peak_kib = 0;
  WaitUntil(
      [&] {
        peak_kib = std::max(peak_kib, ResidentKiB(pid) - baseline_kib);
        return false;
      },
      3s);
  std::printf(
      "coordinator VmRSS growth with %u bytes announced, %zu sent: "
      "%lld KiB\n",
      announced, part.size(), static_cast<long long>(peak_kib));
  EXPECT_LE(peak_kib, 8 * 1024 * kSanitizerMemoryScale)
      << "the coordinator reserved the announced " << announced << " bytes";
  EXPECT_TRUE(cluster.coordinator()->Running());
}

// Caps on the site port: per certificate CN and in total. Connections over a
// cap are refused with a log line; the others, an honest site among them,
// are served throughout. (Connections that have not said Hello are closed by
// the coordinator after 10 s, so the steps below run well within that.)
TEST(ConnectionIntegrationTest, ConnectionsOverTheCapsAreRefusedOthersServed) {
  Cluster cluster;
  cluster.StartCoordinator(
      "min_sites = 2\nmax_site_connections = 4\nmax_connections_per_site = 2");
  cluster.StartSite("HOSP_001");
  cluster.ApproveAll({"HOSP_001"});
  ASSERT_EQ(cluster.Pki({"issue", "site", "MALLORY"}).exit_code, 0);
  ASSERT_EQ(cluster.Pki({"issue", "site", "EVE"}).exit_code, 0);

  // HOSP_001 + 2 x MALLORY + EVE = 4 connections, the total cap.
  auto m1 = std::make_unique<RawSiteConnection>(cluster, "MALLORY");
  auto m2 = std::make_unique<RawSiteConnection>(cluster, "MALLORY");
  auto e1 = std::make_unique<RawSiteConnection>(cluster, "EVE");
  ASSERT_EQ(m1->Connect(), "");
  ASSERT_EQ(m2->Connect(), "");
  ASSERT_EQ(e1->Connect(), "");
  // A fifth is closed at accept: its TLS handshake fails.
  RawSiteConnection e2(cluster, "EVE");
  EXPECT_NE(e2.Connect(), "");
  EXPECT_TRUE(WaitUntil(
      [&] {
        return cluster.coordinator()->Log().find(
                   "4 site connections open (max_site_connections)") !=
               std::string::npos;
      },
      10s))
      << cluster.coordinator()->Log();

  // EVE leaves: one place is free, but MALLORY already has its two.
  e1.reset();
  std::string answer;
  ASSERT_TRUE(WaitUntil(
      [&] {
        RawSiteConnection m3(cluster, "MALLORY");
        if (m3.Connect() != "") return false;  // EVE's place not freed yet
        answer = m3.ReadFrame();
        return true;
      },
      10s));
  EXPECT_EQ(answer,
            "rejected: too many connections for site MALLORY: 2 open "
            "(max_connections_per_site)");
  EXPECT_NE(cluster.coordinator()->Log().find(
                "too many connections for site MALLORY"),
            std::string::npos);

  // MALLORY closes one: the next one gets as far as its Hello (MALLORY was
  // never approved, so that is refused for its own reason).
  m1.reset();
  const Bytes hello = protocol::EncodeFrame(
      protocol::Hello{"MALLORY", "", "", 100, "0.1.0", ""});
  ASSERT_TRUE(WaitUntil(
      [&] {
        RawSiteConnection m4(cluster, "MALLORY");
        if (m4.Connect() != "" || !m4.Write(hello)) return false;
        answer = m4.ReadFrame();
        return answer.find("too many connections") == std::string::npos;
      },
      10s));
  EXPECT_NE(answer.find("rejected: site MALLORY awaits operator approval"),
            std::string::npos)
      << answer;

  // The honest site was served throughout.
  EXPECT_TRUE(cluster.WaitConnected(1, 10s));
  EXPECT_TRUE(cluster.coordinator()->Running());
}

// A sample count of 2^63 would become a negative FedAvg weight. The Hello is
// refused, and the next round runs with the honest sites.
TEST(ConnectionIntegrationTest, ImpossibleSampleCountIsRefusedAndRoundsGoOn) {
  Cluster cluster;
  cluster.StartCoordinator("min_sites = 3");
  const std::vector<std::string> honest = {"HOSP_001", "HOSP_002", "HOSP_003"};
  for (const auto& id : honest) cluster.StartSite(id);
  cluster.ApproveAll(honest);

  // MALLORY registers with a plausible count and is approved...
  ASSERT_EQ(cluster.Pki({"issue", "site", "MALLORY"}).exit_code, 0);
  {
    RawSiteConnection first(cluster, "MALLORY");
    ASSERT_EQ(first.Connect(), "");
    ASSERT_TRUE(first.Write(protocol::EncodeFrame(
        protocol::Hello{"MALLORY", "", "", 100, "0.1.0", ""})));
    EXPECT_NE(first.ReadFrame().find("awaits operator approval"),
              std::string::npos);
  }
  ASSERT_EQ(cluster.Ctl({"sites", "approve", "MALLORY"}).exit_code, 0);

  // ...then claims 2^63 samples, and holds the connection.
  RawSiteConnection mallory(cluster, "MALLORY");
  ASSERT_EQ(mallory.Connect(), "");
  ASSERT_TRUE(mallory.Write(protocol::EncodeFrame(
      protocol::Hello{"MALLORY", "", "", uint64_t{1} << 63, "0.1.0", ""})));
  EXPECT_EQ(mallory.ReadFrame(),
            "rejected: hello: num samples is 9223372036854775808, at most "
            "1099511627776");

  auto rounds = cluster.RunRounds(1, 120s);
  ASSERT_EQ(rounds.size(), 1u) << rounds.dump();
  EXPECT_EQ(rounds[0]["status"], "completed") << rounds[0].dump();
  EXPECT_EQ(rounds[0]["contributors"].size(), honest.size())
      << rounds[0].dump();
  auto sites = cluster.Ctl({"sites", "list"}).Json();
  for (const auto& s : sites["sites"]) {
    EXPECT_GE(s["num_samples"].get<int64_t>(), 0) << s.dump();
  }
}

// An agent of another protocol version is told which versions this
// coordinator speaks, and the coordinator goes on serving the others.
TEST(ConnectionIntegrationTest,
     AnotherProtocolVersionIsRefusedNamingTheSupportedOnes) {
  Cluster cluster;
  cluster.StartCoordinator("min_sites = 2");
  ASSERT_EQ(cluster.Pki({"issue", "site", "HOSP_NEW"}).exit_code, 0);

  Bytes hello = protocol::EncodeFrame(
      protocol::Hello{"HOSP_NEW", "", "", 100, "9.0.0 (git future)", ""});
  // The envelope's protocolVersion is the first field of its root struct:
  // 8 bytes of frame header, 8 of segment table, 8 of root pointer.
  constexpr size_t kVersionByte = protocol::kFrameHeaderBytes + 16;
  hello[kVersionByte] ^= 0x01;
  const std::string expected =
      "frame: protocol version " +
      std::to_string(protocol::kProtocolVersion ^ 0x01) +
      " is not supported; supported versions: " +
      std::to_string(protocol::kProtocolVersion);
  auto decoded = protocol::DecodeFrame(hello);
  ASSERT_FALSE(decoded);  // the test changed the version, nothing else
  ASSERT_EQ(decoded.error().message, expected);

  RawSiteConnection future(cluster, "HOSP_NEW");
  ASSERT_EQ(future.Connect(), "");
  ASSERT_TRUE(future.Write(hello));
  EXPECT_EQ(future.ReadFrame(), "rejected: " + expected);

  // Not registered, and the coordinator still admits a current agent.
  EXPECT_EQ(cluster.Ctl({"sites", "show", "HOSP_NEW"}).exit_code, 7);
  cluster.StartSite("HOSP_A");
  auto sites = cluster.Ctl({"sites", "list"}).Json();
  ASSERT_TRUE(WaitUntil(
      [&] {
        sites = cluster.Ctl({"sites", "list"}).Json();
        return sites["sites"].size() == 1 &&
               !sites["sites"][0]["agent_version"].get<std::string>().empty();
      },
      30s));
  EXPECT_EQ(sites["sites"][0]["site_id"], "HOSP_A");
  // The agent reports the build's version line.
  const std::string version =
      RunCommand({BinaryPath("cls-site-agent"), "--version"}).output;
  EXPECT_EQ("cls-site-agent " +
                sites["sites"][0]["agent_version"].get<std::string>() + "\n",
            version);
}

}  // namespace
}  // namespace cls::testing
