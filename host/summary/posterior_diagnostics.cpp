// The posterior package's summaries and diagnostics for one variable (hbglm::posterior and
// summarise_draws); the building blocks are in posterior_internal.cpp. Definitions: Vehtari,
// Gelman, Simpson, Carpenter and Buerkner (2021), as implemented in posterior 1.4.0
// (rhat.default, ess_bulk.default, ess_tail.default, ess_basic.default, mcse_mean.default).

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "hbglm/error.hpp"
#include "hbglm/summary.hpp"
#include "summary/posterior_internal.hpp"

namespace hbglm {

namespace {

using detail::posterior::draws_matrix;

constexpr double nan_value = std::numeric_limits<double>::quiet_NaN();

// R's mad() default constant 1.4826 (about 1 / qnorm(3/4): mad estimates sd for normal draws).
constexpr double mad_constant = 1.4826;

bool any_nan(const std::vector<double>& v) {
  return std::any_of(v.begin(), v.end(), [](double d) { return std::isnan(d); });
}

// R's min()/max() of two results: NA when either is NA.
double na_min(double a, double b) {
  return (std::isnan(a) || std::isnan(b)) ? nan_value : std::min(a, b);
}
double na_max(double a, double b) {
  return (std::isnan(a) || std::isnan(b)) ? nan_value : std::max(a, b);
}

// z_scale turns NA into NA and then .rhat/.ess answer NA; ranks of the other values (infinite
// ones included) are well defined, so only NaN short-cuts here.
double rhat_of_ranks(const draws_matrix& split) {
  if (any_nan(split.values)) return nan_value;
  return detail::posterior::rhat_chains(detail::posterior::z_scale(split));
}

double ess_of_ranks(const draws_matrix& split) {
  if (any_nan(split.values)) return nan_value;
  return detail::posterior::ess_chains(detail::posterior::z_scale(split));
}

// posterior:::.ess_quantile given the sorted draws: the ESS of the indicator x <= quantile.
double ess_quantile_sorted(const draws_matrix& x, const std::vector<double>& sorted, double prob) {
  if (detail::posterior::should_return_na(x.values)) return nan_value;
  if (prob == 1) {
    // posterior: the indicator of the maximum would be constant
    const double len = static_cast<double>(x.values.size());
    prob = (len - 0.5) / len;
  }
  const double q = detail::posterior::quantile7_sorted(sorted, prob);
  draws_matrix indicator = x;
  for (double& v : indicator.values) v = v <= q ? 1.0 : 0.0;
  return detail::posterior::ess_chains(detail::posterior::split_chains(indicator));
}

std::vector<double> sorted_copy(const std::vector<double>& v) {
  std::vector<double> s = v;
  std::sort(s.begin(), s.end());
  return s;
}

// R's mad from the folded draws |x - median(x)| (posterior::fold_draws): their median, scaled.
double mad_of_folded(const draws_matrix& folded) {
  std::vector<double> dev = folded.values;
  if (dev.empty() || any_nan(dev)) return nan_value;  // NaN: an infinite median
  return mad_constant * detail::posterior::median_unsorted(dev);
}

void check_prob(double prob) {
  if (!(prob >= 0 && prob <= 1)) {
    throw data_error("quantile: probability " + std::to_string(prob) + " is not in [0, 1]");
  }
}

}  // namespace

namespace posterior {

double mean(const std::vector<std::vector<double>>& x) {
  const draws_matrix m = detail::posterior::to_draws_matrix(x);
  return detail::posterior::r_mean(m.values.data(), m.values.size());
}

double median(const std::vector<std::vector<double>>& x) {
  const draws_matrix m = detail::posterior::to_draws_matrix(x);
  if (any_nan(m.values)) return nan_value;
  std::vector<double> copy = m.values;
  return detail::posterior::median_unsorted(copy);
}

double sd(const std::vector<std::vector<double>>& x) {
  const draws_matrix m = detail::posterior::to_draws_matrix(x);
  return std::sqrt(detail::posterior::r_var(m.values.data(), m.values.size()));
}

double mad(const std::vector<std::vector<double>>& x) {
  const draws_matrix m = detail::posterior::to_draws_matrix(x);
  if (any_nan(m.values)) return nan_value;
  std::vector<double> copy = m.values;
  return mad_of_folded(detail::posterior::fold_draws(m, detail::posterior::median_unsorted(copy)));
}

double quantile2(const std::vector<std::vector<double>>& x, double prob) {
  check_prob(prob);
  const draws_matrix m = detail::posterior::to_draws_matrix(x);
  if (any_nan(m.values)) return nan_value;  // quantile2 with na.rm = FALSE
  return detail::posterior::quantile7_sorted(sorted_copy(m.values), prob);
}

double rhat(const std::vector<std::vector<double>>& x) {
  const draws_matrix m = detail::posterior::to_draws_matrix(x);
  const double bulk = rhat_of_ranks(detail::posterior::split_chains(m));
  const double tail =
      rhat_of_ranks(detail::posterior::split_chains(detail::posterior::fold_draws(m)));
  return na_max(bulk, tail);
}

double rhat_basic(const std::vector<std::vector<double>>& x) {
  return detail::posterior::rhat_chains(
      detail::posterior::split_chains(detail::posterior::to_draws_matrix(x)));
}

double ess_bulk(const std::vector<std::vector<double>>& x) {
  return ess_of_ranks(detail::posterior::split_chains(detail::posterior::to_draws_matrix(x)));
}

double ess_quantile(const std::vector<std::vector<double>>& x, double prob) {
  check_prob(prob);
  const draws_matrix m = detail::posterior::to_draws_matrix(x);
  if (detail::posterior::should_return_na(m.values)) return nan_value;
  return ess_quantile_sorted(m, sorted_copy(m.values), prob);
}

double ess_tail(const std::vector<std::vector<double>>& x) {
  const draws_matrix m = detail::posterior::to_draws_matrix(x);
  if (detail::posterior::should_return_na(m.values)) return nan_value;
  const std::vector<double> sorted = sorted_copy(m.values);
  return na_min(ess_quantile_sorted(m, sorted, 0.05), ess_quantile_sorted(m, sorted, 0.95));
}

double ess_basic(const std::vector<std::vector<double>>& x) {
  return detail::posterior::ess_chains(
      detail::posterior::split_chains(detail::posterior::to_draws_matrix(x)));
}

double mcse_mean(const std::vector<std::vector<double>>& x) {
  return sd(x) / std::sqrt(ess_basic(x));
}

}  // namespace posterior

draws_summary summarise_draws(const std::string& variable,
                              const std::vector<std::vector<double>>& x) {
  const draws_matrix m = detail::posterior::to_draws_matrix(x);
  draws_summary s;
  s.variable = variable;
  const std::size_t n = m.values.size();
  s.mean = detail::posterior::r_mean(m.values.data(), n);
  s.sd = std::sqrt(detail::posterior::r_var(m.values.data(), n));

  const draws_matrix split = detail::posterior::split_chains(m);
  s.ess_basic = detail::posterior::ess_chains(split);
  s.rhat_basic = detail::posterior::rhat_chains(split);
  s.mcse_mean = s.sd / std::sqrt(s.ess_basic);

  if (any_nan(m.values)) {
    // posterior answers NA for every other measure (median, mad and quantile2 do not drop NA).
    s.median = s.mad = s.q2_5 = s.q5 = s.q95 = s.q97_5 = nan_value;
    s.rhat = s.ess_bulk = s.ess_tail = nan_value;
    return s;
  }
  const std::vector<double> sorted = sorted_copy(m.values);
  s.median = detail::posterior::median_sorted(sorted);
  const draws_matrix folded = detail::posterior::fold_draws(m, s.median);
  s.mad = mad_of_folded(folded);
  s.q2_5 = detail::posterior::quantile7_sorted(sorted, 0.025);
  s.q5 = detail::posterior::quantile7_sorted(sorted, 0.05);
  s.q95 = detail::posterior::quantile7_sorted(sorted, 0.95);
  s.q97_5 = detail::posterior::quantile7_sorted(sorted, 0.975);

  // The bulk R-hat and the bulk ESS share one rank normalization of the split chains.
  const draws_matrix z = detail::posterior::z_scale(split);
  s.ess_bulk = detail::posterior::ess_chains(z);
  const double rhat_tail = rhat_of_ranks(detail::posterior::split_chains(folded));
  s.rhat = na_max(detail::posterior::rhat_chains(z), rhat_tail);

  if (detail::posterior::should_return_na(m.values)) {
    s.ess_tail = nan_value;
  } else {
    s.ess_tail = na_min(ess_quantile_sorted(m, sorted, 0.05), ess_quantile_sorted(m, sorted, 0.95));
  }
  return s;
}

}  // namespace hbglm
