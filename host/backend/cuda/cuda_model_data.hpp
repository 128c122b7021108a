#pragma once
/** @file A model's data on the device, uploaded once and shared read-only by every chain's CUDA
 *  backend (ARCHITECTURE §5): X (column-major), y, trials, se, offset, Z and Zᵀ (CSR, 32-bit
 *  indices), and the group-term table the group-effect kernels read. */

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "backend/cuda/cuda_context.hpp"
#include "hbglm/model.hpp"
#include "kernels/glm_family.cuh"
#include "kernels/group_effect_kernels.cuh"

namespace hbglm::detail::cuda {

/** Sizes derived from a model, shared by the memory estimate and the backend. */
struct model_layout {
  std::size_t n_obs = 0;
  std::size_t n_coefs = 0;    ///< p
  std::size_t n_u = 0;        ///< Σ J_t k_t
  std::size_t nnz = 0;        ///< non-zeros of Z (and of Zᵀ)
  std::size_t dim = 0;
  std::size_t n_globals = 0;
  std::size_t n_sd = 0;       ///< Σ k_t
  std::size_t n_levels = 0;   ///< Σ J_t
  /// beta, sd, level means (laid out as the sds), then each term's k×k Cholesky factor
  std::size_t n_params = 0;
  std::size_t n_scratch = 0;  ///< Σ J_t n_cols_t
  std::vector<kernels::group_term_desc> terms;
  std::vector<kernels::segment_desc> segments;  ///< out_index relative to the segment sums
  /// The slopes and coefficients absorbed by centered terms (term_parameters::absorbed,
  /// absorbed_coefficients) and their per-level values; both empty when no term absorbs.
  std::vector<kernels::absorbed_desc> absorbed;
  std::vector<double> absorbed_values;
};

/** The layout of @p m: term descriptors, parameter packing and scratch segments. */
model_layout make_layout(const model& m);

/** Bytes of device memory the shared data of a model takes. */
std::size_t shared_data_bytes(const model_layout& layout, const design& d);

/** The device copy of a model's data. Immutable after construction. */
class cuda_model_data {
 public:
  /** Uploads the data of @p m (synchronous). @throws backend_error when an allocation or a copy
   *  fails. */
  explicit cuda_model_data(std::shared_ptr<const model> m);

  /** The cached upload for @p m, made if there is none alive: all chains' backends of one model
   *  share one copy (the cache holds weak references; thread-safe). */
  static std::shared_ptr<const cuda_model_data> get(const std::shared_ptr<const model>& m);
  /** Whether the data of @p m are on the device now (so a new backend needs no upload). */
  static bool cached(const std::shared_ptr<const model>& m);

  const model& get_model() const noexcept { return *model_; }
  const model_layout& layout() const noexcept { return layout_; }
  kernels::glm_family_id family() const noexcept { return family_; }

  const double* x() const noexcept { return x_.get(); }
  const double* y() const noexcept { return y_.get(); }
  const double* trials() const noexcept { return trials_.empty() ? nullptr : trials_.get(); }
  const double* se() const noexcept { return se_.empty() ? nullptr : se_.get(); }
  const double* offset() const noexcept { return offset_.empty() ? nullptr : offset_.get(); }
  const std::int32_t* z_row_ptr() const noexcept { return z_row_ptr_.get(); }
  const std::int32_t* z_col_idx() const noexcept { return z_col_idx_.get(); }
  const double* z_values() const noexcept { return z_values_.get(); }
  const std::int32_t* zt_row_ptr() const noexcept { return zt_row_ptr_.get(); }
  const std::int32_t* zt_col_idx() const noexcept { return zt_col_idx_.get(); }
  const double* zt_values() const noexcept { return zt_values_.get(); }
  const kernels::group_term_desc* terms() const noexcept { return terms_.get(); }
  const kernels::segment_desc* segments() const noexcept { return segments_.get(); }
  /// null when no term absorbs (the kernels then skip their absorbing pass)
  const kernels::absorbed_desc* absorbed() const noexcept {
    return absorbed_.empty() ? nullptr : absorbed_.get();
  }
  const double* absorbed_values() const noexcept {
    return absorbed_values_.empty() ? nullptr : absorbed_values_.get();
  }

 private:
  std::shared_ptr<const model> model_;
  model_layout layout_;
  kernels::glm_family_id family_;
  device_buffer<double> x_, y_, trials_, se_, offset_;
  device_buffer<std::int32_t> z_row_ptr_, z_col_idx_, zt_row_ptr_, zt_col_idx_;
  device_buffer<double> z_values_, zt_values_;
  device_buffer<kernels::group_term_desc> terms_;
  device_buffer<kernels::segment_desc> segments_;
  device_buffer<kernels::absorbed_desc> absorbed_;
  device_buffer<double> absorbed_values_;
};

}  // namespace hbglm::detail::cuda
