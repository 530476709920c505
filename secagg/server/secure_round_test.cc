// The secure aggregation protocol end to end in memory: the coordinator's
// SecureRound against real SecAggClients with real crypto, no sockets.
#include "secagg/server/secure_round.h"

#include "secagg/server/secure_round_test_fixture.h"

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

namespace cls::coordinator {
namespace {

using testing_fixture::Fault;
using testing_fixture::SecureRoundTest;

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

// Issue 12: the operator's abort mid-stage tells every site still in the
// round and ends it with the operator's reason.
TEST_P(SecureRoundTest, OperatorAbortMidStageTellsEverySite) {
  MakeSites(4, 50);
  std::vector<RoundParticipant> participants;
  for (const auto& s : sites_) participants.push_back(Participant(s));
  auto round = StartRound(Settings(50, 4), participants);
  ASSERT_TRUE(round.has_value()) << round.error().message;
  EXPECT_EQ((*round)->stage(), RoundStage::kAdvertiseKeys);
  for (auto& [id, inbox] : net_.inbox) inbox.clear();
  (*round)->Abort("aborted by operator bob");
  EXPECT_EQ((*round)->stage(), RoundStage::kAborted);
  EXPECT_EQ((*round)->abort_reason(), "aborted by operator bob");
  EXPECT_TRUE((*round)->outcome().mean_delta.empty());
  for (const auto& s : sites_) {
    ASSERT_EQ(net_.inbox[s.id].size(), 1u) << s.id;
    EXPECT_TRUE(
        std::holds_alternative<protocol::RoundAborted>(net_.inbox[s.id][0]));
  }
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
