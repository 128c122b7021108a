#pragma once
/** @file Making a backend of a given kind for a model. */

#include <memory>

#include "backend/backend.hpp"
#include "hbglm/model.hpp"

namespace hbglm::detail {

/** A backend of @p kind for one chain of @p m.
 *  @throws backend_error ("CUDA support was not compiled in", "no CUDA device found: ..."). */
std::unique_ptr<backend> make_backend(backend_kind kind, std::shared_ptr<const model> m);

}  // namespace hbglm::detail
