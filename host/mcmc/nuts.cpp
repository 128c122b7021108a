#include "mcmc/nuts.hpp"

#include <cmath>
#include <limits>
#include <utility>

#include "hbglm/error.hpp"
#include "kernels/rng.cuh"

namespace hbglm::mcmc {
namespace {

constexpr double infinity = std::numeric_limits<double>::infinity();

}  // namespace

// stan/math/prim/fun/log_sum_exp.hpp (two scalars): the argument of log1p(exp(.)) is ≤ 0, so it
// cannot overflow.
double log_sum_exp(double a, double b) noexcept {
  if (a == -infinity) return b;
  if (a == infinity && b == infinity) return infinity;
  if (a > b) return a + std::log1p(std::exp(b - a));
  return b + std::log1p(std::exp(a - b));
}

phase_point phase_point::make(detail::backend& backend) {
  phase_point z;
  z.q = backend.make_vector();
  z.p = backend.make_vector();
  z.grad = backend.make_vector();
  return z;
}

tree_sample tree_sample::make(detail::backend& backend) {
  tree_sample s;
  s.q = backend.make_vector();
  return s;
}

nuts::nuts(detail::backend& backend, std::uint64_t seed, std::uint32_t chain)
    : backend_(backend),
      z_(phase_point::make(backend)),
      seed_(seed),
      chain_(chain),
      z_bck_(phase_point::make(backend)),
      z_sample_(tree_sample::make(backend)),
      z_propose_(tree_sample::make(backend)) {
  for (auto* v : {&p_fwd_bck_, &p_bck_fwd_, &rho_, &rho_scratch_}) {
    *v = backend_.make_vector();
  }
}

nuts::~nuts() = default;

void nuts::set_max_depth(int depth) {
  if (depth > 0) max_depth_ = depth;
}

void nuts::set_stepsize_jitter(double jitter) noexcept {
  if (jitter > 0 && jitter < 1) epsilon_jitter_ = jitter;
}

double nuts::seed_position(const double* q) {
  backend_.copy_from_host(q, *z_.q);
  z_.lp = backend_.log_density_grad(*z_.q, *z_.grad);
  return z_.lp;
}

double nuts::uniform() {
  return rng::uniform_open(
      rng::random_bits(seed_, rng::stream::sampler, chain_, uniform_counter_++, 0));
}

void nuts::draw_momentum(phase_point& z) {
  backend_.draw_momentum(seed_, chain_, momentum_counter_++, *z.p);
}

void nuts::sample_stepsize() {
  epsilon_ = nom_epsilon_;
  if (epsilon_jitter_ != 0) epsilon_ *= 1.0 + epsilon_jitter_ * (2.0 * uniform() - 1.0);
}

bool nuts::compute_criterion(const detail::device_vector& p_minus,
                             const detail::device_vector& p_plus,
                             const detail::device_vector& rho) {
  // Same order and short-circuit as base_nuts::compute_criterion; (M⁻¹p)·rho has the bits of
  // Stan's p_sharp.dot(rho).
  return backend_.inv_metric_dot(p_plus, rho) > 0 && backend_.inv_metric_dot(p_minus, rho) > 0;
}

double nuts::kinetic_energy(const phase_point& z) {
  return 0.5 * backend_.inv_metric_dot(*z.p, *z.p);
}

nuts::tree_level& nuts::level(int depth) {
  const auto index = static_cast<std::size_t>(depth);
  if (levels_.size() <= index) levels_.resize(index + 1);
  if (!levels_[index]) {
    auto l = std::make_unique<tree_level>();
    for (auto* v : {&l->p_init_end, &l->p_final_beg, &l->rho}) {
      *v = backend_.make_vector();
    }
    l->z_propose_final = tree_sample::make(backend_);
    levels_[index] = std::move(l);
  }
  return *levels_[index];
}

detail::device_vector& nuts::subtree_rho(int depth, detail::device_vector& p_end) {
  return depth == 0 ? p_end : *level(depth).rho;
}

void nuts::copy_to_sample(const phase_point& z, double kinetic, long position,
                          tree_sample& sample) {
  backend_.copy(*z.q, *sample.q);
  sample.position = position;
  sample.lp = z.lp;
  sample.kinetic = kinetic;
}

// stan/mcmc/hmc/nuts/base_nuts.hpp transition. z_ plays z_fwd (it is integrated in place when the
// tree grows forward); z_bck_ is the backward end.
nuts_transition nuts::transition() {
  sample_stepsize();

  draw_momentum(z_);
  const double kinetic0 = kinetic_energy(z_);
  const double H0 = kinetic0 - z_.lp;

  backend_.copy(*z_.q, *z_bck_.q);
  backend_.copy(*z_.p, *z_bck_.p);
  backend_.copy(*z_.grad, *z_bck_.grad);
  z_bck_.lp = z_.lp;
  copy_to_sample(z_, kinetic0, 0, z_sample_);
  forward_steps_ = backward_steps_ = 0;

  // The momenta at the inner ends of the forward and backward parts. Those at the outer ends
  // (Stan's p_fwd_fwd and p_bck_bck) are the momenta of z_ and z_bck_, the states there.
  backend_.copy(*z_.p, *p_fwd_bck_);
  backend_.copy(*z_.p, *p_bck_fwd_);
  detail::device_vector& p_fwd_fwd = *z_.p;
  detail::device_vector& p_bck_bck = *z_bck_.p;

  backend_.copy(*z_.p, *rho_);

  double log_sum_weight = 0;  // log(exp(H0 - H0)): the initial state has weight 1
  int n_leapfrog = 0;
  double sum_metro_prob = 0;
  depth_ = 0;
  divergent_ = false;

  while (depth_ < max_depth_) {
    bool valid_subtree = false;
    double log_sum_weight_subtree = -infinity;

    // The new subtree's momentum sum is left in subtree_rho(depth_, ...); rho_ holds the old
    // trajectory's. Stan names them rho_fwd and rho_bck after the side each is on.
    const detail::device_vector* rho_fwd = rho_.get();
    const detail::device_vector* rho_bck = rho_.get();
    if (uniform() > 0.5) {
      // Extend the trajectory forward: the old trajectory becomes the backward part.
      backend_.copy(p_fwd_fwd, *p_bck_fwd_);
      valid_subtree = build_tree(depth_, z_, z_propose_, *p_fwd_bck_, p_fwd_fwd, H0, 1,
                                 n_leapfrog, log_sum_weight_subtree, sum_metro_prob);
      rho_fwd = &subtree_rho(depth_, p_fwd_fwd);
    } else {
      // Extend backward: the old trajectory becomes the forward part.
      backend_.copy(p_bck_bck, *p_fwd_bck_);
      valid_subtree = build_tree(depth_, z_bck_, z_propose_, *p_bck_fwd_, p_bck_bck, H0, -1,
                                 n_leapfrog, log_sum_weight_subtree, sum_metro_prob);
      rho_bck = &subtree_rho(depth_, p_bck_bck);
    }

    // A diverging or turning subtree is never sampled from; its steps still count.
    if (!valid_subtree) break;

    ++depth_;

    // Biased progressive sampling at the top level.
    if (log_sum_weight_subtree > log_sum_weight) {
      std::swap(z_sample_, z_propose_);
    } else {
      const double accept_prob = std::exp(log_sum_weight_subtree - log_sum_weight);
      if (uniform() < accept_prob) std::swap(z_sample_, z_propose_);
    }

    log_sum_weight = log_sum_exp(log_sum_weight, log_sum_weight_subtree);

    // Across the two parts (each extended by the adjacent state of the other), then around the
    // merged trajectory, as in base_nuts; the checks have no side effects, so computing the
    // merged sum last lets it overwrite the old one in place (a + b and b + a have the same bits).
    backend_.add(*rho_bck, *p_fwd_bck_, *rho_scratch_);
    bool persist_criterion = compute_criterion(p_bck_bck, *p_fwd_bck_, *rho_scratch_);

    backend_.add(*rho_fwd, *p_bck_fwd_, *rho_scratch_);
    persist_criterion &= compute_criterion(*p_bck_fwd_, p_fwd_fwd, *rho_scratch_);

    backend_.add(*rho_bck, *rho_fwd, *rho_);
    persist_criterion &= compute_criterion(p_bck_bck, p_fwd_fwd, *rho_);

    if (!persist_criterion) break;
  }

  n_leapfrog_ = n_leapfrog;
  // Averaged over every leapfrog step, including those of rejected subtrees.
  const double accept_prob = sum_metro_prob / static_cast<double>(n_leapfrog);

  // Move to the sampled state (the next transition starts from its q, ∇ and log p). Samples keep
  // q but not ∇ (one vector fewer per tree level). At an end of the trajectory the end state still
  // holds ∇; elsewhere it is evaluated again: at most one gradient per transition, against
  // 2^depth - 1 in the trajectory. The backends are deterministic, so it has the bits the
  // leapfrog step had; log p is the one recorded then.
  std::swap(z_.q, z_sample_.q);
  // At the forward end z_ is that state, with its ∇ already in place.
  if (z_sample_.position == -backward_steps_) {
    backend_.copy(*z_bck_.grad, *z_.grad);
  } else if (z_sample_.position != forward_steps_) {
    backend_.log_density_grad(*z_.q, *z_.grad);
  }
  z_.lp = z_sample_.lp;
  energy_ = z_sample_.kinetic - z_.lp;

  nuts_transition result;
  result.lp = z_.lp;
  result.accept_stat = accept_prob;
  result.stepsize = epsilon_;
  result.depth = depth_;
  result.n_leapfrog = n_leapfrog_;
  result.divergent = divergent_;
  result.energy = energy_;
  return result;
}

// stan/mcmc/hmc/nuts/base_nuts.hpp build_tree. Stan passes a zeroed rho into which the subtree
// adds its momenta; here the subtree leaves its momentum sum in subtree_rho(depth, p_end): the
// same values (0 + x is x, up to the sign of a zero, which no U-turn check can see), without the
// zeroing or one sum vector per half and level.
bool nuts::build_tree(int depth, phase_point& z, tree_sample& z_propose,
                      detail::device_vector& p_beg, detail::device_vector& p_end, double H0,
                      double sign, int& n_leapfrog, double& log_sum_weight,
                      double& sum_metro_prob) {
  if (depth == 0) {
    // A single leaf: one leapfrog step. Its momentum sum is its momentum, left in p_end.
    z.lp = backend_.leapfrog(sign * epsilon_, *z.q, *z.p, *z.grad);
    ++n_leapfrog;
    const long position = sign > 0 ? ++forward_steps_ : -++backward_steps_;

    const double kinetic = kinetic_energy(z);
    double h = kinetic - z.lp;  // V = -log p; log p = -infinity gives h = +infinity
    if (std::isnan(h)) h = infinity;

    if ((h - H0) > max_delta_h_) divergent_ = true;

    log_sum_weight = log_sum_exp(log_sum_weight, H0 - h);

    if (H0 - h > 0) {
      sum_metro_prob += 1;
    } else {
      sum_metro_prob += std::exp(H0 - h);
    }

    copy_to_sample(z, kinetic, position, z_propose);

    backend_.copy(*z.p, p_beg);
    backend_.copy(*z.p, p_end);  // at the trajectory's outer end p_end is z.p: a no-op

    return !divergent_;
  }

  // General recursion. Both halves use the scratch of depth - 1 one after the other; this level's
  // vectors hold what must survive the second half.
  tree_level& l = level(depth);

  // The initial half. Its momentum sum must outlive the final half, which reuses the scratch of
  // depth - 1: it moves into this level's rho (a leaf's sum is p_init_end, which stays).
  double log_sum_weight_init = -infinity;
  const bool valid_init = build_tree(depth - 1, z, z_propose, p_beg, *l.p_init_end, H0, sign,
                                     n_leapfrog, log_sum_weight_init, sum_metro_prob);
  if (!valid_init) return false;
  if (depth > 1) std::swap(l.rho, level(depth - 1).rho);
  const detail::device_vector& rho_init = depth > 1 ? *l.rho : *l.p_init_end;

  // The final half, with its own proposal.
  double log_sum_weight_final = -infinity;
  const bool valid_final =
      build_tree(depth - 1, z, l.z_propose_final, *l.p_final_beg, p_end, H0, sign, n_leapfrog,
                 log_sum_weight_final, sum_metro_prob);
  if (!valid_final) return false;
  const detail::device_vector& rho_final = subtree_rho(depth - 1, p_end);

  // Uniform progressive sampling inside subtrees.
  const double log_sum_weight_subtree = log_sum_exp(log_sum_weight_init, log_sum_weight_final);
  log_sum_weight = log_sum_exp(log_sum_weight, log_sum_weight_subtree);

  if (log_sum_weight_final > log_sum_weight_subtree) {
    std::swap(z_propose, l.z_propose_final);
  } else {
    const double accept_prob = std::exp(log_sum_weight_final - log_sum_weight_subtree);
    if (uniform() < accept_prob) std::swap(z_propose, l.z_propose_final);
  }

  // Between the subtrees: each half extended by the adjacent state of the other.
  backend_.add(rho_init, *l.p_final_beg, *rho_scratch_);
  bool persist_criterion = compute_criterion(p_beg, *l.p_final_beg, *rho_scratch_);

  backend_.add(rho_final, *l.p_init_end, *rho_scratch_);
  persist_criterion &= compute_criterion(*l.p_init_end, p_end, *rho_scratch_);

  // Around the merged subtrees; the sum is this subtree's, left in l.rho for the caller (in place
  // over rho_init when that is l.rho).
  backend_.add(rho_init, rho_final, *l.rho);
  persist_criterion &= compute_criterion(p_beg, p_end, *l.rho);

  return persist_criterion;
}

// stan/mcmc/hmc/base_hmc.hpp init_stepsize.
void nuts::init_stepsize() {
  // The step size is meaningless in a zero-dimensional space.
  if (backend_.dim() == 0) {
    nom_epsilon_ = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  // Skip the heuristic for extreme step sizes.
  if (nom_epsilon_ == 0 || nom_epsilon_ > 1e7 || std::isnan(nom_epsilon_)) return;

  // Stan copies the whole ps_point and re-evaluates the gradient after each reset; restoring the
  // cached log p and gradient gives the same values without the evaluation. Between transitions
  // the backward end z_bck_ is free, so it holds the saved state.
  phase_point& saved = z_bck_;
  backend_.copy(*z_.q, *saved.q);
  backend_.copy(*z_.grad, *saved.grad);
  saved.lp = z_.lp;
  auto restore = [this, &saved] {
    backend_.copy(*saved.q, *z_.q);
    backend_.copy(*saved.grad, *z_.grad);
    z_.lp = saved.lp;
  };
  auto one_step_delta_h = [this] {
    draw_momentum(z_);
    const double H0 = kinetic_energy(z_) - z_.lp;
    z_.lp = backend_.leapfrog(nom_epsilon_, *z_.q, *z_.p, *z_.grad);
    double h = kinetic_energy(z_) - z_.lp;
    if (std::isnan(h)) h = infinity;
    return H0 - h;
  };

  const double log_08 = std::log(0.8);
  const int direction = one_step_delta_h() > log_08 ? 1 : -1;

  while (true) {
    restore();
    const double delta_h = one_step_delta_h();

    if ((direction == 1) && !(delta_h > log_08)) break;
    if ((direction == -1) && !(delta_h < log_08)) break;
    nom_epsilon_ = direction == 1 ? 2.0 * nom_epsilon_ : 0.5 * nom_epsilon_;

    if (nom_epsilon_ > 1e7) {
      restore();
      throw hbglm::error("Posterior is improper. Please check your model.");
    }
    if (nom_epsilon_ == 0) {
      restore();
      throw hbglm::error(
          "No acceptably small step size could be found. Perhaps the posterior is not "
          "continuous?");
    }
  }

  restore();
}

}  // namespace hbglm::mcmc
