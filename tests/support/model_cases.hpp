#pragma once
/** @file The family × term-kind × fixed-part grid that every backend comparison walks, on the
 *  columns of random_table (model_fixtures.hpp): the CPU gradient test and the CUDA-vs-CPU test
 *  use the same lists, so a new term kind is covered by both. */

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "hbglm/design.hpp"
#include "support/model_fixtures.hpp"

namespace hbglm::test {

/** A family and the response part of a formula for it. */
struct family_case {
  family fam;
  std::string response;
};

inline std::vector<family_case> family_cases() {
  return {{family::gaussian, "y_gaussian"},
          {family::gaussian, "y_gaussian | se(se)"},
          {family::bernoulli, "y_bernoulli"},
          {family::binomial, "y_binomial | trials(n_trials)"},
          {family::binomial, "cbind(y_binomial, n_trials)"},
          {family::poisson, "y_poisson"}};
}

/** Every kind of group-level term. */
inline const std::vector<std::string> random_parts = {
    "(1 | g1)",                  // intercept only
    "(1 + x1 | g1)",             // correlated, k = 2
    "(1 + x1 || g1)",            // uncorrelated, k = 2
    "(0 + x1 | g2)",             // slope only
    "(1 + x1 + x2 | g2)",        // correlated, k = 3
    "(1 | g1:g2)",               // interaction of grouping factors
    "(1 | g1/g2)",               // nested
    "(1 | g1) + (0 + x1 | g1)",  // two terms on one factor
    "(1 + f | g2)",              // factor slope, correlated k = 3
    "(1 + x1 + x2 + f || g1)",   // uncorrelated k = 4
};

/** Population-level parts: factors and interactions, `0 + Intercept`, an offset, none. */
inline const std::vector<std::string> fixed_parts = {
    "x1 + x2 + f + x1:f", "0 + Intercept + x1", "x1 + offset(expo)", "1", "x2 * f"};

/** One model of a backend comparison: the formula, its family and the `--centered` choice. */
struct model_case {
  std::string formula;
  family fam;
  std::string centered;
};

// The centered and absorbed models that the CUDA backend is compared with the CPU on
// (backend/cuda_backend_cuda_test.cpp). The CPU gradient test checks every one of them against
// finite differences and their structure (reference/gradient_test.cpp), so that a list which
// does not build, or no longer holds what it is meant to, fails without a device: the device
// tests run in a few minutes of a rare session.

/** The table of centered_term_cases: random_table(1017, 37, 101, 29). */
inline table centered_term_table() { return random_table(1017, 37, 101, 29); }

/** Every term kind with every term centered (`all`), one factor's terms centered beside the
 *  other's non-centered, and each factor's terms centered through their Intercept alone
 *  (term_parameters::n_centered 1 of k: a correlated term's slopes stay non-centered), around
 *  x1 and, in every other model, x2 and f's columns too. */
inline std::vector<model_case> centered_term_cases() {
  std::vector<model_case> cases;
  for (const auto& fc : family_cases()) {
    for (std::size_t r = 0; r < random_parts.size(); ++r) {
      const std::string fixed = r % 2 == 0 ? "x1" : "x1 + x2 + f";
      const std::string formula = fc.response + " ~ " + fixed + " + " + random_parts[r];
      for (const std::string centered : {"all", "g2", "g1:Intercept", "g2:Intercept"}) {
        const std::string group = centered.substr(0, 2);
        if (centered != "all" && formula.find("| " + group + ")") == std::string::npos) continue;
        const bool through_intercept = centered.find(':') != std::string::npos;
        if (through_intercept && random_parts[r].rfind("(0 + ", 0) == 0) continue;  // none
        cases.push_back({formula, fc.fam, centered});
      }
    }
  }
  return cases;
}

/** random_table(3035, 17, 101, 31) with w1 and w2, which take one value per level of g1 (so a
 *  centered (1 | g1) absorbs their slopes and coefficients), and y_levels, a gaussian response
 *  whose 17 g1 levels differ (178 rows each: `--centered auto` centers the g1 intercept). */
inline table absorbed_slope_table() {
  table data = random_table(3035, 17, 101, 31);
  const std::vector<double>& g1 = data.find("g1")->numbers;
  const std::vector<double>& y = data.find("y_gaussian")->numbers;
  std::vector<double> w1(g1.size()), w2(g1.size()), y_levels(g1.size());
  for (std::size_t i = 0; i < g1.size(); ++i) {
    w1[i] = 0.02 * g1[i] - 1.0;
    w2[i] = std::sin(g1[i]);
    y_levels[i] = y[i] + 2.0 * std::cos(g1[i]);
  }
  data.columns.push_back(numeric_column("w1", w1));
  data.columns.push_back(numeric_column("w2", w2));
  data.columns.push_back(numeric_column("y_levels", y_levels));
  return data;
}

/** Whether an absorbed_slope_cases model's first term, (1 | g1) or (1 + x2 | g1), absorbs: all
 *  but the "g2" ones, which leave g1 non-centered. */
inline bool absorbs_on_g1(const model_case& c) { return c.centered != "g2"; }

/** The absorbing models on absorbed_slope_table: "g1" and "all" center the absorbed slopes too,
 *  "g1:Intercept" centers g1's intercepts alone (the slopes non-centered, and (1 + x2 | g1)
 *  partly centered), "g2" leaves g1 non-centered (nothing absorbed) beside a centered g2, and
 *  `auto` on y_levels centers the intercept and leaves the slopes non-centered. Coefficients
 *  are absorbed too (term_parameters::absorbed_coefficients): b_w2 and b_w2:w1 in the third
 *  part, b_w1 in the second and third wherever the w1 slope is non-centered (g1:Intercept,
 *  auto; a centered slope is centered around b_w1 instead), and b_w1 and b_w2 into a correlated
 *  (1 + x2 | g1). */
inline std::vector<model_case> absorbed_slope_cases() {
  const std::vector<std::string> parts = {
      "x1 + (1 | g1) + (0 + w1 | g1)",
      "x2 + w1 + (1 | g1) + (0 + w1 | g1) + (0 + w2 | g1) + (0 + x1 | g1) + (1 + x1 | g2)",
      "x2 + w1 + w2 + w2:w1 + (1 | g1) + (0 + w1 | g1) + (1 + x1 | g2)",
      "x1 + w1 + w2 + (1 + x2 | g1) + (1 | g2)"};
  std::vector<model_case> cases;
  for (const auto& fc : family_cases()) {
    for (const auto& part : parts) {
      for (const std::string centered : {"g1", "all", "g1:Intercept", "g2"}) {
        if (centered == "g2" && part.find("| g2)") == std::string::npos) continue;
        cases.push_back({fc.response + " ~ " + part, fc.fam, centered});
      }
    }
  }
  // auto: the first three (y_levels' g1 levels differ in intercept, not in the slope on x2, so
  // the last's (1 + x2 | g1) would stay non-centered).
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    cases.push_back({"y_levels ~ " + parts[i], family::gaussian, "auto"});
  }
  return cases;
}

}  // namespace hbglm::test
