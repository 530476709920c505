#include "site-agent/round_participant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "core/quantization.h"
#include "crypto/prg.h"
#include "crypto/shamir.h"
#include "crypto/test_pki.h"
#include "site-agent/test_util.h"

namespace cls::site {
namespace {

using protocol::Message;
using testing::ReadFile;
using testing::SyntheticCsv;
using testing::SyntheticDataConfig;
using testing::TempDir;

constexpr uint64_t kRound = 5;

// Builds the announce the coordinator sends site `self_index` of a round with
// three sites, all neighbours of each other.
protocol::RoundAnnounce Announce(std::vector<float> parameters,
                                 uint32_t self_index = 1,
                                 std::string kind = "logistic_regression") {
  protocol::RoundAnnounce a;
  a.round_id = kRound;
  a.model_version = "v1_20240501_000000";
  a.model_hash = ModelHash(parameters);
  a.model_kind = std::move(kind);
  a.parameters = std::move(parameters);
  a.training.epochs = 2;
  a.training.seed = 42;
  a.clip = 1.0;
  a.value_bits = 16;
  a.ring_bits = 32;
  a.weight = 1.0 / 3;
  a.self_index = self_index;
  a.neighbours = {{"HOSP_001", 1}, {"HOSP_002", 2}, {"HOSP_003", 3}};
  a.threshold = 2;
  a.stage_timeout_ms = 30000;
  return a;
}

class RoundParticipantTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto csv = dir_.Write("data.csv", SyntheticCsv(120));
    auto model = LocalModel::Load(SyntheticDataConfig(csv.string()));
    ASSERT_TRUE(model) << model.error().ToString();
    model_.emplace(std::move(*model));
  }

  ParticipantOptions Options(const std::string& site_id) {
    ParticipantOptions options;
    options.site_id = site_id;
    if (!issued_.count(site_id)) issued_[site_id] = pki_.Issue(site_id, "site");
    options.secagg.site_id = site_id;
    options.secagg.signing_key = std::make_shared<crypto::SigningKey>(
        *crypto::SigningKey::FromPem(issued_[site_id].key_pem));
    options.secagg.authority = std::make_shared<crypto::CertificateAuthority>(
        *crypto::CertificateAuthority::FromPem(pki_.ca_pem()));
    options.secagg.coordinator_id = "coordinator.test";
    options.data_dir = dir_.path() / site_id / "state";
    options.expose_deltas_dir = dir_.path() / site_id / "deltas";
    return options;
  }

  std::vector<float> Zeros() const {
    return std::vector<float>(model_->num_parameters(), 0.0f);
  }

  TempDir dir_;
  std::optional<LocalModel> model_;
  crypto::testing::TestPki pki_;
  std::map<std::string, crypto::testing::TestPki::Issued> issued_;
};

template <typename T>
const T* ReplyAs(const Result<std::optional<Message>>& reply) {
  if (!reply || !*reply) return nullptr;
  return std::get_if<T>(&**reply);
}

TEST_F(RoundParticipantTest, AnnounceWithThreeNeighboursProducesAdvertiseKeys) {
  RoundParticipant site(Options("HOSP_001"), &*model_);
  auto reply = site.OnMessage(Announce(Zeros()));
  const auto* keys = ReplyAs<protocol::AdvertiseKeys>(reply);
  ASSERT_NE(keys, nullptr);
  EXPECT_EQ(keys->round_id, kRound);
  EXPECT_NE(keys->cipher_public_key, keys->mask_public_key);
  EXPECT_EQ(site.active_round(), kRound);

  // The exposed delta is clipped and weighted: norm <= clip * weight.
  const std::string delta =
      ReadFile(dir_.path() / "HOSP_001/deltas/round-5.f32");
  ASSERT_EQ(delta.size(), Zeros().size() * sizeof(float));
  std::vector<float> values(Zeros().size());
  std::memcpy(values.data(), delta.data(), delta.size());
  double norm2 = 0;
  for (float v : values) norm2 += v * v;
  EXPECT_GT(norm2, 0);
  EXPECT_LE(std::sqrt(norm2), 1.0 / 3 + 1e-5);
}

TEST_F(RoundParticipantTest, AnnounceWithWrongModelHashIsRefused) {
  RoundParticipant site(Options("HOSP_001"), &*model_);
  auto announce = Announce(Zeros());
  announce.model_hash = ModelHash(std::vector<float>{1.0f});
  auto reply = site.OnMessage(announce);
  ASSERT_TRUE(reply) << "a bad round is left, the connection is kept";
  EXPECT_FALSE(*reply);
  EXPECT_FALSE(site.active_round());
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "HOSP_001/deltas"));
}

