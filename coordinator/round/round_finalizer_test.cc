// RoundFinalizer and EvaluationIntake against fake site connections and a
// real SQLite store: the commit and abort paths, the heavy part on a worker
// pool with the commit back on the io thread, and a stop mid-way.

#include "coordinator/round/round_finalizer.h"

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <cmath>
#include <limits>
#include <thread>

#include "coordinator/round/round_scheduler.h"
#include "coordinator/sites/fake_site_connection.h"

namespace cls::coordinator {
namespace {

using testing::AuditEntries;
using testing::FakeSiteConnection;
using testing::HelloFrom;
using testing::PeerFor;

class RoundFinalizerTest : public ::testing::Test {
 protected:
  RoundFinalizerTest() : dir_("cls-round-finalizer") {
    config_.model_parameters = 3;
    config_.model_kind = "benchmark_vector";
    store_ = std::move(
        *CoordinatorStore::Open((dir_.path() / "coordinator.db").string()));
    registry_ = std::make_unique<SiteRegistry>(config_, *store_);
    intake_ = std::make_unique<EvaluationIntake>(*store_);
    for (const char* id : {"HOSP_1", "HOSP_2", "HOSP_3"}) {
      auto c = std::make_shared<FakeSiteConnection>();
      (void)registry_->Admit(c, PeerFor(pki_, id), HelloFrom(id));
      EXPECT_TRUE(registry_->Approve(id, {"alice", "operator"}).has_value());
      EXPECT_TRUE(registry_->Admit(c, PeerFor(pki_, id), HelloFrom(id)));
      connections_.push_back(c);
    }
  }

  void OpenFinalizer(cls::WorkerPool* workers) {
    finalizer_ = std::make_unique<RoundFinalizer>(io_.get_executor(), config_,
                                                  *store_, *registry_, *intake_,
                                                  nullptr, workers);
    ASSERT_TRUE(finalizer_->Load().has_value());
  }

  // A round of the three sites, recorded as running, that completed with
  // `mean` as its mean update.
  FinishedRound Completed(std::vector<float> mean) {
    FinishedRound round;
    round.record.round_id = *store_->NextRoundId();
    round.record.status = "running";
    round.record.started_at = UtcNow();
    round.record.participants = {"HOSP_1", "HOSP_2", "HOSP_3"};
    EXPECT_TRUE(store_->InsertRound(round.record).has_value());
    round.started = std::chrono::steady_clock::now();
    round.completed = true;
    round.outcome.mean_delta = std::move(mean);
    round.outcome.contributors = round.record.participants;
    round.outcome.metrics.count = 30;
    round.outcome.metrics.correct = 24;
    round.outcome.contributor_weight = 1.0;
    return round;
  }

  // Runs the io_context until `done` or 20 s.
  void RunUntil(const bool& done) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done && std::chrono::steady_clock::now() < deadline) {
      io_.run_for(std::chrono::milliseconds(10));
      io_.restart();
    }
  }

  std::vector<std::string> KindsAt(size_t site) const {
    return connections_[site]->Kinds();
  }

  testing::TempDir dir_;
  crypto::testing::TestPki pki_;
  boost::asio::io_context io_;
  CoordinatorConfig config_;
  std::unique_ptr<CoordinatorStore> store_;
  std::unique_ptr<SiteRegistry> registry_;
  std::unique_ptr<EvaluationIntake> intake_;
  std::unique_ptr<RoundFinalizer> finalizer_;
  std::vector<std::shared_ptr<FakeSiteConnection>> connections_;
};

TEST_F(RoundFinalizerTest, TheFirstStartCreatesAnAuditedZeroModel) {
  OpenFinalizer(nullptr);
  EXPECT_EQ(finalizer_->model().sequence, 1);
  EXPECT_EQ(finalizer_->model().parameters, std::vector<float>(3, 0.0f));
  EXPECT_EQ(AuditEntries(*store_, "model_created").size(), 1u);
}

