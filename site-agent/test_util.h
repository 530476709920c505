#ifndef CLS_SITE_AGENT_TEST_UTIL_H_
#define CLS_SITE_AGENT_TEST_UTIL_H_

// Helpers shared by the site agent's tests only.

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "common/testing/temp_dir.h"
#include "site-agent/config.h"

namespace cls::site::testing {

using cls::testing::TempDir;

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A synthetic, learnable CSV: columns x1, x2 (numeric), group (categorical
// 1/2/3) and label y (0/1, positive when x1 + x2 > 0). `rows` good rows, then
// two bad ones: line rows + 2 has an unknown category, line rows + 3 a
// non-number ("abc").
inline std::string SyntheticCsv(int rows, uint64_t seed = 3) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::ostringstream csv;
  csv << "x1,x2,group,y\n";
  for (int i = 0; i < rows; ++i) {
    const double x1 = normal(rng);
    const double x2 = normal(rng);
    csv << x1 << "," << x2 << "," << (i % 3 + 1) << "," << (x1 + x2 > 0 ? 1 : 0)
        << "\n";
  }
  csv << "0.5,0.5,9,1\n";
  csv << "abc,0.5,1,1\n";
  return csv.str();
}

inline DataConfig SyntheticDataConfig(const std::string& csv_path) {
  DataConfig data;
  data.csv = csv_path;
  data.schema.label = {"y", 0.5};
  core::ColumnSpec x1{"x1", core::ColumnSpec::Kind::kNumeric, {}, false};
  core::ColumnSpec x2{"x2", core::ColumnSpec::Kind::kNumeric, {}, false};
  core::ColumnSpec group{
      "group", core::ColumnSpec::Kind::kCategorical, {1, 2, 3}, false};
  data.schema.features = {x1, x2, group};
  data.test_fraction = 0.25;
  data.split_seed = 7;
  return data;
}

}  // namespace cls::site::testing

#endif  // CLS_SITE_AGENT_TEST_UTIL_H_
