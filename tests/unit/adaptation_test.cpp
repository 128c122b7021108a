// Warmup adaptation against shared/reference/stan_nuts.md §7.5-§7.7 and Stan's tests
// (src/test/unit/mcmc/windowed_adaptation_test.cpp, stepsize_adaptation_test.cpp,
// var_adaptation_test.cpp, covar_adaptation_test.cpp).

#include <gtest/gtest.h>

#include <Eigen/Core>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "backend/backend.hpp"
#include "hbglm/error.hpp"
#include "mcmc/adapt/metric_adaptation.hpp"
#include "mcmc/adapt/stepsize_adaptation.hpp"
#include "mcmc/adapt/welford_covar_estimator.hpp"
#include "mcmc/adapt/welford_var_estimator.hpp"
#include "mcmc/adapt/windowed_adaptation.hpp"

namespace hbglm::mcmc {
namespace {

using windows = std::vector<std::pair<unsigned int, unsigned int>>;

windows as_pairs(const warmup_schedule& s) {
  windows out;
  for (const auto& w : s.windows) out.emplace_back(w.first, w.last);
  return out;
}

// --- window schedule: the table of stan_nuts.md §7.6 ---

TEST(WindowSchedule, Warmup1000) {
  const auto s = compute_warmup_schedule(1000, 75, 50, 25);
  EXPECT_EQ(s.warning, "");
  EXPECT_EQ(as_pairs(s), (windows{{75, 99}, {100, 149}, {150, 249}, {250, 449}, {450, 949}}));
}

TEST(WindowSchedule, Warmup2000) {
  const auto s = compute_warmup_schedule(2000, 75, 50, 25);
  EXPECT_EQ(as_pairs(s), (windows{{75, 99}, {100, 149}, {150, 249}, {250, 449}, {450, 849},
                                  {850, 1949}}));
}

TEST(WindowSchedule, Warmup500) {
  const auto s = compute_warmup_schedule(500, 75, 50, 25);
  EXPECT_EQ(as_pairs(s), (windows{{75, 99}, {100, 149}, {150, 249}, {250, 449}}));
}

TEST(WindowSchedule, Warmup150) {
  const auto s = compute_warmup_schedule(150, 75, 50, 25);
  EXPECT_EQ(s.warning, "");
  EXPECT_EQ(as_pairs(s), (windows{{75, 99}}));
}

TEST(WindowSchedule, Warmup100IsResizedTo15_75_10Percent) {
  const auto s = compute_warmup_schedule(100, 75, 50, 25);
  EXPECT_NE(s.warning.find("aren't enough warmup iterations"), std::string::npos);
  EXPECT_NE(s.warning.find("init_buffer = 15"), std::string::npos);
  EXPECT_NE(s.warning.find("adapt_window = 75"), std::string::npos);
  EXPECT_NE(s.warning.find("term_buffer = 10"), std::string::npos);
  EXPECT_EQ(s.init_buffer, 15u);
  EXPECT_EQ(s.term_buffer, 10u);
  EXPECT_EQ(s.base_window, 75u);
  EXPECT_EQ(as_pairs(s), (windows{{15, 89}}));
}

TEST(WindowSchedule, Warmup19HasNoMetricAdaptation) {
  const auto s = compute_warmup_schedule(19, 75, 50, 25);
  EXPECT_NE(s.warning.find("num_warmup < 20"), std::string::npos);
  EXPECT_TRUE(s.windows.empty());
}

TEST(WindowSchedule, DrawsCollectedOnlyInsideTheSlowPhase) {
  windowed_adaptation w("test");
  ASSERT_EQ(w.set_window_params(1000, 75, 50, 25), "");
  unsigned int first = 0, last = 0, count = 0;
  for (unsigned int i = 0; i < 1000; ++i) {
    if (w.adaptation_window()) {
      if (count == 0) first = i;
      last = i;
      ++count;
    }
    if (w.end_adaptation_window()) w.compute_next_window();
    w.advance();
  }
  EXPECT_EQ(first, 75u);
  EXPECT_EQ(last, 949u);
  EXPECT_EQ(count, 875u);
}

TEST(WindowSchedule, MetricAdaptationUpdatesAtWindowEndsWithWindowSizes) {
  metric_adaptation adapter(2, 0);
  ASSERT_EQ(adapter.set_window_params(1000, 75, 50, 25), "");
  auto m = detail::inv_metric::identity(2, 0);
  std::vector<unsigned int> updates;
  std::vector<double> sizes;
  std::mt19937_64 gen(1);
  std::normal_distribution<double> normal;
  for (unsigned int i = 0; i < 1000; ++i) {
    const double q[2] = {normal(gen), normal(gen)};
    if (adapter.learn_metric(m, q)) {
      updates.push_back(i);
      sizes.push_back(adapter.last_window_num_samples());
    }
  }
  EXPECT_EQ(updates, (std::vector<unsigned int>{99, 149, 249, 449, 949}));
  EXPECT_EQ(sizes, (std::vector<double>{25, 50, 100, 200, 500}));
}

// --- dual averaging (stepsize_adaptation) ---

stepsize_adaptation services_defaults(double mu) {
  stepsize_adaptation a;
  a.set_mu(mu);
  a.set_delta(0.8);
  a.set_gamma(0.05);
  a.set_kappa(0.75);
  a.set_t0(10);
  return a;
}

TEST(DualAveraging, ConstantAcceptStatSequence) {
  // accept_stat 0.6, δ 0.8: s̄_t = t(δ - a)/(t + t0) = 0.2 t/(t + 10), x_t = μ - s̄_t √t / γ,
  // x̄_t = (1 - t^-κ) x̄_{t-1} + t^-κ x_t. Values to 16 digits from that recurrence.
  const double mu = std::log(10.0);
  auto a = services_defaults(mu);
  const double s_bar[5] = {0.2 / 11, 0.4 / 12, 0.6 / 13, 0.8 / 14, 1.0 / 15};
  const double x[5] = {1.9389487293576821, 1.3597760514119823, 0.7037689629304664,
                       0.016870807279759426, -0.6788388770056746};
  const double x_bar[5] = {1.9389487293576821, 1.5945705946435793, 1.2037836352458111,
                           0.7841465805797625, 0.3466118763908118};
  double epsilon = 1;
  for (int t = 0; t < 5; ++t) {
    a.learn_stepsize(epsilon, 0.6);
    EXPECT_DOUBLE_EQ(a.counter(), t + 1);
    EXPECT_NEAR(a.s_bar(), s_bar[t], 1e-15);
    EXPECT_NEAR(std::log(epsilon), x[t], 1e-13);
    EXPECT_NEAR(a.x_bar(), x_bar[t], 1e-13);
  }
  // First step by hand: x_1 = log 10 - (0.2/11)/0.05 and x̄_1 = x_1 (weight 1^-κ = 1).
  EXPECT_NEAR(x[0], std::log(10.0) - (0.2 / 11) / 0.05, 1e-15);

  a.complete_adaptation(epsilon);
  EXPECT_NEAR(epsilon, std::exp(0.3466118763908118), 1e-13);
  EXPECT_NEAR(epsilon, 1.4142677081468031, 1e-12);
}

TEST(DualAveraging, AcceptStatAboveOneIsCapped) {
  auto capped = services_defaults(std::log(10.0));
  auto one = services_defaults(std::log(10.0));
  double e_capped = 1, e_one = 1;
  for (int t = 0; t < 7; ++t) {
    capped.learn_stepsize(e_capped, 1.7);
    one.learn_stepsize(e_one, 1.0);
    EXPECT_EQ(e_capped, e_one);
    EXPECT_EQ(capped.s_bar(), one.s_bar());
    EXPECT_EQ(capped.x_bar(), one.x_bar());
  }
}

TEST(DualAveraging, RestartZeroesState) {
  auto a = services_defaults(0.3);
  double e = 1;
  a.learn_stepsize(e, 0.2);
  a.learn_stepsize(e, 0.9);
  a.restart();
  EXPECT_EQ(a.counter(), 0);
  EXPECT_EQ(a.s_bar(), 0);
  EXPECT_EQ(a.x_bar(), 0);
  a.complete_adaptation(e);
  EXPECT_EQ(e, 1.0);  // exp(0)
}

TEST(DualAveraging, SettersIgnoreOutOfRangeValuesAsStanDoes) {
  stepsize_adaptation a;
  EXPECT_EQ(a.delta(), 0.8);  // services default, not Stan's class default 0.5
  a.set_delta(1.5);
  a.set_gamma(-1);
  a.set_kappa(0);
  a.set_t0(-3);
  EXPECT_EQ(a.delta(), 0.8);
  EXPECT_EQ(a.gamma(), 0.05);
  EXPECT_EQ(a.kappa(), 0.75);
  EXPECT_EQ(a.t0(), 10);
}

// --- regularization ---

TEST(Regularization, VarianceWithFiveDrawsHalvesAndAdds5e4) {
  Eigen::VectorXd var(3);
  var << 1.0, 4.0, 0.02;
  regularize_variance(var, 5);
  EXPECT_DOUBLE_EQ(var(0), 0.5 + 5e-4);
  EXPECT_DOUBLE_EQ(var(1), 2.0 + 5e-4);
  EXPECT_DOUBLE_EQ(var(2), 0.01 + 5e-4);
}

TEST(Regularization, CovarianceWithFiveDrawsHalvesAndAdds5e4OnTheDiagonal) {
  Eigen::MatrixXd c(2, 2);
  c << 2.0, 0.6, 0.6, 1.0;
  regularize_covariance(c, 5);
  EXPECT_DOUBLE_EQ(c(0, 0), 1.0 + 5e-4);
  EXPECT_DOUBLE_EQ(c(1, 1), 0.5 + 5e-4);
  EXPECT_DOUBLE_EQ(c(0, 1), 0.3);
  EXPECT_DOUBLE_EQ(c(1, 0), 0.3);
}

TEST(Regularization, GeneralWeight) {
  Eigen::VectorXd var(1);
  var << 3.0;
  regularize_variance(var, 95);
  EXPECT_DOUBLE_EQ(var(0), 0.95 * 3.0 + 1e-3 * 0.05);
}

TEST(Regularization, NonFiniteThrows) {
  const double inf = std::numeric_limits<double>::infinity();
  Eigen::VectorXd var(2);
  var << 1.0, inf;
  EXPECT_THROW(regularize_variance(var, 5), hbglm::error);
  var << std::nan(""), 1.0;
  EXPECT_THROW(regularize_variance(var, 5), hbglm::error);
  Eigen::MatrixXd c = Eigen::MatrixXd::Identity(2, 2);
  c(0, 1) = inf;
  try {
    regularize_covariance(c, 5);
    FAIL() << "expected a throw";
  } catch (const hbglm::error& e) {
    EXPECT_NE(std::string(e.what()).find("Numerical overflow in metric adaptation"),
              std::string::npos);
  }
}

// --- Welford estimators against two-pass ---

Eigen::MatrixXd random_draws(int n, int d, unsigned seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal;
  Eigen::MatrixXd x(n, d);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < d; ++j) x(i, j) = 1e3 * (j + 1) + (j + 1) * normal(gen);
    x(i, d - 1) += 0.7 * x(i, 0);  // a correlated column
  }
  return x;
}

