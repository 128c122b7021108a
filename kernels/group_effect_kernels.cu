#include <cub/block/block_reduce.cuh>

#include "common.cuh"
#include "group_effect_kernels.cuh"
#include "group_effects.cuh"

namespace hbglm::kernels {
namespace {

/// The term that owns global level @p g (terms are few: a linear scan).
__device__ inline int term_of_level(const group_term_desc* terms, int n_terms, std::int64_t g) {
  int t = 0;
  while (t + 1 < n_terms && g >= terms[t + 1].level_begin) ++t;
  return t;
}

__global__ void group_forward_kernel(const group_term_desc* terms, int n_terms,
                                     std::int64_t n_levels_total, const double* params,
                                     const double* q, double* u) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t g = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       g < n_levels_total; g += stride) {
    const group_term_desc term = terms[term_of_level(terms, n_terms, g)];
    const std::int64_t j = g - term.level_begin;
    group_level_forward(term.k, term.centered != 0, params + term.sd_offset,
                        params + term.chol_offset, params + term.mean_offset,
                        q + term.z_index + j * term.k,
                        u + term.u_offset + j * term.k);
  }
}

__global__ void group_backward_kernel(const group_term_desc* terms, int n_terms,
                                      std::int64_t n_levels_total, const double* params,
                                      const double* q, const double* g_u, double* grad,
                                      double* scratch) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t g = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       g < n_levels_total; g += stride) {
    const group_term_desc term = terms[term_of_level(terms, n_terms, g)];
    const std::int64_t j = g - term.level_begin;
    const int k = term.k;
    double* row = scratch + term.scratch_offset + j * term.n_cols;
    for (int c = 0; c < term.n_cols; ++c) row[c] = 0.0;  // the backward pass accumulates
    const int g_mean_col = 1 + k + (term.correlated ? k * k : 0);
    row[0] = group_level_backward(k, term.centered != 0, params + term.sd_offset,
                                  params + term.chol_offset, params + term.mean_offset,
                                  q + term.z_index + j * k, g_u + term.u_offset + j * k,
                                  grad + term.z_index + j * k, row + 1,
                                  term.correlated ? row + 1 + k : nullptr, row + g_mean_col);
  }
}

__global__ void segment_partials_kernel(const segment_desc* segments, const double* data,
                                        double* partials) {
  using block_reduce = cub::BlockReduce<double, reduce_block_size>;
  __shared__ typename block_reduce::TempStorage storage;
  const segment_desc s = segments[blockIdx.y];
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  double local = 0.0;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       i < s.count; i += stride) {
    local += data[s.offset + i * s.stride];
  }
  const double total = block_reduce(storage).Sum(local);
  if (threadIdx.x == 0) partials[static_cast<std::int64_t>(blockIdx.y) * gridDim.x + blockIdx.x] = total;
}

__global__ void segment_final_kernel(const segment_desc* segments, int n_chunks,
                                     const double* partials, double* out) {
  using block_reduce = cub::BlockReduce<double, reduce_block_size>;
  __shared__ typename block_reduce::TempStorage storage;
  double local = 0.0;
  for (int b = threadIdx.x; b < n_chunks; b += blockDim.x) {
    local += partials[static_cast<std::int64_t>(blockIdx.x) * n_chunks + b];
  }
  const double total = block_reduce(storage).Sum(local);
  if (threadIdx.x == 0) out[segments[blockIdx.x].out_index] = total;
}

/// Blocks for a grid-stride loop over @p n items of per-item work (no reduction): enough to
/// fill the GPU, capped so that a launch stays cheap for small n.
int elementwise_grid(std::int64_t n) {
  const std::int64_t blocks = (n + reduce_block_size - 1) / reduce_block_size;
  constexpr std::int64_t max_blocks = 4096;
  return static_cast<int>(blocks < 1 ? 1 : (blocks < max_blocks ? blocks : max_blocks));
}

}  // namespace

void launch_group_forward(const group_term_desc* terms, int n_terms, std::int64_t n_levels_total,
                          const double* params, const double* q, double* u, void* stream) {
  if (n_levels_total <= 0 || n_terms <= 0) return;
  group_forward_kernel<<<elementwise_grid(n_levels_total), reduce_block_size, 0,
                         static_cast<cudaStream_t>(stream)>>>(terms, n_terms, n_levels_total,
                                                              params, q, u);
}

void launch_group_backward(const group_term_desc* terms, int n_terms,
                           std::int64_t n_levels_total, const double* params, const double* q,
                           const double* g_u, double* grad, double* scratch, void* stream) {
  if (n_levels_total <= 0 || n_terms <= 0) return;
  group_backward_kernel<<<elementwise_grid(n_levels_total), reduce_block_size, 0,
                          static_cast<cudaStream_t>(stream)>>>(terms, n_terms, n_levels_total,
                                                               params, q, g_u, grad, scratch);
}

void launch_segment_sums(const segment_desc* segments, int n_segments, const double* data,
                         double* partials, double* out, void* stream) {
  if (n_segments <= 0) return;
  const auto s = static_cast<cudaStream_t>(stream);
  segment_partials_kernel<<<dim3(segment_chunks, n_segments), reduce_block_size, 0, s>>>(
      segments, data, partials);
  segment_final_kernel<<<n_segments, reduce_block_size, 0, s>>>(segments, segment_chunks,
                                                                 partials, out);
}

}  // namespace hbglm::kernels
