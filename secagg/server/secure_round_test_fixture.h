// The fixture of secure_round_test.cc and secure_round_background_test.cc:
// the coordinator's SecureRound against real SecAggClients with real crypto,
// no sockets; each test runs inline and on a WorkerPool.
#ifndef CLS_SECAGG_SERVER_SECURE_ROUND_TEST_FIXTURE_H_
#define CLS_SECAGG_SERVER_SECURE_ROUND_TEST_FIXTURE_H_

#include "secagg/server/secure_round.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>
#include <set>

#include "common/worker_pool.h"
#include "core/quantization.h"
#include "secagg/client/secagg_client.h"
#include "secagg/common/secagg.h"
#include "secagg/server/round_test_util.h"

namespace cls::coordinator::testing_fixture {

enum class Fault {
  kNone,
  kVanishWhileAdvertiseOpen,  // advertises, then vanishes at once
  kVanishAfterAdvertise,
  kVanishWhileShareKeysOpen,  // sends its shares, then vanishes at once
  kVanishAfterShareKeys,
  kVanishAfterMaskedInput,  // its input is accepted, then it vanishes
  kGarbageInput,
  kBadAdvertiseSignature,  // its key advertisement's signature is broken
  kAlterRevealedShare,     // changes its share of SITE_0's self mask at unmask
  kRevealShareSite0DealtBadly,  // as if SITE_0 had dealt it a bad share
  kWrongWidth,  // its masked input claims 32-bit packing in a narrower ring
};

struct Site {
  std::string id;
  double weight = 0;
  std::vector<float> delta;
  Fault fault = Fault::kNone;
  std::optional<site::SecAggClient> client;
  std::vector<uint32_t> quantized;
};

// Each test runs twice: the unmask inline (no pool, as before issue 13) and
// on a WorkerPool whose result comes back on the fake network's io_context.
class SecureRoundTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) pool_ = std::make_unique<WorkerPool>(2);
  }

  Result<std::unique_ptr<SecureRound>> StartRound(
      RoundSettings settings, const std::vector<RoundParticipant>& parts) {
    return SecureRound::Start(std::move(settings), parts, &net_, pool_.get(),
                              [this] { ++progress_; });
  }

  // With a pool: waits (on the round's thread) for background work to end.
  void Settle(SecureRound& round) {
    ASSERT_TRUE(RunUntil(net_, [&] { return !round.computing(); }))
        << "the unmask did not come back from the worker pool";
  }

  void MakeSites(int n, size_t dim) {
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<float> u(-0.2f, 0.2f);
    double total = 0;
    for (int i = 0; i < n; ++i) {
      Site s;
      s.id = "SITE_" + std::to_string(i);
      s.weight = 10.0 + i;
      total += s.weight;
      s.delta.resize(dim);
      for (float& v : s.delta) v = u(rng);
      sites_.push_back(std::move(s));
    }
    for (auto& s : sites_) s.weight /= total;
  }

  RoundSettings Settings(size_t dim, int n) {
    return TestRoundSettings(dim, n, 7, 99);
  }

  // Delivers queued messages to sites and their replies to the round until
  // nothing moves; unless told not to, waits for background work too.
  void Pump(SecureRound& round, bool settle = true) {
    bool moved = true;
    while (moved) {
      moved = false;
      if (settle && round.computing()) {
        Settle(round);
        moved = true;
      }
      for (auto& site : sites_) {
        auto& queue = net_.inbox[site.id];
        while (!queue.empty()) {
          protocol::Message m = std::move(queue.front());
          queue.pop_front();
          moved = true;
          if (auto reply = Answer(site, m, round)) {
            round.OnMessage(site.id, *reply);
            if ((site.fault == Fault::kVanishWhileAdvertiseOpen &&
                 std::holds_alternative<protocol::AdvertiseKeys>(*reply)) ||
                (site.fault == Fault::kVanishWhileShareKeysOpen &&
                 std::holds_alternative<protocol::ShareKeys>(*reply)) ||
                (site.fault == Fault::kVanishAfterMaskedInput &&
                 std::holds_alternative<protocol::MaskedInput>(*reply))) {
              round.OnSiteLost(site.id);
            }
          }
        }
      }
    }
  }

  std::optional<protocol::Message> Answer(Site& site,
                                          const protocol::Message& m,
                                          SecureRound& round) {
    if (const auto* a = std::get_if<protocol::RoundAnnounce>(&m)) {
      auto client = site::SecAggClient::Start(*a, ids_.Setup(site.id));
      EXPECT_TRUE(client.has_value()) << client.error().message;
      site.client = std::move(*client);
      std::vector<float> weighted = site.delta;
      for (float& v : weighted) v *= static_cast<float>(a->weight);
      core::QuantizationSpec spec{a->clip, a->value_bits, a->ring_bits};
      site.quantized.resize(weighted.size());
      std::mt19937_64 rng(site.id.size() * 7919);
      core::Quantize(weighted, spec, rng, site.quantized);
      protocol::AdvertiseKeys keys = site.client->advertise_keys();
      if (site.fault == Fault::kBadAdvertiseSignature) keys.signature[8] ^= 1;
      return keys;
    }
    if (const auto* d = std::get_if<protocol::KeyDirectory>(&m)) {
      if (site.fault == Fault::kVanishAfterAdvertise) {
        round.OnSiteLost(site.id);
        return std::nullopt;
      }
      auto out = site.client->OnKeyDirectory(*d);
      EXPECT_TRUE(out.has_value()) << out.error().message;
      return *out;
    }
    if (const auto* d = std::get_if<protocol::ShareDelivery>(&m)) {
      if (site.fault == Fault::kVanishAfterShareKeys) {
        round.OnSiteLost(site.id);
        return std::nullopt;
      }
      auto out =
          site.client->OnShareDelivery(*d, site.quantized, {10, 8, 1.5, 40});
      EXPECT_TRUE(out.has_value()) << out.error().message;
      if (site.fault == Fault::kGarbageInput) out->masked.resize(3);
      if (site.fault == Fault::kWrongWidth) out->ring_bits = 32;
      return *out;
    }
    if (const auto* r = std::get_if<protocol::SurvivorSet>(&m)) {
      auto out = site.client->OnSurvivorSet(*r);
      EXPECT_TRUE(out.has_value()) << out.error().message;
      return *out;
    }
    if (const auto* r = std::get_if<protocol::UnmaskRequest>(&m)) {
      auto out = site.client->OnUnmaskRequest(*r);
      EXPECT_TRUE(out.has_value()) << out.error().message;
      if (site.fault == Fault::kAlterRevealedShare ||
          site.fault == Fault::kRevealShareSite0DealtBadly) {
        CorruptShareOfSite0(site.fault, *out);
      }
      return *out;
    }
    return std::nullopt;  // RoundAborted and the like need no answer
  }

  std::unique_ptr<SecureRound> Run(size_t dim, size_t complete_up_to = 32) {
    std::vector<RoundParticipant> participants;
    for (const auto& s : sites_) participants.push_back(Participant(s));
    RoundSettings settings = Settings(dim, static_cast<int>(sites_.size()));
    settings.complete_graph_up_to = complete_up_to;
    auto round = StartRound(settings, participants);
    EXPECT_TRUE(round.has_value()) << round.error().message;
    Pump(**round);
    return std::move(*round);
  }

  // The plaintext weighted mean over the sites that contributed.
  std::vector<double> ExpectedMean(const std::set<std::string>& contributors) {
    std::vector<double> sum(sites_[0].delta.size(), 0.0);
    double weight = 0;
    for (const auto& s : sites_) {
      if (!contributors.count(s.id)) continue;
      weight += s.weight;
      for (size_t i = 0; i < sum.size(); ++i) sum[i] += s.weight * s.delta[i];
    }
    for (double& v : sum) v /= weight;
    return sum;
  }

  void ExpectMeanOf(const SecureRound& round,
                    const std::set<std::string>& contributors) {
    ASSERT_EQ(round.stage(), RoundStage::kCompleted) << round.abort_reason();
    std::set<std::string> got(round.outcome().contributors.begin(),
                              round.outcome().contributors.end());
    EXPECT_EQ(got, contributors);
    auto expected = ExpectedMean(contributors);
    // Each contributor's quantization error is at most one step; the mean
    // divides the summed error by the contributors' weight.
    const double step = 2.0 / 65535.0;
    const double bound =
        contributors.size() * step / round.outcome().contributor_weight;
    for (size_t i = 0; i < expected.size(); ++i) {
      ASSERT_NEAR(round.outcome().mean_delta[i], expected[i], bound)
          << "element " << i;
    }
  }

  std::set<std::string> AllBut(std::set<std::string> excluded) {
    std::set<std::string> out;
    for (const auto& s : sites_)
      if (!excluded.count(s.id)) out.insert(s.id);
    return out;
  }

  // Flips a bit of the share of SITE_0's self mask in `response`; for
  // kRevealShareSite0DealtBadly the share is signed again with SITE_0's own
  // key, which is what a SITE_0 that dealt a bad share would have sent.
  void CorruptShareOfSite0(Fault fault, protocol::UnmaskResponse& response) {
    for (auto& share : response.self_mask_shares) {
      if (share.owner_index != 1) continue;
      share.y[0] ^= 1;
      if (fault == Fault::kRevealShareSite0DealtBadly) {
        share.signature =
            *ids_.Setup("SITE_0").signing_key->Sign(protocol::SharePayload(
                kTestCoordinatorId, 7, protocol::SecretKind::kSelfMask, 1,
                {share.x, share.y}));
      }
    }
  }

  RoundParticipant Participant(const Site& s) {
    return ids_.Participant(s.id, s.weight);
  }

  TestSiteIdentities ids_;
  FakeNetwork net_;
  std::vector<Site> sites_;
  // Destroyed before net_: its threads are joined before the io_context
  // they report to goes.
  std::unique_ptr<WorkerPool> pool_;
  int progress_ = 0;  // on_progress calls
};

}  // namespace cls::coordinator::testing_fixture

#endif  // CLS_SECAGG_SERVER_SECURE_ROUND_TEST_FIXTURE_H_
