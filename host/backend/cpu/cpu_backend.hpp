#pragma once
/** @file The CPU backend: the reference every other backend is tested against. Double precision,
 *  Eigen for the vector algebra. It evaluates any log_density_function, so the sampler's tests can
 *  run it on mock and closed-form densities as well as on GLM models. */

#include <cstddef>
#include <memory>
#include <vector>

#include "backend/backend.hpp"

namespace hbglm::detail {

/** A log density on R^dim with its gradient, evaluated on the host. */
class log_density_function {
 public:
  virtual ~log_density_function() = default;
  virtual std::size_t dim() const noexcept = 0;
  /** log p(q) up to a constant, gradient into @p grad (both length dim()). May return a
   *  non-finite value or throw std::domain_error; the backend turns both into -infinity. */
  virtual double log_density_grad(const double* q, double* grad) const = 0;
};

/** A vector in host memory. */
class cpu_vector final : public device_vector {
 public:
  explicit cpu_vector(std::size_t n) : values(n, 0.0) {}
  std::size_t size() const noexcept override { return values.size(); }
  std::vector<double> values;
};

/** The CPU implementation of the backend seam. */
class cpu_backend final : public backend {
 public:
  /** @param[in] density this backend's own: an evaluation writes the density's scratch
   *  (glm_cpu_density holds η, Zᵀr and the chunks' sums), so one density serves one chain at a
   *  time, never two chains' backends at once. */
  explicit cpu_backend(std::shared_ptr<const log_density_function> density);

  backend_kind kind() const noexcept override { return backend_kind::cpu; }
  backend_caps caps() const noexcept override { return {true, false}; }
  std::size_t dim() const noexcept override { return dim_; }
  std::unique_ptr<device_vector> make_vector() override;
  double log_density_grad(const device_vector& q, device_vector& grad) override;
  void set_inv_metric(const inv_metric& m) override;
  void apply_inv_metric(const device_vector& p, device_vector& p_sharp) override;
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
  std::shared_ptr<const log_density_function> density_;
  std::size_t dim_;
  inv_metric inv_metric_;
  std::vector<double> dense_upper_cholesky_;  ///< U with inv_metric dense block = UᵀU
  std::size_t n_evaluations_ = 0;
  cpu_vector p_sharp_scratch_;                ///< M⁻¹p inside leapfrog and inv_metric_dot
};

}  // namespace hbglm::detail
