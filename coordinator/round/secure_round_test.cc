// The secure aggregation protocol end to end in memory: the coordinator's
// SecureRound against real SecAggClients with real crypto, no sockets.
#include "coordinator/round/secure_round.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>
#include <set>

#include "common/worker_pool.h"
#include "coordinator/round/round_test_util.h"
#include "core/quantization.h"
#include "protocol/secagg.h"
#include "site-agent/secagg_client.h"

namespace cls::coordinator {
namespace {

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

INSTANTIATE_TEST_SUITE_P(Unmask, SecureRoundTest, ::testing::Bool(),
                         [](const auto& info) {
                           return info.param ? "OnWorkerPool" : "Inline";
                         });

TEST_P(SecureRoundTest, UnmaskedSumEqualsWeightedMeanOfDeltas) {
  MakeSites(5, 1000);
  auto round = Run(1000);
  ExpectMeanOf(*round, AllBut({}));
  EXPECT_EQ(round->outcome().metrics.count, 50u);
  EXPECT_EQ(round->outcome().metrics.correct, 40u);
}

TEST_P(SecureRoundTest, CoordinatorNeverSeesAnUnmaskedInput) {
  MakeSites(3, 64);
  std::vector<RoundParticipant> participants;
  for (const auto& s : sites_) participants.push_back(Participant(s));
  auto round = StartRound(Settings(64, 3), participants);
  ASSERT_TRUE(round.has_value());
  // Intercept the masked inputs on their way to the coordinator.
  bool moved = true;
  while (moved) {
    moved = false;
    for (auto& site : sites_) {
      auto& queue = net_.inbox[site.id];
      while (!queue.empty()) {
        auto m = std::move(queue.front());
        queue.pop_front();
        moved = true;
        auto reply = Answer(site, m, **round);
        if (!reply) continue;
        if (const auto* in = std::get_if<protocol::MaskedInput>(&*reply)) {
          size_t equal = 0;
          for (size_t i = 0; i < in->masked.size(); ++i) {
            equal += in->masked[i] == site.quantized[i];
          }
          EXPECT_LT(equal, 3u) << site.id << " sent its input nearly unmasked";
        }
        (*round)->OnMessage(site.id, *reply);
      }
    }
  }
  Settle(**round);
  EXPECT_EQ((*round)->stage(), RoundStage::kCompleted);
}

TEST_P(SecureRoundTest, RecoversWhenOneSiteDropsAfterShareKeys) {
  MakeSites(5, 500);
  sites_[2].fault = Fault::kVanishAfterShareKeys;
  auto round = Run(500);
  ExpectMeanOf(*round, AllBut({"SITE_2"}));
}

TEST_P(SecureRoundTest, RecoversWhenTwoSitesDropAfterShareKeys) {
  MakeSites(5, 500);
  sites_[0].fault = Fault::kVanishAfterShareKeys;
  sites_[4].fault = Fault::kVanishAfterShareKeys;
  auto round = Run(500);
  ExpectMeanOf(*round, AllBut({"SITE_0", "SITE_4"}));
}

TEST_P(SecureRoundTest, SiteVanishingBeforeShareKeysClosesIsNotUnmasked) {
  MakeSites(5, 200);
  // SITE_0 answers first, so it vanishes while the others still owe shares.
  sites_[0].fault = Fault::kVanishWhileShareKeysOpen;
  sites_[4].fault = Fault::kVanishAfterShareKeys;
  auto round = Run(200);
  ExpectMeanOf(*round, AllBut({"SITE_0", "SITE_4"}));
}

TEST_P(SecureRoundTest, AbortsWhenFewerThanThresholdSurvive) {
  MakeSites(5, 100);
  for (int i : {0, 1, 2}) sites_[i].fault = Fault::kVanishAfterShareKeys;
  auto round = Run(100);
  EXPECT_EQ(round->stage(), RoundStage::kAborted);
  EXPECT_NE(round->abort_reason().find("threshold 3"), std::string::npos)
      << round->abort_reason();
  EXPECT_TRUE(round->outcome().mean_delta.empty());
}

TEST_P(SecureRoundTest, SiteVanishingBeforeShareKeysIsLeftOut) {
  MakeSites(4, 200);
  sites_[1].fault = Fault::kVanishAfterAdvertise;
  auto round = Run(200);
  ExpectMeanOf(*round, AllBut({"SITE_1"}));
}

TEST_P(SecureRoundTest, SiteSendingMalformedInputIsDroppedNotTheRound) {
  MakeSites(5, 300);
  sites_[3].fault = Fault::kGarbageInput;
  auto round = Run(300);
  ExpectMeanOf(*round, AllBut({"SITE_3"}));
  ASSERT_TRUE(net_.disconnected.count("SITE_3"));
  EXPECT_EQ(net_.disconnected["SITE_3"],
            "masked_input: 3 elements, expected 300");
}

TEST_P(SecureRoundTest, SiteSendingInputAtAnotherWidthIsDroppedNotTheRound) {
  MakeSites(5, 300);
  sites_[2].fault = Fault::kWrongWidth;
  const int ring_bits = *core::RingBitsFor(16, 5);
  ASSERT_LT(ring_bits, 32);
  auto round = Run(300);
  ExpectMeanOf(*round, AllBut({"SITE_2"}));
  ASSERT_TRUE(net_.disconnected.count("SITE_2"));
  EXPECT_EQ(net_.disconnected["SITE_2"],
            "masked_input: packed at 32 bits, the round's ring has " +
                std::to_string(ring_bits));
}

TEST_P(SecureRoundTest, SilentSiteIsDroppedAtTheDeadline) {
  MakeSites(4, 50);
  std::vector<RoundParticipant> participants;
  for (const auto& s : sites_) participants.push_back(Participant(s));
  auto round = StartRound(Settings(50, 4), participants);
  ASSERT_TRUE(round.has_value());
  net_.inbox["SITE_0"].clear();  // SITE_0 never hears of the round
  Pump(**round);
  EXPECT_EQ((*round)->stage(), RoundStage::kAdvertiseKeys);
  (*round)->OnDeadline();
  Pump(**round);
  ExpectMeanOf(**round, AllBut({"SITE_0"}));
  EXPECT_EQ((*round)->participants()[0].drop_reason,
            "missed the advertise_keys deadline");
}

TEST_P(SecureRoundTest, SparseNeighbourGraphRoundIsExact) {
  MakeSites(24, 100);
  sites_[5].fault = Fault::kVanishAfterShareKeys;
  auto round = Run(100, /*complete_up_to=*/8);
  ExpectMeanOf(*round, AllBut({"SITE_5"}));
  EXPECT_LT(round->participants()[0].neighbours.size(), 24u);
}

TEST_P(SecureRoundTest, MessageOutOfStageDropsTheSender) {
  MakeSites(3, 10);
  std::vector<RoundParticipant> participants;
  for (const auto& s : sites_) participants.push_back(Participant(s));
  auto round = StartRound(Settings(10, 3), participants);
  ASSERT_TRUE(round.has_value());
  (*round)->OnMessage("SITE_1",
                      protocol::MaskedInput{7, std::vector<uint32_t>(10), {}});
  EXPECT_EQ(net_.disconnected["SITE_1"],
            "expected advertise_keys, got masked_input");
}

// Issue 11, defect 3: a site lost after its AdvertiseKeys but before the key
// directory closes is not in anyone's directory, so no honest neighbour may
// be asked for a share for it.
TEST_P(SecureRoundTest, SiteLostBeforeKeyDirectoryClosesIsLeftOut) {
  MakeSites(5, 100);
  sites_[0].fault = Fault::kVanishWhileAdvertiseOpen;
  auto round = Run(100);
  ExpectMeanOf(*round, AllBut({"SITE_0"}));
  EXPECT_EQ(net_.disconnected.size(), 0u)
      << "an honest site was disconnected: " << net_.disconnected.begin()->first
      << ": " << net_.disconnected.begin()->second;
}

// Issue 11, defect 4: a site whose masked input was accepted contributed, even
// if its connection is lost before the stage closes; its self mask (not its
// mask key) is what the survivors must reveal.
TEST_P(SecureRoundTest, SiteLostAfterItsMaskedInputStillContributes) {
  MakeSites(5, 100);
  sites_[0].fault = Fault::kVanishAfterMaskedInput;
  auto round = Run(100);
  ExpectMeanOf(*round, AllBut({}));
}

// Issue 11, defect 2: a round in which nobody answers must abort at the first
// stage, never complete with zero contributors.
TEST_P(SecureRoundTest, RoundWithNoLiveSitesAbortsAtTheFirstStage) {
  MakeSites(4, 20);
  std::vector<RoundParticipant> participants;
  for (const auto& s : sites_) participants.push_back(Participant(s));
  auto round = StartRound(Settings(20, 4), participants);
  ASSERT_TRUE(round.has_value());
  net_.inbox.clear();  // nobody hears of the round
  for (int i = 0; i < 4 && !(*round)->finished(); ++i) (*round)->OnDeadline();
  EXPECT_EQ((*round)->stage(), RoundStage::kAborted);
  EXPECT_EQ((*round)->abort_reason(),
            "advertise_keys: 0 live sites, at least 2 needed");
  EXPECT_TRUE((*round)->outcome().contributors.empty());
}

// Issue 11, defect 2: every stage aborts below the configured minimum of live
// sites, even where each neighbourhood still meets its threshold.
TEST_P(SecureRoundTest, RoundAbortsBelowTheConfiguredMinimumOfSites) {
  MakeSites(5, 50);
  sites_[1].fault = Fault::kVanishAfterShareKeys;
  sites_[3].fault = Fault::kVanishAfterShareKeys;
  std::vector<RoundParticipant> participants;
  for (const auto& s : sites_) participants.push_back(Participant(s));
  RoundSettings settings = Settings(50, 5);
  settings.min_sites = 4;
  auto round = StartRound(settings, participants);
  ASSERT_TRUE(round.has_value());
  Pump(**round);
  EXPECT_EQ((*round)->stage(), RoundStage::kAborted);
  EXPECT_EQ((*round)->abort_reason(),
            "masked_input: 3 live sites, at least 4 needed");
}

// A key advertisement that its sender's certificate does not verify would
// make every neighbour refuse the directory: the coordinator drops that site
// instead, and the round goes on without it.
TEST_P(SecureRoundTest, AKeyAdvertisementWithABadSignatureDropsOnlyItsSender) {
  MakeSites(5, 100);
  sites_[3].fault = Fault::kBadAdvertiseSignature;
  auto round = Run(100);
  ExpectMeanOf(*round, AllBut({"SITE_3"}));
  EXPECT_EQ(net_.disconnected["SITE_3"],
            "advertise_keys: signature does not verify");
  EXPECT_EQ(net_.disconnected.size(), 1u);
}

// Issue 11, defect 5: a site that reveals a made-up share at unmask cannot
// abort the round anonymously: its share carries no valid signature of the
// owner, so it is named and its response discarded, and the secret comes
// from the other shares.
TEST_P(SecureRoundTest, ASiteRevealingAnAlteredShareIsNamedNotObeyed) {
  MakeSites(5, 100);
  sites_[2].fault = Fault::kAlterRevealedShare;
  auto round = Run(100);
  ExpectMeanOf(*round, AllBut({}));
  ASSERT_EQ(round->misbehaviours().size(), 1u);
  EXPECT_EQ(round->misbehaviours()[0].site_id, "SITE_2");
  EXPECT_EQ(round->misbehaviours()[0].what,
            "revealed a share of SITE_0 that SITE_0 never signed");
  EXPECT_EQ(net_.disconnected["SITE_2"],
            "unmask_response: share of SITE_0 not signed by it");
}

// Issue 11, defect 5: a share the owner itself dealt wrong (signed by it)
// proves the owner misbehaved; with a threshold of good shares left the
// secret is still recovered, whether the bad share arrives among the first
// threshold or after them.
TEST_P(SecureRoundTest, AnOwnerThatDealtABadShareIsNamedAndRecoveredAround) {
  for (int holder : {1, 4}) {
    sites_.clear();
    net_ = FakeNetwork{};
    MakeSites(5, 100);
    sites_[static_cast<size_t>(holder)].fault =
        Fault::kRevealShareSite0DealtBadly;
    auto round = Run(100);
    ExpectMeanOf(*round, AllBut({}));
    ASSERT_EQ(round->misbehaviours().size(), 1u) << "holder " << holder;
    EXPECT_EQ(round->misbehaviours()[0].site_id, "SITE_0");
    EXPECT_EQ(round->misbehaviours()[0].what,
              holder == 1
                  ? "dealt shares of its self mask that do not reconstruct it"
                  : "dealt a share of its self mask to SITE_4 that does not "
                    "fit it");
    EXPECT_TRUE(net_.disconnected.empty());
  }
}

// Issue 13: with a worker pool the unmask arithmetic leaves the round's
// thread. These run only on a pool.
class SecureRoundBackgroundTest : public SecureRoundTest {
 protected:
  // Runs the round until its last unmask response is in and the unmask is
  // on the pool; the round's thread has not run since.
  std::unique_ptr<SecureRound> RunToBackgroundUnmask(size_t dim) {
    std::vector<RoundParticipant> participants;
    for (const auto& s : sites_) participants.push_back(Participant(s));
    auto round = StartRound(Settings(dim, static_cast<int>(sites_.size())),
                            participants);
    EXPECT_TRUE(round.has_value()) << round.error().message;
    Pump(**round, /*settle=*/false);
    EXPECT_EQ((*round)->stage(), RoundStage::kUnmask);
    EXPECT_TRUE((*round)->computing());
    return std::move(*round);
  }
};

INSTANTIATE_TEST_SUITE_P(Unmask, SecureRoundBackgroundTest,
                         ::testing::Values(true),
                         [](const auto&) { return "OnWorkerPool"; });

TEST_P(SecureRoundBackgroundTest, UnmaskResultIsAppliedOnTheRoundsThreadOnly) {
  MakeSites(5, 20000);
  auto round = RunToBackgroundUnmask(20000);
  // Nothing is applied until the round's thread runs the completion.
  const int transitions = round->transitions();
  EXPECT_TRUE(round->outcome().mean_delta.empty());
  EXPECT_EQ(progress_, 0);
  Settle(*round);
  ExpectMeanOf(*round, AllBut({}));
  EXPECT_EQ(round->transitions(), transitions + 1);
  EXPECT_EQ(progress_, 1) << "on_progress: once, when the result applied";
}

TEST_P(SecureRoundBackgroundTest,
       MessagesLostSitesAndDeadlinesWhileUnmaskingChangeNothing) {
  MakeSites(5, 2000);
  auto round = RunToBackgroundUnmask(2000);
  const int transitions = round->transitions();
  // A repeated unmask response, a message of another stage, a lost
  // connection and the stage deadline, all while the unmask runs.
  round->OnMessage("SITE_1", protocol::UnmaskResponse{7, {}, {}});
  round->OnMessage("SITE_2",
                   protocol::MaskedInput{7, std::vector<uint32_t>(2000), {}});
  round->OnSiteLost("SITE_3");
  round->OnDeadline();
  round->OnMessage("NOT_A_SITE", protocol::UnmaskResponse{7, {}, {}});
  EXPECT_EQ(round->stage(), RoundStage::kUnmask);
  EXPECT_TRUE(round->computing());
  EXPECT_EQ(round->transitions(), transitions);
  EXPECT_TRUE(net_.disconnected.empty());
  for (const auto& p : round->participants()) {
    EXPECT_FALSE(p.dropped) << p.site_id << ": " << p.drop_reason;
  }
  Settle(*round);
  ExpectMeanOf(*round, AllBut({}));
  EXPECT_TRUE(round->misbehaviours().empty());
  EXPECT_TRUE(net_.disconnected.empty());
  EXPECT_EQ(progress_, 1);
}

TEST_P(SecureRoundBackgroundTest, ForgerFoundInTheBackgroundIsDroppedOnReturn) {
  MakeSites(5, 100);
  sites_[2].fault = Fault::kAlterRevealedShare;
  auto round = RunToBackgroundUnmask(100);
  EXPECT_TRUE(net_.disconnected.empty()) << "dropped before the result came";
  Settle(*round);
  ExpectMeanOf(*round, AllBut({}));
  ASSERT_EQ(round->misbehaviours().size(), 1u);
  EXPECT_EQ(round->misbehaviours()[0].what,
            "revealed a share of SITE_0 that SITE_0 never signed");
  EXPECT_EQ(net_.disconnected["SITE_2"],
            "unmask_response: share of SITE_0 not signed by it");
  EXPECT_TRUE(round->participants()[2].dropped);
}

TEST_P(SecureRoundBackgroundTest, RoundDestroyedWhileUnmaskingDropsTheResult) {
  MakeSites(5, 200000);
  auto round = RunToBackgroundUnmask(200000);
  round.reset();  // the coordinator stops, or the driver gives up the round
  // The pool still finishes the work and posts its result here; it must be
  // dropped, not applied to the destroyed round.
  size_t handlers = 0;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (handlers == 0 && std::chrono::steady_clock::now() < deadline) {
    net_.io->restart();
    handlers += net_.io->run_one_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(handlers, 1u) << "the pool's completion never arrived";
  EXPECT_EQ(progress_, 0);
  EXPECT_TRUE(net_.disconnected.empty());
}

TEST_P(SecureRoundBackgroundTest, DriverMayDestroyTheRoundInOnProgress) {
  MakeSites(4, 5000);
  std::vector<RoundParticipant> participants;
  for (const auto& s : sites_) participants.push_back(Participant(s));
  std::unique_ptr<SecureRound> round;
  RoundStage seen = RoundStage::kAdvertiseKeys;
  auto started = SecureRound::Start(Settings(5000, 4), participants, &net_,
                                    pool_.get(), [&] {
                                      seen = round->stage();
                                      round.reset();  // as FinishRound does
                                    });
  ASSERT_TRUE(started.has_value()) << started.error().message;
  round = std::move(*started);
  Pump(*round, /*settle=*/false);
  ASSERT_TRUE(round->computing());
  ASSERT_TRUE(RunUntil(net_, [&] { return round == nullptr; }));
  EXPECT_EQ(seen, RoundStage::kCompleted);
}

TEST(SecureRoundStartTest, RefusesAPoolWithoutAnExecutorToReportOn) {
  class NoThreadSender final : public RoundSender {
   public:
    void Send(const std::string&, protocol::Message) override {}
    void Disconnect(const std::string&, std::string_view) override {}
  } sender;
  TestSiteIdentities ids;
  WorkerPool pool(1);
  auto round = SecureRound::Start(
      TestRoundSettings(4, 2, 1, 1),
      {ids.Participant("A", 0.5), ids.Participant("B", 0.5)}, &sender, &pool);
  ASSERT_FALSE(round.has_value());
  EXPECT_EQ(round.error().message,
            "round: a worker pool needs the sender's executor to report back "
            "on");
}

TEST(SecureRoundStartTest, RefusesWeightsThatDoNotSumToOne) {
  FakeNetwork net;
  TestSiteIdentities ids;
  RoundSettings settings;
  settings.global_parameters.assign(4, 0);
  settings.quantization = {1.0, 16, 18};
  auto round = SecureRound::Start(
      settings, {ids.Participant("A", 0.5), ids.Participant("B", 0.4)}, &net);
  ASSERT_FALSE(round.has_value());
  EXPECT_EQ(round.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(round.error().message.find("weights sum to 0.9"),
            std::string::npos);
}

TEST(SecureRoundStartTest, RefusesARingThatCouldWrap) {
  FakeNetwork net;
  TestSiteIdentities ids;
  RoundSettings settings;
  settings.global_parameters.assign(4, 0);
  settings.quantization = {1.0, 16, 16};
  auto round = SecureRound::Start(
      settings, {ids.Participant("A", 0.5), ids.Participant("B", 0.5)}, &net);
  ASSERT_FALSE(round.has_value());
  EXPECT_NE(round.error().message.find("can wrap"), std::string::npos);
}

}  // namespace
}  // namespace cls::coordinator
