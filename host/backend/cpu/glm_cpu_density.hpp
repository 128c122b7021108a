#pragma once
/** @file The GLM log density and its analytic gradient on the CPU (the reference for every other
 *  backend): η = Xβ + Zu + offset with X dense column-major and Z sparse (CSR; Zᵀr by a scatter
 *  along Z's rows), the per-observation family math of kernels/glm_family.cuh, the group-effect
 *  chain rule of kernels/group_effects.cuh, and the model's priors and transforms. */

#include <memory>
#include <vector>

#include "backend/cpu/cpu_backend.hpp"
#include "hbglm/model.hpp"

namespace hbglm::detail {

/** log p(q | y) + gradient for a model. Holds scratch buffers: one instance per chain. */
class glm_cpu_density final : public log_density_function {
 public:
  explicit glm_cpu_density(std::shared_ptr<const model> m);
  std::size_t dim() const noexcept override { return model_->dim(); }
  double log_density_grad(const double* q, double* grad) const override;

 private:
  std::shared_ptr<const model> model_;
  /// η, overwritten by r = d log p / d η in the observation pass (one vector of n, not two).
  mutable std::vector<double> eta_r_;
  mutable std::vector<double> u_, g_u_;
  /// The length of every row of Z when they are all alike (the usual case: one entry per
  /// coefficient of each group-level term), else 0 (observation_pass).
  std::size_t row_length_ = 0;
  /// Every value of Z is 1 (only varying intercepts: (1 | g) terms), so the observation pass
  /// reads no values (observation_pass).
  bool unit_values_ = false;
  mutable global_values values_;
  mutable global_gradients grads_;
};

/** A CPU backend for one chain of @p m. */
std::unique_ptr<backend> make_cpu_backend(std::shared_ptr<const model> m);

}  // namespace hbglm::detail
