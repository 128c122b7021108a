// Simulation-based calibration, quick CI version (Talts et al. 2018; the harness and its design
// are in sbc.hpp). The long run (1000 replications per case, rank histograms) is
// bench/sbc.cpp + scripts/sbc.sh; its results are in docs/sbc/README.md.
//
// Per case (gaussian, bernoulli, binomial with trials, poisson; each with (1 | g) and with
// correlated (1 + x | g)): 150 replications with fixed seeds, each one NUTS chain on the CPU
// backend with 300 warmup iterations and 39 × 8 = 312 sampling iterations thinned to L = 39
// draws, so ranks lie in 0..39; 10 bins of 4 ranks (15 expected per bin). Each tracked quantity
// (coefficients, sds, the correlation, sigma, two group effects, the log likelihood) gets a
// chi-square test of uniformity; the p-values are Bonferroni-corrected over all
// n_tests = Σ_cases (quantities) = 105 tests (58 of the 8 standard cases, 30 of the 4 cases in
// the centered form: gaussian and poisson, (1 | g) and (1 + x | g), 300-600 rows, `--centered
// all`, and 17 of the 2 with (1 + x | g)'s intercept alone centered, `--centered g:Intercept`),
// and a case fails when a corrected
// p-value is below 0.001. With a correct sampler the chance that any test of a run fails is
// then at most 0.1% (Bonferroni is conservative; the chi-square approximation with 15 expected
// per bin is close), so a failure is worth investigating: rerun bench/sbc with more
// replications (scripts/sbc.sh) to see the histogram.
//
// Power: two tests run the same harness on deliberately miscalibrated set-ups and require that
// it flags them at the same threshold (the library is not changed): the sd simulated from
// normal(0, 2) but fitted with normal(0, 1) (the classic SBC failure), and the sd simulated from
// half-normal(0, 1) × sd (Rayleigh), which is the posterior a sampler without the log Jacobian
// of sd = exp(y) would target relative to the half-normal prior.
//
// Runtime (Release, 2-core AMD EPYC VM shared with other jobs, load 5 to 8): 135 s wall for all
// 16 SBC tests with `ctest -R Sbc -j2` (67 s of CPU): 11 to 54 s per case (poisson_slope is the
// slowest), 11 s per power test. Each test prints its case table and p-values.
//
// The harness source is compiled into this test by the #include below (the folder's CMake only
// globs *_test.cpp); bench/sbc.cpp includes it the same way.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "statistical/sbc.cpp"

