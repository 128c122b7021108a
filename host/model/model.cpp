#include "hbglm/model.hpp"

#include <Eigen/Core>
#include <Eigen/QR>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>

#include "hbglm/error.hpp"
#include "io/message_list.hpp"
#include "kernels/group_effects.cuh"
#include "model/cholesky_corr.hpp"
#include "model/level_fits.hpp"

namespace hbglm {
namespace {

constexpr double half_log_two_pi = 0.91893853320467274178;

double median_of(std::vector<double> v) {
  const std::size_t n = v.size(), mid = n / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  const double upper = v[mid];
  if (n % 2 == 1) return upper;
  return 0.5 * (upper + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid)));
}

/// R's mad(): 1.4826 × the median absolute deviation from the median.
double mad_of(const std::vector<double>& v) {
  const double m = median_of(v);
  std::vector<double> dev(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) dev[i] = std::fabs(v[i] - m);
  return 1.4826 * median_of(dev);
}

double round1(double x) { return std::round(x * 10.0) / 10.0; }

/// brms's def_scale_prior: location and scale of the default student_t(3, ·, ·) priors. The
/// response goes through the link where it is one of identity or log (a zero count becomes 0.1
/// first), and the scale is at least 2.5; both are rounded to one decimal.
std::pair<double, double> default_location_scale(const design& d) {
  if (d.family == family::bernoulli || d.family == family::binomial) return {0.0, 2.5};
  std::vector<double> y = d.y;
  if (d.family == family::poisson) {
    for (double& v : y) v = std::log(v == 0.0 ? 0.1 : v);
  }
  return {round1(median_of(y)), round1(std::max(2.5, mad_of(y)))};
}

prior_distribution student_t(double nu, double mu, double sigma) {
  return {prior_family::student_t, {nu, mu, sigma}};
}

double inv_logit(double x) {
  return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
}

std::string join(const std::vector<std::string>& names) { return detail::message_list(names); }

/** A value per row, value_of_row(i), per level of term @p t's factor, when it takes one value
 *  in each level (a level-level predictor); empty when it varies within some level. */
template <typename ValueOfRow>
std::vector<double> values_per_level(const design& d, std::size_t t, ValueOfRow value_of_row) {
  const std::size_t first_entry = detail::first_entry_in_row(d, t);
  const random_block& block = d.terms[t];
  const std::size_t k = block.n_coefs();
  std::vector<double> values(block.n_levels, std::numeric_limits<double>::quiet_NaN());
  for (std::size_t i = 0; i < d.n_obs; ++i) {
    const auto e = static_cast<std::size_t>(d.Z.row_ptr[i]) + first_entry;
    const std::size_t level = (static_cast<std::size_t>(d.Z.col_idx[e]) - block.u_offset) / k;
    const double value = value_of_row(i);
    double& seen = values[level];
    if (std::isnan(seen)) {
      seen = value;
    } else if (seen != value) {
      return {};
    }
  }
  for (double& v : values) {
    if (std::isnan(v)) v = 0.0;  // a level without rows (none after design building)
  }
  return values;
}

/** The covariate of coefficient @p c of term @p t per level of its factor (values_per_level). */
std::vector<double> level_constant_values(const design& d, std::size_t t, std::size_t c) {
  const std::size_t entry = detail::first_entry_in_row(d, t) + c;
  return values_per_level(d, t, [&](std::size_t i) {
    return d.Z.values[static_cast<std::size_t>(d.Z.row_ptr[i]) + entry];
  });
}

/** Population-level column @p a per level of term @p t's factor (values_per_level). */
std::vector<double> column_level_values(const design& d, std::size_t t, std::size_t a) {
  const double* column = d.X.data() + a * d.n_obs;
  return values_per_level(d, t, [&](std::size_t i) { return column[i]; });
}

bool is_intercept_only(const random_block& block) {
  return block.n_coefs() == 1 && block.coef_names[0] == "Intercept";
}

/** For term @p t: how far apart its levels' coefficients are against how well each level's rows
 *  fix them, per coefficient c (the term's value is the smallest) ŝd_c² / median_j v_jc, from a
 *  least-squares fit of the response on the term's own columns in each level (β_j, with sampling
 *  variances v_jc = σ̂² (G_j⁻¹)_cc, σ̂² pooled over levels) and the method of moments across levels:
 *  ŝd_c² = var_j(β_jc) - mean_j(v_jc). Where it is at least 1 the data fix each level's
 *  coefficient more tightly than the levels vary (I sd² > 1: centered mixes better); below, the
 *  prior does (non-centered). A rough guide, on the response's own scale whatever the family (the
 *  ratio is about the same on the link scale near the middle of the data), that counts the other
 *  terms' effects as noise; empty where fewer than 3 levels have more rows than coefficients. */
std::vector<double> level_signal_to_noise(const design& d, std::size_t t) {
  const detail::level_fits fits = detail::fit_levels(d, t, d.y.data());
  if (fits.n_determined < 3 || fits.dof == 0.0) return {};
  const double sigma2 = fits.rss / fits.dof;
  const std::size_t k = fits.k;
  std::vector<double> ratios(k);
  for (std::size_t c = 0; c < k; ++c) {
    std::vector<double> estimates, variances;
    for (std::size_t j = 0; j < fits.determined.size(); ++j) {
      if (!fits.determined[j]) continue;
      estimates.push_back(fits.estimate[j * k + c]);
      variances.push_back(sigma2 * fits.inverse_diagonal[j * k + c]);
    }
    double mean = 0.0, mean_variance = 0.0;
    for (std::size_t j = 0; j < estimates.size(); ++j) {
      mean += estimates[j];
      mean_variance += variances[j];
    }
    mean /= static_cast<double>(estimates.size());
    mean_variance /= static_cast<double>(estimates.size());
    double spread = 0.0;
    for (double e : estimates) spread += (e - mean) * (e - mean);
    spread /= static_cast<double>(estimates.size() - 1);
    const double sd2 = std::max(0.0, spread - mean_variance);
    const double typical_variance = median_of(variances);
    ratios[c] = typical_variance > 0.0 ? sd2 / typical_variance
                                       : std::numeric_limits<double>::infinity();
  }
  return ratios;
}

/** Σ x² over each level's rows of each coefficient: per column of Z (n_u values). */
std::vector<double> level_sum_squares(const design& d) {
  std::vector<double> sum_sq(d.n_u, 0.0);
  for (std::size_t e = 0; e < d.Z.n_nonzeros(); ++e) {
    sum_sq[static_cast<std::size_t>(d.Z.col_idx[e])] += d.Z.values[e] * d.Z.values[e];
  }
  return sum_sq;
}

/** Per group-level term, how much each level's rows tell about its coefficients, in rows of
 *  average size: for coefficient c on grouping factor f, level j, the information Σ_{rows of j}
 *  x_c² given the other coefficients on f (the Schur complement of the level's Gram matrix over
 *  f's coefficients), divided by the mean of x_c² over all rows; the median over levels; the
 *  smallest over the term's coefficients. For an intercept alone that is the median rows per
 *  level. A covariate constant within each level is confounded with the factor's intercept, and
 *  both get about 0: the data fix their sum, not each, so the direction between them is the
 *  prior's, which the non-centered form suits. Except for the slopes in @p absorbable (k = 1
 *  terms beside an intercept-only term, find_absorbable_slopes: the election model's potus2016 on
 *  state): they get 0 and are left out of the factor's other coefficients, because a centered
 *  intercept that absorbs them samples the sum itself. */
