#include "console/version_commands.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "console/deployment_commands.h"
#include "console/fake_admin_api.h"

namespace cls::console {
namespace {

using nlohmann::json;

class VersionCommandsTest : public ::testing::Test {
 protected:
  CommandContext Context(bool json = false) {
    return CommandContext{
        .api = api_, .out = out_, .diagnostics = err_, .json = json};
  }
  testing::FakeAdminApi api_;
  std::ostringstream out_;
  std::ostringstream err_;
};

const json kList = {
    {"versions",
     {{{"version_id", "v2_20261127_120002"},
       {"created_at", "2026-11-27T12:00:02Z"},
       {"round_id", 1},
       {"parent_version", "v1_20261127_120001"},
       {"current", true},
       {"metrics",
        {{"accuracy", 0.8},
         {"precision", 0.75},
         {"recall", 0.5},
         {"f1", 0.6},
         {"auc", 0.875},
         {"training_samples", 200}}}},
      {{"version_id", "v1_20261127_120001"},
       {"created_at", "2026-11-27T12:00:01Z"},
       {"round_id", 0},
       {"parent_version", nullptr},
       {"current", false},
       {"metrics", {{"accuracy", nullptr}, {"training_samples", 0}}}}}},
    {"total", 2}};

TEST_F(VersionCommandsTest, ListPrintsATableNewestFirst) {
  api_.Answer(200, kList);
  auto ctx = Context();
  ASSERT_TRUE(RunVersionsList(ctx, 5).has_value());
  EXPECT_EQ(api_.requests[0].target, "/v1/versions?limit=5");
  const std::string out = out_.str();
  EXPECT_NE(out.find("VERSION"), std::string::npos);
  EXPECT_NE(out.find("*v2_20261127_120002"), std::string::npos);
  EXPECT_NE(out.find("0.875"), std::string::npos);
  EXPECT_LT(out.find("v2_20261127_120002"), out.find(" v1_20261127_120001"));
}

TEST_F(VersionCommandsTest, ListWithJsonPrintsTheCoordinatorsAnswer) {
  api_.Answer(200, kList);
  auto ctx = Context(true);
  ASSERT_TRUE(RunVersionsList(ctx, 0).has_value());
  EXPECT_EQ(api_.requests[0].target, "/v1/versions");
  EXPECT_EQ(json::parse(out_.str()), kList);
}

// The whitespace-separated words of the first line of `out` that starts
// with `prefix` (empty when none does).
std::vector<std::string> Words(const std::string& out,
                               const std::string& prefix) {
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with(prefix)) continue;
    std::istringstream in(line);
    std::vector<std::string> words;
    for (std::string w; in >> w;) words.push_back(w);
    return words;
  }
  return {};
}

TEST_F(VersionCommandsTest, ListLabelsTheMacroF1OfMultiClassVersions) {
  json list = kList;
  json& m = list["versions"][0]["metrics"];
  m["macro_f1"] = 0.6;
  m["per_class"] =
      json::array({{{"class", 0}, {"f1", 0.5}}, {{"class", 1}, {"f1", 0.7}}});
  api_.Answer(200, list);
  auto ctx = Context();
  ASSERT_TRUE(RunVersionsList(ctx, 0).has_value());
  const std::string out = out_.str();
  const auto header = Words(out, "VERSION");
  ASSERT_EQ(header.size(), 11u);
  EXPECT_EQ(header[7], "F1");
  EXPECT_EQ(header[8], "MACRO_F1");
  const auto multi = Words(out, "*v2_20261127_120002");
  ASSERT_EQ(multi.size(), 11u);
  EXPECT_EQ(multi[8], "0.600");
  const auto binary = Words(out, " v1_20261127_120001");
  ASSERT_EQ(binary.size(), 11u);
  EXPECT_EQ(binary[8], "-");  // a version without per-class figures
  EXPECT_NE(out.find("MACRO_F1 only for multi-class models"),
            std::string::npos);
}

