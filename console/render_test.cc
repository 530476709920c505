#include "console/render.h"

#include <gtest/gtest.h>

namespace cls::console {
namespace {

using nlohmann::json;

TEST(TableTest, AlignsColumnsUnderHeadersWithoutTrailingSpaces) {
  Table table({"ID", "NAME", "N"});
  table.SetAlign(2, Table::Align::kRight);
  table.AddRow({"a", "Mercy General", "7"});
  table.AddRow({"site-long", "X", "1200"});
  EXPECT_EQ(table.Render(),
            "ID         NAME              N\n"
            "a          Mercy General     7\n"
            "site-long  X              1200\n");
}

TEST(TableTest, MissingCellsRenderAsDash) {
  Table table({"A", "B"});
  table.AddRow({"x"});
  EXPECT_EQ(table.Render(), "A  B\nx  -\n");
}

TEST(TableTest, WidthsCountUtf8CodePointsNotBytes) {
  Table table({"NAME", "X"});
  table.AddRow({"Hôpital", "1"});
  table.AddRow({"Mercy", "2"});
  EXPECT_EQ(table.Render(),
            "NAME     X\n"
            "Hôpital  1\n"
            "Mercy    2\n");
}

TEST(SanitizeTextTest, ReplacesTerminalControlCharacters) {
  EXPECT_EQ(SanitizeText("a\x1b[2Jb\nc\x7f"), "a?[2Jb?c?");
  EXPECT_EQ(SanitizeText("x\xc2\x9b"
                         "1m"),
            "x?1m");  // C1 CSI
  EXPECT_EQ(SanitizeText("Hôpital"), "Hôpital");
}

TEST(FormatTest, AccuracyHasThreeDecimalsAndMissingIsDash) {
  const json v = {{"accuracy", 0.91234}, {"none", nullptr}, {"s", "x"}};
  EXPECT_EQ(FormatAccuracy(v, "accuracy"), "0.912");
  EXPECT_EQ(FormatAccuracy(v, "none"), "-");
  EXPECT_EQ(FormatAccuracy(v, "s"), "-");
  EXPECT_EQ(FormatAccuracy(v, "absent"), "-");
  EXPECT_EQ(FormatAccuracy(json(42), "accuracy"), "-");
}

TEST(FormatTest, TimestampsAsGivenOrFromUnixSeconds) {
  const json v = {{"iso", "2024-05-01T12:00:00Z"}, {"unix", 1714564800}};
  EXPECT_EQ(FormatTimestamp(v, "iso"), "2024-05-01T12:00:00Z");
  EXPECT_EQ(FormatTimestamp(v, "unix"), "2024-05-01 12:00:00Z");
  EXPECT_EQ(FormatTimestamp(v, "absent"), "-");
}

TEST(RenderSitesTest, RendersTableWithDashesForMissingFields) {
  const json body = json::parse(R"json({"sites": [
    {"site_id": "site-a", "site_name": "Mercy", "location": "Boston",
     "num_samples": 1200, "trust_score": 1.0, "status": "approved",
     "connected": true, "registered_at": "2024-05-01T10:00:00Z",
     "last_seen": "2024-05-01T12:00:00Z",
     "agent_version": "0.1.0 (git 3e7eb03b8279)"},
    {"site_id": "site-bb", "status": "pending", "connected": false,
     "last_seen": null}
  ]})json");
  auto text = RenderSites(body);
  ASSERT_TRUE(text.has_value()) << text.error().message;
  EXPECT_EQ(*text,
            "SITE_ID  NAME   LOCATION  SAMPLES  TRUST  STATUS    CONNECTED  "
            "AGENT                     LAST SEEN\n"
            "site-a   Mercy  Boston       1200    1.0  approved  yes        "
            "0.1.0 (git 3e7eb03b8279)  2024-05-01T12:00:00Z\n"
            "site-bb  -      -               -      -  pending   no         "
            "-                         -\n");
}

TEST(RenderSitesTest, EmptyListSaysSo) {
  auto text = RenderSites(json{{"sites", json::array()}});
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text, "no sites registered\n");
}

TEST(RenderSitesTest, MissingListIsMalformedResponse) {
  auto text = RenderSites(json{{"site", json::array()}});
  ASSERT_FALSE(text.has_value());
  EXPECT_EQ(text.error().code, ErrorCode::kDataLoss);
  EXPECT_EQ(text.error().message,
            "malformed response from coordinator: 'sites' is missing or not "
            "a list");
}

TEST(RenderSitesTest, SiteNamesCannotInjectTerminalEscapes) {
  const json body = {{"sites", {{{"site_id", "s\x1b]0;pwned\x07"}}}}};
  auto text = RenderSites(body);
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(text->find('\x1b'), std::string::npos);
  EXPECT_NE(text->find("s?]0;pwned?"), std::string::npos);
}

TEST(RenderRoundHistoryTest, ShowsSitesDroppedAccuracyAndAbortReasons) {
  const json body = json::parse(R"({"rounds": [
    {"round_id": 9, "status": "completed", "stage": "done",
     "participants": ["a", "b", "c", "d"], "contributors": ["a", "b", "d"],
     "dropped": [{"site_id": "c", "reason": "timeout"}],
     "model_version": "v3_20240501_120000",
     "validation": {"count": 200, "correct": 181, "accuracy": 0.905},
     "evaluation": {"count": 400, "correct": 350, "accuracy": 0.875,
                    "reports": 4}},
    {"round_id": 10, "status": "aborted", "participants": ["a", "b"],
     "contributors": [],
     "dropped": [{"site_id": "a", "reason": "bad_input"},
                 {"site_id": "b", "reason": "timeout"}],
     "validation": null, "abort_reason": "too few sites: 0 < 3"}
  ]})");
  auto text = RenderRoundHistory(body);
  ASSERT_TRUE(text.has_value()) << text.error().message;
  EXPECT_EQ(*text,
            "ROUND  STATUS     SITES  DROPPED                     VAL ACC  "
            "EVAL ACC  MODEL\n"
            "    9  completed    3/4  c (timeout)                   0.905  "
            "   0.875  v3_20240501_120000\n"
            "   10  aborted      0/2  a (bad_input), b (timeout)        -  "
            "       -  -\n"
            "\n"
            "round 10 aborted: too few sites: 0 < 3\n");
}