std::vector<double> level_information(const design& d,
                                      const std::vector<std::ptrdiff_t>& absorbable) {
  const std::size_t n_terms = d.terms.size();
  std::vector<double> out(n_terms, 0.0);
  if (d.n_obs == 0) return out;
  // Σ x² per column of Z (a level's coefficient), and per coefficient over all rows.
  const std::vector<double> level_sum_sq = level_sum_squares(d);
  std::vector<bool> done(n_terms, false);
  for (std::size_t t0 = 0; t0 < n_terms; ++t0) {
    if (done[t0]) continue;
    // The terms on t0's factor; coefficient a of the factor is (term, c) in this order.
    std::vector<std::pair<std::size_t, std::size_t>> coefs;
    for (std::size_t t = t0; t < n_terms; ++t) {
      if (d.terms[t].group != d.terms[t0].group) continue;
      done[t] = true;
      if (absorbable[t] >= 0) continue;  // no longer confounded with the intercept: left out
      for (std::size_t c = 0; c < d.terms[t].n_coefs(); ++c) coefs.emplace_back(t, c);
    }
    const std::size_t m = coefs.size(), n_levels = d.terms[t0].n_levels;
    std::vector<double> mean_sq(m, 0.0);
    for (std::size_t a = 0; a < m; ++a) {
      const random_block& b = d.terms[coefs[a].first];
      for (std::size_t j = 0; j < n_levels; ++j) {
        mean_sq[a] += level_sum_sq[b.u_offset + j * b.n_coefs() + coefs[a].second];
      }
      mean_sq[a] /= static_cast<double>(d.n_obs);
    }
    // Per coefficient and level, the information in rows; the diagonal alone first (exact for
    // m = 1, an upper bound otherwise).
    std::vector<std::vector<double>> per_level(m, std::vector<double>(n_levels, 0.0));
    for (std::size_t a = 0; a < m; ++a) {
      if (!(mean_sq[a] > 0.0)) continue;
      const random_block& b = d.terms[coefs[a].first];
      for (std::size_t j = 0; j < n_levels; ++j) {
        per_level[a][j] =
            level_sum_sq[b.u_offset + j * b.n_coefs() + coefs[a].second] / mean_sq[a];
      }
    }
    double best_bound = 0.0;
    for (std::size_t a = 0; a < m && n_levels > 0; ++a) {
      best_bound = std::max(best_bound, median_of(per_level[a]));
    }
    // The Schur complements need the level's m × m Gram matrix: only where it can matter (m > 1,
    // a bound that passes the threshold) and where the factor is small enough to center.
    if (m > 1 && m <= static_cast<std::size_t>(kernels::max_centered_k) &&
        best_bound >= centering::automatic_threshold) {
      std::vector<std::int32_t> coef_of_col(d.n_u, -1);
      for (std::size_t a = 0; a < m; ++a) {
        const random_block& b = d.terms[coefs[a].first];
        for (std::size_t j = 0; j < n_levels; ++j) {
          coef_of_col[b.u_offset + j * b.n_coefs() + coefs[a].second] =
              static_cast<std::int32_t>(a);
        }
      }
      std::vector<double> gram(n_levels * m * m, 0.0);
      std::vector<std::pair<std::size_t, double>> row;  // (coefficient, x / sqrt(mean x²))
      for (std::size_t i = 0; i < d.n_obs; ++i) {
        row.clear();
        std::size_t level = 0;
        for (auto e = static_cast<std::size_t>(d.Z.row_ptr[i]);
             e < static_cast<std::size_t>(d.Z.row_ptr[i + 1]); ++e) {
          const auto col = static_cast<std::size_t>(d.Z.col_idx[e]);
          const std::int32_t a = coef_of_col[col];
          if (a < 0 || !(mean_sq[static_cast<std::size_t>(a)] > 0.0)) continue;
          const auto ua = static_cast<std::size_t>(a);
          const random_block& b = d.terms[coefs[ua].first];
          level = (col - b.u_offset) / b.n_coefs();
          row.emplace_back(ua, d.Z.values[e] / std::sqrt(mean_sq[ua]));
        }
        double* g = gram.data() + level * m * m;
        for (const auto& [a, xa] : row) {
          for (const auto& [b, xb] : row) g[a * m + b] += xa * xb;
        }
      }
      Eigen::MatrixXd level_gram(static_cast<Eigen::Index>(m), static_cast<Eigen::Index>(m));
      for (std::size_t j = 0; j < n_levels; ++j) {
        const double* g = gram.data() + j * m * m;
        double trace = 0.0;
        for (std::size_t a = 0; a < m; ++a) {
          for (std::size_t b = 0; b < m; ++b) {
            level_gram(static_cast<Eigen::Index>(a), static_cast<Eigen::Index>(b)) = g[a * m + b];
          }
          trace += g[a * m + a];
        }
        // A ridge of 1e-9 of the mean diagonal keeps a singular matrix (confounded coefficients)
        // invertible; their Schur complements then come out near 0, as they are.
        const double ridge = 1e-9 * std::max(trace / static_cast<double>(m), 1e-300);
        level_gram.diagonal().array() += ridge;
        const Eigen::MatrixXd inverse = level_gram.ldlt().solve(
            Eigen::MatrixXd::Identity(level_gram.rows(), level_gram.cols()));
        for (std::size_t a = 0; a < m; ++a) {
          if (!(mean_sq[a] > 0.0)) continue;
          // The Schur complement of coefficient a is 1 / (Gram⁻¹)_aa.
          const double inv = inverse(static_cast<Eigen::Index>(a), static_cast<Eigen::Index>(a));
          per_level[a][j] = inv > 0.0 ? std::max(0.0, 1.0 / inv - ridge) : 0.0;
        }
      }
    }
    for (std::size_t t = t0; t < n_terms; ++t) {
      if (d.terms[t].group == d.terms[t0].group) {
        // An absorbable slope's own information is that of a covariate constant within levels
        // beside an intercept: about 0 (see above).
        out[t] = absorbable[t] >= 0 ? 0.0 : std::numeric_limits<double>::infinity();
      }
    }
    for (std::size_t a = 0; a < m; ++a) {
      const std::size_t t = coefs[a].first;
      // Beyond max_centered_k coefficients on one factor the Gram matrices are not formed, and
      // the diagonal bound is no evidence: report nothing, so the automatic choice passes.
      const bool measured = m <= static_cast<std::size_t>(kernels::max_centered_k);
      out[t] = std::min(out[t], measured && n_levels > 0 ? median_of(per_level[a]) : 0.0);
    }
  }
  return out;
}

}  // namespace

/** The slopes a centered intercept-only term could absorb (model::absorbable_slopes): k = 1
 *  terms on its factor, not intercepts, whose covariate is constant within levels; the first
 *  intercept-only term on a factor takes them. */
model::absorbable_slopes model::find_absorbable_slopes(const design& d) {
  absorbable_slopes found;
  found.into.assign(d.terms.size(), -1);
  found.level_values.resize(d.terms.size());
  for (std::size_t a = 0; a < d.terms.size(); ++a) {
    if (!is_intercept_only(d.terms[a])) continue;
    bool first_intercept_on_factor = true;
    for (std::size_t b = 0; b < a; ++b) {
      if (d.terms[b].group == d.terms[a].group && is_intercept_only(d.terms[b])) {
        first_intercept_on_factor = false;
      }
    }
    if (!first_intercept_on_factor) continue;
    for (std::size_t t = 0; t < d.terms.size(); ++t) {
      const random_block& block = d.terms[t];
      if (t == a || block.group != d.terms[a].group || block.n_coefs() != 1 ||
          block.coef_names[0] == "Intercept") {
        continue;
      }
      std::vector<double> values = level_constant_values(d, t, 0);
      if (values.empty()) continue;
      found.into[t] = static_cast<std::ptrdiff_t>(a);
      found.level_values[t] = std::move(values);
    }
  }
  return found;
}

