// The only file that knows which backends were built (STYLE §2).

#include "backend/registry.hpp"

#include "backend/cpu/glm_cpu_density.hpp"
#include "backend/cuda/cuda_backend.hpp"
#include "hbglm/error.hpp"

namespace hbglm {

std::string to_string(backend_kind kind) { return kind == backend_kind::cpu ? "cpu" : "cuda"; }

backend_kind parse_backend_kind(const std::string& text) {
  if (text == "cpu") return backend_kind::cpu;
  if (text == "cuda") return backend_kind::cuda;
  throw option_error("unknown backend '" + text + "': use cpu, cuda or auto");
}

bool backend_compiled(backend_kind kind) noexcept {
  return kind == backend_kind::cpu || detail::cuda::compiled();
}

std::string backend_unavailable_reason(backend_kind kind) noexcept {
  if (kind == backend_kind::cpu) return "";
  return detail::cuda::unavailable_reason();
}

bool backend_available(backend_kind kind) noexcept {
  return backend_unavailable_reason(kind).empty();
}

std::vector<std::string> backend_devices(backend_kind kind) noexcept {
  if (kind == backend_kind::cpu) return {"host CPU (double precision, Eigen)"};
  return detail::cuda::devices();
}

namespace detail {

std::unique_ptr<backend> make_backend(backend_kind kind, std::shared_ptr<const model> m,
                                      int cpu_threads) {
  if (kind == backend_kind::cpu) return make_cpu_backend(std::move(m), cpu_threads);
  return cuda::make_backend(std::move(m));
}

}  // namespace detail
}  // namespace hbglm
