#pragma once
/** @file The CUDA backend of a GLM model (ARCHITECTURE §5): chain state and data resident on the
 *  GPU; the log density and gradient computed there as host/backend/cpu/glm_cpu_density.cpp does
 *  on the CPU (the reference it is tested against), with only the small global block and a few
 *  scalars crossing to the host per evaluation. */

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "backend/backend.hpp"
#include "backend/cuda/cuda_context.hpp"
#include "backend/cuda/cuda_model_data.hpp"
#include "hbglm/model.hpp"

namespace hbglm::detail::cuda {

/** A vector of the CUDA backend: dim() doubles in device memory. */
class cuda_vector final : public device_vector {
 public:
  explicit cuda_vector(std::size_t n) : values(n) {}
  std::size_t size() const noexcept override { return values.size(); }
  device_buffer<double> values;
};

/** An owned cuSPARSE CSR descriptor over read-only device arrays. */
class sparse_matrix_descr {
 public:
  sparse_matrix_descr() = default;
  sparse_matrix_descr(std::size_t rows, std::size_t cols, std::size_t nnz,
                      const std::int32_t* row_ptr, const std::int32_t* col_idx,
                      const double* values);
  ~sparse_matrix_descr();
  sparse_matrix_descr(const sparse_matrix_descr&) = delete;
  sparse_matrix_descr& operator=(const sparse_matrix_descr&) = delete;
  cusparseConstSpMatDescr_t get() const noexcept { return descr_; }

 private:
  cusparseConstSpMatDescr_t descr_ = nullptr;
};

/** An owned cuSPARSE dense-vector descriptor over a device array. */
class dense_vector_descr {
 public:
  dense_vector_descr() = default;
  dense_vector_descr(std::size_t n, double* values);
  ~dense_vector_descr();
  dense_vector_descr(const dense_vector_descr&) = delete;
  dense_vector_descr& operator=(const dense_vector_descr&) = delete;
  cusparseDnVecDescr_t get() const noexcept { return descr_; }

 private:
  cusparseDnVecDescr_t descr_ = nullptr;
};

/** Packs beta, sd, the level means and each term's Cholesky factor into @p params
 *  (model_layout::n_params doubles) at the offsets the group-term descriptors name. */
void pack_params(const model_layout& layout, const global_values& values, double* params);

/** The host half of an evaluation, from the sums the device sent back:
 *  @p sums = [Xᵀr (p) | Σ log p, Σ sq_residual | segment sums (model_layout::segments order)].
 *  Adds the likelihood (and -n log sigma) to @p lp, fills @p grads (beta, sigma, sd, chol_corr)
 *  for model::globals_backward, and subtracts ½ Σ z², in glm_cpu_density's order.
 *  @return the log density; -infinity when the data part is not finite (grads then unset) */
double assemble_sums(const model& m, const model_layout& layout, const double* sums,
                     const global_values& values, global_gradients& grads, double lp);

/** Device bytes a CUDA backend for @p m needs beyond the shared data: its scratch buffers plus an
 *  allowance for the sampler's vectors (n_sampler_vectors of dim doubles), library workspaces and
 *  the dense metric. An estimate for the up-front memory check. */
std::size_t per_chain_bytes(const model_layout& layout);

/** Vectors of length dim allowed for a NUTS chain at the default maximum depth 10: nuts.hpp keeps
 *  12 for the state and the top-level bookkeeping and 4 per tree level from 1 to 9 (48), and the
 *  adaptation about 10 more; the rest is headroom. This layer cannot include mcmc/nuts.hpp, so
 *  tests/backend/cuda_backend_cuda_test.cpp checks the allowance against its counts. */
constexpr std::size_t n_sampler_vectors = 96;

/** The CUDA implementation of the backend seam for a GLM model. One instance per chain, with its
 *  own stream and library handles; the model's device data is shared between instances. */
class cuda_glm_backend final : public backend {
 public:
  /** @param[in] m the model (shared, read-only)
   *  @throws backend_error when a CUDA call fails (for example out of memory). */
  explicit cuda_glm_backend(std::shared_ptr<const model> m);
  ~cuda_glm_backend() override;

  backend_kind kind() const noexcept override { return backend_kind::cuda; }
  backend_caps caps() const noexcept override { return {true, false}; }
  std::size_t dim() const noexcept override { return dim_; }
  std::unique_ptr<device_vector> make_vector() override;
  double log_density_grad(const device_vector& q, device_vector& grad) override;
  void set_inv_metric(const inv_metric& m) override;
  void apply_inv_metric(const device_vector& p, device_vector& p_sharp) override;
  /** One fused reduction (kernels::launch_inv_metric_dot) after the dense block's gemv: the
   *  bits of apply_inv_metric then dot, without the vector between them. */
  double inv_metric_dot(const device_vector& a, const device_vector& b) override;
  void draw_momentum(std::uint64_t seed, std::uint64_t chain, std::uint64_t counter,
                     device_vector& p) override;
  double leapfrog(double eps, device_vector& q, device_vector& p, device_vector& grad) override;
  double dot(const device_vector& a, const device_vector& b) override;
  void copy(const device_vector& src, device_vector& dst) override;
  void axpy(double a, const device_vector& x, device_vector& y) override;
  void add(const device_vector& a, const device_vector& b, device_vector& dst) override;
  void copy_to_host(const device_vector& v, double* out) override;
  void copy_from_host(const double* in, device_vector& v) override;
  std::size_t n_evaluations() const noexcept override { return n_evaluations_; }

 private:
  /** The evaluation proper; returns log p, possibly non-finite. */
  double evaluate(const double* q, double* grad);
  /** -infinity, with the gradient zeroed (as the CPU backend leaves it). */
  double reject(double* grad);
  /** The scalar a dot kernel left in dot_out_, brought to the host (waits for the stream). */
  double read_dot_out();
  void* stream() const noexcept { return ctx_.stream(); }

  std::shared_ptr<const model> model_;
  std::shared_ptr<const cuda_model_data> data_;
  const model_layout& layout_;
  std::size_t dim_;
  std::size_t n_evaluations_ = 0;

  cuda_context ctx_;

  // Per-evaluation device scratch.
  device_buffer<double> eta_, r_, u_, g_u_, scratch_;
  device_buffer<double> likelihood_partials_, segment_partials_;
  device_buffer<double> params_;  ///< beta, sd, level means, Cholesky factors (n_params)
  device_buffer<double> sums_;    ///< Xᵀr (p), Σ log p and Σ sq (2), segment sums
  device_buffer<unsigned char> spmv_z_buffer_, spmv_zt_buffer_;
  // cuSPARSE descriptors of Z, Zᵀ and the vectors they multiply (only when there are group
  // effects and observations).
  std::optional<sparse_matrix_descr> z_descr_, zt_descr_;
  std::optional<dense_vector_descr> u_descr_, eta_descr_, r_descr_, g_u_descr_;

  // Host staging (page-locked) for the small transfers.
  pinned_buffer<double> q_globals_host_, params_host_, sums_host_, grad_globals_host_;
  pinned_buffer<double> dot_host_;
  global_values values_;
  global_gradients grads_;

  // Vector-op scratch.
  device_buffer<double> dot_partials_, dot_out_;

  // The inverse metric: dense block (column-major) and its upper Cholesky factor U (inverse
  // metric dense block = UᵀU), the diagonal of the rest, and M⁻¹p scratch for the dense block.
  std::size_t n_dense_ = 0;
  device_buffer<double> metric_dense_, metric_upper_, metric_diag_, p_sharp_dense_;
};

}  // namespace hbglm::detail::cuda
