// GroupedRound in memory: one SecureRound per robust group under one round
// id, driven against real SecAggClients with real crypto and no sockets
// (the pattern of secure_round_test.cc).
#include "coordinator/round/grouped_round.h"

#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <map>
#include <random>
#include <set>

#include "common/worker_pool.h"
#include "core/quantization.h"
#include "core/robust/grouping.h"
#include "secagg/client/secagg_client.h"
#include "secagg/server/round_test_util.h"

namespace cls::coordinator {
namespace {

struct Site {
  std::string id;
  double weight = 0;  // round scale: all sites' weights sum to 1
  std::vector<float> delta;
  bool vanish_after_share_keys = false;
  float boost = 1;  // a Byzantine site multiplies its weighted update
  std::optional<site::SecAggClient> client;
  std::vector<uint32_t> quantized;
  double announced_weight = 0;
  size_t announced_neighbours = 0;
};

constexpr double kStep = 2.0 / 65535.0;  // 16-bit values, clip 1

// Each test runs twice: every group's unmask inline, and on a WorkerPool
// (groups in parallel) reporting back on the fake network's io_context.
class GroupedRoundTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) pool_ = std::make_unique<WorkerPool>(2);
  }

  void MakeSites(int n, size_t dim) {
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<float> u(-0.1f, 0.1f);
    double total = 0;
    for (int i = 0; i < n; ++i) {
      Site s;
      s.id = "SITE_" + std::to_string(i);
      s.weight = 10.0 + 3 * i;
      total += s.weight;
      s.delta.resize(dim);
      for (float& v : s.delta) v = u(rng);
      sites_.push_back(std::move(s));
    }
    for (auto& s : sites_) s.weight /= total;
  }

  RoundSettings Settings(size_t dim) {
    return TestRoundSettings(dim, static_cast<int>(sites_.size()), 11, 1234);
  }

  std::vector<RoundParticipant> Participants() {
    std::vector<RoundParticipant> out;
    for (const auto& s : sites_)
      out.push_back(ids_.Participant(s.id, s.weight));
    return out;
  }

  Result<std::unique_ptr<GroupedRound>> Start(
      const std::vector<std::vector<int>>& groups, int min_completed,
      bool per_site = false) {
    RoundSettings settings = Settings(sites_[0].delta.size());
    settings.allow_single_site = per_site;
    per_site_ = per_site;
    return GroupedRound::Start(settings, Participants(), groups, min_completed,
                               &net_, pool_.get(), [this] { ++progress_; });
  }

  // Nine sites of 200 values in three groups of three, run to the end;
  // null (with a failure recorded) if the round could not start.
  std::unique_ptr<GroupedRound> RunNineSitesInThreeGroups() {
    MakeSites(9, 200);
    auto groups = core::robust::AssignGroups(9, 3, 99);
    EXPECT_TRUE(groups.has_value());
    if (!groups) return nullptr;
    auto round = Start(*groups, 2);
    EXPECT_TRUE(round.has_value()) << round.error().message;
    if (!round) return nullptr;
    Pump(**round);
    return std::move(*round);
  }

  // Delivers messages until nothing moves; unless told not to, waits for
  // background work too.
  void Pump(GroupedRound& round, bool settle = true) {
    bool moved = true;
    while (moved) {
      moved = false;
      if (settle && round.computing()) {
        ASSERT_TRUE(RunUntil(net_, [&] { return !round.computing(); }))
            << "an unmask did not come back from the worker pool";
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
          }
        }
      }
    }
  }

  std::optional<protocol::Message> Answer(Site& site,
                                          const protocol::Message& m,
                                          GroupedRound& round) {
    if (const auto* a = std::get_if<protocol::RoundAnnounce>(&m)) {
      // These tests use groups of two (and of one in per-site mode): the
      // sites' operators allow it.
      site::SecAggSiteSetup setup = ids_.Setup(site.id);
      setup.min_neighbourhood = 2;
      setup.allow_single_site = per_site_;
      auto client = site::SecAggClient::Start(*a, setup);
      EXPECT_TRUE(client.has_value()) << client.error().message;
      site.client = std::move(*client);
      site.announced_weight = a->weight;
      site.announced_neighbours = a->neighbours.size();
      std::vector<float> weighted = site.delta;
      for (float& v : weighted) v *= static_cast<float>(a->weight) * site.boost;
      core::QuantizationSpec spec{a->clip, a->value_bits, a->ring_bits};
      site.quantized.resize(weighted.size());
      std::mt19937_64 rng(site.id.size() * 31 + site.id.back());
      core::Quantize(weighted, spec, rng, site.quantized);
      return site.client->advertise_keys();
    }
    if (const auto* d = std::get_if<protocol::KeyDirectory>(&m)) {
      auto out = site.client->OnKeyDirectory(*d);
      EXPECT_TRUE(out.has_value()) << out.error().message;
      return *out;
    }
    if (const auto* d = std::get_if<protocol::ShareDelivery>(&m)) {
      if (site.vanish_after_share_keys) {
        round.OnSiteLost(site.id);
        return std::nullopt;
      }
      auto out =
          site.client->OnShareDelivery(*d, site.quantized, {10, 8, 1, 4});
      EXPECT_TRUE(out.has_value()) << out.error().message;
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
      return *out;
    }
    return std::nullopt;
  }

  // The group's sum in the round's weight scale, as the coordinator's robust
  // step reads it: the group's weighted mean times its contributors' weight.
  std::vector<double> GroupSum(const GroupedRound& round, size_t k) const {
    const auto& out = round.group(k).outcome();
    std::vector<double> sum(out.mean_delta.size());
    for (size_t i = 0; i < sum.size(); ++i) {
      sum[i] = out.mean_delta[i] * round.ContributorWeight(k);
    }
    return sum;
  }

  // Sum of w_i delta_i over `members` (the plaintext the group hides).
  std::vector<double> PlainSum(const std::set<std::string>& members) const {
    std::vector<double> sum(sites_[0].delta.size(), 0.0);
    for (const auto& s : sites_) {
      if (!members.count(s.id)) continue;
      for (size_t i = 0; i < sum.size(); ++i) sum[i] += s.weight * s.delta[i];
    }
    return sum;
  }

  std::set<std::string> Ids(const std::vector<int>& members) const {
    std::set<std::string> ids;
    for (int i : members) ids.insert(sites_[static_cast<size_t>(i)].id);
    return ids;
  }

  void ExpectNear(const std::vector<double>& got,
                  const std::vector<double>& want, double bound) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_NEAR(got[i], want[i], bound) << "element " << i;
    }
  }

  FakeNetwork net_;
  std::vector<Site> sites_;
  TestSiteIdentities ids_;
  bool per_site_ = false;
  std::unique_ptr<WorkerPool> pool_;  // destroyed before net_
  int progress_ = 0;                  // on_progress calls
};

