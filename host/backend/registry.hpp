#pragma once
/** @file Making a backend of a given kind for a model. */

#include <memory>

#include "backend/backend.hpp"
#include "hbglm/model.hpp"

namespace hbglm::detail {

/** A backend of @p kind for one chain of @p m; on the CPU each evaluation uses @p cpu_threads
 *  threads (the result does not depend on it), the CUDA backend ignores it.
 *  @throws backend_error ("CUDA support was not compiled in", "no CUDA device found: ..."). */
std::unique_ptr<backend> make_backend(backend_kind kind, std::shared_ptr<const model> m,
                                      int cpu_threads = 1);

}  // namespace hbglm::detail
