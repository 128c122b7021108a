// The NUTS transition and the chain driver against shared/reference/stan_nuts.md §7.2-§7.4 and
// Stan's src/test/unit/mcmc/hmc/nuts/base_nuts_test.cpp with its mock_hmc.hpp seams: a mock
// backend whose integrator moves q by ε·p at constant momentum and labels each momentum with the
// position of its state (Stan's test reads that label off p_sharp = q), and a sampler whose
// kinetic energy is 0 (Stan's mock_hamiltonian).

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "backend/cpu/cpu_backend.hpp"
#include "hbglm/error.hpp"
#include "hbglm/sampler.hpp"
#include "kernels/rng.cuh"
#include "mcmc/nuts.hpp"
#include "mcmc/run_chain.hpp"

namespace hbglm::mcmc {
namespace {

using detail::device_vector;

constexpr double inf = std::numeric_limits<double>::infinity();

// ------------------------------------------------------------------------------------------------
// Mocks

class mock_vector final : public device_vector {
 public:
  explicit mock_vector(std::size_t n) : v(n, 0.0) {}
  std::size_t size() const noexcept override { return v.size(); }
  std::vector<double> v;
};

const std::vector<double>& val(const device_vector& x) {
  return static_cast<const mock_vector&>(x).v;
}
std::vector<double>& val(device_vector& x) { return static_cast<mock_vector&>(x).v; }

/** Stan's mock_integrator (q += ε p, p constant) with a scripted log density: the k-th leapfrog
 *  step returns script[k] (0 once the script runs out). Momentum draws give a constant.
 *  Stan's mock_hamiltonian makes p♯ = q so that the U-turn checks' inputs show which states they
 *  compare; the sampler here hands the checks momenta, so with dim ≥ 2 the momentum carries that
 *  label instead: p[1] is the position q[0] of its state (set by each leapfrog step, `draw_label`
 *  for a drawn momentum), and the metric M⁻¹ = diag(1, 0, ...) keeps p[1] out of every dot
 *  product, kinetic energy and U-turn check. */
class mock_backend final : public detail::backend {
 public:
  explicit mock_backend(std::size_t dim, double momentum = 1.5)
      : dim_(dim), momentum_(momentum) {}
  std::vector<double> script;
  std::size_t n_leapfrog_calls = 0;
  double draw_label = 0;  ///< p[1] of a drawn momentum: the position of the start state
  std::size_t n_vectors_made = 0;
  std::size_t n_gradient_calls = 0;  ///< log_density_grad calls (not leapfrog steps)

  backend_kind kind() const noexcept override { return backend_kind::cpu; }
  detail::backend_caps caps() const noexcept override { return {true, false}; }
  std::size_t dim() const noexcept override { return dim_; }
  std::unique_ptr<device_vector> make_vector() override {
    ++n_vectors_made;
    return std::make_unique<mock_vector>(dim_);
  }
  double log_density_grad(const device_vector&, device_vector& grad) override {
    ++n_gradient_calls;
    for (double& g : val(grad)) g = 0;
    return 0;
  }
  void set_inv_metric(const detail::inv_metric&) override {}
  void apply_inv_metric(const device_vector& p, device_vector& p_sharp) override {
    val(p_sharp).assign(dim_, 0.0);
    val(p_sharp)[0] = val(p)[0];
  }
  void draw_momentum(std::uint64_t, std::uint64_t, std::uint64_t, device_vector& p) override {
    for (double& x : val(p)) x = momentum_;
    if (dim_ >= 2) val(p)[1] = draw_label;
  }
  double leapfrog(double eps, device_vector& q, device_vector& p, device_vector&) override {
    val(q)[0] += eps * val(p)[0];
    if (dim_ >= 2) val(p)[1] = val(q)[0];
    const std::size_t k = n_leapfrog_calls++;
    return k < script.size() ? script[k] : 0.0;
  }
  double dot(const device_vector& a, const device_vector& b) override {
    double s = 0;
    for (std::size_t i = 0; i < dim_; ++i) s += val(a)[i] * val(b)[i];
    return s;
  }
  void copy(const device_vector& src, device_vector& dst) override { val(dst) = val(src); }
  void axpy(double a, const device_vector& x, device_vector& y) override {
    for (std::size_t i = 0; i < dim_; ++i) val(y)[i] += a * val(x)[i];
  }
  void add(const device_vector& a, const device_vector& b, device_vector& dst) override {
    for (std::size_t i = 0; i < dim_; ++i) val(dst)[i] = val(a)[i] + val(b)[i];
  }
  void copy_to_host(const device_vector& v, double* out) override {
    for (std::size_t i = 0; i < dim_; ++i) out[i] = val(v)[i];
  }
  void copy_from_host(const double* in, device_vector& v) override {
    for (std::size_t i = 0; i < dim_; ++i) val(v)[i] = in[i];
  }

 private:
  std::size_t dim_;
  double momentum_;
};

/** Exposes the protected pieces the tests drive (as Stan's tests reach into base_nuts). */
class test_nuts : public nuts {
 public:
  using nuts::nuts;
  using nuts::build_tree;
  using nuts::sample_stepsize;
  using nuts::subtree_rho;
  phase_point& z() { return z_; }
};

/** Stan's mock_hamiltonian: T = 0 (mock_hamiltonian = true). The criterion records rho[0] and
 *  the positions of the two states it compares (the label p[1] of their momenta, with a
 *  mock_backend of dim 2; NaN with dim 1) and returns true except at the listed call indices. */
class mock_nuts : public test_nuts {
 public:
  using test_nuts::test_nuts;
  std::vector<double> rho_values, minus_positions, plus_positions;
  std::vector<int> fail_at;
  bool mock_hamiltonian = true;

