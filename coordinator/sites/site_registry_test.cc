// SiteRegistry against fake connections, a real in-memory CA and a real
// SQLite store in a temporary folder.

#include "coordinator/sites/site_registry.h"

#include <gtest/gtest.h>

#include "coordinator/sites/fake_site_connection.h"

namespace cls::coordinator {
namespace {

using testing::AuditEntries;
using testing::FakeSiteConnection;
using testing::HelloFrom;
using testing::PeerFor;

const Actor kOperator{"alice", "operator"};

class SiteRegistryTest : public ::testing::Test {
 protected:
  SiteRegistryTest() : dir_("cls-site-registry") {
    store_ = std::move(
        *CoordinatorStore::Open((dir_.path() / "coordinator.db").string()));
    registry_ = std::make_unique<SiteRegistry>(config_, *store_);
  }

  // Registers the site (first hello), approves it and connects it.
  std::shared_ptr<FakeSiteConnection> Connect(const std::string& site_id) {
    auto connection = std::make_shared<FakeSiteConnection>();
    (void)registry_->Admit(connection, PeerFor(pki_, site_id),
                           HelloFrom(site_id));
    EXPECT_TRUE(registry_->Approve(site_id, kOperator).has_value());
    auto welcome = registry_->Admit(connection, PeerFor(pki_, site_id),
                                    HelloFrom(site_id));
    EXPECT_TRUE(welcome.has_value());
    return connection;
  }