INSTANTIATE_TEST_SUITE_P(Unmask, GroupedRoundTest, ::testing::Bool(),
                         [](const auto& info) {
                           return info.param ? "OnWorkerPool" : "Inline";
                         });

TEST_P(GroupedRoundTest,
       GroupsHaveTheConfiguredMinimumSizeAndOnlyKnowEachOther) {
  MakeSites(7, 16);
  auto groups = core::robust::AssignGroups(7, 3, 1234);
  ASSERT_TRUE(groups.has_value());
  ASSERT_EQ(groups->size(), 2u);  // floor(7 / 3)
  auto round = Start(*groups, 2);
  ASSERT_TRUE(round.has_value()) << round.error().message;
  ASSERT_EQ((*round)->group_count(), 2u);
  std::set<std::string> seen;
  for (size_t k = 0; k < 2; ++k) {
    EXPECT_GE((*round)->members(k).size(), 3u);
    double group_weight = 0;
    for (int i : (*round)->members(k)) group_weight += sites_[i].weight;
    for (int i : (*round)->members(k)) {
      const Site& s = sites_[static_cast<size_t>(i)];
      EXPECT_TRUE(seen.insert(s.id).second) << s.id << " in two groups";
      // One announce each, naming only its group as neighbours, with its
      // weight renormalised within the group.
      ASSERT_EQ(net_.inbox[s.id].size(), 1u);
      const auto& a = std::get<protocol::RoundAnnounce>(net_.inbox[s.id][0]);
      EXPECT_EQ(a.round_id, 11u);
      EXPECT_EQ(a.neighbours.size(), (*round)->members(k).size());
      for (const auto& n : a.neighbours) {
        EXPECT_TRUE(Ids((*round)->members(k)).count(n.site_id)) << n.site_id;
      }
      EXPECT_NEAR(a.weight, s.weight / group_weight, 1e-12);
    }
  }
  EXPECT_EQ(seen.size(), 7u);
  Pump(**round);
  EXPECT_EQ((*round)->stage(), RoundStage::kCompleted);
}

