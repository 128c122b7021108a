#include "backend/cpu/cpu_backend.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "hbglm/error.hpp"
#include "kernels/rng.cuh"

namespace hbglm::detail {
namespace {

using vector_map = Eigen::Map<Eigen::VectorXd>;
using const_vector_map = Eigen::Map<const Eigen::VectorXd>;

const std::vector<double>& values_of(const device_vector& v) {
  return static_cast<const cpu_vector&>(v).values;
}
std::vector<double>& values_of(device_vector& v) { return static_cast<cpu_vector&>(v).values; }

}  // namespace

inv_metric inv_metric::identity(std::size_t dim, std::size_t n_dense) {
  inv_metric m;
  m.n_dense = n_dense;
  m.dense.assign(n_dense * n_dense, 0.0);
  for (std::size_t i = 0; i < n_dense; ++i) m.dense[i * n_dense + i] = 1.0;
  m.diag.assign(dim - n_dense, 1.0);
  return m;
}

cpu_backend::cpu_backend(std::shared_ptr<const log_density_function> density)
    : density_(std::move(density)), dim_(density_->dim()), p_sharp_scratch_(dim_) {
  set_inv_metric(inv_metric::identity(dim_, 0));
}

std::unique_ptr<device_vector> cpu_backend::make_vector() {
  return std::make_unique<cpu_vector>(dim_);
}

double cpu_backend::log_density_grad(const device_vector& q, device_vector& grad) {
  // Stan's base_hamiltonian: a domain error or a non-finite value is an infinite potential.
  ++n_evaluations_;
  double lp;
  try {
    lp = density_->log_density_grad(values_of(q).data(), values_of(grad).data());
  } catch (const std::domain_error&) {
    return -std::numeric_limits<double>::infinity();
  }
  if (std::isnan(lp)) return -std::numeric_limits<double>::infinity();
  return lp;
}

void cpu_backend::set_inv_metric(const inv_metric& m) {
  if (m.n_dense > dim_ || m.dense.size() != m.n_dense * m.n_dense ||
      m.diag.size() != dim_ - m.n_dense) {
    throw backend_error("inverse metric sizes do not match the model dimension " +
                        std::to_string(dim_));
  }
  for (double d : m.diag) {
    if (!(d > 0.0) || !std::isfinite(d)) {
      throw backend_error("inverse metric has a non-positive or non-finite diagonal entry");
    }
  }
  dense_upper_cholesky_.clear();
  if (m.n_dense > 0) {
    const auto n = static_cast<Eigen::Index>(m.n_dense);
    Eigen::Map<const Eigen::MatrixXd> dense(m.dense.data(), n, n);
    Eigen::LLT<Eigen::MatrixXd> llt(dense);
    if (llt.info() != Eigen::Success) {
      throw backend_error("inverse metric dense block is not positive definite");
    }
    Eigen::MatrixXd upper = llt.matrixU();
    dense_upper_cholesky_.assign(upper.data(), upper.data() + upper.size());
  }
  inv_metric_ = m;
}

void cpu_backend::apply_inv_metric(const device_vector& p, device_vector& p_sharp) {
  const auto& in = values_of(p);
  auto& out = values_of(p_sharp);
  const std::size_t nd = inv_metric_.n_dense;
  if (nd > 0) {
    const auto n = static_cast<Eigen::Index>(nd);
    Eigen::Map<const Eigen::MatrixXd> dense(inv_metric_.dense.data(), n, n);
    Eigen::Map<Eigen::VectorXd>(out.data(), n).noalias() = dense * const_vector_map(in.data(), n);
  }
  for (std::size_t i = nd; i < dim_; ++i) out[i] = inv_metric_.diag[i - nd] * in[i];
}

double cpu_backend::inv_metric_dot(const device_vector& a, const device_vector& b) {
  // The backend's own scratch: the base class would allocate another vector of length dim.
  apply_inv_metric(a, p_sharp_scratch_);
  return dot(p_sharp_scratch_, b);
}

void cpu_backend::draw_momentum(std::uint64_t seed, std::uint64_t chain, std::uint64_t counter,
                                device_vector& p) {
  auto& out = values_of(p);
  const auto chain32 = static_cast<std::uint32_t>(chain);
  for (std::size_t i = 0; i < dim_; ++i) {
    out[i] = rng::standard_normal(seed, rng::stream::momentum, chain32, counter, i);
  }
  // p ~ N(0, M) with M = inverse of the inverse metric: diagonal p_i = z_i / sqrt(inv_metric_i);
  // dense block p = U⁻¹ z with inv_metric = UᵀU (Stan's dense_e_metric::sample_p).
  const std::size_t nd = inv_metric_.n_dense;
  if (nd > 0) {
    const auto n = static_cast<Eigen::Index>(nd);
    Eigen::Map<const Eigen::MatrixXd> upper(dense_upper_cholesky_.data(), n, n);
    upper.triangularView<Eigen::Upper>().solveInPlace(vector_map(out.data(), n));
  }
  for (std::size_t i = nd; i < dim_; ++i) out[i] /= std::sqrt(inv_metric_.diag[i - nd]);
}

double cpu_backend::leapfrog(double eps, device_vector& q, device_vector& p, device_vector& grad) {
  auto& qv = values_of(q);
  auto& pv = values_of(p);
  auto& gv = values_of(grad);
  for (std::size_t i = 0; i < dim_; ++i) pv[i] += 0.5 * eps * gv[i];
  apply_inv_metric(p, p_sharp_scratch_);
  const auto& p_sharp = p_sharp_scratch_.values;
  for (std::size_t i = 0; i < dim_; ++i) qv[i] += eps * p_sharp[i];
  const double lp = log_density_grad(q, grad);
  for (std::size_t i = 0; i < dim_; ++i) pv[i] += 0.5 * eps * gv[i];
  return lp;
}

double cpu_backend::dot(const device_vector& a, const device_vector& b) {
  return const_vector_map(values_of(a).data(), dim_).dot(const_vector_map(values_of(b).data(), dim_));
}

void cpu_backend::copy(const device_vector& src, device_vector& dst) {
  values_of(dst) = values_of(src);
}

void cpu_backend::axpy(double a, const device_vector& x, device_vector& y) {
  vector_map(values_of(y).data(), dim_) += a * const_vector_map(values_of(x).data(), dim_);
}

void cpu_backend::add(const device_vector& a, const device_vector& b, device_vector& dst) {
  vector_map(values_of(dst).data(), dim_) =
      const_vector_map(values_of(a).data(), dim_) + const_vector_map(values_of(b).data(), dim_);
}

void cpu_backend::copy_to_host(const device_vector& v, double* out) {
  std::copy(values_of(v).begin(), values_of(v).end(), out);
}

void cpu_backend::copy_from_host(const double* in, device_vector& v) {
  std::copy(in, in + dim_, values_of(v).begin());
}

}  // namespace hbglm::detail
