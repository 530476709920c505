#include "site-agent/state_store.h"

#include <span>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/model_spec.h"
#include "site-agent/serving_state.h"
#include "site-agent/test_util.h"

namespace cls::site {
namespace {

using testing::ReadFile;
using testing::TempDir;

GlobalModel SampleModel() {
  GlobalModel model;
  model.round_id = 12;
  model.version = "v3_20240501_120000";
  model.parameters = {0.5f, -1.25f, 3.0f};
  model.hash = ModelHash(model.parameters);
  return model;
}

TEST(StateStoreTest, ModelHashCoversLittleEndianFloat32Bytes) {
  const std::vector<float> params = {1.0f};
  EXPECT_EQ(ParameterBytes(params), (Bytes{0x00, 0x00, 0x80, 0x3f}));
  // SHA-256 of the empty string, for the empty model.
  EXPECT_EQ(ModelHash({}),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

// An empty span has a null data(); copying from it was undefined behaviour
// (UBSan: "null pointer passed as argument 1" in make sanitize).
TEST(StateStoreTest, ParameterBytesOfAnEmptyModelIsEmpty) {
  EXPECT_TRUE(ParameterBytes(std::span<const float>()).empty());
  const std::vector<float> none;
  EXPECT_TRUE(ParameterBytes(none).empty());
}

TEST(StateStoreTest, GlobalModelSurvivesASaveAndLoad) {
  TempDir dir;
  const auto path = dir.path() / "state" / kGlobalModelFile;
  ASSERT_TRUE(SaveGlobalModel(path, SampleModel()));
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp"));
  auto loaded = LoadGlobalModel(path);
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  ASSERT_TRUE(*loaded);
  EXPECT_EQ((*loaded)->round_id, 12u);
  EXPECT_EQ((*loaded)->version, "v3_20240501_120000");
  EXPECT_EQ((*loaded)->parameters, SampleModel().parameters);
}

TEST(StateStoreTest, AbsentGlobalModelIsNotAnError) {
  TempDir dir;
  auto loaded = LoadGlobalModel(dir.path() / kGlobalModelFile);
  ASSERT_TRUE(loaded);
  EXPECT_FALSE(*loaded);
}

TEST(StateStoreTest, TamperedGlobalModelIsDataLoss) {
  Bytes bytes = EncodeGlobalModel(SampleModel());
  bytes.back() ^= 0x01;
  auto decoded = DecodeGlobalModel(bytes);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(decoded.error().message.find("hash"), std::string::npos);
}

TEST(StateStoreTest, TruncatedGlobalModelIsDataLoss) {
  Bytes bytes = EncodeGlobalModel(SampleModel());
  for (size_t keep : {size_t{0}, size_t{8}, size_t{20}, bytes.size() - 1}) {
    auto decoded = DecodeGlobalModel(ByteSpan(bytes).first(keep));
    ASSERT_FALSE(decoded) << keep;
    EXPECT_EQ(decoded.error().code, ErrorCode::kDataLoss);
  }
}

// A softmax regression over 6 inputs and 3 classes, class 2 favoured.
GlobalModel SoftmaxModel() {
  const core::ModelSpec spec{
      core::ModelKind::kSoftmaxRegression, 6, 3, {}, "relu"};
  GlobalModel model;
  model.round_id = 4;
  model.version = "v4_softmax";
  model.parameters.assign(spec.NumParameters(), 0.0f);
  model.parameters.back() = 2.0f;  // bias of class 2
  model.hash = ModelHash(model.parameters);
  model.spec = spec.ToString();
  return model;
}

// Issue 14: the spec was not stored, so after a restart a softmax model came
// back as logistic regression and the site refused to serve it (this test
// failed before the CLSGM002 encoding: the loaded spec was empty).
TEST(StateStoreTest, ASoftmaxGlobalModelIsServedAsSoftmaxAfterALoad) {
  TempDir dir;
  const auto path = dir.path() / kGlobalModelFile;
  ASSERT_TRUE(SaveGlobalModel(path, SoftmaxModel()));
  auto loaded = LoadGlobalModel(path);
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  ASSERT_TRUE(*loaded);
  EXPECT_EQ((*loaded)->spec, SoftmaxModel().spec);
  EXPECT_EQ((*loaded)->parameters, SoftmaxModel().parameters);

  auto state = ServingState::Create(DefaultDeployment(**loaded), 6, 3);
  ASSERT_TRUE(state) << state.error().ToString();
  const Eigen::RowVectorXf probs =
      state->Probabilities(rollout::Arm::kCurrent, Eigen::MatrixXf::Zero(1, 6));
  ASSERT_EQ(probs.size(), 3);
  EXPECT_NEAR(probs.sum(), 1.0f, 1e-5f);
  EXPECT_GT(probs(2), probs(0));
  EXPECT_FLOAT_EQ(probs(0), probs(1));
}

// The same for an MLP: its hidden layers come back with it.
TEST(StateStoreTest, AnMlpGlobalModelKeepsItsHiddenLayersThroughAFile) {
  const core::ModelSpec spec{core::ModelKind::kMlp, 6, 2, {8, 4}, "relu"};
  GlobalModel model;
  model.round_id = 9;
  model.version = "v9_mlp";
  model.parameters.assign(spec.NumParameters(), 0.01f);
  model.hash = ModelHash(model.parameters);
  model.spec = spec.ToString();
  TempDir dir;
  const auto path = dir.path() / kGlobalModelFile;
  ASSERT_TRUE(SaveGlobalModel(path, model));
  auto loaded = LoadGlobalModel(path);
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  ASSERT_TRUE(*loaded);
  auto parsed = core::ModelSpec::Parse((*loaded)->spec);
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_EQ(*parsed, spec);
  // Served as the MLP: logistic regression over 6 inputs has 7 parameters.
  auto state = ServingState::Create(DefaultDeployment(**loaded), 6, 2);
  ASSERT_TRUE(state) << state.error().ToString();
  EXPECT_EQ(
      state->Probabilities(rollout::Arm::kCurrent, Eigen::MatrixXf::Zero(1, 6))
          .size(),
      2);
}

// A file written before model kinds ("CLSGM001", no spec field) still
// loads, as logistic regression.
TEST(StateStoreTest, AVersionOneFileLoadsAsLogisticRegression) {
  const GlobalModel old = SampleModel();
  const std::string magic = "CLSGM001";
  Bytes bytes(magic.begin(), magic.end());
  auto put = [&](uint64_t v, int n) {
    for (int i = 0; i < n; ++i)
      bytes.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  auto put_string = [&](const std::string& s) {
    put(s.size(), 4);
    bytes.insert(bytes.end(), s.begin(), s.end());
  };
  put(old.round_id, 8);
  put_string(old.version);
  put_string(old.hash);
  put(old.parameters.size(), 8);
  const Bytes params = ParameterBytes(old.parameters);
  bytes.insert(bytes.end(), params.begin(), params.end());

  auto decoded = DecodeGlobalModel(bytes);
  ASSERT_TRUE(decoded) << decoded.error().ToString();
  EXPECT_EQ(decoded->round_id, 12u);
  EXPECT_EQ(decoded->version, old.version);
  EXPECT_EQ(decoded->parameters, old.parameters);
  EXPECT_TRUE(decoded->spec.empty());
  // 3 parameters: logistic regression over 2 inputs, served as such.
  auto state = ServingState::Create(DefaultDeployment(*decoded), 2, 2);
  ASSERT_TRUE(state) << state.error().ToString();
  // What is written now is the new encoding.
  const Bytes now = EncodeGlobalModel(old);
  EXPECT_EQ(std::string(now.begin(), now.begin() + 8), "CLSGM002");
}

// The spec is outside the hash: a spec edited to another size is refused,
// as is one that does not parse.
TEST(StateStoreTest, AnEditedSpecIsDataLoss) {
  GlobalModel model = SoftmaxModel();
  model.spec = "kind=softmax_regression;features=7;classes=3";
  auto decoded = DecodeGlobalModel(EncodeGlobalModel(model));
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(decoded.error().message.find("spec"), std::string::npos)
      << decoded.error().message;
  model.spec = "kind=random_forest";
  decoded = DecodeGlobalModel(EncodeGlobalModel(model));
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, ErrorCode::kDataLoss);
}

TEST(StateStoreTest, StatusJsonHoldsAggregatesAndAnIsoTimestamp) {
  SiteStatus status;
  status.site_id = "HOSP_001";
  status.model_version = "v2";
  status.round_id = 4;
  status.federated = MetricsSummary{0.8, 0.9, 60};
  status.num_samples = 240;
  status.rows_rejected = 3;
  status.updated_at = std::chrono::system_clock::time_point(
      std::chrono::seconds(1714566896));  // 2024-05-01T12:34:56Z
  TempDir dir;
  const auto path = dir.path() / kStatusFile;
  ASSERT_TRUE(WriteStatus(path, status));
  const auto j = nlohmann::json::parse(ReadFile(path));
  EXPECT_EQ(j["site_id"], "HOSP_001");
  EXPECT_EQ(j["model_version"], "v2");
  EXPECT_EQ(j["round_id"], 4);
  EXPECT_DOUBLE_EQ(j["federated"]["accuracy"].get<double>(), 0.8);
  EXPECT_EQ(j["federated"]["count"], 60);
  EXPECT_TRUE(j["local_only"].is_null());
  EXPECT_EQ(j["num_samples"], 240);
  EXPECT_EQ(j["rows_rejected"], 3);
  EXPECT_EQ(j["updated_at"], "2024-05-01T12:34:56Z");
}

}  // namespace
}  // namespace cls::site