 protected:
  bool compute_criterion(const device_vector& p_minus, const device_vector& p_plus,
                         const device_vector& rho) override {
    const int call = static_cast<int>(rho_values.size());
    auto position = [](const device_vector& p) { return p.size() >= 2 ? val(p)[1] : NAN; };
    rho_values.push_back(val(rho)[0]);
    minus_positions.push_back(position(p_minus));
    plus_positions.push_back(position(p_plus));
    for (int f : fail_at) {
      if (f == call) return false;
    }
    return true;
  }
  double kinetic_energy(const phase_point& z) override {
    return mock_hamiltonian ? 0.0 : nuts::kinetic_energy(z);
  }
};

/** The arguments of one build_tree call, set up as in Stan's build_tree_test. Stan passes a
 *  momentum sum for the subtree to add to; hbglm's build_tree leaves the subtree's own sum in
 *  subtree_rho, which rho() adds to the sum the test starts from. */
struct tree_args {
  explicit tree_args(detail::backend& b)
      : z_propose(tree_sample::make(b)), p_begin(b.make_vector()), p_end(b.make_vector()) {}
  tree_sample z_propose;
  std::unique_ptr<device_vector> p_begin, p_end;
  double rho_start = 0;  ///< rho[0] before the subtree (Stan's test passes z_init.p)
  double log_sum_weight = -inf;
  int n_leapfrog = 0;
  double sum_metro_prob = 0;
  test_nuts* sampler = nullptr;
  int depth = 0;
  /** sampler.build_tree from the sampler's current state with these arguments. */
  bool build(test_nuts& s, int d, double H0, double sign) {
    sampler = &s;
    depth = d;
    return s.build_tree(d, s.z(), z_propose, *p_begin, *p_end, H0, sign, n_leapfrog,
                        log_sum_weight, sum_metro_prob);
  }
  /** rho[0] after the last build: the start plus the subtree's momentum sum. */
  double rho() const { return rho_start + val(sampler->subtree_rho(depth, *p_end))[0]; }
};

void set_start(mock_nuts& s, double q, double p) {
  val(*s.z().q)[0] = q;
  val(*s.z().p)[0] = p;
  if (val(*s.z().p).size() >= 2) val(*s.z().p)[1] = q;  // the position label (mock_backend)
  s.z().lp = 0;
}

/** Step size 1 (no jitter), @p max_depth, and the start q = 0 with momentum 1.5. */
void start_unit_steps(mock_nuts& s, int max_depth) {
  s.set_max_depth(max_depth);
  s.set_nominal_stepsize(1);
  set_start(s, 0, 1.5);
}

// ------------------------------------------------------------------------------------------------
// Tree building with the mock (Stan's base_nuts_test)

TEST(NutsBuildTree, ConstantMomentumDepth3) {
  mock_backend backend(2);
  mock_nuts sampler(backend, 0, 0);
  sampler.set_nominal_stepsize(1);
  sampler.sample_stepsize();
  set_start(sampler, 0, 1.5);
  tree_args a(backend);
  a.rho_start = 1.5;  // rho = z_init.p
  const double H0 = -0.1;

  const bool valid = a.build(sampler, 3, H0, 1);
  EXPECT_TRUE(valid);
  EXPECT_EQ(1.5 * (a.n_leapfrog + 1), a.rho());
  EXPECT_EQ(1.5, val(*a.p_begin)[0]);
  EXPECT_EQ(1.5, val(*a.p_begin)[1]);  // labelled with q after the first step
  EXPECT_EQ(1.5, val(*a.p_end)[0]);
  EXPECT_EQ(12, val(*a.p_end)[1]);  // q after the eighth step
  EXPECT_EQ(8 * 1.5, val(*sampler.z().q)[0]);
  EXPECT_EQ(1.5, val(*sampler.z().p)[0]);
  EXPECT_EQ(8, a.n_leapfrog);
  EXPECT_DOUBLE_EQ(H0 + std::log(8.0), a.log_sum_weight);
  EXPECT_DOUBLE_EQ(std::exp(H0) * 8, a.sum_metro_prob);
  EXPECT_FALSE(sampler.divergent());
}

TEST(NutsBuildTree, RhoAggregation) {
  mock_backend backend(2);
  mock_nuts sampler(backend, 0, 0);
  sampler.set_nominal_stepsize(1);
  sampler.sample_stepsize();
  set_start(sampler, 0, 1.5);
  tree_args a(backend);
  a.rho_start = 1.5;
  a.build(sampler, 3, -0.1, 1);

  const double m = 1.5;
  const std::vector<double> expected = {
      // Each triple: init half + first state of the final half, final half + last state of the
      // initial half, then the merged subtree (Stan checks the merged subtree first; the checks
      // are pure, and the merged sum, formed last, overwrites the initial half's). Depth-1
      // subtrees, a depth-2 one, twice; then the depth-3 tree.
      2 * m, 2 * m, 2 * m, 2 * m, 2 * m, 2 * m, 3 * m, 3 * m, 4 * m,
      2 * m, 2 * m, 2 * m, 2 * m, 2 * m, 2 * m, 3 * m, 3 * m, 4 * m,
      5 * m, 5 * m, 8 * m};
  EXPECT_EQ(sampler.rho_values, expected);
}

TEST(NutsBuildTree, RecordedEdgesInsideASubtree) {
  // The recorded edges are the positions of the states the checks compare.
  mock_backend backend(2);
  mock_nuts sampler(backend, 0, 0);
  sampler.set_nominal_stepsize(1);
  sampler.sample_stepsize();
  set_start(sampler, 0, 1.5);
  tree_args a(backend);
  a.build(sampler, 2, 0, 1);
  const double m = 1.5;
  // States at q = 1, 2, 3, 4 (×m). Depth-1 subtrees {1,2} and {3,4}, then the depth-2 tree;
  // each subtree's checks across its halves come before the check around it.
  const std::vector<double> minus = {1 * m, 1 * m, 1 * m, 3 * m, 3 * m, 3 * m, 1 * m, 2 * m,
                                     1 * m};
  const std::vector<double> plus = {2 * m, 2 * m, 2 * m, 4 * m, 4 * m, 4 * m, 3 * m, 4 * m,
                                    4 * m};
  EXPECT_EQ(sampler.minus_positions, minus);
  EXPECT_EQ(sampler.plus_positions, plus);
}

TEST(NutsBuildTree, BackwardBuildMirrors) {
  mock_backend backend(2);
  mock_nuts sampler(backend, 0, 0);
  sampler.set_nominal_stepsize(1);
  sampler.sample_stepsize();
  set_start(sampler, 0, 1.5);
  tree_args a(backend);
  a.build(sampler, 1, 0, -1);
  EXPECT_EQ(val(*a.p_begin)[1], -1.5);  // first state of the integration order
  EXPECT_EQ(val(*a.p_end)[1], -3.0);
  EXPECT_EQ(val(*sampler.z().q)[0], -3.0);
  EXPECT_EQ(a.rho(), 3.0);  // momenta are summed, not velocities
}

TEST(NutsBuildTree, DivergentLeafInvalidatesTheSubtree) {
  // Stan's divergence_test: V jumps relative to H0 = 0; only h - H0 > 1000 diverges.
  mock_backend backend(2);
  mock_nuts sampler(backend, 0, 0);
  sampler.set_nominal_stepsize(1);
  sampler.sample_stepsize();
  set_start(sampler, 0, 1.5);
  backend.script = {750, 250, -750};  // log p, so h = 0 - log p
  tree_args a(backend);
  auto leaf = [&] { return a.build(sampler, 0, 0, 1); };
  EXPECT_TRUE(leaf());
  EXPECT_FALSE(sampler.divergent());
  EXPECT_TRUE(leaf());
  EXPECT_FALSE(sampler.divergent());
  backend.script[2] = -1000.5;
  EXPECT_FALSE(leaf());
  EXPECT_TRUE(sampler.divergent());
}

TEST(NutsBuildTree, NonFiniteLogDensityIsAnInfinitePotential) {
  mock_backend backend(2);
  mock_nuts sampler(backend, 0, 0);
  sampler.set_nominal_stepsize(1);
  sampler.sample_stepsize();
  set_start(sampler, 0, 1.5);
  backend.script = {-inf};
  tree_args a(backend);
  a.log_sum_weight = 0;
  EXPECT_FALSE(a.build(sampler, 0, 0, 1));
  EXPECT_TRUE(sampler.divergent());
  EXPECT_EQ(a.sum_metro_prob, 0.0);
  EXPECT_EQ(a.log_sum_weight, 0.0);  // weight exp(-inf) = 0 leaves the sum unchanged
}

// ------------------------------------------------------------------------------------------------
// Transitions with the mock

TEST(NutsTransition, RunsToMaxDepthWhenNothingStops) {
  // Also the sampler's memory, vectors of length dim (bench/README.md, memory.sh). A transition
  // to depth d builds subtrees of depth 0 to d - 1, each level from 1 up keeping four: the
  // momenta at the inner ends of its halves, one momentum sum (the initial half's, then the
  // subtree's), and the final half's proposal (q; the state a transition ends at gets its ∇ from
  // an end state or a new evaluation). Beside them: the current and backward states (q, p, ∇;
  // their momenta are those at the trajectory's outer ends), the sample's and the proposal's q,
  // the momenta at the inner ends of the forward and backward parts, the trajectory's momentum
  // sum and the U-turn checks' scratch: 12 (the mock's checks and kinetic energy never ask the
  // backend for M⁻¹p, whose scratch the CPU backend shares with its leapfrog). Stan's layout,
  // with p♯ beside every p, a zeroed momentum sum per half and level, all four edge momenta and
  // whole states as proposals, keeps 9 per level and 25 beside them.
  for (int max_depth : {1, 2, 5, 10}) {
    SCOPED_TRACE("max depth " + std::to_string(max_depth));
    mock_backend backend(2);
    mock_nuts sampler(backend, 7, 0);
    start_unit_steps(sampler, max_depth);
    for (int i = 0; i < 3; ++i) {
      const nuts_transition t = sampler.transition();
      EXPECT_EQ(t.depth, max_depth);
      EXPECT_EQ(t.n_leapfrog, (1 << max_depth) - 1);
      EXPECT_FALSE(t.divergent);
      EXPECT_EQ(t.lp, 0);
      EXPECT_EQ(t.accept_stat, 1);
      EXPECT_EQ(t.stepsize, 1);
    }
    // The selected state is on the trajectories: q = k·1.5 for an integer k within their span.
    const double q = val(sampler.position())[0] / 1.5;
    EXPECT_EQ(q, std::round(q));
    EXPECT_LE(std::abs(q), 3 * ((1 << max_depth) - 1));
    EXPECT_EQ(backend.n_vectors_made, 12u + 4u * static_cast<std::size_t>(max_depth - 1));
    EXPECT_EQ(backend.n_vectors_made, nuts::vectors_held_at_depth(max_depth));
  }
}

/** A seed whose uniforms 0 and 2 of chain 0 are > 0.5: with max depth 2 and no jitter, uniform 0
 *  is the first direction, uniform 1 the top-level multinomial draw and uniform 2 the second
 *  direction. */
std::uint64_t seed_with_two_forward_steps() {
  for (std::uint64_t seed = 0; seed < 1000; ++seed) {
    auto u = [&](std::uint64_t k) {
      return rng::uniform_open(rng::random_bits(seed, rng::stream::sampler, 0, k, 0));
    };
    if (u(0) > 0.5 && u(2) > 0.5) return seed;
  }
  throw std::logic_error("no seed found");
}

TEST(NutsTransition, SampleGradientIsEvaluatedOnlyAwayFromTheEnds) {
  // Proposals keep q but not ∇; the transition takes ∇ from an end state when the sample is one,
  // and evaluates it otherwise (mock: constant momentum, every state equally weighted).
  for (int max_depth : {1, 4}) {
    SCOPED_TRACE("max depth " + std::to_string(max_depth));
    mock_backend backend(2);
    mock_nuts sampler(backend, 11, 0);
    start_unit_steps(sampler, max_depth);
    const int transitions = 40;
    int at_an_end = 0;
    for (int i = 0; i < transitions; ++i) {
      const std::size_t calls = backend.n_gradient_calls;
      sampler.transition();
      const std::size_t made = backend.n_gradient_calls - calls;
      EXPECT_LE(made, 1u);
      if (made == 0) ++at_an_end;
    }
    if (max_depth == 1) {
      // One step: the sample is the start or the new state, both ends.
      EXPECT_EQ(at_an_end, transitions);
    } else {
      // Fifteen steps, sixteen states, two of them ends: most samples need the evaluation.
      EXPECT_LT(at_an_end, transitions / 2);
      EXPECT_GT(transitions - at_an_end, 0);
    }
  }
}

TEST(NutsTransition, EdgeMomentaAtTheTopLevel) {
  // Stan's transition_egde_momenta test, with a seed that extends forward twice.
  mock_backend backend(2);
  mock_nuts sampler(backend, seed_with_two_forward_steps(), 0);
  sampler.set_max_depth(2);
  sampler.set_nominal_stepsize(1);
  set_start(sampler, 0, 1.5);
  const nuts_transition t = sampler.transition();
  EXPECT_EQ(t.depth, 2);
  EXPECT_EQ(t.n_leapfrog, 3);
  EXPECT_FALSE(t.divergent);
  // Two directions, a subtree draw, and two top-level draws (each subtree's weight equals the
  // old trajectory's, 1 then 2, so the biased rule draws).
  EXPECT_EQ(sampler.uniform_draws(), 5u);

  const double m = 1.5;
  ASSERT_EQ(sampler.minus_positions.size(), 9u);
  // Depth 0 at the top level: the start (q = 0) and the first state.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(sampler.minus_positions[i], 0);
    EXPECT_EQ(sampler.plus_positions[i], m);
  }
  // The depth-1 subtree {2m, 3m}.
  for (int i = 3; i < 6; ++i) {
    EXPECT_EQ(sampler.minus_positions[i], 2 * m);
    EXPECT_EQ(sampler.plus_positions[i], 3 * m);
  }
  // Depth 1 at the top level: backward part + first new state, forward part + last old state,
  // then the whole trajectory (Stan checks the whole first; the checks are pure, and the merged
  // sum, formed last, overwrites the old trajectory's).
  EXPECT_EQ(sampler.minus_positions[6], 0);
  EXPECT_EQ(sampler.plus_positions[6], 2 * m);
  EXPECT_EQ(sampler.minus_positions[7], m);
  EXPECT_EQ(sampler.plus_positions[7], 3 * m);
  EXPECT_EQ(sampler.minus_positions[8], 0);
  EXPECT_EQ(sampler.plus_positions[8], 3 * m);
  // Top-level rho: 2m after the first step; then 3m for both extensions, and the whole 4m.
  EXPECT_EQ(sampler.rho_values[0], 2 * m);
  EXPECT_EQ(sampler.rho_values[6], 3 * m);
  EXPECT_EQ(sampler.rho_values[7], 3 * m);
  EXPECT_EQ(sampler.rho_values[8], 4 * m);
}

TEST(NutsTransition, DivergentSubtreeStopsTheTreeAndIsNeverSampled) {
  // Honest kinetic energy (constant p, so H differences are -Δ log p). Leaf 1: log p 0.
  // Leaves 2-3 form the depth-1 subtree: leaf 2 has weight e^50, which would win any
  // multinomial draw, and leaf 3 diverges. The subtree must be discarded.
  for (std::uint64_t seed = 0; seed < 40; ++seed) {
    mock_backend backend(2);
    mock_nuts sampler(backend, seed, 0);
    sampler.mock_hamiltonian = false;
    sampler.set_nominal_stepsize(1);
    set_start(sampler, 0, 1.5);
    backend.script = {0, 50, -2000};
    const nuts_transition t = sampler.transition();
    EXPECT_TRUE(t.divergent);
    EXPECT_EQ(t.depth, 1);
    EXPECT_EQ(t.n_leapfrog, 3);
    EXPECT_EQ(t.lp, 0);  // the start or leaf 1, never leaf 2
    EXPECT_NE(std::abs(val(sampler.position())[0]), 3.0);
    EXPECT_DOUBLE_EQ(t.accept_stat, (1.0 + 1.0 + 0.0) / 3.0);
    EXPECT_DOUBLE_EQ(t.energy, 0.5 * 1.5 * 1.5 - t.lp);
  }
}

TEST(NutsTransition, AcceptStatCountsTheRejectedSubtree) {
  // Leaf 1 log p 0 (Metropolis 1), leaf 2 log p -log 2 (0.5), leaf 3 -log 4 (0.25). The second
  // subtree turns (its internal check fails), so it is rejected, yet its steps are averaged in.
  mock_backend backend(2);
  mock_nuts sampler(backend, 3, 0);
  sampler.mock_hamiltonian = false;
  sampler.set_nominal_stepsize(1);
  set_start(sampler, 0, 1.5);
  backend.script = {0, -std::log(2.0), -std::log(4.0)};
  sampler.fail_at = {3};  // the first check inside the depth-1 subtree
  const nuts_transition t = sampler.transition();
  EXPECT_FALSE(t.divergent);
  EXPECT_EQ(t.depth, 1);  // not incremented for the rejected subtree
  EXPECT_EQ(t.n_leapfrog, 3);
  EXPECT_DOUBLE_EQ(t.accept_stat, (1.0 + 0.5 + 0.25) / 3.0);
  EXPECT_EQ(t.lp, 0);
  EXPECT_EQ(sampler.rho_values.size(), 6u);  // all three checks run even after one fails
}

TEST(NutsTransition, TopLevelUTurnCountsTheDepth) {
  mock_backend backend(2);
  mock_nuts sampler(backend, 3, 0);
  sampler.set_nominal_stepsize(1);
  set_start(sampler, 0, 1.5);
  sampler.fail_at = {2};  // the third top-level check after the first subtree
  const nuts_transition t = sampler.transition();
  EXPECT_EQ(t.depth, 1);
  EXPECT_EQ(t.n_leapfrog, 1);
  EXPECT_EQ(sampler.rho_values.size(), 3u);
}

TEST(NutsTransition, JitterStaysInRange) {
  mock_backend backend(2);
  mock_nuts sampler(backend, 5, 0);
  sampler.set_max_depth(1);
  sampler.set_nominal_stepsize(2);
  sampler.set_stepsize_jitter(0.5);
  set_start(sampler, 0, 1.5);
  double lo = 10, hi = 0;
  for (int i = 0; i < 200; ++i) {
    const double e = sampler.transition().stepsize;
    lo = std::min(lo, e);
    hi = std::max(hi, e);
  }
  EXPECT_GE(lo, 1.0);
  EXPECT_LE(hi, 3.0);
  EXPECT_LT(lo, 1.2);
  EXPECT_GT(hi, 2.8);
  EXPECT_EQ(sampler.nominal_stepsize(), 2);
}

TEST(NutsTransition, LogSumExp) {
  EXPECT_EQ(log_sum_exp(-inf, 2.0), 2.0);
  EXPECT_EQ(log_sum_exp(2.0, -inf), 2.0);
  EXPECT_EQ(log_sum_exp(-inf, -inf), -inf);
  EXPECT_DOUBLE_EQ(log_sum_exp(0.0, 0.0), std::log(2.0));
  EXPECT_DOUBLE_EQ(log_sum_exp(1000.0, 1000.0), 1000.0 + std::log(2.0));
}

// ------------------------------------------------------------------------------------------------
// Real densities on the CPU backend

/** Independent normals N(mean_i, sd_i²); log p = -∞ where q_0 > upper (a hard wall), with the
 *  wall written as NaN, -inf or a domain_error in turn. */
class normal_density final : public detail::log_density_function {
 public:
  normal_density(std::vector<double> mean, std::vector<double> sd, double upper = inf)
      : mean_(std::move(mean)), sd_(std::move(sd)), upper_(upper) {}
  std::size_t dim() const noexcept override { return mean_.size(); }
  double log_density_grad(const double* q, double* grad) const override {
    if (q[0] > upper_) {
      const int kind = static_cast<int>(std::floor(q[0] * 7.0)) % 3;
      if (kind == 0) throw std::domain_error("outside the support");
      return kind == 1 ? std::nan("") : -inf;
    }
    double lp = 0;
    for (std::size_t i = 0; i < mean_.size(); ++i) {
      const double z = (q[i] - mean_[i]) / sd_[i];
      lp -= 0.5 * z * z;
      grad[i] = -z / sd_[i];
    }
    return lp;
  }

