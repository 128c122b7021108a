// Posterior recovery against closed-form posteriors, through the real pipeline: a table in
// memory -> make_problem (formula, family, priors) -> per chain detail::make_backend(cpu) +
// mcmc::run_chain -> draws converted with model::write_constrained -> pooled estimates over 4
// chains (1000 warmup + 1000 draws each, fixed seeds).
//
// Each checked quantity x with exact mean m and sd s is judged by
//   z_mean = (mean(x) - m) / mcse_mean(x)                      |z| < 4
//   z_var  = (mean((x - m)^2) - s^2) / mcse_mean((x - m)^2)    |z| < 4
//   bulk ESS > 400 and |sd(x) / s - 1| < 0.1
// with posterior's definitions (include/hbglm/summary.hpp: mcse_mean = sd / sqrt(ess_basic)).
//
// Cases: a conjugate normal hierarchical model with known variances (eight schools with tau fixed),
// bernoulli / binomial with a flat prior on the log-odds (p ~ Beta), poisson with a flat prior on
// the log rate (exp(b) ~ Gamma), and a gaussian linear regression with flat priors and sigma fixed.

#include <gtest/gtest.h>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "backend/registry.hpp"
#include "hbglm/backend.hpp"
#include "hbglm/problem.hpp"
#include "hbglm/sampler.hpp"
#include "hbglm/summary.hpp"
#include "mcmc/run_chain.hpp"
#include "support/model_fixtures.hpp"

namespace hbglm {
namespace {

using chains = std::vector<std::vector<double>>;  // x[chain][iteration]

constexpr int n_chains = 4;
constexpr double pi = 3.14159265358979323846;

// ---- special functions ----

/** ψ(x) for x > 0: recurrence ψ(x) = ψ(x + 1) - 1/x up to x ≥ 10, then the asymptotic series
 *  ln x - 1/(2x) - Σ B_2k / (2k x^2k) (error below 1e-15 there). */
double digamma(double x) {
  double result = 0.0;
  while (x < 10.0) {
    result -= 1.0 / x;
    x += 1.0;
  }
  const double x2 = 1.0 / (x * x);
  result += std::log(x) - 0.5 / x -
            x2 * (1.0 / 12 - x2 * (1.0 / 120 - x2 * (1.0 / 252 - x2 * (1.0 / 240 - x2 / 132))));
  return result;
}

/** ψ'(x) for x > 0: recurrence ψ'(x) = ψ'(x + 1) + 1/x² up to x ≥ 10, then
 *  1/x + 1/(2x²) + Σ B_2k / x^(2k+1). */
double trigamma(double x) {
  double result = 0.0;
  while (x < 10.0) {
    result += 1.0 / (x * x);
    x += 1.0;
  }
  const double x2 = 1.0 / (x * x);
  result += 1.0 / x + 0.5 * x2 +
            x2 / x * (1.0 / 6 - x2 * (1.0 / 30 - x2 * (1.0 / 42 - x2 * (1.0 / 30 - x2 * 5.0 / 66))));
  return result;
}

// ---- sampling through the real pipeline ----

struct draw_collector final : chain_callbacks {
  explicit draw_collector(const model& m) : m_(m), row_(m.output_names().size()) {
    columns.assign(row_.size(), {});
  }
  void on_draw(const nuts_draw& d) override {
    if (d.warmup) return;
    m_.write_constrained(d.q.data(), row_.data());
    for (std::size_t j = 0; j < row_.size(); ++j) columns[j].push_back(row_[j]);
    n_divergent += d.divergent;
  }
  std::vector<std::vector<double>> columns;  // columns[j][iteration]
  std::size_t n_divergent = 0;

 private:
  const model& m_;
  std::vector<double> row_;
};

/** Pooled draws of every output column of a fit. */
struct fit_draws {
  std::vector<std::string> names;
  std::vector<chains> draws;  // draws[column][chain][iteration]
  std::size_t n_divergent = 0;
  double seconds = 0;

