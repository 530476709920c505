// POST /v1/rounds/abort and DELETE /v1/rounds/queue through the admin API
// over a real Federation and store, with three fake site connections that
// never answer (so a started round stays in its first stage until aborted).

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <gtest/gtest.h>

#include <fstream>
#include <functional>

#include "common/version.h"
#include "coordinator/admin/admin_api_test_fixture.h"
#include "coordinator/sites/fake_site_connection.h"
#include "secagg/server/round_test_util.h"

namespace cls::coordinator {
namespace {

using nlohmann::json;
using testing::AuditEntries;
using testing::FakeSiteConnection;
using testing::HelloFrom;

class AdminApiRoundsTest : public AdminApiFixture {
 protected:
  void SetUp() override {
    config_.pause_between_rounds = std::chrono::milliseconds(10);
    // Every round a training round (no statistics round first).
    config_.model_kind = "benchmark_vector";
    const auto cert =
        std::filesystem::temp_directory_path() /
        ("cls-admin-rounds-" + std::to_string(::getpid()) + ".crt");
    cert_file_ = cert.string();
    std::ofstream(cert_file_)
        << ids_.pki().Issue(kTestCoordinatorId, "coordinator").certificate_pem;
    config_.tls.cert_file = cert_file_;
    OpenFederation("cls-admin-rounds");
    if (HasFatalFailure()) return;
    for (const char* id : {"HOSP_1", "HOSP_2", "HOSP_3"}) Connect(id);
  }
  void TearDown() override {
    AdminApiFixture::TearDown();
    std::filesystem::remove(cert_file_);
  }

  void Connect(const std::string& id) {
    auto c = std::make_shared<FakeSiteConnection>();
    crypto::PeerIdentity peer{id, "site", "01", ids_.Certificate(id)->der()};
    SiteRegistry& sites = federation_->sites();
    (void)sites.Admit(c, peer, HelloFrom(id));  // registers it, pending
    ASSERT_TRUE(sites.Approve(id, {"alice", "operator"}).has_value());
    ASSERT_TRUE(sites.Admit(c, peer, HelloFrom(id)).has_value());
    connections_[id] = c;
  }

  // Runs the io_context until `done()`, for at most 20 s.
  void RunUntil(const std::function<bool()>& done) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io_.run_for(std::chrono::milliseconds(5));
      io_.restart();
    }
  }

  std::optional<int64_t> RunningRound() {
    auto current = federation_->rounds().CurrentRound();
    if (!current || current->stage == "finalizing") return std::nullopt;
    return current->record.round_id;
  }

  size_t CountKind(const std::string& id, const std::string& kind) {
    size_t n = 0;
    for (const auto& k : connections_[id]->Kinds()) n += k == kind;
    return n;
  }

  std::string cert_file_;
  TestSiteIdentities ids_;
  std::map<std::string, std::shared_ptr<FakeSiteConnection>> connections_;
};

TEST_F(AdminApiRoundsTest, AbortWithNoRoundRunningIsAConflict) {
  AdminResponse r = Call("POST", "/v1/rounds/abort", "operator");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body["error"]["code"], "failed_precondition");
  EXPECT_EQ(r.body["error"]["message"], "no round is running");
  auto refused = AuditEntries(*store_, "command_refused");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].fields["path"], "/v1/rounds/abort");
  EXPECT_EQ(refused[0].fields["status"], 409);
  EXPECT_TRUE(AuditEntries(*store_, "round_abort_requested").empty());
}

TEST_F(AdminApiRoundsTest, ViewersAndAuditorsMayNeitherAbortNorClear) {
  ASSERT_EQ(Call("POST", "/v1/rounds", "operator", R"({"rounds": 2})").status,
            200);
  for (const char* role : {"viewer", "auditor"}) {
    AdminResponse abort = Call("POST", "/v1/rounds/abort", role);
    EXPECT_EQ(abort.status, 403) << role;
    EXPECT_EQ(abort.body["error"]["code"], "permission_denied");
    EXPECT_EQ(Call("DELETE", "/v1/rounds/queue", role).status, 403) << role;
  }
  EXPECT_EQ(AuditEntries(*store_, "access_denied").size(), 4u);
  // Nothing changed.
  EXPECT_EQ(RunningRound(), 1);
  EXPECT_EQ(federation_->rounds().queued_rounds(), 1);
}

