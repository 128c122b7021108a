/** @file Benchmark: how long one log density + gradient of the election model (ARCHITECTURE §1)
 *  takes on the CPU reference backend (detail::glm_cpu_density), against the bytes-read floor of
 *  ARCHITECTURE §9 and the team's Stan (rstanarm) timings.
 *
 *  For each n on the command line (default 30000 300000) and each family (gaussian, bernoulli)
 *  it simulates the data (hbglm::simulate_election), builds the problem with default priors
 *  (make_problem), and evaluates the log density and gradient at one fixed q drawn uniformly on
 *  (-2, 2) (Stan's default initialization range) from the counter-based RNG: warm-up, then at
 *  least --min-reps timings and at least --min-time seconds, each timing a batch of evaluations
 *  that takes about 2 ms (one evaluation from 30k rows up). It reports the median processor
 *  time per evaluation (grad_ms, which the bandwidth and speedup columns use) and the median wall
 *  time (wall_ms): on a shared machine the wall time also counts the waits for a core.
 *
 *  --profile adds, per data set, the processor time of each pass of the gradient, measured in a
 *  copy of glm_cpu_density::log_density_grad with a clock read between passes, the same for a
 *  copy with two local changes (X·beta in column panels, one exp per bernoulli observation), and
 *  the time of a fused, row-blocked variant (one pass over the observations; fused_density),
 *  each checked against the library's value and gradient.
 *
 *  rss_MB is the peak resident set (VmHWM, MiB) of each data set: reset before it is simulated,
 *  read after its timing (make_problem gets the table handed over, as `hbglm sample` does, so
 *  that its columns are freed while the design is built); rss/floor relates it to floor_MB.
 *  Memory that an earlier data set freed but the allocator kept counts in a later one's peak.
 *
 *  --deep-chains C adds, per data set, C chains on CPU backends running one transition each at
 *  once (a thread each) at the deepest tree (bench_common.hpp, transitions_at_deepest_tree), the
 *  most memory a run of C chains takes: a `deep-chains` line with the peak resident set, reset
 *  before the chains are made, so that it is the design (and what the allocator kept of the
 *  simulated table) plus the chains, against floor_MB; the exit status is 1 when a chain stopped
 *  short of that depth. bench/memory.sh measures the same through `hbglm sample`, with the CSV
 *  loading.
 *
 *  --threads T adds, per data set, the wall time of a density whose evaluations share their
 *  row chunks between T threads (glm_cpu_density; `hbglm sample --threads-per-chain`), timed
 *  alternately with the one-thread density in the same loop, as a `threads` line: both medians,
 *  their ratio, and whether the two gave the same bits (they must).
 *
 *  --data FILE.csv --formula F [--family F] times one data set's model instead (as `hbglm
 *  sample` builds it, default priors; lme4's InstEval, say): one `data` line with the median
 *  processor and wall time, and the `threads` line with --threads T.
 *
 *  Usage: hbglm_bench_grad_eval [--csv] [--profile] [--seed S] [--min-reps N] [--min-time SEC]
 *                               [--deep-chains C] [--threads T] [n ...]
 *         hbglm_bench_grad_eval --data FILE.csv --formula F [--family F] [--threads T] ...
 *  Output: a table on stdout (CSV with --csv; the description and the profile then go to
 *  stderr). */

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "backend/cpu/glm_cpu_density.hpp"
#include "hbglm/error.hpp"
#include "hbglm/problem.hpp"
#include "bench/bench_common.hpp"
#include "hbglm/simulate.hpp"
// The bench target's include path has host/ but not the project root: reach kernels/ relatively.
#include "kernels/glm_family.cuh"
#include "kernels/group_effects.cuh"
#include "kernels/rng.cuh"

namespace {

using hbglm::bench::clock_type;
using hbglm::bench::fixed_q;
using hbglm::bench::median;
using hbglm::bench::seconds_since;

/// The team's rstanarm measurements (ARCHITECTURE §1): ms per gradient at n = 30k and 300k.
constexpr double stan_ms_30k = 13.0;
constexpr double stan_ms_300k = 137.0;

/// Bandwidth used for the "at 10 GB/s" column: about what one CPU core streams (§9).
constexpr double reference_bandwidth = 10e9;

struct options {
  std::vector<std::size_t> sizes;
  bool csv = false;
  bool profile = false;
  std::uint64_t seed = 1;
  int min_reps = 20;
  double min_seconds = 1.0;
  int deep_chains = 0;  ///< chains at the deepest tree per data set (0: none)
  int threads = 1;      ///< > 1: also time a density whose evaluations use this many threads
  /// --data: time this CSV's model instead of the simulated election data.
  std::string data_path, formula, family = "gaussian";
};

[[noreturn]] void usage(const std::string& problem, int status = 2) {
  std::fprintf(stderr,
               "%s\nusage: hbglm_bench_grad_eval [--csv] [--profile] [--seed S] [--min-reps N] "
               "[--min-time SEC] [--deep-chains C] [--threads T] [n ...]\n       "
               "hbglm_bench_grad_eval --data FILE.csv --formula F [--family F] [--seed S] "
               "[--min-reps N] [--min-time SEC] [--threads T]\n  n: observations, "
               "default 30000 300000 (1e6 and 3e5 are accepted)\n",
               problem.c_str());
  std::exit(status);
}

options parse_args(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage("missing value after " + a);
      return argv[++i];
    };
    try {
      if (a == "--csv") {
        o.csv = true;
      } else if (a == "--profile") {
        o.profile = true;
      } else if (a == "--seed") {
        o.seed = std::stoull(next());
      } else if (a == "--min-reps") {
        o.min_reps = std::max(1, std::stoi(next()));
      } else if (a == "--min-time") {
        o.min_seconds = std::stod(next());
      } else if (a == "--deep-chains") {
        o.deep_chains = std::max(0, std::min(64, std::stoi(next())));
      } else if (a == "--threads") {
        o.threads = std::max(1, std::min(1024, std::stoi(next())));
      } else if (a == "--data") {
        o.data_path = next();
      } else if (a == "--formula") {
        o.formula = next();
      } else if (a == "--family") {
        o.family = next();
      } else if (a == "--help" || a == "-h") {
        usage("Times the log density + gradient of the election model on the CPU.", 0);
      } else if (!a.empty() && a[0] != '-') {
        const double n = std::stod(a);
        if (!(n >= 1.0 && n <= 1e8)) usage("n must be between 1 and 1e8: " + a);
        o.sizes.push_back(static_cast<std::size_t>(n));
      } else {
        usage("unknown option " + a);
      }
    } catch (const std::logic_error&) {  // stoi/stod: not a number, out of range
      usage("not a number after or in " + a);
    }
  }
  if (!o.data_path.empty()) {
    if (o.formula.empty()) usage("--data needs --formula");
    if (!o.sizes.empty() || o.profile || o.deep_chains > 0 || o.csv) {
      usage("--data times one data set: no sizes, --profile, --deep-chains or --csv");
    }
  }
  if (o.sizes.empty()) o.sizes = {30000, 300000};
  return o;
}

