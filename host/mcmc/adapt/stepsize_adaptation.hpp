#pragma once
/** @file Dual averaging of log(step size) (Nesterov 2009; Hoffman & Gelman 2014, §3.2), as in
 *  stan/mcmc/stepsize_adaptation.hpp. */

namespace hbglm::mcmc {

/** Nesterov dual averaging of log(ε) toward a target mean acceptance statistic.
 *  The member defaults are the services-layer values (δ 0.8), not Stan's class members (δ 0.5). */
class stepsize_adaptation {
 public:
  stepsize_adaptation() { restart(); }

  /** μ, the point log(ε) shrinks toward; the driver sets log(10 ε). */
  void set_mu(double mu) { mu_ = mu; }
  /** δ, the target acceptance statistic (Stan ignores values outside (0, 1)). */
  void set_delta(double delta) {
    if (delta > 0 && delta < 1) delta_ = delta;
  }
  /** γ > 0, the regularization scale. */
  void set_gamma(double gamma) {
    if (gamma > 0) gamma_ = gamma;
  }
  /** κ > 0, the relaxation exponent of x̄. */
  void set_kappa(double kappa) {
    if (kappa > 0) kappa_ = kappa;
  }
  /** t0 > 0, the iteration offset that damps early iterations. */
  void set_t0(double t0) {
    if (t0 > 0) t0_ = t0;
  }

  double mu() const noexcept { return mu_; }
  double delta() const noexcept { return delta_; }
  double gamma() const noexcept { return gamma_; }
  double kappa() const noexcept { return kappa_; }
  double t0() const noexcept { return t0_; }
  double counter() const noexcept { return counter_; }
  double s_bar() const noexcept { return s_bar_; }
  double x_bar() const noexcept { return x_bar_; }

  /** Zeroes the counter, s̄ and x̄ (after every metric update). */
  void restart() noexcept {
    counter_ = 0;
    s_bar_ = 0;
    x_bar_ = 0;
  }

  /** One dual-averaging update.
   *  @param[out] epsilon the new nominal step size exp(x)
   *  @param[in] accept_stat the transition's accept_stat, capped at 1 */
  void learn_stepsize(double& epsilon, double accept_stat);

  /** The final step size exp(x̄), at the end of warmup.
   *  @param[out] epsilon the adapted nominal step size */
  void complete_adaptation(double& epsilon) const;

 private:
  double counter_ = 0;  ///< adaptation iteration
  double s_bar_ = 0;    ///< running average of δ - accept_stat
  double x_bar_ = 0;    ///< running average of log ε
  double mu_ = 0.5;     ///< shrinkage target of log ε (the driver sets log(10 ε0))
  double delta_ = 0.8;
  double gamma_ = 0.05;
  double kappa_ = 0.75;
  double t0_ = 10;
};

}  // namespace hbglm::mcmc
