// model::initial_values_from_data: where the chains start (`--init-from data`).
//
// Stan starts every unconstrained coordinate uniform(-2, 2). On a model with 30,000 rows a
// coefficient's posterior sd is about 0.01 on q's scale, so a random start is a hundred or more
// posterior sds away on each of 48 coefficients, and the group effects' sds start anywhere in
// (0.14, 7.4) with random z: warmup's first windows are spent crossing that distance, and a
// window adapted during the crossing gives deep trees in the next (bench/README.md, session 8:
// chains' warmups ranged 12,772-86,474 leapfrog steps from the same data). Here the start is a
// rough fit that costs a few passes over the data: iteratively reweighted least squares for the
// population-level coefficients (no group effects), then four sweeps over the group-level terms in
// formula order, each fitted by least squares per level to what the others left, its sds
// by the method of moments across levels and its effects shrunk toward 0 by them (the BLUP for
// those sds), then sigma from what is left. Each chain starts at this guess plus uniform(-R, R)
// times a guessed posterior sd per coordinate, so chains still start apart.

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <limits>

#include "hbglm/model.hpp"
#include "kernels/group_effects.cuh"
#include "model/level_fits.hpp"

namespace hbglm {
namespace {

double inv_logit(double x) {
  return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
}

/** A row's weight and working response for iteratively reweighted least squares at linear
 *  predictor @p eta (offset excluded): the response linearized around eta, and the inverse of
 *  its variance (McCullagh & Nelder's z and w). */
struct working_row {
  double weight = 0.0;
  double response = 0.0;
};

working_row linearize(const design& d, std::size_t i, double eta) {
  const double offset = d.offset.empty() ? 0.0 : d.offset[i];
  const double y = d.y[i];
  switch (d.family) {
    case family::gaussian:
      return {d.se.empty() ? 1.0 : 1.0 / (d.se[i] * d.se[i]), y - offset};
    case family::bernoulli:
    case family::binomial: {
      const double trials = d.trials.empty() ? 1.0 : d.trials[i];
      // Clamped so that a separated row keeps a finite working response.
      const double p = inv_logit(std::clamp(eta + offset, -15.0, 15.0));
      const double weight = trials * p * (1.0 - p);
      if (!(weight > 0.0)) return {0.0, eta};
      return {weight, eta + (y - trials * p) / weight};
    }
    case family::poisson: {
      const double mu = std::exp(std::clamp(eta + offset, -20.0, 30.0));
      return {mu, eta + (y - mu) / mu};
    }
  }
  return {};
}

/** Rows the population-level fit reads: all of them up to this many, else as many evenly spaced.
 *  Its estimate then has about √(n / 2^18) posterior sds of error at n rows (7 at 10 million),
 *  which a chain crosses in its first iterations, and the fit costs under a second at any n. */
constexpr std::size_t max_fit_rows = std::size_t{1} << 18;

/** The population-level coefficients by IRLS on the rows of X (up to max_fit_rows of them), with
 *  the coefficients in @p fixed held at @p beta's values. @p beta holds the start and receives the
 *  fit; @p variance the diagonal of the fit's covariance (as for all n rows). Gaussian rows take
 *  one step (their weights do not move). Returns false where the fit fails, or does not converge
 *  in 25 steps (a predictor that separates bernoulli outcomes drives its coefficient off to
 *  infinity: better Stan's start than a far one). */
bool fit_population_coefficients(const design& d, const std::vector<bool>& fixed,
                                 std::vector<double>& beta, std::vector<double>& variance) {
  const std::size_t n = d.n_obs, p = d.n_coefs();
  std::vector<std::size_t> free_columns;
  for (std::size_t c = 0; c < p; ++c) {
    if (!fixed[c]) free_columns.push_back(c);
  }
  const auto n_free = static_cast<Eigen::Index>(free_columns.size());
  variance.assign(p, 0.0);
  if (n_free == 0 || n == 0) return true;
  const std::size_t m = std::min(n, max_fit_rows);
  const auto row = [&](std::size_t s) { return s * n / m; };  // evenly spaced rows
  const int max_iterations = d.family == family::gaussian ? 1 : 25;
  constexpr Eigen::Index block_rows = 256;
  Eigen::MatrixXd block(block_rows, n_free);
  Eigen::VectorXd block_response(block_rows);
  Eigen::MatrixXd gram(n_free, n_free);
  Eigen::VectorXd rhs(n_free);
  std::vector<double> next = beta;
  double response_ss = 0.0;  // Σ w z² of the working responses less the fixed columns
  for (int iteration = 0; iteration < max_iterations; ++iteration) {
    gram.setZero();
    rhs.setZero();
    response_ss = 0.0;
    Eigen::Index filled = 0;
    const auto flush = [&] {
      const auto rows = block.topRows(filled);
      gram.noalias() += rows.transpose() * rows;
      rhs.noalias() += rows.transpose() * block_response.head(filled);
      filled = 0;
    };
    for (std::size_t s = 0; s < m; ++s) {
      const std::size_t i = row(s);
      double eta = 0.0, eta_fixed = 0.0;
      for (std::size_t c = 0; c < p; ++c) {
        const double term = d.X[c * n + i] * beta[c];
        eta += term;
        if (fixed[c]) eta_fixed += term;
      }
      const working_row w = linearize(d, i, eta);
      const double root_weight = std::sqrt(w.weight);
      for (Eigen::Index a = 0; a < n_free; ++a) {
        block(filled, a) = root_weight * d.X[free_columns[static_cast<std::size_t>(a)] * n + i];
      }
      block_response(filled) = root_weight * (w.response - eta_fixed);
      response_ss += block_response(filled) * block_response(filled);
      if (++filled == block_rows) flush();
    }
    flush();
    // A ridge of 1e-10 of the mean diagonal keeps collinear or separated columns solvable.
    const double mean_diagonal = gram.trace() / static_cast<double>(n_free);
    gram.diagonal().array() += 1e-10 * std::max(mean_diagonal, 1e-300);
    const Eigen::LDLT<Eigen::MatrixXd> ldlt(gram);
    if (ldlt.info() != Eigen::Success) return false;
    const Eigen::VectorXd solution = ldlt.solve(rhs);
    if (!solution.allFinite()) return false;
    double largest_change = 0.0;
    for (Eigen::Index a = 0; a < n_free; ++a) {
      const std::size_t c = free_columns[static_cast<std::size_t>(a)];
      largest_change = std::max(largest_change, std::fabs(solution(a) - beta[c]));
      next[c] = solution(a);
    }
    beta = next;
    const bool converged = d.family == family::gaussian || largest_change < 1e-8;
    if (!converged && iteration + 1 == max_iterations) return false;
    if (converged) {
      // Covariance: φ (XᵀWX)⁻¹ for the m rows, times m/n for all n. Gaussian φ is the residual
      // variance of this fit, yᵀy - β̂ᵀXᵀy (group effects included, so on the wide side); the
      // other families' weights are already inverse variances.
      double phi = 1.0;
      if (d.family == family::gaussian && d.se.empty()) {
        const double rss = std::max(0.0, response_ss - solution.dot(rhs));
        phi = rss / std::max(1.0, static_cast<double>(m) - static_cast<double>(n_free));
      }
      const Eigen::MatrixXd inverse = ldlt.solve(Eigen::MatrixXd::Identity(n_free, n_free));
      for (Eigen::Index a = 0; a < n_free; ++a) {
        variance[free_columns[static_cast<std::size_t>(a)]] =
            phi * inverse(a, a) * static_cast<double>(m) / static_cast<double>(n);
      }
      break;
    }
  }
  return true;
}

}  // namespace

model::initial_value_guess model::initial_values_from_data() const {
  const design& d = design_;
  const std::size_t n = d.n_obs, p = n_beta_;
  initial_value_guess guess;
  guess.center = init_centers();
  guess.scale.assign(dim_, 1.0);
  if (n == 0) return guess;

  // 1. Population-level coefficients, constrained scale (design order, centered Intercept).
  std::vector<double> beta(p, 0.0);
  std::vector<bool> fixed(p, false);
  for (std::size_t s = 0; s < p; ++s) {
    if (scalars_[s].transform == scalar_transform::fixed) {
      fixed[s] = true;
      beta[s] = scalars_[s].fixed_value;
    }
  }
  if (d.has_intercept && !fixed[0]) beta[0] = intercept_init_center_;
  std::vector<double> beta_variance;
  if (!fit_population_coefficients(d, fixed, beta, beta_variance)) {
    // Stan's centers for the coefficients (scale 1 below, as beta_variance is 0).
    for (std::size_t s = 0; s < p; ++s) beta[s] = fixed[s] ? scalars_[s].fixed_value : 0.0;
    if (d.has_intercept && !fixed[0]) beta[0] = intercept_init_center_;
    beta_variance.assign(p, 0.0);
  }

  // 2. Working residuals of every row at those coefficients, with their weights.
  std::vector<double> residual(n), weight(n);
  for (std::size_t i = 0; i < n; ++i) {
    double eta = 0.0;
    for (std::size_t c = 0; c < p; ++c) eta += d.X[c * n + i] * beta[c];
    const working_row w = linearize(d, i, eta);
    weight[i] = w.weight;
    residual[i] = w.response - eta;
  }
  const bool estimate_noise = d.family == family::gaussian && d.se.empty();
  const auto pooled_noise = [&] {
    double rss = 0.0;
    for (std::size_t i = 0; i < n; ++i) rss += residual[i] * residual[i];
    return rss / std::max(1.0, static_cast<double>(n) - static_cast<double>(p));
  };

  // 3. Sweeps over the terms (backfitting): per level, least squares of the residuals that the
  //    other terms leave on the term's columns; the sds by the method of moments; the effects
  //    shrunk by them; subtracted. In the first sweep a term fitted early takes signal that
  //    belongs to later ones (the election model's respondents, fitted before the state slopes
  //    on their own covariates, took half of the slopes' sds at 30k rows); later sweeps refit
  //    each term with all the others' effects out. Four: the state slopes' sds then come to
  //    80-90% of lmer's (50% after one, 70% after two), each sweep costing a pass over Z.
  std::size_t n_sd = 0;
  for (const term_parameters& tp : terms_) n_sd += tp.k;
  std::vector<double> sd_guess(n_sd, 1.0);  // per term and coefficient
  std::vector<double> effect(d.n_u, 0.0), effect_variance(d.n_u, 1.0);
  // residual -= sign × term t's effects, row by row.
  const auto subtract_effects = [&](std::size_t t, double sign) {
    const std::size_t k = d.terms[t].n_coefs();
    const std::size_t first_entry = detail::first_entry_in_row(d, t);
    for (std::size_t i = 0; i < n; ++i) {
      const auto e0 = static_cast<std::size_t>(d.Z.row_ptr[i]) + first_entry;
      for (std::size_t a = 0; a < k; ++a) {
        residual[i] -=
            sign * d.Z.values[e0 + a] * effect[static_cast<std::size_t>(d.Z.col_idx[e0 + a])];
      }
    }
  };
  constexpr int n_sweeps = 4;
  for (int sweep = 0; sweep < n_sweeps; ++sweep) {
    for (std::size_t t = 0; t < terms_.size(); ++t) {
      const random_block& block = d.terms[t];
      const term_parameters& tp = terms_[t];
      const std::size_t k = block.n_coefs(), levels = block.n_levels;
      const auto ek = static_cast<Eigen::Index>(k);
      // Beyond 16 coefficients per level (a factor's dummies as slopes) the per-level Gram
      // matrices would take J k² doubles: such a term keeps Stan's start (sd 1, effects 0).
      if (k > static_cast<std::size_t>(kernels::max_centered_k)) continue;
      if (sweep > 0) subtract_effects(t, -1.0);  // the term's own effects back in
      // Per level least squares where the level's rows determine its k coefficients.
      const detail::level_fits fits = detail::fit_levels(d, t, residual.data(), weight.data());
      const double within_rss = fits.rss, within_dof = fits.dof;
      // φ: gaussian noise variance from within the levels (or all residuals); else 1, the weights
      // being inverse variances.
      double phi = 1.0;
      if (estimate_noise) phi = within_dof > 0.0 ? within_rss / within_dof : pooled_noise();
      if (!(phi > 0.0) || !std::isfinite(phi)) phi = 1.0;
      // The sds: the effects' second moment about 0 (their prior's mean) less the mean sampling
      // variance, over the determined levels; at least a tenth of a typical level's sampling sd.
      for (std::size_t c = 0; c < k; ++c) {
        double second_moment = 0.0, mean_variance = 0.0;
        std::vector<double> variances;
        for (std::size_t j = 0; j < levels; ++j) {
          if (!fits.determined[j]) continue;
          const double e = fits.estimate[j * k + c], v = phi * fits.inverse_diagonal[j * k + c];
          second_moment += e * e;
          mean_variance += v;
          variances.push_back(v);
        }
        const scalar_parameter& sd_parameter = scalars_[tp.first_sd + c];
        double sd = 1.0;
        if (variances.size() >= 2) {
          const auto count = static_cast<double>(variances.size());
          std::nth_element(variances.begin(), variances.begin() + variances.size() / 2,
                           variances.end());
          const double typical_variance = variances[variances.size() / 2];
          const double sd2 = second_moment / count - mean_variance / count;
          sd = std::sqrt(std::max(sd2, 0.01 * typical_variance));
        }
        if (sd_parameter.transform == scalar_transform::fixed) sd = sd_parameter.fixed_value;
        if (!(sd > 0.0) || !std::isfinite(sd)) sd = 1.0;
        sd_guess[tp.first_sd - n_beta_ + c] = sd;
      }
      // Every level's effects shrunk toward 0: (G/φ + D⁻²)⁻¹ Zᵀr/φ, with its posterior variance
      // (correlations left out), then taken out of the residuals.
      for (std::size_t j = 0; j < levels; ++j) {
        Eigen::MatrixXd precision =
            Eigen::Map<const Eigen::MatrixXd>(fits.gram.data() + j * k * k, ek, ek) / phi;
        for (std::size_t c = 0; c < k; ++c) {
          const double sd = sd_guess[tp.first_sd - n_beta_ + c];
          precision(static_cast<Eigen::Index>(c), static_cast<Eigen::Index>(c)) += 1.0 / (sd * sd);
        }
        const Eigen::LDLT<Eigen::MatrixXd> ldlt(precision);
        const Eigen::Map<const Eigen::VectorXd> b(fits.cross.data() + j * k, ek);
        const Eigen::VectorXd u = ldlt.solve(b / phi);
        const Eigen::VectorXd posterior_variance =
            ldlt.solve(Eigen::MatrixXd::Identity(ek, ek)).diagonal();
        if (!u.allFinite() || !posterior_variance.allFinite()) continue;
        for (std::size_t c = 0; c < k; ++c) {
          effect[block.u_offset + j * k + c] = u(static_cast<Eigen::Index>(c));
          effect_variance[block.u_offset + j * k + c] =
              posterior_variance(static_cast<Eigen::Index>(c));
        }
      }
      subtract_effects(t, 1.0);
    }
  }

  // 4. Into q: the coefficients (times their column's scale; the Intercept's coordinate less the
  //    uncentered columns' shift), the sds and sigma through their transforms, cpc at 0.
  const auto unconstrain = [](const scalar_parameter& s, double x) {
    switch (s.transform) {
      case scalar_transform::positive:
        return std::log(x);
      case scalar_transform::interval: {
        const double width = s.upper - s.lower;
        const double u = std::clamp((x - s.lower) / width, 0.02, 0.98);
        return std::log(u / (1.0 - u));
      }
      default:
        return x;
    }
  };
  double intercept_shift = 0.0;
  for (const std::size_t a : uncentered_intercept_columns_) {
    intercept_shift += d.column_means[a] * beta[a];
  }
  for (std::size_t s = 0; s < p; ++s) {
    const scalar_parameter& sp = scalars_[s];
    if (sp.transform == scalar_transform::fixed) continue;
    guess.center[sp.q_index] = (beta[s] - (s == 0 ? intercept_shift : 0.0)) * sp.column_scale;
    // The fit's standard error; at least what the levels' spread allows for a level mean or an
    // absorbed coefficient (below).
    guess.scale[sp.q_index] = std::sqrt(beta_variance[s]) * sp.column_scale;
  }
  for (std::size_t t = 0; t < terms_.size(); ++t) {
    const term_parameters& tp = terms_[t];
    const auto levels = static_cast<double>(d.terms[t].n_levels);
    for (std::size_t c = 0; c < tp.k; ++c) {
      const scalar_parameter& sp = scalars_[tp.first_sd + c];
      const double sd = sd_guess[tp.first_sd - n_beta_ + c];
      if (sp.transform != scalar_transform::fixed) {
        guess.center[sp.q_index] = unconstrain(sp, sd);
        guess.scale[sp.q_index] = 0.5;
      }
      if (c < tp.mean_of.size() && tp.mean_of[c] >= 0) {
        const auto b = static_cast<std::size_t>(tp.mean_of[c]);
        if (scalars_[b].transform != scalar_transform::fixed) {
          guess.scale[scalars_[b].q_index] = std::max(
              guess.scale[scalars_[b].q_index], sd / std::sqrt(levels) * scalars_[b].column_scale);
        }
      }
    }
    // An absorbed coefficient is a regression of the levels' effects: sd / √(Σ_j x_aj²) at least.
    for (const auto& coefficient : tp.absorbed_coefficients) {
      double sum_sq = 0.0;
      for (const double x : coefficient.level_values) sum_sq += x * x;
      const scalar_parameter& sp = scalars_[coefficient.coefficient];
      if (sum_sq > 0.0) {
        guess.scale[sp.q_index] =
            std::max(guess.scale[sp.q_index],
                     sd_guess[tp.first_sd - n_beta_] / std::sqrt(sum_sq) * sp.column_scale);
      }
    }
    if (tp.correlated) {
      for (std::size_t a = 0; a < tp.k * (tp.k - 1) / 2; ++a) {
        guess.center[tp.cpc_q_index + a] = 0.0;
        guess.scale[tp.cpc_q_index + a] = 0.5;
      }
    }
  }
  if (has_sigma_) {
    const scalar_parameter& sp = scalars_[sigma_index_];
    if (sp.transform != scalar_transform::fixed) {
      const double sigma = std::sqrt(pooled_noise());
      if (sigma > 0.0 && std::isfinite(sigma)) guess.center[sp.q_index] = unconstrain(sp, sigma);
      guess.scale[sp.q_index] = 0.1;
    }
  }

  // 5. The group effects: centered terms hold level mean + u (an absorbing intercept's mean with
  //    its slopes' x_j u_s[j] and coefficients' x_aj b_a), non-centered ones z = u / sd (the
  //    correlations start at 0).
  global_values values;
  globals_forward(guess.center.data(), values);
  std::vector<double> level_means(n_sd);
  for (std::size_t t = 0; t < terms_.size(); ++t) {
    const term_parameters& tp = terms_[t];
    const random_block& block = d.terms[t];
    const double* term_means = values.level_means.data() + (tp.first_sd - n_beta_);
    for (std::size_t j = 0; j < block.n_levels; ++j) {
      if (tp.absorbs()) {
        absorbing_level_means(t, j, values, effect.data(), level_means.data());
        term_means = level_means.data();
      }
      for (std::size_t c = 0; c < tp.k; ++c) {
        const std::size_t u_index = block.u_offset + j * tp.k + c;
        const std::size_t q_index = tp.z_q_index + j * tp.k + c;
        const double sd = values.sd[tp.first_sd - n_beta_ + c];
        const double posterior_sd = std::sqrt(effect_variance[u_index]);
        if (c < tp.n_centered) {
          guess.center[q_index] = term_means[c] + effect[u_index];
          guess.scale[q_index] = posterior_sd;
        } else {
          guess.center[q_index] = effect[u_index] / sd;
          guess.scale[q_index] = std::min(1.0, posterior_sd / sd);
        }
      }
    }
  }
  for (std::size_t i = 0; i < dim_; ++i) {
    if (!std::isfinite(guess.center[i])) guess.center[i] = 0.0;
    if (!(guess.scale[i] > 0.0) || !std::isfinite(guess.scale[i])) guess.scale[i] = 1.0;
  }
  return guess;
}

}  // namespace hbglm
