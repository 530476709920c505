#include "common/metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "common/version.h"

namespace cls::metrics {
namespace {

TEST(MetricsTest, ACounterAndAGaugeAreExposedWithHelpAndType) {
  Registry registry;
  registry
      .AddCounter("cls_rounds_total", "Rounds ended",
                  {{"outcome", "completed"}})
      .Increment(3);
  registry.AddGauge("cls_sites_connected", "Connected sites").Set(2);
  EXPECT_EQ(registry.Exposition(),
            "# HELP cls_rounds_total Rounds ended\n"
            "# TYPE cls_rounds_total counter\n"
            "cls_rounds_total{outcome=\"completed\"} 3\n"
            "# HELP cls_sites_connected Connected sites\n"
            "# TYPE cls_sites_connected gauge\n"
            "cls_sites_connected 2\n");
}

TEST(MetricsTest, SeriesOfOneNameShareOneHeader) {
  Registry registry;
  registry.AddCounter("c_total", "h", {{"outcome", "completed"}}).Increment();
  registry.AddCounter("c_total", "h", {{"outcome", "aborted"}}).Increment(2);
  // The same name and labels is the same counter.
  registry.AddCounter("c_total", "h", {{"outcome", "completed"}}).Increment();
  EXPECT_EQ(registry.Exposition(),
            "# HELP c_total h\n# TYPE c_total counter\n"
            "c_total{outcome=\"completed\"} 2\n"
            "c_total{outcome=\"aborted\"} 2\n");
}

TEST(MetricsTest, AHistogramHasCumulativeBucketsSumAndCount) {
  Registry registry;
  Histogram& h = registry.AddHistogram("d_seconds", "durations", {0.1, 1, 10},
                                       {{"stage", "unmask"}});
  h.Observe(0.05);
  h.Observe(0.1);  // on a bound: counted in that bucket (le)
  h.Observe(5);
  h.Observe(100);
  EXPECT_EQ(registry.Exposition(),
            "# HELP d_seconds durations\n# TYPE d_seconds histogram\n"
            "d_seconds_bucket{stage=\"unmask\",le=\"0.1\"} 2\n"
            "d_seconds_bucket{stage=\"unmask\",le=\"1\"} 2\n"
            "d_seconds_bucket{stage=\"unmask\",le=\"10\"} 3\n"
            "d_seconds_bucket{stage=\"unmask\",le=\"+Inf\"} 4\n"
            "d_seconds_sum{stage=\"unmask\"} 105.15\n"
            "d_seconds_count{stage=\"unmask\"} 4\n");
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  Registry registry;
  registry.AddGauge("g", "line\\one\ntwo", {{"v", "a\"b\\c\nd"}}).Set(1);
  EXPECT_EQ(registry.Exposition(),
            "# HELP g line\\\\one\\ntwo\n# TYPE g gauge\n"
            "g{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(MetricsTest, ValuesPrintShortestAndSpecialValuesAsPrometheusSpellsThem) {
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(1e6), "1000000");
  EXPECT_EQ(FormatValue(-2.5), "-2.5");
  EXPECT_EQ(FormatValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(FormatValue(0.0 / 0.0), "NaN");
}

TEST(MetricsTest, BuildInfoCarriesTheVersionAndRevision) {
  Registry registry;
  AddBuildInfo(registry);
  EXPECT_NE(registry.Exposition().find(
                "cls_build_info{version=\"" + std::string(ProjectVersion()) +
                "\",revision=\"" + std::string(GitRevision()) + "\"} 1\n"),
            std::string::npos)
      << registry.Exposition();
}

TEST(MetricsTest, ConcurrentIncrementsAreAllCounted) {
  Registry registry;
  Counter& c = registry.AddCounter("c_total", "h");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c] {
      for (int i = 0; i < 10000; ++i) c.Increment();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000);
}

}  // namespace
}  // namespace cls::metrics
