#pragma once
/** @file The GLM log density and its analytic gradient on the CPU (the reference for every other
 *  backend): η = Xβ + Zu + offset with X dense column-major and Z sparse (CSR; Zᵀr by a scatter
 *  along Z's rows), the per-observation family math of kernels/glm_family.cuh, the group-effect
 *  chain rule of kernels/group_effects.cuh, and the model's priors and transforms. */

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "backend/cpu/cpu_backend.hpp"
#include "hbglm/model.hpp"

namespace hbglm::detail {

/** A run of consecutive observations that the observation pass sums on its own (see
 *  plan_row_chunks). */
struct row_chunk {
  std::size_t begin = 0, end = 0;  ///< rows [begin, end)
  /// The ranges [first, last) of u's indices that the chunk's rows of Z touch, one per term that
  /// they touch: what its own Zᵀr holds and what is added into the whole one.
  std::vector<std::pair<std::size_t, std::size_t>> u_ranges;
};

/// Rows per chunk at least: below 2 × this many observations the pass is one chunk, as it was
/// before chunks, and the draws of such models are those of earlier versions. About 0.15 ms of
/// the election model's pass, far above the cost of handing a chunk to a thread.
constexpr std::size_t default_min_chunk_rows = 4096;
/// Chunks at most: the most threads one chain can use.
constexpr std::size_t max_row_chunks = 16;

/// The most population-level coefficients whose Xβ and Xᵀr the observation pass forms itself,
/// row by row, holding no vector η (glm_cpu_density.cpp, fuses_x_into_pass: 1 or 2 for every
/// family, 3 or 4 for the gaussian); other designs take them as matrix-vector products in column
/// panels around the pass. Measured (bench/grad_eval --data; session 14): inside the pass, one
/// gradient of 100k rows is 9-12% faster at p = 2-4 with the gaussian family, 7% (poisson) and 2%
/// (bernoulli) at p = 2, no faster at p = 4 for those, and 3-7% slower for lme4's small cbpp and
/// grouseticks at p = 4 (their pass calls libm's exp and log1p, around which the sums are
/// spilled); over 8 columns it was slower from p = 6 on (15% at 6, 4% at 8).
constexpr std::size_t max_fused_coefficients = 4;

/** How the observation pass splits the rows of @p d: into near-equal chunks, as many as the
 *  greatest power of 2 up to n / @p min_chunk_rows and max_row_chunks (a power of 2 so that 2,
 *  4, 8 or 16 threads share them evenly), halved while the chunks after the first touch more
 *  than n entries of u in all (each chunk's Zᵀr is zeroed and added over the ranges it touches,
 *  work that rows in random order over a large grouping factor would make dearer than the
 *  pass). It depends on the data alone, never on threads: the sums of each chunk run in row
 *  order and the chunks' sums are added in chunk order, so every number of threads gives the
 *  same bits. */
std::vector<row_chunk> plan_row_chunks(const design& d,
                                       std::size_t min_chunk_rows = default_min_chunk_rows);

/** log p(q | y) + gradient for a model. Holds scratch buffers: one instance per chain. */
class glm_cpu_density final : public log_density_function {
 public:
  /** @param[in] threads the threads that share one evaluation's chunks of rows (1: the calling
   *  thread alone); the result does not depend on it.
   *  @param[in] min_chunk_rows plan_row_chunks' (tests set it low to split small models). */
  explicit glm_cpu_density(std::shared_ptr<const model> m, int threads = 1,
                           std::size_t min_chunk_rows = default_min_chunk_rows);
  std::size_t n_chunks() const noexcept { return chunks_.size(); }
  /// The threads an evaluation uses: the constructor's, at least 1 and at most n_chunks() (1
  /// without OpenMP: chunk_threads_available).
  int threads() const noexcept { return threads_; }
  std::size_t dim() const noexcept override { return model_->dim(); }
  double log_density_grad(const double* q, double* grad) const override;

 private:
  /// Xβ, the observation pass and Xᵀr over chunk @p k's rows, its Zᵀr into @p g_u (zero over
  /// the chunk's u_ranges), its sums into chunk_log_lik_, chunk_sq_residual_ and chunk_xtr_.
  void evaluate_chunk(std::size_t k, double* g_u) const;
  /// Every chunk, threads_ at a time, and the whole Zᵀr into g_u_.
  void observation_passes() const;

  std::shared_ptr<const model> model_;
  /// Xβ and Xᵀr formed inside the observation pass (max_fused_coefficients).
  bool fuses_x_ = false;
  /// Otherwise η of a chunk's rows, overwritten by r = d log p / d η in the observation pass:
  /// one vector per thread (chunk k uses k mod threads), each of the largest chunk's rows, not
  /// one of n (the election model's 300k rows: 150 KB that stay in cache, not 2.4 MB).
  mutable std::vector<std::vector<double>> chunk_eta_r_;
  mutable std::vector<double> u_, g_u_;
  /// The length of every row of Z when they are all alike (the usual case: one entry per
  /// coefficient of each group-level term), else 0 (observation_pass).
  std::size_t row_length_ = 0;
  /// Every value of Z is 1 (only varying intercepts: (1 | g) terms), so the observation pass
  /// reads no values (observation_pass).
  bool unit_values_ = false;
  std::vector<row_chunk> chunks_;
  int threads_ = 1;
  /// Zᵀr of chunk k > 0 goes into chunk_g_u_[k mod threads] (the first chunk's straight into
  /// g_u_), then into g_u_ in chunk order: min(threads, chunks) vectors of n_u.
  mutable std::vector<std::vector<double>> chunk_g_u_;
  /// Per chunk: Σ log p, Σ sq_residual and Xᵀr over its rows (p values).
  mutable std::vector<double> chunk_log_lik_, chunk_sq_residual_, chunk_xtr_;
  mutable global_values values_;
  mutable global_gradients grads_;
};

/** Whether a chain's evaluation can use several threads: this build has OpenMP (CMake warns
 *  when it does not, and every chain then runs on one thread). */
bool chunk_threads_available() noexcept;

/** A CPU backend for one chain of @p m whose evaluations use @p threads threads. */
std::unique_ptr<backend> make_cpu_backend(std::shared_ptr<const model> m, int threads = 1);

}  // namespace hbglm::detail
