#pragma once
/** @file Counter-based random numbers (Philox4x32-10, Salmon et al. 2011, "Parallel random
 *  numbers: as easy as 1, 2, 3"), shared by the CPU and CUDA backends so that the same
 *  (seed, chain, draw counter) gives the same momenta on both. Stateless: element i of draw c of
 *  chain k is a pure function of (seed, stream, k, c, i), so any thread can compute any element. */

#include <cmath>
#include <cstdint>

#include "host_device.cuh"

namespace hbglm::rng {

/** The 128-bit output of one Philox call. */
struct philox_block {
  std::uint32_t v[4];
};

HBGLM_HOST_DEVICE inline void mul_hi_lo(std::uint32_t a, std::uint32_t b, std::uint32_t* hi,
                                        std::uint32_t* lo) {
  const std::uint64_t product = static_cast<std::uint64_t>(a) * b;
  *hi = static_cast<std::uint32_t>(product >> 32);
  *lo = static_cast<std::uint32_t>(product);
}

/** Philox4x32 with 10 rounds on counter @p c under key (k0, k1). */
HBGLM_HOST_DEVICE inline philox_block philox4x32_10(philox_block c, std::uint32_t k0,
                                                    std::uint32_t k1) {
  constexpr std::uint32_t m0 = 0xD2511F53u, m1 = 0xCD9E8D57u;
  constexpr std::uint32_t w0 = 0x9E3779B9u, w1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    std::uint32_t hi0, lo0, hi1, lo1;
    mul_hi_lo(m0, c.v[0], &hi0, &lo0);
    mul_hi_lo(m1, c.v[2], &hi1, &lo1);
    c = philox_block{{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
    k0 += w0;
    k1 += w1;
  }
  return c;
}

/** What a random stream is used for; part of the counter, so streams never overlap. */
enum class stream : std::uint32_t {
  momentum = 1,   ///< momentum draws (backend)
  sampler = 2,    ///< the sampler's host-side coin flips and multinomial choices
  init = 3,       ///< initial values
  simulate = 4    ///< data simulation
};

/** 64 random bits: word @p index of (seed, stream, chain, counter). Each Philox call yields two
 *  64-bit words, so index/2 selects the call and index%2 the half. The counter layout is
 *  {index/2 (low 32 bits), chain, counter low, counter high ^ stream << 24}. */
HBGLM_HOST_DEVICE inline std::uint64_t random_bits(std::uint64_t seed, stream s,
                                                   std::uint32_t chain, std::uint64_t counter,
                                                   std::uint64_t index) {
  const philox_block c{{static_cast<std::uint32_t>(index >> 1), chain,
                        static_cast<std::uint32_t>(counter),
                        static_cast<std::uint32_t>(counter >> 32) ^
                            (static_cast<std::uint32_t>(s) << 24)}};
  const philox_block r =
      philox4x32_10(c, static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
  const int half = static_cast<int>(index & 1u);
  return (static_cast<std::uint64_t>(r.v[2 * half]) << 32) | r.v[2 * half + 1];
}

/** Uniform in the open interval (0, 1) from 53 random bits. */
HBGLM_HOST_DEVICE inline double uniform_open(std::uint64_t bits) {
  return (static_cast<double>(bits >> 11) + 0.5) * 0x1.0p-53;
}

/** Element @p index of a vector of independent standard normals: Box-Muller on the uniforms of
 *  words 2⌊index/2⌋ and 2⌊index/2⌋+1, the cosine branch for even and the sine branch for odd
 *  indices. CPU and CUDA agree to a few ulps (their log/sin/cos differ in the last bits). */
HBGLM_HOST_DEVICE inline double standard_normal(std::uint64_t seed, stream s, std::uint32_t chain,
                                                std::uint64_t counter, std::uint64_t index) {
  const std::uint64_t pair = index & ~std::uint64_t{1};
  const double u1 = uniform_open(random_bits(seed, s, chain, counter, pair));
  const double u2 = uniform_open(random_bits(seed, s, chain, counter, pair + 1));
  const double radius = sqrt(-2.0 * log(u1));
  const double angle = 6.283185307179586476925286766559 * u2;
  return (index & 1u) ? radius * sin(angle) : radius * cos(angle);
}

}  // namespace hbglm::rng
