#pragma once
/** @file The host-side entry points of the CUDA backend, with no CUDA types. Implemented by the
 *  CUDA build (cuda_device.cpp) or by the stub (cuda_unavailable.cpp) when CUDA is off; only
 *  registry.cpp calls them. */

#include <memory>
#include <string>
#include <vector>

#include "backend/backend.hpp"

namespace hbglm {
class model;
}

namespace hbglm::detail::cuda {

/** Whether this build has the CUDA backend. */
bool compiled() noexcept;
/** "" when a CUDA device can be used, else why not. Probes the driver at run time only. */
std::string unavailable_reason() noexcept;
/** One line per device. */
std::vector<std::string> devices() noexcept;
/** A CUDA backend for one chain. @throws backend_error when it cannot be made. */
std::unique_ptr<backend> make_backend(std::shared_ptr<const model> m);

}  // namespace hbglm::detail::cuda