TEST_P(GroupedRoundTest, EachGroupSumEqualsTheSumOfItsMembersInputs) {
  auto round = RunNineSitesInThreeGroups();
  ASSERT_NE(round, nullptr);
  ASSERT_EQ(round->stage(), RoundStage::kCompleted) << round->abort_reason();
  for (size_t k = 0; k < round->group_count(); ++k) {
    const auto members = Ids(round->members(k));
    const auto& out = round->group(k).outcome();
    EXPECT_EQ(
        std::set<std::string>(out.contributors.begin(), out.contributors.end()),
        members);
    // Each member's rounding error is at most one step of its
    // group-renormalised input, i.e. step x group weight in round scale.
    const double bound = members.size() * kStep * round->ContributorWeight(k);
    ExpectNear(GroupSum(*round, k), PlainSum(members), bound);
  }
  // Together: the round's weighted mean over every site.
  std::set<std::string> all;
  for (const auto& s : sites_) all.insert(s.id);
  const auto plain = PlainSum(all);
  std::vector<double> mean(round->outcome().mean_delta.begin(),
                           round->outcome().mean_delta.end());
  ExpectNear(mean, plain, 9 * kStep);
  EXPECT_NEAR(round->outcome().contributor_weight, 1.0, 1e-9);
}

// What the scheduler hands the finalizer: the summary is outcome() without
// the cross-group mean, and each group's mean moves out whole.
TEST_P(GroupedRoundTest, SummaryAndTakenGroupMeansCarryTheWholeOutcome) {
  auto round = RunNineSitesInThreeGroups();
  ASSERT_NE(round, nullptr);
  ASSERT_EQ(round->stage(), RoundStage::kCompleted) << round->abort_reason();
  const RoundOutcome whole = round->outcome();
  const RoundOutcome summary = round->SummaryOutcome();
  EXPECT_TRUE(summary.mean_delta.empty());
  EXPECT_EQ(summary.contributors, whole.contributors);
  EXPECT_EQ(summary.metrics.count, whole.metrics.count);
  EXPECT_EQ(summary.metrics.correct, whole.metrics.correct);
  EXPECT_EQ(summary.metrics.train_samples, whole.metrics.train_samples);
  EXPECT_DOUBLE_EQ(summary.contributor_weight, whole.contributor_weight);
  // The taken means, weighted, give back the whole mean.
  std::vector<double> mean(whole.mean_delta.size(), 0.0);
  for (size_t k = 0; k < round->group_count(); ++k) {
    const std::vector<float> expected = round->group(k).outcome().mean_delta;
    const double weight = round->ContributorWeight(k);
    const std::vector<float> taken = round->TakeGroupMean(k);
    EXPECT_EQ(taken, expected);
    EXPECT_TRUE(round->group(k).outcome().mean_delta.empty());
    ASSERT_EQ(taken.size(), mean.size());
    for (size_t i = 0; i < taken.size(); ++i) mean[i] += weight * taken[i];
  }
  for (size_t i = 0; i < mean.size(); ++i) {
    EXPECT_NEAR(mean[i] / whole.contributor_weight, whole.mean_delta[i], 1e-6);
  }
}

