#pragma once
/** @file Windowed estimation of the inverse metric: Stan's var_adaptation (diagonal) and
 *  covar_adaptation (dense) in one class, plus the block case dense over the first n_dense
 *  coordinates and diagonal over the rest (metric_kind::dense_diag). */

#include <Eigen/Core>
#include <cstddef>

#include "backend/backend.hpp"
#include "mcmc/adapt/welford_covar_estimator.hpp"
#include "mcmc/adapt/welford_var_estimator.hpp"
#include "mcmc/adapt/windowed_adaptation.hpp"

namespace hbglm::mcmc {

/** Shrinks a window's variances toward 1e-3: var ← (n/(n+5))·var + 1e-3·(5/(n+5))
 *  (stan/mcmc/var_adaptation.hpp).
 *  @param[in,out] var the sample variances
 *  @param[in] n the number of draws in the window
 *  @throws hbglm::error "Numerical overflow in metric adaptation" if a result is not finite. */
void regularize_variance(Eigen::Ref<Eigen::VectorXd> var, double n);

/** Shrinks a window's covariance toward 1e-3·I: Σ ← (n/(n+5))·Σ + 1e-3·(5/(n+5))·I
 *  (stan/mcmc/covar_adaptation.hpp).
 *  @param[in,out] covar the sample covariance
 *  @param[in] n the number of draws in the window
 *  @throws hbglm::error "Numerical overflow in metric adaptation" if a result is not finite. */
void regularize_covariance(Eigen::Ref<Eigen::MatrixXd> covar, double n);

/** Learns the inverse metric over Stan's warmup windows. Each closed window's regularized sample
 *  (co)variance becomes the inverse metric directly, and the estimators restart (windows are
 *  memoryless). */
class metric_adaptation : public windowed_adaptation {
 public:
  /** @param[in] dim the number of parameters
   *  @param[in] n_dense the size of the dense block (0: diagonal, dim: dense) */
  metric_adaptation(std::size_t dim, std::size_t n_dense);

  /** One warmup iteration (Stan's learn_variance / learn_covariance): adds @p q to the estimators
   *  inside a window, and at a window's end stores the regularized estimate in @p metric.
   *  @param[in,out] metric the inverse metric; its sizes must match (dim, n_dense)
   *  @param[in] q the draw after this iteration's transition, dim doubles
   *  @return true when @p metric was updated
   *  @throws hbglm::error "Numerical overflow in metric adaptation" on non-finite estimates. */
  bool learn_metric(detail::inv_metric& metric, const double* q);

  std::size_t dim() const noexcept { return dim_; }
  std::size_t n_dense() const noexcept { return n_dense_; }
  /** Draws the last closed window held (0 before the first closes). */
  double last_window_num_samples() const noexcept { return last_window_num_samples_; }

 private:
  std::size_t dim_;
  std::size_t n_dense_;
  welford_covar_estimator covar_estimator_;  ///< over the first n_dense coordinates
  welford_var_estimator var_estimator_;      ///< over the remaining dim - n_dense
  double last_window_num_samples_ = 0;
};

}  // namespace hbglm::mcmc