  testing::TempDir dir_;
  crypto::testing::TestPki pki_;
  CoordinatorConfig config_;
  std::unique_ptr<CoordinatorStore> store_;
  std::unique_ptr<SiteRegistry> registry_;
};

TEST_F(SiteRegistryTest, AFirstHelloRegistersThePendingSiteAndIsRefused) {
  auto connection = std::make_shared<FakeSiteConnection>();
  auto welcome = registry_->Admit(connection, PeerFor(pki_, "HOSP_1"),
                                  HelloFrom("HOSP_1"));
  ASSERT_FALSE(welcome.has_value());
  EXPECT_EQ(welcome.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(welcome.error().message,
            "site HOSP_1 awaits operator approval (clsctl sites approve "
            "HOSP_1)");
  auto site = registry_->Find("HOSP_1");
  ASSERT_TRUE(site.has_value() && site->has_value());
  EXPECT_EQ((*site)->status, SiteStatus::kPending);
  EXPECT_EQ(AuditEntries(*store_, "site_registered").size(), 1u);
  EXPECT_FALSE(registry_->IsConnected("HOSP_1"));
}

TEST_F(SiteRegistryTest, AHelloNamingAnotherSiteThanItsCertificateIsRefused) {
  auto welcome = registry_->Admit(std::make_shared<FakeSiteConnection>(),
                                  PeerFor(pki_, "HOSP_1"), HelloFrom("HOSP_2"));
  ASSERT_FALSE(welcome.has_value());
  EXPECT_EQ(welcome.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(welcome.error().message,
            "certificate is for 'HOSP_1' but hello names 'HOSP_2'");
  EXPECT_FALSE(registry_->Find("HOSP_2")->has_value());
}

TEST_F(SiteRegistryTest, AnApprovedSiteWithoutSamplesIsRefused) {
  Connect("HOSP_1");
  auto welcome =
      registry_->Admit(std::make_shared<FakeSiteConnection>(),
                       PeerFor(pki_, "HOSP_1"), HelloFrom("HOSP_1", 0));
  ASSERT_FALSE(welcome.has_value());
  EXPECT_EQ(welcome.error().message, "site HOSP_1 reports no training samples");
}

TEST_F(SiteRegistryTest, ApprovalNeedsASiteThatHasConnected) {
  auto approved = registry_->Approve("HOSP_9", kOperator);
  ASSERT_FALSE(approved.has_value());
  EXPECT_EQ(approved.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(approved.error().message,
            "no site 'HOSP_9' has connected yet; start its agent first, then "
            "approve it");
}

TEST_F(SiteRegistryTest, AnApprovedSiteIsWelcomedAndActive) {
  auto connection = Connect("HOSP_1");
  EXPECT_TRUE(registry_->IsConnected("HOSP_1"));
  EXPECT_EQ(registry_->connected_count(), 1u);
  ASSERT_EQ(registry_->ActiveSites().size(), 1u);
  EXPECT_EQ(registry_->ActiveSites()[0].site_id, "HOSP_1");
  EXPECT_NE(registry_->CertificateOf("HOSP_1"), nullptr);
  auto approvals = AuditEntries(*store_, "site_approved");
  ASSERT_EQ(approvals.size(), 1u);
  EXPECT_EQ(approvals[0].actor, "alice");
}

TEST_F(SiteRegistryTest, ARevokedSiteIsDisconnectedAndRefusedAtItsNextHello) {
  auto connection = Connect("HOSP_1");
  ASSERT_TRUE(registry_->Revoke("HOSP_1", "left the consortium", kOperator)
                  .has_value());
  EXPECT_TRUE(connection->closed);
  EXPECT_EQ(connection->close_reason, "revoked by an operator");
  EXPECT_EQ((*registry_->Find("HOSP_1"))->status, SiteStatus::kRevoked);
  auto welcome = registry_->Admit(std::make_shared<FakeSiteConnection>(),
                                  PeerFor(pki_, "HOSP_1"), HelloFrom("HOSP_1"));
  ASSERT_FALSE(welcome.has_value());
  EXPECT_EQ(welcome.error().message, "site HOSP_1 is revoked");
  auto approved = registry_->Approve("HOSP_1", kOperator);
  ASSERT_FALSE(approved.has_value());
  EXPECT_EQ(approved.error().message, "site HOSP_1 is revoked");
  ASSERT_EQ(AuditEntries(*store_, "site_revoked").size(), 1u);
  EXPECT_EQ(AuditEntries(*store_, "site_revoked")[0].fields["reason"],
            "left the consortium");
}

TEST_F(SiteRegistryTest, ANewHelloReplacesTheLiveConnection) {
  std::vector<std::string> replaced;
  registry_->SetOnConnectionReplaced(
      [&](const std::string& id) { replaced.push_back(id); });
  auto first = Connect("HOSP_1");
  auto second = std::make_shared<FakeSiteConnection>();
  ASSERT_TRUE(
      registry_->Admit(second, PeerFor(pki_, "HOSP_1"), HelloFrom("HOSP_1"))
          .has_value());
  EXPECT_TRUE(first->closed);
  EXPECT_EQ(first->close_reason, "replaced by a new connection");
  EXPECT_EQ(replaced, std::vector<std::string>{"HOSP_1"});
  // The old session ending does not disconnect the new one.
  EXPECT_FALSE(registry_->Remove("HOSP_1", first.get()));
  EXPECT_TRUE(registry_->IsConnected("HOSP_1"));
  EXPECT_TRUE(registry_->Remove("HOSP_1", second.get()));
  EXPECT_FALSE(registry_->IsConnected("HOSP_1"));
}

TEST_F(SiteRegistryTest, AQuarantinedSiteIsReinstatedNotApproved) {
  Connect("HOSP_1");
  ASSERT_TRUE(
      store_->SetSiteStatus("HOSP_1", SiteStatus::kQuarantined).has_value());
  EXPECT_TRUE(registry_->ActiveSites().empty());
  auto approved = registry_->Approve("HOSP_1", kOperator);
  ASSERT_FALSE(approved.has_value());
  EXPECT_EQ(approved.error().message,
            "site HOSP_1 is quarantined for low trust; reinstate it (clsctl "
            "sites reinstate HOSP_1)");
  auto out_of_range = registry_->Reinstate("HOSP_1", 1.5, kOperator);
  ASSERT_FALSE(out_of_range.has_value());
  EXPECT_EQ(out_of_range.error().message,
            "trust_score must be a number from 0 to 1");
  ASSERT_TRUE(registry_->Reinstate("HOSP_1", 0.8, kOperator).has_value());
  EXPECT_EQ((*registry_->Find("HOSP_1"))->status, SiteStatus::kApproved);
  EXPECT_EQ(registry_->ActiveSites().size(), 1u);
  EXPECT_EQ(AuditEntries(*store_, "site_reinstated").size(), 1u);
  auto again = registry_->Reinstate("HOSP_1", 0.8, kOperator);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().message, "site HOSP_1 is approved, not quarantined");
}

TEST_F(SiteRegistryTest, TheOperatorsTrustScoreIsStoredAndAudited) {
  Connect("HOSP_1");
  ASSERT_TRUE(registry_->SetTrustScore("HOSP_1", 0.25, kOperator).has_value());
  EXPECT_DOUBLE_EQ((*registry_->Find("HOSP_1"))->trust_score, 0.25);
  auto entries = AuditEntries(*store_, "site_trust_set");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].fields["previous"], 1.0);
  auto missing = registry_->SetTrustScore("HOSP_9", 0.5, kOperator);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().message, "no site 'HOSP_9'");
}

TEST_F(SiteRegistryTest, AProvenBreachQuarantinesASiteWithLittleTrustLeft) {
  config_.robust.trust.floor = 0.99;  // one full blame drops below it
  Connect("HOSP_1");
  registry_->RecordMisbehaviours(7, {{"HOSP_1", "bad share"}});
  auto misbehaved = AuditEntries(*store_, "site_misbehaved");
  ASSERT_EQ(misbehaved.size(), 1u);
  EXPECT_EQ(misbehaved[0].fields["what"], "bad share");
  EXPECT_EQ((*registry_->Find("HOSP_1"))->status, SiteStatus::kQuarantined);
  EXPECT_EQ(AuditEntries(*store_, "site_quarantined").size(), 1u);
}

TEST_F(SiteRegistryTest, BroadcastReachesEveryConnectedSiteOnly) {
  auto one = Connect("HOSP_1");
  auto two = Connect("HOSP_2");
  registry_->Remove("HOSP_2", two.get());
  registry_->PublishAuditCheckpoint("{\"seq\":1}");
  EXPECT_EQ(one->Kinds(), std::vector<std::string>{"audit_checkpoint"});
  EXPECT_TRUE(two->frames.empty());
  // A message to a site that is not connected is dropped.
  registry_->Send("HOSP_2", protocol::AuditCheckpoint{"{}"});
  EXPECT_TRUE(two->frames.empty());
}

}  // namespace
}  // namespace cls::coordinator
