#pragma once
/** @file The seam between the statistics and the hardware (ARCHITECTURE §5). The NUTS core in
 *  host/mcmc talks only to this interface; vectors are opaque handles that stay in the backend's
 *  memory (the GPU's, for CUDA), so that only scalars cross to the host per leapfrog step. */

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "hbglm/backend.hpp"

namespace hbglm::detail {

/** A vector of length dim() owned by a backend. Only the backend that made it may use it. */
class device_vector {
 public:
  virtual ~device_vector() = default;
  virtual std::size_t size() const noexcept = 0;
};

/** The inverse metric (Stan's inv_e_metric): dense over the first n_dense coordinates and
 *  diagonal over the rest. `diag` is n_dense = 0, `dense` is n_dense = dim, and `dense_diag` is
 *  n_dense = the number of global parameters (they come first in the parameter vector). */
struct inv_metric {
  std::size_t n_dense = 0;
  std::vector<double> dense;  ///< n_dense × n_dense, column-major, symmetric positive definite
  std::vector<double> diag;   ///< dim - n_dense diagonal entries, all > 0
  /// The identity metric of dimension @p dim with a dense block of @p n_dense.
  static inv_metric identity(std::size_t dim, std::size_t n_dense);
};

/** What a backend can do, checked by the sampler before it starts (ggml's supports_op). */
struct backend_caps {
  bool dense_metric = false;    ///< supports n_dense > 0
  bool batched_chains = false;  ///< evaluates several chains per data pass
};

/** The abstract backend. Every vector argument has length dim(). Not thread-safe: one chain per
 *  backend instance (the data may be shared between instances). */
class backend {
 public:
  virtual ~backend() = default;
  virtual backend_kind kind() const noexcept = 0;
  virtual backend_caps caps() const noexcept = 0;
  /** Number of unconstrained parameters. */
  virtual std::size_t dim() const noexcept = 0;
  /** A new vector of length dim(), zero-filled. */
  virtual std::unique_ptr<device_vector> make_vector() = 0;

  /** Log density at @p q (up to a constant) and its gradient into @p grad. A NaN, an infinity or a
   *  model error (e.g. a parameter out of its support) gives -infinity, never an exception, so the
   *  sampler rejects the point (Stan's base_hamiltonian semantics).
   *  @return log p(q) or -infinity */
  virtual double log_density_grad(const device_vector& q, device_vector& grad) = 0;

  /** Sets the inverse metric used by apply_inv_metric, draw_momentum and leapfrog.
   *  @throws backend_error if it is not positive definite or its sizes do not match dim(). */
  virtual void set_inv_metric(const inv_metric& m) = 0;
  /** p_sharp = M⁻¹ p (Stan's dtau_dp). */
  virtual void apply_inv_metric(const device_vector& p, device_vector& p_sharp) = 0;
  /** (M⁻¹a) · b: the kinetic energy and the U-turn checks, which are all the sampler needs p♯
   *  for, so that it keeps momenta only (host/mcmc/nuts.hpp). M⁻¹a is formed in one scratch
   *  vector, so the result has the same bits as p♯ = M⁻¹a kept in a vector of its own, then
   *  dot(p♯, b). */
  virtual double inv_metric_dot(const device_vector& a, const device_vector& b);
  /** p ~ N(0, M) from the counter-based generator keyed by (seed, chain) at draw number
   *  @p counter: the same triple gives the same momentum on every backend. */
  virtual void draw_momentum(std::uint64_t seed, std::uint64_t chain, std::uint64_t counter,
                             device_vector& p) = 0;
  /** One leapfrog step of size @p eps (Stan's expl_leapfrog): p += eps/2 ∇; q += eps M⁻¹p;
   *  ∇ and log p at the new q; p += eps/2 ∇. @p grad holds ∇ log p(q) on entry and on exit.
   *  @return log p at the new q (-infinity as log_density_grad) */
  virtual double leapfrog(double eps, device_vector& q, device_vector& p, device_vector& grad) = 0;

  /** a · b */
  virtual double dot(const device_vector& a, const device_vector& b) = 0;
  /** dst = src; copying a vector onto itself does nothing (the sampler passes z.p as its own
   *  edge momentum). */
  virtual void copy(const device_vector& src, device_vector& dst) = 0;
  /** y += a x */
  virtual void axpy(double a, const device_vector& x, device_vector& y) = 0;
  /** dst = a + b */
  virtual void add(const device_vector& a, const device_vector& b, device_vector& dst) = 0;
  /** Copies a vector to dim() doubles on the host. */
  virtual void copy_to_host(const device_vector& v, double* out) = 0;
  /** Copies dim() doubles from the host into a vector. */
  virtual void copy_from_host(const double* in, device_vector& v) = 0;
  /** How many log density + gradient evaluations this backend has done (leapfrog included);
   *  0 from a backend that does not count (test mocks). */
  virtual std::size_t n_evaluations() const noexcept { return 0; }

 private:
  std::unique_ptr<device_vector> inv_metric_scratch_;  ///< inv_metric_dot's M⁻¹a, made on first use
};

}  // namespace hbglm::detail
