#include "site-agent/state_store.h"

#include <span>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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

// A multi-class (or MLP) federation's model keeps its spec across a restart,
// so the site rebuilds the same kind; a file written before the spec was
// stored ("CLSGM001") still loads, as the site's default model.
TEST(StateStoreTest, GlobalModelKeepsItsSpecAndOldFilesStillLoad) {
  TempDir dir;
  const auto path = dir.path() / kGlobalModelFile;
  GlobalModel mlp = SampleModel();
  mlp.spec = "kind=mlp;features=1;classes=3;hidden=1;activation=relu";
  ASSERT_TRUE(SaveGlobalModel(path, mlp));
  auto loaded = LoadGlobalModel(path);
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  ASSERT_TRUE(*loaded);
  EXPECT_EQ((*loaded)->spec, mlp.spec);
  EXPECT_EQ((*loaded)->parameters, mlp.parameters);

  // The old layout: the same fields without the spec.
  const GlobalModel old = SampleModel();
  Bytes v1;
  const std::string magic = "CLSGM001";
  v1.insert(v1.end(), magic.begin(), magic.end());
  const auto put = [&](uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i)
      v1.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  put(old.round_id, 8);
  for (const std::string& s : {old.version, old.hash}) {
    put(s.size(), 4);
    v1.insert(v1.end(), s.begin(), s.end());
  }
  put(old.parameters.size(), 8);
  const Bytes params = ParameterBytes(old.parameters);
  v1.insert(v1.end(), params.begin(), params.end());
  auto decoded = DecodeGlobalModel(v1);
  ASSERT_TRUE(decoded) << decoded.error().ToString();
  EXPECT_EQ(decoded->version, old.version);
  EXPECT_EQ(decoded->parameters, old.parameters);
  EXPECT_TRUE(decoded->spec.empty());
  // Today's encoding is the old one with the spec after the hash.
  Bytes today = EncodeGlobalModel(old);
  EXPECT_EQ(today.size(), v1.size() + 4);
  v1[7] = '2';
  v1.insert(v1.begin() + static_cast<long>(v1.size() - params.size() - 8),
            {0, 0, 0, 0});
  EXPECT_EQ(today, v1);
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
