// Built instead of the CUDA backend when HBGLM_ENABLE_CUDA is OFF (Ginkgo's device hooks): every
// entry point says, clearly, that CUDA was not compiled in.

#include "backend/cuda/cuda_backend.hpp"
#include "hbglm/error.hpp"

namespace hbglm::detail::cuda {
namespace {
const char* const not_compiled =
    "CUDA support was not compiled in (rebuild with nvcc available and -DHBGLM_ENABLE_CUDA=ON)";
}

bool compiled() noexcept { return false; }
std::string unavailable_reason() noexcept { return not_compiled; }
std::vector<std::string> devices() noexcept { return {}; }
std::unique_ptr<backend> make_backend(std::shared_ptr<const model>) {
  throw backend_error(not_compiled);
}

}  // namespace hbglm::detail::cuda
