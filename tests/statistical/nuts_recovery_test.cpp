// Posterior recovery of NUTS with each metric on a 100-dimensional correlated normal (CPU
// backend, fixed seeds): z-scores of means, variances and adjacent covariances against their Monte
// Carlo standard errors, and the adapted inverse metric against the true covariance
// (shared/reference/stan_nuts.md §7.7).

#include <gtest/gtest.h>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.hpp"
#include "hbglm/sampler.hpp"
#include "mcmc/run_chain.hpp"

namespace hbglm::mcmc {
namespace {

constexpr int dim = 100;
constexpr int n_globals = 10;  // the dense block of dense_diag

/** Σ = D R D: standard deviations from 0.5 to 4; R block-diagonal with AR(1) correlation 0.9
 *  over the first 10 coordinates (the "globals") and 0.5 over the other 90. */
Eigen::MatrixXd target_covariance() {
  Eigen::VectorXd sd(dim);
  for (int i = 0; i < dim; ++i) sd(i) = 0.5 * std::pow(8.0, i / (dim - 1.0));
  Eigen::MatrixXd r = Eigen::MatrixXd::Zero(dim, dim);
  for (int i = 0; i < dim; ++i) {
    for (int j = 0; j < dim; ++j) {
      const bool same_block = (i < n_globals) == (j < n_globals);
      if (!same_block) continue;
      const double rho = i < n_globals ? 0.9 : 0.5;
      r(i, j) = std::pow(rho, std::abs(i - j));
    }
  }
  return sd.asDiagonal() * r * sd.asDiagonal();
}

Eigen::VectorXd target_mean() {
  Eigen::VectorXd mu(dim);
  for (int i = 0; i < dim; ++i) mu(i) = 3.0 * std::sin(0.7 * i);
  return mu;
}

class correlated_normal final : public detail::log_density_function {
 public:
  correlated_normal() : mean_(target_mean()), precision_(target_covariance().llt().solve(Eigen::MatrixXd::Identity(mcmc::dim, mcmc::dim))) {}
  std::size_t dim() const noexcept override { return static_cast<std::size_t>(mean_.size()); }
  double log_density_grad(const double* q, double* grad) const override {
    const Eigen::VectorXd d = Eigen::Map<const Eigen::VectorXd>(q, mean_.size()) - mean_;
    const Eigen::VectorXd g = -(precision_ * d);
    Eigen::Map<Eigen::VectorXd>(grad, mean_.size()) = g;
    return 0.5 * d.dot(g);
  }

