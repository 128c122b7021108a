#pragma once
/** @file Welford's streaming mean and variance, as in stan-dev/math
 *  stan/math/prim/fun/welford_var_estimator.hpp. */

#include <Eigen/Core>
#include <cstddef>

namespace hbglm::mcmc {

/** Streaming elementwise mean and sample variance (n - 1 denominator). */
class welford_var_estimator {
 public:
  /** @param[in] n the vector length */
  explicit welford_var_estimator(std::size_t n)
      : m_(Eigen::VectorXd::Zero(static_cast<Eigen::Index>(n))),
        m2_(Eigen::VectorXd::Zero(static_cast<Eigen::Index>(n))) {}

  /** Forgets every sample. */
  void restart() {
    num_samples_ = 0;
    m_.setZero();
    m2_.setZero();
  }

  /** Adds one sample: mean += δ/n; M2 += δ ⊙ (x - new mean).
   *  @param[in] q length n */
  void add_sample(const Eigen::Ref<const Eigen::VectorXd>& q) {
    ++num_samples_;
    const Eigen::VectorXd delta = q - m_;
    m_ += delta / num_samples_;
    m2_ += delta.cwiseProduct(q - m_);
  }

  double num_samples() const noexcept { return num_samples_; }

  /** @param[out] mean the running mean */
  void sample_mean(Eigen::VectorXd& mean) const { mean = m_; }

  /** The sample variance M2 / (n - 1); leaves @p var unchanged when n ≤ 1 (as Stan does).
   *  @param[in,out] var length n */
  void sample_variance(Eigen::Ref<Eigen::VectorXd> var) const {
    if (num_samples_ > 1) var = m2_ / (num_samples_ - 1.0);
  }

 private:
  double num_samples_ = 0;
  Eigen::VectorXd m_;
  Eigen::VectorXd m2_;
};

}  // namespace hbglm::mcmc