TEST(RenderRoundHistoryTest, RoundWithoutListsShowsDashes) {
  auto text = RenderRoundHistory(json{{"rounds", {{{"round_id", 1}}}}});
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text,
            "ROUND  STATUS  SITES  DROPPED  VAL ACC  EVAL ACC  MODEL\n"
            "    1  -           -  -              -         -  -\n");
}

TEST(RenderCurrentRoundTest, RunningRoundBlock) {
  const json body = json::parse(R"({"queued_rounds": 2, "round": {
    "round_id": 12, "status": "running", "stage": "masked_input",
    "started_at": "2024-05-01T12:00:00Z",
    "participants": ["a", "b", "c", "d"], "contributors": null,
    "dropped": [{"site_id": "c", "reason": "timeout"}]}})");
  auto text = RenderCurrentRound(body);
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text,
            "round:          12\n"
            "status:         running\n"
            "stage:          masked_input\n"
            "participants:   4 (a, b, c, d)\n"
            "contributors:   -\n"
            "dropped:        c (timeout)\n"
            "started:        2024-05-01T12:00:00Z\n"
            "queued rounds:  2\n");
}

TEST(RenderCurrentRoundTest, NoRoundRunning) {
  auto text =
      RenderCurrentRound(json{{"round", nullptr}, {"queued_rounds", 0}});
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text, "round:          none running\nqueued rounds:  0\n");
}

TEST(RenderStatusTest, ShortBlockWithRoundSummary) {
  const json body = json::parse(R"({"coordinator_id": "coord-1",
    "model_version": "v3", "min_sites": 3,
    "sites": {"approved": 5, "pending": 1, "connected": 4},
    "round": {"round_id": 12, "status": "running", "stage": "unmask",
              "participants": ["a", "b", "c", "d"]},
    "queued_rounds": 0})");
  auto text = RenderStatus(body);
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text,
            "coordinator:    coord-1\n"
            "model version:  v3\n"
            "sites:          5 approved, 1 pending, 4 connected\n"
            "min sites:      3\n"
            "round:          12 unmask (4 sites)\n"
            "queued rounds:  0\n");
}

TEST(RenderStatusTest, SecureAggregationOffIsShoutedWithQuarantinedSites) {
  const json body = json::parse(R"({"coordinator_id": "coord-1",
    "model_version": "v3", "min_sites": 3,
    "sites": {"approved": 4, "pending": 0, "quarantined": 1, "connected": 5},
    "aggregation": {"secure_aggregation": false, "robust": true,
                    "rule": "median", "group_size": 1},
    "round": null, "queued_rounds": 0})");
  auto text = RenderStatus(body);
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text,
            "coordinator:    coord-1\n"
            "model version:  v3\n"
            "sites:          4 approved, 0 pending, 1 quarantined, 5 "
            "connected\n"
            "min sites:      3\n"
            "aggregation:    SECURE AGGREGATION OFF: robust median per site\n"
            "round:          none\n"
            "queued rounds:  0\n");
}

TEST(RenderStatusTest, MissingFieldsRenderAsDash) {
  auto text = RenderStatus(json{{"round", nullptr}});
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text,
            "coordinator:    -\n"
            "model version:  -\n"
            "sites:          - approved, - pending, - connected\n"
            "min sites:      -\n"
            "round:          none\n"
            "queued rounds:  -\n");
}

TEST(RenderRoundProgressTest, OneLinePerStage) {
  EXPECT_EQ(RenderRoundProgress(json{{"round_id", 3},
                                     {"status", "running"},
                                     {"stage", "masked_input"},
                                     {"participants", {"a", "b", "c", "d"}}}),
            "round 3: masked_input (4 sites)");
  EXPECT_EQ(RenderRoundProgress(json{{"round_id", 3},
                                     {"status", "running"},
                                     {"stage", "unmask"},
                                     {"participants", {"a"}}}),
            "round 3: unmask (1 site)");
  EXPECT_EQ(RenderRoundProgress(json{{"round_id", 4},
                                     {"status", "aborted"},
                                     {"abort_reason", "too few sites"}}),
            "round 4: aborted (too few sites)");
}

TEST(RenderRoundsStartedTest, NamesTheQueuedRounds) {
  EXPECT_EQ(*RenderRoundsStarted(json{{"first_round", 12}, {"queued", 1}}),
            "queued round 12\n");
  EXPECT_EQ(*RenderRoundsStarted(json{{"first_round", 12}, {"queued", 3}}),
            "queued rounds 12-14 (3 rounds)\n");
  EXPECT_FALSE(RenderRoundsStarted(json{{"queued", 3}}).has_value());
}

TEST(RenderJsonTest, PrettyPrintsTheServerJson) {
  EXPECT_EQ(RenderJson(json{{"a", 1}}), "{\n  \"a\": 1\n}\n");
}

}  // namespace
}  // namespace cls::console