TEST_P(GroupedRoundTest, DropoutInOneGroupDoesNotTouchTheOtherGroups) {
  MakeSites(9, 100);
  const std::vector<std::vector<int>> groups = {
      {0, 1, 2}, {3, 4, 5}, {6, 7, 8}};
  sites_[4].vanish_after_share_keys = true;  // group 1 recovers without it
  auto round = Start(groups, 2);
  ASSERT_TRUE(round.has_value()) << round.error().message;
  Pump(**round);
  ASSERT_EQ((*round)->stage(), RoundStage::kCompleted)
      << (*round)->abort_reason();
  for (size_t k : {0u, 2u}) {
    const auto& g = (*round)->group(k);
    EXPECT_EQ(g.outcome().contributors.size(), 3u);
    for (const auto& p : g.participants()) EXPECT_FALSE(p.dropped) << p.site_id;
    ExpectNear(GroupSum(**round, k), PlainSum(Ids(groups[k])),
               3 * kStep * (*round)->ContributorWeight(k));
  }
  const auto& hit = (*round)->group(1).outcome();
  EXPECT_EQ(
      std::set<std::string>(hit.contributors.begin(), hit.contributors.end()),
      (std::set<std::string>{"SITE_3", "SITE_5"}));
  EXPECT_NEAR((*round)->ContributorWeight(1),
              sites_[3].weight + sites_[5].weight, 1e-12);
  ExpectNear(GroupSum(**round, 1), PlainSum({"SITE_3", "SITE_5"}),
             3 * kStep * (*round)->ContributorWeight(1));
  EXPECT_EQ((*round)->outcome().contributors.size(), 8u);
}

TEST_P(GroupedRoundTest, GroupBelowItsThresholdAbortsAloneUnlessTooFewRemain) {
  MakeSites(6, 50);
  const std::vector<std::vector<int>> groups = {{0, 1, 2}, {3, 4, 5}};
  // Two of three gone: group 1 cannot unmask (threshold 2).
  sites_[3].vanish_after_share_keys = true;
  sites_[4].vanish_after_share_keys = true;
  auto lenient = Start(groups, 1);
  ASSERT_TRUE(lenient.has_value());
  Pump(**lenient);
  EXPECT_EQ((*lenient)->stage(), RoundStage::kCompleted);
  EXPECT_EQ((*lenient)->group(1).stage(), RoundStage::kAborted);
  EXPECT_EQ((*lenient)->ContributorWeight(1), 0.0);
  ExpectNear(GroupSum(**lenient, 0), PlainSum(Ids(groups[0])),
             3 * kStep * (*lenient)->ContributorWeight(0));

  net_.inbox.clear();
  auto strict = Start(groups, 2);  // a majority of two groups is both
  ASSERT_TRUE(strict.has_value());
  Pump(**strict);
  EXPECT_EQ((*strict)->stage(), RoundStage::kAborted);
  EXPECT_NE((*strict)->abort_reason().find("1 of 2 groups completed, 2 needed"),
            std::string::npos)
      << (*strict)->abort_reason();
}

