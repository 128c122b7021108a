#include "mcmc/adapt/stepsize_adaptation.hpp"

#include <cmath>

namespace hbglm::mcmc {

// stan/mcmc/stepsize_adaptation.hpp learn_stepsize, line for line.
void stepsize_adaptation::learn_stepsize(double& epsilon, double accept_stat) {
  ++counter_;
  accept_stat = accept_stat > 1 ? 1 : accept_stat;

  const double eta = 1.0 / (counter_ + t0_);
  s_bar_ = (1.0 - eta) * s_bar_ + eta * (delta_ - accept_stat);

  const double x = mu_ - s_bar_ * std::sqrt(counter_) / gamma_;
  const double x_eta = std::pow(counter_, -kappa_);
  x_bar_ = (1.0 - x_eta) * x_bar_ + x_eta * x;

  epsilon = std::exp(x);
}

void stepsize_adaptation::complete_adaptation(double& epsilon) const { epsilon = std::exp(x_bar_); }

}  // namespace hbglm::mcmc
