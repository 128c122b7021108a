// Device discovery and backend creation for the CUDA build. The run-time probe happens only when
// asked (never at static initialization or test discovery), so a machine without a GPU or driver
// just gets a clear reason.

#include <cuda_runtime.h>

#include <cstdio>

#include "backend/cuda/cuda_backend.hpp"
#include "backend/cuda/cuda_check.hpp"
#include "backend/cuda/cuda_glm_backend.hpp"
#include "backend/cuda/cuda_model_data.hpp"
#include "hbglm/error.hpp"
#include "hbglm/model.hpp"

namespace hbglm::detail::cuda {
namespace {

std::string mib(std::size_t bytes) {
  char text[64];
  std::snprintf(text, sizeof text, "%.0f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return text;
}

/// Throws a backend_error that says how much memory the model needs and how much the device has
/// free, when it does not fit. Called before anything of the model is allocated.
void check_memory(const std::shared_ptr<const model>& m) {
  const model_layout layout = make_layout(*m);
  const std::size_t data = cuda_model_data::cached(m) ? 0 : shared_data_bytes(layout, m->data());
  const std::size_t chain = per_chain_bytes(layout);
  std::size_t free_bytes = 0, total_bytes = 0;
  HBGLM_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  if (data + chain > free_bytes) {
    throw backend_error(
        "the model does not fit in GPU memory: it needs about " + mib(data + chain) + " (data " +
        mib(data) + ", one chain's buffers and sampler vectors " + mib(chain) +
        ") and the device has " + mib(free_bytes) + " free of " + mib(total_bytes) +
        "; use --backend cpu, fewer chains, or a GPU with more memory");
  }
}

}  // namespace

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

std::unique_ptr<backend> make_backend(std::shared_ptr<const model> m) {
  const std::string reason = unavailable_reason();
  if (!reason.empty()) throw backend_error(reason);
  if (!m) throw backend_error("make_backend: no model");
  check_memory(m);
  return std::make_unique<cuda_glm_backend>(std::move(m));
}

}  // namespace hbglm::detail::cuda