TEST_P(GroupedRoundTest, BoostedMemberBreaksOnlyItsGroupsSanityBound) {
  MakeSites(6, 64);
  const std::vector<std::vector<int>> groups = {{0, 1, 2}, {3, 4, 5}};
  sites_[1].boost = 20;  // ignores the clip, as --test-scale-delta does
  auto round = Start(groups, 2);
  ASSERT_TRUE(round.has_value());
  Pump(**round);
  ASSERT_EQ((*round)->stage(), RoundStage::kCompleted);
  for (size_t k = 0; k < 2; ++k) {
    std::vector<double> weights, clips;
    for (int i : groups[k]) {
      weights.push_back(sites_[static_cast<size_t>(i)].weight);
      clips.push_back(1.0);
    }
    const auto sum64 = GroupSum(**round, k);
    const std::vector<float> sum(sum64.begin(), sum64.end());
    auto bound = core::robust::CheckGroupSumBound(sum, weights, clips, 1e-3);
    if (k == 0) {
      ASSERT_FALSE(bound.has_value()) << "boosted group passed the bound";
      EXPECT_EQ(bound.error().code, ErrorCode::kFailedPrecondition);
    } else {
      ASSERT_TRUE(bound.has_value()) << bound.error().message;
      EXPECT_LE(bound->norm, bound->bound);
    }
  }
}

TEST_P(GroupedRoundTest, PerSiteModeRunsGroupsOfOneThatRevealEachInput) {
  MakeSites(4, 80);
  auto groups = core::robust::AssignGroups(4, 1, 5);
  ASSERT_TRUE(groups.has_value());
  ASSERT_EQ(groups->size(), 4u);
  auto round = Start(*groups, 3, /*per_site=*/true);
  ASSERT_TRUE(round.has_value()) << round.error().message;
  Pump(**round);
  ASSERT_EQ((*round)->stage(), RoundStage::kCompleted)
      << (*round)->abort_reason();
  for (size_t k = 0; k < 4; ++k) {
    const Site& s = sites_[static_cast<size_t>((*round)->members(k)[0])];
    EXPECT_EQ(s.announced_neighbours, 1u);
    EXPECT_DOUBLE_EQ(s.announced_weight, 1.0);  // alone in its group
    // The "group mean" is the site's own delta.
    const auto& mean = (*round)->group(k).outcome().mean_delta;
    for (size_t i = 0; i < mean.size(); ++i) {
      ASSERT_NEAR(mean[i], s.delta[i], kStep) << s.id << " element " << i;
    }
  }
}