model::model(std::shared_ptr<const design> shared_design, const std::vector<prior_spec>& priors,
             const centering& centered)
    : design_ptr_(std::move(shared_design)), design_(*design_ptr_) {
  const design& d = design_;
  const auto [location, scale] = default_location_scale(d);
  intercept_init_center_ = location;

  // Population-level coefficients, in design order.
  for (std::size_t j = 0; j < d.n_coefs(); ++j) {
    scalar_parameter p;
    if (d.centered && j == 0) {
      p.name = "Intercept";
      p.cls = prior_class::intercept;
      p.prior = student_t(3.0, location, scale);
    } else {
      p.name = "b_" + d.coef_names[j];
      p.cls = prior_class::b;
    }
    scalars_.push_back(p);
  }
  n_beta_ = scalars_.size();
  set_column_scales();
  // Group-level standard deviations, term by term.
  for (const random_block& block : d.terms) {
    term_parameters t;
    t.first_sd = scalars_.size();
    t.k = block.n_coefs();
    t.correlated = block.correlated;
    for (const auto& coef : block.coef_names) {
      scalar_parameter p;
      p.name = "sd_" + block.group + "__" + coef;
      p.cls = prior_class::sd;
      p.prior = student_t(3.0, 0.0, scale);
      p.truncated_at_zero = true;
      scalars_.push_back(p);
    }
    terms_.push_back(t);
  }
  has_sigma_ = d.family == family::gaussian && d.se.empty();
  if (has_sigma_) {
    scalar_parameter p;
    p.name = "sigma";
    p.cls = prior_class::sigma;
    p.prior = student_t(3.0, 0.0, scale);
    p.truncated_at_zero = true;
    sigma_index_ = scalars_.size();
    scalars_.push_back(p);
  }

  for (const prior_spec& spec : priors) apply_prior(spec);
  absorbable_slopes absorbable = find_absorbable_slopes(d);
  choose_centered_terms(centered, absorbable);

  // Transforms from the priors: constant fixes, uniform bounds, sd and sigma are positive.
  for (scalar_parameter& p : scalars_) {
    const bool positive = p.cls == prior_class::sd || p.cls == prior_class::sigma;
    if (p.prior.family == prior_family::constant) {
      p.transform = scalar_transform::fixed;
      p.fixed_value = p.prior.args[0];
      if (positive && !(p.fixed_value > 0.0)) {
        throw prior_error(p.name + " ~ " + p.prior.text() + ": a standard deviation must be "
                          "positive");
      }
    } else if (p.prior.family == prior_family::uniform) {
      p.transform = scalar_transform::interval;
      p.lower = positive ? std::max(0.0, p.prior.args[0]) : p.prior.args[0];
      p.upper = p.prior.args[1];
    } else {
      p.transform = positive ? scalar_transform::positive : scalar_transform::identity;
    }
    if (p.transform != scalar_transform::identity) p.column_scale = 1.0;
    if (p.truncated_at_zero && p.transform != scalar_transform::fixed) {
      p.log_normalizer = prior_log_mass_above_zero(p.prior);
      // normal(-1e200, 1): the mass above zero underflows even in log space; dividing by it
      // would make every lp__ +inf.
      if (!std::isfinite(p.log_normalizer)) {
        throw prior_error(p.name + " ~ " + p.prior.text() + ": the prior's mass above zero is " +
                          "too small to represent (log P(X > 0) = " +
                          std::to_string(p.log_normalizer) + "), so it cannot be a prior on a " +
                          "standard deviation");
      }
    }
  }

  // Layout of q: coefficients and sds (scalars_ order, sigma excluded), CPCs, sigma, z.
  std::size_t q = 0;
  for (std::size_t s = 0; s < scalars_.size(); ++s) {
    if ((has_sigma_ && s == sigma_index_) || scalars_[s].transform == scalar_transform::fixed) {
      continue;
    }
    scalars_[s].q_index = q++;
  }
  for (term_parameters& t : terms_) {
    t.cpc_q_index = q;
    if (t.correlated) q += t.k * (t.k - 1) / 2;
  }
  if (has_sigma_ && scalars_[sigma_index_].transform != scalar_transform::fixed) {
    scalars_[sigma_index_].q_index = q++;
  }
  n_globals_ = q;
  for (std::size_t t = 0; t < terms_.size(); ++t) {
    terms_[t].z_q_index = q;
    q += d.terms[t].n_levels * terms_[t].k;
  }
  dim_ = q;

  // Constant terms of the log density.
  double c = -half_log_two_pi * static_cast<double>(d.n_u);
  const auto n = static_cast<double>(d.n_obs);
  switch (d.family) {
    case family::gaussian:
      c -= half_log_two_pi * n;
      for (double se : d.se) c -= std::log(se);
      break;
    case family::bernoulli:
      break;
    case family::binomial:
      for (std::size_t i = 0; i < d.n_obs; ++i) {
        c += std::lgamma(d.trials[i] + 1.0) - std::lgamma(d.y[i] + 1.0) -
             std::lgamma(d.trials[i] - d.y[i] + 1.0);
      }
      break;
    case family::poisson:
      for (double y : d.y) c -= std::lgamma(y + 1.0);
      break;
  }
  log_density_constant_ = c;

  choose_level_means();
  choose_absorbed_slopes(std::move(absorbable));
  choose_absorbed_coefficients();
  check_group_sizes();
  check_identifiability();
  check_level_constant_slopes();

  // Output groups: terms on the same grouping factor share one r_<group> array (brms).
  for (std::size_t t = 0; t < d.terms.size(); ++t) {
    const std::string name = "r_" + d.terms[t].group;
    auto it = std::find_if(output_groups_.begin(), output_groups_.end(),
                           [&](const output_group& g) { return g.name == name; });
    if (it == output_groups_.end()) {
      output_groups_.push_back({name, t, {}});
      it = output_groups_.end() - 1;
    }
    for (std::size_t c2 = 0; c2 < d.terms[t].n_coefs(); ++c2) it->coefs.emplace_back(t, c2);
  }
}

void model::set_column_scales() {
  const design& d = design_;
  const std::size_t n = d.n_obs;
  if (n == 0) return;
  for (std::size_t j = 0; j < n_beta_; ++j) {
    if (d.has_intercept && j == 0) continue;  // the intercept's scale is the response's
    // The root mean square of the column as X holds it: the sd for a centered design (X holds
    // centered columns), otherwise the scale of the column's part of the linear predictor.
    const double* x = d.X.data() + j * n;
    double sum_sq = 0.0;
    for (std::size_t i = 0; i < n; ++i) sum_sq += x[i] * x[i];
    const double scale = std::sqrt(sum_sq / static_cast<double>(n));
    // A constant column (warned about) keeps scale 1.
    if (scale > 0.0 && std::isfinite(scale)) scalars_[j].column_scale = scale;
  }
}

namespace {

/** A `--centered` list entry resolved against the design: "g" (every term on g, whole) or
 *  "g:coef" (each term on g through its coefficient coef; g may itself hold colons, as lme4's
 *  interaction factors a:b do). */
struct centered_entry {
  std::string group;
  std::string through;  ///< the last centered coefficient, or empty for whole terms
};

centered_entry resolve_centered_entry(const design& d, const std::string& entry) {
  const auto has_group = [&](const std::string& g) {
    return std::any_of(d.terms.begin(), d.terms.end(),
                       [&](const random_block& b) { return b.group == g; });
  };
  if (has_group(entry)) return {entry, ""};
  for (std::size_t colon = entry.find(':'); colon != std::string::npos;
       colon = entry.find(':', colon + 1)) {
    const std::string group = entry.substr(0, colon), coef = entry.substr(colon + 1);
    if (!has_group(group)) continue;
    const bool has_coef = std::any_of(d.terms.begin(), d.terms.end(), [&](const random_block& b) {
      return b.group == group &&
             std::find(b.coef_names.begin(), b.coef_names.end(), coef) != b.coef_names.end();
    });
    if (has_coef) return {group, coef};
    std::vector<std::string> coefs;
    for (const random_block& b : d.terms) {
      if (b.group == group) coefs.insert(coefs.end(), b.coef_names.begin(), b.coef_names.end());
    }
    throw option_error("--centered names '" + entry + "': the terms on '" + group +
                       "' have no coefficient '" + coef + "' (they have " + join(coefs) + ")");
  }
  std::vector<std::string> groups;
  for (const random_block& b : d.terms) {
    if (std::find(groups.begin(), groups.end(), b.group) == groups.end()) {
      groups.push_back(b.group);
    }
  }
  throw option_error("--centered names '" + entry + "', which is not a grouping factor of " +
                     "the formula" +
                     (groups.empty() ? std::string(" (it has no group-level terms)")
                                     : "; its grouping factors are " + join(groups)));
}

}  // namespace

