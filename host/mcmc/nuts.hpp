#pragma once
/** @file The No-U-Turn sampler's transition exactly as Stan does it (stan/mcmc/hmc/nuts/base_nuts.hpp
 *  with base_hmc.hpp's step-size heuristic and jitter): multinomial sampling, biased progressive at
 *  the top level and uniform inside subtrees; the U-turn test on the whole trajectory plus the two
 *  checks across adjacent subtrees; divergence at H - H0 > max_delta_h; a non-finite log density
 *  is an infinite potential, which rejects. The tree is driven on the host in double precision;
 *  every vector lives in the backend, so only scalars (dot products, log densities) come back. */

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "backend/backend.hpp"

namespace hbglm::mcmc {

/** log(exp(a) + exp(b)) without overflow; -infinity is the identity (stan::math::log_sum_exp). */
double log_sum_exp(double a, double b) noexcept;

/** A point in phase space (Stan's ps_point): position, momentum, gradient of log p, log p. */
struct phase_point {
  std::unique_ptr<detail::device_vector> q;
  std::unique_ptr<detail::device_vector> p;
  std::unique_ptr<detail::device_vector> grad;  ///< ∇ log p(q) (Stan stores -∇ in z.g)
  double lp = 0;                                ///< log p(q); -infinity outside the support
  /** Allocates the three vectors in @p backend, zero-filled. */
  static phase_point make(detail::backend& backend);
};

/** A state a (sub)tree proposes: its position and log p, and the kinetic energy for energy__.
 *  Stan keeps a whole ps_point; the momentum is not needed later, and the gradient only for the
 *  one sample a transition ends at, where nuts::transition takes it from the trajectory's end
 *  state or evaluates it again (a proposal per tree level would otherwise hold one more vector). */
struct tree_sample {
  std::unique_ptr<detail::device_vector> q;
  double lp = 0;
  double kinetic = 0;
  /// Where the state lies on the trajectory: 0 for the transition's start, +k for the k-th step
  /// forward, -k for the k-th step backward (so that a sample at an end, whose gradient the end
  /// state still holds, needs no new evaluation).
  long position = 0;
  /** Allocates q in @p backend, zero-filled. */
  static tree_sample make(detail::backend& backend);
};

/** What one transition reports (CmdStan's sampler columns). */
struct nuts_transition {
  double lp = 0;           ///< lp__ of the selected state
  double accept_stat = 0;  ///< sum of min(1, exp(H0 - H)) over every leapfrog step / n_leapfrog
  double stepsize = 0;     ///< the jittered step size used
  int depth = 0;           ///< treedepth__ (not incremented for a rejected last subtree)
  int n_leapfrog = 0;      ///< leapfrog steps taken, rejected subtrees included
  bool divergent = false;  ///< some leaf had H - H0 > max_delta_h
  double energy = 0;       ///< H at the selected state
};

/** NUTS with multinomial sampling on one chain. The current state is kept in the backend between
 *  transitions. Random numbers are counter-based: the momentum of draw c is
 *  backend.draw_momentum(seed, chain, c), and the host's coin flips and multinomial choices use
 *  rng::random_bits(seed, rng::stream::sampler, chain, k, 0) for the k-th uniform of the chain,
 *  so a chain's draws do not depend on how many chains or threads run beside it.
 *
 *  The virtual methods are the seams Stan's unit tests use (mock_hmc.hpp): the U-turn criterion
 *  and the kinetic energy (tau). Stan's third, p♯ = M⁻¹p (dtau_dp), is folded into both, since
 *  p♯ is only ever dotted with another vector (backend::inv_metric_dot). */
class nuts {
 public:
  /// Vectors of length dim a chain's sampler holds: this many, plus vectors_per_level for each
  /// tree level from 1 to the deepest reached minus one (tree_level).
  static constexpr std::size_t vectors_beside_levels = 12;
  static constexpr std::size_t vectors_per_level = 4;
  /// The vectors a chain's sampler holds once a tree has reached depth @p depth. The memory
  /// estimates use it (api/chain_memory.cpp, bench, the CUDA allowance's test);
  /// NutsTransition.RunsToMaxDepthWhenNothingStops counts them.
  static constexpr std::size_t vectors_held_at_depth(int depth) {
    return vectors_beside_levels +
           vectors_per_level * (depth > 1 ? static_cast<std::size_t>(depth - 1) : 0);
  }