TEST(Welford, VarianceMatchesTwoPass) {
  const Eigen::MatrixXd x = random_draws(257, 4, 3);
  welford_var_estimator est(4);
  for (int i = 0; i < x.rows(); ++i) est.add_sample(x.row(i).transpose());
  EXPECT_EQ(est.num_samples(), 257);
  Eigen::VectorXd var(4), mean(4);
  est.sample_variance(var);
  est.sample_mean(mean);
  const Eigen::VectorXd mean2 = x.colwise().mean().transpose();
  for (int j = 0; j < 4; ++j) {
    const double v2 = (x.col(j).array() - mean2(j)).square().sum() / (x.rows() - 1);
    EXPECT_NEAR(var(j), v2, 1e-12 * v2);
    EXPECT_NEAR(mean(j), mean2(j), 1e-12 * std::abs(mean2(j)));
  }
}

TEST(Welford, CovarianceMatchesTwoPass) {
  const Eigen::MatrixXd x = random_draws(301, 5, 4);
  welford_covar_estimator est(5);
  for (int i = 0; i < x.rows(); ++i) est.add_sample(x.row(i).transpose());
  Eigen::MatrixXd covar(5, 5);
  est.sample_covariance(covar);
  const Eigen::MatrixXd centered = x.rowwise() - x.colwise().mean();
  const Eigen::MatrixXd covar2 = centered.transpose() * centered / (x.rows() - 1.0);
  const double scale = covar2.diagonal().maxCoeff();
  EXPECT_LE((covar - covar2).cwiseAbs().maxCoeff(), 1e-12 * scale);
}