TEST_F(RoundFinalizerTest, ACompletedRoundCommitsTheNextVersionAndTellsSites) {
  OpenFinalizer(nullptr);
  const std::string v1 = finalizer_->model().version_id;
  std::optional<RoundRecord> done;
  finalizer_->Finalize(Completed({0.5f, -0.25f, 1.0f}),
                       [&](const RoundRecord& r) { done = r; });
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->status, "completed");
  EXPECT_EQ(finalizer_->model().sequence, 2);
  EXPECT_EQ(finalizer_->model().parent_version, v1);
  EXPECT_EQ(finalizer_->model().parameters,
            (std::vector<float>{0.5f, -0.25f, 1.0f}));
  auto stored = store_->FindRound(done->round_id);
  ASSERT_TRUE(stored.has_value() && stored->has_value());
  EXPECT_EQ((*stored)->status, "completed");
  EXPECT_EQ((*stored)->model_version, finalizer_->model().version_id);
  EXPECT_EQ((*store_->LatestModel())->version_id,
            finalizer_->model().version_id);
  for (size_t i = 0; i < connections_.size(); ++i) {
    EXPECT_EQ(KindsAt(i), std::vector<std::string>{"round_result"});
  }
  auto audited = AuditEntries(*store_, "federated_round_completed");
  ASSERT_EQ(audited.size(), 1u);
  EXPECT_EQ(audited[0].fields["version_id"], finalizer_->model().version_id);
  EXPECT_EQ(audited[0].fields["secure_aggregation"], true);
  EXPECT_FALSE(finalizer_->busy());
}

TEST_F(RoundFinalizerTest, HeavyWorkRunsOnThePoolAndTheCommitOnTheIoThread) {
  cls::WorkerPool pool(1);
  OpenFinalizer(&pool);
  const std::string v1 = finalizer_->model().version_id;
  bool done = false;
  std::thread::id done_on;
  finalizer_->Finalize(Completed({0.5f, 0.5f, 0.5f}), [&](const RoundRecord&) {
    done = true;
    done_on = std::this_thread::get_id();
  });
  // Nothing is committed or sent until the pool's answer is back.
  EXPECT_TRUE(finalizer_->busy());
  EXPECT_FALSE(done);
  EXPECT_EQ(finalizer_->model().version_id, v1);
  EXPECT_TRUE(connections_[0]->frames.empty());
  RunUntil(done);
  ASSERT_TRUE(done);
  EXPECT_EQ(done_on, std::this_thread::get_id());
  EXPECT_FALSE(finalizer_->busy());
  EXPECT_EQ(finalizer_->model().sequence, 2);
  EXPECT_EQ(KindsAt(0), std::vector<std::string>{"round_result"});
}

TEST_F(RoundFinalizerTest, AStopMidFinalizationCommitsNothing) {
  auto pool = std::make_unique<cls::WorkerPool>(1);
  OpenFinalizer(pool.get());
  const std::string v1 = finalizer_->model().version_id;
  bool done = false;
  FinishedRound round = Completed({0.5f, 0.5f, 0.5f});
  const int64_t round_id = round.record.round_id;
  finalizer_->Finalize(std::move(round),
                       [&](const RoundRecord&) { done = true; });
  pool.reset();  // the daemon stops: the pool is joined, its answer dropped
  io_.run_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(done);
  EXPECT_EQ((*store_->LatestModel())->version_id, v1);
  EXPECT_EQ((*store_->FindRound(round_id))->status, "running");
  EXPECT_TRUE(connections_[0]->frames.empty());
  // The next start aborts the round; the earlier model stays.
  ASSERT_TRUE(RoundScheduler::AbortInterruptedRounds(*store_).has_value());
  EXPECT_EQ((*store_->FindRound(round_id))->status, "aborted");
  EXPECT_EQ((*store_->FindRound(round_id))->abort_reason,
            "coordinator restarted mid-round");
}

TEST_F(RoundFinalizerTest, AnAbortedRoundIsRecordedAndAuditedAndNothingSent) {
  OpenFinalizer(nullptr);
  FinishedRound round = Completed({});
  round.completed = false;
  round.abort_reason = "advertise_keys: 2 sites left, 3 needed";
  std::optional<RoundRecord> done;
  finalizer_->Finalize(std::move(round),
                       [&](const RoundRecord& r) { done = r; });
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->status, "aborted");
  auto stored = store_->FindRound(done->round_id);
  EXPECT_EQ((*stored)->status, "aborted");
  EXPECT_EQ((*stored)->abort_reason, "advertise_keys: 2 sites left, 3 needed");
  auto audited = AuditEntries(*store_, "federated_round_aborted");
  ASSERT_EQ(audited.size(), 1u);
  EXPECT_EQ(audited[0].fields["reason"],
            "advertise_keys: 2 sites left, 3 needed");
  EXPECT_EQ(finalizer_->model().sequence, 1);
  EXPECT_TRUE(connections_[0]->frames.empty());
}