  /** @param[in,out] backend where the vectors live; must outlive this object
   *  @param[in] seed the run's seed
   *  @param[in] chain the chain id (part of every random-number key) */
  nuts(detail::backend& backend, std::uint64_t seed, std::uint32_t chain);
  virtual ~nuts();
  nuts(const nuts&) = delete;
  nuts& operator=(const nuts&) = delete;

  /** Maximum tree depth; values ≤ 0 are ignored (base_nuts::set_max_depth). */
  void set_max_depth(int depth);
  int max_depth() const noexcept { return max_depth_; }
  /** The divergence threshold on H - H0. */
  void set_max_delta_h(double max_delta_h) noexcept { max_delta_h_ = max_delta_h; }
  double max_delta_h() const noexcept { return max_delta_h_; }
  /** The nominal step size; written as is (the adaptation writes exp(x) here every iteration). */
  void set_nominal_stepsize(double epsilon) noexcept { nom_epsilon_ = epsilon; }
  double nominal_stepsize() const noexcept { return nom_epsilon_; }
  /** The step size of the last transition (nominal, jittered). */
  double current_stepsize() const noexcept { return epsilon_; }
  /** Jitter j: values outside (0, 1) leave it unchanged (base_hmc::set_stepsize_jitter). */
  void set_stepsize_jitter(double jitter) noexcept;
  double stepsize_jitter() const noexcept { return epsilon_jitter_; }

  /** Moves the chain to @p q and evaluates log p and its gradient there (Stan's seed() and
   *  init_hamiltonian()).
   *  @param[in] q dim() doubles on the host
   *  @return log p(q), -infinity outside the support */
  double seed_position(const double* q);

  /** The current position (after the last transition). */
  const detail::device_vector& position() const noexcept { return *z_.q; }
  /** log p at the current position. */
  double log_density() const noexcept { return z_.lp; }

  /** One NUTS transition from the current position (base_nuts::transition).
   *  @return the transition's diagnostics; the new position is position() */
  nuts_transition transition();

  /** Stan's step-size heuristic (base_hmc::init_stepsize): from the current nominal step size,
   *  double or halve it until one leapfrog step's acceptance crosses 0.8. The position is kept.
   *  Skipped when dim() = 0 (the step size becomes NaN) or the step size is 0, > 1e7 or NaN.
   *  @throws hbglm::error "Posterior is improper" when ε > 1e7, "No acceptably small step size"
   *          when ε reaches 0. */
  void init_stepsize();

  int depth() const noexcept { return depth_; }
  int n_leapfrog() const noexcept { return n_leapfrog_; }
  bool divergent() const noexcept { return divergent_; }
  double energy() const noexcept { return energy_; }
  std::uint64_t momentum_draws() const noexcept { return momentum_counter_; }
  std::uint64_t uniform_draws() const noexcept { return uniform_counter_; }

 protected:
  /** ε = nominal ε, times (1 + j·U(-1, 1)) when jitter j > 0 (base_hmc::sample_stepsize). */
  void sample_stepsize();