TEST(Welford, FewerThanTwoDrawsLeaveTheInputAndRestartForgets) {
  welford_var_estimator est(2);
  Eigen::VectorXd var(2);
  var << 7.0, 8.0;
  est.sample_variance(var);
  EXPECT_EQ(var(0), 7.0);
  est.add_sample(Eigen::Vector2d(1.0, 2.0));
  est.sample_variance(var);
  EXPECT_EQ(var(1), 8.0);
  est.add_sample(Eigen::Vector2d(3.0, 2.0));
  est.sample_variance(var);
  EXPECT_DOUBLE_EQ(var(0), 2.0);
  EXPECT_DOUBLE_EQ(var(1), 0.0);
  est.restart();
  EXPECT_EQ(est.num_samples(), 0);
}

// --- metric estimation over a window ---

TEST(MetricAdaptation, DenseDiagBlockIsRegularizedWindowEstimate) {
  // W = 150: one window, iterations 75..99 (25 draws). Dense over the first 2, diagonal over 3.
  const int dim = 5;
  const std::size_t n_dense = 2;
  const Eigen::MatrixXd x = random_draws(150, dim, 9);
  metric_adaptation adapter(dim, n_dense);
  ASSERT_EQ(adapter.set_window_params(150, 75, 50, 25), "");
  auto m = detail::inv_metric::identity(dim, n_dense);
  int n_updates = 0;
  for (int i = 0; i < 150; ++i) {
    const Eigen::VectorXd q = x.row(i).transpose();
    if (adapter.learn_metric(m, q.data())) {
      ++n_updates;
      EXPECT_EQ(i, 99);
    }
  }
  ASSERT_EQ(n_updates, 1);

  const Eigen::MatrixXd window = x.middleRows(75, 25);
  const Eigen::MatrixXd centered = window.rowwise() - window.colwise().mean();
  Eigen::MatrixXd covar = centered.transpose() * centered / 24.0;
  const double w = 25.0 / 30.0, add = 1e-3 * 5.0 / 30.0;
  for (std::size_t i = 0; i < n_dense; ++i) {
    for (std::size_t j = 0; j < n_dense; ++j) {
      const double expected = w * covar(i, j) + (i == j ? add : 0.0);
      EXPECT_NEAR(m.dense[j * n_dense + i], expected, 1e-12 * std::abs(covar(i, i)));
    }
  }
  for (int k = static_cast<int>(n_dense); k < dim; ++k) {
    const double expected = w * covar(k, k) + add;
    EXPECT_NEAR(m.diag[k - n_dense], expected, 1e-12 * covar(k, k));
  }
  // Exactly symmetric.
  EXPECT_EQ(m.dense[1], m.dense[2]);
}

