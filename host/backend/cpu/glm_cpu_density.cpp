#include "backend/cpu/glm_cpu_density.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/glm_family.cuh"
#include "kernels/group_effects.cuh"

namespace hbglm::detail {
namespace {

kernels::glm_family_id family_id(family f) {
  switch (f) {
    case family::gaussian: return kernels::glm_family_id::gaussian_identity;
    case family::bernoulli: return kernels::glm_family_id::bernoulli_logit;
    case family::binomial: return kernels::glm_family_id::binomial_logit;
    case family::poisson: return kernels::glm_family_id::poisson_log;
  }
  return kernels::glm_family_id::gaussian_identity;
}

/// The pass over observations, instantiated per family so the family switch is outside the loop,
/// and per row length: Z's rows all hold K entries (one per coefficient of each group-level
/// term) and for K up to max_fixed_row_length the inner loops have a compile-time trip count
/// (unrolled, without per-row loop control: 1.14× the gradients per second on InstEval's K = 3
/// rows, 1.0-1.04× on the election model's K = 9); kRowLength 0 reads each row's length from
/// row_ptr. The sums run in the same order either way (the same bits). With kUnitValues every
/// value of Z is 1 (only (1 | g) terms, e.g. lme4's InstEval) and is not read: 1 · x is x
/// exactly, so again the same bits, for 24 fewer bytes a row at three terms (InstEval: 1.3× the
/// gradients per second, session 12).
/// eta_r holds Xβ on entry. For each row i it completes η_i with (Zu)_i and the offset, evaluates
/// the family, overwrites η_i with r_i = d log p / d η_i (η_i is not read again), and scatters r_i
/// along row i of Z into g_u, which must be zero: ∇u = Zᵀr. Each sum of g_u then runs over the
/// observations in order, the order a gather along the rows of transpose(Z) would take, so no
/// copy of Zᵀ is needed. Returns Σ log p and Σ sq_residual.
template <kernels::glm_family_id F, int kRowLength, bool kUnitValues>
void observation_pass(const design& d, double sigma, const double* u, double* eta_r, double* g_u,
                      double* log_lik, double* sq_residual) {
  double lp = 0.0, sq = 0.0;
  const bool has_se = !d.se.empty();
  const csr_matrix& z = d.Z;
  for (std::size_t i = 0; i < d.n_obs; ++i) {
    const auto row_begin = kRowLength > 0 ? i * static_cast<std::size_t>(kRowLength)
                                          : static_cast<std::size_t>(z.row_ptr[i]);
    const auto row_end = kRowLength > 0 ? row_begin + static_cast<std::size_t>(kRowLength)
                                        : static_cast<std::size_t>(z.row_ptr[i + 1]);
    double zu = 0.0;
    for (std::size_t e = row_begin; e < row_end; ++e) {
      const double u_e = u[static_cast<std::size_t>(z.col_idx[e])];
      zu += kUnitValues ? u_e : z.values[e] * u_e;
    }
    const double eta = eta_r[i] + (zu + (d.offset.empty() ? 0.0 : d.offset[i]));
    const double trials = d.trials.empty() ? 0.0 : d.trials[i];
    const double scale = has_se ? d.se[i] : sigma;
    const kernels::glm_observation_terms t = kernels::glm_observation(F, d.y[i], eta, trials,
                                                                      scale);
    lp += t.log_lik;
    sq += t.sq_residual;
    eta_r[i] = t.d_eta;
    for (std::size_t e = row_begin; e < row_end; ++e) {
      const double g_e = kUnitValues ? t.d_eta : z.values[e] * t.d_eta;
      g_u[static_cast<std::size_t>(z.col_idx[e])] += g_e;
    }
  }
  *log_lik = lp;
  *sq_residual = sq;
}

/// Rows of Z with a compile-time length: 1 to this many entries (the election model has 9).
constexpr int max_fixed_row_length = 10;

/// Every row's length when all of Z's rows have the same one (then row_ptr[i] = i K), else 0.
std::size_t uniform_row_length(const csr_matrix& z, std::size_t n_rows) {
  if (n_rows == 0) return 0;
  const auto k = static_cast<std::size_t>(z.row_ptr[1] - z.row_ptr[0]);
  for (std::size_t i = 0; i <= n_rows; ++i) {
    if (static_cast<std::size_t>(z.row_ptr[i]) != i * k) return 0;
  }
  return k;
}

/// Whether every value of Z is 1, as when every group-level term is a (1 | g).
bool all_values_one(const csr_matrix& z) {
  return std::all_of(z.values.begin(), z.values.end(), [](double v) { return v == 1.0; });
}

/// observation_pass for family F with the row length given at run time (0: per row); unit values
/// only with a fixed row length (the constructor asks for both).
template <kernels::glm_family_id F, int kLength = max_fixed_row_length>
void observation_pass_of_length(std::size_t row_length, bool unit_values, const design& d,
                                double sigma, const double* u, double* eta_r, double* g_u,
                                double* log_lik, double* sq_residual) {
  if constexpr (kLength == 0) {
    observation_pass<F, 0, false>(d, sigma, u, eta_r, g_u, log_lik, sq_residual);
  } else {
    if (row_length == static_cast<std::size_t>(kLength)) {
      if (unit_values) {
        observation_pass<F, kLength, true>(d, sigma, u, eta_r, g_u, log_lik, sq_residual);
      } else {
        observation_pass<F, kLength, false>(d, sigma, u, eta_r, g_u, log_lik, sq_residual);
      }
    } else {
      observation_pass_of_length<F, kLength - 1>(row_length, unit_values, d, sigma, u, eta_r,
                                                 g_u, log_lik, sq_residual);
    }
  }
}

}  // namespace

glm_cpu_density::glm_cpu_density(std::shared_ptr<const model> m) : model_(std::move(m)) {
  const design& d = model_->data();
  eta_r_.resize(d.n_obs);
  u_.resize(d.n_u);
  g_u_.resize(d.n_u);
  row_length_ = uniform_row_length(d.Z, d.n_obs);
  unit_values_ = row_length_ > 0 && all_values_one(d.Z);
}

double glm_cpu_density::log_density_grad(const double* q, double* grad) const {
  const model& m = *model_;
  const design& d = m.data();
  const std::size_t n = d.n_obs, p = d.n_coefs();
  std::fill(grad, grad + m.dim(), 0.0);

  m.globals_forward(q, values_);
  double lp = values_.log_prior_jacobian + m.log_density_constant();
  if (!std::isfinite(lp)) return -std::numeric_limits<double>::infinity();

  // u_t[j] = diag(sd_t) L_t z_t[j] (non-centered) or q's entries less their means (centered).
  const auto& terms = m.terms();
  m.group_effects_forward(q, values_, u_.data());

  // Xβ into eta_r; the observation pass adds Zu and the offset.
  Eigen::Map<const Eigen::MatrixXd> x(d.X.data(), static_cast<Eigen::Index>(n),
                                      static_cast<Eigen::Index>(p));
  Eigen::Map<Eigen::VectorXd> x_beta(eta_r_.data(), static_cast<Eigen::Index>(n));
  // Xβ in panels of 8 columns: Eigen's column-major gemv streams every column at once below 128
  // columns, more read streams than the prefetcher follows (3× slower than Xᵀr at p = 48;
  // bench/grad_eval --profile).
  Eigen::Map<const Eigen::VectorXd> beta(values_.beta.data(), static_cast<Eigen::Index>(p));
  x_beta.setZero();
  constexpr Eigen::Index panel = 8;
  for (Eigen::Index j = 0; j < static_cast<Eigen::Index>(p); j += panel) {
    const Eigen::Index w = std::min(panel, static_cast<Eigen::Index>(p) - j);
    x_beta.noalias() += x.middleCols(j, w) * beta.segment(j, w);
  }

  // η, the likelihood, r = d log p / d η (in eta_r) and ∇u = Zᵀr, in one pass.
  std::fill(g_u_.begin(), g_u_.end(), 0.0);
  double log_lik = 0.0, sq_residual = 0.0;
  switch (family_id(d.family)) {
    case kernels::glm_family_id::gaussian_identity:
      observation_pass_of_length<kernels::glm_family_id::gaussian_identity>(
          row_length_, unit_values_, d, values_.sigma, u_.data(), eta_r_.data(), g_u_.data(),
          &log_lik, &sq_residual);
      break;
    case kernels::glm_family_id::bernoulli_logit:
      observation_pass_of_length<kernels::glm_family_id::bernoulli_logit>(
          row_length_, unit_values_, d, values_.sigma, u_.data(), eta_r_.data(), g_u_.data(),
          &log_lik, &sq_residual);
      break;
    case kernels::glm_family_id::binomial_logit:
      observation_pass_of_length<kernels::glm_family_id::binomial_logit>(
          row_length_, unit_values_, d, values_.sigma, u_.data(), eta_r_.data(), g_u_.data(),
          &log_lik, &sq_residual);
      break;
    case kernels::glm_family_id::poisson_log:
      observation_pass_of_length<kernels::glm_family_id::poisson_log>(
          row_length_, unit_values_, d, values_.sigma, u_.data(), eta_r_.data(), g_u_.data(),
          &log_lik, &sq_residual);
      break;
  }
  lp += log_lik;
  grads_.sigma = 0.0;
  if (m.has_sigma()) {
    // log p has -n log sigma beyond the per-observation part; d/dsigma = (Σ z² - n) / sigma.
    lp -= static_cast<double>(n) * std::log(values_.sigma);
    grads_.sigma = (sq_residual - static_cast<double>(n)) / values_.sigma;
  }
  if (!std::isfinite(lp)) return -std::numeric_limits<double>::infinity();

  // ∇β = Xᵀr.
  grads_.beta.resize(p);
  Eigen::Map<const Eigen::VectorXd> r(eta_r_.data(), static_cast<Eigen::Index>(n));
  if (p > 0) {
    Eigen::Map<Eigen::VectorXd>(grads_.beta.data(), static_cast<Eigen::Index>(p)).noalias() =
        x.transpose() * r;
  }

  // Chain rule to q's group entries, sd and L, with the group effects' prior.
  grads_.sd.assign(values_.sd.size(), 0.0);
  grads_.level_means.assign(values_.sd.size(), 0.0);
  grads_.chol_corr.resize(terms.size());
  // Absorbing terms first: the gradient of their per-level mean goes to the absorbed slopes'
  // u (∂mean/∂u_s[j] = x_sj), whose own pass then reads it beside Zᵀr, and to the absorbed
  // coefficients (∂mean/∂b_a = x_aj).
  for (const bool absorbing : {true, false}) {
    for (std::size_t t = 0; t < terms.size(); ++t) {
      const auto& tp = terms[t];
      if (tp.absorbs() != absorbing) continue;
      const auto& block = d.terms[t];
      const int k = static_cast<int>(tp.k);
      const std::size_t sd0 = tp.first_sd - d.n_coefs();
      grads_.chol_corr[t].assign(tp.k * tp.k, 0.0);
      if (k == 1 && tp.n_centered == 0 && !absorbing) {
        // The common non-centered (1 | g): group_level_backward at k = 1 (its products, with L's
        // one entry, 1, left out: 1 · x is x; its sums over k start from 0, which changes at most
        // the sign of a zero) in a loop without the per-level call (model::group_effects_forward
        // has the forward half). Here rather than as a k = 1 branch inside the shared kernel
        // functions: that branch, tried, gave grouseticks 183,000 gradients per second against
        // 251,000 for this loop and 125,000 for neither (session 11).
        const double sd = values_.sd[sd0];
        const double* z = q + tp.z_q_index;
        const double* g_u = g_u_.data() + block.u_offset;
        double* g_z = grad + tp.z_q_index;
        double& g_sd = grads_.sd[sd0];
        for (std::size_t j = 0; j < block.n_levels; ++j) {
          g_sd += g_u[j] * z[j];
          g_z[j] = sd * g_u[j] - z[j];
          lp -= 0.5 * (z[j] * z[j]);
        }
        continue;
      }
      double* g_chol = tp.correlated ? grads_.chol_corr[t].data() : nullptr;
      // An absorbing term's level means and their gradient, level by level.
      double level_means[kernels::max_centered_k], g_level_means[kernels::max_centered_k];
      for (std::size_t j = 0; j < block.n_levels; ++j) {
        const std::size_t level = tp.z_q_index + j * tp.k;
        if (absorbing) {
          m.absorbing_level_means(t, j, values_, u_.data(), level_means);
          std::fill(g_level_means, g_level_means + tp.k, 0.0);
        }
        lp -= 0.5 * kernels::group_level_backward(
                        k, static_cast<int>(tp.n_centered), values_.sd.data() + sd0,
                        values_.chol_corr[t].data(),
                        absorbing ? level_means : values_.level_means.data() + sd0, q + level,
                        g_u_.data() + block.u_offset + j * tp.k, grad + level,
                        grads_.sd.data() + sd0, g_chol,
                        absorbing ? g_level_means : grads_.level_means.data() + sd0);
        if (!absorbing) continue;
        for (std::size_t c = 0; c < tp.k; ++c) grads_.level_means[sd0 + c] += g_level_means[c];
        // The Intercept's (coefficient 0) mean reads the absorbed slopes and coefficients.
        const double g_intercept_mean = g_level_means[0];
        for (const auto& slope : tp.absorbed) {
          g_u_[d.terms[slope.term].u_offset + j] += slope.level_values[j] * g_intercept_mean;
        }
        // The data's part of Xᵀr for an absorbed coefficient cancels against this (they see
        // u[j] + x_aj b_a = q - m); its prior part is what remains.
        for (const auto& coefficient : tp.absorbed_coefficients) {
          grads_.beta[coefficient.coefficient] += coefficient.level_values[j] * g_intercept_mean;
        }
      }
    }
  }
  m.globals_backward(q, values_, grads_, grad);
  return lp;
}

std::unique_ptr<backend> make_cpu_backend(std::shared_ptr<const model> m) {
  return std::make_unique<cpu_backend>(std::make_shared<glm_cpu_density>(std::move(m)));
}

}  // namespace hbglm::detail
