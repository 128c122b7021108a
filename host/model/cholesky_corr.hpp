#pragma once
/** @file Stan's transform from k(k-1)/2 unconstrained reals to the Cholesky factor of a k×k
 *  correlation matrix (canonical partial correlations through tanh; stan/math
 *  cholesky_corr_constrain), its log Jacobian, the LKJ prior on the factor
 *  (lkj_corr_cholesky_lpdf without its normalizing constant), and their gradients. */

#include <cstddef>
#include <vector>

namespace hbglm::detail {

/** L (k×k, row-major, lower) from y; returns the log Jacobian. CPCs are taken row by row:
 *  (1,0), (2,0), (2,1), (3,0), ... as in Stan. */
double cholesky_corr_constrain(const double* y, std::size_t k, double* chol);

/** Adds to grad_y the gradient of (log Jacobian + f(L)) in y, given g_chol = ∂f/∂L (k×k,
 *  row-major, the lower part read). @p y and @p chol as in and from cholesky_corr_constrain. */
void cholesky_corr_backward(const double* y, std::size_t k, const double* chol,
                            const double* g_chol, double* grad_y);

/** LKJ(eta) log density of the correlation matrix L Lᵀ in terms of L, without the normalizing
 *  constant: Σ_{i=1}^{k-1} (k - i - 1 + 2(eta - 1)) log L[i][i]. */
double lkj_cholesky_log_density(const double* chol, std::size_t k, double eta);

/** Adds ∂/∂L of lkj_cholesky_log_density to g_chol (diagonal entries only). */
void lkj_cholesky_gradient(const double* chol, std::size_t k, double eta, double* g_chol);

}  // namespace hbglm::detail