  const chains& operator[](const std::string& name) const {
    const auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) throw std::runtime_error("no output column " + name);
    return draws[static_cast<std::size_t>(it - names.begin())];
  }
};

/** 4 chains of 1000 warmup + 1000 draws, two at a time (the chains are independent: each has
 *  its own backend and collector; the model is shared read-only). */
fit_draws sample(const problem& p, metric_kind metric, std::uint64_t seed) {
  const model& m = *p.model_ptr;
  nuts_options options;
  options.metric = metric;
  options.seed = seed;
  std::vector<std::unique_ptr<draw_collector>> collectors;
  for (int c = 0; c < n_chains; ++c) collectors.push_back(std::make_unique<draw_collector>(m));
  std::vector<std::exception_ptr> failures(n_chains);
  const auto start = std::chrono::steady_clock::now();
  auto run_one = [&](int c) {
    try {
      auto backend = detail::make_backend(backend_kind::cpu, p.model_ptr);
      mcmc::chain_setup setup;
      setup.n_dense_globals = m.n_globals();
      mcmc::run_chain(*backend, options, static_cast<std::uint32_t>(c + 1), *collectors[c], setup);
    } catch (...) {
      failures[c] = std::current_exception();
    }
  };
  for (int c = 0; c < n_chains; c += 2) {
    std::thread other(run_one, c + 1);
    run_one(c);
    other.join();
  }
  for (const auto& f : failures) {
    if (f) std::rethrow_exception(f);
  }
  fit_draws out;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.names = m.output_names();
  out.draws.assign(out.names.size(), chains(n_chains));
  for (int c = 0; c < n_chains; ++c) {
    for (std::size_t j = 0; j < out.names.size(); ++j) {
      out.draws[j][c] = std::move(collectors[c]->columns[j]);
    }
    out.n_divergent += collectors[c]->n_divergent;
  }
  return out;
}

/** f applied draw by draw. */
chains transform(const chains& x, const std::function<double(double)>& f) {
  chains y = x;
  for (auto& chain : y) {
    for (double& v : chain) v = f(v);
  }
  return y;
}

/** a + b draw by draw. */
chains add(const chains& a, const chains& b) {
  chains y = a;
  for (std::size_t c = 0; c < y.size(); ++c) {
    for (std::size_t i = 0; i < y[c].size(); ++i) y[c][i] += b[c][i];
  }
  return y;
}

/** The checks of the file header for one quantity. */
void expect_moments(const chains& x, double true_mean, double true_sd, const std::string& label) {
  ASSERT_EQ(x.size(), static_cast<std::size_t>(n_chains)) << label;
  ASSERT_EQ(x[0].size(), 1000u) << label;
  const double mean = posterior::mean(x);
  const double sd = posterior::sd(x);
  const double mcse = posterior::mcse_mean(x);
  const double z_mean = (mean - true_mean) / mcse;
  const chains sq = transform(x, [&](double v) { return (v - true_mean) * (v - true_mean); });
  const double z_var = (posterior::mean(sq) - true_sd * true_sd) / posterior::mcse_mean(sq);
  const double ess = posterior::ess_bulk(x);
  const double rhat = posterior::rhat(x);
  std::printf("  %-22s mean %9.4f (exact %9.4f, mcse %.4f, z %+5.2f)  sd %8.4f (exact %8.4f, "
              "ratio %.3f, z_var %+5.2f)  ess_bulk %5.0f  rhat %.4f\n",
              label.c_str(), mean, true_mean, mcse, z_mean, sd, true_sd, sd / true_sd, z_var, ess,
              rhat);
  EXPECT_LT(std::abs(z_mean), 4.0) << label << ": mean " << mean << " vs exact " << true_mean
                                   << " (mcse " << mcse << ")";
  EXPECT_LT(std::abs(z_var), 4.0) << label << ": E[(x - m)^2] z-score; sd " << sd
                                  << " vs exact " << true_sd;
  EXPECT_GT(ess, 400.0) << label;
  if (ess > 400) {
    EXPECT_NEAR(sd / true_sd, 1.0, 0.1) << label << ": sd " << sd << " vs exact " << true_sd;
  }
  EXPECT_LT(rhat, 1.02) << label;
}

void print_header(const std::string& what, const fit_draws& f) {
  std::printf("[ %s ] %.2f s, %zu divergent\n", what.c_str(), f.seconds, f.n_divergent);
}

TEST(ClosedFormPosterior, DigammaAndTrigammaMatchKnownValues) {
  constexpr double euler_gamma = 0.57721566490153286061;
  EXPECT_NEAR(digamma(1.0), -euler_gamma, 1e-13);
  EXPECT_NEAR(digamma(0.5), -euler_gamma - 2.0 * std::log(2.0), 1e-13);
  EXPECT_NEAR(digamma(17.0), digamma(1.0) + [] {
    double h = 0;
    for (int k = 1; k < 17; ++k) h += 1.0 / k;
    return h;
  }(), 1e-13);
  EXPECT_NEAR(trigamma(1.0), pi * pi / 6.0, 1e-13);
  EXPECT_NEAR(trigamma(0.5), pi * pi / 2.0, 1e-12);
  EXPECT_NEAR(trigamma(30.0), pi * pi / 6.0 - [] {
    double s = 0;
    for (int k = 1; k < 30; ++k) s += 1.0 / (static_cast<double>(k) * k);
    return s;
  }(), 1e-13);
}

// ---- 1. conjugate normal hierarchical model, known variances (eight schools, tau fixed) ----

void check_eight_schools(metric_kind metric, std::uint64_t seed) {
  const std::vector<double> y = {28, 8, -3, 7, -1, 1, 18, 12};
  const std::vector<double> sigma = {15, 10, 16, 11, 9, 11, 10, 18};
  const std::vector<std::string> school = {"A", "B", "C", "D", "E", "F", "G", "H"};
  const int J = static_cast<int>(y.size());
  const double mu0 = 5, s0 = 10, tau = 8;
  const table t = test::make_table(
      "eight_schools", {test::numeric_column("y", y), test::numeric_column("sigma", sigma),
                        test::text_column("school", school)});
  problem_spec spec;
  spec.formula = "y | se(sigma) ~ 1 + (1 | school)";
  spec.family = "gaussian";
  spec.priors = {"Intercept ~ normal(5, 10)", "sd ~ constant(8)"};
  const problem p = make_problem(t, spec);
  ASSERT_EQ(p.model_ptr->n_globals(), 1u);  // only the intercept is sampled
  ASSERT_EQ(p.model_ptr->dim(), 9u);
  const auto labels = p.model_ptr->output_group_labels();
  ASSERT_EQ(labels.size(), 1u);
  ASSERT_EQ(labels[0].levels, school);  // r_school.j.1 is school[j - 1]

  // Joint precision of x = (mu, theta_1..J): prior mu ~ N(mu0, s0²), theta_j | mu ~ N(mu, tau²),
  // y_j | theta_j ~ N(theta_j, sigma_j²).
  Eigen::MatrixXd precision = Eigen::MatrixXd::Zero(J + 1, J + 1);
  Eigen::VectorXd b = Eigen::VectorXd::Zero(J + 1);
  precision(0, 0) = 1 / (s0 * s0) + J / (tau * tau);
  b(0) = mu0 / (s0 * s0);
  for (int j = 0; j < J; ++j) {
    precision(0, j + 1) = precision(j + 1, 0) = -1 / (tau * tau);
    precision(j + 1, j + 1) = 1 / (tau * tau) + 1 / (sigma[j] * sigma[j]);
    b(j + 1) = y[j] / (sigma[j] * sigma[j]);
  }
  const Eigen::LLT<Eigen::MatrixXd> llt(precision);
  const Eigen::VectorXd mean = llt.solve(b);
  const Eigen::MatrixXd cov = llt.solve(Eigen::MatrixXd::Identity(J + 1, J + 1));

  const fit_draws f = sample(p, metric, seed);
  print_header("eight schools, tau = 8, " + to_string(metric), f);
  EXPECT_EQ(f.n_divergent, 0u);
  const chains& mu = f["b_Intercept"];
  expect_moments(mu, mean(0), std::sqrt(cov(0, 0)), "mu = b_Intercept");
  // The fixed sd is reported as its constant.
  EXPECT_EQ(posterior::sd(f["sd_school__Intercept"]), 0.0);
  EXPECT_EQ(f["sd_school__Intercept"][0][0], tau);
  for (int j = 0; j < J; ++j) {
    const chains theta = add(mu, f["r_school." + std::to_string(j + 1) + ".1"]);
    expect_moments(theta, mean(j + 1), std::sqrt(cov(j + 1, j + 1)), "theta[" + school[j] + "]");
  }
}

TEST(ClosedFormPosterior, EightSchoolsWithFixedTauDiagMetric) {
  check_eight_schools(metric_kind::diag, 8101);
}

TEST(ClosedFormPosterior, EightSchoolsWithFixedTauDenseDiagMetric) {
  check_eight_schools(metric_kind::dense_diag, 8202);
}

// ---- 2, 3. single intercept with a flat prior: Beta and Gamma posteriors ----

double inv_logit(double v) { return 1.0 / (1.0 + std::exp(-v)); }

/** b = logit(p) with p ~ Beta(a, c): the checks on p and on b. */
void expect_beta_logit(const fit_draws& f, double a, double c) {
  const chains& logit_p = f["b_Intercept"];
  const double p_mean = a / (a + c);
  const double p_sd = std::sqrt(a * c / ((a + c) * (a + c) * (a + c + 1)));
  expect_moments(transform(logit_p, inv_logit), p_mean, p_sd, "p = inv_logit(b)");
  expect_moments(logit_p, digamma(a) - digamma(c), std::sqrt(trigamma(a) + trigamma(c)),
                 "b_Intercept");
}

TEST(ClosedFormPosterior, BernoulliInterceptWithFlatPriorIsBeta) {
  const int n = 50, s = 17;
  std::vector<double> y(n, 0.0);
  for (int i = 0; i < n; ++i) y[i] = (i * 7) % n < s ? 1.0 : 0.0;  // s ones, spread out
  ASSERT_EQ(std::count(y.begin(), y.end(), 1.0), s);
  const table t = test::make_table("bernoulli", {test::numeric_column("y", y)});
  problem_spec spec;
  spec.formula = "y ~ 1";
  spec.family = "bernoulli";
  spec.priors = {"Intercept ~ flat"};
  const problem p = make_problem(t, spec);
  const fit_draws f = sample(p, metric_kind::diag, 2024);
  print_header("bernoulli, s = 17 of n = 50, flat", f);
  EXPECT_EQ(f.n_divergent, 0u);
  expect_beta_logit(f, s, n - s);
}

TEST(ClosedFormPosterior, BinomialInterceptWithFlatPriorIsBeta) {
  const std::vector<double> trials = {10, 12, 8, 15, 5};
  const std::vector<double> successes = {4, 7, 2, 9, 1};
  double total_s = 0, total_n = 0;
  for (std::size_t i = 0; i < trials.size(); ++i) {
    total_s += successes[i];
    total_n += trials[i];
  }
  const table t = test::make_table(
      "binomial", {test::numeric_column("y", successes), test::numeric_column("n", trials)});
  problem_spec spec;
  spec.formula = "y | trials(n) ~ 1";
  spec.family = "binomial";
  spec.priors = {"Intercept ~ flat"};
  const problem p = make_problem(t, spec);
  const fit_draws f = sample(p, metric_kind::diag, 3031);
  print_header("binomial, 23 of 50 in 5 rows, flat", f);
  EXPECT_EQ(f.n_divergent, 0u);
  expect_beta_logit(f, total_s, total_n - total_s);
}

TEST(ClosedFormPosterior, PoissonInterceptWithFlatPriorIsGamma) {
  const std::vector<double> y = {3, 0, 5, 2, 4, 1, 6, 2, 3, 4};
  double total = 0;
  for (double v : y) total += v;
  const auto n = static_cast<double>(y.size());
  const table t = test::make_table("poisson", {test::numeric_column("y", y)});
  problem_spec spec;
  spec.formula = "y ~ 1";
  spec.family = "poisson";
  spec.priors = {"Intercept ~ flat"};
  const problem p = make_problem(t, spec);
  const fit_draws f = sample(p, metric_kind::diag, 4041);
  print_header("poisson, sum y = 30 over 10 rows, flat", f);
  EXPECT_EQ(f.n_divergent, 0u);
  const chains& b = f["b_Intercept"];
  // exp(b) ~ Gamma(shape Σy, rate n).
  expect_moments(transform(b, [](double v) { return std::exp(v); }), total / n,
                 std::sqrt(total) / n, "rate = exp(b)");
  expect_moments(b, digamma(total) - std::log(n), std::sqrt(trigamma(total)), "b_Intercept");
}

// ---- 4, 5. gaussian linear regression, flat priors on b, sigma fixed ----

/** Fits y ~ <x1> + <x2> with flat priors and sigma fixed, and checks b_Intercept and the two
 *  slopes against the exact posterior N((XᵀX)⁻¹Xᵀy, σ²(XᵀX)⁻¹). The reference is solved on the
 *  columns divided by @p units (β = D⁻¹γ, γ the regression on X D⁻¹), so that it stays well
 *  conditioned when the predictors are on scales like 1e-6 and 1e6. */
void check_regression(const std::string& what, const std::vector<std::string>& names,
                      const std::vector<double>& x1, const std::vector<double>& x2,
                      const std::vector<double>& y, double sigma, const Eigen::Vector2d& units,
                      metric_kind metric, std::uint64_t seed) {
  const int n = static_cast<int>(y.size());
  const table t =
      test::make_table(what, {test::numeric_column("y", y), test::numeric_column(names[0], x1),
                              test::numeric_column(names[1], x2)});
  problem_spec spec;
  spec.formula = "y ~ " + names[0] + " + " + names[1];
  spec.family = "gaussian";
  std::ostringstream fixed_sigma;
  fixed_sigma << "sigma ~ constant(" << sigma << ")";
  spec.priors = {"Intercept ~ flat", "b ~ flat", fixed_sigma.str()};
  const problem p = make_problem(t, spec);
  ASSERT_EQ(p.model_ptr->n_globals(), 3u);

  Eigen::MatrixXd X(n, 3);
  Eigen::VectorXd yv(n);
  for (int i = 0; i < n; ++i) {
    X(i, 0) = 1.0;
    X(i, 1) = x1[static_cast<std::size_t>(i)] / units(0);
    X(i, 2) = x2[static_cast<std::size_t>(i)] / units(1);
    yv(i) = y[static_cast<std::size_t>(i)];
  }
  const Eigen::Vector3d unscale(1.0, 1.0 / units(0), 1.0 / units(1));
  const Eigen::LLT<Eigen::MatrixXd> llt(X.transpose() * X);
  const Eigen::VectorXd mean = unscale.asDiagonal() * llt.solve(X.transpose() * yv);
  const Eigen::MatrixXd cov = sigma * sigma * unscale.asDiagonal() *
                              llt.solve(Eigen::MatrixXd::Identity(3, 3)) * unscale.asDiagonal();

  const fit_draws f = sample(p, metric, seed);
  print_header(what + ", " + to_string(metric), f);
  EXPECT_EQ(f.n_divergent, 0u);
  EXPECT_EQ(f["sigma"][0][0], sigma);
  const std::vector<std::string> columns = {"b_Intercept", "b_" + names[0], "b_" + names[1]};
  for (int k = 0; k < 3; ++k) {
    expect_moments(f[columns[static_cast<std::size_t>(k)]], mean(k), std::sqrt(cov(k, k)),
                   columns[static_cast<std::size_t>(k)]);
  }
}

void check_linear_regression(metric_kind metric, std::uint64_t seed) {
  const int n = 30;
  const double sigma = 2;
  std::mt19937_64 rng(77);
  std::normal_distribution<double> normal;
  std::vector<double> x1(n), x2(n), y(n);
  for (int i = 0; i < n; ++i) {
    // Predictors far from 0 and correlated with each other: the original-scale intercept is
    // strongly correlated with the slopes.
    x1[i] = 3.0 + normal(rng);
    x2[i] = -2.0 + 0.8 * (x1[i] - 3.0) + 0.6 * normal(rng);
    y[i] = 1.5 + 0.7 * x1[i] - 1.2 * x2[i] + sigma * normal(rng);
  }
  check_regression("linear regression, sigma = 2", {"x1", "x2"}, x1, x2, y, sigma,
                   Eigen::Vector2d(1.0, 1.0), metric, seed);
}

TEST(ClosedFormPosterior, LinearRegressionWithFixedSigmaDiagMetric) {
  check_linear_regression(metric_kind::diag, 5051);
}

TEST(ClosedFormPosterior, LinearRegressionWithFixedSigmaDenseMetric) {
  check_linear_regression(metric_kind::dense, 6061);
}

// The same regression with one predictor in millionths and one in millions (issue 5, numerical
// edge cases): the coefficients' posterior sds differ by about 1e12. Warmup starts from a unit
// metric, so without scaling each coefficient by its column's sd (scalar_parameter::column_scale)
// the chains never mix (R-hat 4.3 with the scaling switched off).
TEST(ClosedFormPosterior, PredictorsOnScalesOneMillionthAndOneMillion) {
  const int n = 40;
  const double sigma = 0.5;
  std::mt19937_64 rng(91);
  std::normal_distribution<double> normal;
  std::vector<double> tiny(n), huge(n), y(n);
  for (int i = 0; i < n; ++i) {
    tiny[i] = 1e-6 * (2.0 + normal(rng));
    huge[i] = 1e6 * (-1.0 + 0.5 * normal(rng));
    y[i] = 0.5 + 3e5 * tiny[i] + 4e-7 * huge[i] + sigma * normal(rng);
  }
  check_regression("regression with predictors on scales 1e-6 and 1e6", {"tiny", "huge"}, tiny,
                   huge, y, sigma, Eigen::Vector2d(1e-6, 1e6), metric_kind::diag, 9192);
}

// ---- 6. groups with one observation (issue 5, numerical edge cases) ----

// y | se(s) ~ 1 + (1 | g) where most levels of g have a single observation and a few have three.
// With se known the group effects integrate out in closed form: a group's y is normal with mean
// mu and covariance diag(se²) + tau² 11ᵀ, so the posterior of (mu, tau) is two-dimensional and
// its moments come from quadrature on a grid; those of a group effect u_j follow from its normal
// conditional given (mu, tau). A singleton level's u_j and tau are identified only through the
// other levels and the known se, the case where a sampler that mishandles one-observation groups
// (or a Z with one entry in a column) goes wrong.
TEST(ClosedFormPosterior, GroupsWithOneObservation) {
  const double mu0 = 0, mu_scale = 5, tau_scale = 2;  // Intercept ~ normal(0, 5), sd ~ normal(0, 2)
  std::mt19937_64 rng(1201);
  std::normal_distribution<double> normal;
  std::vector<double> y, se;
  std::vector<std::string> g;
  std::vector<std::vector<int>> rows_of_level;
  const double true_mu = 1.0, true_tau = 1.5;
  for (int j = 0; j < 40; ++j) {
    const int size = j % 8 == 0 ? 3 : 1;  // 35 singletons, 5 levels with three rows
    const double u = true_tau * normal(rng);
    rows_of_level.emplace_back();
    for (int r = 0; r < size; ++r) {
      const double s_i = 0.5 + 0.25 * (static_cast<int>(y.size()) % 5);
      rows_of_level.back().push_back(static_cast<int>(y.size()));
      y.push_back(true_mu + u + s_i * normal(rng));
      se.push_back(s_i);
      char label[8];
      std::snprintf(label, sizeof label, "L%02d", j);
      g.emplace_back(label);
    }
  }
  const table t = test::make_table(
      "singletons",
      {test::numeric_column("y", y), test::numeric_column("s", se), test::text_column("g", g)});
  problem_spec spec;
  spec.formula = "y | se(s) ~ 1 + (1 | g)";
  spec.family = "gaussian";
  spec.priors = {"Intercept ~ normal(0, 5)", "sd ~ normal(0, 2)"};
  const problem p = make_problem(t, spec);
  ASSERT_EQ(p.model_ptr->n_globals(), 2u);

  // log p(mu, tau | y) up to a constant: priors (tau half-normal) + Σ_levels log N(y_j | mu 1,
  // D + tau² 11ᵀ), with Sherman–Morrison for the inverse and the determinant lemma for log det.
  auto log_post = [&](double mu, double tau) {
    double lp = -0.5 * std::pow((mu - mu0) / mu_scale, 2) - 0.5 * std::pow(tau / tau_scale, 2);
    const double t2 = tau * tau;
    for (const auto& rows : rows_of_level) {
      double a = 0, b = 0, quad = 0, log_det = 0;  // a = Σ 1/se², b = Σ r/se²
      for (int i : rows) {
        const double w = 1.0 / (se[i] * se[i]), r = y[i] - mu;
        a += w;
        b += r * w;
        quad += r * r * w;
        log_det += std::log(se[i] * se[i]);
      }
      log_det += std::log1p(t2 * a);
      quad -= t2 * b * b / (1.0 + t2 * a);
      lp += -0.5 * (quad + log_det);
    }
    return lp;
  };
  // u_j | mu, tau, y: precision 1/tau² + a, mean b / (1/tau² + a).
  auto u_conditional = [&](const std::vector<int>& rows, double mu, double tau) {
    double a = 0, b = 0;
    for (int i : rows) {
      a += 1.0 / (se[i] * se[i]);
      b += (y[i] - mu) / (se[i] * se[i]);
    }
    const double precision = 1.0 / (tau * tau) + a;
    return std::pair<double, double>{b / precision, 1.0 / precision};
  };
  // Grid: mu over ±8 of a generous scale around the weighted mean, tau on (0, 8]; midpoint rule
  // with 600 × 600 cells (the density is smooth and both tails vanish inside the grid).
  const int cells = 600;
  const double mu_lo = -4, mu_hi = 6, tau_hi = 8;
  const std::vector<int>& singleton = rows_of_level[1];
  const std::vector<int>& triple = rows_of_level[0];
  double max_lp = -INFINITY;
  std::vector<double> lps(static_cast<std::size_t>(cells) * cells);
  for (int a = 0; a < cells; ++a) {
    for (int b = 0; b < cells; ++b) {
      const double mu = mu_lo + (mu_hi - mu_lo) * (a + 0.5) / cells;
      const double tau = tau_hi * (b + 0.5) / cells;
      lps[static_cast<std::size_t>(a) * cells + b] = log_post(mu, tau);
      max_lp = std::max(max_lp, lps[static_cast<std::size_t>(a) * cells + b]);
    }
  }
  // Moments E[x], E[x²] of mu, tau, u_singleton and u_triple.
  double w_sum = 0, m[4] = {0, 0, 0, 0}, m2[4] = {0, 0, 0, 0};
  for (int a = 0; a < cells; ++a) {
    for (int b = 0; b < cells; ++b) {
      const double mu = mu_lo + (mu_hi - mu_lo) * (a + 0.5) / cells;
      const double tau = tau_hi * (b + 0.5) / cells;
      const double w = std::exp(lps[static_cast<std::size_t>(a) * cells + b] - max_lp);
      const auto [us_mean, us_var] = u_conditional(singleton, mu, tau);
      const auto [ut_mean, ut_var] = u_conditional(triple, mu, tau);
      const double means[4] = {mu, tau, us_mean, ut_mean};
      const double vars[4] = {0, 0, us_var, ut_var};
      w_sum += w;
      for (int k = 0; k < 4; ++k) {
        m[k] += w * means[k];
        m2[k] += w * (vars[k] + means[k] * means[k]);
      }
    }
  }
  double exact_mean[4], exact_sd[4];
  for (int k = 0; k < 4; ++k) {
    exact_mean[k] = m[k] / w_sum;
    exact_sd[k] = std::sqrt(m2[k] / w_sum - exact_mean[k] * exact_mean[k]);
  }

  const fit_draws f = sample(p, metric_kind::diag, 1212);
  print_header("35 one-observation groups and 5 of three, se known", f);
  EXPECT_LE(f.n_divergent, 2u);
  expect_moments(f["b_Intercept"], exact_mean[0], exact_sd[0], "mu = b_Intercept");
  expect_moments(f["sd_g__Intercept"], exact_mean[1], exact_sd[1], "tau = sd_g__Intercept");
  // Levels sort as L00, L01, ...: r_g.2.1 is L01 (one row), r_g.1.1 is L00 (three rows).
  expect_moments(f["r_g.2.1"], exact_mean[2], exact_sd[2], "u[L01] (one row)");
  expect_moments(f["r_g.1.1"], exact_mean[3], exact_sd[3], "u[L00] (three rows)");
}

}  // namespace
}  // namespace hbglm