TEST_F(RoundParticipantTest, AnnounceWithWrongParameterCountIsRefused) {
  RoundParticipant site(Options("HOSP_001"), &*model_);
  auto reply = site.OnMessage(Announce(std::vector<float>(4, 0.0f)));
  ASSERT_TRUE(reply);
  EXPECT_FALSE(*reply);
  EXPECT_FALSE(site.active_round());
}

TEST_F(RoundParticipantTest, AnnounceWithUnknownModelKindIsRefused) {
  RoundParticipant site(Options("HOSP_001"), &*model_);
  auto reply = site.OnMessage(Announce(Zeros(), 1, "random_forest"));
  ASSERT_TRUE(reply);
  EXPECT_FALSE(*reply);
  EXPECT_FALSE(site.active_round());
}

TEST_F(RoundParticipantTest, AnnounceWithUnsafeThresholdIsRefusedBySecAgg) {
  RoundParticipant site(Options("HOSP_001"), &*model_);
  auto announce = Announce(Zeros());
  announce.threshold = 1;  // below a strict majority of 3
  auto reply = site.OnMessage(announce);
  ASSERT_TRUE(reply);
  EXPECT_FALSE(*reply);
  EXPECT_FALSE(site.active_round());
}

TEST_F(RoundParticipantTest, MessagesForAnotherRoundAreIgnored) {
  RoundParticipant site(Options("HOSP_001"), &*model_);
  ASSERT_TRUE(
      ReplyAs<protocol::AdvertiseKeys>(site.OnMessage(Announce(Zeros()))));
  auto reply = site.OnMessage(protocol::KeyDirectory{kRound + 1, {}});
  ASSERT_TRUE(reply);
  EXPECT_FALSE(*reply);
  EXPECT_EQ(site.active_round(), kRound);
}

TEST_F(RoundParticipantTest, BadKeyDirectoryMakesTheSiteLeaveTheRoundOnly) {
  RoundParticipant site(Options("HOSP_001"), &*model_);
  ASSERT_TRUE(
      ReplyAs<protocol::AdvertiseKeys>(site.OnMessage(Announce(Zeros()))));
  // A directory without this site's own keys.
  auto reply = site.OnMessage(protocol::KeyDirectory{kRound, {}});
  ASSERT_TRUE(reply);
  EXPECT_FALSE(*reply);
  EXPECT_FALSE(site.active_round());
}

TEST_F(RoundParticipantTest, UnexpectedMessageTypeAsksForAReconnect) {
  RoundParticipant site(Options("HOSP_001"), &*model_);
  auto reply = site.OnMessage(protocol::Hello{});
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(reply.error().message.find("hello"), std::string::npos);
}

TEST_F(RoundParticipantTest, RoundAbortedDropsTheRound) {
  RoundParticipant site(Options("HOSP_001"), &*model_);
  ASSERT_TRUE(
      ReplyAs<protocol::AdvertiseKeys>(site.OnMessage(Announce(Zeros()))));
  auto reply = site.OnMessage(protocol::RoundAborted{kRound, "too few sites"});
  ASSERT_TRUE(reply);
  EXPECT_FALSE(*reply);
  EXPECT_FALSE(site.active_round());
}

TEST_F(RoundParticipantTest, RoundResultWithWrongHashIsNotStored) {
  RoundParticipant site(Options("HOSP_001"), &*model_);
  ASSERT_TRUE(
      ReplyAs<protocol::AdvertiseKeys>(site.OnMessage(Announce(Zeros()))));
  protocol::RoundResult result{kRound,
                               "v2",
                               ModelHash(Zeros()),
                               std::vector<float>(Zeros().size(), 0.5f),
                               3,
                               {}};
  auto reply = site.OnMessage(result);
  ASSERT_TRUE(reply);
  EXPECT_FALSE(*reply);
  EXPECT_EQ(site.model_version(), "");
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "HOSP_001/state" /
                                       kGlobalModelFile));
}

