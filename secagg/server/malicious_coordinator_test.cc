// A coordinator that lies (issue 11): a harness speaks the secure aggregation
// protocol to real SecAggClients with real certificates and keys, but departs
// from it the way a malicious coordinator would, to learn one site's update.
// Each attempt must be refused by the honest sites, with a reason they log,
// and before they reveal anything.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crypto/test_pki.h"
#include "crypto/x25519.h"
#include "secagg/client/secagg_client.h"
#include "secagg/common/secagg.h"
#include "secagg/server/round_test_util.h"

namespace cls::coordinator {
namespace {

constexpr uint64_t kRound = 31;
constexpr size_t kDim = 16;

// Drives n honest sites of a complete graph through the protocol by hand,
// holding every message, so a test can alter what one site is sent.
class MaliciousCoordinatorTest : public ::testing::Test {
 protected:
  void Start(int n) {
    for (int i = 0; i < n; ++i) ids_.push_back("SITE_" + std::to_string(i));
    clients_.resize(n);
    for (int i = 0; i < n; ++i) {
      auto client = site::SecAggClient::Start(Announce(i, n), Setup(i));
      ASSERT_TRUE(client.has_value()) << client.error().message;
      clients_[i].emplace(std::move(*client));
    }
  }

  site::SecAggSiteSetup Setup(int i) { return identities_.Setup(ids_[i]); }

  // What an honest coordinator would announce to site i of n (all
  // neighbours, strict-majority threshold).
  protocol::RoundAnnounce Announce(int i, int n) {
    protocol::RoundAnnounce a;
    a.round_id = kRound;
    a.model_version = "v1";
    a.model_kind = "benchmark_vector";
    a.parameters.assign(kDim, 0.0f);
    a.value_bits = 16;
    a.ring_bits = 20;
    a.weight = 1.0 / n;
    a.self_index = static_cast<uint32_t>(i + 1);
    for (int j = 0; j < n; ++j) {
      a.neighbours.push_back({ids_[j], static_cast<uint32_t>(j + 1)});
    }
    a.threshold = protocol::ThresholdFor(static_cast<size_t>(n));
    return a;
  }

  protocol::KeyEntry Entry(int i) {
    const auto& keys = clients_[i]->advertise_keys();
    return {static_cast<uint32_t>(i + 1),
            keys.cipher_public_key,
            keys.mask_public_key,
            keys.self_mask_commitment,
            identities_.Certificate(ids_[i])->der(),
            keys.signature};
  }

  protocol::KeyDirectory Directory() {
    protocol::KeyDirectory d{kRound, {}};
    for (size_t i = 0; i < clients_.size(); ++i) {
      d.keys.push_back(Entry(static_cast<int>(i)));
    }
    return d;
  }

  // Runs the honest protocol up to the masked inputs; returns each site's
  // share delivery as relayed.
  void ThroughMaskedInput() {
    std::map<uint32_t, protocol::ShareDelivery> deliveries;
    const auto directory = Directory();
    for (size_t i = 0; i < clients_.size(); ++i) {
      auto shares = clients_[i]->OnKeyDirectory(directory);
      ASSERT_TRUE(shares.has_value()) << shares.error().message;
      for (const auto& s : shares->shares) {
        deliveries[s.to_index].round_id = kRound;
        deliveries[s.to_index].shares.push_back(s);
      }
    }
    const std::vector<uint32_t> input(kDim, 7);
    for (size_t i = 0; i < clients_.size(); ++i) {
      auto masked = clients_[i]->OnShareDelivery(
          deliveries[static_cast<uint32_t>(i + 1)], input, {});
      ASSERT_TRUE(masked.has_value()) << masked.error().message;
    }
  }