TEST_F(AdminApiRoundsTest, AbortEndsTheRoundCleanlyAndTheNextQueuedOneRuns) {
  const std::string model_before = federation_->model().version_id;
  ASSERT_EQ(Call("POST", "/v1/rounds", "operator", R"({"rounds": 2})").status,
            200);
  ASSERT_EQ(RunningRound(), 1);

  AdminResponse r = Call("POST", "/v1/rounds/abort", "operator");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body, json({{"aborted_round", 1}}));

  auto requested = AuditEntries(*store_, "round_abort_requested");
  ASSERT_EQ(requested.size(), 1u);
  EXPECT_EQ(requested[0].actor, "user_operator");
  EXPECT_EQ(requested[0].actor_role, "operator");
  EXPECT_EQ(requested[0].fields["round"], 1);
  EXPECT_EQ(requested[0].fields["stage"], "advertise_keys");

  RunUntil([&] { return RunningRound() == 2; });
  ASSERT_EQ(RunningRound(), 2);
  auto round = store_->FindRound(1);
  ASSERT_TRUE(round.has_value() && round->has_value());
  EXPECT_EQ((*round)->status, "aborted");
  EXPECT_EQ((*round)->abort_reason, "aborted by operator user_operator");
  auto aborted = AuditEntries(*store_, "federated_round_aborted");
  ASSERT_EQ(aborted.size(), 1u);
  EXPECT_EQ(aborted[0].fields["reason"], "aborted by operator user_operator");
  // The sites are told; nothing was committed.
  for (const char* id : {"HOSP_1", "HOSP_2", "HOSP_3"}) {
    EXPECT_EQ(CountKind(id, "round_aborted"), 1u) << id;
    EXPECT_EQ(CountKind(id, "round_result"), 0u) << id;
  }
  EXPECT_EQ(federation_->model().version_id, model_before);
  EXPECT_TRUE((*round)->model_version.empty());

  // The status shows round 2 in its first stage, none queued.
  AdminResponse status = Call("GET", "/v1/status", "viewer");
  EXPECT_EQ(status.body["round"]["round_id"], 2);
  EXPECT_EQ(status.body["queued_rounds"], 0);
}

TEST_F(AdminApiRoundsTest, ClearingTheQueueLeavesTheRunningRoundAlone) {
  ASSERT_EQ(Call("POST", "/v1/rounds", "operator", R"({"rounds": 4})").status,
            200);
  AdminResponse r = Call("DELETE", "/v1/rounds/queue", "operator");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body, json({{"cleared", 3}}));
  auto cleared = AuditEntries(*store_, "training_rounds_cleared");
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].actor, "user_operator");
  EXPECT_EQ(cleared[0].fields["cleared"], 3);
  EXPECT_EQ(RunningRound(), 1);
  EXPECT_EQ(federation_->rounds().queued_rounds(), 0);

  // Aborting the running round now leaves nothing to run.
  ASSERT_EQ(Call("POST", "/v1/rounds/abort", "admin").status, 200);
  RunUntil([&] { return !federation_->rounds().CurrentRound().has_value(); });
  EXPECT_FALSE(federation_->rounds().CurrentRound().has_value());
  EXPECT_EQ((*store_->FindRound(1))->abort_reason,
            "aborted by operator user_admin");
  EXPECT_FALSE(store_->FindRound(2)->has_value());
  EXPECT_EQ(Call("POST", "/v1/rounds/abort", "admin").status, 409);
  // An empty queue clears to 0, still audited.
  AdminResponse again = Call("DELETE", "/v1/rounds/queue", "admin");
  EXPECT_EQ(again.body, json({{"cleared", 0}}));
  EXPECT_EQ(AuditEntries(*store_, "training_rounds_cleared").size(), 2u);
}

TEST_F(AdminApiRoundsTest, StatusCarriesTheVersionAndProtocolVersions) {
  AdminResponse status = Call("GET", "/v1/status", "viewer");
  ASSERT_EQ(status.status, 200);
  EXPECT_EQ(status.body["version"], cls::VersionString());
  EXPECT_EQ(status.body["protocol_versions"],
            json::array({protocol::kProtocolVersion}));
}

