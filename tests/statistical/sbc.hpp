#pragma once
/** @file Simulation-based calibration (SBC) of hbglm's whole pipeline: Talts, Betancourt, Simpson,
 *  Vehtari and Gelman (2018), "Validating Bayesian inference algorithms with simulation-based
 *  calibration", arXiv:1804.06788; Stan User's Guide, "Simulation-Based Calibration Checking".
 *
 *  One replication of a case:
 *    1. draw the design (n rows, J groups, x ~ N(0, 1), trials) and the parameters from the
 *       model's own proper prior (exactly the --prior statements the model is built with):
 *         Intercept (centered) ~ normal(0, s_Intercept)   b ~ normal(0, s_b)
 *         sd ~ normal(0, s_sd) truncated at 0              sigma ~ normal(0, s_sigma) truncated
 *         cor ~ lkj(eta): for k = 2, (r + 1)/2 ~ Beta(eta, eta)
 *         z_j ~ N(0, I), u_j = diag(sd) L z_j
 *    2. simulate y from the family with eta_i = Intercept + b_x (x_i - mean x) + u_g[i] · (1, x_i);
 *    3. build the model in memory (table -> make_problem) and run one NUTS chain on the CPU
 *       backend (detail::make_backend + mcmc::run_chain): `warmup` iterations, then L·thin draws,
 *       every thin-th kept (L draws);
 *    4. for each tracked quantity f (the parameters of the table below and the log likelihood of
 *       the simulated data, a function of the parameters) the rank of f(true) among f(draws):
 *       #{draws below} plus a uniform tie-break, in 0..L.
 *  If the sampler draws from the exact posterior and the model's prior equals the simulation
 *  prior, every rank is uniform on 0..L (for any design and any thinning); SBC tests that.
 *
 *  Tracked quantities (those the case has): b_Intercept (uncentered, as reported), b_x,
 *  sd_g__Intercept, sd_g__x, cor_g__Intercept__x, sigma, r_g.1.1 (level 1, intercept),
 *  r_g.1.2 (level 1, slope), r_g.2.1, and log_lik (the log likelihood of y at the parameters,
 *  computed here from eta of each draw, normalizing constants included).
 *
 *  Random numbers: the counter-based Philox generator of kernels/rng.cuh (stream `simulate`,
 *  key (seed, case id, replication)), so a replication's data are a pure function of
 *  (seed, case, replication), independent of the thread that runs it and of the standard
 *  library; the sampler's seed is a hash of the same triple. Replications run on threads and the
 *  results are stored by index: the output does not depend on the number of threads.
 *
 *  This file is shared by the CI test (tests/statistical/sbc_test.cpp) and the long-run driver
 *  (bench/sbc.cpp): each includes tests/statistical/sbc.cpp once (the test folder only globs
 *  *_test.cpp into its binary, so sbc.cpp is not compiled on its own). */

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "hbglm/design.hpp"
#include "hbglm/sampler.hpp"