/// Resets the peak resident set size (VmHWM) to the current one, so that each data set's peak is
/// its own (Linux 4.0+: /proc/self/clear_refs); where that fails, the peak stays the process's.
void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

/// Peak resident set size so far (VmHWM), in MB; 0 where /proc is not there.
double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  }
  return 0.0;
}

std::string cpu_model() {
  std::ifstream info("/proc/cpuinfo");
  std::string line;
  while (std::getline(info, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown CPU";
}

/// Processor time of this process in seconds (std::clock: CLOCK_PROCESS_CPUTIME_ID on Linux,
/// 1 µs steps). The timed code runs on one thread, so this is the time it ran, without the time
/// it waited for a core: on a shared, oversubscribed machine the wall time is that plus noise.
double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

/// Median wall and processor time of f(), in seconds: a warm-up (one call, more while under
/// 0.1 s), then at least min_reps samples and at least min_seconds. A sample times a batch of
/// calls that takes about 2 ms (one call from the election model's 30k rows up), since the
/// processor clock counts in µs and lme4's small data sets take a few µs a call.
struct timing {
  double wall_s = 0.0;
  double cpu_s = 0.0;
  int reps = 0;  ///< calls timed
};

timing time_median(const std::function<void()>& f, const options& o) {
  const auto warm = clock_type::now();
  int warm_calls = 0;
  do {
    f();
    ++warm_calls;
  } while (seconds_since(warm) < 0.1);
  const int batch = std::max(1, static_cast<int>(2e-3 * warm_calls / seconds_since(warm)));
  std::vector<double> wall, cpu;
  const auto start = clock_type::now();
  while (static_cast<int>(wall.size()) < o.min_reps || seconds_since(start) < o.min_seconds) {
    const auto t0 = clock_type::now();
    const double c0 = cpu_seconds();
    for (int b = 0; b < batch; ++b) f();
    cpu.push_back((cpu_seconds() - c0) / batch);
    wall.push_back(seconds_since(t0) / batch);
  }
  return {median(wall), median(cpu), static_cast<int>(wall.size()) * batch};
}

/// max_i |a_i - b_i| / max(1, |a_i|, |b_i|).
double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    m = std::max(m, std::fabs(a[i] - b[i]) / std::max({1.0, std::fabs(a[i]), std::fabs(b[i])}));
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// Profiling copies. They evaluate what glm_cpu_density does (same model, same q): profiled_density
// in the same passes with a clock read after each (optionally with two local changes), and
// fused_density in one row-blocked pass.

using hbglm::design;
using hbglm::model;
using hbglm::kernels::glm_family_id;

glm_family_id family_id(hbglm::family f) {
  switch (f) {
    case hbglm::family::gaussian:
      return glm_family_id::gaussian_identity;
    case hbglm::family::bernoulli:
      return glm_family_id::bernoulli_logit;
    case hbglm::family::binomial:
      return glm_family_id::binomial_logit;
    case hbglm::family::poisson:
      return glm_family_id::poisson_log;
  }
  return glm_family_id::gaussian_identity;
}

enum section : int {
  s_globals_forward,  ///< model::globals_forward (priors, transforms)
  s_u_forward,        ///< u = diag(sd) L z per level
  s_x_beta,           ///< eta = X beta (Eigen GEMV, X column-major)
  s_z_u,              ///< eta += Z u (CSR: row_ptr, col_idx, values) + offset
  s_likelihood,       ///< log p(y | eta) and r = d log p / d eta
  s_xt_r,             ///< grad beta = X' r
  s_zt_r,             ///< g_u = Z' r (a scatter along the rows of Z)
  s_backward,         ///< chain rule to z, sd, L; z's prior; globals_backward
  n_sections
};

const char* section_names[n_sections] = {"globals_forward", "u_forward", "X*beta", "Z*u",
                                         "likelihood",      "X'*r",      "Z'*r",   "backward"};

/// Bytes each section streams per observation (the arrays of length n it reads or writes), to
/// turn its time into a bandwidth. p: coefficients, K: non-zeros per row of Z.
double section_bytes_per_row(int s, double p, double K) {
  switch (s) {
    case s_x_beta:
      return 8.0 * p + 8.0;  // X, write eta
    case s_z_u:
      return 4.0 + 12.0 * K + 16.0;  // row_ptr, col_idx + values, eta r/w
    case s_likelihood:
      return 24.0;  // y, eta, write r
    case s_xt_r:
      return 8.0 * p + 8.0;  // X, r
    case s_zt_r:
      return 4.0 + 12.0 * K + 8.0 + 16.0 * K;  // row_ptr, col_idx + values, r, g_u r/w
    default:
      return 0.0;
  }
}

template <glm_family_id F>
void likelihood_pass(const design& d, double sigma, const double* eta, double* r, double* log_lik,
                     double* sq_residual) {
  double lp = 0.0, sq = 0.0;
  const bool has_se = !d.se.empty();
  const double inv_sigma = 1.0 / sigma;
  for (std::size_t i = 0; i < d.n_obs; ++i) {
    const double trials = d.trials.empty() ? 0.0 : d.trials[i];
    const double inv_scale = has_se ? 1.0 / d.se[i] : inv_sigma;
    const auto t = hbglm::kernels::glm_observation(F, d.y[i], eta[i], trials, inv_scale);
    lp += t.log_lik;
    sq += t.sq_residual;
    r[i] = t.d_eta;
  }
  *log_lik = lp;
  *sq_residual = sq;
}

/// Columns per Eigen GEMV call in the improved X·beta. Eigen 3.4's column-major GEMV runs over
/// all columns at once when there are fewer than 128 (GeneralMatrixVector.h, block_cols), so
/// with p = 48 it reads 48 streams 8·n bytes apart, more than the hardware prefetchers follow;
/// 8 columns per call keeps 8 streams and re-reads eta p/8 times (from cache at 30k rows).
constexpr Eigen::Index x_beta_panel = 8;

/// eta = X beta in panels of x_beta_panel columns (X: an Eigen map of a column-major block).
template <class Matrix>
void x_beta_panels(const Matrix& x, const double* beta, Eigen::Map<Eigen::VectorXd>& eta) {
  const Eigen::Index p = x.cols();
  const Eigen::Map<const Eigen::VectorXd> b(beta, p);
  if (p == 0) {
    eta.setZero();
    return;
  }
  const Eigen::Index w0 = std::min(x_beta_panel, p);
  eta.noalias() = x.leftCols(w0) * b.head(w0);
  for (Eigen::Index j = w0; j < p; j += x_beta_panel) {
    const Eigen::Index w = std::min(x_beta_panel, p - j);
    eta.noalias() += x.middleCols(j, w) * b.segment(j, w);
  }
}

/// The bernoulli pass with one exp per observation: e = exp(-|eta|) gives both
/// log(1 + e^eta) = max(eta, 0) + log1p(e) and inv_logit(eta) = eta >= 0 ? 1/(1+e) : e/(1+e),
/// the same expressions glm_family.cuh evaluates with two exps (so the same bits).
void bernoulli_pass_one_exp(const design& d, const double* eta, double* r, double* log_lik) {
  double lp = 0.0;
  for (std::size_t i = 0; i < d.n_obs; ++i) {
    const double e = std::exp(-std::fabs(eta[i]));  // in (0, 1]: no overflow
    const double log1p_exp = eta[i] > 0.0 ? eta[i] + std::log1p(e) : std::log1p(e);
    const double inv_logit = eta[i] >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    lp += d.y[i] * eta[i] - log1p_exp;
    r[i] = d.y[i] - inv_logit;
  }
  *log_lik = lp;
}

/// glm_cpu_density::log_density_grad, pass by pass, with the time of each pass added to
/// seconds[]. Kept with the arithmetic of host/backend/cpu/glm_cpu_density.cpp, which does Zu,
/// the likelihood and the Zᵀr scatter in one pass over the observations; here they are three,
/// so that each is timed (and η and r are two vectors, not one). With @p improved,
/// two local changes: X·beta in column panels (x_beta_panels) and the one-exp bernoulli pass.
class profiled_density {
 public:
  profiled_density(std::shared_ptr<const model> m, bool improved)
      : model_(std::move(m)), improved_(improved) {
    const design& d = model_->data();
    eta_.resize(d.n_obs);
    r_.resize(d.n_obs);
    u_.resize(d.n_u);
    g_u_.resize(d.n_u);
  }

  double seconds[n_sections] = {};  ///< processor time of each section, summed over calls

  double log_density_grad(const double* q, double* grad) {
    const model& m = *model_;
    const design& d = m.data();
    const std::size_t n = d.n_obs, p = d.n_coefs();
    double t = cpu_seconds();
    auto lap = [&](int s) {
      const double now = cpu_seconds();
      seconds[s] += now - t;
      t = now;
    };
    std::fill(grad, grad + m.dim(), 0.0);
    m.globals_forward(q, values_);
    double lp = values_.log_prior_jacobian + m.log_density_constant();
    lap(s_globals_forward);

    const auto& terms = m.terms();
    for (std::size_t ti = 0; ti < terms.size(); ++ti) {
      const auto& tp = terms[ti];
      const auto& block = d.terms[ti];
      const double* sd = values_.sd.data() + (tp.first_sd - d.n_coefs());
      for (std::size_t j = 0; j < block.n_levels; ++j) {
        hbglm::kernels::group_effect_forward(
            static_cast<int>(tp.k), sd, values_.chol_corr[ti].data(), q + tp.z_q_index + j * tp.k,
            u_.data() + block.u_offset + j * tp.k);
      }
    }
    lap(s_u_forward);

    Eigen::Map<const Eigen::MatrixXd> x(d.X.data(), static_cast<Eigen::Index>(n),
                                        static_cast<Eigen::Index>(p));
    Eigen::Map<Eigen::VectorXd> eta(eta_.data(), static_cast<Eigen::Index>(n));
    if (improved_) {
      x_beta_panels(x, values_.beta.data(), eta);
    } else {
      eta.noalias() =
          x * Eigen::Map<const Eigen::VectorXd>(values_.beta.data(), static_cast<Eigen::Index>(p));
    }
    lap(s_x_beta);
    for (std::size_t i = 0; i < n; ++i) {
      double zu = 0.0;
      for (std::int32_t e = d.Z.row_ptr[i]; e < d.Z.row_ptr[i + 1]; ++e) {
        zu += d.Z.values[static_cast<std::size_t>(e)] *
              u_[static_cast<std::size_t>(d.Z.col_idx[static_cast<std::size_t>(e)])];
      }
      eta_[i] += zu + (d.offset.empty() ? 0.0 : d.offset[i]);
    }
    lap(s_z_u);

    double log_lik = 0.0, sq_residual = 0.0;
    if (family_id(d.family) == glm_family_id::gaussian_identity) {
      likelihood_pass<glm_family_id::gaussian_identity>(d, values_.sigma, eta_.data(), r_.data(),
                                                        &log_lik, &sq_residual);
    } else if (improved_) {
      bernoulli_pass_one_exp(d, eta_.data(), r_.data(), &log_lik);
    } else {
      likelihood_pass<glm_family_id::bernoulli_logit>(d, values_.sigma, eta_.data(), r_.data(),
                                                      &log_lik, &sq_residual);
    }
    lp += log_lik;
    grads_.sigma = 0.0;
    if (m.has_sigma()) {
      lp -= static_cast<double>(n) * std::log(values_.sigma);
      grads_.sigma = (sq_residual - static_cast<double>(n)) / values_.sigma;
    }
    lap(s_likelihood);

    grads_.beta.resize(p);
    Eigen::Map<const Eigen::VectorXd> r(r_.data(), static_cast<Eigen::Index>(n));
    Eigen::Map<Eigen::VectorXd>(grads_.beta.data(), static_cast<Eigen::Index>(p)).noalias() =
        x.transpose() * r;
    lap(s_xt_r);
    std::fill(g_u_.begin(), g_u_.end(), 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      for (std::int32_t e = d.Z.row_ptr[i]; e < d.Z.row_ptr[i + 1]; ++e) {
        g_u_[static_cast<std::size_t>(d.Z.col_idx[static_cast<std::size_t>(e)])] +=
            d.Z.values[static_cast<std::size_t>(e)] * r_[i];
      }
    }
    lap(s_zt_r);

    grads_.sd.assign(values_.sd.size(), 0.0);
    grads_.chol_corr.resize(terms.size());
    for (std::size_t ti = 0; ti < terms.size(); ++ti) {
      const auto& tp = terms[ti];
      const auto& block = d.terms[ti];
      const std::size_t sd0 = tp.first_sd - d.n_coefs();
      grads_.chol_corr[ti].assign(tp.k * tp.k, 0.0);
      double* g_chol = tp.correlated ? grads_.chol_corr[ti].data() : nullptr;
      for (std::size_t j = 0; j < block.n_levels; ++j) {
        const double* z = q + tp.z_q_index + j * tp.k;
        double* g_z = grad + tp.z_q_index + j * tp.k;
        hbglm::kernels::group_effect_backward(
            static_cast<int>(tp.k), values_.sd.data() + sd0, values_.chol_corr[ti].data(), z,
            g_u_.data() + block.u_offset + j * tp.k, g_z, grads_.sd.data() + sd0, g_chol);
        for (std::size_t c = 0; c < tp.k; ++c) {
          lp -= 0.5 * z[c] * z[c];
          g_z[c] -= z[c];
        }
      }
    }
    m.globals_backward(q, values_, grads_, grad);
    lap(s_backward);
    return lp;
  }

 private:
  std::shared_ptr<const model> model_;
  bool improved_;
  std::vector<double> eta_, r_, u_, g_u_;
  hbglm::global_values values_;
  hbglm::global_gradients grads_;
};

/// The candidate change: the same value and gradient in one pass over the observations, in
/// blocks of rows small enough that a block of X (rows × p doubles) stays in L2 between
/// eta = X_b beta and grad_beta += X_bᵀ r_b, so X is read from memory once instead of twice.
/// Z is not read as CSR: each term's level_idx (4 bytes) and, for slopes, its covariate
/// (8 bytes) are read directly, and an intercept term (covariate 1) reads no value at all. Zᵀr
/// is a scatter g_u[level] += covariate · r in row order, as in the library. Bernoulli computes exp(-|eta|) once for
/// both log1p_exp and inv_logit (the library calls exp twice).
class fused_density {
 public:
  static constexpr std::size_t block_rows = 256;  // 256 × 48 × 8 B = 96 KB of X per block

  explicit fused_density(std::shared_ptr<const model> m) : model_(std::move(m)) {
    const design& d = model_->data();
    u_.resize(d.n_u);
    g_u_.resize(d.n_u);
    eta_.resize(block_rows);
    r_.resize(block_rows);
    // Each term's level indices and covariates, read back from Z (make_problem releases the
    // design's own copies): row i of Z holds term t's k_t entries from row_ptr[i] + Σ_{s<t} k_s,
    // at columns u_offset + level k_t + c.
    std::size_t first = 0;
    level_.resize(d.terms.size());
    covariates_.resize(d.terms.size());
    for (std::size_t ti = 0; ti < d.terms.size(); ++ti) {
      const auto& block = d.terms[ti];
      const std::size_t k = block.n_coefs();
      level_[ti].resize(d.n_obs);
      covariates_[ti].resize(d.n_obs * k);
      bool ones = k == 1;
      for (std::size_t i = 0; i < d.n_obs; ++i) {
        const auto e0 = static_cast<std::size_t>(d.Z.row_ptr[i]) + first;
        level_[ti][i] = static_cast<std::int32_t>(
            (static_cast<std::size_t>(d.Z.col_idx[e0]) - block.u_offset) / k);
        for (std::size_t c = 0; c < k; ++c) covariates_[ti][i * k + c] = d.Z.values[e0 + c];
        ones = ones && d.Z.values[e0] == 1.0;
      }
      if (ones) std::vector<double>().swap(covariates_[ti]);  // an intercept reads no value
      is_intercept_.push_back(ones);
      first += k;
    }
  }

  double log_density_grad(const double* q, double* grad) {
    const model& m = *model_;
    const design& d = m.data();
    const std::size_t n = d.n_obs, p = d.n_coefs();
    std::fill(grad, grad + m.dim(), 0.0);
    m.globals_forward(q, values_);
    double lp = values_.log_prior_jacobian + m.log_density_constant();
    if (!std::isfinite(lp)) return -std::numeric_limits<double>::infinity();
    const auto& terms = m.terms();
    for (std::size_t ti = 0; ti < terms.size(); ++ti) {
      const auto& tp = terms[ti];
      const auto& block = d.terms[ti];
      const double* sd = values_.sd.data() + (tp.first_sd - d.n_coefs());
      for (std::size_t j = 0; j < block.n_levels; ++j) {
        hbglm::kernels::group_effect_forward(
            static_cast<int>(tp.k), sd, values_.chol_corr[ti].data(), q + tp.z_q_index + j * tp.k,
            u_.data() + block.u_offset + j * tp.k);
      }
    }

    grads_.beta.assign(p, 0.0);
    std::fill(g_u_.begin(), g_u_.end(), 0.0);
    const Eigen::Map<const Eigen::VectorXd> beta(values_.beta.data(), static_cast<Eigen::Index>(p));
    Eigen::Map<Eigen::VectorXd> g_beta(grads_.beta.data(), static_cast<Eigen::Index>(p));
    const bool bernoulli = d.family == hbglm::family::bernoulli;
    const double sigma = values_.sigma, inv_sigma = 1.0 / sigma;
    double log_lik = 0.0, sq_residual = 0.0;
    for (std::size_t i0 = 0; i0 < n; i0 += block_rows) {
      const std::size_t b = std::min(block_rows, n - i0);
      const Eigen::Map<const Eigen::MatrixXd, 0, Eigen::OuterStride<>> x_b(
          d.X.data() + i0, static_cast<Eigen::Index>(b), static_cast<Eigen::Index>(p),
          Eigen::OuterStride<>(static_cast<Eigen::Index>(n)));
      Eigen::Map<Eigen::VectorXd> eta(eta_.data(), static_cast<Eigen::Index>(b));
      x_beta_panels(x_b, values_.beta.data(), eta);
      for (std::size_t ti = 0; ti < d.terms.size(); ++ti) {
        const auto& block = d.terms[ti];
        const std::int32_t* level = level_[ti].data() + i0;
        const double* u = u_.data() + block.u_offset;
        const std::size_t k = block.n_coefs();
        if (is_intercept_[ti]) {
          for (std::size_t i = 0; i < b; ++i) eta_[i] += u[level[i]];
        } else {
          const double* cov = covariates_[ti].data() + i0 * k;
          for (std::size_t i = 0; i < b; ++i) {
            for (std::size_t c = 0; c < k; ++c) {
              eta_[i] += cov[i * k + c] * u[static_cast<std::size_t>(level[i]) * k + c];
            }
          }
        }
      }
      if (!d.offset.empty()) {
        for (std::size_t i = 0; i < b; ++i) eta_[i] += d.offset[i0 + i];
      }
      const double* y = d.y.data() + i0;
      if (bernoulli) {
        for (std::size_t i = 0; i < b; ++i) {
          const double e = std::exp(-std::fabs(eta_[i]));  // in (0, 1]: no overflow
          const double log1p_exp = eta_[i] > 0.0 ? eta_[i] + std::log1p(e) : std::log1p(e);
          const double inv_logit = eta_[i] >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
          log_lik += y[i] * eta_[i] - log1p_exp;
          r_[i] = y[i] - inv_logit;
        }
      } else {
        for (std::size_t i = 0; i < b; ++i) {
          const double z = (y[i] - eta_[i]) * inv_sigma;
          log_lik -= 0.5 * z * z;
          sq_residual += z * z;
          r_[i] = z * inv_sigma;
        }
      }
      const Eigen::Map<const Eigen::VectorXd> r(r_.data(), static_cast<Eigen::Index>(b));
      g_beta.noalias() += x_b.transpose() * r;
      for (std::size_t ti = 0; ti < d.terms.size(); ++ti) {
        const auto& block = d.terms[ti];
        const std::int32_t* level = level_[ti].data() + i0;
        double* g_u = g_u_.data() + block.u_offset;
        const std::size_t k = block.n_coefs();
        if (is_intercept_[ti]) {
          for (std::size_t i = 0; i < b; ++i) g_u[level[i]] += r_[i];
        } else {
          const double* cov = covariates_[ti].data() + i0 * k;
          for (std::size_t i = 0; i < b; ++i) {
            for (std::size_t c = 0; c < k; ++c) {
              g_u[static_cast<std::size_t>(level[i]) * k + c] += cov[i * k + c] * r_[i];
            }
          }
        }
      }
    }
    lp += log_lik;
    grads_.sigma = 0.0;
    if (m.has_sigma()) {
      lp -= static_cast<double>(n) * std::log(sigma);
      grads_.sigma = (sq_residual - static_cast<double>(n)) / sigma;
    }
    if (!std::isfinite(lp)) return -std::numeric_limits<double>::infinity();

    grads_.sd.assign(values_.sd.size(), 0.0);
    grads_.chol_corr.resize(terms.size());
    for (std::size_t ti = 0; ti < terms.size(); ++ti) {
      const auto& tp = terms[ti];
      const auto& block = d.terms[ti];
      const std::size_t sd0 = tp.first_sd - d.n_coefs();
      grads_.chol_corr[ti].assign(tp.k * tp.k, 0.0);
      double* g_chol = tp.correlated ? grads_.chol_corr[ti].data() : nullptr;
      for (std::size_t j = 0; j < block.n_levels; ++j) {
        const double* z = q + tp.z_q_index + j * tp.k;
        double* g_z = grad + tp.z_q_index + j * tp.k;
        hbglm::kernels::group_effect_backward(
            static_cast<int>(tp.k), values_.sd.data() + sd0, values_.chol_corr[ti].data(), z,
            g_u_.data() + block.u_offset + j * tp.k, g_z, grads_.sd.data() + sd0, g_chol);
        for (std::size_t c = 0; c < tp.k; ++c) {
          lp -= 0.5 * z[c] * z[c];
          g_z[c] -= z[c];
        }
      }
    }
    m.globals_backward(q, values_, grads_, grad);
    return lp;
  }

 private:
  std::shared_ptr<const model> model_;
  std::vector<bool> is_intercept_;
  std::vector<std::vector<std::int32_t>> level_;   ///< per term: each row's level
  std::vector<std::vector<double>> covariates_;    ///< per term: n × k (empty for an intercept)
  std::vector<double> u_, g_u_, eta_, r_;
  hbglm::global_values values_;
  hbglm::global_gradients grads_;
};

// ---------------------------------------------------------------------------------------------

struct result {
  std::size_t n = 0;
  std::string family;
  std::size_t p = 0, K = 0, dim = 0;
  double simulate_s = 0.0, design_s = 0.0;
  double wall_ms = 0.0;  ///< median wall time per evaluation
  double cpu_ms = 0.0;   ///< median processor time per evaluation: the derived columns use it
  int reps = 0;
  double floor_mb = 0.0, gb_per_s = 0.0, ms_at_10gbs = 0.0;
  double stan_ms = 0.0;
  bool stan_measured = false;  ///< false: scaled linearly from the 300k measurement
  double rss_mb = 0.0;  ///< peak resident set while this data set was simulated, built and timed
};

void print_header(const options& o) {
  if (o.csv) {
    std::printf(
        "n,family,p,K,dim,simulate_s,design_s,grad_ms,grad_wall_ms,reps,floor_MB,floor_GB_per_s,"
        "ms_at_10GB_per_s,stan_ms,stan_ref,speedup_vs_stan,peak_rss_MB,peak_rss_over_floor\n");
  } else {
    std::printf("%9s %-9s %3s %2s %8s %6s %8s %8s %8s %5s %8s %6s %9s %8s %7s %7s %9s\n", "n",
                "family", "p", "K", "dim", "sim_s", "design_s", "grad_ms", "wall_ms", "reps",
                "floor_MB", "GB/s", "ms@10GB/s", "stan_ms", "speedup", "rss_MB", "rss/floor");
  }
}

void print_row(const result& r, const options& o) {
  const double speedup = r.stan_ms / r.cpu_ms;
  // rss_MB is in MiB (VmHWM's kB / 1024) and floor_MB in 1e6 bytes: the ratio converts.
  const double rss_over_floor = r.rss_mb * 1.048576 / r.floor_mb;
  if (o.csv) {
    std::printf("%zu,%s,%zu,%zu,%zu,%.3f,%.3f,%.4f,%.4f,%d,%.2f,%.3f,%.3f,%.2f,%s,%.3f,%.0f,%.2f\n",
                r.n, r.family.c_str(), r.p, r.K, r.dim, r.simulate_s, r.design_s, r.cpu_ms,
                r.wall_ms, r.reps, r.floor_mb, r.gb_per_s, r.ms_at_10gbs, r.stan_ms,
                r.stan_measured ? "measured" : "scaled", speedup, r.rss_mb, rss_over_floor);
  } else {
    std::printf(
        "%9zu %-9s %3zu %2zu %8zu %6.2f %8.2f %8.3f %8.3f %5d %8.1f %6.2f %9.2f %7.1f%s %7.2f "
        "%7.0f %9.2f\n",
        r.n, r.family.c_str(), r.p, r.K, r.dim, r.simulate_s, r.design_s, r.cpu_ms, r.wall_ms,
        r.reps, r.floor_mb, r.gb_per_s, r.ms_at_10gbs, r.stan_ms, r.stan_measured ? " " : "*",
        speedup, r.rss_mb, rss_over_floor);
  }
  std::fflush(stdout);
}

/// Largest relative gradient difference between a profiling copy and the library. The copies
/// sum the same n terms in other orders, which moves a sum by at most about n ε of the sum of
/// the terms' magnitudes: 1e-9 at n = 1e7 (3.6e-14 seen at 10k rows). A misread or stale datum
/// moves a gradient component by far more (the design's values are O(1)).
constexpr double copy_grad_rel_tol = 1e-9;

/// --threads: the library's density on o.threads threads against @p one_thread, timed
/// alternately (wall time: the processor time adds up over threads).
/// @return whether both gave the same log density and gradient, bit for bit
bool time_threads(const hbglm::detail::glm_cpu_density& one_thread, const hbglm::problem& prob,
                  const std::vector<double>& q, const std::vector<double>& one_thread_grad,
                  double one_thread_lp, const result& r, const options& o, std::FILE* out) {
  const hbglm::detail::glm_cpu_density threaded(prob.model_ptr, o.threads);
  std::vector<double> grad(q.size()), scratch(q.size());
  const double lp = threaded.log_density_grad(q.data(), grad.data());
  const bool same = lp == one_thread_lp && grad == one_thread_grad;
  std::vector<double> wall_one, wall_threaded;
  const auto start = clock_type::now();
  while (static_cast<int>(wall_one.size()) < o.min_reps || seconds_since(start) < o.min_seconds) {
    auto t0 = clock_type::now();
    one_thread.log_density_grad(q.data(), scratch.data());
    wall_one.push_back(seconds_since(t0));
    t0 = clock_type::now();
    threaded.log_density_grad(q.data(), scratch.data());
    wall_threaded.push_back(seconds_since(t0));
  }
  const double one_ms = 1e3 * median(wall_one), threaded_ms = 1e3 * median(wall_threaded);
  std::fprintf(out,
               "threads n=%zu family=%s chunks=%zu threads=%d one_thread_wall_ms=%.3f "
               "threaded_wall_ms=%.3f speedup=%.2f reps=%zu same_bits=%s\n",
               r.n, r.family.c_str(), threaded.n_chunks(), o.threads, one_ms, threaded_ms,
               one_ms / threaded_ms, wall_one.size(), same ? "yes" : "NO");
  std::fflush(out);
  return same;
}

/// Section times of the library's passes and of the improved copy, then the fused variant.
/// @return whether the copies' log densities and gradients agree with the library's
bool profile(const hbglm::problem& prob, const std::vector<double>& q,
             const std::vector<double>& lib_grad, double lib_lp, double lib_ms, const result& r,
             const options& o, std::FILE* out) {
  struct run {
    double ms[n_sections] = {};
    double total_ms = 0.0;
    double lp = 0.0;
    std::vector<double> grad;
  };
  auto measure = [&](bool improved) {
    profiled_density prof(prob.model_ptr, improved);
    run result;
    result.grad.resize(q.size());
    result.lp = prof.log_density_grad(q.data(), result.grad.data());
    for (double& s : prof.seconds) s = 0.0;
    int reps = 0;
    const auto start = clock_type::now();
    while (reps < o.min_reps || seconds_since(start) < o.min_seconds) {
      prof.log_density_grad(q.data(), result.grad.data());
      ++reps;
    }
    for (int s = 0; s < n_sections; ++s) {
      result.ms[s] = 1e3 * prof.seconds[s] / reps;
      result.total_ms += result.ms[s];
    }
    return result;
  };
  const run lib = measure(false), better = measure(true);
  const double p = static_cast<double>(r.p), K = static_cast<double>(r.K);
  std::fprintf(out,
               "# profile n=%zu %s: sections of a copy of glm_cpu_density (mean ms; |lp diff| / "
               "|lp| to the library's: %.1e); 'improved' = X*beta in %d-column panels + one-exp "
               "bernoulli (max grad rel diff %.1e)\n",
               r.n, r.family.c_str(), std::fabs(lib.lp - lib_lp) / std::max(1.0, std::fabs(lib_lp)),
               static_cast<int>(x_beta_panel), max_rel_diff(better.grad, lib_grad));
  std::fprintf(out, "#   %-16s %9s %6s %10s %7s %12s %7s\n", "section", "ms", "%", "bytes/row",
               "GB/s", "improved_ms", "GB/s");
  for (int s = 0; s < n_sections; ++s) {
    const double bytes = section_bytes_per_row(s, p, K) * static_cast<double>(r.n);
    auto rate = [&](double ms) { return bytes > 0.0 ? bytes / (ms * 1e-3) / 1e9 : 0.0; };
    std::fprintf(out, "#   %-16s %9.3f %6.1f %10.0f %7.2f %12.3f %7.2f\n", section_names[s],
                 lib.ms[s], 100.0 * lib.ms[s] / lib.total_ms, section_bytes_per_row(s, p, K),
                 rate(lib.ms[s]), better.ms[s], rate(better.ms[s]));
  }
  std::fprintf(out, "#   %-16s %9.3f %6s %10s %7s %12.3f\n", "total", lib.total_ms, "", "", "",
               better.total_ms);

  fused_density fused(prob.model_ptr);
  std::vector<double> fused_grad(q.size());
  const double fused_lp = fused.log_density_grad(q.data(), fused_grad.data());
  const timing t = time_median([&] { fused.log_density_grad(q.data(), fused_grad.data()); }, o);
  std::fprintf(out,
               "# fused row-blocked variant: %.3f ms (processor time, median; library %.3f ms: "
               "%.2fx); |lp diff| / |lp| = %.1e, max grad rel diff = %.1e\n",
               1e3 * t.cpu_s, lib_ms, lib_ms / (1e3 * t.cpu_s),
               std::fabs(fused_lp - lib_lp) / std::max(1.0, std::fabs(lib_lp)),
               max_rel_diff(fused_grad, lib_grad));
  std::fflush(out);
  const bool agree = std::fabs(lib.lp - lib_lp) <= 1e-12 * std::max(1.0, std::fabs(lib_lp)) &&
                     max_rel_diff(better.grad, lib_grad) < copy_grad_rel_tol &&
                     std::fabs(fused_lp - lib_lp) <= 1e-12 * std::max(1.0, std::fabs(lib_lp)) &&
                     max_rel_diff(fused_grad, lib_grad) < copy_grad_rel_tol;
  if (!agree) {
    std::fprintf(stderr, "error: n=%zu %s: a profiling copy disagrees with the library (above)\n",
                 r.n, r.family.c_str());
  }
  return agree;
}

/// --data: the library's density on a CSV file's model (as `hbglm sample` builds it, default
/// priors), at fixed_q, one thread (and T threads with --threads T, alternately).
/// @return whether the threaded density gave the same bits (true without --threads)
bool time_data_file(const options& o, std::FILE* out) {
  hbglm::problem_spec spec;
  spec.data_path = o.data_path;
  spec.formula = o.formula;
  spec.family = o.family;
  const hbglm::problem prob = hbglm::load_problem(spec);
  const hbglm::design& d = *prob.design_ptr;
  const std::size_t dim = prob.model_ptr->dim();
  hbglm::detail::glm_cpu_density density(prob.model_ptr);
  const std::vector<double> q = fixed_q(dim, o.seed);
  std::vector<double> grad(dim);
  const double lp = density.log_density_grad(q.data(), grad.data());
  const timing t = time_median([&] { density.log_density_grad(q.data(), grad.data()); }, o);
  std::fprintf(out,
               "data file=%s family=%s n=%zu p=%zu z_entries_per_row=%.2f n_u=%zu dim=%zu "
               "lp=%.17g grad_ms=%.5f wall_ms=%.5f reps=%d\n",
               o.data_path.c_str(), o.family.c_str(), d.n_obs, d.n_coefs(),
               d.n_obs > 0 ? static_cast<double>(d.Z.n_nonzeros()) / static_cast<double>(d.n_obs)
                           : 0.0,
               d.n_u, dim, lp, 1e3 * t.cpu_s, 1e3 * t.wall_s, t.reps);
  std::fflush(out);
  if (o.threads <= 1) return true;
  result r;
  r.n = d.n_obs;
  r.family = o.family;
  return time_threads(density, prob, q, grad, lp, r, o, out);
}

}  // namespace

int main(int argc, char** argv) {
  const options o = parse_args(argc, argv);
  std::FILE* meta = o.csv ? stderr : stdout;
  if (!o.data_path.empty()) {
    try {
      return time_data_file(o, stdout) ? 0 : 1;
    } catch (const hbglm::error& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 1;
    }
  }
  bool copies_agree = true;  // --profile: every profiling copy matched the library
  bool deep_reached = true;  // --deep-chains: every chain got to the deepest tree
  {
    char date[32];
    const std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
    std::fprintf(meta, "# hbglm_bench_grad_eval  %s\n# machine: %s, %u hardware threads\n", date,
                 cpu_model().c_str(), std::thread::hardware_concurrency());
    std::fprintf(meta,
                 "# model: election_formula (ARCHITECTURE §1), default priors, seed %llu; "
                 "one thread; median of >= %d evaluations and >= %.1f s\n",
                 static_cast<unsigned long long>(o.seed), o.min_reps, o.min_seconds);
    std::fprintf(meta,
                 "# grad_ms = median processor time per log density + gradient (wall_ms: median "
                 "wall time, which adds waits for a core on a shared machine); floor = n (8p + 8 "
                 "+ 4K) bytes (ARCHITECTURE §9); GB/s = floor / grad_ms; speedup = stan_ms / "
                 "grad_ms, stan = rstanarm (team): %.0f ms at 30k, %.0f ms at 300k (* = scaled "
                 "linearly in n)\n",
                 stan_ms_30k, stan_ms_300k);
  }
  print_header(o);
  try {
    for (std::size_t n : o.sizes) {
      for (hbglm::family fam : {hbglm::family::gaussian, hbglm::family::bernoulli}) {
        result r;
        r.n = n;
        r.family = hbglm::to_string(fam);
        hbglm::election_options sim;
        sim.n_obs = n;
        sim.seed = o.seed;
        sim.response_family = fam;
        reset_peak_rss();
        auto t0 = clock_type::now();
        hbglm::problem prob;
        {
          hbglm::table data = hbglm::simulate_election(sim);
          r.simulate_s = seconds_since(t0);
          hbglm::problem_spec spec;
          spec.formula = hbglm::election_formula;
          spec.family = r.family;
          // The profiling copies write the non-centered form only (the default, auto, centers
          // the state slopes from about 30k rows); the data passes they time are the same in both.
          if (o.profile) spec.centered = "none";
          t0 = clock_type::now();
          // Handed over, as hbglm sample does: the table's columns are freed as the design is
          // built, so that the peak is not the table and the design together.
          prob = hbglm::make_problem(std::move(data), spec);
          r.design_s = seconds_since(t0);
        }
        const hbglm::design& d = *prob.design_ptr;
        r.p = d.n_coefs();
        r.K = d.n_obs > 0 ? d.Z.n_nonzeros() / d.n_obs : 0;
        r.dim = prob.model_ptr->dim();

        hbglm::detail::glm_cpu_density density(prob.model_ptr);
        const std::vector<double> q = fixed_q(r.dim, o.seed);
        std::vector<double> grad(r.dim);
        const double lp = density.log_density_grad(q.data(), grad.data());
        if (!std::isfinite(lp)) {
          std::fprintf(stderr, "log density not finite at the fixed q (n=%zu, %s)\n", n,
                       r.family.c_str());
          return 1;
        }
        const timing t = time_median([&] { density.log_density_grad(q.data(), grad.data()); }, o);
        r.wall_ms = 1e3 * t.wall_s;
        r.cpu_ms = 1e3 * t.cpu_s;
        r.reps = t.reps;
        const double floor_bytes =
            static_cast<double>(d.n_obs) *
            (8.0 * static_cast<double>(r.p) + 8.0 + 4.0 * static_cast<double>(r.K));
        r.floor_mb = floor_bytes / 1e6;
        r.gb_per_s = floor_bytes / t.cpu_s / 1e9;
        r.ms_at_10gbs = 1e3 * floor_bytes / reference_bandwidth;
        r.stan_measured = n == 30000 || n == 300000;
        r.stan_ms = n == 30000 ? stan_ms_30k : stan_ms_300k * static_cast<double>(n) / 300000.0;
        r.rss_mb = peak_rss_mb();
        print_row(r, o);
        if (o.deep_chains > 0) {
          reset_peak_rss();
          const auto t_deep = clock_type::now();
          const int depth = hbglm::bench::transitions_at_deepest_tree(
              hbglm::backend_kind::cpu, prob.model_ptr, o.deep_chains, o.seed, [] {});
          // VmHWM is in MiB, floor and sampler in 1e6 bytes.
          const double peak_mb = peak_rss_mb() * 1.048576;
          const double sampler_mb =
              o.deep_chains * hbglm::bench::sampler_vector_bytes(r.dim) / 1e6;
          std::fprintf(meta,
                       "deep-chains n=%zu family=%s chains=%d depth=%d seconds=%.1f "
                       "peak_rss_MB=%.1f floor_MB=%.1f sampler_MB=%.1f peak_over_floor=%.3f\n",
                       n, r.family.c_str(), o.deep_chains, depth, seconds_since(t_deep), peak_mb,
                       r.floor_mb, sampler_mb, peak_mb / r.floor_mb);
          if (depth < hbglm::bench::deepest_tree) deep_reached = false;
        }
        if (o.threads > 1 && !time_threads(density, prob, q, grad, lp, r, o, meta)) {
          copies_agree = false;
        }
        if (o.profile && !profile(prob, q, grad, lp, r.cpu_ms, r, o, meta)) copies_agree = false;
      }
    }
  } catch (const hbglm::error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  std::fprintf(meta, "# peak RSS (VmHWM): %.0f MB\n", peak_rss_mb());
  return copies_agree && deep_reached ? 0 : 1;
}
