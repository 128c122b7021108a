#pragma once
/** @file What the gradient benchmarks (grad_eval.cpp, grad_eval_cuda.cpp) share: the clock, the
 *  median, and the fixed evaluation point, so that both time the same thing the same way. */

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/rng.cuh"

namespace hbglm::bench {

using clock_type = std::chrono::steady_clock;

inline double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size();
  return m == 0 ? 0.0 : m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
}

/// The fixed evaluation point: q_i uniform on (-2, 2), Stan's default initialization, from the
/// counter-based generator (the same q on every machine and backend).
inline std::vector<double> fixed_q(std::size_t dim, std::uint64_t seed) {
  std::vector<double> q(dim);
  for (std::size_t i = 0; i < dim; ++i) {
    const std::uint64_t bits = hbglm::rng::random_bits(seed, hbglm::rng::stream::init, 0, 0, i);
    q[i] = -2.0 + 4.0 * hbglm::rng::uniform_open(bits);
  }
  return q;
}

}  // namespace hbglm::bench