TEST_F(RoundParticipantTest, BenchmarkModeSendsARandomVectorOfHalfTheClipNorm) {
  ParticipantOptions options = Options("HOSP_001");
  options.benchmark_parameters = 1000;
  RoundParticipant site(options, nullptr);
  EXPECT_EQ(site.num_samples(), 1u);
  auto announce =
      Announce(std::vector<float>(1000, 0.0f), 1, "benchmark_vector");
  announce.weight = 1.0;
  announce.clip = 2.0;
  ASSERT_TRUE(ReplyAs<protocol::AdvertiseKeys>(site.OnMessage(announce)));
  const std::string delta = ReadFile(options.expose_deltas_dir / "round-5.f32");
  ASSERT_EQ(delta.size(), 4000u);
  std::vector<float> values(1000);
  std::memcpy(values.data(), delta.data(), delta.size());
  double norm2 = 0;
  for (float v : values) norm2 += v * v;
  EXPECT_NEAR(std::sqrt(norm2), 1.0, 1e-4);

  // A benchmark agent has no data to train a logistic regression on.
  RoundParticipant other(options, nullptr);
  auto refused = other.OnMessage(Announce(Zeros()));
  ASSERT_TRUE(refused);
  EXPECT_FALSE(*refused);
}

// Three sites run a whole round through a scripted coordinator that routes
// their messages; the unmasked sum must equal the sum of their (exposed)
// weighted deltas, and the result must be stored and reported.
TEST_F(RoundParticipantTest,
       ThreeSitesCompleteARoundAndTheSumUnmasksCorrectly) {
  const std::vector<std::string> ids = {"HOSP_001", "HOSP_002", "HOSP_003"};
  std::vector<std::unique_ptr<RoundParticipant>> sites;
  for (const auto& id : ids) {
    sites.push_back(std::make_unique<RoundParticipant>(Options(id), &*model_));
  }

  protocol::KeyDirectory directory{kRound, {}};
  for (uint32_t i = 0; i < 3; ++i) {
    auto reply = sites[i]->OnMessage(Announce(Zeros(), i + 1));
    const auto* keys = ReplyAs<protocol::AdvertiseKeys>(reply);
    ASSERT_NE(keys, nullptr) << ids[i];
    directory.keys.push_back({i + 1, keys->cipher_public_key,
                              keys->mask_public_key, keys->self_mask_commitment,
                              issued_[ids[i]].certificate_der,
                              keys->signature});
  }

  std::map<uint32_t, protocol::ShareDelivery> deliveries;
  for (uint32_t i = 0; i < 3; ++i) {
    auto reply = sites[i]->OnMessage(directory);
    const auto* shares = ReplyAs<protocol::ShareKeys>(reply);
    ASSERT_NE(shares, nullptr) << ids[i];
    EXPECT_EQ(shares->shares.size(), 2u);
    for (const auto& share : shares->shares) {
      deliveries[share.to_index].round_id = kRound;
      deliveries[share.to_index].shares.push_back(share);
    }
  }

  std::vector<uint32_t> sum;
  uint64_t validated = 0;
  for (uint32_t i = 0; i < 3; ++i) {
    auto reply = sites[i]->OnMessage(deliveries[i + 1]);
    const auto* masked = ReplyAs<protocol::MaskedInput>(reply);
    ASSERT_NE(masked, nullptr) << ids[i];
    EXPECT_EQ(masked->metrics.count, model_->num_test());
    EXPECT_EQ(masked->metrics.train_samples, model_->num_samples());
    validated += masked->metrics.count;
    if (sum.empty()) sum.assign(masked->masked.size(), 0);
    ASSERT_EQ(masked->masked.size(), sum.size());
    for (size_t k = 0; k < sum.size(); ++k) sum[k] += masked->masked[k];
  }
  EXPECT_EQ(validated, 3 * model_->num_test());

  // Each site signs the survivor set; nobody dropped, so each reveals its
  // shares of every self-mask seed once it sees the others' signatures.
  protocol::UnmaskRequest request{kRound, {1, 2, 3}, {}, {}};
  for (uint32_t i = 0; i < 3; ++i) {
    auto reply = sites[i]->OnMessage(protocol::SurvivorSet{kRound, {1, 2, 3}});
    const auto* signature = ReplyAs<protocol::SurvivorSetSignature>(reply);
    ASSERT_NE(signature, nullptr) << ids[i];
    request.signatures.push_back({i + 1, signature->signature});
  }
  std::map<uint32_t, std::vector<crypto::ShamirShare>> self_shares;
  for (uint32_t i = 0; i < 3; ++i) {
    auto reply = sites[i]->OnMessage(request);
    const auto* response = ReplyAs<protocol::UnmaskResponse>(reply);
    ASSERT_NE(response, nullptr) << ids[i];
    EXPECT_TRUE(response->mask_key_shares.empty());
    EXPECT_EQ(response->self_mask_shares.size(), 3u);
    for (const auto& s : response->self_mask_shares) {
      self_shares[s.owner_index].push_back({s.x, s.y});
    }
  }
  for (const auto& [owner, shares] : self_shares) {
    auto seed = crypto::ShamirCombine(shares, 2, 32);
    ASSERT_TRUE(seed) << seed.error().ToString();
    Key32 key;
    std::copy(seed->begin(), seed->end(), key.begin());
    crypto::AddMask(key, 32, -1, sum);
  }
  const core::QuantizationSpec spec{1.0, 16, 32};
  std::vector<float> unmasked(sum.size());
  core::DequantizeSum(sum, 3, spec, unmasked);

  std::vector<float> expected(sum.size(), 0.0f);
  for (const auto& id : ids) {
    const std::string bytes = ReadFile(dir_.path() / id / "deltas/round-5.f32");
    ASSERT_EQ(bytes.size(), expected.size() * sizeof(float));
    std::vector<float> delta(expected.size());
    std::memcpy(delta.data(), bytes.data(), bytes.size());
    for (size_t k = 0; k < delta.size(); ++k) expected[k] += delta[k];
  }
  for (size_t k = 0; k < expected.size(); ++k) {
    EXPECT_NEAR(unmasked[k], expected[k], 3 * spec.Step()) << k;
  }

  // The coordinator publishes the new model: every site stores and reports.
  std::vector<float> next = Zeros();
  for (size_t k = 0; k < next.size(); ++k) next[k] = unmasked[k];
  const protocol::RoundResult result{
      kRound, "v2_20240501_000100", ModelHash(next), next, 3, {}};
  for (uint32_t i = 0; i < 3; ++i) {
    auto reply = sites[i]->OnMessage(result);
    const auto* report = ReplyAs<protocol::EvaluationReport>(reply);
    ASSERT_NE(report, nullptr) << ids[i];
    EXPECT_EQ(report->round_id, kRound);
    EXPECT_EQ(report->model_version, "v2_20240501_000100");
    EXPECT_EQ(report->metrics.count, model_->num_test());
    EXPECT_EQ(report->scores.true_positives + report->scores.false_positives +
                  report->scores.true_negatives +
                  report->scores.false_negatives,
              model_->num_test());
    EXPECT_EQ(report->scores.positive_histogram.size(), 20u);
    EXPECT_EQ(report->scores.negative_histogram.size(), 20u);
    EXPECT_FALSE(sites[i]->active_round());
    EXPECT_EQ(sites[i]->model_version(), "v2_20240501_000100");
  }

  // State on disk: the model reloads, status.json tells the IT team.
  const auto state = dir_.path() / "HOSP_002/state";
  RoundParticipant restarted(Options("HOSP_002"), &*model_);
  ASSERT_TRUE(restarted.LoadState());
  EXPECT_EQ(restarted.model_version(), "v2_20240501_000100");
  const auto status = nlohmann::json::parse(ReadFile(state / kStatusFile));
  EXPECT_EQ(status["site_id"], "HOSP_002");
  EXPECT_EQ(status["model_version"], "v2_20240501_000100");
  EXPECT_EQ(status["round_id"], kRound);
  EXPECT_EQ(status["federated"]["count"], model_->num_test());
  EXPECT_EQ(status["local_only"]["count"], model_->num_test());
  EXPECT_EQ(status["num_samples"], model_->num_samples());
}

