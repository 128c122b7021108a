#pragma once
/** @file Simulated data sets with known parameters, for benchmarks, recovery tests and examples:
 *  the election-shaped survey model of ARCHITECTURE §1 at any size, and a small
 *  varying-intercept / varying-slope model. Both return an ordinary hbglm::table, so they go
 *  through make_problem() exactly as a CSV read from disk would.
 *
 *  Random numbers come from the counter-based Philox generator of kernels/rng.cuh (stream
 *  `simulate`): every value is a pure function of (seed, variable, unit, element), so a data set
 *  does not depend on the order in which it is generated, on threads, or on the platform's
 *  std::mt19937 / std::normal_distribution (which differ between standard libraries). The
 *  discrete columns (groups, educ, inc, relig, nonwhite, age, the bernoulli response up to the
 *  caveat below) come from integer arithmetic and are bitwise identical everywhere. The normal
 *  draws use Box-Muller through the platform's log, sin and cos, so on another libm they can
 *  differ in the last bit (as rng::standard_normal documents); a bernoulli response can then
 *  differ only where a uniform lands within an ulp of its probability.
 *
 *  Grouping columns are numeric 1-based integer codes (state 1..34, respondent 1..n_respondents,
 *  dem 1..150, rep 1..119), not text labels: a text column costs a std::string per cell (over
 *  320 MB at 10 million rows for `respondent` alone) and a hash-and-sort to build the factor,
 *  while a numeric one is 8 bytes per cell and the design builder sorts its distinct values
 *  numerically, so level j is the code j (labels "1", "2", ...), as R's factor() of an integer
 *  column gives. */

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "hbglm/design.hpp"
#include "hbglm/table.hpp"

namespace hbglm {

/** The election model of ARCHITECTURE §1, as brms/lme4 users write it. The response column is
 *  `y`; its family is the one the data were simulated for (election_options::response_family). */
inline constexpr const char* election_formula =
    "y ~ educ*nonwhite + inc*nonwhite + relig*nonwhite + V1 + V2 + V3 + V4 + V5 + V6 + V7 + V8 + "
    "V9 + V10 + V11 + V12 + V13 + V14 + V15 + V16 + V17 + V18 + V19 + V20 + V21 + V22 + V23 + "
    "V24 + V25 + V26 + V27 + V28 + V29 + V30 + V31 + V32 + V33 + V34 + V35 + V36 + V37 + V38 + "
    "V39 + V40 + (1 | state) + (1 | respondent) + (1 | dem) + (1 | rep) + (0 + age | state) + "
    "(0 + educ | state) + (0 + inc | state) + (0 + relig | state) + (0 + potus2016 | state)";

/** Sizes of the election data set. */
struct election_sizes {
  static constexpr std::size_t n_questions = 3;  ///< responses per respondent
  static constexpr std::size_t n_states = 34;
  static constexpr std::size_t n_dem = 150;   ///< Democratic candidates
  static constexpr std::size_t n_rep = 119;   ///< Republican candidates
  static constexpr std::size_t n_noise = 40;  ///< V1 .. V40
  /// Population-level coefficients of election_formula by R's model.matrix rules: (Intercept);
  /// the main effects educ, nonwhite, inc, relig (nonwhite once, although three `*` terms name
  /// it); V1..V40; the interactions educ:nonwhite, nonwhite:inc, nonwhite:relig (R orders the
  /// variables of an interaction as they first appear in the formula). 1 + 4 + 40 + 3 = 48.
  static constexpr std::size_t n_fixed = 48;
  /// Group-level terms: (1|state), (1|respondent), (1|dem), (1|rep) and five slopes on state,
  /// each with k = 1, so every row of Z has K = 9 non-zeros.
  static constexpr std::size_t n_terms = 9;
};

/** The true parameters the election data are simulated from (identical for both families;
 *  sigma is used by the gaussian one only). The linear predictor of row i, of respondent r in
 *  state s, asked about candidates d and e, is
 *
 *    eta_i = intercept + b_educ educ_r + b_nonwhite nonwhite_r + b_inc inc_r + b_relig relig_r
 *            + Σ_k b_v[k] V(k+1)_i + b_educ_nonwhite educ_r nonwhite_r
 *            + b_nonwhite_inc nonwhite_r inc_r + b_nonwhite_relig nonwhite_r relig_r
 *            + a_state[s] + a_respondent[r] + a_dem[d] + a_rep[e]
 *            + (slope_age[s] age_r + slope_educ[s] educ_r + slope_inc[s] inc_r
 *               + slope_relig[s] relig_r + slope_potus2016[s] potus2016_s)
 *
 *  with every group effect ~ normal(0, its sd below), independent. Gaussian: y = eta + sigma e,
 *  e ~ normal(0, 1). Bernoulli: y ~ bernoulli(inv_logit(eta)).
 *
 *  Note that potus2016 is constant within a state, so (0 + potus2016 | state) is confounded
 *  with (1 | state): only sd_state_intercept and sd_state_potus2016 together are identified by
 *  the likelihood (their priors separate them). The formula is the team's; the data keep it. */
struct election_truth {
  static constexpr double intercept = 0.2;  ///< b_Intercept (uncentered, as brms reports it)
  static constexpr double b_educ = 0.3;
  static constexpr double b_nonwhite = -0.5;
  static constexpr double b_inc = -0.2;
  static constexpr double b_relig = 0.4;
  /// b_V1 .. b_V40: a third of them zero, the others in [-0.25, 0.25].
  static constexpr std::array<double, 40> b_v = {
      0.20,  -0.15, 0.10,  -0.05, 0.00,  0.25, -0.20, 0.05,  0.00, -0.10,  // V1 .. V10
      0.15,  0.00,  -0.05, 0.10,  -0.25, 0.00, 0.05,  -0.10, 0.20, 0.00,   // V11 .. V20
      -0.15, 0.10,  0.00,  0.05,  -0.05, 0.15, 0.00,  -0.20, 0.10, 0.00,   // V21 .. V30
      0.05,  -0.10, 0.00,  0.20,  -0.15, 0.00, 0.10,  -0.05, 0.00, 0.15};  // V31 .. V40