// Issue 14: with the coordinator's (cross-site) DP off, /v1/privacy still
// answers (it answered 409 before this test was written, hiding the sites'
// own record-level guarantee): "enabled": false, the site-level figures
// null rather than 0, and each DP-SGD site's record-level ledger.
TEST_F(AdminApiRoundsTest, PrivacyOffStillShowsTheSitesRecordLevelEpsilon) {
  ASSERT_EQ(federation_->privacy(), nullptr);
  // HOSP_DP says hello with the DP-SGD ledger it keeps itself.
  protocol::Hello hello = HelloFrom("HOSP_DP");
  hello.record_privacy = {.dp_sgd = true,
                          .epsilon = 3.25,
                          .delta = 1e-5,
                          .target_epsilon = 8.0,
                          .refusals = 2};
  auto c = std::make_shared<FakeSiteConnection>();
  crypto::PeerIdentity peer{"HOSP_DP", "site", "01",
                            ids_.Certificate("HOSP_DP")->der()};
  (void)federation_->sites().Admit(c, peer, hello);

  AdminResponse r = Call("GET", "/v1/privacy", "auditor");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["enabled"], false);
  EXPECT_EQ(r.body["mode"], "off");
  for (const char* key :
       {"spent_epsilon", "remaining_epsilon", "period", "rounds_charged",
        "noise_multiplier", "privacy_epsilon_per_round", "optimal_order"}) {
    ASSERT_TRUE(r.body.contains(key)) << key;
    EXPECT_TRUE(r.body[key].is_null()) << key << ": " << r.body.dump();
  }
  EXPECT_EQ(r.body["history"], json::array());
  ASSERT_EQ(r.body["record_level"].size(), 1u) << r.body.dump();
  const json& site = r.body["record_level"][0];
  EXPECT_EQ(site["site_id"], "HOSP_DP");
  EXPECT_EQ(site["epsilon"], 3.25);
  EXPECT_EQ(site["delta"], 1e-5);
  EXPECT_EQ(site["target_epsilon"], 8.0);
  EXPECT_EQ(site["refusals"], 2);
  // A bad limit is still refused; resetting a budget that is not kept is
  // still a precondition failure.
  EXPECT_EQ(Call("GET", "/v1/privacy?limit=0", "auditor").status, 400);
  EXPECT_EQ(
      Call("POST", "/v1/privacy/reset", "admin", R"({"reason": "new study"})")
          .status,
      409);
}

// With differential privacy on: an aborted round is charged nothing (the
// ledger charges only completed rounds), so the privacy report is the same
// before the round and after its abort.
class AdminApiRoundsPrivacyTest : public AdminApiRoundsTest {
 protected:
  void SetUp() override {
    config_.privacy.mode = "central";
    AdminApiRoundsTest::SetUp();
  }
};

TEST_F(AdminApiRoundsPrivacyTest, AnAbortedRoundSpendsNoPrivacyBudget) {
  ASSERT_NE(federation_->privacy(), nullptr);
  AdminResponse before = Call("GET", "/v1/privacy", "admin");
  ASSERT_EQ(before.status, 200) << before.body.dump();
  ASSERT_EQ(Call("POST", "/v1/rounds", "operator", R"({"rounds": 1})").status,
            200);
  ASSERT_EQ(Call("POST", "/v1/rounds/abort", "operator").status, 200);
  RunUntil([&] { return !federation_->rounds().CurrentRound().has_value(); });
  ASSERT_EQ((*store_->FindRound(1))->status, "aborted");
  AdminResponse after = Call("GET", "/v1/privacy", "admin");
  ASSERT_EQ(after.status, 200);
  EXPECT_EQ(after.body, before.body);
  EXPECT_EQ(after.body["spent_epsilon"], 0.0);
  EXPECT_EQ(after.body["mode"], "central");
  EXPECT_EQ(after.body["enabled"], true);
  EXPECT_EQ(after.body["record_level"], json::array());
}

}  // namespace
}  // namespace cls::coordinator
