#pragma once
/** @file Priors in the `--prior` grammar: `CLASS[SELECTOR] ~ DISTRIBUTION(ARGS)`, e.g.
 *  `b ~ normal(0, 1)`, `b[educ] ~ student_t(3, 0, 2.5)`, `sd[state] ~ exponential(1)`,
 *  `sd[state,age] ~ normal(0, 0.5)`, `cor[state] ~ lkj(2)`, `sigma ~ cauchy(0, 2.5)`,
 *  `Intercept ~ normal(0, 10)`, `b[x] ~ constant(0.5)`. */

#include <string>
#include <vector>

namespace hbglm {

/** The distributions a prior may name. */
enum class prior_family {
  flat,         ///< improper uniform; no arguments
  normal,       ///< (mu, sigma)
  student_t,    ///< (nu, mu, sigma)
  cauchy,       ///< (mu, sigma)
  exponential,  ///< (rate)
  gamma,        ///< (shape, rate)
  lognormal,    ///< (mu, sigma)
  uniform,      ///< (lower, upper): also bounds the parameter (interval transform)
  lkj,          ///< (eta): correlation matrices only
  constant      ///< (value): fixes the parameter; it is not sampled
};

/** A distribution with its arguments. */
struct prior_distribution {
  prior_family family = prior_family::flat;
  std::vector<double> args;
  std::string text() const;  ///< as written back, e.g. "normal(0, 1)"
};

/** The parameter classes a prior may target. */
enum class prior_class { b, intercept, sd, cor, sigma };

/** One prior statement. */
struct prior_spec {
  prior_class target = prior_class::b;
  std::string group;          ///< sd[group], sd[group,coef], cor[group]; empty = all groups
  std::string coef;           ///< b[coef], sd[group,coef]; empty = all coefficients
  prior_distribution dist;
  std::string text;           ///< the statement as written, for messages
};

/** Parses one `--prior` statement.
 *  @throws prior_error with the statement and a caret for bad syntax, an unknown class or
 *          distribution, the wrong number of arguments, a non-positive scale, lkj on a class other
 *          than cor (or another distribution on cor), uniform with lower >= upper. */
prior_spec parse_prior(const std::string& text);

/** Log density of @p d at @p x (normalized; flat is 0), and its derivative in x.
 *  Outside the support the log density is -inf. */
double prior_log_density(const prior_distribution& d, double x, double* d_dx);

/** log(1 - F(0)) of @p d: the normalizer of the distribution truncated to (0, inf), used for sd
 *  and sigma priors as brms truncates them. 0 for distributions on positive support. */
double prior_log_mass_above_zero(const prior_distribution& d);

}  // namespace hbglm