 private:
  Eigen::VectorXd mean_;
  Eigen::MatrixXd precision_;
};

struct collector final : chain_callbacks {
  std::vector<std::vector<double>> draws;
  std::vector<adaptation_info> adaptations;
  std::size_t n_divergent = 0;
  double sum_accept = 0;
  void on_draw(const nuts_draw& d) override {
    if (d.warmup) return;
    draws.push_back(d.q);
    n_divergent += d.divergent;
    sum_accept += d.accept_stat;
  }
  void on_adaptation_end(const adaptation_info& info) override { adaptations.push_back(info); }
};

/** Effective sample size of one chain by Geyer's initial monotone sequence estimator. */
double effective_sample_size(const std::vector<double>& x) {
  const auto n = static_cast<int>(x.size());
  double mean = 0;
  for (double v : x) mean += v;
  mean /= n;
  auto autocov = [&](int lag) {
    double s = 0;
    for (int t = 0; t + lag < n; ++t) s += (x[t] - mean) * (x[t + lag] - mean);
    return s / n;
  };
  const double c0 = autocov(0);
  if (c0 <= 0) return n;
  double tau = -1;
  double previous_pair = std::numeric_limits<double>::infinity();
  for (int k = 0; 2 * k + 1 < n; ++k) {
    double pair = (autocov(2 * k) + autocov(2 * k + 1)) / c0;
    if (pair <= 0) break;
    pair = std::min(pair, previous_pair);  // initial monotone sequence
    tau += 2 * pair;
    previous_pair = pair;
  }
  return n / std::max(tau, 1.0 / std::log10(static_cast<double>(n)));
}

/** z = (estimate - truth) / MCSE for E[f] with f's own ESS. */
double z_score(const std::vector<double>& f, double truth) {
  const auto n = static_cast<double>(f.size());
  double mean = 0, var = 0;
  for (double v : f) mean += v;
  mean /= n;
  for (double v : f) var += (v - mean) * (v - mean);
  var /= (n - 1);
  const double mcse = std::sqrt(var / effective_sample_size(f));
  return (mean - truth) / mcse;
}

struct recovery {
  double max_abs_z = 0;
  double fraction_above_2 = 0;
  double min_ess_mean = 1e300;
  int n_z = 0;
};

recovery check_draws(const std::vector<std::vector<double>>& draws) {
  const Eigen::VectorXd mu = target_mean();
  const Eigen::MatrixXd sigma = target_covariance();
  recovery r;
  int above_2 = 0;
  auto add = [&](const std::vector<double>& f, double truth) {
    const double z = z_score(f, truth);
    r.max_abs_z = std::max(r.max_abs_z, std::abs(z));
    above_2 += std::abs(z) > 2;
    ++r.n_z;
  };
  std::vector<double> f(draws.size());
  for (int i = 0; i < dim; ++i) {
    for (std::size_t t = 0; t < draws.size(); ++t) f[t] = draws[t][i];
    r.min_ess_mean = std::min(r.min_ess_mean, effective_sample_size(f));
    add(f, mu(i));
    for (std::size_t t = 0; t < draws.size(); ++t) f[t] = std::pow(draws[t][i] - mu(i), 2);
    add(f, sigma(i, i));
    if (i + 1 < dim) {
      for (std::size_t t = 0; t < draws.size(); ++t) {
        f[t] = (draws[t][i] - mu(i)) * (draws[t][i + 1] - mu(i + 1));
      }
      add(f, sigma(i, i + 1));
    }
  }
  r.fraction_above_2 = static_cast<double>(above_2) / r.n_z;
  return r;
}

struct run_output {
  collector c;
  chain_result result;
};

run_output run(metric_kind kind, std::uint64_t seed) {
  detail::cpu_backend backend(std::make_shared<correlated_normal>());
  nuts_options o;
  o.metric = kind;
  o.seed = seed;
  chain_setup setup;
  setup.n_dense_globals = n_globals;
  run_output out;
  out.result = run_chain(backend, o, 0, out.c, setup);
  return out;
}

/** Largest |log(estimate / truth)| over the marginal variances in the adapted metric. */
double worst_log_variance_ratio(const adaptation_info& info, const Eigen::MatrixXd& sigma) {
  double worst = 0;
  const auto nd = static_cast<int>(info.n_dense);
  for (int i = 0; i < nd; ++i) {
    worst = std::max(worst, std::abs(std::log(info.dense[i * nd + i] / sigma(i, i))));
  }
  for (int i = nd; i < dim; ++i) {
    worst = std::max(worst, std::abs(std::log(info.diag[i - nd] / sigma(i, i))));
  }
  return worst;
}

/** Largest error of the adapted metric's correlations over adjacent pairs of the dense block. */
double worst_adjacent_correlation_error(const adaptation_info& info, const Eigen::MatrixXd& sigma,
                                        int n) {
  const auto nd = static_cast<int>(info.n_dense);
  double worst = 0;
  for (int i = 0; i + 1 < n; ++i) {
    const double est = info.dense[(i + 1) * nd + i] /
                       std::sqrt(info.dense[i * nd + i] * info.dense[(i + 1) * nd + i + 1]);
    const double truth = sigma(i, i + 1) / std::sqrt(sigma(i, i) * sigma(i + 1, i + 1));
    worst = std::max(worst, std::abs(est - truth));
  }
  return worst;
}

void expect_draws_recover_the_target(const run_output& out, const std::string& label) {
  ASSERT_EQ(out.c.draws.size(), 1000u) << label;
  const recovery r = check_draws(out.c.draws);
  // ~300 z-scores per run: under a correct sampler max |z| rarely exceeds 4; 5 leaves room for
  // the noise of single-chain ESS estimates of squared functionals.
  EXPECT_LT(r.max_abs_z, 5.0) << label;
  EXPECT_LT(r.fraction_above_2, 0.15) << label;  // nominal 0.046; the z-scores are correlated
  EXPECT_GT(r.min_ess_mean, 100) << label;
  EXPECT_EQ(out.c.n_divergent, 0u) << label;
  const double mean_accept = out.c.sum_accept / out.c.draws.size();
  EXPECT_GT(mean_accept, 0.7) << label;  // adapted toward δ = 0.8
  EXPECT_LT(mean_accept, 0.95) << label;
  std::printf("[ %-10s ] max|z| %.2f  frac|z|>2 %.3f  min ESS(mean) %.0f  accept %.3f  eps %.3f\n",
              label.c_str(), r.max_abs_z, r.fraction_above_2, r.min_ess_mean, mean_accept,
              out.result.stepsize);
}

TEST(NutsRecovery, DiagMetricRecoversMarginalVariances) {
  const Eigen::MatrixXd sigma = target_covariance();
  for (std::uint64_t seed : {101u, 202u}) {
    const run_output out = run(metric_kind::diag, seed);
    expect_draws_recover_the_target(out, "diag");
    ASSERT_EQ(out.c.adaptations.size(), 1u);
    const adaptation_info& info = out.c.adaptations[0];
    EXPECT_EQ(info.n_dense, 0u);
    // Window 450..949 (500 draws): each variance within ~exp(±0.35) of the truth.
    const double worst = worst_log_variance_ratio(info, sigma);
    std::printf("[ diag       ] metric: worst |log(var ratio)| %.3f\n", worst);
    EXPECT_LT(worst, 0.35);
  }
}

TEST(NutsRecovery, DenseMetricRecoversTheCovariance) {
  const Eigen::MatrixXd sigma = target_covariance();
  const run_output out = run(metric_kind::dense, 303);
  expect_draws_recover_the_target(out, "dense");
  ASSERT_EQ(out.c.adaptations.size(), 1u);
  const adaptation_info& info = out.c.adaptations[0];
  ASSERT_EQ(info.n_dense, static_cast<std::size_t>(dim));
  const double worst_var = worst_log_variance_ratio(info, sigma);
  const double worst_cor = worst_adjacent_correlation_error(info, sigma, dim);
  Eigen::Map<const Eigen::MatrixXd> dense(info.dense.data(), dim, dim);
  const double frobenius = (dense - sigma).norm() / sigma.norm();
  std::printf("[ dense      ] metric: worst |log(var ratio)| %.3f  worst cor error %.3f  "
              "relative Frobenius error %.3f\n",
              worst_var, worst_cor, frobenius);
  EXPECT_LT(worst_var, 0.35);
  // Correlations 0.9 (globals) and 0.5 (the rest) between neighbours.
  EXPECT_LT(worst_cor, 0.2);
  // Whole matrix: relative Frobenius error of the metric against Σ. From 500 independent draws
  // its expected value is sqrt(((tr Σ)² + ‖Σ‖²) / 500) / ‖Σ‖ ≈ 0.24 for this Σ; allow twice that.
  EXPECT_LT(frobenius, 0.5);
}

TEST(NutsRecovery, DenseDiagMetricRecoversTheGlobalBlockAndTheVariances) {
  const Eigen::MatrixXd sigma = target_covariance();
  const run_output out = run(metric_kind::dense_diag, 404);
  expect_draws_recover_the_target(out, "dense_diag");
  ASSERT_EQ(out.c.adaptations.size(), 1u);
  const adaptation_info& info = out.c.adaptations[0];
  ASSERT_EQ(info.n_dense, static_cast<std::size_t>(n_globals));
  ASSERT_EQ(info.diag.size(), static_cast<std::size_t>(dim - n_globals));
  const double worst_var = worst_log_variance_ratio(info, sigma);
  const double worst_cor = worst_adjacent_correlation_error(info, sigma, n_globals);
  Eigen::Map<const Eigen::MatrixXd> dense(info.dense.data(), n_globals, n_globals);
  const Eigen::MatrixXd block = sigma.topLeftCorner(n_globals, n_globals);
  const double frobenius = (dense - block).norm() / block.norm();
  std::printf("[ dense_diag ] metric: worst |log(var ratio)| %.3f  worst cor error %.3f  "
              "relative Frobenius error (block) %.3f\n",
              worst_var, worst_cor, frobenius);
  EXPECT_LT(worst_var, 0.35);
  EXPECT_LT(worst_cor, 0.1);
  // The same bound as for dense: ≈ 0.075 expected from 500 independent draws for this block.
  EXPECT_LT(frobenius, 0.2);
}

TEST(NutsRecovery, SameSeedTwiceGivesIdenticalDraws) {
  auto short_run = [] {
    detail::cpu_backend backend(std::make_shared<correlated_normal>());
    nuts_options o;
    o.metric = metric_kind::dense_diag;
    o.seed = 7;
    o.num_warmup = 150;
    o.num_samples = 50;
    chain_setup setup;
    setup.n_dense_globals = n_globals;
    collector c;
    run_chain(backend, o, 3, c, setup);
    return c.draws;
  };
  const auto a = short_run();
  const auto b = short_run();
  ASSERT_EQ(a.size(), 50u);
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace hbglm::mcmc
