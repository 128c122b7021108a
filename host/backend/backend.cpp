#include "backend/backend.hpp"

namespace hbglm::detail {

double backend::inv_metric_dot(const device_vector& a, const device_vector& b) {
  if (!inv_metric_scratch_) inv_metric_scratch_ = make_vector();
  apply_inv_metric(a, *inv_metric_scratch_);
  return dot(*inv_metric_scratch_, b);
}

}  // namespace hbglm::detail
