#include <cub/block/block_reduce.cuh>

#include "common.cuh"
#include "glm_logp_grad.cuh"

namespace hbglm::kernels {
namespace {

struct pair_sum {
  double log_lik;
  double sq;
};

struct pair_add {
  __device__ pair_sum operator()(const pair_sum& a, const pair_sum& b) const {
    return {a.log_lik + b.log_lik, a.sq + b.sq};
  }
};

template <glm_family_id F>
__global__ void glm_likelihood_kernel(glm_likelihood_args args) {
  using block_reduce = cub::BlockReduce<pair_sum, reduce_block_size>;
  __shared__ typename block_reduce::TempStorage storage;
  pair_sum local{0.0, 0.0};
  const double inv_sigma = 1.0 / args.sigma;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       i < args.n; i += stride) {
    const double trials = args.trials ? args.trials[i] : 0.0;
    const double inv_scale = args.se ? 1.0 / args.se[i] : inv_sigma;
    const glm_observation_terms t = glm_observation(F, args.y[i], args.eta[i], trials, inv_scale);
    args.r[i] = t.d_eta;
    local.log_lik += t.log_lik;
    local.sq += t.sq_residual;
  }
  const pair_sum block_total = block_reduce(storage).Reduce(local, pair_add{});
  if (threadIdx.x == 0) {
    args.block_partials[2 * blockIdx.x] = block_total.log_lik;
    args.block_partials[2 * blockIdx.x + 1] = block_total.sq;
  }
}

/// One block adds the per-block partials: each thread a strided subset in index order, then a
/// block reduction; both orders are fixed, so the sum is deterministic.
__global__ void sum_partials_kernel(const double* partials, int n_blocks, double* sums) {
  using block_reduce = cub::BlockReduce<pair_sum, reduce_block_size>;
  __shared__ typename block_reduce::TempStorage storage;
  pair_sum local{0.0, 0.0};
  for (int b = threadIdx.x; b < n_blocks; b += blockDim.x) {
    local.log_lik += partials[2 * b];
    local.sq += partials[2 * b + 1];
  }
  const pair_sum total = block_reduce(storage).Reduce(local, pair_add{});
  if (threadIdx.x == 0) {
    sums[0] = total.log_lik;
    sums[1] = total.sq;
  }
}

}  // namespace

void launch_glm_likelihood(const glm_likelihood_args& args, void* stream_handle) {
  const auto stream = static_cast<cudaStream_t>(stream_handle);
  const int grid = grid_size_for(args.n);
  switch (args.family) {
    case glm_family_id::gaussian_identity:
      glm_likelihood_kernel<glm_family_id::gaussian_identity>
          <<<grid, reduce_block_size, 0, stream>>>(args);
      break;
    case glm_family_id::bernoulli_logit:
      glm_likelihood_kernel<glm_family_id::bernoulli_logit>
          <<<grid, reduce_block_size, 0, stream>>>(args);
      break;
    case glm_family_id::binomial_logit:
      glm_likelihood_kernel<glm_family_id::binomial_logit>
          <<<grid, reduce_block_size, 0, stream>>>(args);
      break;
    case glm_family_id::poisson_log:
      glm_likelihood_kernel<glm_family_id::poisson_log>
          <<<grid, reduce_block_size, 0, stream>>>(args);
      break;
  }
  sum_partials_kernel<<<1, reduce_block_size, 0, stream>>>(args.block_partials, grid, args.sums);
}

}  // namespace hbglm::kernels
