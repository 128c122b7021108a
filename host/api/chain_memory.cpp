#include "api/chain_memory.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "backend/cpu/glm_cpu_density.hpp"
#include "mcmc/nuts.hpp"

namespace hbglm::detail {

std::size_t cpu_chain_bytes(std::size_t n_obs, std::size_t dim, int max_depth,
                            std::size_t n_dense, int threads_per_chain) {
  // Welford sums, the metric, the backend's scratch and u, the draw on the host: about 10.
  constexpr std::size_t k_adaptation_vectors = 10;
  // The chunks' own Zᵀr: one per thread, where the rows make more than one chunk.
  const std::size_t chunk_vectors =
      n_obs >= 2 * default_min_chunk_rows
          ? std::min(static_cast<std::size_t>(std::max(threads_per_chain, 1)), max_row_chunks)
          : 0;
  const std::size_t vectors =
      mcmc::nuts::vectors_held_at_depth(max_depth) + k_adaptation_vectors + chunk_vectors;
  // η (overwritten by r) of a chunk's rows per thread, at most n (glm_cpu_density; none when
  // Xβ is formed inside the pass): counted as n, an upper bound.
  return 8 * dim * vectors + 8 * n_obs + 3 * 8 * n_dense * n_dense;
}

int automatic_chains_at_once(int chains, unsigned hardware_threads, std::size_t bytes_per_chain,
                             std::optional<std::size_t> available_bytes) {
  int n = std::max(1, std::min(chains, static_cast<int>(std::max(1u, hardware_threads))));
  if (available_bytes && bytes_per_chain > 0) {
    const auto fit = static_cast<std::size_t>(0.9 * static_cast<double>(*available_bytes)) /
                     bytes_per_chain;
    n = std::min(n, static_cast<int>(std::max<std::size_t>(1, std::min<std::size_t>(fit, 1024))));
  }
  return n;
}

std::optional<std::size_t> available_memory_bytes() {
  // HBGLM_AVAILABLE_MEMORY (bytes, e.g. 8e9) budgets less than the machine has, on a shared
  // machine, and lets the tests take the capped path.
  if (const char* budget = std::getenv("HBGLM_AVAILABLE_MEMORY")) {
    char* end = nullptr;
    const double bytes = std::strtod(budget, &end);
    if (end != budget && *end == '\0' && bytes >= 0.0 && bytes < 1e19) {
      return static_cast<std::size_t>(bytes);
    }
  }
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream fields(line.substr(13));
    std::size_t kb = 0;
    std::string unit;
    if (fields >> kb >> unit && unit == "kB") return kb * 1024;
    return std::nullopt;
  }
  return std::nullopt;
}

std::string format_bytes(std::size_t bytes) {
  const double b = static_cast<double>(bytes);
  char text[32];
  if (b >= 1e9) {
    std::snprintf(text, sizeof text, "%.1f GB", b / 1e9);
  } else if (b >= 1e6) {
    std::snprintf(text, sizeof text, "%.0f MB", b / 1e6);
  } else {
    std::snprintf(text, sizeof text, "%.0f kB", b / 1e3);
  }
  return text;
}

}  // namespace hbglm::detail
