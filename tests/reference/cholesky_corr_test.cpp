// The Cholesky-factor-of-a-correlation-matrix transform (host/model/cholesky_corr.hpp) against
// its definition: L is a valid factor, the returned log Jacobian is log |det| of the numerical
// Jacobian of y → (strictly lower entries of L), the LKJ term is (eta - 1) log det R plus the log
// Jacobian of L → R (the density of L Lᵀ expressed in L), and the backward pass matches finite
// differences for k up to 5 (gradient_test.cpp covers k ≤ 3 only through whole models).

#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <random>
#include <vector>

#include "model/cholesky_corr.hpp"
#include "support/tolerance.hpp"

namespace hbglm {
namespace {

using detail::cholesky_corr_backward;
using detail::cholesky_corr_constrain;
using detail::lkj_cholesky_gradient;
using detail::lkj_cholesky_log_density;

std::size_t n_cpc(std::size_t k) { return k * (k - 1) / 2; }

std::vector<double> random_vector(std::size_t n, double range, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-range, range);
  std::vector<double> v(n);
  for (double& x : v) x = u(rng);
  return v;
}

std::vector<double> constrain(const std::vector<double>& y, std::size_t k,
                              double* log_jacobian = nullptr) {
  std::vector<double> chol(k * k, -7.0);  // garbage: constrain must write every entry
  const double lj = cholesky_corr_constrain(y.data(), k, chol.data());
  if (log_jacobian != nullptr) *log_jacobian = lj;
  return chol;
}

/// The strictly lower entries of a row-major k×k matrix, row by row: (1,0), (2,0), (2,1), ...
std::vector<double> strictly_lower(const std::vector<double>& m, std::size_t k) {
  std::vector<double> out;
  for (std::size_t i = 1; i < k; ++i) {
    for (std::size_t j = 0; j < i; ++j) out.push_back(m[i * k + j]);
  }
  return out;
}

/// Jacobian of f: R^n → R^n by central differences with one Richardson step (error O(h⁴)).
Eigen::MatrixXd numerical_jacobian(
    const std::function<std::vector<double>(const std::vector<double>&)>& f,
    const std::vector<double>& x, double h) {
  const auto n = static_cast<Eigen::Index>(x.size());
  const auto m = static_cast<Eigen::Index>(f(x).size());
  Eigen::MatrixXd jac(m, n);
  for (Eigen::Index c = 0; c < n; ++c) {
    auto at = [&](double delta) {
      std::vector<double> xd = x;
      xd[static_cast<std::size_t>(c)] += delta;
      return f(xd);
    };
    const auto plus_h = at(h), minus_h = at(-h), plus_half = at(h / 2), minus_half = at(-h / 2);
    for (Eigen::Index r = 0; r < m; ++r) {
      const auto ri = static_cast<std::size_t>(r);
      const double d_h = (plus_h[ri] - minus_h[ri]) / (2 * h);
      const double d_half = (plus_half[ri] - minus_half[ri]) / h;
      jac(r, c) = (4 * d_half - d_h) / 3;
    }
  }
  return jac;
}

double log_abs_det(const Eigen::MatrixXd& m) {
  return std::log(std::fabs(m.fullPivLu().determinant()));
}

/// |a - b| / max(1, |a|, |b|): relative for large values, absolute for small ones.
double scaled_error(double a, double b) {
  return std::fabs(a - b) / std::max({1.0, std::fabs(a), std::fabs(b)});
}

/// R = L Lᵀ from a row-major factor.
Eigen::MatrixXd corr_of(const std::vector<double>& chol, std::size_t k) {
  const auto kk = static_cast<Eigen::Index>(k);
  Eigen::MatrixXd l(kk, kk);
  for (Eigen::Index i = 0; i < kk; ++i) {
    for (Eigen::Index j = 0; j < kk; ++j) {
      l(i, j) = chol[static_cast<std::size_t>(i * kk + j)];
    }
  }
  return l * l.transpose();
}

TEST(CholeskyCorr, OneByOneIsTheIdentityWithNoJacobian) {
  double lj = 1.0;
  const auto chol = constrain({}, 1, &lj);
  EXPECT_EQ(chol[0], 1.0);
  EXPECT_EQ(lj, 0.0);
  EXPECT_EQ(lkj_cholesky_log_density(chol.data(), 1, 2.0), 0.0);
}

TEST(CholeskyCorr, ZeroGivesTheIdentity) {
  for (std::size_t k = 2; k <= 5; ++k) {
    double lj = 1.0;
    const auto chol = constrain(std::vector<double>(n_cpc(k), 0.0), k, &lj);
    for (std::size_t i = 0; i < k; ++i) {
      for (std::size_t j = 0; j < k; ++j) EXPECT_EQ(chol[i * k + j], i == j ? 1.0 : 0.0);
    }
    EXPECT_EQ(lj, 0.0);  // tanh'(0) = 1 and every remaining length is 1
  }
}

TEST(CholeskyCorr, ConstrainGivesAFactorOfACorrelationMatrix) {
  std::mt19937_64 rng(17);
  for (std::size_t k = 2; k <= 6; ++k) {
    for (int draw = 0; draw < 50; ++draw) {
      // Mostly moderate values, some up to |y| = 5 (correlations of 0.9999).
      const auto y = random_vector(n_cpc(k), draw < 40 ? 2.0 : 5.0, rng);
      double lj = 0.0;
      const auto chol = constrain(y, k, &lj);
      EXPECT_TRUE(std::isfinite(lj)) << "k=" << k;
      EXPECT_EQ(chol[0], 1.0);
      for (std::size_t i = 0; i < k; ++i) {
        double row = 0.0;
        for (std::size_t j = 0; j < k; ++j) {
          const double v = chol[i * k + j];
          if (j > i) {
            EXPECT_EQ(v, 0.0) << "upper entry (" << i << "," << j << ")";
          }
          row += v * v;
        }
        EXPECT_GT(chol[i * k + i], 0.0) << "k=" << k << " row " << i;
        EXPECT_NEAR(row, 1.0, 4e-16 * static_cast<double>(k)) << "k=" << k << " row " << i;
      }
      const Eigen::MatrixXd r = corr_of(chol, k);
      for (Eigen::Index a = 0; a < r.rows(); ++a) {
        EXPECT_NEAR(r(a, a), 1.0, 4e-16 * static_cast<double>(k));
        for (Eigen::Index b = 0; b < a; ++b) EXPECT_LT(std::fabs(r(a, b)), 1.0);
      }
    }
  }
}

TEST(CholeskyCorr, TwoByTwoIsTanh) {
  for (double y : {-2.0, -0.3, 0.0, 0.8, 1.7}) {
    double lj = 0.0;
    const auto chol = constrain({y}, 2, &lj);
    const double rho = std::tanh(y);
    EXPECT_DOUBLE_EQ(chol[2], rho);
    EXPECT_DOUBLE_EQ(chol[3], std::sqrt(1.0 - rho * rho));
    EXPECT_NEAR(lj, std::log(1.0 - rho * rho), 1e-14);
    for (double eta : {0.5, 1.0, 2.0, 4.0}) {
      EXPECT_NEAR(lkj_cholesky_log_density(chol.data(), 2, eta),
                  (eta - 1.0) * std::log(1.0 - rho * rho), 1e-14);
    }
  }
}

TEST(CholeskyCorr, LogJacobianIsLogDetOfTheNumericalJacobian) {
  std::mt19937_64 rng(3);
  for (std::size_t k = 2; k <= 5; ++k) {
    for (int draw = 0; draw < 5; ++draw) {
      const auto y = random_vector(n_cpc(k), 1.5, rng);
      double lj = 0.0;
      constrain(y, k, &lj);
      const auto map = [k](const std::vector<double>& yy) {
        return strictly_lower(constrain(yy, k), k);
      };
      const double numerical = log_abs_det(numerical_jacobian(map, y, 1e-3));
      // Richardson-extrapolated differences: the same accuracy argument as test::gradient_rel.
      EXPECT_LT(scaled_error(lj, numerical), test::gradient_rel)
          << "k=" << k << ": returned " << lj << ", numerical " << numerical;
    }
  }
}

TEST(CholeskyCorr, LkjIsLogDetRPlusTheJacobianOfLToR) {
  // The LKJ(eta) density of R is ∝ det(R)^(eta-1). Expressed in the free entries x of L (its
  // strictly lower part; L_ii = sqrt(1 - Σ_{j<i} x_ij²)), it gains |det dR/dx|, the Jacobian of
  // x → strictly lower R. That sum is what the header documents, Σ (k - i - 1 + 2(eta-1)) log L_ii.
  std::mt19937_64 rng(29);
  for (std::size_t k = 2; k <= 5; ++k) {
    for (int draw = 0; draw < 4; ++draw) {
      const auto chol = constrain(random_vector(n_cpc(k), 1.2, rng), k);
      const auto x = strictly_lower(chol, k);
      const auto to_r = [k](const std::vector<double>& free) {
        std::vector<double> l(k * k, 0.0);
        l[0] = 1.0;
        std::size_t m = 0;
        for (std::size_t i = 1; i < k; ++i) {
          double sum_sqs = 0.0;
          for (std::size_t j = 0; j < i; ++j, ++m) {
            l[i * k + j] = free[m];
            sum_sqs += free[m] * free[m];
          }
          l[i * k + i] = std::sqrt(1.0 - sum_sqs);
        }
        const Eigen::MatrixXd r = corr_of(l, k);
        std::vector<double> out;
        for (Eigen::Index i = 1; i < r.rows(); ++i) {
          for (Eigen::Index j = 0; j < i; ++j) out.push_back(r(i, j));
        }
        return out;
      };
      const double log_jacobian_l_to_r = log_abs_det(numerical_jacobian(to_r, x, 1e-4));
      const double log_det_r = std::log(corr_of(chol, k).determinant());
      for (double eta : {0.5, 1.0, 2.0, 3.7}) {
        const double expected = (eta - 1.0) * log_det_r + log_jacobian_l_to_r;
        const double actual = lkj_cholesky_log_density(chol.data(), k, eta);
        EXPECT_LT(scaled_error(actual, expected), test::gradient_rel)
            << "k=" << k << " eta=" << eta << ": " << actual << " vs " << expected;
      }
    }
  }
}

TEST(CholeskyCorr, BackwardMatchesFiniteDifferences) {
  // f(y) = log Jacobian(y) + Σ W_ij L_ij(y) + lkj(L(y)), so every path of the backward pass
  // (through the CPCs, the running sums and the diagonal) is exercised.
  std::mt19937_64 rng(41);
  for (std::size_t k = 2; k <= 5; ++k) {
    for (int draw = 0; draw < 4; ++draw) {
      const auto y = random_vector(n_cpc(k), 1.3, rng);
      const auto w = random_vector(k * k, 1.0, rng);
      const double eta = 0.5 + draw;  // 0.5, 1.5, 2.5, 3.5
      const auto f = [&](const std::vector<double>& yy) {
        double lj = 0.0;
        const auto chol = constrain(yy, k, &lj);
        double lin = 0.0;
        for (std::size_t i = 0; i < k; ++i) {
          for (std::size_t j = 0; j <= i; ++j) lin += w[i * k + j] * chol[i * k + j];
        }
        return std::vector<double>{lj + lin + lkj_cholesky_log_density(chol.data(), k, eta)};
      };
      const auto chol = constrain(y, k);
      std::vector<double> g_chol(k * k, 0.0);
      for (std::size_t i = 0; i < k; ++i) {
        for (std::size_t j = 0; j <= i; ++j) g_chol[i * k + j] = w[i * k + j];
      }
      lkj_cholesky_gradient(chol.data(), k, eta, g_chol.data());
      // The backward pass adds to grad_y: start from a known offset.
      std::vector<double> grad(n_cpc(k), 10.0);
      cholesky_corr_backward(y.data(), k, chol.data(), g_chol.data(), grad.data());
      const Eigen::MatrixXd numerical = numerical_jacobian(f, y, 1e-3);
      for (std::size_t m = 0; m < grad.size(); ++m) {
        const double fd = numerical(0, static_cast<Eigen::Index>(m));
        EXPECT_LT(scaled_error(grad[m] - 10.0, fd), test::gradient_rel)
            << "k=" << k << " cpc " << m << ": analytic " << grad[m] - 10.0 << ", numerical "
            << fd;
      }
    }
  }
}

TEST(CholeskyCorr, LkjGradientTouchesOnlyTheDiagonal) {
  std::mt19937_64 rng(5);
  for (std::size_t k = 2; k <= 5; ++k) {
    const auto chol = constrain(random_vector(n_cpc(k), 1.0, rng), k);
    std::vector<double> g(k * k, 0.0);
    const double eta = 2.3;
    lkj_cholesky_gradient(chol.data(), k, eta, g.data());
    for (std::size_t i = 0; i < k; ++i) {
      for (std::size_t j = 0; j < k; ++j) {
        if (i != j) {
          EXPECT_EQ(g[i * k + j], 0.0);
          continue;
        }
        // d/dL_ii of the documented sum, by differences in L_ii alone.
        const double h = 1e-5 * chol[i * k + i];
        auto at = [&](double delta) {
          std::vector<double> l = chol;
          l[i * k + i] += delta;
          return lkj_cholesky_log_density(l.data(), k, eta);
        };
        const double fd = (at(h) - at(-h)) / (2 * h);
        EXPECT_LT(scaled_error(g[i * k + i], fd), test::gradient_rel) << "k=" << k << " i=" << i;
      }
    }
  }
}

}  // namespace
}  // namespace hbglm
