#pragma once
/** @file Welford's streaming mean and covariance, as in stan-dev/math
 *  stan/math/prim/fun/welford_covar_estimator.hpp. */

#include <Eigen/Core>
#include <cstddef>

namespace hbglm::mcmc {

/** Streaming mean and sample covariance (n - 1 denominator). */
class welford_covar_estimator {
 public:
  /** @param[in] n the vector length */
  explicit welford_covar_estimator(std::size_t n)
      : m_(Eigen::VectorXd::Zero(static_cast<Eigen::Index>(n))),
        m2_(Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(n))) {}

  /** Forgets every sample. */
  void restart() {
    num_samples_ = 0;
    m_.setZero();
    m2_.setZero();
  }

  /** Adds one sample: mean += δ/n; M2 += (x - new mean) δᵀ.
   *  @param[in] q length n */
  void add_sample(const Eigen::Ref<const Eigen::VectorXd>& q) {
    ++num_samples_;
    const Eigen::VectorXd delta = q - m_;
    m_ += delta / num_samples_;
    m2_.noalias() += (q - m_) * delta.transpose();
  }

  double num_samples() const noexcept { return num_samples_; }

  /** @param[out] mean the running mean */
  void sample_mean(Eigen::VectorXd& mean) const { mean = m_; }

  /** The sample covariance M2 / (n - 1); leaves @p covar unchanged when n ≤ 1 (as Stan does).
   *  @param[in,out] covar n × n */
  void sample_covariance(Eigen::Ref<Eigen::MatrixXd> covar) const {
    if (num_samples_ > 1) covar = m2_ / (num_samples_ - 1.0);
  }

 private:
  double num_samples_ = 0;
  Eigen::VectorXd m_;
  Eigen::MatrixXd m2_;
};

}  // namespace hbglm::mcmc