TEST_P(GroupedRoundTest, GroupOfOneIsRefusedWhileSecureAggregationIsOn) {
  MakeSites(3, 8);
  auto round = Start({{0, 1}, {2}}, 1);
  ASSERT_FALSE(round.has_value());
  EXPECT_EQ(round.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(round.error().message,
            "group 1: round: 1 participants; secure aggregation needs at "
            "least 2");
}

TEST_P(GroupedRoundTest, RefusesOverlappingGroupsAndImpossibleMajorities) {
  MakeSites(4, 8);
  auto twice = Start({{0, 1}, {1, 2, 3}}, 1);
  ASSERT_FALSE(twice.has_value());
  EXPECT_EQ(twice.error().message, "grouped round: site SITE_1 in two groups");
  auto majority = Start({{0, 1}, {2, 3}}, 3);
  ASSERT_FALSE(majority.has_value());
  EXPECT_EQ(majority.error().message,
            "grouped round: need 1..2 completed groups, got 3");
}

// Issue 13: each group's unmask is its own job on the pool; the round moves
// on (and tells its driver) as each result comes back, and a round destroyed
// meanwhile drops them.
TEST_P(GroupedRoundTest, EachGroupsBackgroundUnmaskReportsProgressOnce) {
  if (!GetParam()) GTEST_SKIP() << "needs a worker pool";
  MakeSites(9, 50000);
  const std::vector<std::vector<int>> groups = {
      {0, 1, 2}, {3, 4, 5}, {6, 7, 8}};
  auto round = Start(groups, 2);
  ASSERT_TRUE(round.has_value()) << round.error().message;
  Pump(**round, /*settle=*/false);
  EXPECT_TRUE((*round)->computing());
  EXPECT_EQ((*round)->stage(), RoundStage::kUnmask);
  EXPECT_FALSE((*round)->finished());
  for (size_t k = 0; k < 3; ++k) EXPECT_TRUE((*round)->group(k).computing());
  // A lost site and a deadline while the groups unmask change nothing.
  (*round)->OnSiteLost("SITE_4");
  (*round)->MarkArmed();
  (*round)->OnDeadline();
  ASSERT_TRUE(RunUntil(net_, [&] { return (*round)->finished(); }));
  EXPECT_EQ(progress_, 3);
  ASSERT_EQ((*round)->stage(), RoundStage::kCompleted)
      << (*round)->abort_reason();
  EXPECT_EQ((*round)->outcome().contributors.size(), 9u);
  for (size_t k = 0; k < 3; ++k) {
    ExpectNear(GroupSum(**round, k), PlainSum(Ids(groups[k])),
               3 * kStep * (*round)->ContributorWeight(k));
  }
}

TEST_P(GroupedRoundTest, RoundDestroyedWhileGroupsUnmaskIgnoresTheirResults) {
  if (!GetParam()) GTEST_SKIP() << "needs a worker pool";
  MakeSites(6, 100000);
  auto round = Start({{0, 1, 2}, {3, 4, 5}}, 2);
  ASSERT_TRUE(round.has_value()) << round.error().message;
  Pump(**round, /*settle=*/false);
  ASSERT_TRUE((*round)->computing());
  round->reset();
  size_t handlers = 0;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (handlers < 2 && std::chrono::steady_clock::now() < deadline) {
    net_.io->restart();
    handlers += net_.io->run_one_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(handlers, 2u) << "both groups' completions arrive";
  EXPECT_EQ(progress_, 0);
}

// Issue 12: the operator's abort ends the whole round aborted with the
// operator's reason, even when a group has already completed; the sites of
// the groups still running are told.
TEST_P(GroupedRoundTest, OperatorAbortEndsTheRoundEvenWithAGroupCompleted) {
  MakeSites(9, 200);
  auto groups = core::robust::AssignGroups(9, 3, 99);
  ASSERT_TRUE(groups.has_value());
  auto started = Start(*groups, 1);
  ASSERT_TRUE(started.has_value()) << started.error().message;
  GroupedRound& round = **started;
  // Only group 0's sites answer, so group 0 completes and the others wait.
  const std::set<std::string> first = Ids((*groups)[0]);
  bool moved = true;
  while (moved) {
    moved = false;
    if (round.computing()) {
      ASSERT_TRUE(RunUntil(net_, [&] { return !round.computing(); }));
      moved = true;
    }
    for (auto& site : sites_) {
      if (!first.count(site.id)) continue;
      auto& queue = net_.inbox[site.id];
      while (!queue.empty()) {
        protocol::Message m = std::move(queue.front());
        queue.pop_front();
        moved = true;
        if (auto reply = Answer(site, m, round)) {
          round.OnMessage(site.id, *reply);
        }
      }
    }
  }
  ASSERT_EQ(round.group(0).stage(), RoundStage::kCompleted);
  ASSERT_FALSE(round.finished());
  for (auto& [id, inbox] : net_.inbox) inbox.clear();

  round.Abort("aborted by operator carol");
  EXPECT_TRUE(round.finished());
  EXPECT_EQ(round.stage(), RoundStage::kAborted);
  EXPECT_EQ(round.abort_reason(), "aborted by operator carol");
  for (const auto& site : sites_) {
    const bool waiting = !first.count(site.id);
    ASSERT_EQ(net_.inbox[site.id].size(), waiting ? 1u : 0u) << site.id;
    if (waiting) {
      EXPECT_TRUE(std::holds_alternative<protocol::RoundAborted>(
          net_.inbox[site.id].front()));
    }
  }
}

}  // namespace
}  // namespace cls::coordinator
