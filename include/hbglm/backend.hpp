#pragma once
/** @file Which compute backends exist, and whether one can be used here. No CUDA types. */

#include <string>
#include <vector>

namespace hbglm {

/** A compute backend: where the log density, its gradient and the sampler's vectors live. */
enum class backend_kind { cpu, cuda };

/** "cpu" or "cuda". */
std::string to_string(backend_kind kind);

/** Parses "cpu" or "cuda". @throws option_error for anything else. */
backend_kind parse_backend_kind(const std::string& text);

/** Whether @p kind was compiled into this build (CUDA: built with nvcc). Never throws. */
bool backend_compiled(backend_kind kind) noexcept;

/** Whether @p kind can be created now (compiled, and for CUDA a device is present). Never throws. */
bool backend_available(backend_kind kind) noexcept;

/** Why @p kind is unavailable ("CUDA support was not compiled in", "no CUDA device found: ..."),
 *  or "" when it is available. Never throws. */
std::string backend_unavailable_reason(backend_kind kind) noexcept;

/** One line per device the backend sees, for `hbglm info` (e.g. "0: NVIDIA H100, 80 GiB, sm_90"). */
std::vector<std::string> backend_devices(backend_kind kind) noexcept;

}  // namespace hbglm
