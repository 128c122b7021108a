#include <cub/block/block_reduce.cuh>

#include "common.cuh"
#include "rng.cuh"
#include "vector_ops.cuh"

namespace hbglm::kernels {
namespace {

/// Blocks for an element-wise grid-stride loop over @p n elements: enough to fill the GPU,
/// capped so that small vectors take one cheap launch. (The element-wise kernels have no
/// reduction, so the grid size does not change their results.)
int elementwise_grid(std::size_t n) {
  const std::size_t blocks = (n + reduce_block_size - 1) / reduce_block_size;
  constexpr std::size_t max_blocks = 4096;
  return static_cast<int>(blocks == 0 ? 1 : (blocks < max_blocks ? blocks : max_blocks));
}

__device__ inline std::size_t first_index() {
  return static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ inline std::size_t grid_stride() {
  return static_cast<std::size_t>(gridDim.x) * blockDim.x;
}

__global__ void axpy_kernel(std::size_t n, double a, const double* x, double* y) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    y[i] = __dadd_rn(y[i], __dmul_rn(a, x[i]));
  }
}

__global__ void add_kernel(std::size_t n, const double* a, const double* b, double* dst) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) dst[i] = __dadd_rn(a[i], b[i]);
}

__global__ void scale_kernel(std::size_t n, const double* diag, const double* p, double* out) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) out[i] = __dmul_rn(diag[i], p[i]);
}

__global__ void kick_drift_kernel(std::size_t n, std::size_t n_dense, double half_eps, double eps,
                                  const double* g, const double* diag, double* p, double* q) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    const double p_new = __dadd_rn(p[i], __dmul_rn(half_eps, g[i]));
    p[i] = p_new;
    if (i >= n_dense) {
      const double p_sharp = __dmul_rn(diag[i - n_dense], p_new);
      q[i] = __dadd_rn(q[i], __dmul_rn(eps, p_sharp));
    }
  }
}

__global__ void drift_kernel(std::size_t n, double eps, const double* p_sharp, double* q) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    q[i] = __dadd_rn(q[i], __dmul_rn(eps, p_sharp[i]));
  }
}

__global__ void kick_kernel(std::size_t n, double half_eps, const double* g, double* p) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    p[i] = __dadd_rn(p[i], __dmul_rn(half_eps, g[i]));
  }
}

__global__ void draw_momentum_kernel(std::size_t n, std::size_t n_dense, std::uint64_t seed,
                                     std::uint32_t chain, std::uint64_t counter,
                                     const double* diag, double* p) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    const double z = rng::standard_normal(seed, rng::stream::momentum, chain, counter, i);
    p[i] = i >= n_dense ? __ddiv_rn(z, __dsqrt_rn(diag[i - n_dense])) : z;
  }
}

__global__ void dot_partials_kernel(std::size_t n, const double* a, const double* b,
                                    double* partials) {
  using block_reduce = cub::BlockReduce<double, reduce_block_size>;
  __shared__ typename block_reduce::TempStorage storage;
  double local = 0.0;
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    local = __dadd_rn(local, __dmul_rn(a[i], b[i]));
  }
  const double total = block_reduce(storage).Sum(local);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

__global__ void inv_metric_dot_partials_kernel(std::size_t n, std::size_t n_dense,
                                               const double* dense_sharp, const double* diag,
                                               const double* a, const double* b,
                                               double* partials) {
  using block_reduce = cub::BlockReduce<double, reduce_block_size>;
  __shared__ typename block_reduce::TempStorage storage;
  double local = 0.0;
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    const double sharp = i < n_dense ? dense_sharp[i] : __dmul_rn(diag[i - n_dense], a[i]);
    local = __dadd_rn(local, __dmul_rn(sharp, b[i]));
  }
  const double total = block_reduce(storage).Sum(local);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

__global__ void dot_final_kernel(int n_partials, const double* partials, double* out) {
  using block_reduce = cub::BlockReduce<double, reduce_block_size>;
  __shared__ typename block_reduce::TempStorage storage;
  double local = 0.0;
  for (int b = threadIdx.x; b < n_partials; b += blockDim.x) local += partials[b];
  const double total = block_reduce(storage).Sum(local);
  if (threadIdx.x == 0) *out = total;
}

}  // namespace

void launch_axpy(std::size_t n, double a, const double* x, double* y, void* stream) {
  if (n == 0) return;
  axpy_kernel<<<elementwise_grid(n), reduce_block_size, 0, static_cast<cudaStream_t>(stream)>>>(
      n, a, x, y);
}

void launch_add(std::size_t n, const double* a, const double* b, double* dst, void* stream) {
  if (n == 0) return;
  add_kernel<<<elementwise_grid(n), reduce_block_size, 0, static_cast<cudaStream_t>(stream)>>>(
      n, a, b, dst);
}

void launch_scale(std::size_t n, const double* diag, const double* p, double* out, void* stream) {
  if (n == 0) return;
  scale_kernel<<<elementwise_grid(n), reduce_block_size, 0, static_cast<cudaStream_t>(stream)>>>(
      n, diag, p, out);
}

void launch_kick_drift(std::size_t n, std::size_t n_dense, double half_eps, double eps,
                       const double* g, const double* diag, double* p, double* q, void* stream) {
  if (n == 0) return;
  kick_drift_kernel<<<elementwise_grid(n), reduce_block_size, 0,
                      static_cast<cudaStream_t>(stream)>>>(n, n_dense, half_eps, eps, g, diag, p,
                                                           q);
}

void launch_drift(std::size_t n, double eps, const double* p_sharp, double* q, void* stream) {
  if (n == 0) return;
  drift_kernel<<<elementwise_grid(n), reduce_block_size, 0, static_cast<cudaStream_t>(stream)>>>(
      n, eps, p_sharp, q);
}

void launch_kick(std::size_t n, double half_eps, const double* g, double* p, void* stream) {
  if (n == 0) return;
  kick_kernel<<<elementwise_grid(n), reduce_block_size, 0, static_cast<cudaStream_t>(stream)>>>(
      n, half_eps, g, p);
}

void launch_draw_momentum(std::size_t n, std::size_t n_dense, std::uint64_t seed,
                          std::uint32_t chain, std::uint64_t counter, const double* diag,
                          double* p, void* stream) {
  if (n == 0) return;
  draw_momentum_kernel<<<elementwise_grid(n), reduce_block_size, 0,
                         static_cast<cudaStream_t>(stream)>>>(n, n_dense, seed, chain, counter,
                                                              diag, p);
}

int dot_partials(std::size_t n) { return grid_size_for(n); }

void launch_dot(std::size_t n, const double* a, const double* b, double* partials, double* out,
                void* stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  const int grid = dot_partials(n);
  dot_partials_kernel<<<grid, reduce_block_size, 0, s>>>(n, a, b, partials);
  dot_final_kernel<<<1, reduce_block_size, 0, s>>>(grid, partials, out);
}

void launch_inv_metric_dot(std::size_t n, std::size_t n_dense, const double* dense_sharp,
                           const double* diag, const double* a, const double* b, double* partials,
                           double* out, void* stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  const int grid = dot_partials(n);
  inv_metric_dot_partials_kernel<<<grid, reduce_block_size, 0, s>>>(n, n_dense, dense_sharp, diag,
                                                                     a, b, partials);
  dot_final_kernel<<<1, reduce_block_size, 0, s>>>(grid, partials, out);
}

}  // namespace hbglm::kernels