// Issue 14: after a restart the stored global model is evaluated as its own
// kind (an MLP here) in status.json. Failed before global_model.bin kept the
// spec: the MLP's parameters did not fit the default logistic regression,
// so status.json had no federated metrics.
TEST_F(RoundParticipantTest, AStoredMlpIsEvaluatedAsAnMlpAfterARestart) {
  const core::ModelSpec spec{
      core::ModelKind::kMlp, model_->num_features(), 2, {4}, "relu"};
  GlobalModel stored;
  stored.round_id = 3;
  stored.version = "v3_mlp";
  stored.parameters.assign(spec.NumParameters(), 0.05f);
  stored.hash = ModelHash(stored.parameters);
  stored.spec = spec.ToString();
  const ParticipantOptions options = Options("HOSP_MLP");
  ASSERT_TRUE(SaveGlobalModel(options.data_dir / kGlobalModelFile, stored));

  RoundParticipant restarted(options, &*model_);
  ASSERT_TRUE(restarted.LoadState());
  EXPECT_EQ(restarted.model_version(), "v3_mlp");
  const SiteStatus status = restarted.CurrentStatus();
  ASSERT_TRUE(status.federated.has_value());
  EXPECT_EQ(status.federated->count, model_->num_test());
}

}  // namespace
}  // namespace cls::site
