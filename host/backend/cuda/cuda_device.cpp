// Device discovery for the CUDA build. The run-time probe happens only when asked (never at
// static initialization or test discovery), so a machine without a GPU or driver just gets a
// clear reason.

#include <cuda_runtime.h>

#include <cstdio>

#include "backend/cuda/cuda_backend.hpp"
#include "hbglm/error.hpp"

namespace hbglm::detail::cuda {

bool compiled() noexcept { return true; }

std::string unavailable_reason() noexcept {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    return std::string("no CUDA device found: ") + cudaGetErrorString(status);
  }
  if (count == 0) return "no CUDA device found";
  return "";
}

std::vector<std::string> devices() noexcept {
  std::vector<std::string> out;
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) return out;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    char line[512];
    std::snprintf(line, sizeof line, "%d: %s, %.1f GiB, sm_%d%d", i, prop.name,
                  static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0),
                  prop.major, prop.minor);
    out.emplace_back(line);
  }
  return out;
}

std::unique_ptr<backend> make_backend(std::shared_ptr<const model>) {
  const std::string reason = unavailable_reason();
  if (!reason.empty()) throw backend_error(reason);
  // TODO(issue 4): the device-resident backend (fused GLM kernel, cuSPARSE Z products).
  throw backend_error("the CUDA backend is not implemented yet (issue 4); use --backend cpu");
}

}  // namespace hbglm::detail::cuda
