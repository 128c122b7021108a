#pragma once
/** @file Sampling a model with several chains and writing CmdStan CSV files: what `hbglm sample`
 *  does, as one library call. */

#include <atomic>
#include <cstddef>
#include <iosfwd>
#include <string>
#include <vector>

#include "hbglm/backend.hpp"
#include "hbglm/problem.hpp"
#include "hbglm/sampler.hpp"

namespace hbglm {

/** What to write of the group effects r_<group> (for 100k levels, every draw is gigabytes). */
enum class group_effects_output {
  automatic,  ///< all when there are at most 2,000 group-effect columns, else summary
  all,        ///< every draw, as r_<group>.<level>.<coef> columns
  summary,    ///< per-level posterior mean and sd in <prefix>_<chain>_group_effects.csv
  none        ///< neither
};

/** Parses "all", "summary", "none" (or "auto"). @throws option_error otherwise. */
group_effects_output parse_group_effects_output(const std::string& text);

/// The largest chain id run_fit accepts. Ids key 32-bit random streams, so any id below 2³²
/// would do; a million is more than any split of a run needs.
constexpr int max_chain_id = 1000000;

/** Options of a fit beyond the NUTS options. */
struct fit_options {
  nuts_options nuts;
  int chains = 4;                 ///< ≥ 1
  /// The first chain's id (CmdStan's `id`): the chains are first_chain_id, +1, ..., which key
  /// their random numbers and name their files, so a run split into parts (`--chains 2`, then
  /// `--chains 2 --chain-id 3`) writes the same files as one run of all the chains. From 1 to
  /// max_chain_id - chains + 1.
  int first_chain_id = 1;
  /// Chains run at once; 0: min(chains, hardware threads), lowered on the CPU backend so that
  /// the chains fit in the available memory (host/api/chain_memory.hpp; a note goes to the log).
  int threads = 0;
  /// Threads that share each chain's gradient on the CPU backend (its rows in chunks; only
  /// models of 8,192 observations or more have more than one); 0: the hardware threads divided
  /// by the chains run at once, at least 1. The draws do not depend on it.
  int threads_per_chain = 0;
  backend_kind backend = backend_kind::cpu;
  std::string output_dir = ".";   ///< created if missing
  std::string output_prefix = "hbglm";  ///< files <output_dir>/<prefix>_<chain id>.csv
  group_effects_output save_group_effects = group_effects_output::automatic;
  int sig_figs = 6;               ///< significant digits of the draws (CmdStan's default)
  /// Also write the warmup iterations (every thin-th), before "# Adaptation terminated", as
  /// CmdStan's save_warmup = 1 does: to see how warmup went (step sizes, tree depths). Readers
  /// (`hbglm summary`, read_cmdstan_csv) leave them out of the posterior.
  bool save_warmup = false;
  /// Warmup starts from model::initial_inv_metric (variances guessed from the data) rather than
  /// Stan's unit metric; the adaptation windows are Stan's either way. Ignored without adaptation.
  /// On the election model at 30k (4 chains of 300 + 300) it halved warmup's leapfrog steps for
  /// the same ESS (bench/README.md, session 8); `--metric-init unit` gives Stan's start.
  bool initial_metric_from_data = true;
  /// Chains start around model::initial_values_from_data (a rough fit: least squares for the
  /// coefficients, per-level estimates shrunk by method-of-moments sds), each coordinate
  /// uniform(guess ± init_radius × a guessed posterior sd), rather than Stan's uniform(-R, R)
  /// around 0 (`--init-from random`).
  bool initial_values_from_data = true;
  /// A progress line per chain (iteration, warmup or sampling, seconds, divergent so far) on the
  /// log stream every this many seconds while chains run; 0: none.
  double progress_seconds = 0.0;
  std::string command_line;       ///< recorded in the file headers
  std::string data_path;          ///< recorded in the file headers
  /// Set from another thread (a signal handler) to stop every chain after its current iteration.
  const std::atomic<bool>* stop = nullptr;
};

/** What a fit produced. */
struct fit_result {
  std::vector<std::string> files;               ///< one CmdStan CSV per chain
  std::vector<std::string> group_effect_files;  ///< summary mode only
  std::size_t n_draws_written = 0;              ///< all chains together
  std::size_t n_divergent = 0;
  std::size_t n_max_treedepth = 0;
  bool interrupted = false;
  double seconds = 0;                           ///< wall time
  std::size_t n_gradients = 0;                  ///< log density + gradient evaluations, all chains
  int chains_at_once = 1;                       ///< fit_options::threads after the defaults
  /// Threads that shared each chain's gradient: fit_options::threads_per_chain after the default,
  /// at most the chunks of rows the model has (1 below 8,192 rows; 1 on the CUDA backend).
  int threads_per_chain = 1;
};

/** `--backend auto`: CUDA when a device is usable and the data are large enough for the GPU to
 *  gain (at least 50,000 observations: below that, kernel launches and host syncs dominate a
 *  gradient, ARCHITECTURE §9), else the CPU. @p why gets a one-line explanation. */
backend_kind choose_backend(const problem& p, std::string* why);

/** Runs the chains (concurrently, one backend each) and streams their draws to CSV files.
 *  The same seed gives byte-identical files whatever the number of threads.
 *  @param[in] p the model
 *  @param[in] options validated here
 *  @param[in,out] log notes and warnings as they happen
 *  @throws option_error, backend_error, or hbglm::error from a chain (initialization failed) */
fit_result run_fit(const problem& p, const fit_options& options, std::ostream& log);

}  // namespace hbglm