  /** Builds a subtree of depth @p depth (2^depth leapfrog steps unless it stops early) from @p z
   *  in direction @p sign (base_nuts::build_tree). "Begin" and "end" follow the integration order.
   *  Stan also passes p♯ = M⁻¹p at both ends; here the criterion forms M⁻¹p when it needs it
   *  (backend::inv_metric_dot), so only momenta are kept: two vectors fewer per tree level.
   *  Stan passes a zeroed momentum sum for the subtree to add to; here the subtree leaves its sum
   *  in subtree_rho(depth, p_end), valid until the next subtree of the same depth is built.
   *  @param[in] depth the subtree depth
   *  @param[in,out] z the state integrated from; on return the subtree's last state
   *  @param[out] z_propose the subtree's multinomial proposal
   *  @param[out] p_beg, p_end p at the subtree's first and last states (p_end may be z.p itself)
   *  @param[in] H0 the Hamiltonian at the start of the transition
   *  @param[in] sign +1 forward, -1 backward
   *  @param[in,out] n_leapfrog, log_sum_weight, sum_metro_prob the caller's accumulators
   *  @return false if the subtree diverged or turned (it must then be discarded) */
  bool build_tree(int depth, phase_point& z, tree_sample& z_propose, detail::device_vector& p_beg,
                  detail::device_vector& p_end, double H0, double sign, int& n_leapfrog,
                  double& log_sum_weight, double& sum_metro_prob);

  /** Where build_tree(@p depth, ..., @p p_end, ...) left its momentum sum: a leaf's is its
   *  momentum, in p_end; a deeper subtree's is in its level's rho. */
  detail::device_vector& subtree_rho(int depth, detail::device_vector& p_end);

  /** The no-U-turn criterion at the trajectory ends with momenta @p p_minus and @p p_plus:
   *  continue while (M⁻¹p_minus)·rho > 0 and (M⁻¹p_plus)·rho > 0 (base_nuts::compute_criterion,
   *  which takes the p♯ = M⁻¹p of the two ends). */
  virtual bool compute_criterion(const detail::device_vector& p_minus,
                                 const detail::device_vector& p_plus,
                                 const detail::device_vector& rho);
  /** The kinetic energy ½ p·M⁻¹p at @p z (Stan's T / tau). */
  virtual double kinetic_energy(const phase_point& z);

  /** The next uniform(0, 1) of the chain's host stream. */
  double uniform();
  /** Draws z.p ~ N(0, M) with the next momentum counter. */
  void draw_momentum(phase_point& z);

  detail::backend& backend_;
  phase_point z_;  ///< the current state; during a transition, the forward end

 private:
  /** Per-depth scratch vectors of build_tree, allocated the first time a depth is reached: four
   *  vectors of length dim per level (bench/README.md, memory.sh). */
  struct tree_level {
    std::unique_ptr<detail::device_vector> p_init_end, p_final_beg;
    /// The initial half's momentum sum while the final half is built, then the subtree's.
    std::unique_ptr<detail::device_vector> rho;
    tree_sample z_propose_final;
  };
  tree_level& level(int depth);
  void copy_to_sample(const phase_point& z, double kinetic, long position, tree_sample& sample);

  std::uint64_t seed_;
  std::uint32_t chain_;
  std::uint64_t momentum_counter_ = 0;
  std::uint64_t uniform_counter_ = 0;

  int max_depth_ = 10;
  double max_delta_h_ = 1000;
  double nom_epsilon_ = 1;
  double epsilon_ = 1;
  double epsilon_jitter_ = 0;

  int depth_ = 0;
  long forward_steps_ = 0, backward_steps_ = 0;  ///< leapfrog steps each way this transition
  int n_leapfrog_ = 0;
  bool divergent_ = false;
  double energy_ = 0;

  // Top-level bookkeeping of transition(), named as in base_nuts. z_bck_ also holds the saved
  // state in init_stepsize, between transitions.
  phase_point z_bck_;
  tree_sample z_sample_, z_propose_;
  /// The momenta at the inner ends of the forward and backward parts (the outer ends' are
  /// z_.p and z_bck_.p).
  std::unique_ptr<detail::device_vector> p_fwd_bck_, p_bck_fwd_;
  std::unique_ptr<detail::device_vector> rho_;  ///< the whole trajectory's momentum sum
  /// The momentum sums the checks across adjacent (sub)trees take, in transition() and in
  /// build_tree. Each is formed after the (sub)trees it sums have been built and used at once, so
  /// one vector serves the top level and every depth (Stan has rho_extended and a rho_subtree per
  /// level).
  std::unique_ptr<detail::device_vector> rho_scratch_;
  std::vector<std::unique_ptr<tree_level>> levels_;
};

}  // namespace hbglm::mcmc
