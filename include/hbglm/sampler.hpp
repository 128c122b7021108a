#pragma once
/** @file NUTS options and the per-chain callback interface. All sampler defaults live here and are
 *  Stan's user-facing values (stan/services/sample/defaults.hpp, cmdstan arg_nuts.hpp and
 *  arg_adapt.hpp), never the member defaults of Stan's classes (stepsize_adaptation's delta 0.5,
 *  base_nuts' max depth 5). The CLI and the library share this one struct. */

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace hbglm {

/** The shape of the inverse metric that warmup adapts. */
enum class metric_kind {
  diag,       ///< diagonal (Stan's default, diag_e)
  dense,      ///< dense over every parameter (dense_e); memory grows as dim²
  dense_diag  ///< dense over the global parameters (they come first), diagonal over the rest
};

/** "diag", "dense" or "dense_diag". */
std::string to_string(metric_kind kind);

/** Parses "diag", "dense" or "dense_diag".
 *  @throws option_error for anything else. */
metric_kind parse_metric_kind(const std::string& text);

/** Options of one NUTS run (warmup with adaptation, then sampling), with Stan's defaults. */
struct nuts_options {
  // --- NUTS (base_nuts, base_hmc) ---
  int max_depth = 10;              ///< maximum tree depth; a tree has at most 2^max_depth - 1 steps
  double max_delta_h = 1000;       ///< energy error H - H0 above which a leaf is divergent
  double stepsize = 1;             ///< initial nominal step size (before the heuristic)
  double stepsize_jitter = 0;      ///< each transition uses stepsize·(1 + jitter·U(-1, 1)), 0 ≤ j ≤ 1
  metric_kind metric = metric_kind::diag;

  // --- adaptation (stepsize_adaptation, windowed_adaptation) ---
  bool adapt_engaged = true;  ///< adapt step size and metric during warmup (off when num_warmup = 0)
  double delta = 0.8;         ///< target acceptance statistic, 0 < delta < 1
  double gamma = 0.05;        ///< dual-averaging regularization scale, > 0
  double kappa = 0.75;        ///< dual-averaging relaxation exponent, > 0
  double t0 = 10;             ///< dual-averaging iteration offset, > 0
  int init_buffer = 75;       ///< fast (step size only) iterations before the first metric window
  int term_buffer = 50;       ///< fast iterations after the last metric window
  int window = 25;            ///< size of the first metric window; each next one doubles

  // --- run (services) ---
  int num_warmup = 1000;   ///< warmup iterations, ≥ 0
  int num_samples = 1000;  ///< post-warmup iterations, ≥ 0
  int thin = 1;            ///< report every thin-th iteration (within warmup and within sampling)
  double init_radius = 2;  ///< random initial values uniform(-R, R) on the unconstrained scale
  std::uint64_t seed = 0;  ///< with the chain id, keys every random number of the chain
};

/** Checks the ranges documented on nuts_options.
 *  @param[in] options the options to check
 *  @throws option_error naming the first bad field and its allowed range. */
void validate(const nuts_options& options);

/** One iteration of one chain, as handed to chain_callbacks::on_draw. The draw is the
 *  unconstrained parameter vector; the other fields are CmdStan's sampler columns. */
struct nuts_draw {
  std::size_t iteration = 0;  ///< 0-based over warmup then sampling (warmup iterations first)
  bool warmup = false;        ///< part of warmup
  std::vector<double> q;      ///< unconstrained parameters after the transition
  double lp = 0;              ///< lp__: log density at q (up to a constant)
  double accept_stat = 0;     ///< accept_stat__: mean Metropolis probability over the tree
  double stepsize = 0;        ///< stepsize__: the (jittered) step size this transition used
  int treedepth = 0;          ///< treedepth__
  int n_leapfrog = 0;         ///< n_leapfrog__
  bool divergent = false;     ///< divergent__
  double energy = 0;          ///< energy__: the Hamiltonian at the selected state
};

/** What warmup produced: written after "# Adaptation terminated" in CmdStan files. */
struct adaptation_info {
  double stepsize = 0;                     ///< final nominal step size exp(x̄)
  metric_kind metric = metric_kind::diag;  ///< shape of the inverse metric
  std::size_t n_dense = 0;                 ///< size of the dense block (the first coordinates)
  std::vector<double> dense;               ///< n_dense × n_dense inverse metric, column-major
  std::vector<double> diag;                ///< inverse metric of the remaining dim - n_dense coords
};

/** Receives a chain's output as it is produced. One object per chain; its methods are called from
 *  the thread that runs that chain, in iteration order. */
class chain_callbacks {
 public:
  virtual ~chain_callbacks() = default;
  /** Called once per kept iteration (every thin-th of warmup, then of sampling).
   *  @param[in] draw valid only during the call */
  virtual void on_draw(const nuts_draw& draw) = 0;
  /** Called once after warmup when adaptation ran, before the first sampling iteration.
   *  @param[in] info final step size and inverse metric */
  virtual void on_adaptation_end(const adaptation_info& info) { (void)info; }
  /** Informational messages and warnings (rejected initial values, shortened warmup windows). */
  virtual void on_message(const std::string& text) { (void)text; }
  /** Polled before every iteration; returning true ends the chain early (an interrupt). */
  virtual bool stop_requested() { return false; }
};

}  // namespace hbglm
