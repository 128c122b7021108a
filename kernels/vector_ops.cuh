#pragma once
/** @file The sampler's vector operations on the device (ARCHITECTURE §5): the leapfrog pieces,
 *  axpy, add, the diagonal part of M⁻¹p, momentum draws and a deterministic dot product.
 *
 *  Every element-wise kernel is a grid-stride loop, one element per thread per step, on
 *  contiguous double arrays of length n; it rounds each product and sum separately
 *  (__dmul_rn/__dadd_rn, never a fused multiply-add), exactly as the CPU backend's expressions
 *  are evaluated, so that the same inputs give the same bits on both backends. Element-wise
 *  kernels are deterministic; launch_dot is deterministic by its fixed-order reduction. NaN and
 *  infinities propagate; nothing is signalled. Host code includes this header without CUDA:
 *  streams are passed as void* (a cudaStream_t), pointers are device pointers. */

#include <cstddef>
#include <cstdint>

namespace hbglm::kernels {

/** y[i] = y[i] + a x[i] (the CPU's `y += a * x`). */
void launch_axpy(std::size_t n, double a, const double* x, double* y, void* stream);

/** dst[i] = a[i] + b[i]. */
void launch_add(std::size_t n, const double* a, const double* b, double* dst, void* stream);

/** out[i] = diag[i] p[i] for i < n (the diagonal part of the inverse metric). */
void launch_scale(std::size_t n, const double* diag, const double* p, double* out, void* stream);

/** The first half of a leapfrog step, fused over the diagonal coordinates:
 *  p[i] += half_eps g[i] for every i < n, and for n_dense ≤ i < n, q[i] += eps (diag[i - n_dense]
 *  p[i]) with the new p (the dense block's drift needs the whole new p first: launch_drift).
 *  The order of operations is cpu_backend::leapfrog's. */
void launch_kick_drift(std::size_t n, std::size_t n_dense, double half_eps, double eps,
                       const double* g, const double* diag, double* p, double* q, void* stream);

/** q[i] += eps p_sharp[i] for i < n. */
void launch_drift(std::size_t n, double eps, const double* p_sharp, double* q, void* stream);

/** p[i] += half_eps g[i] for i < n. */
void launch_kick(std::size_t n, double half_eps, const double* g, double* p, void* stream);

/** p[i] = rng::standard_normal(seed, momentum, chain, counter, i), divided by sqrt(diag[i -
 *  n_dense]) for i ≥ n_dense (the dense block is then solved with its Cholesky factor by the
 *  caller), as cpu_backend::draw_momentum. One element per thread: each element is a pure
 *  function of (seed, chain, counter, i) (kernels/rng.cuh). */
void launch_draw_momentum(std::size_t n, std::size_t n_dense, std::uint64_t seed,
                          std::uint32_t chain, std::uint64_t counter, const double* diag,
                          double* p, void* stream);

/** Blocks of launch_dot's first stage (and the partials it needs): grid_size_for(n). */
int dot_partials(std::size_t n);

/** *out = Σ a[i] b[i] in double, deterministically: each of dot_partials(n) blocks sums a
 *  grid-strided subset per thread and reduces it with cub::BlockReduce into partials[block];
 *  one block then adds the partials in the same fixed way. No atomics: bitwise reproducible.
 *  @param partials device scratch of dot_partials(n) doubles
 *  @param out device, one double */
void launch_dot(std::size_t n, const double* a, const double* b, double* partials, double* out,
                void* stream);

/** *out = Σ s[i] b[i] with s = M⁻¹a: s[i] = dense_sharp[i] for i < n_dense (the dense block's
 *  product, formed by the caller) and diag[i - n_dense] a[i] beyond. The same grid, products and
 *  reduction as launch_scale followed by launch_dot, so the same bits, without writing s.
 *  @param partials device scratch of dot_partials(n) doubles
 *  @param out device, one double */
void launch_inv_metric_dot(std::size_t n, std::size_t n_dense, const double* dense_sharp,
                           const double* diag, const double* a, const double* b, double* partials,
                           double* out, void* stream);

}  // namespace hbglm::kernels
