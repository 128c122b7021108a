#pragma once
/** @file Named tolerances for the tests (STYLE §6). A looser one needs a comment deriving it. */

namespace hbglm::test {

/// Analytic gradient vs Richardson-extrapolated central differences (error O(h⁴) with h = 1e-3,
/// so about 1e-10 relative; 1e-6 leaves room for ill-conditioned random points), measured as
/// |g - fd| / max(1, |g|, |fd|): relative for large components, absolute for near-zero ones.
constexpr double gradient_rel = 1e-6;

/// Log densities computed two ways in double (different summation order): a few ulps of the
/// summed magnitudes.
constexpr double log_density_rel = 1e-12;

}  // namespace hbglm::test
