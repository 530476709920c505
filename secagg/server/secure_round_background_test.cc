// Issue 13: SecureRound with a WorkerPool; the unmask arithmetic runs there
// and its result is applied back on the round's thread.
#include <gtest/gtest.h>

#include <chrono>

#include "common/worker_pool.h"
#include "secagg/server/round_test_util.h"
#include "secagg/server/secure_round.h"
#include "secagg/server/secure_round_test_fixture.h"

namespace cls::coordinator {
namespace {

using testing_fixture::Fault;
using testing_fixture::SecureRoundTest;

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

// Issue 12: an operator's abort while the unmask runs waits for it, then
// ends the round aborted; the sum is dropped, the sites are told.
TEST_P(SecureRoundBackgroundTest, AbortWhileUnmaskingEndsAbortedOnReturn) {
  MakeSites(5, 20000);
  auto round = RunToBackgroundUnmask(20000);
  const int transitions = round->transitions();
  for (auto& [id, inbox] : net_.inbox) inbox.clear();
  round->Abort("aborted by operator alice");
  // Nothing changes until the pool's result is back on this thread.
  EXPECT_EQ(round->stage(), RoundStage::kUnmask);
  EXPECT_TRUE(round->computing());
  EXPECT_EQ(round->transitions(), transitions);
  Settle(*round);
  EXPECT_EQ(round->stage(), RoundStage::kAborted);
  EXPECT_EQ(round->abort_reason(), "aborted by operator alice");
  EXPECT_EQ(progress_, 1);
  for (const auto& s : sites_) {
    ASSERT_EQ(net_.inbox[s.id].size(), 1u) << s.id;
    const auto* aborted =
        std::get_if<protocol::RoundAborted>(&net_.inbox[s.id].front());
    ASSERT_NE(aborted, nullptr) << s.id;
    EXPECT_EQ(aborted->reason, "aborted by operator alice");
  }
  // A second abort, once finished, changes nothing.
  round->Abort("again");
  EXPECT_EQ(round->abort_reason(), "aborted by operator alice");
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

}  // namespace
}  // namespace cls::coordinator
