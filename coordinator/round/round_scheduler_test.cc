// RoundScheduler with the real planner, finalizer and site registry, fake
// site connections answered by the real site-side secure aggregation client
// (compiled in, as grouped_round_test), a 1-thread worker pool and a real
// SQLite store: the queue, its refusals, the stage deadline, and a round
// that finalizes on the pool while the io thread keeps serving.

#include "coordinator/round/round_scheduler.h"

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <fstream>
#include <functional>
#include <map>
#include <random>

#include "coordinator/sites/fake_site_connection.h"
#include "core/quantization.h"
#include "secagg/server/round_test_util.h"

namespace cls::coordinator {
namespace {

using testing::AuditEntries;
using testing::FakeSiteConnection;
using testing::HelloFrom;

class RoundSchedulerTest : public ::testing::Test {
 protected:
  RoundSchedulerTest() : dir_("cls-round-scheduler") {
    config_.model_parameters = 4;
    config_.model_kind = "benchmark_vector";
    config_.min_sites = 3;
    config_.pause_between_rounds = std::chrono::milliseconds(10);
    config_.tls.cert_file = (dir_.path() / "coordinator.crt").string();
    std::ofstream(config_.tls.cert_file)
        << ids_.pki().Issue(kTestCoordinatorId, "coordinator").certificate_pem;
  }
  ~RoundSchedulerTest() override {
    scheduler_.reset();
    pool_.reset();  // joined before the finalizer goes
  }

  void Open(int sites) {
    store_ = std::move(
        *CoordinatorStore::Open((dir_.path() / "coordinator.db").string()));
    registry_ = std::make_unique<SiteRegistry>(config_, *store_);
    intake_ = std::make_unique<EvaluationIntake>(*store_);
    planner_ = std::make_unique<RoundPlanner>(config_, nullptr);
    pool_ = std::make_unique<cls::WorkerPool>(1);
    finalizer_ = std::make_unique<RoundFinalizer>(io_.get_executor(), config_,
                                                  *store_, *registry_, *intake_,
                                                  nullptr, pool_.get());
    ASSERT_TRUE(finalizer_->Load().has_value());
    scheduler_ = std::make_unique<RoundScheduler>(
        io_, config_, *store_, *registry_, *planner_, *finalizer_);
    for (int i = 1; i <= sites; ++i) Connect("HOSP_" + std::to_string(i));
  }

  void Connect(const std::string& id) {
    auto c = std::make_shared<FakeSiteConnection>();
    crypto::PeerIdentity peer{id, "site", "01", ids_.Certificate(id)->der()};
    (void)registry_->Admit(c, peer, HelloFrom(id));
    ASSERT_TRUE(registry_->Approve(id, {"alice", "operator"}).has_value());
    ASSERT_TRUE(registry_->Admit(c, peer, HelloFrom(id)).has_value());
    sites_[id].connection = c;
  }

  void Disconnect(const std::string& id) {
    if (registry_->Remove(id, sites_[id].connection.get())) {
      scheduler_->OnSiteLost(id);
    }
  }

  // Answers every frame the sites received, as their agents would, until
  // nothing moves.
  void Pump() {
    bool moved = true;
    while (moved) {
      moved = false;
      for (auto& [id, site] : sites_) {
        while (site.read < site.connection->frames.size()) {
          auto m = protocol::DecodeFrame(*site.connection->frames[site.read++]);
          ASSERT_TRUE(m.has_value());
          moved = true;
          if (auto reply = Answer(id, site, *m)) {
            scheduler_->OnRoundMessage(id, *reply);
          }
        }
      }
    }
  }

  // Runs the io_context until `done()` or 20 s.
  void RunUntil(const std::function<bool()>& done) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io_.run_for(std::chrono::milliseconds(5));
      io_.restart();
    }
  }

  std::string Stage() const {
    auto current = scheduler_->CurrentRound();
    return current ? current->stage : "none";
  }

  struct Site {
    std::shared_ptr<FakeSiteConnection> connection;
    size_t read = 0;
    std::optional<site::SecAggClient> client;
    std::vector<uint32_t> quantized;
  };

