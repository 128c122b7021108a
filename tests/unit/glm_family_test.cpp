/** @file The per-observation family functions of kernels/glm_family.cuh against long-double
 *  references: log(1 + e^eta) and inv_logit(eta) as the bernoulli and binomial likelihoods
 *  compute them (logit_terms_of, one exp for both), over the whole range of eta. */

#include "kernels/glm_family.cuh"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace {

using hbglm::kernels::logit_terms_of;

long double reference_log1p_exp(long double x) {
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

/// Relative error, or 0 for a subnormal result within a subnormal step of the reference (below
/// DBL_MIN a double has fewer digits: e^-745 is the smallest subnormal, 75% off).
double relative_error(double got, long double expected) {
  const long double difference = std::fabs(static_cast<long double>(got) - expected);
  if (std::fabs(expected) < std::numeric_limits<double>::min()) {
    return difference <= std::numeric_limits<double>::denorm_min()
               ? 0.0
               : std::numeric_limits<double>::infinity();
  }
  return static_cast<double>(difference / std::fabs(expected));
}

TEST(GlmFamily, LogitTermsMatchLongDoubleReferences) {
  std::vector<double> etas = {0.0, -0.0, 1e-300, -1e-300, 1e-8, -1e-8, 0.5, -0.5, 3.0, -3.0,
                              36.0, -36.0, 40.0, -40.0, 700.0, -700.0, 745.0, -745.0, 1e10, -1e10};
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal(0.0, 4.0);
  for (int i = 0; i < 100000; ++i) etas.push_back(normal(rng));
  // 4e-16 is two units in the last place (2^-52 = 2.2e-16 relative): exp, log1p and a division
  // or an addition each round once, against a reference with 11 more bits.
  for (double eta : etas) {
    const hbglm::kernels::logit_terms t = logit_terms_of(eta);
    EXPECT_LT(relative_error(t.log1p_exp, reference_log1p_exp(eta)), 4e-16) << "eta = " << eta;
    const long double p = 1.0L / (1.0L + std::exp(-static_cast<long double>(eta)));
    EXPECT_LT(relative_error(t.inv_logit, p), 4e-16) << "eta = " << eta;
    EXPECT_EQ(t.log1p_exp, hbglm::kernels::log1p_exp(eta)) << "eta = " << eta;
  }
}

}  // namespace