TEST(MetricAdaptation, DiagAndDenseAgreeOnTheDiagonal) {
  const int dim = 3;
  const Eigen::MatrixXd x = random_draws(200, dim, 11);
  metric_adaptation diag(dim, 0), dense(dim, dim);
  diag.set_window_params(200, 75, 50, 25);
  dense.set_window_params(200, 75, 50, 25);
  auto md = detail::inv_metric::identity(dim, 0);
  auto mf = detail::inv_metric::identity(dim, dim);
  for (int i = 0; i < 200; ++i) {
    const Eigen::VectorXd q = x.row(i).transpose();
    EXPECT_EQ(diag.learn_metric(md, q.data()), dense.learn_metric(mf, q.data()));
  }
  for (int k = 0; k < dim; ++k) {
    EXPECT_NEAR(md.diag[k], mf.dense[k * dim + k], 1e-10 * md.diag[k]);
  }
}

TEST(MetricAdaptation, OverflowThrows) {
  metric_adaptation adapter(1, 0);
  adapter.set_window_params(150, 75, 50, 25);
  auto m = detail::inv_metric::identity(1, 0);
  const double huge = 1e200;
  EXPECT_THROW(
      {
        for (int i = 0; i < 150; ++i) {
          const double q = (i % 2 ? huge : -huge);
          adapter.learn_metric(m, &q);
        }
      },
      hbglm::error);
}

}  // namespace
}  // namespace hbglm::mcmc
