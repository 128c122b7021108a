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

/// Level j's means of an absorbing term (k values into @p means): the term's means, its Intercept's
/// (coefficient 0) plus Σ_s x_sj u_s[j] + Σ_a x_aj b_a (model::absorbing_level_means).
__device__ inline void absorbing_level_means(const group_term_desc& term,
                                             const absorbed_desc* absorbed,
                                             const double* absorbed_values, const double* params,
                                             const double* u, std::int64_t j, double* means) {
  for (int c = 0; c < term.k; ++c) means[c] = params[term.mean_offset + c];
  for (int s = 0; s < term.n_absorbed; ++s) {
    const absorbed_desc a = absorbed[term.absorbed_begin + s];
    const double value = a.coefficient >= 0 ? params[a.coefficient] : u[a.u_offset + j];
    means[0] += absorbed_values[a.values_offset + j] * value;
  }
}

/// absorbing_pass: only the terms with n_absorbed > 0, else only the others.
__global__ void group_forward_kernel(const group_term_desc* terms, int n_terms,
                                     std::int64_t n_levels_total, const double* params,
                                     const absorbed_desc* absorbed,
                                     const double* absorbed_values, bool absorbing_pass,
                                     const double* q, double* u) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t g = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       g < n_levels_total; g += stride) {
    const group_term_desc term = terms[term_of_level(terms, n_terms, g)];
    if ((term.n_absorbed > 0) != absorbing_pass) continue;
    const std::int64_t j = g - term.level_begin;
    double level_means[max_centered_k];
    if (absorbing_pass) {
      absorbing_level_means(term, absorbed, absorbed_values, params, u, j, level_means);
    }
    group_level_forward(term.k, term.n_centered, params + term.sd_offset,
                        params + term.chol_offset,
                        absorbing_pass ? level_means : params + term.mean_offset,
                        q + term.z_index + j * term.k,
                        u + term.u_offset + j * term.k);
  }
}

/// The per-level backward pass of the terms with n_absorbed > 0 (absorbing_pass) or of the
/// others. The forward pass's u is read for the absorbing terms' level means; g_u is written only
/// in the absorbing pass, at the absorbed slopes' levels (an absorbed coefficient's part goes to
/// its scratch column).
__global__ void group_backward_kernel(const group_term_desc* terms, int n_terms,
                                      std::int64_t n_levels_total, const double* params,
                                      const absorbed_desc* absorbed,
                                      const double* absorbed_values, bool absorbing_pass,
                                      const double* u, const double* q, double* g_u,
                                      double* grad, double* scratch) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t g = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       g < n_levels_total; g += stride) {
    const group_term_desc term = terms[term_of_level(terms, n_terms, g)];
    if ((term.n_absorbed > 0) != absorbing_pass) continue;
    const std::int64_t j = g - term.level_begin;
    const int k = term.k;
    double* row = scratch + term.scratch_offset + j * term.n_cols;
    for (int c = 0; c < term.n_cols; ++c) row[c] = 0.0;  // the backward pass accumulates
    const int g_mean_col = 1 + k + (term.correlated ? k * k : 0);
    double level_means[max_centered_k];
    if (absorbing_pass) {
      absorbing_level_means(term, absorbed, absorbed_values, params, u, j, level_means);
    }
    row[0] = group_level_backward(k, term.n_centered, params + term.sd_offset,
                                  params + term.chol_offset,
                                  absorbing_pass ? level_means : params + term.mean_offset,
                                  q + term.z_index + j * k, g_u + term.u_offset + j * k,
                                  grad + term.z_index + j * k, row + 1,
                                  term.correlated ? row + 1 + k : nullptr, row + g_mean_col);
    if (!absorbing_pass) continue;
    // ∂mean_0/∂u_s[j] = x_sj, ∂mean_0/∂b_a = x_aj, with the Intercept's mean gradient in the
    // row's first g_mean column. A coefficient's goes to its own column, summed over levels
    // afterwards.
    for (int s = 0; s < term.n_absorbed; ++s) {
      const absorbed_desc a = absorbed[term.absorbed_begin + s];
      const double x_g_mean = absorbed_values[a.values_offset + j] * row[g_mean_col];
      if (a.coefficient >= 0) {
        row[a.scratch_column] = x_g_mean;
      } else {
        g_u[a.u_offset + j] += x_g_mean;
      }
    }
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
                          const double* params, const absorbed_desc* absorbed,
                          const double* absorbed_values, const double* q, double* u,
                          void* stream) {
  if (n_levels_total <= 0 || n_terms <= 0) return;
  const auto s = static_cast<cudaStream_t>(stream);
  const int grid = elementwise_grid(n_levels_total);
  group_forward_kernel<<<grid, reduce_block_size, 0, s>>>(
      terms, n_terms, n_levels_total, params, absorbed, absorbed_values, false, q, u);
  if (absorbed != nullptr) {
    group_forward_kernel<<<grid, reduce_block_size, 0, s>>>(
        terms, n_terms, n_levels_total, params, absorbed, absorbed_values, true, q, u);
  }
}

void launch_group_backward(const group_term_desc* terms, int n_terms,
                           std::int64_t n_levels_total, const double* params,
                           const absorbed_desc* absorbed, const double* absorbed_values,
                           const double* u, const double* q, double* g_u, double* grad,
                           double* scratch, void* stream) {
  if (n_levels_total <= 0 || n_terms <= 0) return;
  const auto s = static_cast<cudaStream_t>(stream);
  const int grid = elementwise_grid(n_levels_total);
  if (absorbed != nullptr) {
    group_backward_kernel<<<grid, reduce_block_size, 0, s>>>(terms, n_terms, n_levels_total,
                                                             params, absorbed, absorbed_values,
                                                             true, u, q, g_u, grad, scratch);
  }
  group_backward_kernel<<<grid, reduce_block_size, 0, s>>>(terms, n_terms, n_levels_total,
                                                           params, absorbed, absorbed_values,
                                                           false, u, q, g_u, grad, scratch);
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
