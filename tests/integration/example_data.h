#ifndef CLS_TESTS_INTEGRATION_EXAMPLE_DATA_H_
#define CLS_TESTS_INTEGRATION_EXAMPLE_DATA_H_

// The synthetic data of the readmission_risk and medication_recommender
// examples (no real patients), shared by their integration tests and
// bench/model_kinds_eval.cc. Deterministic in `seed`.

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

namespace cls::testing {

// Synthetic readmission data (no real patients): 30-day readmission
// depends on an interaction of age and length of stay and on the distance
// of the medication count from typical, which a linear model cannot
// represent and a hidden layer can.
inline void WriteReadmissions(const std::string& path, int rows,
                              unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> z(0.0, 1.0);
  std::uniform_int_distribution<int> destination(1, 3);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::ostringstream out;
  out << "age,length_of_stay,prior_admissions,num_medications,discharge_to,"
         "readmitted_30d\n";
  for (int i = 0; i < rows; ++i) {
    const double a = z(rng), l = z(rng), p = z(rng), m = z(rng);
    const int d = destination(rng);
    const double logit =
        3.0 * a * l + 2.0 * (m * m - 1.0) + 0.5 * p + (d == 3 ? 0.5 : -0.25);
    const int y = u(rng) < 1.0 / (1.0 + std::exp(-logit)) ? 1 : 0;
    out << 70 + 10 * a << "," << 5 + 2 * l << "," << 2 + p << "," << 8 + 3 * m
        << "," << d << "," << y << "\n";
  }
  std::ofstream(path) << out.str();
}

// Synthetic prescriptions (no real patients): drug 101 for good kidney
// function, 202 for high blood pressure, 303 for the old and the
// diabetic, chosen by a softmax of linear scores (so with some noise).
inline void WritePrescriptions(const std::string& path, int rows,
                               unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> z(0.0, 1.0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::ostringstream out;
  out << "age,egfr,systolic_bp,weight,diabetic,drug\n";
  for (int i = 0; i < rows; ++i) {
    const double age = z(rng), egfr = z(rng), bp = z(rng), weight = z(rng);
    const int diabetic = u(rng) < 0.3 ? 1 : 0;
    const double s[3] = {2.5 * egfr, 2.5 * bp,
                         2.0 * age + 1.5 * diabetic - 0.5};
    const double m = std::max({s[0], s[1], s[2]});
    const double e[3] = {std::exp(s[0] - m), std::exp(s[1] - m),
                         std::exp(s[2] - m)};
    const double r = u(rng) * (e[0] + e[1] + e[2]);
    const int drug = r < e[0] ? 101 : r < e[0] + e[1] ? 202 : 303;
    out << 60 + 12 * age << "," << 70 + 20 * egfr << "," << 135 + 15 * bp << ","
        << 80 + 12 * weight << "," << diabetic << "," << drug << "\n";
  }
  std::ofstream(path) << out.str();
}

}  // namespace cls::testing

#endif  // CLS_TESTS_INTEGRATION_EXAMPLE_DATA_H_
