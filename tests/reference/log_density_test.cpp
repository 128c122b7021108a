// The CPU log density of tiny models against the same density written out by hand (issue 2).
//
// Every expected value here is computed independently of the library: the densities are spelled
// out with std::lgamma, std::log, std::erfc, ...; brms's default prior locations and scales are
// worked out on paper (in comments) from the data; the transforms and their log Jacobians are
// written from their definitions. The library includes every normalizing constant except the
// LKJ one (model.hpp), so the hand sums include them too. gradient_test.cpp checks the gradients;
// this file checks the values.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/cpu/glm_cpu_density.hpp"
#include "support/model_fixtures.hpp"
#include "support/tolerance.hpp"

namespace hbglm {
namespace {

constexpr double pi = 3.14159265358979323846264338327950288;

/// A log density summed term by term, with the sum of the terms' magnitudes: two ways of summing
/// agree to a few ulps of that magnitude (test::log_density_rel), not of the (possibly small) sum.
struct hand_lp {
  double sum = 0.0;
  double magnitude = 0.0;
  void add(double term) {
    sum += term;
    magnitude += std::fabs(term);
  }
};

void add_normal(hand_lp& lp, double x, double mu, double s) {
  const double z = (x - mu) / s;
  lp.add(-0.5 * std::log(2.0 * pi));
  lp.add(-std::log(s));
  lp.add(-0.5 * z * z);
}

void add_student_t(hand_lp& lp, double x, double nu, double mu, double s) {
  const double z = (x - mu) / s;
  lp.add(std::lgamma(0.5 * (nu + 1.0)));
  lp.add(-std::lgamma(0.5 * nu));
  lp.add(-0.5 * std::log(nu * pi));
  lp.add(-std::log(s));
  lp.add(-0.5 * (nu + 1.0) * std::log(1.0 + z * z / nu));
}

void add_cauchy(hand_lp& lp, double x, double mu, double s) {
  const double z = (x - mu) / s;
  lp.add(-std::log(pi * s));
  lp.add(-std::log(1.0 + z * z));
}

/// A positive parameter x = exp(y): the log Jacobian log x = y.
void add_log_jacobian(hand_lp& lp, double y) { lp.add(y); }

/// Standard normal CDF.
double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

/// Student t CDF for 3 degrees of freedom in closed form:
/// F(t) = 1/2 + (1/π) [ (t/√3) / (1 + t²/3) + atan(t/√3) ].
double student_t3_cdf(double t) {
  const double u = t / std::sqrt(3.0);
  return 0.5 + (u / (1.0 + u * u) + std::atan(u)) / pi;
}

/// log C(n, y) as Σ_{i=1}^{y} log((n - y + i) / i), with no lgamma.
double log_choose(int n, int y) {
  double out = 0.0;
  for (int i = 1; i <= y; ++i) out += std::log(static_cast<double>(n - y + i) / i);
  return out;
}

/// log y! as Σ_{i=2}^{y} log i.
double log_factorial(int y) {
  double out = 0.0;
  for (int i = 2; i <= y; ++i) out += std::log(static_cast<double>(i));
  return out;
}

double mean_of(const std::vector<double>& v) {
  double s = 0.0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double inv_logit(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// ---- the data: five rows ----

const std::vector<double> y_gauss = {1.2, -0.3, 2.5, 0.7, 1.9};
// brms defaults for y_gauss: median = 1.2; |y - 1.2| = {0, 1.5, 1.3, 0.5, 0.7}, median 0.7,
// mad = 1.4826 · 0.7 = 1.038 < 2.5, so student_t(3, 1.2, 2.5).
constexpr double gauss_loc = 1.2, gauss_scale = 2.5;

const std::vector<double> y_wide = {10.0, -4.0, 3.0, 8.0, 0.5};
// brms defaults for y_wide: median 3; |y - 3| = {7, 7, 0, 5, 2.5}, median 5, mad = 7.413,
// rounded to one decimal: student_t(3, 3, 7.4).
constexpr double wide_loc = 3.0, wide_scale = 7.4;

const std::vector<double> y_bern = {1, 0, 1, 1, 0};
const std::vector<double> y_binom = {3, 0, 5, 2, 7};
const std::vector<double> n_trials = {5, 2, 5, 6, 10};
const std::vector<double> n_failures = {2, 2, 0, 4, 3};

const std::vector<double> y_pois = {0, 3, 1, 7, 2};
// brms defaults for poisson: log y with 0 → 0.1: {-2.303, 1.099, 0, 1.946, 0.693}; median
// log 2 = 0.693 → 0.7; deviations {2.996, 0.405, 0.693, 1.253, 0}, median 0.693, mad 1.028 < 2.5:
// student_t(3, 0.7, 2.5).
constexpr double pois_loc = 0.7, pois_scale = 2.5;
// bernoulli and binomial: student_t(3, 0, 2.5).
constexpr double logit_scale = 2.5;

const std::vector<double> x1 = {0.5, -1.0, 1.5, 0.0, 2.0};   // mean 0.6
const std::vector<double> x2 = {1.0, 3.0, -2.0, 0.5, 0.25};  // mean 0.55
const std::vector<double> se = {0.5, 1.0, 0.8, 1.5, 0.7};
const std::vector<double> offs = {0.1, -0.2, 0.0, 0.3, 0.05};
// g: three levels, written out of order; sorted a, b, c → codes below.
const std::vector<std::string> g = {"b", "a", "c", "a", "b"};
const std::vector<int> g_code = {1, 0, 2, 0, 1};
// h: two levels p, q.
const std::vector<std::string> h = {"p", "q", "p", "q", "q"};
const std::vector<int> h_code = {0, 1, 0, 1, 1};

table hand_table() {
  return test::make_table(
      "hand.csv", {test::numeric_column("y", y_gauss),  test::numeric_column("yw", y_wide),
                   test::numeric_column("yb", y_bern),  test::numeric_column("ybin", y_binom),
                   test::numeric_column("n", n_trials), test::numeric_column("nf", n_failures),
                   test::numeric_column("yp", y_pois),  test::numeric_column("x1", x1),
                   test::numeric_column("x2", x2),      test::numeric_column("s", se),
                   test::numeric_column("o", offs),     test::text_column("g", g),
                   test::text_column("h", h)});
}

std::shared_ptr<const model> make(const std::string& formula_text, family fam,
                                  const std::vector<std::string>& priors = {}) {
  return test::make_model(hand_table(), formula_text, fam, priors);
}

/// The tests below write the unconstrained vector with the coefficients themselves in it; the
/// library's q holds each coefficient times its column's scale (scalar_parameter::column_scale,
/// checked by hand in CoefficientsAreScaledByTheirColumnSd). This maps one to the other.
std::vector<double> library_q(const model& m, std::vector<double> q) {
  for (const auto& p : m.scalars()) {
    if (p.transform == scalar_transform::identity) q[p.q_index] *= p.column_scale;
  }
  return q;
}

double library_lp(const std::shared_ptr<const model>& m, const std::vector<double>& q) {
  EXPECT_EQ(q.size(), m->dim());
  detail::glm_cpu_density density(m);
  std::vector<double> grad(m->dim());
  return density.log_density_grad(library_q(*m, q).data(), grad.data());
}

void expect_lp(const std::shared_ptr<const model>& m, const std::vector<double>& q,
               const hand_lp& expected) {
  const double actual = library_lp(m, q);
  EXPECT_NEAR(actual, expected.sum,
              test::log_density_rel * std::max(1.0, expected.magnitude))
      << "library " << actual << ", by hand " << expected.sum;
}

std::vector<double> constrained(const std::shared_ptr<const model>& m,
                                const std::vector<double>& q) {
  std::vector<double> out(m->output_names().size());
  m->write_constrained(library_q(*m, q).data(), out.data());
  return out;
}

// ---- families ----

TEST(LogDensity, GaussianWithSigma) {
  const auto m = make("y ~ x1", family::gaussian);
  ASSERT_EQ(m->unconstrained_names(),
            (std::vector<std::string>{"Intercept", "b_x1", "log(sigma)"}));
  const std::vector<double> q = {0.4, 0.7, -0.25};
  const double sigma = std::exp(q[2]);
  hand_lp lp;
  add_student_t(lp, q[0], 3, gauss_loc, gauss_scale);  // centered Intercept; b is flat
  add_student_t(lp, sigma, 3, 0, gauss_scale);         // half-student_t: ...
  lp.add(std::log(2.0));                               // ... / P(sigma > 0) = 1/2
  add_log_jacobian(lp, q[2]);
  const double x_mean = mean_of(x1);
  for (std::size_t i = 0; i < 5; ++i) {
    add_normal(lp, y_gauss[i], q[0] + q[1] * (x1[i] - x_mean), sigma);
  }
  expect_lp(m, q, lp);
}

TEST(LogDensity, GaussianWithKnownSe) {
  const auto m = make("y | se(s) ~ x1 + x2", family::gaussian);
  ASSERT_EQ(m->unconstrained_names(), (std::vector<std::string>{"Intercept", "b_x1", "b_x2"}));
  EXPECT_FALSE(m->has_sigma());
  const std::vector<double> q = {0.4, 0.7, -0.3};
  hand_lp lp;
  add_student_t(lp, q[0], 3, gauss_loc, gauss_scale);
  const double m1 = mean_of(x1), m2 = mean_of(x2);
  for (std::size_t i = 0; i < 5; ++i) {
    add_normal(lp, y_gauss[i], q[0] + q[1] * (x1[i] - m1) + q[2] * (x2[i] - m2), se[i]);
  }
  expect_lp(m, q, lp);
}

TEST(LogDensity, Bernoulli) {
  const auto m = make("yb ~ x1 + x2", family::bernoulli);
  ASSERT_EQ(m->unconstrained_names(), (std::vector<std::string>{"Intercept", "b_x1", "b_x2"}));
  const std::vector<double> q = {0.2, 0.8, -0.5};
  hand_lp lp;
  add_student_t(lp, q[0], 3, 0.0, logit_scale);
  const double m1 = mean_of(x1), m2 = mean_of(x2);
  for (std::size_t i = 0; i < 5; ++i) {
    const double p = inv_logit(q[0] + q[1] * (x1[i] - m1) + q[2] * (x2[i] - m2));
    lp.add(y_bern[i] == 1.0 ? std::log(p) : std::log(1.0 - p));
  }
  expect_lp(m, q, lp);
}

hand_lp binomial_expected(const std::vector<double>& q) {
  hand_lp lp;
  add_student_t(lp, q[0], 3, 0.0, logit_scale);
  const double m1 = mean_of(x1);
  for (std::size_t i = 0; i < 5; ++i) {
    const int n = static_cast<int>(n_trials[i]), y = static_cast<int>(y_binom[i]);
    const double p = inv_logit(q[0] + q[1] * (x1[i] - m1));
    lp.add(log_choose(n, y));
    lp.add(y * std::log(p));
    lp.add((n - y) * std::log(1.0 - p));
  }
  return lp;
}

TEST(LogDensity, BinomialWithTrials) {
  const auto m = make("ybin | trials(n) ~ x1", family::binomial);
  ASSERT_EQ(m->unconstrained_names(), (std::vector<std::string>{"Intercept", "b_x1"}));
  const std::vector<double> q = {-0.1, 0.6};
  expect_lp(m, q, binomial_expected(q));
}

TEST(LogDensity, BinomialWithCbindIsTheSame) {
  const auto m = make("cbind(ybin, nf) ~ x1", family::binomial);
  const std::vector<double> q = {-0.1, 0.6};
  expect_lp(m, q, binomial_expected(q));
}

TEST(LogDensity, Poisson) {
  const auto m = make("yp ~ x1", family::poisson);
  ASSERT_EQ(m->unconstrained_names(), (std::vector<std::string>{"Intercept", "b_x1"}));
  const std::vector<double> q = {0.5, 0.3};
  hand_lp lp;
  add_student_t(lp, q[0], 3, pois_loc, pois_scale);
  const double m1 = mean_of(x1);
  for (std::size_t i = 0; i < 5; ++i) {
    const double eta = q[0] + q[1] * (x1[i] - m1);
    lp.add(y_pois[i] * eta);
    lp.add(-std::exp(eta));
    lp.add(-log_factorial(static_cast<int>(y_pois[i])));
  }
  expect_lp(m, q, lp);
}

TEST(LogDensity, PoissonWithOffset) {
  const auto m = make("yp ~ x1 + offset(o)", family::poisson);
  ASSERT_EQ(m->unconstrained_names(), (std::vector<std::string>{"Intercept", "b_x1"}));
  const std::vector<double> q = {0.5, 0.3};
  hand_lp lp;
  add_student_t(lp, q[0], 3, pois_loc, pois_scale);
  const double m1 = mean_of(x1);
  for (std::size_t i = 0; i < 5; ++i) {
    const double eta = q[0] + q[1] * (x1[i] - m1) + offs[i];
    lp.add(y_pois[i] * eta);
    lp.add(-std::exp(eta));
    lp.add(-log_factorial(static_cast<int>(y_pois[i])));
  }
  expect_lp(m, q, lp);
}

// ---- coefficient scaling ----

TEST(LogDensity, CoefficientsAreScaledByTheirColumnSd) {
  // x1 = {0.5, -1, 1.5, 0, 2}, mean 0.6: squared deviations {0.01, 2.56, 0.81, 0.36, 1.96} sum
  // to 5.7, so sd (divisor n) = sqrt(1.14). x2 = {1, 3, -2, 0.5, 0.25}, mean 0.55: squared
  // deviations {0.2025, 6.0025, 6.5025, 0.0025, 0.09} sum to 12.8, sd = sqrt(2.56) = 1.6.
  const auto m = make("y ~ x1 + x2", family::gaussian);
  EXPECT_EQ(m->scalars()[0].column_scale, 1.0);  // the centered Intercept
  EXPECT_NEAR(m->scalars()[1].column_scale, std::sqrt(1.14), 1e-15);
  EXPECT_NEAR(m->scalars()[2].column_scale, 1.6, 1e-15);
  EXPECT_EQ(m->scalars()[3].column_scale, 1.0);  // sigma

  // q holds b·sd: b = q / sd, and the gradient on q is the gradient on b divided by sd.
  const std::vector<double> q = {0.4, 0.7, -0.3, 0.1};
  detail::glm_cpu_density density(m);
  std::vector<double> grad(m->dim()), out(m->output_names().size());
  density.log_density_grad(q.data(), grad.data());
  m->write_constrained(q.data(), out.data());
  EXPECT_NEAR(out[1], 0.7 / std::sqrt(1.14), 1e-15);
  EXPECT_NEAR(out[2], -0.3 / 1.6, 1e-15);
  // ∂lp/∂b_x2 by hand (b is flat): Σ_i (y_i - η_i) (x2_i - m2) / σ², and ∂/∂q = that / 1.6.
  const double sigma = std::exp(0.1), m1 = 0.6, m2 = 0.55;
  double d_b2 = 0.0;
  for (std::size_t i = 0; i < 5; ++i) {
    const double eta = 0.4 + out[1] * (x1[i] - m1) + out[2] * (x2[i] - m2);
    d_b2 += (y_gauss[i] - eta) * (x2[i] - m2) / (sigma * sigma);
  }
  EXPECT_NEAR(grad[2], d_b2 / 1.6, 1e-12 * std::max(1.0, std::fabs(d_b2)));

  // A uniform prior bounds b through the interval transform: no column scale.
  const auto bounded = make("y ~ x1 + x2", family::gaussian, {"b[x2] ~ uniform(-3, 3)"});
  EXPECT_NEAR(bounded->scalars()[1].column_scale, std::sqrt(1.14), 1e-15);
  EXPECT_EQ(bounded->scalars()[2].column_scale, 1.0);
  // Without centering the scale is the root mean square: x1² sums to 7.5, so sqrt(1.5); the
  // Intercept column of ones has 1.
  const auto uncentered = make("y ~ 0 + Intercept + x1", family::gaussian);
  EXPECT_EQ(uncentered->scalars()[0].column_scale, 1.0);
  EXPECT_NEAR(uncentered->scalars()[1].column_scale, std::sqrt(1.5), 1e-15);
}

// ---- intercepts ----

TEST(LogDensity, CenteredInterceptAndItsOutput) {
  const auto m = make("y ~ x1 + x2", family::gaussian);
  ASSERT_EQ(m->unconstrained_names(),
            (std::vector<std::string>{"Intercept", "b_x1", "b_x2", "log(sigma)"}));
  ASSERT_EQ(m->output_names(), (std::vector<std::string>{"b_Intercept", "b_x1", "b_x2", "sigma"}));
  const std::vector<double> q = {0.4, 0.7, -0.3, 0.1};
  const double sigma = std::exp(q[3]);
  const double m1 = 0.6, m2 = 0.55;  // means of x1 and x2, by hand
  hand_lp lp;
  add_student_t(lp, q[0], 3, gauss_loc, gauss_scale);
  add_student_t(lp, sigma, 3, 0, gauss_scale);
  lp.add(std::log(2.0));
  add_log_jacobian(lp, q[3]);
  for (std::size_t i = 0; i < 5; ++i) {
    add_normal(lp, y_gauss[i], q[0] + q[1] * (x1[i] - m1) + q[2] * (x2[i] - m2), sigma);
  }
  expect_lp(m, q, lp);

  const auto out = constrained(m, q);
  EXPECT_NEAR(out[0], q[0] - m1 * q[1] - m2 * q[2], 1e-15);  // b_Intercept on the data scale
  EXPECT_EQ(out[1], q[1]);
  EXPECT_EQ(out[2], q[2]);
  EXPECT_NEAR(out[3], sigma, 1e-15);
}

TEST(LogDensity, UncenteredInterceptAsCoefficient) {
  const auto m = make("y ~ 0 + Intercept + x1", family::gaussian);
  ASSERT_EQ(m->unconstrained_names(),
            (std::vector<std::string>{"b_Intercept", "b_x1", "log(sigma)"}));
  ASSERT_EQ(m->output_names(), (std::vector<std::string>{"b_Intercept", "b_x1", "sigma"}));
  const std::vector<double> q = {0.9, 0.4, -0.6};
  const double sigma = std::exp(q[2]);
  hand_lp lp;  // both coefficients are class b: flat
  add_student_t(lp, sigma, 3, 0, gauss_scale);
  lp.add(std::log(2.0));
  add_log_jacobian(lp, q[2]);
  for (std::size_t i = 0; i < 5; ++i) add_normal(lp, y_gauss[i], q[0] + q[1] * x1[i], sigma);
  expect_lp(m, q, lp);

  const auto out = constrained(m, q);
  EXPECT_EQ(out[0], q[0]);
  EXPECT_EQ(out[1], q[1]);
  EXPECT_NEAR(out[2], sigma, 1e-15);
}

// ---- group-level terms ----

/// brms's default prior on an sd (or sigma) held in q as y = log(sd): student_t(3, 0, scale)
/// truncated to (0, inf), which doubles its density, and the log Jacobian y.
void add_default_sd_prior(hand_lp& lp, double y, double scale) {
  add_student_t(lp, std::exp(y), 3, 0, scale);
  lp.add(std::log(2.0));
  add_log_jacobian(lp, y);
}

/// yw ~ 1 + (1 | g) with the default priors, q = (Intercept, log sd, log sigma, 3 group
/// entries): the priors and log Jacobians of the three globals.
hand_lp varying_intercept_globals(const std::vector<double>& q) {
  hand_lp lp;
  add_student_t(lp, q[0], 3, wide_loc, wide_scale);
  add_default_sd_prior(lp, q[1], wide_scale);
  add_default_sd_prior(lp, q[2], wide_scale);
  return lp;
}

TEST(LogDensity, VaryingInterceptWithDefaultPriors) {
  const auto m = make("yw ~ 1 + (1 | g)", family::gaussian);
  ASSERT_EQ(m->unconstrained_names(),
            (std::vector<std::string>{"Intercept", "log(sd_g__Intercept)", "log(sigma)",
                                      "z_g[a,Intercept]", "z_g[b,Intercept]",
                                      "z_g[c,Intercept]"}));
  const std::vector<double> q = {2.0, 0.3, 1.1, 0.5, -1.2, 0.8};
  const double sd = std::exp(q[1]), sigma = std::exp(q[2]);
  const double* z = &q[3];
  hand_lp lp = varying_intercept_globals(q);
  for (int j = 0; j < 3; ++j) add_normal(lp, z[j], 0, 1);
  for (std::size_t i = 0; i < 5; ++i) add_normal(lp, y_wide[i], q[0] + sd * z[g_code[i]], sigma);
  expect_lp(m, q, lp);
}

/// yb ~ x1 + (1 + x1 | h) with lkj(eta), q = (Intercept, b_x1, log sd0, log sd1, cpc, 4 group
/// entries): the priors and log Jacobians of the globals.
hand_lp correlated_k2_globals(const std::vector<double>& q, double eta_lkj) {
  const double rho = std::tanh(q[4]);
  hand_lp lp;
  add_student_t(lp, q[0], 3, 0.0, logit_scale);
  add_default_sd_prior(lp, q[2], logit_scale);
  add_default_sd_prior(lp, q[3], logit_scale);
  lp.add(std::log(1.0 - rho * rho));                   // d tanh(y) / dy
  lp.add((eta_lkj - 1.0) * std::log(1.0 - rho * rho));  // LKJ(eta) for k = 2
  return lp;
}

/// (1 + x1 | h) on bernoulli data with lkj(eta): everything for k = 2 by hand.
hand_lp correlated_k2_expected(const std::vector<double>& q, double eta_lkj) {
  const double sd0 = std::exp(q[2]), sd1 = std::exp(q[3]);
  const double rho = std::tanh(q[4]);
  // L = [[1, 0], [rho, sqrt(1 - rho²)]]
  const double l10 = rho, l11 = std::sqrt(1.0 - rho * rho);
  hand_lp lp = correlated_k2_globals(q, eta_lkj);
  const double* z = &q[5];                              // level-major: z[j][c] = z[2j + c]
  for (int c = 0; c < 4; ++c) add_normal(lp, z[c], 0, 1);
  const double m1 = mean_of(x1);
  for (std::size_t i = 0; i < 5; ++i) {
    const double* zj = z + 2 * h_code[i];
    const double u0 = sd0 * zj[0];
    const double u1 = sd1 * (l10 * zj[0] + l11 * zj[1]);
    const double eta = q[0] + q[1] * (x1[i] - m1) + u0 + u1 * x1[i];  // Z is not centered
    const double p = inv_logit(eta);
    lp.add(y_bern[i] == 1.0 ? std::log(p) : std::log(1.0 - p));
  }
  return lp;
}

TEST(LogDensity, CorrelatedTwoCoefficients) {
  const auto m = make("yb ~ x1 + (1 + x1 | h)", family::bernoulli, {"cor ~ lkj(2.5)"});
  ASSERT_EQ(m->unconstrained_names(),
            (std::vector<std::string>{"Intercept", "b_x1", "log(sd_h__Intercept)",
                                      "log(sd_h__x1)", "cpc_h[2,1]", "z_h[p,Intercept]",
                                      "z_h[p,x1]", "z_h[q,Intercept]", "z_h[q,x1]"}));
  const std::vector<double> q = {0.3, -0.4, -0.2, 0.5, 0.7, 1.1, -0.6, 0.4, 0.9};
  expect_lp(m, q, correlated_k2_expected(q, 2.5));
}

TEST(LogDensity, CorrelatedTwoCoefficientsDefaultLkj) {
  const auto m = make("yb ~ x1 + (1 + x1 | h)", family::bernoulli);
  const std::vector<double> q = {-0.3, 0.4, 0.1, -0.5, -1.3, 0.2, 0.6, -0.8, 0.3};
  expect_lp(m, q, correlated_k2_expected(q, 1.0));
}

TEST(LogDensity, CenteredVaryingIntercept) {
  // --centered all: q holds Intercept + r_g (hierarchical centering), r_g ~ normal(0, sd).
  const auto m = test::make_model(hand_table(), "yw ~ 1 + (1 | g)", family::gaussian, {}, "all");
  ASSERT_EQ(m->unconstrained_names(),
            (std::vector<std::string>{"Intercept", "log(sd_g__Intercept)", "log(sigma)",
                                      "Intercept+r_g[a,Intercept]", "Intercept+r_g[b,Intercept]",
                                      "Intercept+r_g[c,Intercept]"}));
  const std::vector<double> q = {2.0, 0.3, 1.1, 0.5, -1.2, 0.8};
  const double sd = std::exp(q[1]), sigma = std::exp(q[2]);
  const double* level_intercept = &q[3];
  double u[3];
  for (int j = 0; j < 3; ++j) u[j] = level_intercept[j] - q[0];
  hand_lp lp = varying_intercept_globals(q);
  for (int j = 0; j < 3; ++j) add_normal(lp, u[j], 0, sd);
  for (std::size_t i = 0; i < 5; ++i) add_normal(lp, y_wide[i], q[0] + u[g_code[i]], sigma);
  expect_lp(m, q, lp);
  const auto out = constrained(m, q);
  ASSERT_EQ(out.size(), 6u);  // b_Intercept, sd, sigma, r_g.1.1 .. r_g.3.1
  for (int j = 0; j < 3; ++j) EXPECT_DOUBLE_EQ(out[3 + j], u[j]);
}

TEST(LogDensity, CenteredCorrelatedTwoCoefficients) {
  // (1 + x1 | h) centered: u_j ~ bivariate normal with sds sd0, sd1 and correlation rho, its
  // density written out (not through a Cholesky factor). Both coefficients are centered on the
  // population-level ones: q holds b_x1 + u_j1, and the intercept at x1 = 0 (not the centered
  // Intercept, whose prior is still the one evaluated) plus u_j0.
  const auto m = test::make_model(hand_table(), "yb ~ x1 + (1 + x1 | h)", family::bernoulli,
                                  {"cor ~ lkj(2.5)"}, "h");
  ASSERT_EQ(m->unconstrained_names(),
            (std::vector<std::string>{"Intercept(x1 at 0)", "b_x1", "log(sd_h__Intercept)",
                                      "log(sd_h__x1)", "cpc_h[2,1]", "Intercept+r_h[p,Intercept]",
                                      "b_x1+r_h[p,x1]", "Intercept+r_h[q,Intercept]",
                                      "b_x1+r_h[q,x1]"}));
  const std::vector<double> q = {0.3, -0.4, -0.2, 0.5, 0.7, 1.1, -0.6, 0.4, 0.9};
  const double sd0 = std::exp(q[2]), sd1 = std::exp(q[3]), rho = std::tanh(q[4]);
  const double m1 = mean_of(x1);
  const double intercept_at_zero = q[0], b1 = q[1];
  const double intercept = intercept_at_zero + m1 * b1;  // the centered Intercept
  std::vector<double> globals = q;
  globals[0] = intercept;  // its prior is on the centered Intercept
  hand_lp lp = correlated_k2_globals(globals, 2.5);
  double u[4];  // level-major: u[j][c] = u[2j + c]
  for (int j = 0; j < 2; ++j) {
    u[2 * j] = q[5 + 2 * j] - intercept_at_zero;
    u[2 * j + 1] = q[6 + 2 * j] - b1;
  }
  for (int j = 0; j < 2; ++j) {
    const double a = u[2 * j] / sd0, b = u[2 * j + 1] / sd1;
    lp.add(-std::log(2.0 * pi) - std::log(sd0) - std::log(sd1) -
           0.5 * std::log(1.0 - rho * rho));
    lp.add(-0.5 * (a * a - 2.0 * rho * a * b + b * b) / (1.0 - rho * rho));
  }
  for (std::size_t i = 0; i < 5; ++i) {
    const double* uj = u + 2 * h_code[i];
    const double eta = intercept + b1 * (x1[i] - m1) + uj[0] + uj[1] * x1[i];
    const double p = inv_logit(eta);
    lp.add(y_bern[i] == 1.0 ? std::log(p) : std::log(1.0 - p));
  }
  expect_lp(m, q, lp);
  const auto out = constrained(m, q);  // b_Intercept, b_x1, 2 sds, cor, r_h (level-fastest)
  ASSERT_EQ(out.size(), 9u);
  EXPECT_NEAR(out[0], intercept_at_zero, 1e-15);  // b_Intercept: the intercept at x1 = 0
  EXPECT_DOUBLE_EQ(out[5], u[0]);  // r_h.1.1
  EXPECT_DOUBLE_EQ(out[6], u[2]);  // r_h.2.1
  EXPECT_DOUBLE_EQ(out[7], u[1]);  // r_h.1.2
  EXPECT_DOUBLE_EQ(out[8], u[3]);  // r_h.2.2
}

TEST(LogDensity, CorrelatedTermWithItsInterceptAloneCentered) {
  // (1 + x1 | h) with "h:Intercept": q holds Intercept + u_j0 and z_j1, u_j1 = sd1 (rho z_j0 +
  // sqrt(1 - rho²) z_j1) with z_j0 = u_j0 / sd0 (term_parameters::n_centered 1). The density is
  // the non-centered one's in u_j0 instead of z_j0: normal(u_j0 | 0, sd0), whose -log sd0 is the
  // Jacobian. b_x1 is not a level mean, so q's Intercept is the centered one.
  const auto m = test::make_model(hand_table(), "yb ~ x1 + (1 + x1 | h)", family::bernoulli,
                                  {"cor ~ lkj(2.5)"}, "h:Intercept");
  ASSERT_EQ(m->unconstrained_names(),
            (std::vector<std::string>{"Intercept", "b_x1", "log(sd_h__Intercept)",
                                      "log(sd_h__x1)", "cpc_h[2,1]", "Intercept+r_h[p,Intercept]",
                                      "z_h[p,x1]", "Intercept+r_h[q,Intercept]", "z_h[q,x1]"}));
  const std::vector<double> q = {0.3, -0.4, -0.2, 0.5, 0.7, 1.1, -0.6, 0.4, 0.9};
  const double sd0 = std::exp(q[2]), sd1 = std::exp(q[3]), rho = std::tanh(q[4]);
  const double m1 = mean_of(x1);
  hand_lp lp = correlated_k2_globals(q, 2.5);
  double u[4];  // level-major: u[j][c] = u[2j + c]
  for (int j = 0; j < 2; ++j) {
    u[2 * j] = q[5 + 2 * j] - q[0];
    const double z0 = u[2 * j] / sd0, z1 = q[6 + 2 * j];
    u[2 * j + 1] = sd1 * (rho * z0 + std::sqrt(1.0 - rho * rho) * z1);
    add_normal(lp, u[2 * j], 0, sd0);
    add_normal(lp, z1, 0, 1);
  }
  for (std::size_t i = 0; i < 5; ++i) {
    const double* uj = u + 2 * h_code[i];
    const double eta = q[0] + q[1] * (x1[i] - m1) + uj[0] + uj[1] * x1[i];
    const double p = inv_logit(eta);
    lp.add(y_bern[i] == 1.0 ? std::log(p) : std::log(1.0 - p));
  }
  expect_lp(m, q, lp);
  const auto out = constrained(m, q);  // b_Intercept, b_x1, 2 sds, cor, r_h (level-fastest)
  ASSERT_EQ(out.size(), 9u);
  EXPECT_DOUBLE_EQ(out[5], u[0]);  // r_h.1.1
  EXPECT_DOUBLE_EQ(out[6], u[2]);  // r_h.2.1
  EXPECT_NEAR(out[7], u[1], 1e-15);  // r_h.1.2
  EXPECT_NEAR(out[8], u[3], 1e-15);  // r_h.2.2
}

/// The k = 3 correlated model yp ~ 1 + (1 + x1 + x2 | h), lkj(1.5), by hand.
struct k3_by_hand {
  double sd[3];
  double l[3][3];  // Cholesky factor of the correlation matrix
  double u[2][3];  // group effects per level of h
  hand_lp lp;
};

k3_by_hand correlated_k3(const std::vector<double>& q, double eta_lkj) {
  k3_by_hand r{};
  for (int a = 0; a < 3; ++a) r.sd[a] = std::exp(q[1 + a]);
  // Canonical partial correlations, in Stan's order (2,1), (3,1), (3,2).
  const double c10 = std::tanh(q[4]), c20 = std::tanh(q[5]), c21 = std::tanh(q[6]);
  // Row 1: (c10, sqrt(1 - c10²)). Row 2: (c20, c21 sqrt(1 - c20²), sqrt((1-c20²)(1-c21²))).
  r.l[0][0] = 1.0;
  r.l[1][0] = c10;
  r.l[1][1] = std::sqrt(1.0 - c10 * c10);
  r.l[2][0] = c20;
  r.l[2][1] = c21 * std::sqrt(1.0 - c20 * c20);
  r.l[2][2] = std::sqrt((1.0 - c20 * c20) * (1.0 - c21 * c21));
  // R = L Lᵀ, and its determinant by cofactors.
  const double r01 = r.l[1][0], r02 = r.l[2][0];
  const double r12 = r.l[1][0] * r.l[2][0] + r.l[1][1] * r.l[2][1];
  const double det_r = 1.0 - r01 * r01 - r02 * r02 - r12 * r12 + 2.0 * r01 * r02 * r12;

  hand_lp& lp = r.lp;
  add_student_t(lp, q[0], 3, pois_loc, pois_scale);
  for (int a = 0; a < 3; ++a) {
    add_student_t(lp, r.sd[a], 3, 0, pois_scale);
    lp.add(std::log(2.0));
    add_log_jacobian(lp, q[1 + a]);
  }
  // Jacobian of y → (L10, L20, L21): triangular with diagonal (1-c10²), (1-c20²),
  // (1-c21²) sqrt(1-c20²).
  lp.add(std::log(1.0 - c10 * c10));
  lp.add(std::log(1.0 - c20 * c20));
  lp.add(std::log(1.0 - c21 * c21));
  lp.add(0.5 * std::log(1.0 - c20 * c20));
  // LKJ on R, unnormalized, plus the Jacobian of L → R: |dR/dL| = L11 for k = 3
  // (R10 = L10, R20 = L20, R21 = L10 L20 + L11 L21 with L11 = sqrt(1 - L10²)).
  lp.add((eta_lkj - 1.0) * std::log(det_r));
  lp.add(std::log(r.l[1][1]));
  const double* z = &q[7];
  for (int c = 0; c < 6; ++c) add_normal(lp, z[c], 0, 1);
  for (int j = 0; j < 2; ++j) {
    for (int a = 0; a < 3; ++a) {
      double lz = 0.0;
      for (int b = 0; b <= a; ++b) lz += r.l[a][b] * z[3 * j + b];
      r.u[j][a] = r.sd[a] * lz;
    }
  }
  for (std::size_t i = 0; i < 5; ++i) {
    const double* u = r.u[h_code[i]];
    const double eta = q[0] + u[0] + u[1] * x1[i] + u[2] * x2[i];
    lp.add(y_pois[i] * eta);
    lp.add(-std::exp(eta));
    lp.add(-log_factorial(static_cast<int>(y_pois[i])));
  }
  return r;
}

const std::vector<double> k3_q = {0.2, -0.3, 0.4, -0.1, 0.6, -0.9, 0.35,
                                  0.7, -0.4, 1.2, -1.1, 0.25, 0.5};

/** q's global entries from constrained values by name: coefficients times their column's scale,
 *  the log of sds and sigma (every scalar of @p m must be named). */
void set_globals(const model& m, const std::map<std::string, double>& values,
                 std::vector<double>& q) {
  for (const scalar_parameter& p : m.scalars()) {
    const double value = values.at(p.name);
    q[p.q_index] = p.transform == scalar_transform::identity ? value * p.column_scale
                                                             : std::log(value);
  }
}

TEST(LogDensity, AbsorbedSlopeIsAChangeOfVariablesOfTheNonCenteredForm) {
  // w takes one value per level of g1, so the centered (1 | g1) absorbs (0 + w | g1): q's entry
  // for level j holds m + u[j] + w_j u_w[j]. At the same constrained values the two forms'
  // densities differ by the log Jacobian of q_none -> q_absorbed alone: u = sd z per level of the
  // centered intercept (J log sd); the shifts by m and w_j u_w[j] have unit Jacobian. The
  // non-centered density is checked by hand above; here also every output value.
  table t = test::random_table(60, 5, 3, 31);
  const std::vector<double>& g1 = t.find("g1")->numbers;
  std::vector<double> w(g1.size());
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.2 * g1[i] - 3.0;
  t.columns.push_back(test::numeric_column("w", w));
  const std::string formula = "y_gaussian ~ x1 + (1 | g1) + (0 + w | g1)";
  const auto absorbed = test::make_model(t, formula, family::gaussian, {}, "g1");
  const auto none = test::make_model(t, formula, family::gaussian, {}, "none");
  ASSERT_TRUE(absorbed->terms()[0].centered());
  ASSERT_EQ(absorbed->terms()[0].absorbed.size(), 1u);
  const std::vector<double>& w_level = absorbed->terms()[0].absorbed[0].level_values;
  ASSERT_EQ(w_level.size(), 5u);
  ASSERT_TRUE(absorbed->terms()[1].centered());  // listed: both terms on g1; u_w = q - 0 then

  const std::size_t J = 5;
  const double intercept = 0.4, b_x1 = -0.7, sd_i = 0.8, sd_w = 0.3, sigma = 1.3;
  const std::vector<double> u_i = {0.5, -0.2, 0.9, -1.1, 0.05}, u_w = {0.3, -0.4, 0.1, 0.2, -0.6};
  const std::map<std::string, double> globals = {{"Intercept", intercept},
                                                 {"b_x1", b_x1},
                                                 {"sd_g1__Intercept", sd_i},
                                                 {"sd_g1__w", sd_w},
                                                 {"sigma", sigma}};
  std::vector<double> q_none(none->dim()), q_abs(absorbed->dim());
  set_globals(*none, globals, q_none);
  set_globals(*absorbed, globals, q_abs);
  global_values v;
  absorbed->globals_forward(q_abs.data(), v);
  const double m = v.level_means[0];  // the intercept the levels are centered on
  EXPECT_NEAR(m, intercept, 1e-12);   // x1 is no level's mean: no shift
  for (std::size_t j = 0; j < J; ++j) {
    q_none[none->terms()[0].z_q_index + j] = u_i[j] / sd_i;
    q_none[none->terms()[1].z_q_index + j] = u_w[j] / sd_w;
    q_abs[absorbed->terms()[0].z_q_index + j] = m + u_i[j] + w_level[j] * u_w[j];
    q_abs[absorbed->terms()[1].z_q_index + j] = u_w[j];
  }
  detail::glm_cpu_density d_none(none), d_abs(absorbed);
  std::vector<double> g_none(none->dim()), g_abs(absorbed->dim());
  const double lp_none = d_none.log_density_grad(q_none.data(), g_none.data());
  const double lp_abs = d_abs.log_density_grad(q_abs.data(), g_abs.data());
  // Both terms centered: u_w = q as well, so the Jacobian is J (log sd_i + log sd_w).
  const double log_jacobian = static_cast<double>(J) * (std::log(sd_i) + std::log(sd_w));
  EXPECT_NEAR(lp_abs, lp_none - log_jacobian, 1e-9 * std::fabs(lp_none));

  // The outputs are the same constrained values: r_g1 is u, not q.
  const auto names = absorbed->output_names();
  std::vector<double> out_abs(names.size()), out_none(names.size());
  absorbed->write_constrained(q_abs.data(), out_abs.data());
  none->write_constrained(q_none.data(), out_none.data());
  ASSERT_EQ(none->output_names(), names);
  for (std::size_t i = 0; i < names.size(); ++i) {
    EXPECT_NEAR(out_abs[i], out_none[i], 1e-12) << names[i];
  }
  // and those are the values put in.
  const auto at = [&](const std::string& name) {
    return out_abs[static_cast<std::size_t>(std::find(names.begin(), names.end(), name) -
                                            names.begin())];
  };
  EXPECT_NEAR(at("r_g1.3.1"), u_i[2], 1e-12);
  EXPECT_NEAR(at("r_g1.3.2"), u_w[2], 1e-12);
}

TEST(LogDensity, AbsorbedCoefficientIsAChangeOfVariablesOfTheNonCenteredForm) {
  // w takes one value per level of g1 and is a population-level predictor, so the centered
  // (1 | g1) absorbs b_w (term_parameters::absorbed_coefficients): q's entry for level j holds
  // m + u[j] + w_j b_w (w_j as in X, centered), and the data no longer see b_w. At the same
  // constrained values the density differs from the non-centered form's by J log sd alone.
  table t = test::random_table(60, 5, 3, 32);
  const std::vector<double>& g1 = t.find("g1")->numbers;
  std::vector<double> w(g1.size());
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sqrt(g1[i]);
  t.columns.push_back(test::numeric_column("w", w));
  for (const family fam : {family::gaussian, family::poisson}) {
    const std::string formula = test::response_for(fam) + " ~ x1 + w + (1 | g1) + (1 | g2)";
    const auto absorbed = test::make_model(t, formula, fam, {}, "g1");
    const auto none = test::make_model(t, formula, fam, {}, "none");
    ASSERT_TRUE(absorbed->terms()[0].centered());
    ASSERT_EQ(absorbed->terms()[0].absorbed_coefficients.size(), 1u);
    const auto& w_coefficient = absorbed->terms()[0].absorbed_coefficients[0];
    ASSERT_EQ(absorbed->scalars()[w_coefficient.coefficient].name, "b_w");
    ASSERT_TRUE(none->terms()[0].absorbed_coefficients.empty());
    const std::vector<double>& w_level = w_coefficient.level_values;
    ASSERT_EQ(w_level.size(), 5u);
    EXPECT_NE(absorbed->unconstrained_names()[absorbed->terms()[0].z_q_index + 1].find(
                  "+w*b_w"),
              std::string::npos);

    const std::size_t J = 5;
    const double intercept = 0.4, b_x1 = -0.7, b_w = 0.9, sd_1 = 0.8, sd_2 = 0.3, sigma = 1.3;
    const std::vector<double> u_1 = {0.5, -0.2, 0.9, -1.1, 0.05}, z_2 = {0.3, -0.4, 0.1};
    const std::map<std::string, double> globals = {{"Intercept", intercept},
                                                   {"b_x1", b_x1},
                                                   {"b_w", b_w},
                                                   {"sd_g1__Intercept", sd_1},
                                                   {"sd_g2__Intercept", sd_2},
                                                   {"sigma", sigma}};
    auto fill = [&](const model& m, std::vector<double>& q) {
      set_globals(m, globals, q);
      for (std::size_t j = 0; j < 3; ++j) q[m.terms()[1].z_q_index + j] = z_2[j];
    };
    std::vector<double> q_none(none->dim()), q_abs(absorbed->dim());
    fill(*none, q_none);
    fill(*absorbed, q_abs);
    global_values v;
    absorbed->globals_forward(q_abs.data(), v);
    const double m = v.level_means[0];
    for (std::size_t j = 0; j < J; ++j) {
      q_none[none->terms()[0].z_q_index + j] = u_1[j] / sd_1;
      q_abs[absorbed->terms()[0].z_q_index + j] = m + u_1[j] + w_level[j] * b_w;
    }
    detail::glm_cpu_density d_none(none), d_abs(absorbed);
    std::vector<double> g_none(none->dim()), g_abs(absorbed->dim());
    const double lp_none = d_none.log_density_grad(q_none.data(), g_none.data());
    const double lp_abs = d_abs.log_density_grad(q_abs.data(), g_abs.data());
    EXPECT_NEAR(lp_abs, lp_none - static_cast<double>(J) * std::log(sd_1),
                1e-9 * std::fabs(lp_none))
        << to_string(fam);
    const auto names = absorbed->output_names();
    ASSERT_EQ(none->output_names(), names);
    std::vector<double> out_abs(names.size()), out_none(names.size());
    absorbed->write_constrained(q_abs.data(), out_abs.data());
    none->write_constrained(q_none.data(), out_none.data());
    for (std::size_t i = 0; i < names.size(); ++i) {
      EXPECT_NEAR(out_abs[i], out_none[i], 1e-12) << names[i];
    }
  }
}

TEST(LogDensity, CorrelatedThreeCoefficients) {
  const auto m = make("yp ~ 1 + (1 + x1 + x2 | h)", family::poisson, {"cor ~ lkj(1.5)"});
  ASSERT_EQ(m->unconstrained_names(),
            (std::vector<std::string>{"Intercept", "log(sd_h__Intercept)", "log(sd_h__x1)",
                                      "log(sd_h__x2)", "cpc_h[2,1]", "cpc_h[3,1]", "cpc_h[3,2]",
                                      "z_h[p,Intercept]", "z_h[p,x1]", "z_h[p,x2]",
                                      "z_h[q,Intercept]", "z_h[q,x1]", "z_h[q,x2]"}));
  expect_lp(m, k3_q, correlated_k3(k3_q, 1.5).lp);
}

TEST(LogDensity, CorrelationOutputIsLLtInBrmsOrder) {
  const auto m = make("yp ~ 1 + (1 + x1 + x2 | h)", family::poisson, {"cor ~ lkj(1.5)"});
  const std::vector<std::string> expected_names = {
      "b_Intercept",          "sd_h__Intercept",      "sd_h__x1",      "sd_h__x2",
      "cor_h__Intercept__x1", "cor_h__Intercept__x2", "cor_h__x1__x2", "r_h.1.1",
      "r_h.2.1",              "r_h.1.2",              "r_h.2.2",       "r_h.1.3",
      "r_h.2.3"};
  ASSERT_EQ(m->output_names(), expected_names);
  EXPECT_EQ(m->n_output_globals(), 7u);
  const auto r = correlated_k3(k3_q, 1.5);
  const auto out = constrained(m, k3_q);
  constexpr double tol = 1e-15;
  EXPECT_EQ(out[0], k3_q[0]);
  for (int a = 0; a < 3; ++a) EXPECT_NEAR(out[1 + a], r.sd[a], tol * r.sd[a]);
  // (L Lᵀ)[a][b] for (1,2), (1,3), (2,3).
  EXPECT_NEAR(out[4], r.l[1][0], tol);
  EXPECT_NEAR(out[5], r.l[2][0], tol);
  EXPECT_NEAR(out[6], r.l[1][0] * r.l[2][0] + r.l[1][1] * r.l[2][1], tol);
  // r_h.<level>.<coef>, levels fastest.
  for (int c = 0; c < 3; ++c) {
    for (int j = 0; j < 2; ++j) EXPECT_NEAR(out[7 + 2 * c + j], r.u[j][c], 1e-14) << c << j;
  }
  // Without group effects: only the globals.
  std::vector<double> globals(m->n_output_globals());
  m->write_constrained(k3_q.data(), globals.data(), false);
  EXPECT_EQ(m->output_names(false).size(), 7u);
  for (std::size_t i = 0; i < globals.size(); ++i) EXPECT_EQ(globals[i], out[i]);
}

TEST(LogDensity, TwoTermsOnOneFactorShareOneOutputGroup) {
  const auto m = make("y ~ 1 + (1 | g) + (0 + x1 | g)", family::gaussian);
  ASSERT_EQ(m->unconstrained_names(),
            (std::vector<std::string>{"Intercept", "log(sd_g__Intercept)", "log(sd_g__x1)",
                                      "log(sigma)", "z_g[a,Intercept]", "z_g[b,Intercept]",
                                      "z_g[c,Intercept]", "z_g[a,x1]", "z_g[b,x1]",
                                      "z_g[c,x1]"}));
  ASSERT_EQ(m->output_names(),
            (std::vector<std::string>{"b_Intercept", "sd_g__Intercept", "sd_g__x1", "sigma",
                                      "r_g.1.1", "r_g.2.1", "r_g.3.1", "r_g.1.2", "r_g.2.2",
                                      "r_g.3.2"}));
  const auto labels = m->output_group_labels();
  ASSERT_EQ(labels.size(), 1u);
  EXPECT_EQ(labels[0].name, "r_g");
  EXPECT_EQ(labels[0].levels, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(labels[0].coefs, (std::vector<std::string>{"Intercept", "x1"}));

  const std::vector<double> q = {1.0, -0.2, 0.3, -0.5, 0.4, -0.7, 1.3, 0.2, -1.5, 0.6};
  const double sd0 = std::exp(q[1]), sd1 = std::exp(q[2]), sigma = std::exp(q[3]);
  const double* z0 = &q[4];
  const double* z1 = &q[7];
  hand_lp lp;
  add_student_t(lp, q[0], 3, gauss_loc, gauss_scale);
  for (int s = 1; s <= 3; ++s) {  // sd_g__Intercept, sd_g__x1, sigma: the same half-t
    add_student_t(lp, std::exp(q[s]), 3, 0, gauss_scale);
    lp.add(std::log(2.0));
    add_log_jacobian(lp, q[s]);
  }
  for (int c = 0; c < 6; ++c) add_normal(lp, q[4 + c], 0, 1);
  for (std::size_t i = 0; i < 5; ++i) {
    const int j = g_code[i];
    add_normal(lp, y_gauss[i], q[0] + sd0 * z0[j] + sd1 * z1[j] * x1[i], sigma);
  }
  expect_lp(m, q, lp);

  const auto out = constrained(m, q);
  for (int j = 0; j < 3; ++j) {
    EXPECT_NEAR(out[4 + j], sd0 * z0[j], 1e-15) << "r_g." << j + 1 << ".1";
    EXPECT_NEAR(out[7 + j], sd1 * z1[j], 1e-15) << "r_g." << j + 1 << ".2";
  }
}

// ---- priors ----

TEST(LogDensity, UniformPriorOnSdUsesTheIntervalTransform) {
  const auto m = make("yw ~ 1 + (1 | g)", family::gaussian, {"sd ~ uniform(0, 5)"});
  ASSERT_EQ(m->unconstrained_names()[1], "logit(sd_g__Intercept)");
  const std::vector<double> q = {2.0, -0.4, 1.1, 0.5, -1.2, 0.8};
  const double s = 1.0 / (1.0 + std::exp(-q[1]));
  const double sd = 5.0 * s, sigma = std::exp(q[2]);
  hand_lp lp;
  add_student_t(lp, q[0], 3, wide_loc, wide_scale);
  lp.add(-std::log(5.0));                                            // uniform(0, 5) density
  lp.add(std::log(5.0) + std::log(s) + std::log(1.0 - s));           // d sd / dy
  add_student_t(lp, sigma, 3, 0, wide_scale);
  lp.add(std::log(2.0));
  add_log_jacobian(lp, q[2]);
  for (int j = 0; j < 3; ++j) add_normal(lp, q[3 + j], 0, 1);
  for (std::size_t i = 0; i < 5; ++i) {
    add_normal(lp, y_wide[i], q[0] + sd * q[3 + g_code[i]], sigma);
  }
  expect_lp(m, q, lp);
  EXPECT_NEAR(constrained(m, q)[1], sd, 1e-15);
}

TEST(LogDensity, ConstantPriorRemovesTheCoefficient) {
  const auto free_model = make("y ~ x1 + x2", family::gaussian);
  const auto m = make("y ~ x1 + x2", family::gaussian, {"b[x1] ~ constant(0.5)"});
  EXPECT_EQ(m->dim(), free_model->dim() - 1);
  ASSERT_EQ(m->unconstrained_names(),
            (std::vector<std::string>{"Intercept", "b_x2", "log(sigma)"}));
  ASSERT_EQ(m->output_names(), (std::vector<std::string>{"b_Intercept", "b_x1", "b_x2", "sigma"}));
  const std::vector<double> q = {0.4, -0.3, 0.1};
  const double b1 = 0.5, sigma = std::exp(q[2]);
  const double m1 = 0.6, m2 = 0.55;
  hand_lp lp;
  add_student_t(lp, q[0], 3, gauss_loc, gauss_scale);
  add_student_t(lp, sigma, 3, 0, gauss_scale);
  lp.add(std::log(2.0));
  add_log_jacobian(lp, q[2]);
  for (std::size_t i = 0; i < 5; ++i) {
    add_normal(lp, y_gauss[i], q[0] + b1 * (x1[i] - m1) + q[1] * (x2[i] - m2), sigma);
  }
  expect_lp(m, q, lp);
  const auto out = constrained(m, q);
  EXPECT_NEAR(out[0], q[0] - m1 * b1 - m2 * q[1], 1e-15);
  EXPECT_EQ(out[1], 0.5);
  EXPECT_EQ(out[2], q[1]);
  EXPECT_NEAR(out[3], sigma, 1e-15);
}

/// A prior on a positive parameter, by hand: the log density at x including the truncation to
/// (0, inf), i.e. minus log P(X > 0).
struct positive_prior_case {
  std::string dist;
  double (*log_density)(double x);
};

std::vector<positive_prior_case> positive_prior_cases() {
  return {
      {"exponential(2)", [](double x) { return std::log(2.0) - 2.0 * x; }},
      {"gamma(2.5, 1.5)",
       [](double x) {
         // Γ(2.5) = 1.5 · 0.5 · √π
         return 2.5 * std::log(1.5) - std::log(0.75 * std::sqrt(pi)) + 1.5 * std::log(x) -
                1.5 * x;
       }},
      {"lognormal(0.2, 0.8)",
       [](double x) {
         const double z = (std::log(x) - 0.2) / 0.8;
         return -0.5 * std::log(2.0 * pi) - std::log(0.8) - std::log(x) - 0.5 * z * z;
       }},
      {"normal(0.5, 1)",
       [](double x) {
         hand_lp lp;
         add_normal(lp, x, 0.5, 1.0);
         return lp.sum - std::log(normal_cdf(0.5));
       }},
      {"normal(-1, 2)",
       [](double x) {
         hand_lp lp;
         add_normal(lp, x, -1.0, 2.0);
         return lp.sum - std::log(normal_cdf(-0.5));
       }},
      {"cauchy(1, 2)",
       [](double x) {
         hand_lp lp;
         add_cauchy(lp, x, 1.0, 2.0);
         return lp.sum - std::log(0.5 + std::atan(0.5) / pi);
       }},
      {"cauchy(0, 1)",
       [](double x) {
         hand_lp lp;
         add_cauchy(lp, x, 0.0, 1.0);
         return lp.sum + std::log(2.0);
       }},
      {"student_t(3, 1, 2)",
       [](double x) {
         hand_lp lp;
         add_student_t(lp, x, 3, 1.0, 2.0);
         return lp.sum - std::log(student_t3_cdf(0.5));
       }},
      {"student_t(3, -1, 2)",
       [](double x) {
         hand_lp lp;
         add_student_t(lp, x, 3, -1.0, 2.0);
         return lp.sum - std::log(student_t3_cdf(-0.5));
       }},
      {"student_t(5, 0, 1.5)",
       [](double x) {
         hand_lp lp;
         add_student_t(lp, x, 5, 0.0, 1.5);
         return lp.sum + std::log(2.0);
       }},
      {"flat", [](double) { return 0.0; }},
  };
}

TEST(LogDensity, PriorsOnSdAndSigmaWithTruncation) {
  const std::vector<double> q = {2.0, 0.3, 1.1, 0.5, -1.2, 0.8};
  for (const auto& c : positive_prior_cases()) {
    const auto m = make("yw ~ 1 + (1 | g)", family::gaussian,
                        {"sd ~ " + c.dist, "sigma ~ " + c.dist});
    ASSERT_EQ(m->dim(), q.size()) << c.dist;
    const double sd = std::exp(q[1]), sigma = std::exp(q[2]);
    hand_lp lp;
    add_student_t(lp, q[0], 3, wide_loc, wide_scale);
    lp.add(c.log_density(sd));
    add_log_jacobian(lp, q[1]);
    lp.add(c.log_density(sigma));
    add_log_jacobian(lp, q[2]);
    for (int j = 0; j < 3; ++j) add_normal(lp, q[3 + j], 0, 1);
    for (std::size_t i = 0; i < 5; ++i) {
      add_normal(lp, y_wide[i], q[0] + sd * q[3 + g_code[i]], sigma);
    }
    SCOPED_TRACE(c.dist);
    expect_lp(m, q, lp);
  }
}

TEST(LogDensity, PriorsOnCoefficientsAndIntercept) {
  const auto m = make("yb ~ x1 + x2", family::bernoulli,
                      {"b ~ normal(0.5, 2)", "b[x2] ~ cauchy(-1, 0.5)",
                       "Intercept ~ student_t(4, 1, 3)"});
  const std::vector<double> q = {0.2, 0.8, -0.5};
  hand_lp lp;
  add_student_t(lp, q[0], 4, 1.0, 3.0);
  add_normal(lp, q[1], 0.5, 2.0);   // no truncation on b
  add_cauchy(lp, q[2], -1.0, 0.5);  // the later, more specific statement wins
  const double m1 = mean_of(x1), m2 = mean_of(x2);
  for (std::size_t i = 0; i < 5; ++i) {
    const double p = inv_logit(q[0] + q[1] * (x1[i] - m1) + q[2] * (x2[i] - m2));
    lp.add(y_bern[i] == 1.0 ? std::log(p) : std::log(1.0 - p));
  }
  expect_lp(m, q, lp);
}

// ---- non-finite densities ----

double backend_lp(const std::shared_ptr<const model>& m, const std::vector<double>& q) {
  auto b = detail::make_cpu_backend(m);
  auto qv = b->make_vector();
  auto grad = b->make_vector();
  b->copy_from_host(q.data(), *qv);
  return b->log_density_grad(*qv, *grad);
}

TEST(LogDensity, NonFiniteDensityIsMinusInfinityThroughTheBackend) {
  const double minus_inf = -std::numeric_limits<double>::infinity();
  struct non_finite_case {
    std::string formula;
    family fam;
    std::vector<double> q;
    const char* why;
  };
  const std::vector<non_finite_case> cases = {
      {"yp ~ x1", family::poisson, {800.0, 0.0}, "poisson: exp(eta) overflows"},
      {"yp ~ x1", family::poisson, {0.0, 1e308}, "poisson: a huge slope"},
      {"y ~ x1", family::gaussian, {0.4, 0.7, -800.0}, "gaussian: sigma underflows to 0"},
      {"y ~ x1", family::gaussian, {0.4, 0.7, 800.0}, "gaussian: sigma overflows"},
      {"yw ~ 1 + (1 | g)", family::gaussian, {2.0, 0.3, 1.1, 0.5, 1e308, 0.8},
       "z_g overflows eta"},
      {"yp ~ x1", family::poisson, {std::numeric_limits<double>::quiet_NaN(), 0.0},
       "NaN in q"},
  };
  for (const auto& c : cases) {
    const auto m = make(c.formula, c.fam);
    double lp = 0.0;
    EXPECT_NO_THROW(lp = backend_lp(m, c.q)) << c.why;
    EXPECT_EQ(lp, minus_inf) << c.why;
  }
}

}  // namespace
}  // namespace hbglm
