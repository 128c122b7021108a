#include "backend/cuda/cuda_glm_backend.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "hbglm/error.hpp"
#include "kernels/common.cuh"
#include "kernels/glm_logp_grad.cuh"
#include "kernels/group_effect_kernels.cuh"
#include "kernels/vector_ops.cuh"

namespace hbglm::detail::cuda {
namespace {

constexpr double infinity = std::numeric_limits<double>::infinity();

/// cuSPARSE SpMV algorithm: CSR_ALG2 is the documented deterministic (bit-wise reproducible)
/// one for a non-transposed CSR matrix; Zᵀr uses Zᵀ's own CSR, so no product is transposed.
constexpr cusparseSpMVAlg_t spmv_algorithm = CUSPARSE_SPMV_CSR_ALG2;

const double* values_of(const device_vector& v) {
  return static_cast<const cuda_vector&>(v).values.get();
}
double* values_of(device_vector& v) { return static_cast<cuda_vector&>(v).values.get(); }

int as_int(std::size_t n, const char* what) {
  if (n > static_cast<std::size_t>(INT_MAX)) {
    throw backend_error(std::string("the CUDA backend supports at most 2^31 - 1 ") + what +
                        ", not " + std::to_string(n));
  }
  return static_cast<int>(n);
}

std::size_t spmv_buffer_size(cusparseHandle_t handle, cusparseConstSpMatDescr_t a,
                             cusparseDnVecDescr_t x, cusparseDnVecDescr_t y) {
  const double one = 1.0;
  std::size_t bytes = 0;
  HBGLM_CUDA_CHECK(cusparseSpMV_bufferSize(handle, CUSPARSE_OPERATION_NON_TRANSPOSE, &one, a, x,
                                           &one, y, CUDA_R_64F, spmv_algorithm, &bytes));
  return bytes;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// cuSPARSE descriptors

sparse_matrix_descr::sparse_matrix_descr(std::size_t rows, std::size_t cols, std::size_t nnz,
                                         const std::int32_t* row_ptr, const std::int32_t* col_idx,
                                         const double* values) {
  HBGLM_CUDA_CHECK(cusparseCreateConstCsr(
      &descr_, static_cast<std::int64_t>(rows), static_cast<std::int64_t>(cols),
      static_cast<std::int64_t>(nnz), row_ptr, col_idx, values, CUSPARSE_INDEX_32I,
      CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO, CUDA_R_64F));
}

sparse_matrix_descr::~sparse_matrix_descr() {
  if (descr_ != nullptr) cusparseDestroySpMat(descr_);
}

dense_vector_descr::dense_vector_descr(std::size_t n, double* values) {
  HBGLM_CUDA_CHECK(
      cusparseCreateDnVec(&descr_, static_cast<std::int64_t>(n), values, CUDA_R_64F));
}

dense_vector_descr::~dense_vector_descr() {
  if (descr_ != nullptr) cusparseDestroyDnVec(descr_);
}

// ---------------------------------------------------------------------------------------------

void pack_params(const model_layout& l, const global_values& values, double* params) {
  std::copy(values.beta.begin(), values.beta.end(), params);
  std::copy(values.sd.begin(), values.sd.end(), params + l.n_coefs);
  std::copy(values.level_means.begin(), values.level_means.end(), params + l.n_coefs + l.n_sd);
  for (std::size_t t = 0; t < l.terms.size(); ++t) {
    std::copy(values.chol_corr[t].begin(), values.chol_corr[t].end(),
              params + l.terms[t].chol_offset);
  }
}

double assemble_sums(const model& m, const model_layout& l, const double* sums,
                     const global_values& values, global_gradients& grads, double lp) {
  const std::size_t n = l.n_obs, p = l.n_coefs;
  const double log_lik = sums[p], sq_residual = sums[p + 1];
  lp += log_lik;
  grads.sigma = 0.0;
  if (m.has_sigma()) {
    // log p has -n log sigma beyond the per-observation part; d/dsigma = (Σ z² - n) / sigma.
    lp -= static_cast<double>(n) * std::log(values.sigma);
    grads.sigma = (sq_residual - static_cast<double>(n)) / values.sigma;
  }
  if (!std::isfinite(lp)) return -infinity;
  grads.beta.assign(sums, sums + p);
  grads.sd.assign(values.sd.size(), 0.0);
  grads.level_means.assign(values.sd.size(), 0.0);
  grads.chol_corr.resize(l.terms.size());
  const double* seg = sums + p + 2;
  double sum_zz = 0.0;
  for (std::size_t t = 0; t < l.terms.size(); ++t) {
    const kernels::group_term_desc& term = l.terms[t];
    const auto k = static_cast<std::size_t>(term.k);
    const std::size_t sd0 = static_cast<std::size_t>(term.sd_offset) - p;
    sum_zz += seg[0];
    for (std::size_t a = 0; a < k; ++a) grads.sd[sd0 + a] += seg[1 + a];
    grads.chol_corr[t].assign(k * k, 0.0);
    if (term.correlated) std::copy(seg + 1 + k, seg + 1 + k + k * k, grads.chol_corr[t].begin());
    if (term.n_centered > 0) {
      const double* g_mean = seg + 1 + k + (term.correlated ? k * k : 0);
      std::copy(g_mean, g_mean + k, grads.level_means.begin() + static_cast<std::ptrdiff_t>(sd0));
    }
    // Absorbed coefficients: Σ_j x_aj ∂/∂mean_j, beside the data's Xᵀr that it cancels.
    for (std::int32_t s = 0; s < term.n_absorbed; ++s) {
      const auto& a = l.absorbed[static_cast<std::size_t>(term.absorbed_begin + s)];
      if (a.coefficient < 0) continue;
      grads.beta[static_cast<std::size_t>(a.coefficient)] += seg[a.scratch_column];
    }
    seg += term.n_cols;
  }
  return lp - 0.5 * sum_zz;
}

std::size_t per_chain_bytes(const model_layout& l) {
  const std::size_t n_seg = l.segments.size();
  std::size_t doubles = 2 * l.n_obs + 2 * l.n_u + l.n_scratch;           // eta, r, u, g_u, scratch
  doubles += 2 * static_cast<std::size_t>(kernels::grid_size_for(l.n_obs));  // likelihood partials
  doubles += n_seg * kernels::segment_chunks + l.n_params + l.n_coefs + 2 + n_seg;
  doubles += static_cast<std::size_t>(kernels::dot_partials(l.dim)) + 1;
  // Inverse metric: the diagonal, and a dense block over the globals (dense_diag) with its
  // factor and scratch; a fully dense metric is for small models only.
  doubles += l.dim + 2 * l.n_globals * l.n_globals + l.n_globals;
  doubles += n_sampler_vectors * l.dim;
  // cuSPARSE SpMV buffers (merge-path bookkeeping, proportional to the rows at most), cuBLAS's
  // workspace (32 MiB on Hopper), and slack for the stream and handles.
  const std::size_t spmv = 8 * (l.n_obs + l.n_u) + 2 * 1024 * 1024;
  const std::size_t fixed = std::size_t{96} * 1024 * 1024;
  return 8 * doubles + spmv + fixed;
}

cuda_glm_backend::cuda_glm_backend(std::shared_ptr<const model> m)
    : model_(std::move(m)),
      data_(cuda_model_data::get(model_)),
      layout_(data_->layout()),
      dim_(layout_.dim) {
  const model_layout& l = layout_;
  as_int(l.n_obs, "observations");
  as_int(l.n_coefs, "population-level coefficients");
  as_int(l.n_u, "group-level coefficients");
  as_int(l.segments.size(), "scratch segments");
  if (l.segments.size() > 65535) {
    throw backend_error("the CUDA backend supports at most 65535 group-level scratch columns");
  }

  eta_ = device_buffer<double>(l.n_obs);
  r_ = device_buffer<double>(l.n_obs);
  u_ = device_buffer<double>(l.n_u);
  g_u_ = device_buffer<double>(l.n_u);
  scratch_ = device_buffer<double>(l.n_scratch);
  likelihood_partials_ =
      device_buffer<double>(2 * static_cast<std::size_t>(kernels::grid_size_for(l.n_obs)));
  segment_partials_ = device_buffer<double>(l.segments.size() * kernels::segment_chunks);
  params_ = device_buffer<double>(std::max<std::size_t>(l.n_params, 1));
  sums_ = device_buffer<double>(l.n_coefs + 2 + l.segments.size());
  dot_partials_ = device_buffer<double>(static_cast<std::size_t>(kernels::dot_partials(dim_)));
  dot_out_ = device_buffer<double>(1);

  q_globals_host_ = pinned_buffer<double>(std::max<std::size_t>(l.n_globals, 1));
  grad_globals_host_ = pinned_buffer<double>(std::max<std::size_t>(l.n_globals, 1));
  params_host_ = pinned_buffer<double>(std::max<std::size_t>(l.n_params, 1));
  sums_host_ = pinned_buffer<double>(l.n_coefs + 2 + l.segments.size());
  dot_host_ = pinned_buffer<double>(1);

  if (l.n_obs > 0 && l.n_u > 0) {
    z_descr_.emplace(l.n_obs, l.n_u, l.nnz, data_->z_row_ptr(), data_->z_col_idx(),
                     data_->z_values());
    zt_descr_.emplace(l.n_u, l.n_obs, l.nnz, data_->zt_row_ptr(), data_->zt_col_idx(),
                      data_->zt_values());
    u_descr_.emplace(l.n_u, u_.get());
    eta_descr_.emplace(l.n_obs, eta_.get());
    r_descr_.emplace(l.n_obs, r_.get());
    g_u_descr_.emplace(l.n_u, g_u_.get());
    spmv_z_buffer_ = device_buffer<unsigned char>(std::max<std::size_t>(
        spmv_buffer_size(ctx_.cusparse(), z_descr_->get(), u_descr_->get(), eta_descr_->get()),
        1));
    spmv_zt_buffer_ = device_buffer<unsigned char>(std::max<std::size_t>(
        spmv_buffer_size(ctx_.cusparse(), zt_descr_->get(), r_descr_->get(), g_u_descr_->get()),
        1));
  }
  set_inv_metric(inv_metric::identity(dim_, 0));
}

cuda_glm_backend::~cuda_glm_backend() {
  // Let queued work finish before the buffers it uses are freed; errors are moot here.
  cudaStreamSynchronize(ctx_.stream());
}

std::unique_ptr<device_vector> cuda_glm_backend::make_vector() {
  auto v = std::make_unique<cuda_vector>(dim_);
  if (dim_ > 0) {
    HBGLM_CUDA_CHECK(cudaMemsetAsync(v->values.get(), 0, dim_ * sizeof(double), ctx_.stream()));
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// log density and gradient: host/backend/cpu/glm_cpu_density.cpp step by step.

double cuda_glm_backend::log_density_grad(const device_vector& q, device_vector& grad) {
  // Stan's base_hamiltonian: a domain error or a non-finite value is an infinite potential.
  ++n_evaluations_;
  double lp;
  try {
    lp = evaluate(values_of(q), values_of(grad));
  } catch (const std::domain_error&) {
    return reject(values_of(grad));
  }
  if (!std::isfinite(lp)) return reject(values_of(grad));
  return lp;
}

double cuda_glm_backend::reject(double* grad) {
  if (dim_ > 0) {
    HBGLM_CUDA_CHECK(cudaMemsetAsync(grad, 0, dim_ * sizeof(double), ctx_.stream()));
  }
  return -infinity;
}

double cuda_glm_backend::evaluate(const double* q, double* grad) {
  const model& m = *model_;
  const model_layout& l = layout_;
  const cudaStream_t s = ctx_.stream();
  const std::size_t n = l.n_obs, p = l.n_coefs, n_globals = l.n_globals;
  const std::size_t n_seg = l.segments.size();

  // The globals on the host (a few hundred doubles at most): priors and transforms.
  if (n_globals > 0) {
    HBGLM_CUDA_CHECK(cudaMemcpyAsync(q_globals_host_.get(), q, n_globals * sizeof(double),
                                     cudaMemcpyDeviceToHost, s));
    ctx_.synchronize();
  }
  const double* q_host = q_globals_host_.get();
  m.globals_forward(q_host, values_);
  double lp = values_.log_prior_jacobian + m.log_density_constant();
  if (!std::isfinite(lp)) return -infinity;

  // beta, sd and the Cholesky factors to the device, packed as model_layout says.
  double* params = params_host_.get();
  pack_params(l, values_, params);
  if (l.n_params > 0) {
    HBGLM_CUDA_CHECK(cudaMemcpyAsync(params_.get(), params, l.n_params * sizeof(double),
                                     cudaMemcpyHostToDevice, s));
  }

  // u_t[j] = diag(sd_t) L_t z_t[j] (centered: q less the level's mean)
  const int n_terms = static_cast<int>(l.terms.size());
  const auto n_levels = static_cast<std::int64_t>(l.n_levels);
  kernels::launch_group_forward(data_->terms(), n_terms, n_levels, params_.get(),
                                data_->absorbed(), data_->absorbed_values(), q, u_.get(), s);
  HBGLM_CUDA_CHECK_LAUNCH();

  double* sums = sums_.get();  // [Xᵀr (p) | Σ log p, Σ sq | segment sums]
  const double one = 1.0, zero = 0.0;
  if (n > 0) {
    // η = Xβ + Zu + offset
    double beta_coef = 0.0;
    if (data_->offset() != nullptr) {
      HBGLM_CUDA_CHECK(cudaMemcpyAsync(eta_.get(), data_->offset(), n * sizeof(double),
                                       cudaMemcpyDeviceToDevice, s));
      beta_coef = 1.0;
    }
    if (p > 0) {
      HBGLM_CUDA_CHECK(cublasDgemv(ctx_.cublas(), CUBLAS_OP_N, static_cast<int>(n),
                                   static_cast<int>(p), &one, data_->x(), static_cast<int>(n),
                                   params_.get(), 1, &beta_coef, eta_.get(), 1));
    } else if (data_->offset() == nullptr) {
      HBGLM_CUDA_CHECK(cudaMemsetAsync(eta_.get(), 0, n * sizeof(double), s));
    }
    if (l.n_u > 0) {
      HBGLM_CUDA_CHECK(cusparseSpMV(ctx_.cusparse(), CUSPARSE_OPERATION_NON_TRANSPOSE, &one,
                                    z_descr_->get(), u_descr_->get(), &one, eta_descr_->get(),
                                    CUDA_R_64F, spmv_algorithm, spmv_z_buffer_.get()));
    }

    // The likelihood: r = d log p / dη, Σ log p, Σ sq (fused kernel, fixed-order reduction).
    kernels::glm_likelihood_args args;
    args.family = data_->family();
    args.n = n;
    args.y = data_->y();
    args.eta = eta_.get();
    args.trials = data_->trials();  // null when the design has none, as the CPU's empty()
    args.se = data_->se();
    args.sigma = values_.sigma;
    args.r = r_.get();
    args.block_partials = likelihood_partials_.get();
    args.sums = sums + p;
    kernels::launch_glm_likelihood(args, s);
    HBGLM_CUDA_CHECK_LAUNCH();

    // ∇β = Xᵀr (into the sums, to the host); ∇u = Zᵀr with Zᵀ's own CSR (no transposed SpMV).
    if (p > 0) {
      HBGLM_CUDA_CHECK(cublasDgemv(ctx_.cublas(), CUBLAS_OP_T, static_cast<int>(n),
                                   static_cast<int>(p), &one, data_->x(), static_cast<int>(n),
                                   r_.get(), 1, &zero, sums, 1));
    }
    if (l.n_u > 0) {
      // y = 1·Zᵀr + 1·0: g_u is cleared so a NaN left from an earlier evaluation cannot leak in.
      HBGLM_CUDA_CHECK(cudaMemsetAsync(g_u_.get(), 0, l.n_u * sizeof(double), s));
      HBGLM_CUDA_CHECK(cusparseSpMV(ctx_.cusparse(), CUSPARSE_OPERATION_NON_TRANSPOSE, &one,
                                    zt_descr_->get(), r_descr_->get(), &one, g_u_descr_->get(),
                                    CUDA_R_64F, spmv_algorithm, spmv_zt_buffer_.get()));
    }
  } else {
    HBGLM_CUDA_CHECK(cudaMemsetAsync(sums, 0, (p + 2) * sizeof(double), s));
    if (l.n_u > 0) HBGLM_CUDA_CHECK(cudaMemsetAsync(g_u_.get(), 0, l.n_u * sizeof(double), s));
  }

  // Chain rule to z (written into grad's z part), and per-level contributions to ∂/∂sd, ∂/∂L
  // and Σ z², summed over levels in a fixed order.
  kernels::launch_group_backward(data_->terms(), n_terms, n_levels, params_.get(),
                                 data_->absorbed(), data_->absorbed_values(), u_.get(), q,
                                 g_u_.get(), grad, scratch_.get(), s);
  HBGLM_CUDA_CHECK_LAUNCH();
  kernels::launch_segment_sums(data_->segments(), static_cast<int>(n_seg), scratch_.get(),
                               segment_partials_.get(), sums + p + 2, s);
  HBGLM_CUDA_CHECK_LAUNCH();

  const std::size_t n_sums = p + 2 + n_seg;
  HBGLM_CUDA_CHECK(cudaMemcpyAsync(sums_host_.get(), sums, n_sums * sizeof(double),
                                   cudaMemcpyDeviceToHost, s));
  ctx_.synchronize();

  // Assemble on the host, in glm_cpu_density's order.
  lp = assemble_sums(m, l, sums_host_.get(), values_, grads_, lp);
  if (!std::isfinite(lp)) return -infinity;

  double* g_globals = grad_globals_host_.get();
  std::fill(g_globals, g_globals + std::max<std::size_t>(n_globals, 1), 0.0);
  m.globals_backward(q_host, values_, grads_, g_globals);
  if (n_globals > 0) {
    HBGLM_CUDA_CHECK(cudaMemcpyAsync(grad, g_globals, n_globals * sizeof(double),
                                     cudaMemcpyHostToDevice, s));
  }
  return lp;
}

// ---------------------------------------------------------------------------------------------
// The inverse metric

void cuda_glm_backend::set_inv_metric(const inv_metric& m) {
  // The same checks and messages as cpu_backend::set_inv_metric.
  if (m.n_dense > dim_ || m.dense.size() != m.n_dense * m.n_dense ||
      m.diag.size() != dim_ - m.n_dense) {
    throw backend_error("inverse metric sizes do not match the model dimension " +
                        std::to_string(dim_));
  }
  for (double v : m.diag) {
    if (!(v > 0.0) || !std::isfinite(v)) {
      throw backend_error("inverse metric has a non-positive or non-finite diagonal entry");
    }
  }
  std::vector<double> upper;
  if (m.n_dense > 0) {
    as_int(m.n_dense, "dense metric rows");
    const auto nd = static_cast<Eigen::Index>(m.n_dense);
    Eigen::Map<const Eigen::MatrixXd> dense(m.dense.data(), nd, nd);
    Eigen::LLT<Eigen::MatrixXd> llt(dense);
    if (llt.info() != Eigen::Success) {
      throw backend_error("inverse metric dense block is not positive definite");
    }
    // The same factor as the CPU backend (Eigen's LLT), so momenta agree to rounding.
    Eigen::MatrixXd u = llt.matrixU();
    upper.assign(u.data(), u.data() + u.size());
  }
  // Let work that reads the old metric finish before its buffers are replaced.
  ctx_.synchronize();
  n_dense_ = m.n_dense;
  metric_diag_ = device_buffer<double>(m.diag);
  metric_dense_ = device_buffer<double>(m.dense);
  metric_upper_ = device_buffer<double>(upper);
  p_sharp_dense_ = device_buffer<double>(n_dense_);
}

void cuda_glm_backend::apply_inv_metric(const device_vector& p, device_vector& p_sharp) {
  const double* in = values_of(p);
  double* out = values_of(p_sharp);
  const std::size_t nd = n_dense_;
  if (nd > 0) {
    const double one = 1.0, zero = 0.0;
    const int n = static_cast<int>(nd);
    HBGLM_CUDA_CHECK(cublasDgemv(ctx_.cublas(), CUBLAS_OP_N, n, n, &one, metric_dense_.get(), n,
                                 in, 1, &zero, out, 1));
  }
  kernels::launch_scale(dim_ - nd, metric_diag_.get(), in + nd, out + nd, stream());
  HBGLM_CUDA_CHECK_LAUNCH();
}

double cuda_glm_backend::inv_metric_dot(const device_vector& a, const device_vector& b) {
  if (dim_ == 0) return 0.0;
  const double* av = values_of(a);
  const std::size_t nd = n_dense_;
  if (nd > 0) {
    // The dense block's M⁻¹a as apply_inv_metric forms it; p_sharp_dense_ is free between
    // leapfrog steps.
    const double one = 1.0, zero = 0.0;
    const int n = static_cast<int>(nd);
    HBGLM_CUDA_CHECK(cublasDgemv(ctx_.cublas(), CUBLAS_OP_N, n, n, &one, metric_dense_.get(), n,
                                 av, 1, &zero, p_sharp_dense_.get(), 1));
  }
  kernels::launch_inv_metric_dot(dim_, nd, p_sharp_dense_.get(), metric_diag_.get(), av,
                                 values_of(b), dot_partials_.get(), dot_out_.get(), stream());
  HBGLM_CUDA_CHECK_LAUNCH();
  return read_dot_out();
}

void cuda_glm_backend::draw_momentum(std::uint64_t seed, std::uint64_t chain,
                                     std::uint64_t counter, device_vector& p) {
  double* out = values_of(p);
  // The same chain key as cpu_backend::draw_momentum (the low 32 bits).
  kernels::launch_draw_momentum(dim_, n_dense_, seed, static_cast<std::uint32_t>(chain), counter,
                                metric_diag_.get(), out, stream());
  HBGLM_CUDA_CHECK_LAUNCH();
  if (n_dense_ > 0) {
    // Dense block: p = U⁻¹z with inverse metric = UᵀU (Stan's dense_e_metric::sample_p).
    const int n = static_cast<int>(n_dense_);
    HBGLM_CUDA_CHECK(cublasDtrsv(ctx_.cublas(), CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_N,
                                 CUBLAS_DIAG_NON_UNIT, n, metric_upper_.get(), n, out, 1));
  }
}

double cuda_glm_backend::leapfrog(double eps, device_vector& q, device_vector& p,
                                  device_vector& grad) {
  // cpu_backend::leapfrog: p += eps/2 ∇; q += eps M⁻¹p; ∇ and log p at q; p += eps/2 ∇.
  double* qv = values_of(q);
  double* pv = values_of(p);
  double* gv = values_of(grad);
  const double half_eps = 0.5 * eps;
  const std::size_t nd = n_dense_;
  kernels::launch_kick_drift(dim_, nd, half_eps, eps, gv, metric_diag_.get(), pv, qv, stream());
  HBGLM_CUDA_CHECK_LAUNCH();
  if (nd > 0) {
    const double one = 1.0, zero = 0.0;
    const int n = static_cast<int>(nd);
    HBGLM_CUDA_CHECK(cublasDgemv(ctx_.cublas(), CUBLAS_OP_N, n, n, &one, metric_dense_.get(), n,
                                 pv, 1, &zero, p_sharp_dense_.get(), 1));
    kernels::launch_drift(nd, eps, p_sharp_dense_.get(), qv, stream());
    HBGLM_CUDA_CHECK_LAUNCH();
  }
  const double lp = log_density_grad(q, grad);
  kernels::launch_kick(dim_, half_eps, gv, pv, stream());
  HBGLM_CUDA_CHECK_LAUNCH();
  return lp;
}

// ---------------------------------------------------------------------------------------------
// Vector operations

double cuda_glm_backend::read_dot_out() {
  HBGLM_CUDA_CHECK(cudaMemcpyAsync(dot_host_.get(), dot_out_.get(), sizeof(double),
                                   cudaMemcpyDeviceToHost, ctx_.stream()));
  ctx_.synchronize();
  return dot_host_[0];
}

double cuda_glm_backend::dot(const device_vector& a, const device_vector& b) {
  if (dim_ == 0) return 0.0;
  kernels::launch_dot(dim_, values_of(a), values_of(b), dot_partials_.get(), dot_out_.get(),
                      stream());
  HBGLM_CUDA_CHECK_LAUNCH();
  return read_dot_out();
}

void cuda_glm_backend::copy(const device_vector& src, device_vector& dst) {
  if (dim_ == 0 || &src == &dst) return;
  HBGLM_CUDA_CHECK(cudaMemcpyAsync(values_of(dst), values_of(src), dim_ * sizeof(double),
                                   cudaMemcpyDeviceToDevice, ctx_.stream()));
}

void cuda_glm_backend::axpy(double a, const device_vector& x, device_vector& y) {
  kernels::launch_axpy(dim_, a, values_of(x), values_of(y), stream());
  HBGLM_CUDA_CHECK_LAUNCH();
}

void cuda_glm_backend::add(const device_vector& a, const device_vector& b, device_vector& dst) {
  kernels::launch_add(dim_, values_of(a), values_of(b), values_of(dst), stream());
  HBGLM_CUDA_CHECK_LAUNCH();
}

void cuda_glm_backend::copy_to_host(const device_vector& v, double* out) {
  if (dim_ == 0) return;
  HBGLM_CUDA_CHECK(cudaMemcpyAsync(out, values_of(v), dim_ * sizeof(double),
                                   cudaMemcpyDeviceToHost, ctx_.stream()));
  ctx_.synchronize();
}

void cuda_glm_backend::copy_from_host(const double* in, device_vector& v) {
  if (dim_ == 0) return;
  HBGLM_CUDA_CHECK(cudaMemcpyAsync(values_of(v), in, dim_ * sizeof(double),
                                   cudaMemcpyHostToDevice, ctx_.stream()));
  // The caller may reuse @p in on return: wait for the copy (pageable memory is staged, but
  // waiting makes that independent of the driver's staging rules).
  ctx_.synchronize();
}

}  // namespace hbglm::detail::cuda
