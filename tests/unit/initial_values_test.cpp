// model::initial_values_from_data: where the chains start (`--init-from data`). The population
// part is a least-squares (IRLS) fit, checked against an independent QR solve and the score
// equations; the group-level sweep against the sds and effects the data were simulated with; and
// the guess is one point whatever the parameterization (centered, non-centered, absorbed slopes).

#include <gtest/gtest.h>

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "backend/registry.hpp"
#include "hbglm/model.hpp"
#include "support/model_fixtures.hpp"

namespace hbglm {
namespace {

/** The constrained output (output_names() order) at the guess's center. */
std::vector<double> constrained_guess(const model& m) {
  const model::initial_value_guess guess = m.initial_values_from_data();
  EXPECT_EQ(guess.center.size(), m.dim());
  EXPECT_EQ(guess.scale.size(), m.dim());
  std::vector<double> out(m.output_names().size());
  m.write_constrained(guess.center.data(), out.data());
  return out;
}

double value_of(const model& m, const std::vector<double>& out, const std::string& name) {
  const std::vector<std::string> names = m.output_names();
  const auto it = std::find(names.begin(), names.end(), name);
  EXPECT_NE(it, names.end()) << name;
  return it == names.end() ? NAN : out[static_cast<std::size_t>(it - names.begin())];
}

TEST(InitialValues, GaussianWithoutGroupTermsIsOrdinaryLeastSquares) {
  const table t = test::random_table(500, 5, 4, 3);
  const auto m = test::make_model(t, "y_gaussian ~ x1 + x2", family::gaussian);
  const std::vector<double> out = constrained_guess(*m);
  // The same fit by Householder QR of [1 x1 x2].
  const auto& y = t.find("y_gaussian")->numbers;
  const auto& x1 = t.find("x1")->numbers;
  const auto& x2 = t.find("x2")->numbers;
  const auto n = static_cast<Eigen::Index>(y.size());
  Eigen::MatrixXd x(n, 3);
  Eigen::VectorXd response(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const auto r = static_cast<std::size_t>(i);
    x.row(i) << 1.0, x1[r], x2[r];
    response(i) = y[r];
  }
  const Eigen::VectorXd b = x.householderQr().solve(response);
  const double rss = (response - x * b).squaredNorm();
  EXPECT_NEAR(value_of(*m, out, "b_Intercept"), b(0), 1e-9);
  EXPECT_NEAR(value_of(*m, out, "b_x1"), b(1), 1e-9);
  EXPECT_NEAR(value_of(*m, out, "b_x2"), b(2), 1e-9);
  EXPECT_NEAR(value_of(*m, out, "sigma"), std::sqrt(rss / static_cast<double>(n - 3)), 1e-9);
  // Scales: the coefficients' standard errors on q's scale (times the column's sd).
  const model::initial_value_guess guess = m->initial_values_from_data();
  const Eigen::MatrixXd covariance =
      rss / static_cast<double>(n - 3) * (x.transpose() * x).inverse();
  const scalar_parameter& b_x1 = m->scalars()[1];
  ASSERT_EQ(b_x1.name, "b_x1");
  EXPECT_NEAR(guess.scale[b_x1.q_index], std::sqrt(covariance(1, 1)) * b_x1.column_scale, 1e-9);
}

TEST(InitialValues, GeneralizedLinearModelsSolveTheirScoreEquations) {
  // Without group terms IRLS converges to the maximum-likelihood fit, where Xᵀ(y - μ) = 0;
  // poisson with an offset, binomial with trials.
  const table t = test::random_table(800, 5, 4, 4);
  const auto& x1 = t.find("x1")->numbers;
  const auto& x2 = t.find("x2")->numbers;
  const auto& expo = t.find("expo")->numbers;
  for (const family fam : {family::bernoulli, family::binomial, family::poisson}) {
    const std::string offset = fam == family::poisson ? " + offset(expo)" : "";
    const auto m = test::make_model(t, test::response_for(fam) + " ~ x1 + x2" + offset, fam);
    const std::vector<double> out = constrained_guess(*m);
    const double b0 = value_of(*m, out, "b_Intercept"), b1 = value_of(*m, out, "b_x1"),
                 b2 = value_of(*m, out, "b_x2");
    double score[3] = {0.0, 0.0, 0.0}, scale = 0.0;
    for (std::size_t i = 0; i < x1.size(); ++i) {
      const double eta = b0 + b1 * x1[i] + b2 * x2[i] + (fam == family::poisson ? expo[i] : 0.0);
      double residual = 0.0;
      if (fam == family::poisson) {
        residual = t.find("y_poisson")->numbers[i] - std::exp(eta);
      } else {
        const double trials = fam == family::binomial ? t.find("n_trials")->numbers[i] : 1.0;
        const std::string y_name = fam == family::binomial ? "y_binomial" : "y_bernoulli";
        residual = t.find(y_name)->numbers[i] - trials / (1.0 + std::exp(-eta));
      }
      score[0] += residual;
      score[1] += residual * x1[i];
      score[2] += residual * x2[i];
      scale += std::fabs(residual);
    }
    for (const double s : score) EXPECT_LT(std::fabs(s), 1e-6 * scale) << to_string(fam);
  }
}

TEST(InitialValues, ASeparatingPredictorKeepsStansStartForTheCoefficients) {
  // x > 0 exactly when y = 1: the maximum-likelihood b_x is infinite and IRLS does not converge,
  // so the coefficients start as Stan's do (0 ± 2 on q's scale, the Intercept at its center).
  table t = test::random_table(200, 5, 4, 6);
  const auto& x1 = t.find("x1")->numbers;
  std::vector<double> y(x1.size());
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = x1[i] > 0.0 ? 1.0 : 0.0;
  t.columns.push_back(test::numeric_column("y_separated", y));
  const auto m = test::make_model(t, "y_separated ~ x1 + (1 | g1)", family::bernoulli);
  const model::initial_value_guess guess = m->initial_values_from_data();
  const scalar_parameter& b_x1 = m->scalars()[1];
  ASSERT_EQ(b_x1.name, "b_x1");
  EXPECT_EQ(guess.center[b_x1.q_index], 0.0);
  EXPECT_EQ(guess.scale[b_x1.q_index], 1.0);
  EXPECT_EQ(guess.center[m->scalars()[0].q_index], m->init_centers()[m->scalars()[0].q_index]);
  for (std::size_t i = 0; i < guess.center.size(); ++i) {
    EXPECT_TRUE(std::isfinite(guess.center[i])) << m->unconstrained_names()[i];
  }
}

TEST(InitialValues, ATermOfManyCoefficientsKeepsStansStart) {
  // (1 + f | g) with f a factor of 17 levels has 17 coefficients per level: its per-level Gram
  // matrices are not formed, and its sds and z start as Stan's (log sd 0 ± 1, z 0 ± 2); the
  // other term is still fitted.
  table t = test::random_table(1200, 6, 4, 8);
  std::vector<std::string> f(t.n_rows());
  for (std::size_t i = 0; i < f.size(); ++i) f[i] = "f" + std::to_string(10 + i % 17);
  t.columns.push_back(test::text_column("many", f));
  const auto m = test::make_model(t, "y_gaussian ~ x1 + (1 + many | g1) + (1 | g2)",
                                  family::gaussian, {}, "none");
  ASSERT_EQ(m->terms()[0].k, 17u);
  const model::initial_value_guess guess = m->initial_values_from_data();
  const term_parameters& many = m->terms()[0];
  for (std::size_t c = 0; c < many.k; ++c) {
    const std::size_t q = m->scalars()[many.first_sd + c].q_index;
    EXPECT_EQ(guess.center[q], 0.0);
    EXPECT_EQ(guess.scale[q], 0.5);
  }
  for (std::size_t i = 0; i < 6 * many.k; ++i) {
    EXPECT_EQ(guess.center[many.z_q_index + i], 0.0);
    EXPECT_EQ(guess.scale[many.z_q_index + i], 1.0);
  }
  const term_parameters& g2 = m->terms()[1];
  EXPECT_NE(guess.center[m->scalars()[g2.first_sd].q_index], 0.0);
}

/** 40 levels of g with 120 rows each (enough for `--centered auto`): intercepts sd 0.8 and slopes
 *  on x sd 0.4 (independent), a factor h of 2,400 levels with 2 rows each (sd 0.5), noise sd 1. */
struct simulated_levels {
  table data;
  std::vector<double> intercepts, slopes;  // the levels' true effects
};

simulated_levels simulate_levels() {
  std::mt19937_64 rng(21);
  std::normal_distribution<double> normal;
  const std::size_t levels = 40, rows_per_level = 120, n = levels * rows_per_level;
  simulated_levels s;
  for (std::size_t j = 0; j < levels; ++j) {
    s.intercepts.push_back(0.8 * normal(rng));
    s.slopes.push_back(0.4 * normal(rng));
  }
  std::vector<double> h_effect(n / 2);
  for (double& e : h_effect) e = 0.5 * normal(rng);
  std::vector<double> y(n), x(n), g(n), h(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t j = i % levels;
    x[i] = normal(rng);
    g[i] = static_cast<double>(j);
    h[i] = static_cast<double>(i / 2);
    y[i] = 1.0 + s.intercepts[j] + (0.7 + s.slopes[j]) * x[i] + h_effect[i / 2] + normal(rng);
  }
  s.data = test::make_table("levels", {test::numeric_column("y", y), test::numeric_column("x", x),
                                       test::numeric_column("g", g), test::numeric_column("h", h)});
  return s;
}

double sample_sd_about_zero(const std::vector<double>& v) {
  double ss = 0.0;
  for (const double x : v) ss += x * x;
  return std::sqrt(ss / static_cast<double>(v.size()));
}

TEST(InitialValues, GroupLevelSdsAndEffectsComeFromTheLevels) {
  const simulated_levels s = simulate_levels();
  const auto m = test::make_model(s.data, "y ~ x + (1 + x || g) + (1 | h)", family::gaussian);
  const std::vector<double> out = constrained_guess(*m);
  // The method of moments over 40 levels of 120 rows, against the simulated effects' own spread:
  // a level's noise (sd about 1.1 per row with h's effects) leaves its intercept and slope
  // uncertain by v ≈ 1.25/120 ≈ 0.01, which moves the estimated sd² by about √(4 sd² v / 40):
  // 2% of sd_g__Intercept (0.8), 4% of sd_g__x (0.4); the means the fit gives b take 1-3% more.
  // So within 10% (0.6% and 2.8% here).
  EXPECT_NEAR(value_of(*m, out, "sd_g__Intercept"), sample_sd_about_zero(s.intercepts),
              0.1 * sample_sd_about_zero(s.intercepts));
  EXPECT_NEAR(value_of(*m, out, "sd_g__x"), sample_sd_about_zero(s.slopes),
              0.1 * sample_sd_about_zero(s.slopes));
  // b_x is the slopes' mean: 0.7 give or take 0.4/√40 ≈ 0.063; 0.15 is 2.4 of that (0.732 here).
  EXPECT_NEAR(value_of(*m, out, "b_x"), 0.7, 0.15);
  // h: 2,400 levels of 2 rows, sd 0.5; each level's estimate is uncertain by about 0.8, so the
  // moments over 2,400 of them fix sd² to ±0.02 (sd ±0.02): within 0.1 (0.484 here).
  EXPECT_NEAR(value_of(*m, out, "sd_h__Intercept"), 0.5, 0.1);
  // sigma is a start only: the shrunken effects of h's 2-row levels take part of the noise
  // (0.92 here against the simulated 1).
  EXPECT_NEAR(value_of(*m, out, "sigma"), 1.0, 0.15);
  // Each level's effects: 120 rows (and the 2-row levels of h beside them) fix an intercept and
  // a slope to about ±0.1; the shrunken estimates stay within 0.4 (4 of those sds, over 80
  // comparisons) of the truth, less what the fit moved into b.
  const double intercept_shift = value_of(*m, out, "b_Intercept") - 1.0;
  const double slope_shift = value_of(*m, out, "b_x") - 0.7;
  const std::vector<std::string>& labels = m->data().terms[0].level_labels;
  ASSERT_EQ(labels.size(), s.intercepts.size());
  for (std::size_t level = 0; level < labels.size(); ++level) {
    const std::size_t j = static_cast<std::size_t>(std::stoi(labels[level]));
    const std::string prefix = "r_g." + std::to_string(level + 1) + ".";
    EXPECT_NEAR(value_of(*m, out, prefix + "1"), s.intercepts[j] - intercept_shift, 0.4) << j;
    EXPECT_NEAR(value_of(*m, out, prefix + "2"), s.slopes[j] - slope_shift, 0.4) << j;
  }
}

TEST(InitialValues, OverlappingFactorsAreFittedWithEachOthersEffectsOut) {
  // g and h have 20 levels each and 70% of the rows have h = g, so whichever term is fitted
  // first takes most of the other's effects: with one sweep g (effects' sd 0.275, fitted first)
  // came out at 0.750 and h (1.051) at 0.531; with two 0.416 and 0.789. The later sweeps refit
  // each term with the other's effects out (backfitting); with four, 0.236 and 0.980. Each level
  // has 300 rows, so its mean is uncertain by 0.06, small beside both sds: what remains is the
  // backfitting's unfinished convergence, within 25% for g and 15% for h (14% and 7% here).
  std::mt19937_64 rng(8);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const std::size_t levels = 20, n = 6000;
  std::vector<double> g_effect(levels), h_effect(levels);
  for (double& e : g_effect) e = 0.3 * normal(rng);
  for (double& e : h_effect) e = 1.0 * normal(rng);
  std::vector<double> y(n), g(n), h(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t j = i % levels;
    const std::size_t l = uniform(rng) < 0.7 ? j : static_cast<std::size_t>(uniform(rng) * levels);
    g[i] = static_cast<double>(j);
    h[i] = static_cast<double>(l);
    y[i] = 1.0 + g_effect[j] + h_effect[l] + normal(rng);
  }
  const table t = test::make_table("overlapping", {test::numeric_column("y", y),
                                                   test::numeric_column("g", g),
                                                   test::numeric_column("h", h)});
  const auto m = test::make_model(t, "y ~ 1 + (1 | g) + (1 | h)", family::gaussian);
  const std::vector<double> out = constrained_guess(*m);
  EXPECT_NEAR(value_of(*m, out, "sd_g__Intercept"), sample_sd_about_zero(g_effect),
              0.25 * sample_sd_about_zero(g_effect));
  EXPECT_NEAR(value_of(*m, out, "sd_h__Intercept"), sample_sd_about_zero(h_effect),
              0.15 * sample_sd_about_zero(h_effect));
}

/** Log density and its gradient at @p q by the CPU backend. */
double cpu_log_density(const std::shared_ptr<const model>& m, const std::vector<double>& q) {
  const auto backend = detail::make_backend(backend_kind::cpu, m);
  const auto q_vector = backend->make_vector();
  const auto gradient = backend->make_vector();
  backend->copy_from_host(q.data(), *q_vector);
  return backend->log_density_grad(*q_vector, *gradient);
}

/** Σ over centered coefficients of J log(sd_c L_cc): the log Jacobian of u = diag(sd) L z that
 *  the centered form leaves out of lp (the shifts by level means have Jacobian 1). */
double centered_log_jacobian(const model& m, const std::vector<double>& q) {
  global_values values;
  m.globals_forward(q.data(), values);
  double log_jacobian = 0.0;
  for (std::size_t t = 0; t < m.terms().size(); ++t) {
    const term_parameters& tp = m.terms()[t];
    for (std::size_t c = 0; c < tp.n_centered; ++c) {
      const double sd = values.sd[tp.first_sd - m.data().n_coefs() + c];
      log_jacobian += static_cast<double>(m.data().terms[t].n_levels) *
                      (std::log(sd) + std::log(values.chol_corr[t][c * tp.k + c]));
    }
  }
  return log_jacobian;
}

TEST(InitialValues, TheGuessIsOnePointWhateverTheParameterization) {
  // The fit is made on the constrained scale; each parameterization maps it into its own q
  // (centered levels hold level mean + u, non-centered z = u / sd, an absorbing intercept also the
  // absorbed slopes' x_j u_s[j] and coefficients' x_j b). Mapped back, all must give the same
  // values, and their log densities differ by the centered terms' log Jacobians alone. c is
  // constant within the levels of g: auto absorbs (0 + c | g) into the centered (1 | g) in the
  // first formula, b_c as well in the second, b_c into the centered (1 + x | g) in the third.
  simulated_levels s = simulate_levels();
  std::vector<double> c(s.data.n_rows());
  for (std::size_t i = 0; i < c.size(); ++i) c[i] = 0.5 + 0.1 * static_cast<double>(i % 40);
  s.data.columns.push_back(test::numeric_column("c", c));
  for (const std::string formula : {"y ~ x + (1 | g) + (0 + c | g) + (0 + x | g) + (1 | h)",
                                    "y ~ x + c + (1 | g) + (0 + c | g) + (0 + x | g) + (1 | h)",
                                    "y ~ x + c + (1 + x | g) + (1 | h)"}) {
    const auto absorbed = test::make_model(s.data, formula, family::gaussian, {}, "auto");
    ASSERT_TRUE(absorbed->terms()[0].centered()) << formula;
    ASSERT_TRUE(absorbed->terms()[0].absorbs()) << formula;
    const bool has_b_c = formula.find("x + c") != std::string::npos;
    EXPECT_EQ(absorbed->terms()[0].absorbed_coefficients.size(), has_b_c ? 1u : 0u) << formula;
    const std::vector<double> reference = constrained_guess(*absorbed);
    const auto none = test::make_model(s.data, formula, family::gaussian, {}, "none");
    const double lp_none = cpu_log_density(none, none->initial_values_from_data().center);
    // "g:Intercept": (1 + x | g)'s intercept alone centered, its slope's z = u_x / sd_x (the
    // correlation starts at 0); (1 | g) whole beside non-centered (0 + c | g) and (0 + x | g).
    for (const std::string centered : {"auto", "none", "all", "g", "h", "g:Intercept"}) {
      const auto other = test::make_model(s.data, formula, family::gaussian, {}, centered);
      const std::vector<double> out = constrained_guess(*other);
      ASSERT_EQ(out.size(), reference.size());
      for (std::size_t i = 0; i < out.size(); ++i) {
        EXPECT_NEAR(out[i], reference[i], 1e-9 * (1.0 + std::fabs(reference[i])))
            << formula << ", " << centered << ": " << other->output_names()[i];
      }
      const std::vector<double> q = other->initial_values_from_data().center;
      EXPECT_NEAR(cpu_log_density(other, q), lp_none - centered_log_jacobian(*other, q),
                  1e-9 * std::fabs(lp_none))
          << formula << ", " << centered;
    }
  }
}

TEST(InitialValues, TheLogDensityAtTheGuessIsFarAboveStansRandomStart) {
  // On the model of the test above the guess's log density beats every one of 20 Stan-style
  // uniform(-2, 2) starts (with the model's intercept center) by thousands.
  const simulated_levels s = simulate_levels();
  const auto m = test::make_model(s.data, "y ~ x + (1 + x || g) + (1 | h)", family::gaussian);
  const model::initial_value_guess guess = m->initial_values_from_data();
  const auto backend = detail::make_backend(backend_kind::cpu, m);
  const auto q_vector = backend->make_vector();
  const auto gradient = backend->make_vector();
  const auto log_density = [&](const std::vector<double>& q) {
    backend->copy_from_host(q.data(), *q_vector);
    return backend->log_density_grad(*q_vector, *gradient);
  };
  ASSERT_FALSE(m->terms()[1].centered());  // h: 2 rows per level, z
  const double at_guess = log_density(guess.center);
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> uniform(-2.0, 2.0);
  const std::vector<double> centers = m->init_centers();
  for (int draw = 0; draw < 20; ++draw) {
    std::vector<double> q(m->dim());
    for (std::size_t i = 0; i < q.size(); ++i) q[i] = centers[i] + uniform(rng);
    EXPECT_GT(at_guess, log_density(q) + 1000.0) << draw;
  }
}

}  // namespace
}  // namespace hbglm
