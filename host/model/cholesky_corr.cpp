#include "model/cholesky_corr.hpp"

#include <cmath>

namespace hbglm::detail {

double cholesky_corr_constrain(const double* y, std::size_t k, double* chol) {
  double log_jacobian = 0.0;
  for (std::size_t i = 0; i < k * k; ++i) chol[i] = 0.0;
  chol[0] = 1.0;
  std::size_t m = 0;
  for (std::size_t i = 1; i < k; ++i) {
    double sum_sqs = 0.0;
    for (std::size_t j = 0; j < i; ++j, ++m) {
      const double cpc = std::tanh(y[m]);
      log_jacobian += std::log1p(-cpc * cpc);  // d tanh / dy
      // Row i of L is the CPCs scaled by the length left in the unit row: L_ij = cpc ·
      // sqrt(1 - Σ_{l<j} L_il²), with Jacobian factor sqrt(1 - Σ) for j ≥ 1 (zero at j = 0).
      const double remaining = 1.0 - sum_sqs;
      log_jacobian += 0.5 * std::log(remaining);
      chol[i * k + j] = cpc * std::sqrt(remaining);
      sum_sqs += chol[i * k + j] * chol[i * k + j];
    }
    chol[i * k + i] = std::sqrt(1.0 - sum_sqs);
  }
  return log_jacobian;
}

void cholesky_corr_backward(const double* y, std::size_t k, const double* chol,
                            const double* g_chol, double* grad_y) {
  // Reverse mode through each row: s_j = Σ_{l<j} L_il², L_ij = cpc_j sqrt(1 - s_j),
  // L_ii = sqrt(1 - s_i), with log Jacobian terms 0.5 log(1 - s_j) and log(1 - cpc_j²).
  std::size_t row_start = 0;
  for (std::size_t i = 1; i < k; ++i) {
    // Recompute the running sums s_0 .. s_i for this row.
    std::vector<double> s(i + 1, 0.0);
    for (std::size_t j = 0; j < i; ++j) s[j + 1] = s[j] + chol[i * k + j] * chol[i * k + j];
    const double l_ii = chol[i * k + i];
    double g_s = -0.5 * g_chol[i * k + i] / l_ii;  // adjoint of s_i through L_ii
    for (std::size_t jj = i; jj-- > 0;) {
      const std::size_t m = row_start + jj;
      const double cpc = std::tanh(y[m]);
      const double root = std::sqrt(1.0 - s[jj]);
      // s_{j+1} = s_j + L_ij²
      const double g_l = g_chol[i * k + jj] + 2.0 * chol[i * k + jj] * g_s;
      // L_ij = cpc · root(s_j);  Jacobian 0.5 log(1 - s_j)
      const double g_cpc = g_l * root;
      g_s += -0.5 * g_l * cpc / root - 0.5 / (1.0 - s[jj]);
      // cpc = tanh(y); Jacobian log(1 - cpc²): d/dy = -2 cpc
      grad_y[m] += g_cpc * (1.0 - cpc * cpc) - 2.0 * cpc;
    }
    row_start += i;
  }
}

double lkj_cholesky_log_density(const double* chol, std::size_t k, double eta) {
  double lp = 0.0;
  for (std::size_t i = 1; i < k; ++i) {
    const double coef = static_cast<double>(k - i - 1) + 2.0 * (eta - 1.0);
    lp += coef * std::log(chol[i * k + i]);
  }
  return lp;
}

void lkj_cholesky_gradient(const double* chol, std::size_t k, double eta, double* g_chol) {
  for (std::size_t i = 1; i < k; ++i) {
    const double coef = static_cast<double>(k - i - 1) + 2.0 * (eta - 1.0);
    g_chol[i * k + i] += coef / chol[i * k + i];
  }
}

}  // namespace hbglm::detail