void model::choose_centered_terms(const centering& centered,
                                  const absorbable_slopes& absorbable) {
  const design& d = design_;
  std::vector<centered_entry> entries;
  for (const std::string& entry : centered.groups) {
    entries.push_back(resolve_centered_entry(d, entry));
  }
  const std::vector<double> information = level_information(d, absorbable.into);
  for (std::size_t t = 0; t < terms_.size(); ++t) {
    term_parameters& tp = terms_[t];
    const random_block& block = d.terms[t];
    tp.rows_per_level = information[t];
    switch (centered.how) {
      case centering::mode::automatic:  // 0 information beyond max_centered_k coefficients
        tp.n_centered = 0;
        if (tp.rows_per_level >= centering::automatic_threshold) {
          const std::vector<double> ratios = level_signal_to_noise(d, t);
          // Empty (too few levels to tell): NaN, and the rows alone decide.
          tp.signal_to_noise = ratios.empty() ? std::numeric_limits<double>::quiet_NaN()
                                              : *std::min_element(ratios.begin(), ratios.end());
          tp.coefficient_signal_to_noise = ratios;
          // The leading coefficients whose levels differ clearly: all of them, or in a
          // correlated term the intercept whose slopes hardly vary (term_parameters::n_centered).
          tp.n_centered = tp.k;
          if (!ratios.empty()) {
            tp.n_centered = 0;
            while (tp.n_centered < tp.k &&
                   ratios[tp.n_centered] >= centering::automatic_signal_to_noise) {
              ++tp.n_centered;
            }
          }
        }
        break;
      case centering::mode::none:
        tp.n_centered = 0;
        break;
      case centering::mode::all:
        tp.n_centered = tp.k;
        break;
      case centering::mode::listed:
        tp.n_centered = 0;
        for (const centered_entry& entry : entries) {
          if (entry.group != block.group) continue;
          if (entry.through.empty()) {
            tp.n_centered = tp.k;
            continue;
          }
          const auto it = std::find(block.coef_names.begin(), block.coef_names.end(),
                                    entry.through);
          if (it != block.coef_names.end()) {
            tp.n_centered = std::max(
                tp.n_centered, static_cast<std::size_t>(it - block.coef_names.begin()) + 1);
          }
        }
        break;
    }
    if (tp.centered() && tp.k > static_cast<std::size_t>(kernels::max_centered_k)) {
      throw option_error("--centered: the term on '" + block.group + "' has " +
                         std::to_string(tp.k) + " coefficients; the centered form takes at " +
                         "most " + std::to_string(kernels::max_centered_k) +
                         " (leave this group non-centered)");
    }
  }
}

void model::choose_level_means() {
  const design& d = design_;
  for (term_parameters& tp : terms_) tp.mean_of.assign(tp.n_centered, -1);
  // Moving a covariate's mean out of a centered design's Intercept needs that Intercept in q as
  // a plain number: a bounded (uniform) or constant prior on it would bound the wrong quantity.
  const bool intercept_in_q = d.has_intercept && n_beta_ > 0 &&
                              scalars_[0].transform == scalar_transform::identity;
  for (std::size_t b = 0; b < n_beta_; ++b) {
    if (scalars_[b].transform != scalar_transform::identity) continue;
    const bool is_intercept = d.has_intercept && b == 0;
    if (!is_intercept && d.centered && !intercept_in_q) continue;
    // The coefficient's uncertainty from its varying counterparts is about sd²/J per term, so
    // the term with the fewest levels decides it; centering the coefficient on another term
    // (the election model's Intercept on its 119 Republican candidates while the 34 states
    // carry most of it) makes it and every level of that term move together instead.
    std::ptrdiff_t best_term = -1;
    std::size_t best_coef = 0;
    for (std::size_t t = 0; t < terms_.size(); ++t) {
      const auto& names = d.terms[t].coef_names;
      const auto it = std::find(names.begin(), names.end(), d.coef_names[b]);
      if (it == names.end()) continue;
      const auto best = static_cast<std::size_t>(best_term);
      if (best_term < 0 || d.terms[t].n_levels < d.terms[best].n_levels ||
          (d.terms[t].n_levels == d.terms[best].n_levels &&
           terms_[t].rows_per_level > terms_[best].rows_per_level)) {
        best_term = static_cast<std::ptrdiff_t>(t);
        best_coef = static_cast<std::size_t>(it - names.begin());
      }
    }
    // Only if that term centers the coefficient (a leading one: term_parameters::n_centered).
    if (best_term >= 0 && best_coef >= terms_[static_cast<std::size_t>(best_term)].n_centered) {
      best_term = -1;
    }
    if (best_term < 0) continue;
    terms_[static_cast<std::size_t>(best_term)].mean_of[best_coef] =
        static_cast<std::ptrdiff_t>(b);
    if (!is_intercept && d.centered && d.column_means[b] != 0.0) {
      uncentered_intercept_columns_.push_back(b);
    }
  }
}

void model::check_group_sizes() {
  // A varying intercept on a factor with one observation per level is confounded with the
  // observation-level noise in gaussian models with sigma (only sd² + sigma² is identified;
  // lme4 refuses such a model) and has nothing to go on in bernoulli ones. In poisson and
  // binomial models it is the usual observation-level effect for overdispersion: no warning.
  const design& d = design_;
  const bool confounded = has_sigma_ || d.family == family::bernoulli;
  if (!confounded || d.n_obs == 0) return;
  for (const random_block& block : d.terms) {
    const bool has_intercept = std::find(block.coef_names.begin(), block.coef_names.end(),
                                         "Intercept") != block.coef_names.end();
    if (!has_intercept || block.n_levels != d.n_obs) continue;
    const std::string sd_name = "sd_" + block.group + "__Intercept";
    warnings_.push_back(
        "warning: every level of '" + block.group + "' has exactly one observation, so " +
        sd_name +
        (has_sigma_ ? " and sigma are identified only together (through sd² + sigma²), and "
                      "the posterior follows their priors"
                    : " is not identified by bernoulli data, and the posterior follows its prior") +
        "; drop the term or group at a coarser level");
  }
}

void model::choose_absorbed_slopes(absorbable_slopes&& absorbable) {
  for (std::size_t t = 0; t < terms_.size(); ++t) {
    if (absorbable.into[t] < 0) continue;
    const auto a = static_cast<std::size_t>(absorbable.into[t]);
    if (!terms_[a].centered()) continue;
    terms_[a].absorbed.push_back({t, std::move(absorbable.level_values[t])});
    terms_[t].absorbed_into = static_cast<std::ptrdiff_t>(a);
  }
}

void model::choose_absorbed_coefficients() {
  const design& d = design_;
  if (d.n_obs == 0) return;
  std::vector<bool> excluded(n_beta_, false);  // level means of centered terms, fixed, Intercept
  for (const term_parameters& tp : terms_) {
    for (const std::ptrdiff_t b : tp.mean_of) {
      if (b >= 0) excluded[static_cast<std::size_t>(b)] = true;
    }
  }
  for (const std::size_t a : uncentered_intercept_columns_) excluded[a] = true;
  if (d.has_intercept && n_beta_ > 0) excluded[0] = true;
  for (std::size_t a = 0; a < n_beta_; ++a) {
    if (excluded[a] || scalars_[a].transform == scalar_transform::fixed) continue;
    std::ptrdiff_t best_term = -1;
    std::vector<double> best_values;
    for (std::size_t t = 0; t < terms_.size(); ++t) {
      const random_block& block = d.terms[t];
      const bool has_intercept_first =
          !block.coef_names.empty() && block.coef_names[0] == "Intercept";
      if (!terms_[t].centered() || !has_intercept_first || block.n_levels >= d.n_obs) continue;
      const bool fewer_levels =
          best_term < 0 || block.n_levels < d.terms[static_cast<std::size_t>(best_term)].n_levels;
      if (!fewer_levels) continue;
      std::vector<double> values = column_level_values(d, t, a);
      if (values.empty()) continue;
      best_term = static_cast<std::ptrdiff_t>(t);
      best_values = std::move(values);
    }
    if (best_term < 0) continue;
    terms_[static_cast<std::size_t>(best_term)].absorbed_coefficients.push_back(
        {a, std::move(best_values)});
  }
}

