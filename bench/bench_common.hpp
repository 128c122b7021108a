#pragma once
/** @file What the gradient benchmarks (grad_eval.cpp, grad_eval_cuda.cpp) share: the clock, the
 *  median, the fixed evaluation point, so that both time the same thing the same way, and the
 *  sampler at its deepest for the memory measurements. */

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "backend/backend.hpp"
#include "backend/registry.hpp"
#include "hbglm/backend.hpp"
#include "hbglm/model.hpp"
#include "hbglm/sampler.hpp"
#include "kernels/rng.cuh"
#include "mcmc/nuts.hpp"

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

/// The default maximum tree depth (Stan's), at which the sampler holds the most vectors.
inline const int deepest_tree = nuts_options{}.max_depth;

/// Bytes of the sampler's vectors of length @p dim that one chain holds at tree depth
/// deepest_tree (mcmc/nuts.hpp; the adaptation's few are not counted).
inline double sampler_vector_bytes(std::size_t dim) {
  return 8.0 * static_cast<double>(mcmc::nuts::vectors_held_at_depth(deepest_tree)) *
         static_cast<double>(dim);
}

/// @p chains samplers on @p kind backends of @p m, each running one transition at once (a thread
/// per chain) from fixed_q with step size 1e-12 and no adaptation: no trajectory that short
/// turns, so every chain builds its tree to deepest_tree and keeps the sampler's vectors for all
/// its levels, the most memory a run can take. @p while_held is called with every chain's
/// vectors still allocated (for a memory reading).
/// @return the smallest tree depth the chains reached (deepest_tree when all got there)
/// @throws what make_backend or a transition throws
template <class Callback>
int transitions_at_deepest_tree(backend_kind kind, const std::shared_ptr<const model>& m,
                                int chains, std::uint64_t seed, Callback while_held) {
  const std::size_t dim = m->dim();
  const std::vector<double> q = fixed_q(dim, seed);
  std::vector<std::unique_ptr<detail::backend>> backends;
  std::vector<std::unique_ptr<mcmc::nuts>> samplers;
  for (int c = 0; c < chains; ++c) {
    backends.push_back(detail::make_backend(kind, m));
    backends.back()->set_inv_metric(detail::inv_metric::identity(dim, 0));
    samplers.push_back(std::make_unique<mcmc::nuts>(*backends.back(), seed,
                                                    static_cast<std::uint32_t>(c + 1)));
    samplers.back()->set_max_depth(deepest_tree);
    samplers.back()->set_nominal_stepsize(1e-12);
    samplers.back()->seed_position(q.data());
  }
  std::vector<int> depth(static_cast<std::size_t>(chains), 0);
  std::vector<std::exception_ptr> failure(static_cast<std::size_t>(chains));
  std::vector<std::thread> threads;
  for (int c = 0; c < chains; ++c) {
    threads.emplace_back([&, c] {
      const auto i = static_cast<std::size_t>(c);
      try {
        depth[i] = samplers[i]->transition().depth;
      } catch (...) {
        failure[i] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& f : failure) {
    if (f) std::rethrow_exception(f);
  }
  while_held();
  return *std::min_element(depth.begin(), depth.end());
}

}  // namespace hbglm::bench
