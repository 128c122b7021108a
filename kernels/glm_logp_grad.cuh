#pragma once
/** @file The fused GLM likelihood on the device: one pass that reads η, y, trials and se, writes
 *  r = d log p / dη, and sums log p and the squared scaled residuals deterministically. */

#include <cstddef>

#include "glm_family.cuh"

namespace hbglm::kernels {

/** Device pointers and sizes for one likelihood pass. trials and se may be null when unused. */
struct glm_likelihood_args {
  glm_family_id family = glm_family_id::gaussian_identity;
  std::size_t n = 0;
  const double* y = nullptr;
  const double* eta = nullptr;
  const double* trials = nullptr;  ///< binomial only
  const double* se = nullptr;      ///< gaussian with known se; else sigma is used
  double sigma = 1.0;
  double* r = nullptr;             ///< out: n values
  double* block_partials = nullptr;  ///< scratch: 2 × grid_size_for(n) doubles
  double* sums = nullptr;          ///< out: [Σ log p, Σ sq_residual]
};

/** Launches the likelihood pass on @p stream (a cudaStream_t, passed as void* so host code that
 *  includes this needs no CUDA headers). Thread mapping: a grid-stride loop, one observation per
 *  thread per step; each block reduces its partial sums with cub::BlockReduce, and a second
 *  one-block kernel adds the block partials in index order, so the result is bitwise the same on
 *  every run (no atomics). Non-finite values propagate into the sums (the caller rejects). */
void launch_glm_likelihood(const glm_likelihood_args& args, void* stream);

}  // namespace hbglm::kernels
