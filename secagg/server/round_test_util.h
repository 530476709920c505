#ifndef CLS_SECAGG_SERVER_ROUND_TEST_UTIL_H_
#define CLS_SECAGG_SERVER_ROUND_TEST_UTIL_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/quantization.h"
#include "crypto/test_pki.h"
#include "protocol/messages.h"
#include "secagg/client/secagg_client.h"
#include "secagg/server/round_context.h"

namespace cls::coordinator {

// Records what a round sends; a test then delivers it to in-process
// SecAggClients (secure_round_test, grouped_round_test). Its io_context is
// the round's thread: work a round runs on a WorkerPool reports back there,
// when the test runs it (RunUntil).
class FakeNetwork final : public RoundSender {
 public:
  boost::asio::any_io_executor executor() override {
    return io->get_executor();
  }
  void Send(const std::string& site_id, protocol::Message message) override {
    inbox[site_id].push_back(std::move(message));
  }
  void Disconnect(const std::string& site_id,
                  std::string_view reason) override {
    disconnected[site_id] = std::string(reason);
  }
  std::map<std::string, std::deque<protocol::Message>> inbox;
  std::map<std::string, std::string> disconnected;
  std::shared_ptr<boost::asio::io_context> io =
      std::make_shared<boost::asio::io_context>();
};

// Runs the fake network's io_context (the round's thread) until `done()`
// holds or `limit` passes; whether it holds.
template <typename Done>
bool RunUntil(FakeNetwork& net, Done done,
              std::chrono::milliseconds limit = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    net.io->restart();
    net.io->run_one_for(std::chrono::milliseconds(20));
  }
  return true;
}

inline constexpr char kTestCoordinatorId[] = "coordinator.test";

// Real certificates and signing keys for the sites of in-process rounds,
// issued on first use by one in-memory CA.
class TestSiteIdentities {
 public:
  TestSiteIdentities()
      : authority_(std::make_shared<crypto::CertificateAuthority>(
            *crypto::CertificateAuthority::FromPem(pki_.ca_pem()))) {}

  // What the site's SecAggClient is started with.
  const site::SecAggSiteSetup& Setup(const std::string& site_id) {
    Issue(site_id);
    return setups_.at(site_id);
  }
  // The certificate the coordinator holds for the site.
  std::shared_ptr<const crypto::Certificate> Certificate(
      const std::string& site_id) {
    Issue(site_id);
    return certificates_.at(site_id);
  }
  RoundParticipant Participant(const std::string& site_id, double weight) {
    return {site_id, weight, Certificate(site_id)};
  }
  crypto::testing::TestPki& pki() { return pki_; }

 private:
  void Issue(const std::string& site_id) {
    if (setups_.count(site_id)) return;
    auto issued = pki_.Issue(site_id, "site");
    site::SecAggSiteSetup setup;
    setup.site_id = site_id;
    setup.signing_key = std::make_shared<crypto::SigningKey>(
        *crypto::SigningKey::FromPem(issued.key_pem));
    setup.authority = authority_;
    setup.coordinator_id = kTestCoordinatorId;
    setups_.emplace(site_id, std::move(setup));
    certificates_.emplace(
        site_id, std::make_shared<crypto::Certificate>(
                     *crypto::Certificate::FromDer(issued.certificate_der)));
  }

  crypto::testing::TestPki pki_;
  std::shared_ptr<const crypto::CertificateAuthority> authority_;
  std::map<std::string, site::SecAggSiteSetup> setups_;
  std::map<std::string, std::shared_ptr<const crypto::Certificate>>
      certificates_;
};

// A round over `sites` sites of `dim` raw float values: 16-bit values,
// clip 1, the benchmark vector kind.
inline RoundSettings TestRoundSettings(size_t dim, int sites, uint64_t round_id,
                                       uint64_t graph_seed) {
  RoundSettings settings;
  settings.round_id = round_id;
  settings.coordinator_id = kTestCoordinatorId;
  settings.model_version = "v1_20260101_000000";
  settings.model_kind = "benchmark_vector";
  settings.global_parameters.assign(dim, 0.0f);
  settings.quantization.clip = 1.0;
  settings.quantization.value_bits = 16;
  settings.quantization.ring_bits = *core::RingBitsFor(16, sites);
  settings.graph_seed = graph_seed;
  return settings;
}

}  // namespace cls::coordinator

#endif  // CLS_SECAGG_SERVER_ROUND_TEST_UTIL_H_