namespace hbglm::sbc {
namespace {

constexpr double alpha = 0.001;       // family-wise level after the Bonferroni correction
constexpr std::size_t n_bins = 10;

/** The CI settings: 150 replications, L = 39, thin 8, warmup 300, seed fixed. */
run_options ci_options(std::size_t n_reps) {
  run_options o;
  o.n_reps = n_reps;
  o.n_draws = 39;
  o.thin = 8;
  o.warmup = 300;
  o.seed = 20181;
  o.n_threads = 0;  // all cores; the results do not depend on it
  return o;
}

/** Number of uniformity tests of the 8 standard and 4 centered cases: the Bonferroni factor. */
std::size_t n_ci_tests() {
  std::size_t m = 0;
  for (const auto& c : standard_cases()) m += tracked_quantities(c).size();
  for (const auto& c : centered_cases()) m += tracked_quantities(c).size();
  return m;
}

/** Runs @p c and returns its tests with p_bonferroni = min(1, n_ci_tests() p). */
std::vector<uniformity_test> run_and_test(const case_spec& c, std::size_t case_id,
                                          const run_options& o, case_result* out = nullptr) {
  const case_result r = run_case(c, case_id, o);
  std::vector<uniformity_test> tests = test_uniformity({r}, n_bins);
  const double m = static_cast<double>(n_ci_tests());
  for (auto& t : tests) t.p_bonferroni = std::min(1.0, m * t.p_value);
  std::ostringstream report;
  print_report(report, {r}, tests);
  std::printf("[ SBC %s ] %s, %zu replications in %.1f s\n%s", c.name.c_str(),
              c.formula().c_str(), r.reps.size(), r.seconds, report.str().c_str());
  std::fflush(stdout);
  if (out) *out = r;
  return tests;
}

// ---- pieces of the harness ----

TEST(SbcHarness, BonferroniFactorIsTheNumberOfTrackedQuantities) {
  EXPECT_EQ(n_ci_tests(), 105u);  // as the file comment says: 58 standard, 30 centered, 17 partly
}

TEST(SbcHarness, ChiSquareUpperTailMatchesKnownQuantiles) {
  // Upper 5%, 1% and 0.1% points of the chi-square distribution.
  EXPECT_NEAR(chi_square_upper_tail(3.841459, 1), 0.05, 1e-6);
  EXPECT_NEAR(chi_square_upper_tail(16.918978, 9), 0.05, 1e-6);
  EXPECT_NEAR(chi_square_upper_tail(21.665994, 9), 0.01, 1e-7);
  EXPECT_NEAR(chi_square_upper_tail(27.877165, 9), 0.001, 1e-8);
  EXPECT_NEAR(chi_square_upper_tail(30.143527, 19), 0.05, 1e-6);
  EXPECT_NEAR(chi_square_upper_tail(2.0, 2), std::exp(-1.0), 1e-14);  // df 2: exp(-x/2)
  EXPECT_NEAR(chi_square_upper_tail(4.168159, 9), 0.9, 1e-6);         // the series branch
  EXPECT_EQ(chi_square_upper_tail(0.0, 9), 1.0);
}

TEST(SbcHarness, ChiSquareUniformityBinsRanksAndRejectsBadInput) {
  std::vector<int> ranks;
  for (int r = 0; r <= 39; ++r) ranks.push_back(r);  // perfectly uniform
  const uniformity_test flat = chi_square_uniformity(ranks, 39, 10);
  EXPECT_EQ(flat.counts, std::vector<std::size_t>(10, 4));
  EXPECT_EQ(flat.chi_square, 0.0);
  EXPECT_EQ(flat.df, 9);
  EXPECT_EQ(flat.p_value, 1.0);
  const uniformity_test piled = chi_square_uniformity(std::vector<int>(40, 39), 39, 10);
  EXPECT_EQ(piled.counts.back(), 40u);
  EXPECT_LT(piled.p_value, 1e-12);
  EXPECT_THROW(chi_square_uniformity(ranks, 39, 7), std::invalid_argument);
  EXPECT_THROW(chi_square_uniformity({40}, 39, 10), std::invalid_argument);
}

TEST(SbcHarness, HolmAndBonferroniCorrections) {
  std::vector<uniformity_test> t(4);
  const double p[] = {0.01, 0.04, 0.03, 0.5};
  for (int i = 0; i < 4; ++i) t[i].p_value = p[i];
  correct_p_values(t);
  EXPECT_DOUBLE_EQ(t[0].p_bonferroni, 0.04);
  EXPECT_DOUBLE_EQ(t[1].p_bonferroni, 0.16);
  EXPECT_DOUBLE_EQ(t[3].p_bonferroni, 1.0);
  // Holm: sorted 0.01, 0.03, 0.04, 0.5 times 4, 3, 2, 1, running maximum.
  EXPECT_DOUBLE_EQ(t[0].p_holm, 0.04);
  EXPECT_DOUBLE_EQ(t[2].p_holm, 0.09);
  EXPECT_DOUBLE_EQ(t[1].p_holm, 0.09);
  EXPECT_DOUBLE_EQ(t[3].p_holm, 0.5);
}

TEST(SbcHarness, SimulationDrawsHaveTheRightMoments) {
  philox_stream r(7, 99, 0);
  const int n = 200000;
  auto moments = [&](auto draw) {
    double s = 0, s2 = 0;
    for (int i = 0; i < n; ++i) {
      const double v = draw();
      s += v;
      s2 += v * v;
    }
    const double mean = s / n;
    return std::pair<double, double>(mean, s2 / n - mean * mean);
  };
  // Beta(2, 2): mean 1/2, variance 1/20. Gamma(0.5): mean 0.5, variance 0.5.
  auto [bm, bv] = moments([&] { return r.beta(2.0, 2.0); });
  EXPECT_NEAR(bm, 0.5, 0.003);
  EXPECT_NEAR(bv, 0.05, 0.001);
  auto [gm, gv] = moments([&] { return r.gamma(0.5); });
  EXPECT_NEAR(gm, 0.5, 0.01);
  EXPECT_NEAR(gv, 0.5, 0.02);
  // Poisson below and above the PTRS switch, and a large rate.
  for (double lambda : {3.0, 10.0, 47.5, 2500.0}) {
    auto [pm, pv] = moments([&] { return r.poisson(lambda); });
    EXPECT_NEAR(pm, lambda, 5 * std::sqrt(lambda / n)) << lambda;
    EXPECT_NEAR(pv / lambda, 1.0, 0.02) << lambda;
  }
  auto [nm, nv] = moments([&] { return r.binomial(12, 0.3); });
  EXPECT_NEAR(nm, 3.6, 0.02);
  EXPECT_NEAR(nv, 2.52, 0.04);
  auto [hm, hv] = moments([&] { return std::sqrt(-2.0 * std::log(r.uniform())); });  // Rayleigh
  EXPECT_NEAR(hm, std::sqrt(3.14159265358979 / 2), 0.01);
  EXPECT_NEAR(hv, 2 - 3.14159265358979 / 2, 0.01);
}

TEST(SbcHarness, ReplicationIsDeterministicAndThreadIndependent) {
  const case_spec c = standard_cases()[0];
  run_options o = ci_options(4);
  o.n_draws = 9;
  o.thin = 2;
  o.warmup = 150;
  o.n_threads = 1;
  const case_result one = run_case(c, 0, o);
  o.n_threads = 3;
  const case_result three = run_case(c, 0, o);
  ASSERT_EQ(one.reps.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(one.reps[i].error, "");
    EXPECT_EQ(one.reps[i].ranks, three.reps[i].ranks);
    EXPECT_EQ(one.reps[i].truth, three.reps[i].truth);
    for (int rank : one.reps[i].ranks) {
      EXPECT_GE(rank, 0);
      EXPECT_LE(rank, 9);
    }
  }
  EXPECT_NE(one.reps[0].truth, one.reps[1].truth);
  EXPECT_EQ(one.quantities, tracked_quantities(c));
  EXPECT_EQ(prior_statements(c.fit_prior, c.fam, true),
            (std::vector<std::string>{"Intercept ~ normal(0, 1)", "b ~ normal(0, 1)",
                                      "sd ~ normal(0, 1)", "sigma ~ normal(0, 1)",
                                      "cor ~ lkj(2)"}));
}

// ---- the calibration check: one test per case, corrected over all 12 cases ----

/** Runs case @p c under the key @p case_id and expects every replication to fit and every
 *  tracked quantity's ranks to pass the corrected uniformity test. */
void expect_calibrated(const case_spec& c, std::size_t case_id) {
  case_result r;
  const std::vector<uniformity_test> tests = run_and_test(c, case_id, ci_options(150), &r);
  std::size_t failed = 0;
  for (const auto& rep : r.reps) failed += rep.error.empty() ? 0 : 1;
  EXPECT_EQ(failed, 0u) << "replications whose fit threw";
  for (const auto& t : tests) {
    EXPECT_GE(t.p_bonferroni, alpha)
        << c.name << ", " << t.quantity << ": ranks are not uniform (chi-square " << t.chi_square
        << ", p " << t.p_value << ", Bonferroni over " << n_ci_tests() << " tests "
        << t.p_bonferroni << ")";
  }
}

class SbcCase : public ::testing::TestWithParam<std::size_t> {};

TEST_P(SbcCase, RanksAreUniform) { expect_calibrated(standard_cases()[GetParam()], GetParam()); }

INSTANTIATE_TEST_SUITE_P(Sbc, SbcCase, ::testing::Range<std::size_t>(0, 8),
                         [](const ::testing::TestParamInfo<std::size_t>& info) {
                           return standard_cases()[info.param].name;
                         });

class SbcCenteredCase : public ::testing::TestWithParam<std::size_t> {};

TEST_P(SbcCenteredCase, RanksAreUniform) {
  // Case ids 200+: random numbers of their own.
  expect_calibrated(centered_cases()[GetParam()], 200 + GetParam());
}

INSTANTIATE_TEST_SUITE_P(Sbc, SbcCenteredCase, ::testing::Range<std::size_t>(0, 6),
                         [](const ::testing::TestParamInfo<std::size_t>& info) {
                           return centered_cases()[info.param].name;
                         });

// ---- power: the harness flags deliberately mismatched priors ----

TEST(SbcPower, FlagsSdSimulatedFromAWiderPriorThanFitted) {
  case_spec c = standard_cases()[2];  // bernoulli, (1 | g): sd is mostly prior-driven
  c.name = "bernoulli_intercept_sd_normal2_fit_normal1";
  c.sim_prior.sd = 2.0;  // simulate sd ~ normal(0, 2) truncated, fit sd ~ normal(0, 1)
  const std::vector<uniformity_test> tests = run_and_test(c, 100, ci_options(150));
  const auto sd = std::find_if(tests.begin(), tests.end(),
                               [](const auto& t) { return t.quantity == "sd_g__Intercept"; });
  ASSERT_NE(sd, tests.end());
  EXPECT_LT(sd->p_bonferroni, alpha) << "the harness did not flag a prior mismatch on sd";
  // The truth is mostly above the draws: ranks pile up at the top.
  EXPECT_GT(sd->counts.back(), 3 * sd->counts.front());
}

TEST(SbcPower, FlagsAJacobianSizedDiscrepancyOnSd) {
  case_spec c = standard_cases()[2];  // bernoulli, (1 | g): sd is mostly prior-driven
  c.name = "bernoulli_intercept_sd_rayleigh_fit_halfnormal";
  c.sim_prior.sd_times_sd = true;
  const std::vector<uniformity_test> tests = run_and_test(c, 101, ci_options(150));
  const auto sd = std::find_if(tests.begin(), tests.end(),
                               [](const auto& t) { return t.quantity == "sd_g__Intercept"; });
  ASSERT_NE(sd, tests.end());
  EXPECT_LT(sd->p_bonferroni, alpha) << "the harness did not flag an sd-sized density factor";
}

}  // namespace
}  // namespace hbglm::sbc
