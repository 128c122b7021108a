/** @file Tests of the prior grammar, the prior log densities and their truncation constants.
 *  Expected values come from methods independent of host/model/prior.cpp: densities are written
 *  as products of the textbook pdf (tgamma, exp, pow) and checked for normalization by
 *  quadrature; CDFs come from closed forms (t with nu = 1, 2, 3), Simpson integration of the
 *  density, or 25-digit constants computed with mpmath (named where used). */

#include "hbglm/prior.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "hbglm/error.hpp"

namespace hbglm {
namespace {

// Named tolerances. The densities are one or two libm calls from their closed form, so they
// match to a few ulps of the log density's magnitude.
constexpr double k_density_rel_tol = 1e-13;
// Central differences with h ~ 1e-5 |x|: truncation error h^2 f'''/6 and rounding eps |f| / h
// are both below 1e-9 relative at the points tested.
constexpr double k_derivative_rel_tol = 1e-7;
// Truncation constants against closed forms and 25-digit constants: relative, in log P(X > 0).
constexpr double k_mass_rel_tol = 1e-12;
// Against Simpson's rule: 1/2 + integral_0^t sums 20000 terms, whose rounding leaves ~1e-14
// absolute error in the probability (not relative: deep tails would need another reference).
constexpr double k_simpson_abs_tol = 1e-13;
constexpr double k_inf = std::numeric_limits<double>::infinity();
const double k_pi = std::acos(-1.0);

prior_distribution dist(prior_family family, std::vector<double> args) {
  prior_distribution d;
  d.family = family;
  d.args = std::move(args);
  return d;
}

// ---------------------------------------------------------------------------------------------
// Parsing: valid statements

struct valid_case {
  std::string input;
  prior_class target;
  std::string group;
  std::string coef;
  prior_family family;
  std::vector<double> args;
  std::string dist_text;  // prior_distribution::text()
};

std::vector<valid_case> valid_cases() {
  using pc = prior_class;
  using pf = prior_family;
  // One statement per line reads better than clang-format's one field per line.
  // clang-format off
  return {
      {"b ~ normal(0, 1)", pc::b, "", "", pf::normal, {0, 1}, "normal(0, 1)"},
      {"b[educ] ~ student_t(3, 0, 2.5)", pc::b, "", "educ", pf::student_t, {3, 0, 2.5},
       "student_t(3, 0, 2.5)"},
      {"sd[state] ~ exponential(1)", pc::sd, "state", "", pf::exponential, {1}, "exponential(1)"},
      {"sd[state,age] ~ normal(0, 0.5)", pc::sd, "state", "age", pf::normal, {0, 0.5},
       "normal(0, 0.5)"},
      {"cor[state] ~ lkj(2)", pc::cor, "state", "", pf::lkj, {2}, "lkj(2)"},
      {"sigma ~ cauchy(0, 2.5)", pc::sigma, "", "", pf::cauchy, {0, 2.5}, "cauchy(0, 2.5)"},
      {"Intercept ~ normal(0, 10)", pc::intercept, "", "", pf::normal, {0, 10}, "normal(0, 10)"},
      {"b[x] ~ constant(0.5)", pc::b, "", "x", pf::constant, {0.5}, "constant(0.5)"},
      {"b ~ flat", pc::b, "", "", pf::flat, {}, "flat"},
      {"b ~ flat()", pc::b, "", "", pf::flat, {}, "flat"},
      {"  b [ x1:x2 ] ~ normal ( -1.5e-3 , 2E+2 )  ", pc::b, "", "x1:x2", pf::normal,
       {-0.0015, 200}, "normal(-0.0015, 200)"},
      {"b[x1 : x2] ~ cauchy(0, 1)", pc::b, "", "x1:x2", pf::cauchy, {0, 1}, "cauchy(0, 1)"},
      {"sd[g1:g2] ~ gamma(2, 0.1)", pc::sd, "g1:g2", "", pf::gamma, {2, 0.1}, "gamma(2, 0.1)"},
      {"sd[ g1:g2 , x1:x2 ] ~ lognormal(-1, .5)", pc::sd, "g1:g2", "x1:x2", pf::lognormal,
       {-1, 0.5}, "lognormal(-1, 0.5)"},
      {"cor ~ lkj(1)", pc::cor, "", "", pf::lkj, {1}, "lkj(1)"},
      {"sd ~ student_t(3, 0, 2.5)", pc::sd, "", "", pf::student_t, {3, 0, 2.5},
       "student_t(3, 0, 2.5)"},
      {"sigma ~ uniform(0, 100)", pc::sigma, "", "", pf::uniform, {0, 100}, "uniform(0, 100)"},
      {"b[x.1_a] ~ uniform(-1, 1)", pc::b, "", "x.1_a", pf::uniform, {-1, 1}, "uniform(-1, 1)"},
      {"b~normal(0,1)", pc::b, "", "", pf::normal, {0, 1}, "normal(0, 1)"},
      {"Intercept ~ student_t(3, 2.1, 2.5)", pc::intercept, "", "", pf::student_t, {3, 2.1, 2.5},
       "student_t(3, 2.1, 2.5)"},
      {"sigma ~ gamma(0.01, 0.01)", pc::sigma, "", "", pf::gamma, {0.01, 0.01},
       "gamma(0.01, 0.01)"},
      {"b[x] ~ constant(-2)", pc::b, "", "x", pf::constant, {-2}, "constant(-2)"},
      {"sd[state, age] ~ exponential(1e-2)", pc::sd, "state", "age", pf::exponential, {0.01},
       "exponential(0.01)"},
      {"b ~ normal(+1., 1)", pc::b, "", "", pf::normal, {1, 1}, "normal(1, 1)"},
      {"b ~ normal(- 3, 1)", pc::b, "", "", pf::normal, {-3, 1}, "normal(-3, 1)"},
      {"\tsigma\t~\texponential(3)\n", pc::sigma, "", "", pf::exponential, {3}, "exponential(3)"},
      {"b ~ normal(0.1, 1e-300)", pc::b, "", "", pf::normal, {0.1, 1e-300}, "normal(0.1, 1e-300)"},
      {"b ~ normal(1e5, 123456789)", pc::b, "", "", pf::normal, {1e5, 123456789},
       "normal(100000, 123456789)"},
      {"b[Intercept2] ~ normal(0, 1e-5)", pc::b, "", "Intercept2", pf::normal, {0, 1e-5},
       "normal(0, 1e-05)"},
      {"sd[g,x1:x2:x3] ~ student_t(2.5, 0, 1)", pc::sd, "g", "x1:x2:x3", pf::student_t,
       {2.5, 0, 1}, "student_t(2.5, 0, 1)"},
  };
  // clang-format on
}

std::string trimmed(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\n\r\f\v");
  if (first == std::string::npos) return "";
  const auto last = s.find_last_not_of(" \t\n\r\f\v");
  return s.substr(first, last - first + 1);
}

TEST(prior_parse, valid_statements) {
  const auto cases = valid_cases();
  ASSERT_GE(cases.size(), 20u);
  for (const valid_case& c : cases) {
    SCOPED_TRACE(c.input);
    prior_spec spec;
    ASSERT_NO_THROW(spec = parse_prior(c.input));
    EXPECT_EQ(spec.target, c.target);
    EXPECT_EQ(spec.group, c.group);
    EXPECT_EQ(spec.coef, c.coef);
    EXPECT_EQ(spec.dist.family, c.family);
    EXPECT_EQ(spec.dist.args, c.args);  // exact: every literal above is parsed correctly rounded
    EXPECT_EQ(spec.dist.text(), c.dist_text);
    EXPECT_EQ(spec.text, trimmed(c.input));
  }
}

TEST(prior_parse, text_round_trips_through_the_parser) {
  // The shortest rendering must still read back as the same double.
  const std::vector<double> values = {1.0 / 3.0, 0.1,    2.0 / 7.0 * 1e-7,        6.02214076e23,
                                      123.456,   1e-300, 4.9406564584124654e-300, 2.5};
  for (double v : values) {
    const prior_distribution d = dist(prior_family::normal, {-v, v});
    const prior_spec spec = parse_prior("b ~ " + d.text());
    EXPECT_EQ(spec.dist.args, d.args) << d.text();
  }
  EXPECT_EQ(dist(prior_family::normal, {1.0 / 3.0, 1}).text(), "normal(0.3333333333333333, 1)");
  EXPECT_EQ(dist(prior_family::flat, {}).text(), "flat");
  EXPECT_EQ(prior_distribution{}.text(), "flat");
}

// ---------------------------------------------------------------------------------------------
// Parsing: invalid statements. Each message must read: problem, newline, the trimmed statement,
// newline, spaces and a caret under the offending character.

struct invalid_case {
  std::string input;
  std::string message_part;  // must appear in the first line
  std::size_t caret_col;     // column of '^' within the trimmed statement
};

std::vector<invalid_case> invalid_cases() {
  return {
      {"beta ~ normal(0, 1)", "unknown prior class 'beta'", 0},
      {"  beta ~ normal(0,1)", "valid classes: b, Intercept, sd, cor, sigma", 0},
      {"b ~ norm(0, 1)", "unknown distribution 'norm'", 4},
      {"b ~ Normal(0, 1)",
       "valid distributions: flat, normal, student_t, cauchy, exponential, gamma, lognormal, "
       "uniform, lkj, constant",
       4},
      {"b ~ normal(0)", "normal takes 2 arguments (mu, sigma), got 1", 12},
      {"b ~ normal(0, 1, 2)", "normal takes 2 arguments (mu, sigma), got 3", 17},
      {"b ~ student_t(3, 0)", "student_t takes 3 arguments (nu, mu, sigma), got 2", 18},
      {"b ~ exponential()", "exponential takes 1 argument (rate), got 0", 16},
      {"b ~ flat(1)", "flat takes no arguments, got 1", 9},
      {"b ~ normal(0, 0)", "sigma must be positive", 14},
      {"b ~ lognormal(0, -1)", "sigma must be positive", 17},
      {"sd ~ exponential(-1)", "rate must be positive", 17},
      {"b ~ student_t(0, 0, 1)", "nu must be positive", 14},
      {"b ~ student_t(3, 0, -2.5)", "sigma must be positive", 20},
      {"b ~ cauchy(0, -0)", "sigma must be positive", 14},
      {"sigma ~ gamma(2, 0)", "rate must be positive", 17},
      {"sigma ~ gamma(-1, 1)", "shape must be positive", 14},
      {"cor ~ lkj(0)", "eta must be positive", 10},
      {"b ~ uniform(1, 1)", "lower must be less than upper", 12},
      {"b[x] ~ uniform(2, 1)", "lower must be less than upper", 15},
      {"b ~ lkj(2)", "lkj applies only to the class cor", 4},
      {"sd[g] ~ lkj(2)", "lkj applies only to the class cor", 8},
      {"cor[g] ~ normal(0, 1)", "cor takes only lkj", 9},
      {"cor ~ flat", "cor takes only lkj", 6},
      {"Intercept[x] ~ normal(0, 1)", "Intercept takes no selector", 9},
      {"sigma [g] ~ cauchy(0,1)", "sigma takes no selector", 6},
      {"cor[g, x] ~ lkj(2)", "too many selector entries; write cor[group]", 5},
      {"b[a,c] ~ normal(0, 1)", "too many selector entries; write b[coef]", 3},
      {"sd[g,x,y] ~ normal(0,1)", "too many selector entries", 6},
      {"b normal(0, 1)", "expected '~'", 2},
      {"b", "expected '~'", 1},
      {"b ~ normal(0, 1) x", "unexpected text after the prior", 17},
      {"b ~ normal(0, 1);", "unexpected text after the prior", 16},
      {"b ~ flat x", "unexpected text after the prior", 9},
      {"b[] ~ normal(0,1)", "expected a name in the selector", 2},
      {"b[x1::x2] ~ normal(0,1)", "expected a name in the selector", 5},
      {"b[x ~ normal(0,1)", "expected ',' or ']'", 4},
      {"b ~ normal(a, 1)", "expected a number", 11},
      {"b ~ normal(inf, 1)", "expected a number", 11},
      {"b ~ normal(0,,1)", "expected a number", 13},
      {"b ~ normal(1x, 1)", "expected a number", 11},
      {"b ~ normal(0, 1", "expected ',' or ')'", 15},
      {"b ~ normal(0 1)", "expected ',' or ')'", 13},
      {"b ~ normal(1e, 1)", "malformed exponent", 12},
      {"b ~ normal(0, 1e999)", "out of range", 14},
      {"", "empty prior statement", 0},
      {"b ~", "expected a distribution", 3},
      {"~ normal(0, 1)", "expected a parameter class", 0},
      {"b ~ normal", "expected '('", 10},
  };
}

TEST(prior_parse, invalid_statements_point_at_the_problem) {
  const auto cases = invalid_cases();
  ASSERT_GE(cases.size(), 15u);
  for (const invalid_case& c : cases) {
    SCOPED_TRACE("input: \"" + c.input + "\"");
    try {
      parse_prior(c.input);
      ADD_FAILURE() << "no prior_error";
    } catch (const prior_error& e) {
      const std::string what = e.what();
      const auto nl1 = what.find('\n');
      ASSERT_NE(nl1, std::string::npos) << what;
      const auto nl2 = what.find('\n', nl1 + 1);
      ASSERT_NE(nl2, std::string::npos) << what;
      const std::string problem = what.substr(0, nl1);
      const std::string statement = what.substr(nl1 + 1, nl2 - nl1 - 1);
      const std::string caret_line = what.substr(nl2 + 1);
      EXPECT_NE(problem.find(c.message_part), std::string::npos) << what;
      EXPECT_EQ(statement, trimmed(c.input));
      EXPECT_EQ(caret_line, std::string(c.caret_col, ' ') + "^") << what;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Densities

/** Log of the textbook pdf, written independently of the implementation's log-space forms. */
double reference_log_pdf(const prior_distribution& d, double x) {
  const auto& a = d.args;
  switch (d.family) {
    case prior_family::normal:
      return std::log(std::exp(-0.5 * std::pow((x - a[0]) / a[1], 2)) /
                      (a[1] * std::sqrt(2 * k_pi)));
    case prior_family::student_t: {
      const double nu = a[0];
      const double z = (x - a[1]) / a[2];
      return std::log(std::tgamma((nu + 1) / 2) /
                      (std::tgamma(nu / 2) * std::sqrt(nu * k_pi) * a[2]) *
                      std::pow(1 + z * z / nu, -(nu + 1) / 2));
    }
    case prior_family::cauchy:
      return std::log(1 / (k_pi * a[1] * (1 + std::pow((x - a[0]) / a[1], 2))));
    case prior_family::exponential:
      return x < 0 ? -k_inf : std::log(a[0] * std::exp(-a[0] * x));
    case prior_family::gamma:
      return x <= 0 ? -k_inf
                    : std::log(std::pow(a[1], a[0]) * std::pow(x, a[0] - 1) * std::exp(-a[1] * x) /
                               std::tgamma(a[0]));
    case prior_family::lognormal:
      return x <= 0 ? -k_inf
                    : std::log(std::exp(-0.5 * std::pow((std::log(x) - a[0]) / a[1], 2)) /
                               (x * a[1] * std::sqrt(2 * k_pi)));
    case prior_family::uniform:
      return (x < a[0] || x > a[1]) ? -k_inf : std::log(1 / (a[1] - a[0]));
    case prior_family::flat:
    case prior_family::constant:
      return 0;
    case prior_family::lkj:
      break;
  }
  throw std::logic_error("no reference density");
}

struct density_case {
  prior_distribution d;
  std::vector<double> xs;
};

std::vector<density_case> density_cases() {
  using pf = prior_family;
  return {
      {dist(pf::normal, {0, 1}), {-3, -0.5, 0.3, 1, 2.7}},
      {dist(pf::normal, {1.5, 0.2}), {1.0, 1.49, 2.2}},
      {dist(pf::student_t, {3, 0, 2.5}), {-10, -1, 0.4, 7}},
      {dist(pf::student_t, {1, -1, 0.5}), {-3, 0.2, 4}},
      {dist(pf::student_t, {30, 2, 1}), {-1, 2.5, 5}},
      {dist(pf::student_t, {0.7, 0, 1}), {-20, 0.1, 3}},
      {dist(pf::cauchy, {0, 2.5}), {-30, -1, 0.5, 5}},
      {dist(pf::cauchy, {-2, 0.1}), {-2.3, -1.9, 0}},
      {dist(pf::exponential, {1}), {0.1, 1, 5}},
      {dist(pf::exponential, {0.25}), {0.5, 12}},
      {dist(pf::gamma, {2, 0.1}), {0.5, 12, 50}},  // not 10: the mode, zero slope
      {dist(pf::gamma, {0.5, 3}), {0.01, 0.3, 2}},
      {dist(pf::gamma, {7.5, 1.2}), {1, 6, 15}},
      {dist(pf::lognormal, {0, 1}), {0.2, 1.5, 4}},
      {dist(pf::lognormal, {-1, 0.5}), {0.1, 0.37, 2}},
      {dist(pf::uniform, {-1, 3}), {-0.5, 0.5, 2.9}},
  };
}

TEST(prior_density, matches_textbook_pdf) {
  for (const density_case& c : density_cases()) {
    for (double x : c.xs) {
      SCOPED_TRACE(c.d.text() + " at x = " + std::to_string(x));
      double grad = 0;
      const double lp = prior_log_density(c.d, x, &grad);
      const double expected = reference_log_pdf(c.d, x);
      EXPECT_NEAR(lp, expected, k_density_rel_tol * std::max(1.0, std::fabs(expected)));
    }
  }
}

TEST(prior_density, known_constants) {
  double grad = 1;
  EXPECT_NEAR(prior_log_density(dist(prior_family::normal, {0, 1}), 0, &grad),
              -0.918938533204672741780329736406, 1e-15);
  EXPECT_EQ(grad, 0.0);
  // student_t(1) is the Cauchy: log(1/pi) at its mode.
  EXPECT_NEAR(prior_log_density(dist(prior_family::student_t, {1, 0, 1}), 0, nullptr),
              -1.14472988584940017414342735135, 1e-15);
  // student_t(2, 0, 1) at 0: 1 / (2 sqrt 2).
  EXPECT_NEAR(prior_log_density(dist(prior_family::student_t, {2, 0, 1}), 0, nullptr),
              -1.03972077083991796412617451193, 1e-15);
  // student_t(1e8, 0, 1) at 1, from mpmath loggamma: lgamma differences would lose ~1e-8 here.
  EXPECT_NEAR(prior_log_density(dist(prior_family::student_t, {1e8, 0, 1}), 1, nullptr),
              -1.418938538204672733446996, 2e-15);
  // gamma(1, rate) is exponential(rate).
  EXPECT_NEAR(prior_log_density(dist(prior_family::gamma, {1, 2}), 0.7, nullptr),
              prior_log_density(dist(prior_family::exponential, {2}), 0.7, nullptr), 1e-15);
}

TEST(prior_density, derivative_matches_central_differences) {
  for (const density_case& c : density_cases()) {
    if (c.d.family == prior_family::uniform) continue;  // constant inside; checked below
    for (double x : c.xs) {
      SCOPED_TRACE(c.d.text() + " at x = " + std::to_string(x));
      double grad = 0;
      prior_log_density(c.d, x, &grad);
      const double h = 1e-5 * std::max(std::fabs(x), 0.1);
      const double fd =
          (prior_log_density(c.d, x + h, nullptr) - prior_log_density(c.d, x - h, nullptr)) /
          (2 * h);
      EXPECT_LT(std::fabs(grad - fd), k_derivative_rel_tol * std::fabs(grad))
          << "analytic " << grad << " vs finite difference " << fd;
    }
  }
}

TEST(prior_density, flat_constant_and_uniform_have_zero_derivative) {
  double grad = 1;
  EXPECT_EQ(prior_log_density(dist(prior_family::flat, {}), 123.4, &grad), 0.0);
  EXPECT_EQ(grad, 0.0);
  grad = 1;
  EXPECT_EQ(prior_log_density(dist(prior_family::constant, {0.5}), -7, &grad), 0.0);
  EXPECT_EQ(grad, 0.0);
  grad = 1;
  EXPECT_DOUBLE_EQ(prior_log_density(dist(prior_family::uniform, {-1, 3}), 1, &grad),
                   -std::log(4.0));
  EXPECT_EQ(grad, 0.0);
}

TEST(prior_density, outside_support_is_minus_infinity_with_zero_derivative) {
  struct outside {
    prior_distribution d;
    double x;
  };
  const std::vector<outside> cases = {
      {dist(prior_family::exponential, {1}), -1e-12},
      {dist(prior_family::gamma, {2, 1}), 0},
      {dist(prior_family::gamma, {0.5, 1}), -3},
      {dist(prior_family::lognormal, {0, 1}), 0},
      {dist(prior_family::lognormal, {0, 1}), -1},
      {dist(prior_family::uniform, {-1, 3}), -1.0000001},
      {dist(prior_family::uniform, {-1, 3}), 3.5},
      {dist(prior_family::normal, {0, 1}), k_inf},
      {dist(prior_family::flat, {}), -k_inf},
  };
  for (const outside& c : cases) {
    SCOPED_TRACE(c.d.text() + " at x = " + std::to_string(c.x));
    double grad = 1;
    EXPECT_EQ(prior_log_density(c.d, c.x, &grad), -k_inf);
    EXPECT_EQ(grad, 0.0);
  }
  // The support's closed ends are inside.
  double grad = 1;
  EXPECT_DOUBLE_EQ(prior_log_density(dist(prior_family::exponential, {2}), 0, &grad),
                   std::log(2.0));
  EXPECT_EQ(grad, -2.0);
  EXPECT_DOUBLE_EQ(prior_log_density(dist(prior_family::uniform, {-1, 3}), 3, nullptr),
                   -std::log(4.0));
  EXPECT_DOUBLE_EQ(prior_log_density(dist(prior_family::uniform, {-1, 3}), -1, nullptr),
                   -std::log(4.0));
}

TEST(prior_density, nan_propagates) {
  double grad = 0;
  EXPECT_TRUE(
      std::isnan(prior_log_density(dist(prior_family::normal, {0, 1}), std::nan(""), &grad)));
  EXPECT_TRUE(std::isnan(grad));
}

TEST(prior_density, lkj_is_not_univariate) {
  double grad = 0;
  EXPECT_THROW(prior_log_density(dist(prior_family::lkj, {2}), 0.3, &grad), std::logic_error);
}

/** Composite Simpson's rule with n (even) intervals. */
double simpson(const std::function<double(double)>& f, double lo, double hi, int n) {
  const double h = (hi - lo) / n;
  double sum = f(lo) + f(hi);
  for (int i = 1; i < n; ++i) sum += (i % 2 == 1 ? 4 : 2) * f(lo + i * h);
  return sum * h / 3;
}

TEST(prior_density, densities_integrate_to_one) {
  // Map the real line onto (-pi/2, pi/2) by x = mu + sigma tan(theta); for the heavy-tailed t
  // (nu >= 1) the transformed integrand vanishes smoothly at the ends.
  const auto on_real_line = [](const prior_distribution& d, double mu, double sigma) {
    return simpson(
        [&](double th) {
          const double c = std::cos(th);
          if (c <= 0) return 0.0;
          return std::exp(prior_log_density(d, mu + sigma * std::tan(th), nullptr)) * sigma /
                 (c * c);
        },
        -k_pi / 2, k_pi / 2, 20000);
  };
  EXPECT_NEAR(on_real_line(dist(prior_family::normal, {1, 2}), 1, 2), 1, 1e-10);
  EXPECT_NEAR(on_real_line(dist(prior_family::student_t, {3, -1, 0.5}), -1, 0.5), 1, 1e-10);
  EXPECT_NEAR(on_real_line(dist(prior_family::cauchy, {0, 2.5}), 0, 2.5), 1, 1e-10);
  // Positive support: x = exp(u) over a range holding all but < 1e-12 of the mass.
  const auto on_positive = [](const prior_distribution& d, double lo, double hi) {
    return simpson(
        [&](double u) { return std::exp(prior_log_density(d, std::exp(u), nullptr) + u); },
        std::log(lo), std::log(hi), 20000);
  };
  EXPECT_NEAR(on_positive(dist(prior_family::exponential, {2}), 1e-14, 20), 1, 1e-10);
  EXPECT_NEAR(on_positive(dist(prior_family::gamma, {2.5, 0.5}), 1e-12, 120), 1, 1e-10);
  EXPECT_NEAR(on_positive(dist(prior_family::lognormal, {0.3, 0.7}), 1e-5, 1e5), 1, 1e-10);
}

// ---------------------------------------------------------------------------------------------
// Truncation constants: log P(X > 0)

void expect_rel_near(double actual, double expected, double rel_tol) {
  EXPECT_NEAR(actual, expected, rel_tol * std::fabs(expected)) << "expected " << expected;
}

/** P(T_nu <= t) = 1/2 + integral_0^t of the t density (Simpson on a finite interval, where the
 *  integrand is analytic; 20000 steps give ~1e-15 for |t| <= 5). */
double student_t_cdf_by_simpson(double nu, double t) {
  const double log_norm =
      std::lgamma((nu + 1) / 2) - std::lgamma(nu / 2) - 0.5 * std::log(nu * k_pi);
  const double integral =
      simpson([&](double s) { return std::exp(log_norm - (nu + 1) / 2 * std::log1p(s * s / nu)); },
              0, t, 20000);
  return 0.5 + integral;
}

TEST(prior_mass_above_zero, student_t_3_1_2) {
  // P(X > 0) = P(T3 > -0.5) = F3(0.5). Closed form for nu = 3 (A&S 26.7.3):
  // F(t) = 1/2 + (t / (sqrt(3) (1 + t^2/3)) + atan(t / sqrt(3))) / pi.
  const double t = 0.5;
  const double closed =
      0.5 + (t / (std::sqrt(3.0) * (1 + t * t / 3)) + std::atan(t / std::sqrt(3.0))) / k_pi;
  EXPECT_NEAR(closed, student_t_cdf_by_simpson(3, t), k_simpson_abs_tol);
  EXPECT_NEAR(closed, 0.674276, 1e-6);
  expect_rel_near(prior_log_mass_above_zero(dist(prior_family::student_t, {3, 1, 2})),
                  std::log(closed), k_mass_rel_tol);
}

TEST(prior_mass_above_zero, student_t_closed_forms) {
  for (double t : {-40.0, -3.0, -0.7, 0.01, 1.3, 25.0}) {
    SCOPED_TRACE("t = " + std::to_string(t));
    // nu = 1: Cauchy.
    const double f1 = 0.5 + std::atan(t) / k_pi;
    expect_rel_near(prior_log_mass_above_zero(dist(prior_family::student_t, {1, 2 * t, 2})),
                    std::log(f1), k_mass_rel_tol);
    // nu = 2: F(t) = 1/2 + t / (2 sqrt(2 + t^2)).
    const double f2 = 0.5 + t / (2 * std::sqrt(2 + t * t));
    expect_rel_near(prior_log_mass_above_zero(dist(prior_family::student_t, {2, t, 1})),
                    std::log(f2), 1e-11);  // the closed form itself cancels for t = -40
  }
}

TEST(prior_mass_above_zero, student_t_against_simpson) {
  for (double nu : {0.5, 1.5, 2.5, 4.0, 7.0, 30.0, 200.0}) {
    for (double t : {-4.0, -1.8, -0.3, 0.2, 1.7, 3.5}) {
      SCOPED_TRACE("nu = " + std::to_string(nu) + ", t = " + std::to_string(t));
      const double mu = 1.5 * t;  // sigma = 1.5
      const double log_mass =
          prior_log_mass_above_zero(dist(prior_family::student_t, {nu, mu, 1.5}));
      EXPECT_NEAR(std::exp(log_mass), student_t_cdf_by_simpson(nu, t), k_simpson_abs_tol);
    }
  }
}

TEST(prior_mass_above_zero, student_t_tails_and_large_nu) {
  // 25-digit values of log F_nu(t) from mpmath (80-digit hypergeometric series for I_x).
  struct known {
    double nu, t, log_cdf;
  };
  const std::vector<known> cases = {
      {5, -100, -20.77666586342994563256157},     {30, -5, -11.3603466427065733549955},
      {4, 3, -0.02017309962915731155674375},      {1e7, -2, -3.783183740378296565897118},
      {1e12, 1.5, -0.06914345561240313300138684}, {2e6, -20, -203.8970581699114646725307},
      {1e9, -40, -804.6078012146858502251021},
  };
  for (const known& c : cases) {
    SCOPED_TRACE("nu = " + std::to_string(c.nu) + ", t = " + std::to_string(c.t));
    expect_rel_near(prior_log_mass_above_zero(dist(prior_family::student_t, {c.nu, c.t, 1})),
                    c.log_cdf, k_mass_rel_tol);
  }
  // Symmetric about zero.
  EXPECT_NEAR(prior_log_mass_above_zero(dist(prior_family::student_t, {3, 0, 2.5})), -std::log(2.0),
              1e-15);
}

TEST(prior_mass_above_zero, normal) {
  // log Phi(z) at mu/sigma = z, from mpmath's ncdf (25 digits).
  struct known {
    double z, log_cdf;
  };
  const std::vector<known> cases = {
      {0, -0.6931471805599453094172321},    {1, -0.1727537790234498895264832},
      {-1, -1.841021645009263505770783},    {5, -2.866516129637635933845963e-7},
      {-10, -53.23128515051247057834703},   {-36.5, -670.6420000003137013708473},
      {-37.5, -707.6689893175071910661132}, {-40, -804.6084420137537881666068},
  };
  for (const known& c : cases) {
    SCOPED_TRACE("z = " + std::to_string(c.z));
    expect_rel_near(prior_log_mass_above_zero(dist(prior_family::normal, {2 * c.z, 2})), c.log_cdf,
                    k_mass_rel_tol);
  }
}

TEST(prior_mass_above_zero, cauchy) {
  for (double z : {-2.0, -0.5, 0.0, 0.3, 4.0}) {
    expect_rel_near(prior_log_mass_above_zero(dist(prior_family::cauchy, {3 * z, 3})),
                    std::log(0.5 + std::atan(z) / k_pi), k_mass_rel_tol);
  }
  // Far tails, where 0.5 + atan(z)/pi cancels; mpmath values.
  expect_rel_near(prior_log_mass_above_zero(dist(prior_family::cauchy, {-1e6, 1})),
                  -14.96024044381400761158471, k_mass_rel_tol);
  expect_rel_near(prior_log_mass_above_zero(dist(prior_family::cauchy, {1e6, 1})),
                  -3.183099368442871398915292e-7, k_mass_rel_tol);
}

TEST(prior_mass_above_zero, uniform) {
  EXPECT_DOUBLE_EQ(prior_log_mass_above_zero(dist(prior_family::uniform, {-1, 3})), std::log(0.75));
  EXPECT_EQ(prior_log_mass_above_zero(dist(prior_family::uniform, {1, 3})), 0.0);
  EXPECT_EQ(prior_log_mass_above_zero(dist(prior_family::uniform, {0, 3})), 0.0);
  EXPECT_THROW(prior_log_mass_above_zero(dist(prior_family::uniform, {-5, -1})), prior_error);
  try {
    prior_log_mass_above_zero(dist(prior_family::uniform, {-5, 0}));
    ADD_FAILURE() << "no prior_error";
  } catch (const prior_error& e) {
    EXPECT_NE(std::string(e.what()).find("no mass above zero"), std::string::npos) << e.what();
  }
}

TEST(prior_mass_above_zero, extreme_arguments_stay_finite_and_accurate) {
  // Arguments where t = mu/sigma, t^2, or nu/2 leave double range. The first CI fuzz finding
  // (fuzz/corpus/prior/regression-student-t-subnormal-nu) was a NaN from student_t(5e-324, 3, 1).
  // 25-digit values from mpmath (80 digits, betainc); the limits nu -> 0 give -log 2.
  struct known {
    double nu, mu, sigma, log_cdf;
  };
  const std::vector<known> cases = {
      {5e-324, 3, 1, -0.6931471805599453094172321},     // nu / 2 underflows to zero
      {5e-324, -3, 1, -0.6931471805599453094172321},
      {1e-200, 3, 1, -0.6931471805599453094172321},
      {1e-50, -1e150, 1, -0.6931471805599453094172321},  // t^2 / nu overflows
      {1, -1e300, 1, -691.9202577840631054320456},       // t^2 overflows; F = 1/(pi |t|)
      {3, -1e300, 1, -2072.228860255596515792735},
      {0.5, -1, 1e-320, -369.5508665762584762663914},    // t itself overflows
      {2.5, -7e160, 1e-160, -1847.262271312429664404392},
      {1e31, -1e150, 1, -3.096976950076991332232528e+33},
  };
  for (const known& c : cases) {
    SCOPED_TRACE("student_t(" + std::to_string(c.nu) + ", " + std::to_string(c.mu) + ", " +
                 std::to_string(c.sigma) + ")");
    expect_rel_near(prior_log_mass_above_zero(dist(prior_family::student_t, {c.nu, c.mu, c.sigma})),
                    c.log_cdf, k_mass_rel_tol);
  }
  const double upper_tail = prior_log_mass_above_zero(dist(prior_family::student_t, {0.5, 1, 1e-320}));
  EXPECT_LE(upper_tail, 0.0);
  EXPECT_GT(upper_tail, -1e-100);
  // Cauchy: log P(X > 0) = -log(pi |z|) once |z| > 1e150, z overflowing or not.
  expect_rel_near(prior_log_mass_above_zero(dist(prior_family::cauchy, {-1e300, 1})),
                  -691.9202577840631054320456, k_mass_rel_tol);
  expect_rel_near(prior_log_mass_above_zero(dist(prior_family::cauchy, {-1, 1e-320})),
                  -std::log(k_pi) + std::log(1e-320), k_mass_rel_tol);
  // Uniform: the width overflows, the ratio underflows.
  expect_rel_near(prior_log_mass_above_zero(dist(prior_family::uniform, {-1e308, 1.5e308})),
                  -0.5108256237659906832055141, k_mass_rel_tol);
  expect_rel_near(prior_log_mass_above_zero(dist(prior_family::uniform, {-1e20, 1e-300})),
                  -736.8272297580946188606982, k_mass_rel_tol);
  expect_rel_near(prior_log_mass_above_zero(dist(prior_family::uniform, {-1, 5e-324})),
                  std::log(5e-324), k_mass_rel_tol);  // the smallest subnormal above zero
}

TEST(prior_density, extreme_arguments_stay_finite) {
  // uniform(-1e308, 1e308): b - a overflows, the density is 1/(2e308).
  expect_rel_near(prior_log_density(dist(prior_family::uniform, {-1e308, 1e308}), 0.0, nullptr),
                  -std::log(2.0) - std::log(1e308), k_density_rel_tol);
  // student_t with nu near zero: z^2/nu overflows, the log density does not. Reference: the
  // kernel -(nu+1)/2 log(1 + z^2/nu) written as -(nu+1)/2 (2 log z - log nu) for z^2 >> nu, plus
  // the constant lgamma((nu+1)/2) - lgamma(nu/2) - log(nu pi)/2 with lgamma(nu/2) = -log(nu/2)
  // to double precision at nu = 1e-310.
  const double nu = 1e-310;
  const double expected = std::lgamma(0.5) + std::log(0.5 * nu) - 0.5 * std::log(nu * k_pi) -
                          0.5 * (nu + 1.0) * (2.0 * std::log(3.0) - std::log(nu));
  expect_rel_near(prior_log_density(dist(prior_family::student_t, {nu, 0, 1}), 3.0, nullptr),
                  expected, k_density_rel_tol);
}

TEST(prior_mass_above_zero, positive_support_and_improper_are_zero) {
  EXPECT_EQ(prior_log_mass_above_zero(dist(prior_family::exponential, {1})), 0.0);
  EXPECT_EQ(prior_log_mass_above_zero(dist(prior_family::gamma, {2, 0.1})), 0.0);
  EXPECT_EQ(prior_log_mass_above_zero(dist(prior_family::lognormal, {0, 1})), 0.0);
  EXPECT_EQ(prior_log_mass_above_zero(dist(prior_family::flat, {})), 0.0);
  EXPECT_EQ(prior_log_mass_above_zero(dist(prior_family::constant, {1})), 0.0);
  EXPECT_THROW(prior_log_mass_above_zero(dist(prior_family::lkj, {1})), std::logic_error);
}

}  // namespace
}  // namespace hbglm