  std::optional<protocol::Message> Answer(const std::string& id, Site& site,
                                          const protocol::Message& m) {
    if (const auto* a = std::get_if<protocol::RoundAnnounce>(&m)) {
      auto client = site::SecAggClient::Start(*a, ids_.Setup(id));
      EXPECT_TRUE(client.has_value()) << client.error().message;
      site.client = std::move(*client);
      std::vector<float> weighted(a->parameters.size(),
                                  0.1f * static_cast<float>(a->weight));
      core::QuantizationSpec spec{a->clip, a->value_bits, a->ring_bits};
      site.quantized.resize(weighted.size());
      std::mt19937_64 rng(id.back());
      core::Quantize(weighted, spec, rng, site.quantized);
      return site.client->advertise_keys();
    }
    if (const auto* d = std::get_if<protocol::KeyDirectory>(&m)) {
      return *site.client->OnKeyDirectory(*d);
    }
    if (const auto* d = std::get_if<protocol::ShareDelivery>(&m)) {
      return *site.client->OnShareDelivery(*d, site.quantized, {10, 8, 1, 4});
    }
    if (const auto* r = std::get_if<protocol::SurvivorSet>(&m)) {
      return *site.client->OnSurvivorSet(*r);
    }
    if (const auto* r = std::get_if<protocol::UnmaskRequest>(&m)) {
      return *site.client->OnUnmaskRequest(*r);
    }
    return std::nullopt;
  }

  size_t CountKind(const std::string& id, const std::string& kind) {
    size_t n = 0;
    for (const auto& k : sites_[id].connection->Kinds()) n += k == kind;
    return n;
  }

  testing::TempDir dir_;
  TestSiteIdentities ids_;
  boost::asio::io_context io_;
  CoordinatorConfig config_;
  std::unique_ptr<CoordinatorStore> store_;
  std::unique_ptr<SiteRegistry> registry_;
  std::unique_ptr<EvaluationIntake> intake_;
  std::unique_ptr<RoundPlanner> planner_;
  std::unique_ptr<RoundFinalizer> finalizer_;
  std::unique_ptr<cls::WorkerPool> pool_;
  std::unique_ptr<RoundScheduler> scheduler_;
  std::map<std::string, Site> sites_;
  const Actor alice_{"alice", "operator"};
};

TEST_F(RoundSchedulerTest, RequestsOutsideOneToAThousandRoundsAreRefused) {
  Open(3);
  for (int count : {0, 1001}) {
    auto refused = scheduler_->StartRounds(count, alice_);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().message,
              "rounds must be 1..1000, got " + std::to_string(count));
  }
}

TEST_F(RoundSchedulerTest, TooFewActiveSitesRefuseTheRequest) {
  Open(2);
  auto refused = scheduler_->StartRounds(1, alice_);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(refused.error().message, "Insufficient active sites: 2 < 3");
  EXPECT_FALSE(scheduler_->CurrentRound().has_value());
}

TEST_F(RoundSchedulerTest, AStartedRoundIsAnnouncedAndRefusesAnotherRequest) {
  Open(3);
  auto first = scheduler_->StartRounds(2, alice_);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(*first, 1);
  for (const auto& id : {"HOSP_1", "HOSP_2", "HOSP_3"}) {
    EXPECT_EQ(CountKind(id, "round_announce"), 1u);
  }
  EXPECT_EQ(Stage(), "advertise_keys");
  EXPECT_EQ(scheduler_->queued_rounds(), 1);
  auto again = scheduler_->StartRounds(1, alice_);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().message, "round 1 is running; wait for it to finish");
  ASSERT_EQ(AuditEntries(*store_, "training_rounds_requested").size(), 1u);
}

TEST_F(RoundSchedulerTest, TheStageDeadlineAbortsARoundNoSiteAnswers) {
  config_.stage_timeout = std::chrono::milliseconds(50);
  Open(3);
  ASSERT_TRUE(scheduler_->StartRounds(1, alice_).has_value());
  RunUntil([&] { return !scheduler_->CurrentRound().has_value(); });
  EXPECT_FALSE(scheduler_->CurrentRound().has_value());
  auto round = store_->FindRound(1);
  ASSERT_TRUE(round.has_value() && round->has_value());
  EXPECT_EQ((*round)->status, "aborted");
  EXPECT_FALSE((*round)->abort_reason.empty());
  EXPECT_EQ(AuditEntries(*store_, "federated_round_aborted").size(), 1u);
  EXPECT_EQ(CountKind("HOSP_1", "round_result"), 0u);
}

TEST_F(RoundSchedulerTest, TheQueueStopsWhenTooFewSitesRemain) {
  config_.stage_timeout = std::chrono::milliseconds(50);
  Open(3);
  ASSERT_TRUE(scheduler_->StartRounds(3, alice_).has_value());
  Disconnect("HOSP_3");
  RunUntil([&] {
    return scheduler_->queued_rounds() == 0 && !scheduler_->CurrentRound();
  });
  EXPECT_EQ(scheduler_->queued_rounds(), 0);
  auto stopped = AuditEntries(*store_, "training_rounds_stopped");
  ASSERT_EQ(stopped.size(), 1u);
  EXPECT_EQ(stopped[0].fields["reason"], "Insufficient active sites: 2 < 3");
  EXPECT_EQ(stopped[0].fields["rounds_not_run"], 2);
}