void model::check_level_constant_slopes() {
  // A varying slope whose covariate takes one value in each level of its factor, beside a
  // varying intercept on that factor: in every level the two effects enter the same rows with
  // fixed weights 1 and x_j, so the data see only u_Intercept[j] + x_j u_x[j], and the two are
  // told apart only by the priors and by how the spread of the level effects changes with x_j.
  // Where a centered intercept absorbs the slope (term_parameters::absorbed) the sampler no
  // longer meets the ridge this leaves; the identification is the same either way.
  const design& d = design_;
  if (d.n_obs == 0) return;
  for (std::size_t t = 0; t < d.terms.size(); ++t) {
    const random_block& block = d.terms[t];
    if (block.n_levels >= d.n_obs) continue;  // one row per level: constant trivially
    const bool factor_has_intercept =
        std::any_of(d.terms.begin(), d.terms.end(), [&](const random_block& other) {
          return other.group == block.group &&
                 std::find(other.coef_names.begin(), other.coef_names.end(), "Intercept") !=
                     other.coef_names.end();
        });
    if (!factor_has_intercept) continue;
    for (std::size_t c = 0; c < block.n_coefs(); ++c) {
      if (block.coef_names[c] == "Intercept" || level_constant_values(d, t, c).empty()) continue;
      const std::string& x = block.coef_names[c];
      const std::string& g = block.group;
      warnings_.push_back(
          "warning: '" + x + "' is constant within each level of '" + g +
          "', so its varying slope and the varying intercept on '" + g +
          "' enter every level's rows together (the data see only r_" + g +
          "[level,Intercept] + " + x + " * r_" + g + "[level," + x + "]); sd_" + g + "__" + x +
          " is identified only through the priors and how the spread of the level effects "
          "changes with " + x +
          (terms_[t].absorbed_into >= 0
               ? " (the centered intercept samples the sum, so the chains do not crawl along it)"
               : ", and mixes slowly") +
          ". A level-level predictor is usually a population-level term: y ~ " + x +
          " + ... + (1 | " + g + ")");
    }
  }
}

void model::check_identifiability() {
  const design& d = design_;
  const std::size_t n = d.n_obs, p = d.n_coefs();
  if (n == 0 || p == 0) return;
  auto column = [&](std::size_t j) { return d.X.data() + j * n; };
  auto coef_label = [&](std::size_t j) { return "'" + d.coef_names[j] + "'"; };

  // Constant columns (other than the intercept): not identified beside the intercept.
  std::vector<bool> constant(p, false);
  for (std::size_t j = 0; j < p; ++j) {
    if (d.has_intercept && j == 0) continue;
    const double* x = column(j);
    constant[j] = std::all_of(x, x + n, [&](double v) { return v == x[0]; });
    if (constant[j]) {
      warnings_.push_back("warning: predictor column " + coef_label(j) +
                          " is constant in the data used, so its coefficient is not identified " +
                          (d.has_intercept ? "beside the intercept" : "by the data") +
                          "; drop it, or give b[" + d.coef_names[j] +
                          "] a proper prior (with a flat one the posterior is improper)");
    }
  }

  // Collinear columns: rank of the scaled cross-product matrix of the non-constant columns.
  std::vector<std::size_t> kept;
  for (std::size_t j = 0; j < p; ++j) {
    if (!constant[j]) kept.push_back(j);
  }
  if (kept.size() > 1) {
    // XᵀX straight from the design's X (no copy: X may be gigabytes), then the kept block,
    // scaled to a unit diagonal.
    const Eigen::Map<const Eigen::MatrixXd> x(d.X.data(), static_cast<Eigen::Index>(n),
                                              static_cast<Eigen::Index>(p));
    const Eigen::MatrixXd full_gram = x.transpose() * x;
    const auto m = static_cast<Eigen::Index>(kept.size());
    Eigen::MatrixXd gram(m, m);
    for (Eigen::Index a = 0; a < m; ++a) {
      for (Eigen::Index b = 0; b < m; ++b) {
        gram(a, b) = full_gram(static_cast<Eigen::Index>(kept[static_cast<std::size_t>(a)]),
                               static_cast<Eigen::Index>(kept[static_cast<std::size_t>(b)]));
      }
    }
    const Eigen::VectorXd scale = gram.diagonal().cwiseSqrt().cwiseInverse();
    gram = scale.asDiagonal() * gram * scale.asDiagonal();
    Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(gram);
    // Relative to a unit diagonal: 1e-10 flags columns that are combinations of others up to
    // rounding, not merely strongly correlated ones.
    qr.setThreshold(1e-10);
    if (qr.rank() < m) {
      std::vector<std::string> dependent;
      for (Eigen::Index c = qr.rank(); c < m; ++c) {
        dependent.push_back(d.coef_names[kept[static_cast<std::size_t>(
            qr.colsPermutation().indices()[c])]]);
      }
      warnings_.push_back("warning: collinear predictors: " + join(dependent) +
                          (dependent.size() == 1 ? " is" : " are") +
                          " a linear combination of other columns, so the coefficients are not "
                          "all identified; drop columns, or give b proper priors (with flat ones "
                          "the posterior is improper)");
    }
  }

  // Separation (logit families): a column on which all successes lie on one side of all
  // failures sends its coefficient to infinity unless the prior stops it.
  if (d.family != family::bernoulli && d.family != family::binomial) return;
  for (std::size_t j = 0; j < p; ++j) {
    const scalar_parameter& par = scalars_[j];
    if (constant[j] || par.cls != prior_class::b || par.prior.family != prior_family::flat) continue;
    const double* x = column(j);
    double min_success = INFINITY, max_success = -INFINITY;
    double min_failure = INFINITY, max_failure = -INFINITY;
    for (std::size_t i = 0; i < n; ++i) {
      const double trials = d.trials.empty() ? 1.0 : d.trials[i];
      if (d.y[i] > 0) {
        min_success = std::min(min_success, x[i]);
        max_success = std::max(max_success, x[i]);
      }
      if (d.y[i] < trials) {
        min_failure = std::min(min_failure, x[i]);
        max_failure = std::max(max_failure, x[i]);
      }
    }
    if (max_failure <= min_success || max_success <= min_failure) {
      warnings_.push_back("warning: " + coef_label(j) +
                          " separates the outcomes (every success lies on one side of every "
                          "failure), and b_" + d.coef_names[j] +
                          " has a flat prior, so the posterior may be improper and the chains "
                          "drift off; give it a proper prior, e.g. --prior 'b ~ normal(0, 2.5)'");
    }
  }
}

void model::apply_prior(const prior_spec& spec) {
  auto fail = [&](const std::string& why) {
    throw prior_error("prior '" + spec.text + "': " + why);
  };
  const design& d = design_;
  if (spec.target == prior_class::cor) {
    if (spec.dist.family != prior_family::lkj) fail("a correlation prior must be lkj(eta)");
    bool matched = false;
    std::vector<std::string> groups;
    for (std::size_t t = 0; t < terms_.size(); ++t) {
      if (!terms_[t].correlated) continue;
      groups.push_back(d.terms[t].group);
      if (spec.group.empty() || spec.group == d.terms[t].group) {
        terms_[t].lkj_eta = spec.dist.args[0];
        matched = true;
      }
    }
    if (!matched) {
      fail(groups.empty() ? "the model has no correlated group-level terms"
                          : "the model has no correlated term on '" + spec.group +
                                "'; it has: " + join(groups));
    }
    return;
  }
  if (spec.dist.family == prior_family::lkj) fail("lkj() is a prior for cor only");
  std::vector<std::string> candidates;
  bool matched = false;
  for (scalar_parameter& p : scalars_) {
    if (p.cls != spec.target) continue;
    candidates.push_back(p.name);
    bool match = true;
    if (spec.target == prior_class::b && !spec.coef.empty()) {
      match = p.name == "b_" + spec.coef;
    } else if (spec.target == prior_class::sd) {
      // sd_<group>__<coef>; group names may contain ':' but never "__".
      const std::size_t sep = p.name.rfind("__");
      const std::string group = p.name.substr(3, sep - 3), coef = p.name.substr(sep + 2);
      match = (spec.group.empty() || spec.group == group) &&
              (spec.coef.empty() || spec.coef == coef);
    }
    if (match) {
      p.prior = spec.dist;
      matched = true;
    }
  }
  if (!matched) {
    switch (spec.target) {
      case prior_class::b:
        fail(candidates.empty() ? "the model has no population-level coefficients (class b)"
                                : "no coefficient matches; the model has: " + join(candidates));
        break;
      case prior_class::intercept:
        fail(d.has_intercept ? "with '0 + Intercept' the intercept is an ordinary coefficient: "
                               "write b[Intercept] or b"
                             : "the model has no intercept");
        break;
      case prior_class::sd:
        fail(candidates.empty() ? "the model has no group-level terms (class sd)"
                                : "no standard deviation matches; the model has: " +
                                      join(candidates));
        break;
      case prior_class::sigma:
        fail("the model has no sigma (only gaussian models without se() have one)");
        break;
      case prior_class::cor:
        break;
    }
  }
}