json Metrics(double accuracy, std::vector<double> f1) {
  json m = {{"accuracy", accuracy}, {"evaluated_rows", 30}};
  if (f1.size() < 3) {  // binary
    m["precision"] = f1[0];
    m["recall"] = f1[0];
    m["f1"] = f1[0];
    m["auc"] = 0.9;
    return m;
  }
  double sum = 0;
  for (size_t c = 0; c < f1.size(); ++c) {
    m["per_class"].push_back({{"class", c}, {"f1", f1[c]}});
    sum += f1[c];
  }
  m["macro_f1"] = m["f1"] = sum / static_cast<double>(f1.size());
  return m;
}

TEST_F(VersionCommandsTest, ComparePrintsEachClassF1AndTheMacroF1) {
  api_.Answer(200,
              {{"a", "v2_x"},
               {"b", "v3_x"},
               {"description", "no outcomes yet"},
               {"validation",
                {{"a", Metrics(0.6, {0.7, 0.5, 0.6})},
                 {"b", Metrics(0.7, {0.9, 0.7, 0.5})},
                 {"delta", {{"accuracy", 0.1}, {"macro_f1", 0.1}, {"f1", 0.1}}},
                 {"per_class_delta",
                  {{{"class", 0}, {"f1", 0.2}},
                   {{"class", 1}, {"f1", 0.2}},
                   {{"class", 2}, {"f1", -0.1}}}}}}});
  auto ctx = Context();
  ASSERT_TRUE(RunVersionsCompare(ctx, "v2_x", "v3_x").has_value());
  EXPECT_EQ(api_.requests[0].target, "/v1/versions/compare?a=v2_x&b=v3_x");
  const std::string out = out_.str();
  EXPECT_EQ(out.rfind("no outcomes yet\n", 0), 0u) << out;
  EXPECT_EQ(Words(out, "CLASS"),
            (std::vector<std::string>{"CLASS", "F1", "A", "F1", "B", "DELTA"}));
  // Numbers right-aligned under their headers.
  EXPECT_NE(out.find("\nCLASS   F1 A   F1 B   DELTA\n"
                     "0      0.700  0.900  +0.200\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(Words(out, "0 "),
            (std::vector<std::string>{"0", "0.700", "0.900", "+0.200"}));
  EXPECT_EQ(Words(out, "2 "),
            (std::vector<std::string>{"2", "0.600", "0.500", "-0.100"}));
  EXPECT_NE(out.find("macro F1: A 0.600, B 0.700, delta +0.100\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("accuracy: A 0.600, B 0.700, delta +0.100\n"),
            std::string::npos);
}

TEST_F(VersionCommandsTest, CompareOfBinaryVersionsPutsTheMetricsSideBySide) {
  const json compare = {{"description", "no outcomes yet"},
                        {"validation",
                         {{"a", Metrics(0.75, {0.8})},
                          {"b", Metrics(0.85, {0.9})},
                          {"delta",
                           {{"accuracy", 0.1},
                            {"precision", 0.1},
                            {"recall", 0.1},
                            {"f1", 0.1},
                            {"auc", 0.0}}},
                          {"per_class_delta", nullptr}}}};
  api_.Answer(200, compare);
  auto ctx = Context();
  ASSERT_TRUE(RunVersionsCompare(ctx, "v2_x", "v3_x").has_value());
  const std::string out = out_.str();
  EXPECT_EQ(Words(out, "METRIC"),
            (std::vector<std::string>{"METRIC", "A", "B", "DELTA"}));
  EXPECT_EQ(Words(out, "accuracy"),
            (std::vector<std::string>{"accuracy", "0.750", "0.850", "+0.100"}));
  EXPECT_EQ(Words(out, "F1"),
            (std::vector<std::string>{"F1", "0.800", "0.900", "+0.100"}));
  EXPECT_EQ(Words(out, "AUC"),
            (std::vector<std::string>{"AUC", "(binned)", "0.900", "0.900",
                                      "+0.000"}));
  EXPECT_EQ(out.find("CLASS"), std::string::npos);

  // Against a multi-class version: shown, said, not subtracted.
  json mixed = compare;
  mixed["validation"]["b"] = Metrics(0.7, {0.9, 0.7, 0.5});
  mixed["validation"]["delta"] = {{"accuracy", -0.05}, {"f1", nullptr}};
  api_.Answer(200, mixed);
  out_.str("");
  ASSERT_TRUE(RunVersionsCompare(ctx, "v2_x", "v4_x").has_value());
  EXPECT_EQ(Words(out_.str(), "F1"),
            (std::vector<std::string>{"F1", "0.800", "0.700", "-"}));
  EXPECT_NE(out_.str().find("the other binary: only accuracy is compared"),
            std::string::npos);
}

TEST_F(VersionCommandsTest, ShowPrintsLineageAndKeyAndEscapesTheId) {
  api_.Answer(200, {{"version_id", "v2_x"},
                    {"encrypted", true},
                    {"kek_id", "kek-0123456789abcdef"},
                    {"metrics", {{"accuracy", 0.8}}},
                    {"lineage",
                     {{"parent_version", "v1_x"},
                      {"round_id", 1},
                      {"contributing_sites", {"HOSP_A", "HOSP_B"}},
                      {"privacy",
                       {{"round_epsilon", 0.5},
                        {"mode", "central"},
                        {"epsilon_spent_after", 1.25}}},
                      {"rounds", {{{"round_id", 1}}}},
                      {"all_sites", {"HOSP_A", "HOSP_B"}}}}});
  auto ctx = Context();
  ASSERT_TRUE(RunVersionsShow(ctx, "v2 x").has_value());
  EXPECT_EQ(api_.requests[0].target, "/v1/versions/v2%20x");
  const std::string out = out_.str();
  EXPECT_NE(out.find("yes, data key wrapped by kek-0123456789abcdef"),
            std::string::npos);
  EXPECT_NE(out.find("HOSP_A, HOSP_B"), std::string::npos);
  EXPECT_NE(out.find("epsilon 0.5000 (central), period total 1.2500"),
            std::string::npos);
}

TEST_F(VersionCommandsTest, ShowOfAnUnknownVersionIsRefusedWithItsMessage) {
  api_.Answer(404, {{"error",
                     {{"code", "not_found"},
                      {"message",
                       "no model version 'v9' (clsctl versions "
                       "list)"}}}});
  auto ctx = Context();
  auto r = RunVersionsShow(ctx, "v9");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().exit_code, ExitCode::kNotFound);
  EXPECT_EQ(r.error().message, "no model version 'v9' (clsctl versions list)");
}

TEST_F(VersionCommandsTest, RotateSendsTheKeyFileAndPrintsTheIds) {
  api_.Answer(200, {{"artifacts", 7},
                    {"old_kek_id", "kek-aaaa"},
                    {"new_kek_id", "kek-bbbb"},
                    {"source", "environment"},
                    {"note",
                     "set CLS_MODEL_KEK to the key in /k before the "
                     "coordinator next starts"}});
  auto ctx = Context();
  ASSERT_TRUE(RunKeysRotate(ctx, "/k").has_value());
  EXPECT_EQ(api_.requests[0].target, "/v1/keys/rotate");
  EXPECT_EQ(*api_.requests[0].body, json({{"new_key_file", "/k"}}));
  EXPECT_NE(out_.str().find("re-wrapped 7 model artifact data keys: kek-aaaa "
                            "-> kek-bbbb (environment)"),
            std::string::npos);
  EXPECT_NE(out_.str().find("next: set CLS_MODEL_KEK"), std::string::npos);
}

TEST_F(VersionCommandsTest, RotateRefusesARelativeKeyFileWithoutSending) {
  auto ctx = Context();
  auto r = RunKeysRotate(ctx, "next.kek");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().exit_code, ExitCode::kUsage);
  EXPECT_TRUE(api_.requests.empty());
}

}  // namespace
}  // namespace cls::console
