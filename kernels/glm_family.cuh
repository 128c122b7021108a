#pragma once
/** @file Per-observation GLM math shared by both backends: the parameter-dependent part of
 *  log p(y_i | eta_i) and its derivative r_i = d log p / d eta_i. Terms that do not depend on the
 *  parameters (log binomial coefficients, lgamma(y+1), -log(2π)/2, -log se_i) are summed once per
 *  data set by the host (see model::log_likelihood_constant), not per evaluation. Adding a family
 *  is a local change: a function here, a case in glm_observation, and its constant. */

#include <cmath>

#include "host_device.cuh"

namespace hbglm::kernels {

/** The family and link of the response. */
enum class glm_family_id : int { gaussian_identity = 0, bernoulli_logit = 1, binomial_logit = 2,
                                 poisson_log = 3 };

/** One observation's contribution. */
struct glm_observation_terms {
  double log_lik;       ///< parameter-dependent part of log p(y | eta)
  double d_eta;         ///< d log p / d eta
  double sq_residual;   ///< gaussian: ((y - eta)/sigma)², for the gradient in sigma; else 0
};

/** log(1 + exp(x)) without overflow: for x > 0 it is x + log1p(exp(-x)), exact to rounding. */
HBGLM_HOST_DEVICE inline double log1p_exp(double x) {
  return x > 0.0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

/** 1 / (1 + exp(-x)) without overflow. */
HBGLM_HOST_DEVICE inline double inv_logit(double x) {
  if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
  const double e = exp(x);
  return e / (1.0 + e);
}

/** Gaussian, identity link, standard deviation sigma (the model's sigma or the known se_i),
 *  given as @p inv_sigma = 1 / sigma: log p = -((y-eta)/sigma)²/2 [- log sigma - log(2π)/2,
 *  added elsewhere]. The inverse because callers form 1 / sigma once for all rows: two
 *  divisions a row cost the CPU about 9% of InstEval's gradient (session 14). */
HBGLM_HOST_DEVICE inline glm_observation_terms glm_gaussian_identity(double y, double eta,
                                                                     double inv_sigma) {
  const double z = (y - eta) * inv_sigma;
  return {-0.5 * z * z, z * inv_sigma, z * z};
}

/** log(1 + e^eta) and inv_logit(eta) from one exponential, e = exp(-|eta|) (never overflows):
 *  log1p_exp = max(eta, 0) + log1p(e); inv_logit = 1/(1+e) for eta ≥ 0, e/(1+e) otherwise. The
 *  same values, bit for bit, as log1p_exp() and inv_logit() above, at half the exp() calls. */
struct logit_terms {
  double log1p_exp;
  double inv_logit;
};
HBGLM_HOST_DEVICE inline logit_terms logit_terms_of(double eta) {
  const double e = exp(-fabs(eta));
  if (eta >= 0.0) return {eta + log1p(e), 1.0 / (1.0 + e)};
  return {log1p(e), e / (1.0 + e)};
}

/** Bernoulli, logit link: log p = y·eta - log(1 + e^eta). */
HBGLM_HOST_DEVICE inline glm_observation_terms glm_bernoulli_logit(double y, double eta) {
  const logit_terms t = logit_terms_of(eta);
  return {y * eta - t.log1p_exp, y - t.inv_logit, 0.0};
}

/** Binomial with @p trials, logit link: log p = y·eta - n·log(1 + e^eta) [+ log C(n, y)]. */
HBGLM_HOST_DEVICE inline glm_observation_terms glm_binomial_logit(double y, double trials,
                                                                  double eta) {
  const logit_terms t = logit_terms_of(eta);
  return {y * eta - trials * t.log1p_exp, y - trials * t.inv_logit, 0.0};
}

/** Poisson, log link: log p = y·eta - e^eta [- lgamma(y + 1)]. */
HBGLM_HOST_DEVICE inline glm_observation_terms glm_poisson_log(double y, double eta) {
  const double mu = exp(eta);
  return {y * eta - mu, y - mu, 0.0};
}

/** Dispatch on the family. @p trials is used by binomial; @p inv_sigma (1 / sigma or 1 / se_i)
 *  by gaussian. */
HBGLM_HOST_DEVICE inline glm_observation_terms glm_observation(glm_family_id family, double y,
                                                               double eta, double trials,
                                                               double inv_sigma) {
  switch (family) {
    case glm_family_id::gaussian_identity: return glm_gaussian_identity(y, eta, inv_sigma);
    case glm_family_id::bernoulli_logit: return glm_bernoulli_logit(y, eta);
    case glm_family_id::binomial_logit: return glm_binomial_logit(y, trials, eta);
    case glm_family_id::poisson_log: return glm_poisson_log(y, eta);
  }
  return {NAN, NAN, NAN};
}

}  // namespace hbglm::kernels