void model::globals_forward(const double* q, global_values& v) const {
  v.beta.resize(n_beta_);
  std::size_t n_sd = 0;
  for (const auto& t : terms_) n_sd += t.k;
  v.sd.resize(n_sd);
  v.chol_corr.resize(terms_.size());
  v.sigma = 1.0;
  double lp = 0.0;
  // q's Intercept coordinate holds the intercept at zero for these columns (all identity
  // transforms, choose_level_means): Intercept = that + Σ mean_a b_a.
  double intercept_shift = 0.0;
  for (const std::size_t a : uncentered_intercept_columns_) {
    intercept_shift += design_.column_means[a] * q[scalars_[a].q_index] / scalars_[a].column_scale;
  }
  for (std::size_t s = 0; s < scalars_.size(); ++s) {
    const scalar_parameter& p = scalars_[s];
    double x;
    switch (p.transform) {
      case scalar_transform::identity:
        x = q[p.q_index] / p.column_scale;
        if (s == 0) x += intercept_shift;
        break;
      case scalar_transform::positive:
        x = std::exp(q[p.q_index]);
        lp += q[p.q_index];
        break;
      case scalar_transform::interval: {
        const double y = q[p.q_index], u = inv_logit(y);
        x = p.lower + (p.upper - p.lower) * u;
        // log |dx/dy| = log(upper - lower) + log u + log(1 - u), with log u = -log1p(e^-y).
        lp += std::log(p.upper - p.lower) - std::log1p(std::exp(-y)) - std::log1p(std::exp(y));
        break;
      }
      case scalar_transform::fixed:
      default:
        x = p.fixed_value;
        break;
    }
    if (p.transform != scalar_transform::fixed) {
      lp += prior_log_density(p.prior, x, nullptr) - p.log_normalizer;
    }
    if (s < n_beta_) {
      v.beta[s] = x;
    } else if (has_sigma_ && s == sigma_index_) {
      v.sigma = x;
    } else {
      v.sd[s - n_beta_] = x;
    }
  }
  v.level_means.assign(n_sd, 0.0);
  for (std::size_t t = 0; t < terms_.size(); ++t) {
    const term_parameters& tp = terms_[t];
    for (std::size_t c = 0; c < tp.mean_of.size(); ++c) {
      if (tp.mean_of[c] < 0) continue;
      const auto b = static_cast<std::size_t>(tp.mean_of[c]);
      v.level_means[tp.first_sd - n_beta_ + c] = v.beta[b] - (b == 0 ? intercept_shift : 0.0);
    }
    auto& chol = v.chol_corr[t];
    chol.assign(tp.k * tp.k, 0.0);
    if (tp.correlated) {
      lp += detail::cholesky_corr_constrain(q + tp.cpc_q_index, tp.k, chol.data());
      lp += detail::lkj_cholesky_log_density(chol.data(), tp.k, tp.lkj_eta);
    } else {
      for (std::size_t a = 0; a < tp.k; ++a) chol[a * tp.k + a] = 1.0;
    }
    if (tp.centered()) {
      // log N(u_j | 0, D L Lᵀ D) = -z·z/2 - log|D L| - k log(2π)/2 per level; the backend adds
      // -z·z/2, log_density_constant the last term, and this the middle one for all J levels
      // (for the centered block C alone, u_C = D_C L_CC z_C, when only C is centered).
      double log_det = 0.0;
      for (std::size_t a = 0; a < tp.n_centered; ++a) {
        log_det += std::log(v.sd[tp.first_sd - n_beta_ + a]) + std::log(chol[a * tp.k + a]);
      }
      lp -= static_cast<double>(design_.terms[t].n_levels) * log_det;
    }
  }
  v.log_prior_jacobian = lp;
}

void model::globals_backward(const double* q, const global_values& v, const global_gradients& g,
                             double* grad_q) const {
  // ∂/∂sd with the centered coefficients' -J Σ log sd (globals_forward) added.
  std::vector<double> g_sd = g.sd;
  for (std::size_t t = 0; t < terms_.size(); ++t) {
    const auto n_levels = static_cast<double>(design_.terms[t].n_levels);
    for (std::size_t a = 0; a < terms_[t].n_centered; ++a) {
      const std::size_t i = terms_[t].first_sd - n_beta_ + a;
      g_sd[i] -= n_levels / v.sd[i];
    }
  }
  // ∂/∂ the coefficients that centered terms are centered on, as q holds them.
  std::vector<double> g_level_mean(n_beta_, 0.0);
  for (const term_parameters& tp : terms_) {
    for (std::size_t c = 0; c < tp.mean_of.size(); ++c) {
      if (tp.mean_of[c] >= 0) {
        g_level_mean[static_cast<std::size_t>(tp.mean_of[c])] +=
            g.level_means[tp.first_sd - n_beta_ + c];
      }
    }
  }
  double g_intercept = 0.0;  // ∂/∂Intercept from the data and its prior (not its level means)
  for (std::size_t s = 0; s < scalars_.size(); ++s) {
    const scalar_parameter& p = scalars_[s];
    if (p.transform == scalar_transform::fixed) continue;
    double x, g_x;
    if (s < n_beta_) {
      x = v.beta[s];
      g_x = g.beta[s];
    } else if (has_sigma_ && s == sigma_index_) {
      x = v.sigma;
      g_x = g.sigma;
    } else {
      x = v.sd[s - n_beta_];
      g_x = g_sd[s - n_beta_];
    }
    double d_prior = 0.0;
    prior_log_density(p.prior, x, &d_prior);
    g_x += d_prior;
    if (s < n_beta_) {
      // Intercept = q's coordinate + Σ mean_a b_a (globals_forward); the level means read q's.
      if (s == 0) g_intercept = g_x;
      if (std::find(uncentered_intercept_columns_.begin(), uncentered_intercept_columns_.end(),
                    s) != uncentered_intercept_columns_.end()) {
        g_x += design_.column_means[s] * g_intercept;
      }
      g_x += g_level_mean[s];
    }
    const double y = q[p.q_index];
    switch (p.transform) {
      case scalar_transform::identity:
        grad_q[p.q_index] += g_x / p.column_scale;
        break;
      case scalar_transform::positive:
        grad_q[p.q_index] += g_x * x + 1.0;  // dx/dy = x; d(log Jacobian)/dy = 1
        break;
      case scalar_transform::interval: {
        const double u = inv_logit(y);
        grad_q[p.q_index] += g_x * (p.upper - p.lower) * u * (1.0 - u) + (1.0 - 2.0 * u);
        break;
      }
      case scalar_transform::fixed:
        break;
    }
  }
  std::vector<double> g_chol;
  for (std::size_t t = 0; t < terms_.size(); ++t) {
    const term_parameters& tp = terms_[t];
    if (!tp.correlated) continue;
    g_chol = g.chol_corr[t];
    if (tp.centered()) {  // -J Σ log L_aa over the centered coefficients (globals_forward)
      const auto n_levels = static_cast<double>(design_.terms[t].n_levels);
      for (std::size_t a = 0; a < tp.n_centered; ++a) {
        g_chol[a * tp.k + a] -= n_levels / v.chol_corr[t][a * tp.k + a];
      }
    }
    detail::lkj_cholesky_gradient(v.chol_corr[t].data(), tp.k, tp.lkj_eta, g_chol.data());
    detail::cholesky_corr_backward(q + tp.cpc_q_index, tp.k, v.chol_corr[t].data(),
                                   g_chol.data(), grad_q + tp.cpc_q_index);
  }
}

