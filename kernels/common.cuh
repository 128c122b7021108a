#pragma once
/** @file Helpers for device code: launch geometry shared by the kernels. */

#include <cstddef>

namespace hbglm::kernels {

/// Threads per block of the reduction kernels. Fixed, because the summation order of a block
/// reduction (and so the bits of the result) depends on it.
constexpr int reduce_block_size = 256;

/// Blocks for a grid-stride loop over @p n items: enough to fill an H100 (132 SMs × 8 blocks of
/// 256 threads) without more partial sums than the final reduction wants.
inline int grid_size_for(std::size_t n) {
  const std::size_t blocks = (n + reduce_block_size - 1) / reduce_block_size;
  constexpr std::size_t max_blocks = 1024;
  return static_cast<int>(blocks == 0 ? 1 : (blocks < max_blocks ? blocks : max_blocks));
}

}  // namespace hbglm::kernels