 private:
  std::vector<double> mean_, sd_;
  double upper_;
};

/** log p = 0 everywhere: an improper posterior. */
class flat_density final : public detail::log_density_function {
 public:
  std::size_t dim() const noexcept override { return 2; }
  double log_density_grad(const double*, double* grad) const override {
    grad[0] = grad[1] = 0;
    return 0;
  }
};

/** Finite only where q_0 > 1.5 (so most uniform(-2, 2) initial values are rejected), or nowhere. */
class picky_density final : public detail::log_density_function {
 public:
  explicit picky_density(bool anywhere) : anywhere_(anywhere) {}
  std::size_t dim() const noexcept override { return 2; }
  double log_density_grad(const double* q, double* grad) const override {
    grad[0] = grad[1] = 0;
    if (!anywhere_ || q[0] <= 1.5) return -inf;
    return -0.5 * q[1] * q[1];
  }

 private:
  bool anywhere_;
};

struct recorder final : chain_callbacks {
  std::vector<nuts_draw> draws;
  std::vector<adaptation_info> adaptations;
  std::vector<std::string> messages;
  int stop_after = -1;
  void on_draw(const nuts_draw& d) override { draws.push_back(d); }
  void on_adaptation_end(const adaptation_info& info) override { adaptations.push_back(info); }
  void on_message(const std::string& text) override { messages.push_back(text); }
  bool stop_requested() override {
    return stop_after >= 0 && static_cast<int>(draws.size()) >= stop_after;
  }
};

detail::cpu_backend make_cpu(std::shared_ptr<const detail::log_density_function> d) {
  return detail::cpu_backend(std::move(d));
}

TEST(NutsStepsizeHeuristic, CrossesAcceptanceOf08AndKeepsThePosition) {
  auto backend = make_cpu(std::make_shared<normal_density>(std::vector<double>{0, 0, 0},
                                                           std::vector<double>{0.1, 0.2, 0.1}));
  nuts sampler(backend, 11, 0);
  const double q[3] = {0.05, -0.1, 0.02};
  const double lp = sampler.seed_position(q);
  sampler.set_nominal_stepsize(1);
  sampler.init_stepsize();
  const double eps = sampler.nominal_stepsize();
  // Started at 1 on a scale-0.1 target: it must have halved, to a power of two.
  EXPECT_LT(eps, 1);
  EXPECT_EQ(std::log2(eps), std::round(std::log2(eps)));
  EXPECT_GT(eps, 1e-3);
  std::vector<double> after(3);
  backend.copy_to_host(sampler.position(), after.data());
  EXPECT_EQ(after, std::vector<double>(q, q + 3));
  EXPECT_EQ(sampler.log_density(), lp);
}

TEST(NutsStepsizeHeuristic, ImproperPosteriorThrows) {
  auto backend = make_cpu(std::make_shared<flat_density>());
  nuts sampler(backend, 1, 0);
  const double q[2] = {0, 0};
  sampler.seed_position(q);
  sampler.set_nominal_stepsize(1);
  try {
    sampler.init_stepsize();
    FAIL() << "expected a throw";
  } catch (const hbglm::error& e) {
    EXPECT_NE(std::string(e.what()).find("Posterior is improper"), std::string::npos);
  }
}

TEST(NutsStepsizeHeuristic, SkippedForExtremeStepSizes) {
  auto backend = make_cpu(std::make_shared<flat_density>());
  nuts sampler(backend, 1, 0);
  const double q[2] = {0, 0};
  sampler.seed_position(q);
  sampler.set_nominal_stepsize(2e7);
  sampler.init_stepsize();
  EXPECT_EQ(sampler.nominal_stepsize(), 2e7);
  EXPECT_EQ(sampler.momentum_draws(), 0u);
}

TEST(NutsTransition, NonFiniteRegionIsRejectedNeverFatal) {
  // A wall at q_0 = 0.5 inside N(0, 1): log p there is NaN, -inf or a domain_error.
  auto backend = make_cpu(
      std::make_shared<normal_density>(std::vector<double>{0, 0}, std::vector<double>{1, 1}, 0.5));
  nuts_options o;
  o.num_warmup = 150;
  o.num_samples = 200;
  o.seed = 17;
  recorder r;
  chain_setup setup;
  setup.init = {0.0, 0.0};
  const chain_result res = mcmc::run_chain(backend, o, 0, r, setup);
  ASSERT_EQ(r.draws.size(), 350u);
  int n_divergent = 0;
  for (const auto& d : r.draws) {
    EXPECT_LE(d.q[0], 0.5);
    EXPECT_TRUE(std::isfinite(d.lp));
    n_divergent += d.divergent;
  }
  EXPECT_GT(n_divergent, 0);
  EXPECT_EQ(res.n_samples_done, 200u);
}

// ------------------------------------------------------------------------------------------------
// The chain driver

std::shared_ptr<const detail::log_density_function> small_normal() {
  return std::make_shared<normal_density>(std::vector<double>{1, -2, 0.5},
                                          std::vector<double>{1, 3, 0.2});
}

TEST(RunChain, ReportsEveryIterationAndTheAdaptation) {
  auto backend = make_cpu(small_normal());
  nuts_options o;
  o.num_warmup = 200;
  o.num_samples = 100;
  o.seed = 5;
  recorder r;
  const chain_result res = run_chain(backend, o, 2, r);
  ASSERT_EQ(r.draws.size(), 300u);
  for (std::size_t i = 0; i < r.draws.size(); ++i) {
    EXPECT_EQ(r.draws[i].iteration, i);
    EXPECT_EQ(r.draws[i].warmup, i < 200);
    EXPECT_EQ(r.draws[i].q.size(), 3u);
    EXPECT_GE(r.draws[i].treedepth, 0);
    EXPECT_LE(r.draws[i].treedepth, 10);
    EXPECT_GE(r.draws[i].n_leapfrog, 1);
    EXPECT_LE(r.draws[i].n_leapfrog, 1023);
  }
  ASSERT_EQ(r.adaptations.size(), 1u);
  EXPECT_EQ(r.adaptations[0].stepsize, res.stepsize);
  // Sampling uses the adapted step size (no jitter).
  EXPECT_EQ(r.draws[250].stepsize, res.stepsize);
  EXPECT_EQ(r.adaptations[0].diag.size(), 3u);
  // The variances came from the windows: 0.04 for sd 0.2 versus 9 for sd 3.
  EXPECT_LT(r.adaptations[0].diag[2], 0.2);
  EXPECT_GT(r.adaptations[0].diag[1], 2.0);
  EXPECT_EQ(res.inv_metric.diag, r.adaptations[0].diag);
  EXPECT_EQ(res.init.size(), 3u);
  for (double x : res.init) {
    EXPECT_GT(x, -2);
    EXPECT_LT(x, 2);
  }
}

TEST(RunChain, WarmupStartsFromTheGivenInverseMetric) {
  // chain_setup::initial_inv_metric replaces the unit metric warmup starts from (CmdStan's metric
  // file). With 15 warmup iterations (< 20: no adaptation window) it is the metric sampling uses,
  // dense block included; the heuristic's first step size differs from the unit metric's. A
  // wrong size or a non-positive entry is refused.
  for (metric_kind kind : {metric_kind::diag, metric_kind::dense_diag}) {
    auto backend = make_cpu(small_normal());
    nuts_options o;
    o.num_warmup = 15;
    o.num_samples = 5;
    o.seed = 4;
    o.metric = kind;
    chain_setup setup;
    setup.n_dense_globals = 2;
    setup.initial_inv_metric = {1.0, 9.0, 0.04};
    recorder given, unit;
    const chain_result res = run_chain(backend, o, 1, given, setup);
    if (kind == metric_kind::diag) {
      EXPECT_EQ(res.inv_metric.diag, setup.initial_inv_metric);
    } else {
      EXPECT_EQ(res.inv_metric.dense, (std::vector<double>{1.0, 0.0, 0.0, 9.0}));
      EXPECT_EQ(res.inv_metric.diag, std::vector<double>{0.04});
    }
    setup.initial_inv_metric.clear();
    run_chain(backend, o, 1, unit, setup);
    EXPECT_NE(given.draws[0].stepsize, unit.draws[0].stepsize);
  }
  auto backend = make_cpu(small_normal());
  nuts_options o;
  chain_setup bad;
  bad.initial_inv_metric = {1.0, 1.0};
  recorder r;
  EXPECT_THROW(run_chain(backend, o, 1, r, bad), option_error);
  bad.initial_inv_metric = {1.0, 0.0, 1.0};
  EXPECT_THROW(run_chain(backend, o, 1, r, bad), option_error);
}

TEST(RunChain, SameSeedSameDrawsOtherChainOtherDraws) {
  for (metric_kind kind : {metric_kind::diag, metric_kind::dense, metric_kind::dense_diag}) {
    nuts_options o;
    o.num_warmup = 120;
    o.num_samples = 60;
    o.seed = 99;
    o.metric = kind;
    o.stepsize_jitter = 0.1;
    chain_setup setup;
    setup.n_dense_globals = 2;
    recorder a, b, c;
    auto ba = make_cpu(small_normal());
    auto bb = make_cpu(small_normal());
    auto bc = make_cpu(small_normal());
    run_chain(ba, o, 1, a, setup);
    run_chain(bb, o, 1, b, setup);
    run_chain(bc, o, 2, c, setup);
    ASSERT_EQ(a.draws.size(), b.draws.size());
    bool any_difference = false;
    for (std::size_t i = 0; i < a.draws.size(); ++i) {
      EXPECT_EQ(a.draws[i].q, b.draws[i].q);
      EXPECT_EQ(a.draws[i].lp, b.draws[i].lp);
      EXPECT_EQ(a.draws[i].accept_stat, b.draws[i].accept_stat);
      EXPECT_EQ(a.draws[i].stepsize, b.draws[i].stepsize);
      EXPECT_EQ(a.draws[i].n_leapfrog, b.draws[i].n_leapfrog);
      EXPECT_EQ(a.draws[i].energy, b.draws[i].energy);
      any_difference |= a.draws[i].q != c.draws[i].q;
    }
    EXPECT_TRUE(any_difference);
    ASSERT_EQ(a.adaptations.size(), 1u);
    EXPECT_EQ(a.adaptations[0].n_dense, kind == metric_kind::diag    ? 0u
                                        : kind == metric_kind::dense ? 3u
                                                                     : 2u);
    EXPECT_EQ(a.adaptations[0].dense, b.adaptations[0].dense);
  }
}

TEST(RunChain, ThinningAndNoWarmup) {
  auto backend = make_cpu(small_normal());
  nuts_options o;
  o.num_warmup = 0;
  o.num_samples = 10;
  o.thin = 3;
  o.stepsize = 0.25;
  recorder r;
  const chain_result res = run_chain(backend, o, 0, r);
  ASSERT_EQ(r.draws.size(), 4u);  // iterations 0, 3, 6, 9
  EXPECT_EQ(r.draws[1].iteration, 3u);
  EXPECT_TRUE(r.adaptations.empty());  // no warmup: no adaptation and no heuristic
  EXPECT_EQ(res.stepsize, 0.25);
  EXPECT_EQ(r.draws[0].stepsize, 0.25);
}

TEST(RunChain, ShortWarmupWarnsAndStillAdapts) {
  auto backend = make_cpu(small_normal());
  nuts_options o;
  o.num_warmup = 100;
  o.num_samples = 0;
  recorder r;
  run_chain(backend, o, 0, r);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_NE(r.messages[0].find("15%/75%/10%"), std::string::npos);
  ASSERT_EQ(r.adaptations.size(), 1u);
  EXPECT_NE(r.adaptations[0].diag[1], 1.0);  // the window 15..89 updated the metric
}

TEST(RunChain, StopRequestEndsEarly) {
  auto backend = make_cpu(small_normal());
  nuts_options o;
  o.num_warmup = 50;
  o.num_samples = 50;
  recorder r;
  r.stop_after = 20;
  const chain_result res = run_chain(backend, o, 0, r);
  EXPECT_TRUE(res.interrupted);
  EXPECT_EQ(r.draws.size(), 20u);
  EXPECT_TRUE(r.adaptations.empty());
}

TEST(RunChain, InitializationRetriesThenFails) {
  {
    auto backend = make_cpu(std::make_shared<picky_density>(true));
    nuts_options o;
    o.num_warmup = 0;
    o.num_samples = 1;
    recorder r;
    const chain_result res = run_chain(backend, o, 0, r);
    EXPECT_GT(res.init[0], 1.5);
    EXPECT_GE(r.messages.size(), 1u);  // P(first try accepted) = 1/8; this seed needs retries
    for (const auto& m : r.messages) EXPECT_NE(m.find("Rejecting initial value"), std::string::npos);
  }
  {
    auto backend = make_cpu(std::make_shared<picky_density>(false));
    nuts_options o;
    recorder r;
    try {
      run_chain(backend, o, 0, r);
      FAIL() << "expected a throw";
    } catch (const hbglm::error& e) {
      EXPECT_NE(std::string(e.what()).find("after 100 attempts"), std::string::npos);
    }
    EXPECT_EQ(r.messages.size(), 100u);
    EXPECT_TRUE(r.draws.empty());
  }
  {
    auto backend = make_cpu(std::make_shared<picky_density>(false));
    nuts_options o;
    o.init_radius = 0;  // one try at zero
    recorder r;
    EXPECT_THROW(run_chain(backend, o, 0, r), hbglm::error);
    EXPECT_EQ(r.messages.size(), 1u);
  }
}

TEST(RunChain, InitialValuesAreDrawnAroundTheCentersWithinTheScales) {
  // q_i = center_i + R scale_i (2u - 1), with the same uniforms as without scales; R = 0 starts
  // at the centers themselves (model::initial_values_from_data), not at Stan's zeros.
  nuts_options o;
  o.num_warmup = 0;
  o.num_samples = 1;
  o.seed = 11;
  chain_setup plain, scaled;
  plain.init_centers = scaled.init_centers = {0.5, -1.0, 2.0};
  scaled.init_scales = {0.1, 3.0, 1e-4};
  recorder r;
  auto backend = make_cpu(small_normal());
  const std::vector<double> from_plain = run_chain(backend, o, 1, r, plain).init;
  const std::vector<double> from_scaled = run_chain(backend, o, 1, r, scaled).init;
  ASSERT_EQ(from_scaled.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const double offset = from_scaled[i] - scaled.init_centers[i];
    EXPECT_LE(std::fabs(offset), o.init_radius * scaled.init_scales[i]);
    EXPECT_NEAR(offset / scaled.init_scales[i], from_plain[i] - plain.init_centers[i], 1e-9);
  }
  o.init_radius = 0;
  EXPECT_EQ(run_chain(backend, o, 1, r, scaled).init, scaled.init_centers);
  EXPECT_EQ(run_chain(backend, o, 1, r, plain).init, (std::vector<double>{0.0, 0.0, 0.0}));
  scaled.init_scales = {1.0};
  EXPECT_THROW(run_chain(backend, o, 1, r, scaled), option_error);
  plain.init_centers = {1.0, 2.0};
  EXPECT_THROW(run_chain(backend, o, 1, r, plain), option_error);
}

TEST(RunChain, RejectsBadOptionsAndInitSizes) {
  auto backend = make_cpu(small_normal());
  recorder r;
  nuts_options o;
  o.delta = 1.0;
  EXPECT_THROW(run_chain(backend, o, 0, r), option_error);
  o = nuts_options{};
  o.thin = 0;
  EXPECT_THROW(run_chain(backend, o, 0, r), option_error);
  o = nuts_options{};
  chain_setup setup;
  setup.init = {1.0};
  EXPECT_THROW(run_chain(backend, o, 0, r, setup), option_error);
  o.metric = metric_kind::dense_diag;
  setup = chain_setup{};
  setup.n_dense_globals = 4;
  EXPECT_THROW(run_chain(backend, o, 0, r, setup), option_error);
}

TEST(NutsOptions, StanServicesDefaults) {
  const nuts_options o;
  EXPECT_EQ(o.max_depth, 10);
  EXPECT_EQ(o.max_delta_h, 1000);
  EXPECT_EQ(o.stepsize, 1);
  EXPECT_EQ(o.stepsize_jitter, 0);
  EXPECT_EQ(o.delta, 0.8);
  EXPECT_EQ(o.gamma, 0.05);
  EXPECT_EQ(o.kappa, 0.75);
  EXPECT_EQ(o.t0, 10);
  EXPECT_EQ(o.init_buffer, 75);
  EXPECT_EQ(o.term_buffer, 50);
  EXPECT_EQ(o.window, 25);
  EXPECT_EQ(o.num_warmup, 1000);
  EXPECT_EQ(o.num_samples, 1000);
  EXPECT_EQ(o.thin, 1);
  EXPECT_EQ(o.init_radius, 2);
  EXPECT_EQ(o.metric, metric_kind::diag);
  EXPECT_NO_THROW(validate(o));
  EXPECT_EQ(parse_metric_kind("dense_diag"), metric_kind::dense_diag);
  EXPECT_EQ(to_string(metric_kind::dense), "dense");
  EXPECT_THROW(parse_metric_kind("full"), option_error);
}

}  // namespace
}  // namespace hbglm::mcmc
