#include "mcmc/run_chain.hpp"

#include <cmath>
#include <sstream>
#include <string>

#include "hbglm/error.hpp"
#include "kernels/rng.cuh"
#include "mcmc/adapt/metric_adaptation.hpp"
#include "mcmc/adapt/stepsize_adaptation.hpp"
#include "mcmc/nuts.hpp"

namespace hbglm::mcmc {
namespace {

std::size_t dense_block_size(metric_kind kind, std::size_t dim, std::size_t n_globals) {
  switch (kind) {
    case metric_kind::diag:
      return 0;
    case metric_kind::dense:
      return dim;
    case metric_kind::dense_diag:
      return n_globals;
  }
  return 0;
}

adaptation_info make_adaptation_info(double stepsize, metric_kind kind,
                                     const detail::inv_metric& m) {
  adaptation_info info;
  info.stepsize = stepsize;
  info.metric = kind;
  info.n_dense = m.n_dense;
  info.dense = m.dense;
  info.diag = m.diag;
  return info;
}

}  // namespace

// stan/services/util/initialize.hpp, for random or user-given unconstrained values.
std::vector<double> find_initial_values(detail::backend& backend, const nuts_options& options,
                                        std::uint32_t chain, const chain_setup& setup,
                                        chain_callbacks& callbacks) {
  const std::size_t dim = backend.dim();
  // Each of these is empty (not given) or has dim entries.
  const auto check_size = [dim](const std::vector<double>& values, const char* what) {
    if (!values.empty() && values.size() != dim) {
      throw option_error(std::string(what) + " have " + std::to_string(values.size()) +
                         " entries; the model has " + std::to_string(dim) + " parameters");
    }
  };
  check_size(setup.init, "initial values");
  check_size(setup.init_centers, "initial value centers");
  check_size(setup.init_scales, "initial value scales");
  const bool user_init = !setup.init.empty();
  const bool zero_init = options.init_radius == 0.0;
  // With scales (a guess from the data), R = 0 starts at the guess; without, at Stan's zeros.
  const bool start_at_centers =
      zero_init && !setup.init_scales.empty() && !setup.init_centers.empty();
  const int max_tries = (user_init || zero_init) ? 1 : 100;

  std::vector<double> q(dim, 0.0);
  std::vector<double> grad_host(dim);
  auto q_vec = backend.make_vector();
  auto grad = backend.make_vector();

  for (int attempt = 0; attempt < max_tries; ++attempt) {
    if (user_init) {
      q = setup.init;
    } else if (start_at_centers) {
      q = setup.init_centers;
    } else if (!zero_init) {
      for (std::size_t i = 0; i < dim; ++i) {
        const double u = rng::uniform_open(rng::random_bits(
            options.seed, rng::stream::init, chain, static_cast<std::uint64_t>(attempt), i));
        const double scale = setup.init_scales.empty() ? 1.0 : setup.init_scales[i];
        q[i] = options.init_radius * scale * (2.0 * u - 1.0) +
               (setup.init_centers.empty() ? 0.0 : setup.init_centers[i]);
      }
    }
    backend.copy_from_host(q.data(), *q_vec);
    const double lp = backend.log_density_grad(*q_vec, *grad);
    if (!std::isfinite(lp)) {
      callbacks.on_message(
          "Rejecting initial value: Log probability evaluates to log(0), i.e. negative "
          "infinity. Sampling can't start from this initial value.");
      continue;
    }
    backend.copy_to_host(*grad, grad_host.data());
    double sum = 0;
    for (double g : grad_host) sum += g;
    if (!std::isfinite(sum)) {
      callbacks.on_message(
          "Rejecting initial value: Gradient evaluated at the initial value is not finite. "
          "Sampling can't start from this initial value.");
      continue;
    }
    return q;
  }

  std::ostringstream msg;
  msg << "Initialization failed";
  if (user_init) {
    msg << ": the log density or its gradient is not finite at the given initial values.";
  } else if (start_at_centers) {
    msg << ": the log density or its gradient is not finite at the initial values guessed from "
           "the data (init_radius = 0).";
  } else if (zero_init) {
    msg << ": the log density or its gradient is not finite at zero (init_radius = 0).";
  } else {
    msg << ": initialization between (-" << options.init_radius << ", " << options.init_radius
        << ") failed after " << max_tries
        << " attempts. Try specifying initial values, reducing ranges of constrained values, or "
           "reparameterizing the model.";
  }
  throw hbglm::error(msg.str());
}

// stan/services/sample/hmc_nuts_*_adapt.hpp and util/run_adaptive_sampler.hpp.
chain_result run_chain(detail::backend& backend, const nuts_options& options, std::uint32_t chain,
                       chain_callbacks& callbacks, const chain_setup& setup) {
  validate(options);
  const std::size_t dim = backend.dim();
  const std::size_t n_dense = dense_block_size(options.metric, dim, setup.n_dense_globals);
  if (n_dense > dim) {
    throw option_error("dense block of " + std::to_string(n_dense) +
                       " parameters exceeds the model's " + std::to_string(dim));
  }
  if (n_dense > 0 && !backend.caps().dense_metric) {
    throw option_error("metric " + to_string(options.metric) +
                       " needs a backend with dense-metric support; this one has none");
  }

  chain_result result;
  result.inv_metric = detail::inv_metric::identity(dim, n_dense);
  const bool adapt = options.adapt_engaged && options.num_warmup > 0;
  if (adapt && !setup.initial_inv_metric.empty()) {
    if (setup.initial_inv_metric.size() != dim) {
      throw option_error("initial inverse metric has " +
                         std::to_string(setup.initial_inv_metric.size()) +
                         " entries; the model has " + std::to_string(dim) + " parameters");
    }
    for (std::size_t i = 0; i < dim; ++i) {
      const double v = setup.initial_inv_metric[i];
      if (!(v > 0.0) || !std::isfinite(v)) {
        throw option_error("initial inverse metric entry " + std::to_string(i) +
                           " is not a positive finite number");
      }
      if (i < n_dense) {
        result.inv_metric.dense[i * n_dense + i] = v;
      } else {
        result.inv_metric.diag[i - n_dense] = v;
      }
    }
  }
  backend.set_inv_metric(result.inv_metric);

  result.init = find_initial_values(backend, options, chain, setup, callbacks);

  nuts sampler(backend, options.seed, chain);
  sampler.set_nominal_stepsize(options.stepsize);
  sampler.set_stepsize_jitter(options.stepsize_jitter);
  sampler.set_max_depth(options.max_depth);
  sampler.set_max_delta_h(options.max_delta_h);
  sampler.seed_position(result.init.data());

  stepsize_adaptation stepsize_adapter;
  stepsize_adapter.set_mu(std::log(10 * options.stepsize));
  stepsize_adapter.set_delta(options.delta);
  stepsize_adapter.set_gamma(options.gamma);
  stepsize_adapter.set_kappa(options.kappa);
  stepsize_adapter.set_t0(options.t0);
  metric_adaptation metric_adapter(dim, n_dense);

  if (adapt) {
    const std::string warning = metric_adapter.set_window_params(
        static_cast<unsigned int>(options.num_warmup),
        static_cast<unsigned int>(options.init_buffer),
        static_cast<unsigned int>(options.term_buffer), static_cast<unsigned int>(options.window));
    if (!warning.empty()) callbacks.on_message(warning);
    sampler.init_stepsize();
  }

  nuts_draw draw;
  draw.q.resize(dim);
  std::size_t iteration = 0;

  auto report = [&](const nuts_transition& t, bool warmup, bool q_on_host) {
    draw.iteration = iteration;
    draw.warmup = warmup;
    if (!q_on_host) backend.copy_to_host(sampler.position(), draw.q.data());
    draw.lp = t.lp;
    draw.accept_stat = t.accept_stat;
    draw.stepsize = t.stepsize;
    draw.treedepth = t.depth;
    draw.n_leapfrog = t.n_leapfrog;
    draw.divergent = t.divergent;
    draw.energy = t.energy;
    callbacks.on_draw(draw);
  };

  // Warmup (generate_transitions with adaptation engaged).
  for (int m = 0; m < options.num_warmup; ++m, ++iteration) {
    if (callbacks.stop_requested()) {
      result.interrupted = true;
      break;
    }
    const nuts_transition t = sampler.transition();
    bool q_on_host = false;
    if (adapt) {
      // adapt_diag_e_nuts::transition: dual averaging, then the metric window with the new
      // position; after a metric update, the heuristic from the current ε, μ = log(10 ε) and a
      // restart (which discards this iteration's dual-averaging update).
      double epsilon = sampler.nominal_stepsize();
      stepsize_adapter.learn_stepsize(epsilon, t.accept_stat);
      sampler.set_nominal_stepsize(epsilon);

      backend.copy_to_host(sampler.position(), draw.q.data());
      q_on_host = true;
      if (metric_adapter.learn_metric(result.inv_metric, draw.q.data())) {
        backend.set_inv_metric(result.inv_metric);
        sampler.init_stepsize();
        stepsize_adapter.set_mu(std::log(10 * sampler.nominal_stepsize()));
        stepsize_adapter.restart();
      }
    }
    ++result.n_warmup_done;
    if (m % options.thin == 0) report(t, true, q_on_host);
  }

  if (adapt && !result.interrupted) {
    // disengage_adaptation: ε = exp(x̄).
    double epsilon = sampler.nominal_stepsize();
    stepsize_adapter.complete_adaptation(epsilon);
    sampler.set_nominal_stepsize(epsilon);
    callbacks.on_adaptation_end(
        make_adaptation_info(epsilon, options.metric, result.inv_metric));
  }

  // Sampling.
  iteration = static_cast<std::size_t>(options.num_warmup);
  for (int m = 0; m < options.num_samples && !result.interrupted; ++m, ++iteration) {
    if (callbacks.stop_requested()) {
      result.interrupted = true;
      break;
    }
    const nuts_transition t = sampler.transition();
    ++result.n_samples_done;
    if (t.divergent) ++result.n_divergent;
    if (t.depth >= options.max_depth) ++result.n_max_treedepth;
    if (m % options.thin == 0) report(t, false, false);
  }

  result.stepsize = sampler.nominal_stepsize();
  return result;
}

}  // namespace hbglm::mcmc
