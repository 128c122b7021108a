#pragma once
/** @file How many chains to run at once when the user leaves --threads automatic: as many as
 *  there are hardware threads, but no more than the memory available can hold, since each chain
 *  on the CPU backend keeps its sampler's vectors in host memory (bench/README.md, memory.sh). */

#include <cstddef>
#include <optional>
#include <string>

namespace hbglm::detail {

/** Host bytes one CPU-backend chain holds beside the shared data, at its deepest: η, which r
 *  overwrites (8 B per observation), the sampler's 12 vectors of length dim plus 4 per tree level
 *  (host/mcmc/nuts.hpp) at @p max_depth, about 10 more for the adaptation and the backend,
 *  three n_dense² matrices for a dense metric block (estimator, metric, Cholesky factor), and
 *  when the rows make more than one chunk (glm_cpu_density), one Zᵀr per thread of
 *  @p threads_per_chain up to max_row_chunks (n_u values; dim bounds n_u). */
std::size_t cpu_chain_bytes(std::size_t n_obs, std::size_t dim, int max_depth,
                            std::size_t n_dense, int threads_per_chain = 1);

/** min(@p chains, @p hardware_threads), lowered (to 1 at least) so that that many chains of
 *  @p bytes_per_chain fit in 90% of @p available_bytes; no limit when the available memory is
 *  unknown. */
int automatic_chains_at_once(int chains, unsigned hardware_threads, std::size_t bytes_per_chain,
                             std::optional<std::size_t> available_bytes);

/** The environment's HBGLM_AVAILABLE_MEMORY (bytes) where it is set to a number, else
 *  MemAvailable of /proc/meminfo (Linux), in bytes; nothing where neither can be read. */
std::optional<std::size_t> available_memory_bytes();

/** "2.4 GB", "310 MB", "12 kB" (powers of 1000). */
std::string format_bytes(std::size_t bytes);

}  // namespace hbglm::detail
