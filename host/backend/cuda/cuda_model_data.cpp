#include "backend/cuda/cuda_model_data.hpp"

#include <algorithm>
#include <mutex>
#include <string>

#include "hbglm/error.hpp"

namespace hbglm::detail::cuda {
namespace {

kernels::glm_family_id family_id(family f) {
  switch (f) {
    case family::gaussian: return kernels::glm_family_id::gaussian_identity;
    case family::bernoulli: return kernels::glm_family_id::bernoulli_logit;
    case family::binomial: return kernels::glm_family_id::binomial_logit;
    case family::poisson: return kernels::glm_family_id::poisson_log;
  }
  return kernels::glm_family_id::gaussian_identity;
}

/// One cached upload: the model it belongs to and the data, both weakly held, so the cache never
/// keeps a model or its device memory alive (the backends do).
struct cache_entry {
  std::weak_ptr<const model> owner;
  std::weak_ptr<const cuda_model_data> data;
};

std::mutex& cache_mutex() {
  static std::mutex m;
  return m;
}

std::vector<cache_entry>& cache() {
  static std::vector<cache_entry> entries;
  return entries;
}

/// The live cached data of @p m, or null. Caller holds the cache mutex.
std::shared_ptr<const cuda_model_data> find_locked(const std::shared_ptr<const model>& m) {
  auto& entries = cache();
  entries.erase(std::remove_if(entries.begin(), entries.end(),
                               [](const cache_entry& e) { return e.data.expired(); }),
                entries.end());
  for (const auto& e : entries) {
    // Compare owners, not raw addresses: an expired model's address may be reused.
    if (e.owner.lock() == m) {
      if (auto data = e.data.lock()) return data;
    }
  }
  return nullptr;
}

template <class T>
device_buffer<T> upload(const std::vector<T>& host) {
  return device_buffer<T>(host);
}

}  // namespace

model_layout make_layout(const model& m) {
  const design& d = m.data();
  model_layout l;
  l.n_obs = d.n_obs;
  l.n_coefs = d.n_coefs();
  l.n_u = d.n_u;
  l.nnz = d.Z.n_nonzeros();
  l.dim = m.dim();
  l.n_globals = m.n_globals();
  const auto& terms = m.terms();
  for (const auto& t : terms) l.n_sd += t.k;

  // params: beta (p), sd (n_sd), level means (n_sd, laid out as the sds), Cholesky factors.
  std::size_t chol_offset = l.n_coefs + 2 * l.n_sd;
  std::size_t level_begin = 0, scratch_offset = 0;
  for (std::size_t t = 0; t < terms.size(); ++t) {
    const term_parameters& tp = terms[t];
    const random_block& block = d.terms[t];
    kernels::group_term_desc desc;
    desc.n_levels = static_cast<std::int64_t>(block.n_levels);
    desc.level_begin = static_cast<std::int64_t>(level_begin);
    desc.z_index = static_cast<std::int64_t>(tp.z_q_index);
    desc.u_offset = static_cast<std::int64_t>(block.u_offset);
    desc.sd_offset = static_cast<std::int64_t>(l.n_coefs + (tp.first_sd - l.n_coefs));
    desc.chol_offset = static_cast<std::int64_t>(chol_offset);
    desc.mean_offset = static_cast<std::int64_t>(l.n_coefs + l.n_sd + (tp.first_sd - l.n_coefs));
    desc.scratch_offset = static_cast<std::int64_t>(scratch_offset);
    desc.k = static_cast<std::int32_t>(tp.k);
    desc.correlated = tp.correlated ? 1 : 0;
    desc.n_centered = static_cast<std::int32_t>(tp.n_centered);
    desc.n_cols = static_cast<std::int32_t>(1 + tp.k + (tp.correlated ? tp.k * tp.k : 0) +
                                            (tp.centered() ? tp.k : 0));
    desc.n_absorbed =
        static_cast<std::int32_t>(tp.absorbed.size() + tp.absorbed_coefficients.size());
    desc.absorbed_begin = static_cast<std::int32_t>(l.absorbed.size());
    for (const auto& slope : tp.absorbed) {
      kernels::absorbed_desc a;
      a.u_offset = static_cast<std::int64_t>(d.terms[slope.term].u_offset);
      a.values_offset = static_cast<std::int64_t>(l.absorbed_values.size());
      l.absorbed.push_back(a);
      l.absorbed_values.insert(l.absorbed_values.end(), slope.level_values.begin(),
                               slope.level_values.end());
    }
    // Coefficients: b_a is params[a] (beta comes first in params); one scratch column each.
    for (const auto& coefficient : tp.absorbed_coefficients) {
      kernels::absorbed_desc a;
      a.values_offset = static_cast<std::int64_t>(l.absorbed_values.size());
      a.coefficient = static_cast<std::int64_t>(coefficient.coefficient);
      a.scratch_column = desc.n_cols++;
      l.absorbed.push_back(a);
      l.absorbed_values.insert(l.absorbed_values.end(), coefficient.level_values.begin(),
                               coefficient.level_values.end());
    }
    for (std::int32_t c = 0; c < desc.n_cols; ++c) {
      kernels::segment_desc s;
      s.offset = desc.scratch_offset + c;
      s.stride = desc.n_cols;
      s.count = desc.n_levels;
      s.out_index = static_cast<std::int64_t>(l.segments.size());
      l.segments.push_back(s);
    }
    l.terms.push_back(desc);
    chol_offset += tp.k * tp.k;
    level_begin += block.n_levels;
    scratch_offset += block.n_levels * static_cast<std::size_t>(desc.n_cols);
  }
  l.n_levels = level_begin;
  l.n_params = chol_offset;
  l.n_scratch = scratch_offset;
  return l;
}

std::size_t shared_data_bytes(const model_layout& l, const design& d) {
  std::size_t bytes = 8 * (d.X.size() + d.y.size() + d.trials.size() + d.se.size() +
                           d.offset.size());
  // Z and its transpose (uploaded beside it): the same entries, n_u + 1 row offsets.
  bytes += 4 * (d.Z.row_ptr.size() + d.Z.col_idx.size() + (d.n_u + 1) + d.Z.col_idx.size());
  bytes += 8 * (2 * d.Z.values.size());
  bytes += sizeof(kernels::group_term_desc) * l.terms.size();
  bytes += sizeof(kernels::segment_desc) * l.segments.size();
  bytes += sizeof(kernels::absorbed_desc) * l.absorbed.size() +
           sizeof(double) * l.absorbed_values.size();
  return bytes;
}

cuda_model_data::cuda_model_data(std::shared_ptr<const model> m)
    : model_(std::move(m)), layout_(make_layout(*model_)), family_(family_id(model_->data().family)) {
  const design& d = model_->data();
  // transpose(Z) indexes by column: the entries must be where the row offsets say and in range.
  const csr_matrix& z = d.Z;
  const bool z_ok =
      d.n_u == 0 ||
      (z.row_ptr.size() == d.n_obs + 1 && z.n_cols == d.n_u &&
       static_cast<std::size_t>(z.row_ptr.back()) == z.col_idx.size() &&
       z.values.size() == z.col_idx.size() &&
       std::all_of(z.col_idx.begin(), z.col_idx.end(), [&](std::int32_t c) {
         return c >= 0 && static_cast<std::size_t>(c) < d.n_u;
       }));
  if (d.X.size() != d.n_obs * d.n_coefs() || d.y.size() != d.n_obs || !z_ok) {
    throw backend_error("the design's arrays do not have the sizes its counts say (n_obs " +
                        std::to_string(d.n_obs) + ", p " + std::to_string(d.n_coefs()) +
                        ", n_u " + std::to_string(d.n_u) + ")");
  }
  x_ = upload(d.X);
  y_ = upload(d.y);
  trials_ = upload(d.trials);
  se_ = upload(d.se);
  offset_ = upload(d.offset);
  z_row_ptr_ = upload(d.Z.row_ptr);
  z_col_idx_ = upload(d.Z.col_idx);
  z_values_ = upload(d.Z.values);
  {
    // The device gathers ∇u = Zᵀr along the rows of Zᵀ (a scatter would need atomics, whose
    // order, and so whose sums, vary from run to run). The host design does not keep Zᵀ; it is
    // formed here and freed once uploaded.
    const csr_matrix zt = transpose(d.Z);
    zt_row_ptr_ = upload(zt.row_ptr);
    zt_col_idx_ = upload(zt.col_idx);
    zt_values_ = upload(zt.values);
  }
  terms_ = upload(layout_.terms);
  segments_ = upload(layout_.segments);
  absorbed_ = upload(layout_.absorbed);
  absorbed_values_ = upload(layout_.absorbed_values);
}

std::shared_ptr<const cuda_model_data> cuda_model_data::get(const std::shared_ptr<const model>& m) {
  std::lock_guard<std::mutex> lock(cache_mutex());
  if (auto data = find_locked(m)) return data;
  // Uploading under the lock: a second chain of the same model waits for this upload and then
  // shares it instead of making its own.
  auto data = std::make_shared<const cuda_model_data>(m);
  cache().push_back({m, data});
  return data;
}

bool cuda_model_data::cached(const std::shared_ptr<const model>& m) {
  std::lock_guard<std::mutex> lock(cache_mutex());
  return find_locked(m) != nullptr;
}

}  // namespace hbglm::detail::cuda