// The round's audit entry is written in the transaction that commits its
// model: a full disk at the entry leaves no version, no completed round and
// nothing sent.
TEST_F(RoundFinalizerTest, ARoundWhoseAuditEntryFailsCommitsNoModelNorSendsIt) {
  OpenFinalizer(nullptr);
  ASSERT_TRUE(store_->db()
                  .Exec("CREATE TRIGGER audit_full BEFORE INSERT ON audit_log "
                        "WHEN NEW.event_type = 'federated_round_completed' "
                        "BEGIN SELECT RAISE(ABORT, 'database or disk is "
                        "full'); END")
                  .has_value());
  std::optional<RoundRecord> done;
  finalizer_->Finalize(Completed({0.5f, -0.25f, 1.0f}),
                       [&](const RoundRecord& r) { done = r; });
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->status, "aborted");
  EXPECT_NE(done->abort_reason.find("database or disk is full"),
            std::string::npos)
      << done->abort_reason;
  EXPECT_EQ(finalizer_->model().sequence, 1);
  EXPECT_EQ((*store_->LatestModel())->sequence, 1);
  auto stored = store_->FindRound(done->round_id);
  ASSERT_TRUE(stored.has_value() && stored->has_value());
  EXPECT_EQ((*stored)->status, "aborted");
  for (const auto& c : connections_) EXPECT_TRUE(c->frames.empty());
  EXPECT_TRUE(AuditEntries(*store_, "federated_round_completed").empty());
  EXPECT_EQ(AuditEntries(*store_, "federated_round_aborted").size(), 1u);
}

TEST_F(RoundFinalizerTest, ANonFiniteAggregateAbortsAndKeepsTheModel) {
  OpenFinalizer(nullptr);
  std::optional<RoundRecord> done;
  finalizer_->Finalize(
      Completed({std::numeric_limits<float>::infinity(), 0.0f, 0.0f}),
      [&](const RoundRecord& r) { done = r; });
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->status, "aborted");
  EXPECT_EQ(done->abort_reason,
            "could not commit the aggregate: server optimizer: delta value 0 "
            "is not finite");
  EXPECT_EQ(finalizer_->model().sequence, 1);
  EXPECT_EQ((*store_->LatestModel())->sequence, 1);
  EXPECT_TRUE(connections_[0]->frames.empty());
}

TEST_F(RoundFinalizerTest, ProvenMisbehaviourIsRecordedWhateverTheOutcome) {
  OpenFinalizer(nullptr);
  FinishedRound round = Completed({0.1f, 0.1f, 0.1f});
  round.misbehaviours = {{"HOSP_2", "revealed a share its owner never signed"}};
  finalizer_->Finalize(std::move(round), [](const RoundRecord&) {});
  auto audited = AuditEntries(*store_, "site_misbehaved");
  ASSERT_EQ(audited.size(), 1u);
  EXPECT_EQ(audited[0].fields["site_id"], "HOSP_2");
}

// Evaluation intake: once per site that received the round's result.
TEST_F(RoundFinalizerTest, EachSiteThatGotTheResultMayReportItsEvaluationOnce) {
  OpenFinalizer(nullptr);
  std::optional<RoundRecord> done;
  finalizer_->Finalize(Completed({0.1f, 0.1f, 0.1f}),
                       [&](const RoundRecord& r) { done = r; });
  ASSERT_TRUE(done.has_value());
  protocol::EvaluationReport report;
  report.round_id = static_cast<uint64_t>(done->round_id);
  report.model_version = finalizer_->model().version_id;
  report.metrics.count = 10;
  report.metrics.correct = 9;
  ASSERT_TRUE(intake_->OnReport("HOSP_1", report).has_value());
  ASSERT_TRUE(intake_->OnReport("HOSP_1", report).has_value());  // ignored
  protocol::EvaluationReport stale = report;
  stale.round_id = report.round_id + 7;
  ASSERT_TRUE(intake_->OnReport("HOSP_2", stale).has_value());  // ignored
  auto stored = store_->FindRound(done->round_id);
  EXPECT_EQ((*stored)->eval_count, 10);
  EXPECT_EQ((*stored)->eval_correct, 9);
  EXPECT_EQ((*stored)->eval_reports, 1);
  protocol::EvaluationReport impossible = report;
  impossible.metrics.correct = 11;
  auto refused = intake_->OnReport("HOSP_3", impossible);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message,
            "evaluation_report with impossible counts");
}

}  // namespace
}  // namespace cls::coordinator
