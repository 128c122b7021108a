#pragma once
/** @file The family × term-kind × fixed-part grid that every backend comparison walks, on the
 *  columns of random_table (model_fixtures.hpp): the CPU gradient test and the CUDA-vs-CPU test
 *  use the same lists, so a new term kind is covered by both. */

#include <string>
#include <vector>

#include "hbglm/design.hpp"

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

}  // namespace hbglm::test