std::vector<double> model::init_centers() const {
  std::vector<double> centers(dim_, 0.0);
  for (const scalar_parameter& p : scalars_) {
    if (p.cls == prior_class::intercept && p.transform == scalar_transform::identity) {
      centers[p.q_index] = intercept_init_center_;
    }
  }
  return centers;
}

std::vector<double> model::initial_inv_metric() const {
  const design& d = design_;
  std::vector<double> var(dim_, 1.0);
  const auto n = static_cast<double>(d.n_obs);
  if (d.n_obs == 0) return var;
  // φ: a row's noise variance on the link scale.
  double phi = 1.0;
  switch (d.family) {
    case family::gaussian:
      if (!d.se.empty()) {
        phi = 0.0;
        for (double s : d.se) phi += s * s / n;
      } else if (d.n_obs > 1) {
        double mean = 0.0, sum_sq = 0.0;
        for (double y : d.y) mean += y / n;
        for (double y : d.y) sum_sq += (y - mean) * (y - mean);
        phi = sum_sq / (n - 1.0);
      }
      break;
    case family::bernoulli:
    case family::binomial: {
      double successes = 0.0, trials = 0.0;
      for (std::size_t i = 0; i < d.n_obs; ++i) {
        successes += d.y[i];
        trials += d.trials.empty() ? 1.0 : d.trials[i];
      }
      const double p = std::clamp(successes / std::max(trials, 1.0), 0.01, 0.99);
      phi = 1.0 / ((trials / n) * p * (1.0 - p));
      break;
    }
    case family::poisson: {
      double mean = 0.0;
      for (double y : d.y) mean += y / n;
      phi = 1.0 / std::max(mean, 0.1);
      break;
    }
  }
  if (!(phi > 0.0) || !std::isfinite(phi)) phi = 1.0;

  // A centered term's level effect, as its rows and spread leave it: (1 + spread over noise)
  // φ / rows; what a coefficient that is its levels' mean or is absorbed by them is fitted from.
  // The spread of its centered coefficients (a partly centered term's flat slopes do not count).
  const auto level_effect_variance = [&](const term_parameters& tp) {
    double spread = std::isnan(tp.signal_to_noise) ? 1.0 : tp.signal_to_noise;
    if (tp.coefficient_signal_to_noise.size() == tp.k && tp.centered()) {
      spread = *std::min_element(tp.coefficient_signal_to_noise.begin(),
                                 tp.coefficient_signal_to_noise.begin() +
                                     static_cast<std::ptrdiff_t>(tp.n_centered));
    }
    return (1.0 + spread) * phi / std::max(tp.rows_per_level, 1.0);
  };
  // Population-level coefficients that are some centered term's level mean (mean_of).
  std::vector<std::ptrdiff_t> mean_term(n_beta_, -1);
  for (std::size_t t = 0; t < terms_.size(); ++t) {
    for (const std::ptrdiff_t b : terms_[t].mean_of) {
      if (b >= 0) mean_term[static_cast<std::size_t>(b)] = static_cast<std::ptrdiff_t>(t);
    }
  }
  for (std::size_t s = 0; s < scalars_.size(); ++s) {
    const scalar_parameter& p = scalars_[s];
    if (p.transform == scalar_transform::fixed) continue;
    double v = 1.0;
    if (p.transform == scalar_transform::identity && s < n_beta_) {
      v = phi / n;
      if (mean_term[s] >= 0) {
        const auto t = static_cast<std::size_t>(mean_term[s]);
        v = level_effect_variance(terms_[t]) / static_cast<double>(d.terms[t].n_levels);
      }
    } else if (p.transform == scalar_transform::positive) {
      if (has_sigma_ && s == sigma_index_) {
        v = 1.0 / (2.0 * n);
      } else {
        for (std::size_t t = 0; t < terms_.size(); ++t) {
          if (s >= terms_[t].first_sd && s < terms_[t].first_sd + terms_[t].k) {
            v = std::min(1.0, 1.0 / (2.0 * static_cast<double>(d.terms[t].n_levels)));
          }
        }
      }
    }
    var[p.q_index] = v;
  }
  // Absorbed coefficients: a regression of the J level effects on the column's level values,
  // level_effect_variance over Σ_j x_aj² (times the column's scale squared, as q holds the
  // coefficient times it).
  for (const term_parameters& tp : terms_) {
    for (const auto& coefficient : tp.absorbed_coefficients) {
      double sum_sq = 0.0;
      for (const double x : coefficient.level_values) sum_sq += x * x;
      const scalar_parameter& p = scalars_[coefficient.coefficient];
      if (sum_sq > 0.0) {
        var[p.q_index] = level_effect_variance(tp) / sum_sq * p.column_scale * p.column_scale;
      }
    }
  }
  // Centered levels: φ over the level's Σ x² of each centered coefficient.
  const std::vector<double> level_sum_sq = level_sum_squares(d);
  for (std::size_t t = 0; t < terms_.size(); ++t) {
    const term_parameters& tp = terms_[t];
    const random_block& block = d.terms[t];
    for (std::size_t j = 0; j < block.n_levels; ++j) {
      for (std::size_t c = 0; c < tp.n_centered; ++c) {
        const double information = level_sum_sq[block.u_offset + j * tp.k + c];
        var[tp.z_q_index + j * tp.k + c] = information > 0.0 ? phi / information : 1.0;
      }
    }
  }
  for (double& v : var) v = std::clamp(std::isfinite(v) ? v : 1.0, 1e-12, 1e6);
  return var;
}

std::vector<std::string> model::unconstrained_names() const {
  std::vector<std::string> names(dim_);
  for (const auto& p : scalars_) {
    if (p.transform == scalar_transform::fixed) continue;
    const char* wrap = p.transform == scalar_transform::positive   ? "log"
                       : p.transform == scalar_transform::interval ? "logit"
                                                                   : "";
    names[p.q_index] = *wrap ? std::string(wrap) + "(" + p.name + ")" : p.name;
  }
  if (!uncentered_intercept_columns_.empty()) {  // the intercept at zero for these columns
    std::string columns;
    for (const std::size_t a : uncentered_intercept_columns_) {
      columns += (columns.empty() ? "" : ",") + design_.coef_names[a];
    }
    names[scalars_[0].q_index] = "Intercept(" + columns + " at 0)";
  }
  for (std::size_t t = 0; t < terms_.size(); ++t) {
    const auto& block = design_.terms[t];
    const auto& tp = terms_[t];
    if (tp.correlated) {
      std::size_t m = tp.cpc_q_index;
      for (std::size_t i = 1; i < tp.k; ++i) {
        for (std::size_t j = 0; j < i; ++j) {
          names[m++] = "cpc_" + block.group + "[" + std::to_string(i + 1) + "," +
                       std::to_string(j + 1) + "]";
        }
      }
    }
    for (std::size_t j = 0; j < block.n_levels; ++j) {
      for (std::size_t c = 0; c < tp.k; ++c) {
        // A term centered on a coefficient holds their sum: "b_x+r_g[3,x]".
        const bool centered = c < tp.n_centered;
        const bool has_mean = centered && tp.mean_of[c] >= 0;
        std::string mean;
        if (has_mean) {
          const auto b = static_cast<std::size_t>(tp.mean_of[c]);
          mean = (b == 0 && design_.has_intercept ? std::string("Intercept")
                                                  : scalars_[b].name) + "+";
        }
        // An absorbing intercept's entry adds its slopes: "...+potus2016*r_state[AL,potus2016]".
        std::string slopes;
        for (const auto& slope : tp.absorbed) {
          const std::string& x = design_.terms[slope.term].coef_names[0];
          slopes += "+" + x + "*r_" + block.group + "[" + block.level_labels[j] + "," + x + "]";
        }
        // And its coefficients, on the Intercept's entry: "...+x*b_x".
        for (std::size_t a = 0; c == 0 && a < tp.absorbed_coefficients.size(); ++a) {
          const auto& coefficient = tp.absorbed_coefficients[a];
          slopes += "+" + design_.coef_names[coefficient.coefficient] + "*" +
                    scalars_[coefficient.coefficient].name;
        }
        names[tp.z_q_index + j * tp.k + c] = mean + (centered ? "r_" : "z_") + block.group +
                                              "[" + block.level_labels[j] + "," +
                                              block.coef_names[c] + "]" + slopes;
      }
    }
  }
  return names;
}

