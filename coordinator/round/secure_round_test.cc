// The secure aggregation protocol end to end in memory: the coordinator's
// SecureRound against real SecAggClients with real crypto, no sockets.
#include "coordinator/round/secure_round.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>
#include <set>

#include "coordinator/round/round_test_util.h"
#include "core/quantization.h"
#include "site-agent/secagg_client.h"

namespace cls::coordinator {
namespace {

enum class Fault {
  kNone,
  kVanishAfterAdvertise,
  kVanishWhileShareKeysOpen,  // sends its shares, then vanishes at once
  kVanishAfterShareKeys,
  kGarbageInput,
  kWrongWidth  // its masked input claims 32-bit packing in a narrower ring
};

struct Site {
  std::string id;
  double weight = 0;
  std::vector<float> delta;
  Fault fault = Fault::kNone;
  std::optional<site::SecAggClient> client;
  std::vector<uint32_t> quantized;
};

class SecureRoundTest : public ::testing::Test {
 protected:
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
  // nothing moves.
  void Pump(SecureRound& round) {
    bool moved = true;
    while (moved) {
      moved = false;
      for (auto& site : sites_) {
        auto& queue = net_.inbox[site.id];
        while (!queue.empty()) {
          protocol::Message m = std::move(queue.front());
          queue.pop_front();
          moved = true;
          if (auto reply = Answer(site, m, round)) {
            round.OnMessage(site.id, *reply);
            if (site.fault == Fault::kVanishWhileShareKeysOpen &&
                std::holds_alternative<protocol::ShareKeys>(*reply)) {
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
      auto client = site::SecAggClient::Start(*a);
      EXPECT_TRUE(client.has_value()) << client.error().message;
      site.client = std::move(*client);
      std::vector<float> weighted = site.delta;
      for (float& v : weighted) v *= static_cast<float>(a->weight);
      core::QuantizationSpec spec{a->clip, a->value_bits, a->ring_bits};
      site.quantized.resize(weighted.size());
      std::mt19937_64 rng(site.id.size() * 7919);
      core::Quantize(weighted, spec, rng, site.quantized);
      return site.client->advertise_keys();
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
    if (const auto* r = std::get_if<protocol::UnmaskRequest>(&m)) {
      auto out = site.client->OnUnmaskRequest(*r);
      EXPECT_TRUE(out.has_value()) << out.error().message;
      return *out;
    }
    return std::nullopt;  // RoundAborted and the like need no answer
  }

  std::unique_ptr<SecureRound> Run(size_t dim, size_t complete_up_to = 32) {
    std::vector<RoundParticipant> participants;
    for (const auto& s : sites_) participants.push_back({s.id, s.weight});
    RoundSettings settings = Settings(dim, static_cast<int>(sites_.size()));
    settings.complete_graph_up_to = complete_up_to;
    auto round = SecureRound::Start(settings, participants, &net_);
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

  FakeNetwork net_;
  std::vector<Site> sites_;
};

TEST_F(SecureRoundTest, UnmaskedSumEqualsWeightedMeanOfDeltas) {
  MakeSites(5, 1000);
  auto round = Run(1000);
  ExpectMeanOf(*round, AllBut({}));
  EXPECT_EQ(round->outcome().metrics.count, 50u);
  EXPECT_EQ(round->outcome().metrics.correct, 40u);
}

TEST_F(SecureRoundTest, CoordinatorNeverSeesAnUnmaskedInput) {
  MakeSites(3, 64);
  std::vector<RoundParticipant> participants;
  for (const auto& s : sites_) participants.push_back({s.id, s.weight});
  auto round = SecureRound::Start(Settings(64, 3), participants, &net_);
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
  EXPECT_EQ((*round)->stage(), RoundStage::kCompleted);
}

TEST_F(SecureRoundTest, RecoversWhenOneSiteDropsAfterShareKeys) {
  MakeSites(5, 500);
  sites_[2].fault = Fault::kVanishAfterShareKeys;
  auto round = Run(500);
  ExpectMeanOf(*round, AllBut({"SITE_2"}));
}

TEST_F(SecureRoundTest, RecoversWhenTwoSitesDropAfterShareKeys) {
  MakeSites(5, 500);
  sites_[0].fault = Fault::kVanishAfterShareKeys;
  sites_[4].fault = Fault::kVanishAfterShareKeys;
  auto round = Run(500);
  ExpectMeanOf(*round, AllBut({"SITE_0", "SITE_4"}));
}

TEST_F(SecureRoundTest, SiteVanishingBeforeShareKeysClosesIsNotUnmasked) {
  MakeSites(5, 200);
  // SITE_0 answers first, so it vanishes while the others still owe shares.
  sites_[0].fault = Fault::kVanishWhileShareKeysOpen;
  sites_[4].fault = Fault::kVanishAfterShareKeys;
  auto round = Run(200);
  ExpectMeanOf(*round, AllBut({"SITE_0", "SITE_4"}));
}

TEST_F(SecureRoundTest, AbortsWhenFewerThanThresholdSurvive) {
  MakeSites(5, 100);
  for (int i : {0, 1, 2}) sites_[i].fault = Fault::kVanishAfterShareKeys;
  auto round = Run(100);
  EXPECT_EQ(round->stage(), RoundStage::kAborted);
  EXPECT_NE(round->abort_reason().find("threshold 3"), std::string::npos)
      << round->abort_reason();
  EXPECT_TRUE(round->outcome().mean_delta.empty());
}

TEST_F(SecureRoundTest, SiteVanishingBeforeShareKeysIsLeftOut) {
  MakeSites(4, 200);
  sites_[1].fault = Fault::kVanishAfterAdvertise;
  auto round = Run(200);
  ExpectMeanOf(*round, AllBut({"SITE_1"}));
}

TEST_F(SecureRoundTest, SiteSendingMalformedInputIsDroppedNotTheRound) {
  MakeSites(5, 300);
  sites_[3].fault = Fault::kGarbageInput;
  auto round = Run(300);
  ExpectMeanOf(*round, AllBut({"SITE_3"}));
  ASSERT_TRUE(net_.disconnected.count("SITE_3"));
  EXPECT_EQ(net_.disconnected["SITE_3"],
            "masked_input: 3 elements, expected 300");
}

TEST_F(SecureRoundTest, SiteSendingInputAtAnotherWidthIsDroppedNotTheRound) {
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

TEST_F(SecureRoundTest, SilentSiteIsDroppedAtTheDeadline) {
  MakeSites(4, 50);
  std::vector<RoundParticipant> participants;
  for (const auto& s : sites_) participants.push_back({s.id, s.weight});
  auto round = SecureRound::Start(Settings(50, 4), participants, &net_);
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

TEST_F(SecureRoundTest, SparseNeighbourGraphRoundIsExact) {
  MakeSites(24, 100);
  sites_[5].fault = Fault::kVanishAfterShareKeys;
  auto round = Run(100, /*complete_up_to=*/8);
  ExpectMeanOf(*round, AllBut({"SITE_5"}));
  EXPECT_LT(round->participants()[0].neighbours.size(), 24u);
}

TEST_F(SecureRoundTest, MessageOutOfStageDropsTheSender) {
  MakeSites(3, 10);
  std::vector<RoundParticipant> participants;
  for (const auto& s : sites_) participants.push_back({s.id, s.weight});
  auto round = SecureRound::Start(Settings(10, 3), participants, &net_);
  ASSERT_TRUE(round.has_value());
  (*round)->OnMessage("SITE_1",
                      protocol::MaskedInput{7, std::vector<uint32_t>(10), {}});
  EXPECT_EQ(net_.disconnected["SITE_1"],
            "expected advertise_keys, got masked_input");
}

TEST(SecureRoundStartTest, RefusesWeightsThatDoNotSumToOne) {
  FakeNetwork net;
  RoundSettings settings;
  settings.global_parameters.assign(4, 0);
  settings.quantization = {1.0, 16, 18};
  auto round = SecureRound::Start(settings, {{"A", 0.5}, {"B", 0.4}}, &net);
  ASSERT_FALSE(round.has_value());
  EXPECT_EQ(round.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(round.error().message.find("weights sum to 0.9"),
            std::string::npos);
}

TEST(SecureRoundStartTest, RefusesARingThatCouldWrap) {
  FakeNetwork net;
  RoundSettings settings;
  settings.global_parameters.assign(4, 0);
  settings.quantization = {1.0, 16, 16};
  auto round = SecureRound::Start(settings, {{"A", 0.5}, {"B", 0.5}}, &net);
  ASSERT_FALSE(round.has_value());
  EXPECT_NE(round.error().message.find("can wrap"), std::string::npos);
}

}  // namespace
}  // namespace cls::coordinator