TEST_F(RoundSchedulerTest, ARoundFinalizesOnThePoolWhileTheIoThreadServes) {
  Open(3);
  ASSERT_TRUE(scheduler_->StartRounds(2, alice_).has_value());
  Pump();
  // The protocol is done; the aggregate is on the pool. The status says so,
  // no next round starts and nothing is committed yet.
  EXPECT_EQ(Stage(), "finalizing");
  EXPECT_TRUE(scheduler_->finalizing());
  auto refused = scheduler_->StartRounds(1, alice_);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message,
            "round 1 is finalizing; wait for it to finish");
  EXPECT_EQ((*store_->FindRound(1))->status, "running");
  EXPECT_EQ(finalizer_->model().sequence, 1);
  // Site messages and disconnects are handled meanwhile.
  scheduler_->OnRoundMessage("HOSP_1",
                             sites_["HOSP_1"].client->advertise_keys());
  Disconnect("HOSP_3");
  EXPECT_EQ(Stage(), "finalizing");

  RunUntil([&] { return !scheduler_->finalizing(); });
  ASSERT_FALSE(scheduler_->finalizing());
  auto round = store_->FindRound(1);
  EXPECT_EQ((*round)->status, "completed");
  EXPECT_EQ(finalizer_->model().sequence, 2);
  EXPECT_EQ((*round)->model_version, finalizer_->model().version_id);
  // The result goes to the sites still connected.
  EXPECT_EQ(CountKind("HOSP_1", "round_result"), 1u);
  EXPECT_EQ(CountKind("HOSP_3", "round_result"), 0u);
  for (float v : finalizer_->model().parameters) EXPECT_NEAR(v, 0.1f, 1e-3);
  // The second round needs three sites; only two are left.
  RunUntil([&] { return scheduler_->queued_rounds() == 0; });
  EXPECT_EQ(AuditEntries(*store_, "training_rounds_stopped").size(), 1u);
}

// Issue 12: nothing to abort when idle; a finalizing round is past the
// point of abort (its result is being committed) and completes.
TEST_F(RoundSchedulerTest, AbortIsRefusedWhenIdleOrFinalizing) {
  Open(3);
  auto idle = scheduler_->AbortRound(alice_);
  ASSERT_FALSE(idle.has_value());
  EXPECT_EQ(idle.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(idle.error().message, "no round is running");
  ASSERT_TRUE(scheduler_->StartRounds(1, alice_).has_value());
  Pump();
  ASSERT_EQ(Stage(), "finalizing");
  auto late = scheduler_->AbortRound(alice_);
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().message,
            "round 1 is finalizing (its result is being committed); it can "
            "no longer be aborted");
  RunUntil([&] { return !scheduler_->finalizing(); });
  EXPECT_EQ((*store_->FindRound(1))->status, "completed");
  EXPECT_TRUE(AuditEntries(*store_, "round_abort_requested").empty());
}

// Issue 12: an aborted round is charged nothing and commits nothing; the
// queue goes on with the next round, which completes.
TEST_F(RoundSchedulerTest, AnAbortedRoundCommitsNothingAndTheQueueGoesOn) {
  Open(3);
  ASSERT_TRUE(scheduler_->StartRounds(2, alice_).has_value());
  auto aborted = scheduler_->AbortRound(alice_);
  ASSERT_TRUE(aborted.has_value()) << aborted.error().message;
  EXPECT_EQ(*aborted, 1);
  EXPECT_EQ((*store_->FindRound(1))->status, "aborted");
  EXPECT_EQ((*store_->FindRound(1))->abort_reason, "aborted by operator alice");
  EXPECT_EQ(finalizer_->model().sequence, 1);
  for (const auto& id : {"HOSP_1", "HOSP_2", "HOSP_3"}) {
    EXPECT_EQ(CountKind(id, "round_aborted"), 1u) << id;
  }
  // The sites drop round 1 on its RoundAborted, unanswered; round 2 starts
  // after the pause and they answer it.
  for (auto& [id, site] : sites_) site.read = site.connection->frames.size();
  RunUntil([&] {
    auto current = scheduler_->CurrentRound();
    return current && current->record.round_id == 2;
  });
  Pump();
  RunUntil([&] { return !scheduler_->CurrentRound().has_value(); });
  EXPECT_EQ((*store_->FindRound(2))->status, "completed");
  EXPECT_EQ(finalizer_->model().sequence, 2);
}

}  // namespace
}  // namespace cls::coordinator
