#pragma once
/** @file One chain from start to end, as Stan's services run it (hmc_nuts_diag_e_adapt.hpp,
 *  util/initialize.hpp, util/run_adaptive_sampler.hpp, util/generate_transitions.hpp):
 *  initial values, the step-size heuristic, warmup with adaptation, then sampling. */

#include <cstddef>
#include <cstdint>
#include <vector>

#include "backend/backend.hpp"
#include "hbglm/sampler.hpp"

namespace hbglm::mcmc {

/** What the chain needs beyond nuts_options, from the model. */
struct chain_setup {
  /** Size of the dense block for metric_kind::dense_diag: the number of global parameters,
   *  which come first in the parameter vector. Ignored for diag and dense. */
  std::size_t n_dense_globals = 0;
  /** Initial unconstrained values (dim doubles); empty: uniform(-init_radius, init_radius). */
  std::vector<double> init;
  /** Centers of the random initial values (dim doubles, empty: all 0): coordinate i starts
   *  uniform(center_i - R, center_i + R). Stan centers all at 0; the model centers its
   *  intercept at the intercept prior's location (model::init_centers). */
  std::vector<double> init_centers;
  /** Widths of the random initial values (dim positive values, empty: all 1): coordinate i
   *  starts uniform(center_i - R scale_i, center_i + R scale_i), and at center_i when R = 0
   *  (model::initial_values_from_data gives both). */
  std::vector<double> init_scales;
  /** The inverse metric's diagonal that warmup starts from (dim positive values; a dense block
   *  starts as its diagonal), as CmdStan's metric file; empty: Stan's unit metric. Used only when
   *  adaptation is engaged (--no-adapt keeps the unit metric). */
  std::vector<double> initial_inv_metric;
};

/** What a chain ends with. */
struct chain_result {
  std::vector<double> init;           ///< the initial values used
  double stepsize = 0;                ///< nominal step size used for sampling
  detail::inv_metric inv_metric;      ///< inverse metric used for sampling
  std::size_t n_divergent = 0;        ///< divergent post-warmup transitions
  std::size_t n_max_treedepth = 0;    ///< post-warmup transitions that hit max_depth
  std::size_t n_warmup_done = 0;      ///< warmup iterations run
  std::size_t n_samples_done = 0;     ///< sampling iterations run
  bool interrupted = false;           ///< chain_callbacks::stop_requested ended it early
};

/** Finds initial values as Stan's services::util::initialize does: up to 100 draws of
 *  uniform(-R, R) (one try when R = 0, which gives zeros, or when @p setup gives values), each
 *  rejected when log p or its gradient is not finite. Uniform i of try k is
 *  rng::uniform_open(rng::random_bits(seed, rng::stream::init, chain, k, i)).
 *  @param[in,out] backend evaluates log p and the gradient
 *  @param[in] options init_radius and seed
 *  @param[in] chain the chain id
 *  @param[in] setup user initial values, if any
 *  @param[in,out] callbacks receives a message per rejected try
 *  @return dim() initial values
 *  @throws option_error if setup.init has the wrong size
 *  @throws hbglm::error "Initialization failed" when every try was rejected */
std::vector<double> find_initial_values(detail::backend& backend, const nuts_options& options,
                                        std::uint32_t chain, const chain_setup& setup,
                                        chain_callbacks& callbacks);

/** Runs one chain: initial values, the metric (identity of the chosen shape), the step-size
 *  heuristic, num_warmup transitions with adaptation in Stan's order (dual averaging, then the
 *  window's metric estimate; at a window's end the heuristic and μ = log(10 ε) with a restart),
 *  ε = exp(x̄) at the end of warmup, then num_samples transitions. Every thin-th iteration of each
 *  phase goes to callbacks.on_draw; callbacks.on_adaptation_end follows warmup when it adapted.
 *  Adaptation is off when options.adapt_engaged is false or num_warmup is 0 (then there is no
 *  heuristic either, as in Stan's non-adaptive services).
 *  @param[in,out] backend one per chain (not thread-safe)
 *  @param[in] options validated here
 *  @param[in] chain the chain id, part of every random-number key
 *  @param[in,out] callbacks receives draws, the adaptation result and messages
 *  @param[in] setup the dense block size for dense_diag, optional initial values
 *  @return the chain's final step size, metric and counts
 *  @throws option_error on bad options, or a metric the backend cannot apply
 *  @throws hbglm::error when initialization fails, the heuristic fails (improper posterior), or
 *          metric adaptation overflows */
chain_result run_chain(detail::backend& backend, const nuts_options& options, std::uint32_t chain,
                       chain_callbacks& callbacks, const chain_setup& setup = {});

}  // namespace hbglm::mcmc
