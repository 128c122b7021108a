// Sampler diagnostics (divergences, tree-depth saturation, E-BFMI) and the warnings of
// `hbglm summary`, with the advice Stan's documentation gives
// (https://mc-stan.org/misc/warnings.html; CmdStan's diagnose; Vehtari et al. 2021 section 4).

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "hbglm/summary.hpp"

namespace hbglm {

namespace {

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string plural(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

double e_bfmi(const std::vector<double>& energy) {
  const std::size_t n = energy.size();
  if (n < 2) return std::numeric_limits<double>::quiet_NaN();
  long double mean = 0;
  for (double e : energy) mean += e;
  mean /= static_cast<long double>(n);
  long double num = 0, den = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0) {
      const long double diff = static_cast<long double>(energy[i]) - energy[i - 1];
      num += diff * diff;
    }
    const long double dev = energy[i] - mean;
    den += dev * dev;
  }
  if (den == 0) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(num / den);
}

sampler_diagnostics diagnose_sampler(const named_draws& d, int max_depth) {
  sampler_diagnostics diag;
  diag.max_depth = max_depth;
  diag.n_draws = d.n_chains() * d.n_draws_per_chain();
  const std::size_t divergent = d.find("divergent__");
  if (divergent != named_draws::npos) {
    diag.has_divergent = true;
    for (const auto& chain : d.draws[divergent]) {
      for (double v : chain) diag.n_divergent += (v != 0 && !std::isnan(v));
    }
  }
  const std::size_t treedepth = d.find("treedepth__");
  if (treedepth != named_draws::npos) {
    diag.has_treedepth = true;
    for (const auto& chain : d.draws[treedepth]) {
      for (double v : chain) diag.n_max_treedepth += (v >= max_depth);
    }
  }
  const std::size_t energy = d.find("energy__");
  if (energy != named_draws::npos) {
    for (const auto& chain : d.draws[energy]) diag.e_bfmi.push_back(e_bfmi(chain));
  }
  return diag;
}

std::vector<std::string> diagnostic_warnings(const sampler_diagnostics& diag,
                                             const std::vector<draws_summary>& rows) {
  std::vector<std::string> out;
  if (diag.n_divergent > 0) {
    out.push_back(
        "Warning: " + std::to_string(diag.n_divergent) + " of " + std::to_string(diag.n_draws) +
        " transitions after warmup were divergent; the draws may be biased. Increase adapt_delta "
        "(e.g. --adapt-delta 0.95 or 0.99) for a smaller step size; if divergences remain, "
        "reparameterize the model (e.g. stronger priors on the sd_ parameters). See "
        "https://mc-stan.org/misc/warnings.html#divergent-transitions-after-warmup");
  }
  if (diag.n_max_treedepth > 0) {
    out.push_back(
        "Warning: " + std::to_string(diag.n_max_treedepth) + " of " + std::to_string(diag.n_draws) +
        " transitions after warmup hit the maximum tree depth of " +
        std::to_string(diag.max_depth) +
        ". This is an efficiency concern, not a validity one: increase max_depth "
        "(--max-depth " +
        std::to_string(diag.max_depth + 2) +
        ") or reparameterize the model (strongly correlated or badly scaled parameters).");
  }
  std::string low_chains;
  std::size_t n_low = 0;
  for (std::size_t c = 0; c < diag.e_bfmi.size(); ++c) {
    if (diag.e_bfmi[c] < e_bfmi_warning_threshold) {
      low_chains += (low_chains.empty() ? "" : ", ") + std::string("chain ") +
                    std::to_string(c + 1) + " (" + fixed(diag.e_bfmi[c], 2) + ")";
      ++n_low;
    }
  }
  if (n_low > 0) {
    out.push_back("Warning: E-BFMI below " + fixed(e_bfmi_warning_threshold, 1) + " in " +
                  plural(n_low, "chain", "chains") + ": " + low_chains +
                  ". The sampler explores the energy distribution poorly (often a funnel or heavy "
                  "tails). Reparameterize the model (e.g. --centered: centered group effects for "
                  "data-rich groups, non-centered for data-poor ones; stronger priors) or run a "
                  "longer warmup.");
  }

  std::size_t n_rhat = 0;
  const draws_summary* worst_rhat = nullptr;
  std::size_t n_ess = 0;
  const draws_summary* worst_bulk = nullptr;
  const draws_summary* worst_tail = nullptr;
  for (const draws_summary& s : rows) {
    if (s.rhat > rhat_warning_threshold) {  // false for NaN (constants): nothing to mix
      ++n_rhat;
      if (!worst_rhat || s.rhat > worst_rhat->rhat) worst_rhat = &s;
    }
    const bool low_bulk = s.ess_bulk < ess_warning_threshold;
    const bool low_tail = s.ess_tail < ess_warning_threshold;
    if (low_bulk || low_tail) ++n_ess;
    if (low_bulk && (!worst_bulk || s.ess_bulk < worst_bulk->ess_bulk)) worst_bulk = &s;
    if (low_tail && (!worst_tail || s.ess_tail < worst_tail->ess_tail)) worst_tail = &s;
  }
  if (n_rhat > 0) {
    out.push_back("Warning: " + plural(n_rhat, "variable has", "variables have") + " R-hat above " +
                  fixed(rhat_warning_threshold, 2) + " (largest " + fixed(worst_rhat->rhat, 2) +
                  " for " + worst_rhat->variable +
                  "): the chains have not mixed and the estimates are unreliable. Run the chains "
                  "longer (more iterations); if R-hat stays high, look for multimodality or "
                  "weakly identified parameters and consider stronger priors or reparameterizing.");
  }
  if (n_ess > 0) {
    std::string detail;
    if (worst_bulk) {
      detail +=
          "smallest bulk ESS " + fixed(worst_bulk->ess_bulk, 0) + " for " + worst_bulk->variable;
    }
    if (worst_tail) {
      detail += std::string(detail.empty() ? "" : ", ") + "smallest tail ESS " +
                fixed(worst_tail->ess_tail, 0) + " for " + worst_tail->variable;
    }
    out.push_back("Warning: " + plural(n_ess, "variable has", "variables have") +
                  " bulk or tail ESS below " + fixed(ess_warning_threshold, 0) + " (" + detail +
                  "): posterior means, medians and quantiles may be unreliable. Run the chains "
                  "longer (more iterations) or reparameterize the model.");
  }
  return out;
}

}  // namespace hbglm
