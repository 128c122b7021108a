#include "mcmc/adapt/metric_adaptation.hpp"

#include <string>

#include "hbglm/error.hpp"

namespace hbglm::mcmc {
namespace {

const char* const overflow_message =
    "Numerical overflow in metric adaptation. This occurs when the sampler encounters extreme "
    "values on the unconstrained space; this may happen when the posterior density function is "
    "too wide or improper. There may be problems with your model specification.";

}  // namespace

void regularize_variance(Eigen::Ref<Eigen::VectorXd> var, double n) {
  var = (n / (n + 5.0)) * var +
        1e-3 * (5.0 / (n + 5.0)) * Eigen::VectorXd::Ones(var.size());
  if (!var.allFinite()) throw hbglm::error(overflow_message);
}

void regularize_covariance(Eigen::Ref<Eigen::MatrixXd> covar, double n) {
  covar = (n / (n + 5.0)) * covar +
          1e-3 * (5.0 / (n + 5.0)) * Eigen::MatrixXd::Identity(covar.rows(), covar.cols());
  if (!covar.allFinite()) throw hbglm::error(overflow_message);
}

namespace {

std::size_t checked_n_dense(std::size_t dim, std::size_t n_dense) {
  if (n_dense > dim) throw hbglm::error("metric_adaptation: n_dense exceeds the dimension");
  return n_dense;
}

}  // namespace

metric_adaptation::metric_adaptation(std::size_t dim, std::size_t n_dense)
    : windowed_adaptation("metric"),
      dim_(dim),
      n_dense_(checked_n_dense(dim, n_dense)),
      covar_estimator_(n_dense_),
      var_estimator_(dim_ - n_dense_) {}

// stan/mcmc/var_adaptation.hpp learn_variance and covar_adaptation.hpp learn_covariance, applied
// to the two blocks with a shared window.
bool metric_adaptation::learn_metric(detail::inv_metric& metric, const double* q) {
  const auto nd = static_cast<Eigen::Index>(n_dense_);
  const auto n_diag = static_cast<Eigen::Index>(dim_ - n_dense_);
  if (metric.n_dense != n_dense_ || metric.dense.size() != n_dense_ * n_dense_ ||
      metric.diag.size() != dim_ - n_dense_) {
    throw hbglm::error("metric_adaptation: inverse metric sizes do not match");
  }

  if (adaptation_window()) {
    if (nd > 0) covar_estimator_.add_sample(Eigen::Map<const Eigen::VectorXd>(q, nd));
    if (n_diag > 0) var_estimator_.add_sample(Eigen::Map<const Eigen::VectorXd>(q + nd, n_diag));
  }

  if (end_adaptation_window()) {
    compute_next_window();

    // Both estimators saw the same draws; with no dense block the count comes from the other one.
    const double n = nd > 0 ? covar_estimator_.num_samples() : var_estimator_.num_samples();
    if (nd > 0) {
      Eigen::Map<Eigen::MatrixXd> dense(metric.dense.data(), nd, nd);
      Eigen::MatrixXd covar = dense;
      covar_estimator_.sample_covariance(covar);
      // M2 += (x - new mean) δᵀ is symmetric only up to rounding; make it exactly symmetric so
      // that every backend's factorization sees the same matrix whichever triangle it reads.
      covar = 0.5 * (covar + covar.transpose()).eval();
      regularize_covariance(covar, n);
      dense = covar;
    }
    if (n_diag > 0) {
      Eigen::Map<Eigen::VectorXd> diag(metric.diag.data(), n_diag);
      var_estimator_.sample_variance(diag);
      regularize_variance(diag, n);
    }
    last_window_num_samples_ = n;

    covar_estimator_.restart();
    var_estimator_.restart();
    advance();
    return true;
  }

  advance();
  return false;
}

}  // namespace hbglm::mcmc