  TestSiteIdentities identities_;
  std::vector<std::string> ids_;
  std::vector<std::optional<site::SecAggClient>> clients_;
};

TEST_F(MaliciousCoordinatorTest, AKeySubstitutedForANeighbourIsRefused) {
  Start(4);
  // The coordinator puts its own mask key in place of SITE_1's, keeping
  // SITE_1's certificate and signature.
  auto directory = Directory();
  auto own = crypto::GenerateX25519KeyPair();
  ASSERT_TRUE(own.has_value());
  directory.keys[1].mask_public_key = own->public_key;
  auto refused = clients_[0]->OnKeyDirectory(directory);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(refused.error().message,
            "round 31: key directory: the keys given for SITE_1 are not "
            "signed by it");
}

TEST_F(MaliciousCoordinatorTest, KeysSignedWithAnotherCertificateAreRefused) {
  Start(4);
  // The coordinator signs a key of its own with a certificate the CA did
  // issue, but to itself, and passes it off as SITE_2's.
  auto coordinator = identities_.pki().Issue(kTestCoordinatorId, "coordinator");
  auto key = crypto::SigningKey::FromPem(coordinator.key_pem);
  ASSERT_TRUE(key.has_value());
  auto directory = Directory();
  auto own = crypto::GenerateX25519KeyPair();
  ASSERT_TRUE(own.has_value());
  auto& entry = directory.keys[2];
  entry.mask_public_key = own->public_key;
  entry.certificate = coordinator.certificate_der;
  entry.signature = *key->Sign(protocol::AdvertisePayload(
      kTestCoordinatorId, kRound, 3, entry.cipher_public_key,
      entry.mask_public_key, entry.self_mask_commitment));
  auto refused = clients_[0]->OnKeyDirectory(directory);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message,
            "round 31: key directory: the certificate given for SITE_2 "
            "belongs to 'coordinator.test' (coordinator)");

  // Nor may a certificate come from another CA, whatever it says.
  crypto::testing::TestPki rogue("Rogue CA");
  auto forged = rogue.Issue("SITE_2", "site");
  auto forged_key = crypto::SigningKey::FromPem(forged.key_pem);
  entry.certificate = forged.certificate_der;
  entry.signature = *forged_key->Sign(protocol::AdvertisePayload(
      kTestCoordinatorId, kRound, 3, entry.cipher_public_key,
      entry.mask_public_key, entry.self_mask_commitment));
  // A fresh SITE_0 (the refused round left it).
  clients_[0] = *site::SecAggClient::Start(Announce(0, 4), Setup(0));
  auto directory2 = Directory();
  directory2.keys[2] = entry;
  refused = clients_[0]->OnKeyDirectory(directory2);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find(
                "the certificate of SITE_2 was refused: certificate not "
                "issued by the CA"),
            std::string::npos)
      << refused.error().message;
}

TEST_F(MaliciousCoordinatorTest, ANeighbourhoodOfOneOrTwoIsRefused) {
  ids_ = {"SITE_0", "SITE_1"};
  // Alone: the sum would be the site's own update.
  protocol::RoundAnnounce alone = Announce(0, 1);
  auto refused = site::SecAggClient::Start(alone, Setup(0));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(refused.error().message,
            "round 31: refused a round of this site alone: the coordinator "
            "would learn its update ([secure_aggregation] allow_single_site = "
            "false)");
  // With one other site (which may be the coordinator's accomplice).
  refused = site::SecAggClient::Start(Announce(0, 2), Setup(0));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message,
            "round 31: refused a neighbourhood of 2 sites, fewer than this "
            "site's minimum of 3 ([secure_aggregation] min_neighbourhood)");
  // Only the site's own operator can allow per-site rounds.
  site::SecAggSiteSetup lenient = Setup(0);
  lenient.allow_single_site = true;
  EXPECT_TRUE(site::SecAggClient::Start(alone, lenient).has_value());
}

TEST_F(MaliciousCoordinatorTest, AThresholdBelowAStrictMajorityIsRefused) {
  ids_ = {"SITE_0", "SITE_1", "SITE_2", "SITE_3", "SITE_4"};
  auto announce = Announce(0, 5);
  announce.threshold = 2;  // two colluders could then rebuild both secrets
  auto refused = site::SecAggClient::Start(announce, Setup(0));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message,
            "round 31: threshold 2 unsafe for 5 neighbours");
}