  static constexpr double b_educ_nonwhite = 0.1;   ///< b_educ:nonwhite
  static constexpr double b_nonwhite_inc = -0.15;  ///< b_nonwhite:inc
  static constexpr double b_nonwhite_relig = 0.2;  ///< b_nonwhite:relig

  static constexpr double sd_state_intercept = 0.3;   ///< sd_state__Intercept
  static constexpr double sd_respondent = 0.5;        ///< sd_respondent__Intercept
  static constexpr double sd_dem = 0.2;               ///< sd_dem__Intercept
  static constexpr double sd_rep = 0.25;              ///< sd_rep__Intercept
  static constexpr double sd_state_age = 0.1;         ///< sd_state__age
  static constexpr double sd_state_educ = 0.15;       ///< sd_state__educ
  static constexpr double sd_state_inc = 0.1;         ///< sd_state__inc
  static constexpr double sd_state_relig = 0.1;       ///< sd_state__relig
  static constexpr double sd_state_potus2016 = 0.05;  ///< sd_state__potus2016
  static constexpr double sigma = 1.0;                ///< gaussian residual sd
};

/** What to simulate. */
struct election_options {
  /// Responses (rows). Respondent r (0-based) gives rows 3r, 3r+1, 3r+2, so there are
  /// ceil(n_obs / 3) respondents. Every level of every grouping factor appears once
  /// n_obs >= 150 (the first 34 respondents cover the 34 states, the first 150 rows the dem and
  /// the first 119 the rep candidates; the rest are uniform draws). Memory: 51 columns of
  /// 8-byte numbers and 1-byte missing flags plus line_of_row, about 460 bytes per row
  /// (4.6 GB at 10 million rows). make_problem(std::move(table), ...) peaks at about 0.9 KB per
  /// row (the table's columns are freed as the design is built: 9 GB at 10 million rows); with
  /// a table it must keep, at about 1.2 KB per row (bench/memory.sh).
  std::size_t n_obs = 30000;
  std::uint64_t seed = 1;
  /// gaussian or bernoulli. The predictors and group effects do not depend on it: with the same
  /// seed the two data sets differ only in y.
  family response_family = family::gaussian;
  /// Threads that fill the rows (0: std::thread::hardware_concurrency(); one thread per 10,000
  /// respondents at most). The data do not depend on it. About 2 to 4 µs of processor time per
  /// row (Philox and Box-Muller for 40 normals), so 10 million rows take 20 to 40 s of CPU.
  unsigned n_threads = 0;
};

/** The group effects drawn for one election data set, indexed by 0-based code (code - 1). */
struct election_effects {
  std::vector<double> state_intercept, state_age, state_educ, state_inc, state_relig,
      state_potus2016;             ///< n_states each: the slopes of the five state terms
  std::vector<double> respondent;  ///< n_respondents
  std::vector<double> dem, rep;    ///< n_dem, n_rep
};

/** Simulates the election data set.
 *
 *  Columns, in order (all numeric):
 *  - y: the response (family of @p options)
 *  - respondent, state, dem, rep: 1-based integer group codes
 *  - educ, inc: 5 ordered levels, (k - 3)/2 for k = 1..5, i.e. -1, -0.5, 0, 0.5, 1 (respondent)
 *  - relig: 4 ordered levels, (k - 2.5)/2 for k = 1..4, i.e. -0.75 .. 0.75 (respondent)
 *  - nonwhite: 0/1, P(1) = 0.3 (respondent)
 *  - age: (years - 50) / 20 with years uniform on 18..90 (respondent)
 *  - potus2016: standard normal per state (the standardized 2016 vote share)
 *  - V1..V40: independent standard normals per row; V(k+1) of row i (0-based) is
 *    rng::standard_normal(seed, rng::stream::simulate, 0x10007, i, k) of kernels/rng.cuh
 *
 *  @param[in] options size, seed, family
 *  @param[out] effects if not null, the group effects drawn (for recovery checks)
 *  @return the table: source "simulate_election(n=..., seed=..., family=...)" and line_of_row
 *          i + 2, the line row i would have in a CSV file with a header line
 *  @throws option_error for n_obs = 0, n_obs above 100,000,000 (the 32-bit sparse indices of
 *          the design), or a family other than gaussian and bernoulli. */
table simulate_election(const election_options& options, election_effects* effects = nullptr);

/** The small model: correlated varying intercept and slope. The response column is `y`. */
inline constexpr const char* varying_slope_formula = "y ~ x + (1 + x | g)";

/** True parameters of the varying-slope data:
 *    eta_i = intercept + b_x x_i + u_g[0] + u_g[1] x_i,
 *    (u_g[0], u_g[1]) ~ normal(0, diag(sd) [[1, cor], [cor, 1]] diag(sd)),
 *  with gaussian y = eta + sigma e or bernoulli y ~ bernoulli(inv_logit(eta)). */
struct varying_slope_truth {
  static constexpr double intercept = 0.5;          ///< b_Intercept
  static constexpr double b_x = 1.0;                ///< b_x
  static constexpr double sd_g_intercept = 0.8;     ///< sd_g__Intercept
  static constexpr double sd_g_x = 0.4;             ///< sd_g__x
  static constexpr double cor_g_intercept_x = 0.3;  ///< cor_g__Intercept__x
  static constexpr double sigma = 1.0;              ///< gaussian residual sd
};

/** What to simulate. */
struct varying_slope_options {
  std::size_t n_obs = 2000;
  /// Groups; observation i < n_groups is in group i + 1 (so every group appears once
  /// n_obs >= n_groups), the others in a uniformly drawn one. At least 2.
  std::size_t n_groups = 40;
  std::uint64_t seed = 1;
  family response_family = family::gaussian;  ///< gaussian or bernoulli
};

/** The group effects drawn, group-major: u[2 (g - 1)] intercept, u[2 (g - 1) + 1] slope. */
struct varying_slope_effects {
  std::vector<double> u;
};

/** Simulates the varying-slope data set: columns y, g (1-based integer codes), x (standard
 *  normal). Deterministic in the seed, like simulate_election.
 *  @param[in] options size, groups, seed, family
 *  @param[out] effects if not null, the group effects drawn
 *  @return the table (source "simulate_varying_slope(...)", line_of_row i + 2)
 *  @throws option_error for n_obs = 0 or above 100,000,000, n_groups < 2 or above 2^31 - 1,
 *          or a family other than gaussian and bernoulli. */
table simulate_varying_slope(const varying_slope_options& options,
                             varying_slope_effects* effects = nullptr);

/** One parameter of a simulated data set, named as hbglm (and brms) report it when the data are
 *  fitted with the data set's formula, for recovery checks (`hbglm simulate --truth`,
 *  bench/peers/compare.py --truth). */
struct true_parameter {
  std::string name;  ///< b_Intercept, b_educ:nonwhite, sd_state__Intercept, sigma, ...
  /// The value the data were simulated from (the constants of election_truth and
  /// varying_slope_truth).
  double value = 0.0;
  /// What this data set drew, for a group-level sd or correlation: the root mean square of the
  /// term's effects (its sample sd about the known mean 0), or the correlation of the effect
  /// pairs about 0. With few levels it differs from `value` by sampling (34 states: about 12%
  /// for an sd), and it is what the likelihood can recover. NaN for the other parameters.
  double realized = 0.0;
};

/** The parameters of the election model in the order hbglm reports them: the 48 coefficients
 *  (election_sizes::n_fixed, R's order), the 9 group-level sds, then sigma for gaussian data.
 *  @param[in] response_family gaussian or bernoulli (bernoulli has no sigma)
 *  @param[in] effects what simulate_election drew (the realized sds) */
std::vector<true_parameter> election_true_parameters(family response_family,
                                                     const election_effects& effects);

/** The parameters of the varying-slope model: b_Intercept, b_x, sd_g__Intercept, sd_g__x,
 *  cor_g__Intercept__x, then sigma for gaussian data.
 *  @param[in] effects what simulate_varying_slope drew (the realized sds and correlation) */
std::vector<true_parameter> varying_slope_true_parameters(family response_family,
                                                          const varying_slope_effects& effects);

}  // namespace hbglm