std::size_t model::n_output_globals() const {
  std::size_t n = scalars_.size();
  for (const auto& t : terms_) {
    if (t.correlated) n += t.k * (t.k - 1) / 2;
  }
  return n;
}

std::vector<std::string> model::output_names(bool include_group_effects) const {
  std::vector<std::string> names;
  for (std::size_t s = 0; s < scalars_.size(); ++s) {
    if (has_sigma_ && s == sigma_index_) continue;
    names.push_back(s == 0 && design_.centered ? "b_Intercept" : scalars_[s].name);
  }
  for (std::size_t t = 0; t < terms_.size(); ++t) {
    if (!terms_[t].correlated) continue;
    const auto& coefs = design_.terms[t].coef_names;
    for (std::size_t b = 1; b < coefs.size(); ++b) {
      for (std::size_t a = 0; a < b; ++a) {
        names.push_back("cor_" + design_.terms[t].group + "__" + coefs[a] + "__" + coefs[b]);
      }
    }
  }
  if (has_sigma_) names.push_back("sigma");
  if (include_group_effects) {
    for (const auto& g : output_groups_) {
      const std::size_t n_levels = design_.terms[g.first_term].n_levels;
      for (std::size_t c = 0; c < g.coefs.size(); ++c) {
        for (std::size_t j = 0; j < n_levels; ++j) {
          names.push_back(g.name + "." + std::to_string(j + 1) + "." + std::to_string(c + 1));
        }
      }
    }
  }
  return names;
}

void model::write_constrained(const double* q, double* out, bool include_group_effects) const {
  global_values v;
  globals_forward(q, v);
  std::size_t o = 0;
  for (std::size_t j = 0; j < n_beta_; ++j) out[o++] = v.beta[j];
  if (design_.centered) {
    // b_Intercept on the original scale: Intercept_c - Σ_j mean_j b_j.
    for (std::size_t j = 1; j < n_beta_; ++j) out[0] -= design_.column_means[j] * v.beta[j];
  }
  for (double sd : v.sd) out[o++] = sd;
  for (std::size_t t = 0; t < terms_.size(); ++t) {
    if (!terms_[t].correlated) continue;
    const std::size_t k = terms_[t].k;
    const auto& chol = v.chol_corr[t];
    for (std::size_t b = 1; b < k; ++b) {
      for (std::size_t a = 0; a < b; ++a) {
        double r = 0.0;  // (L Lᵀ)[a][b]
        for (std::size_t l = 0; l <= a; ++l) r += chol[a * k + l] * chol[b * k + l];
        out[o++] = r;
      }
    }
  }
  if (has_sigma_) out[o++] = v.sigma;
  if (!include_group_effects) return;
  std::vector<double> u(design_.n_u);
  group_effects_forward(q, v, u.data());
  for (const auto& g : output_groups_) {
    const std::size_t n_levels = design_.terms[g.first_term].n_levels;
    for (const auto& [t, c] : g.coefs) {
      const random_block& block = design_.terms[t];
      for (std::size_t j = 0; j < n_levels; ++j) {
        out[o++] = u[block.u_offset + j * block.n_coefs() + c];
      }
    }
  }
}

void model::group_effects_forward(const double* q, const global_values& v, double* u) const {
  // An absorbing intercept's level mean reads the effects of the slopes it absorbs: it goes second.
  for (const bool absorbing : {false, true}) {
    for (std::size_t t = 0; t < terms_.size(); ++t) {
      const term_parameters& tp = terms_[t];
      if (tp.absorbs() != absorbing) continue;
      const random_block& block = design_.terms[t];
      const std::size_t sd0 = tp.first_sd - n_beta_;
      const int k = static_cast<int>(tp.k);
      if (k == 1 && tp.n_centered == 0 && !absorbing) {
        // The common non-centered (1 | g): group_effect_forward at k = 1 (u = sd · L z with L's
        // one entry, 1; its sum over k starts from 0, which changes at most the sign of a zero)
        // in a loop without its per-level call, where many small levels make that call most of
        // the cost (grouseticks' 403 observation-level effects).
        const double sd = v.sd[sd0];
        const double* z = q + tp.z_q_index;
        double* u_term = u + block.u_offset;
        for (std::size_t j = 0; j < block.n_levels; ++j) u_term[j] = sd * z[j];
        continue;
      }
      double level_means[kernels::max_centered_k];
      for (std::size_t j = 0; j < block.n_levels; ++j) {
        if (absorbing) absorbing_level_means(t, j, v, u, level_means);
        kernels::group_level_forward(k, static_cast<int>(tp.n_centered), v.sd.data() + sd0,
                                     v.chol_corr[t].data(),
                                     absorbing ? level_means : v.level_means.data() + sd0,
                                     q + tp.z_q_index + j * tp.k, u + block.u_offset + j * tp.k);
      }
    }
  }
}

void model::absorbing_level_means(std::size_t t, std::size_t j, const global_values& v,
                                  const double* u, double* means) const {
  const term_parameters& tp = terms_[t];
  const double* term_means = v.level_means.data() + (tp.first_sd - n_beta_);
  std::copy(term_means, term_means + tp.k, means);
  for (const auto& slope : tp.absorbed) {  // k = 1
    means[0] += slope.level_values[j] * u[design_.terms[slope.term].u_offset + j];
  }
  for (const auto& coefficient : tp.absorbed_coefficients) {
    means[0] += coefficient.level_values[j] * v.beta[coefficient.coefficient];
  }
}

std::vector<model::group_labels> model::output_group_labels() const {
  std::vector<group_labels> out;
  for (const auto& g : output_groups_) {
    group_labels labels{g.name, design_.terms[g.first_term].level_labels, {}};
    for (const auto& [t, c] : g.coefs) labels.coefs.push_back(design_.terms[t].coef_names[c]);
    out.push_back(std::move(labels));
  }
  return out;
}

std::vector<std::string> model::prior_summary() const {
  std::vector<std::string> lines;
  for (const auto& p : scalars_) {
    std::string line = p.name + " ~ " + p.prior.text();
    if (p.truncated_at_zero && p.transform != scalar_transform::fixed &&
        p.prior.family != prior_family::flat && p.prior.family != prior_family::uniform) {
      line += " truncated to (0, inf)";
    }
    lines.push_back(line);
  }
  for (std::size_t t = 0; t < terms_.size(); ++t) {
    if (!terms_[t].correlated) continue;
    std::ostringstream eta;
    eta << terms_[t].lkj_eta;
    lines.push_back("cor_" + design_.terms[t].group + " ~ lkj(" + eta.str() + ")");
  }
  return lines;
}

centering parse_centering(const std::string& text) {
  centering c;
  if (text == "auto") return c;
  if (text == "none") {
    c.how = centering::mode::none;
    return c;
  }
  if (text == "all") {
    c.how = centering::mode::all;
    return c;
  }
  c.how = centering::mode::listed;
  std::size_t begin = 0;
  while (true) {
    const std::size_t comma = text.find(',', begin);
    std::string name = text.substr(begin, comma == std::string::npos ? std::string::npos
                                                                     : comma - begin);
    const auto first = name.find_first_not_of(" \t");
    const auto last = name.find_last_not_of(" \t");
    name = first == std::string::npos ? "" : name.substr(first, last - first + 1);
    if (name.empty()) {
      throw option_error("--centered '" + text + "': expected auto, none, all, or grouping " +
                         "factors separated by commas (e.g. state,dem), and found an empty name");
    }
    c.groups.push_back(name);
    if (comma == std::string::npos) break;
    begin = comma + 1;
  }
  return c;
}

}  // namespace hbglm