namespace hbglm::sbc {

/** Scales of the proper priors: normal(0, scale) each (sd and sigma truncated at 0), lkj(eta). */
struct prior_scales {
  double intercept = 1.0;  ///< Intercept (centered) ~ normal(0, intercept)
  double b = 1.0;          ///< b ~ normal(0, b)
  double sd = 1.0;         ///< sd ~ normal(0, sd), truncated at 0
  double sigma = 1.0;      ///< sigma ~ normal(0, sigma), truncated at 0 (gaussian)
  double lkj_eta = 2.0;    ///< cor ~ lkj(lkj_eta) (correlated cases)
  /// Simulation only: draw each sd from the half-normal density times sd, normalized (a Rayleigh
  /// distribution with scale `sd`), instead of the half-normal. A model fitted with the
  /// half-normal prior then differs from the simulation by a factor sd, exactly what a sampler
  /// that dropped the log Jacobian of sd = exp(y) would target (see sbc_test.cpp).
  bool sd_times_sd = false;
};

/** The --prior statements of @p s for a model of family @p fam, with or without a correlation.
 *  @param[in] s the scales
 *  @param[in] fam the family (sigma only for gaussian)
 *  @param[in] correlated whether the model has a cor parameter
 *  @return e.g. {"Intercept ~ normal(0, 1)", "b ~ normal(0, 1)", "sd ~ normal(0, 1)", ...} */
std::vector<std::string> prior_statements(const prior_scales& s, family fam, bool correlated);

/** One SBC case: a family and a group-level structure. */
struct case_spec {
  std::string name;                ///< e.g. "gaussian_intercept", "poisson_slope"
  family fam = family::gaussian;
  bool varying_slope = false;      ///< (1 + x | g) instead of (1 | g)
  std::size_t min_obs = 60, max_obs = 120;      ///< n drawn uniformly in [min_obs, max_obs]
  std::size_t min_groups = 8, max_groups = 12;  ///< J drawn uniformly in [min_groups, max_groups]
  int max_trials = 20;             ///< binomial trials uniform on 1..max_trials
  prior_scales fit_prior;          ///< what the model is told (--prior statements)
  prior_scales sim_prior;          ///< what the parameters are drawn from (equal for a valid SBC)
  std::string centered = "auto";   ///< `--centered` of the fit (auto: non-centered at 60-120 rows)
  /// The formula, e.g. "y ~ x + (1 + x | g)" or "y | trials(n) ~ x + (1 | g)".
  std::string formula() const;
};

/** The 8 standard cases: gaussian, bernoulli, binomial, poisson, each with (1 | g) and (1 + x | g),
 *  all with the default prior_scales for both simulation and fit. */
std::vector<case_spec> standard_cases();

/** The centered form (`--centered all`) on (1 | g) and (1 + x | g), gaussian and poisson, with
 *  300-600 rows over 8-12 groups (25-75 per level: where a user would center). */
std::vector<case_spec> centered_cases();

/** How to run the replications of a case. */
struct run_options {
  std::size_t n_reps = 100;        ///< replications per case
  std::size_t first_rep = 0;       ///< replication ids first_rep .. first_rep + n_reps - 1
  std::size_t n_draws = 99;        ///< L: kept draws per replication (ranks 0..L)
  int thin = 5;                    ///< sampling iterations per kept draw
  int warmup = 400;                ///< warmup iterations
  double adapt_delta = 0.8;        ///< NUTS target acceptance
  int max_depth = 10;              ///< NUTS maximum tree depth
  metric_kind metric = metric_kind::diag;
  std::uint64_t seed = 1;          ///< with the case id and replication id, keys everything
  unsigned n_threads = 0;          ///< replications at once; 0: hardware_concurrency()
  /// Called after each finished replication with (done, total); from worker threads, serialized.
  std::function<void(std::size_t, std::size_t)> progress;
};

/** The result of one replication. */
struct replication_result {
  std::size_t rep = 0;              ///< replication id
  std::vector<int> ranks;           ///< per tracked quantity, 0..L
  std::vector<double> truth;        ///< per tracked quantity, the simulated value
  std::size_t n_obs = 0, n_groups = 0;
  std::size_t n_divergent = 0;      ///< divergent post-warmup transitions (of L·thin)
  std::size_t n_max_treedepth = 0;  ///< post-warmup transitions that hit max_depth
  double min_ess_bulk = 0;          ///< smallest bulk ESS of the tracked quantities (all draws)
  double stepsize = 0;              ///< adapted step size
  double seconds = 0;               ///< wall time of the replication
  std::string error;                ///< non-empty when the fit threw (then no ranks)
};

/** All replications of one case. */
struct case_result {
  case_spec spec;
  std::size_t case_id = 0;               ///< key of its random numbers
  std::vector<std::string> quantities;   ///< tracked quantity names, in rank order
  std::vector<replication_result> reps;  ///< in replication order
  std::size_t n_draws = 0;               ///< L
  double seconds = 0;                    ///< wall time of the whole case
};

/** The names of the quantities tracked for @p c (see the file comment). */
std::vector<std::string> tracked_quantities(const case_spec& c);

/** Runs one replication (simulate, fit, rank). Thread-safe; deterministic in its arguments.
 *  @param[in] c the case
 *  @param[in] case_id key of the case's random numbers
 *  @param[in] rep replication id
 *  @param[in] options L, thin, warmup, sampler settings, seed
 *  @return ranks and diagnostics; `error` set (and no ranks) if the fit threw */
replication_result run_replication(const case_spec& c, std::size_t case_id, std::size_t rep,
                                   const run_options& options);

/** Runs options.n_reps replications of @p c on options.n_threads threads.
 *  @param[in] c the case
 *  @param[in] case_id key of the case's random numbers
 *  @param[in] options as run_replication, plus the count and threads
 *  @return every replication, in order */
case_result run_case(const case_spec& c, std::size_t case_id, const run_options& options);

/** Chi-square test of uniformity of ranks in 0..L over @p n_bins equal bins. */
struct uniformity_test {
  std::string case_name, quantity;
  std::vector<std::size_t> counts;  ///< per bin
  double chi_square = 0;
  int df = 0;
  double p_value = 1;        ///< P(chi2_df > chi_square)
  double p_bonferroni = 1;   ///< min(1, m p) over the m tests of one family (set by correct_*)
  double p_holm = 1;         ///< Holm's step-down adjusted p-value
};

/** The test for one column of ranks.
 *  @param[in] ranks values in 0..L (replications that failed are left out by the caller)
 *  @param[in] n_draws L
 *  @param[in] n_bins B; (L + 1) must be a multiple of B
 *  @throws std::invalid_argument when it is not, or a rank is outside 0..L */
uniformity_test chi_square_uniformity(const std::vector<int>& ranks, std::size_t n_draws,
                                      std::size_t n_bins);

/** One uniformity test per (case, quantity), with Bonferroni and Holm corrections over all of
 *  them together. Replications with an error are left out. */
std::vector<uniformity_test> test_uniformity(const std::vector<case_result>& results,
                                             std::size_t n_bins);

/** Fills p_bonferroni and p_holm of @p tests, as one family of hypotheses. */
void correct_p_values(std::vector<uniformity_test>& tests);

/** P(X > x) for X ~ chi-square with @p df degrees of freedom (regularized upper incomplete
 *  gamma Q(df/2, x/2): series below a + 1, Lentz's continued fraction above). */
double chi_square_upper_tail(double x, double df);

/** Writes one CSV row per (case, replication, quantity):
 *  case,rep,quantity,rank,L,truth,n_obs,n_groups,n_divergent,n_max_treedepth,min_ess_bulk,
 *  stepsize,seconds (a header line first when @p header). */
void write_ranks_csv(std::ostream& out, const std::vector<case_result>& results, bool header);

/** A printed table: per case the replications, failures, divergences (replications with any and
 *  total transitions), median seconds, min ESS; then per quantity the chi-square, raw and
 *  corrected p-values. */
void print_report(std::ostream& out, const std::vector<case_result>& results,
                  const std::vector<uniformity_test>& tests);

}  // namespace hbglm::sbc