// The coordinator tells SITE_0 and SITE_1 that SITE_3 survived (to collect
// self-mask shares of SITE_3) and SITE_2 that SITE_3 dropped (to collect a
// mask-key share): with both secrets it would unmask SITE_3's input.
TEST_F(MaliciousCoordinatorTest,
       DifferentSurvivorSetsForDifferentSitesAreRefused) {
  Start(4);
  ThroughMaskedInput();
  const protocol::SurvivorSet all{kRound, {1, 2, 3, 4}};
  const protocol::SurvivorSet without_3{kRound, {1, 2, 3}};
  std::map<uint32_t, Bytes> signed_all, signed_without;
  for (int i : {0, 1, 3}) {
    auto s = clients_[i]->OnSurvivorSet(all);
    ASSERT_TRUE(s.has_value()) << s.error().message;
    signed_all[static_cast<uint32_t>(i + 1)] = s->signature;
  }
  auto s2 = clients_[2]->OnSurvivorSet(without_3);
  ASSERT_TRUE(s2.has_value()) << s2.error().message;

  // SITE_2 is shown the others' signatures, which are over the other set.
  protocol::UnmaskRequest request{kRound, {1, 2, 3}, {4}, {}};
  request.signatures.push_back({3, s2->signature});
  request.signatures.push_back({1, signed_all[1]});
  request.signatures.push_back({2, signed_all[2]});
  auto refused = clients_[2]->OnUnmaskRequest(request);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(refused.error().message,
            "round 31: unmask request: the signature of SITE_0 is not over "
            "the survivor set this site saw");
  // With only its own signature it is one of three: still refused.
  request.signatures.resize(1);
  refused = clients_[2]->OnUnmaskRequest(request);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message,
            "round 31: unmask request: 1 neighbours signed the survivor set, "
            "threshold 3");
}

TEST_F(MaliciousCoordinatorTest, AskingForBothSecretsOfOneSiteIsRefused) {
  Start(4);
  ThroughMaskedInput();
  const protocol::SurvivorSet all{kRound, {1, 2, 3, 4}};
  protocol::UnmaskRequest honest{kRound, {1, 2, 3, 4}, {}, {}};
  for (int i = 0; i < 4; ++i) {
    auto s = clients_[i]->OnSurvivorSet(all);
    ASSERT_TRUE(s.has_value()) << s.error().message;
    honest.signatures.push_back({static_cast<uint32_t>(i + 1), s->signature});
  }
  // SITE_4 signed as a survivor, yet one site is asked for its mask key...
  protocol::UnmaskRequest as_dropped = honest;
  as_dropped.survivors = {1, 2, 3};
  as_dropped.dropped = {4};
  auto refused = clients_[0]->OnUnmaskRequest(as_dropped);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message,
            "round 31: unmask request: the survivors and dropped sites differ "
            "from the survivor set this site signed");
  // ...or for both of its secrets at once.
  protocol::UnmaskRequest both = honest;
  both.dropped = {4};
  refused = clients_[0]->OnUnmaskRequest(both);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kPermissionDenied);
  // The honest request is still answered: self-mask shares only.
  auto answered = clients_[0]->OnUnmaskRequest(honest);
  ASSERT_TRUE(answered.has_value()) << answered.error().message;
  EXPECT_EQ(answered->self_mask_shares.size(), 4u);
  EXPECT_TRUE(answered->mask_key_shares.empty());
  // And only once.
  EXPECT_FALSE(clients_[0]->OnUnmaskRequest(honest).has_value());
}

TEST_F(MaliciousCoordinatorTest, ASurvivorSetNamingAStrangerIsNotSigned) {
  Start(4);
  ThroughMaskedInput();
  auto refused =
      clients_[0]->OnSurvivorSet(protocol::SurvivorSet{kRound, {1, 2, 9}});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message,
            "round 31: survivor set: 2 survivors in this neighbourhood, "
            "threshold 3");
  refused =
      clients_[1]->OnSurvivorSet(protocol::SurvivorSet{kRound, {1, 3, 4}});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message,
            "round 31: survivor set: does not name this site");
}

}  // namespace
}  // namespace cls::coordinator
