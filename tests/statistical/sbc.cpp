// Simulation-based calibration harness; see sbc.hpp. Not compiled on its own: the CI test
// (tests/statistical/sbc_test.cpp) and the long-run driver (bench/sbc.cpp) each #include it once.

#include "sbc.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <iomanip>
#include <limits>
#include <memory>
#include <mutex>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "backend/registry.hpp"
#include "hbglm/backend.hpp"
#include "hbglm/problem.hpp"
#include "hbglm/summary.hpp"
#include "hbglm/table.hpp"
#include "kernels/rng.cuh"
#include "mcmc/run_chain.hpp"

namespace hbglm::sbc {
namespace {

constexpr double half_log_two_pi = 0.91893853320467274178;

std::string number_text(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

/** splitmix64: a bijective mixer, for the sampler seeds. */
std::uint64_t mix64(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/** Sequential draws from the counter-based generator: element i of (seed, simulate, key, rep). */
class philox_stream {
 public:
  philox_stream(std::uint64_t seed, std::uint32_t key, std::uint64_t rep)
      : seed_(seed), key_(key), rep_(rep) {}
  /** Uniform on (0, 1). */
  double uniform() {
    return rng::uniform_open(rng::random_bits(seed_, rng::stream::simulate, key_, rep_, next_++));
  }
  /** Standard normal (Box-Muller, cosine branch, from two fresh uniforms). */
  double normal() {
    const double u1 = uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586477 * u2);
  }
  /** Uniform integer in [lo, hi]. */
  std::size_t integer(std::size_t lo, std::size_t hi) {
    const double span = static_cast<double>(hi - lo + 1);
    const auto k = static_cast<std::size_t>(uniform() * span);
    return lo + std::min(k, hi - lo);
  }
  /** Gamma(shape, 1): Marsaglia and Tsang (2000); shape < 1 by Gamma(shape + 1) U^(1/shape). */
  double gamma(double shape) {
    if (shape < 1.0) return gamma(shape + 1.0) * std::pow(uniform(), 1.0 / shape);
    const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      double x, v;
      do {
        x = normal();
        v = 1.0 + c * x;
      } while (v <= 0.0);
      v = v * v * v;
      const double u = uniform();
      if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v;
    }
  }
  /** Beta(a, b) = X / (X + Y), X ~ Gamma(a), Y ~ Gamma(b). */
  double beta(double a, double b) {
    const double x = gamma(a), y = gamma(b);
    return x / (x + y);
  }
  /** Binomial(n, p) as a sum of Bernoulli draws (n is small here). */
  double binomial(int n, double p) {
    int s = 0;
    for (int i = 0; i < n; ++i) s += uniform() < p ? 1 : 0;
    return s;
  }
  /** Poisson(lambda): multiplication of uniforms below 10, Hörmann's (1993) transformed
   *  rejection PTRS above (as numpy's random_poisson_ptrs); exact for any lambda. */
  double poisson(double lambda) {
    if (lambda < 10.0) {
      const double limit = std::exp(-lambda);
      double prod = uniform();
      int k = 0;
      while (prod > limit) {
        prod *= uniform();
        ++k;
      }
      return k;
    }
    const double slam = std::sqrt(lambda), loglam = std::log(lambda);
    const double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
    const double invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2.0);
    for (;;) {
      const double u = uniform() - 0.5, v = uniform();
      const double us = 0.5 - std::fabs(u);
      const double k = std::floor((2.0 * a / us + b) * u + lambda + 0.43);
      if (us >= 0.07 && v <= vr) return k;
      if (k < 0.0 || (us < 0.013 && v > us)) continue;
      if (std::log(v) + std::log(invalpha) - std::log(a / (us * us) + b) <=
          -lambda + k * loglam - std::lgamma(k + 1.0)) {
        return k;
      }
    }
  }

 private:
  std::uint64_t seed_;
  std::uint32_t key_;
  std::uint64_t rep_;
  std::uint64_t next_ = 0;
};

/** log(1 + e^x) without overflow. */
double log1p_exp(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

/** A simulated data set and its true parameter values. */
struct simulated {
  std::size_t n = 0, n_groups = 0;
  std::vector<double> x, y, trials;
  std::vector<std::size_t> g;  ///< 0-based group of each row
  double intercept_centered = 0, b_x = 0, sd0 = 0, sd1 = 0, cor = 0, sigma = 1;
  std::vector<double> u0, u1;  ///< per group: intercept and slope effects
  double x_mean = 0;
};

simulated simulate(const case_spec& c, std::uint64_t seed, std::size_t case_id, std::size_t rep) {
  philox_stream r(seed, static_cast<std::uint32_t>(case_id), rep);
  simulated s;
  s.n = r.integer(c.min_obs, c.max_obs);
  s.n_groups = r.integer(c.min_groups, c.max_groups);
  s.x.resize(s.n);
  s.g.resize(s.n);
  for (std::size_t i = 0; i < s.n; ++i) {
    s.x[i] = r.normal();
    // Every group appears: the first J rows cycle through them, the others are uniform.
    s.g[i] = i < s.n_groups ? i : r.integer(0, s.n_groups - 1);
  }
  double sum = 0;
  for (double v : s.x) sum += v;
  s.x_mean = sum / static_cast<double>(s.n);

  const prior_scales& p = c.sim_prior;
  s.intercept_centered = p.intercept * r.normal();
  s.b_x = p.b * r.normal();
  // Half-normal(0, s), or s·Rayleigh(1) = s·sqrt(-2 log U) for the density ∝ sd·N+(sd; 0, s).
  auto draw_sd = [&] {
    return p.sd_times_sd ? p.sd * std::sqrt(-2.0 * std::log(r.uniform()))
                         : p.sd * std::fabs(r.normal());
  };
  s.sd0 = draw_sd();
  if (c.varying_slope) {
    s.sd1 = draw_sd();
    s.cor = 2.0 * r.beta(p.lkj_eta, p.lkj_eta) - 1.0;
  }
  if (c.fam == family::gaussian) s.sigma = p.sigma * std::fabs(r.normal());
  s.u0.resize(s.n_groups);
  s.u1.assign(s.n_groups, 0.0);
  for (std::size_t j = 0; j < s.n_groups; ++j) {
    const double z0 = r.normal();
    s.u0[j] = s.sd0 * z0;
    if (c.varying_slope) {
      const double z1 = r.normal();
      s.u1[j] = s.sd1 * (s.cor * z0 + std::sqrt(1.0 - s.cor * s.cor) * z1);
    }
  }
  s.y.resize(s.n);
  if (c.fam == family::binomial) s.trials.resize(s.n);
  for (std::size_t i = 0; i < s.n; ++i) {
    const std::size_t j = s.g[i];
    const double eta = s.intercept_centered + s.b_x * (s.x[i] - s.x_mean) + s.u0[j] +
                       s.u1[j] * s.x[i];
    switch (c.fam) {
      case family::gaussian:
        s.y[i] = eta + s.sigma * r.normal();
        break;
      case family::bernoulli:
        s.y[i] = r.uniform() < 1.0 / (1.0 + std::exp(-eta)) ? 1.0 : 0.0;
        break;
      case family::binomial: {
        const int n_trials = static_cast<int>(r.integer(1, static_cast<std::size_t>(c.max_trials)));
        s.trials[i] = n_trials;
        s.y[i] = r.binomial(n_trials, 1.0 / (1.0 + std::exp(-eta)));
        break;
      }
      case family::poisson:
        s.y[i] = r.poisson(std::exp(eta));
        break;
    }
  }
  return s;
}

column numeric_column(const std::string& name, std::vector<double> v) {
  column col;
  col.name = name;
  col.is_numeric = true;
  col.missing.assign(v.size(), 0);
  col.numbers = std::move(v);
  return col;
}

table make_table(const simulated& s) {
  table t;
  t.source = "sbc";
  std::vector<double> g(s.n);
  for (std::size_t i = 0; i < s.n; ++i) g[i] = static_cast<double>(s.g[i] + 1);  // codes 1..J
  t.columns = {numeric_column("y", s.y), numeric_column("x", s.x), numeric_column("g", g)};
  if (!s.trials.empty()) t.columns.push_back(numeric_column("n", s.trials));
  for (std::size_t i = 0; i < s.n; ++i) t.line_of_row.push_back(i + 2);
  return t;
}

/** Log likelihood of the simulated y at linear predictor eta (all constants included). */
double log_likelihood(family fam, const simulated& s, const std::vector<double>& eta, double sigma) {
  double ll = 0;
  for (std::size_t i = 0; i < s.n; ++i) {
    const double y = s.y[i], e = eta[i];
    switch (fam) {
      case family::gaussian: {
        const double r = (y - e) / sigma;
        ll += -half_log_two_pi - std::log(sigma) - 0.5 * r * r;
        break;
      }
      case family::bernoulli:
        ll += y * e - log1p_exp(e);
        break;
      case family::binomial: {
        const double n = s.trials[i];
        ll += std::lgamma(n + 1) - std::lgamma(y + 1) - std::lgamma(n - y + 1) + y * e -
              n * log1p_exp(e);
        break;
      }
      case family::poisson:
        ll += y * e - std::exp(e) - std::lgamma(y + 1);
        break;
    }
  }
  return ll;
}

/** Where each tracked quantity and each group effect sits in the model's output row. */
struct output_layout {
  std::vector<std::size_t> tracked;      ///< per tracked quantity except log_lik: output index
  std::size_t b_intercept = 0, b_x = 0, sigma = 0;
  std::vector<std::size_t> r0, r1;       ///< per group: index of r_g.j.1 and r_g.j.2
  bool has_sigma = false, slope = false;
};

std::size_t index_of(const std::vector<std::string>& names, const std::string& name) {
  const auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) throw std::runtime_error("SBC: the model has no output column " + name);
  return static_cast<std::size_t>(it - names.begin());
}

output_layout make_layout(const model& m, const case_spec& c, std::size_t n_groups) {
  const std::vector<std::string> names = m.output_names();
  const std::vector<std::string> tracked = tracked_quantities(c);
  output_layout lay;
  for (const auto& q : tracked) {
    if (q != "log_lik") lay.tracked.push_back(index_of(names, q));
  }
  lay.b_intercept = index_of(names, "b_Intercept");
  lay.b_x = index_of(names, "b_x");
  lay.has_sigma = c.fam == family::gaussian;
  if (lay.has_sigma) lay.sigma = index_of(names, "sigma");
  lay.slope = c.varying_slope;
  // The grouping column holds the codes 1..J, which sort numerically: level j is code j.
  const auto labels = m.output_group_labels();
  if (labels.size() != 1 || labels[0].levels.size() != n_groups) {
    throw std::runtime_error("SBC: unexpected group-effect layout");
  }
  for (std::size_t j = 0; j < n_groups; ++j) {
    if (labels[0].levels[j] != std::to_string(j + 1)) {
      throw std::runtime_error("SBC: level " + std::to_string(j + 1) + " is labelled " +
                               labels[0].levels[j]);
    }
    lay.r0.push_back(index_of(names, "r_g." + std::to_string(j + 1) + ".1"));
    if (c.varying_slope) lay.r1.push_back(index_of(names, "r_g." + std::to_string(j + 1) + ".2"));
  }
  return lay;
}

/** Collects every post-warmup draw's tracked quantities (log_lik last). */
class sbc_collector final : public chain_callbacks {
 public:
  sbc_collector(const model& m, const output_layout& lay, const simulated& s, family fam)
      : m_(m), lay_(lay), s_(s), fam_(fam), row_(m.output_names().size()), eta_(s.n),
        values(lay.tracked.size() + 1) {}
  void on_draw(const nuts_draw& d) override {
    if (d.warmup) return;
    m_.write_constrained(d.q.data(), row_.data());
    for (std::size_t k = 0; k < lay_.tracked.size(); ++k) values[k].push_back(row_[lay_.tracked[k]]);
    const double b0 = row_[lay_.b_intercept], b1 = row_[lay_.b_x];
    for (std::size_t i = 0; i < s_.n; ++i) {
      const std::size_t j = s_.g[i];
      eta_[i] = b0 + b1 * s_.x[i] + row_[lay_.r0[j]];
      if (lay_.slope) eta_[i] += row_[lay_.r1[j]] * s_.x[i];
    }
    values.back().push_back(log_likelihood(fam_, s_, eta_, lay_.has_sigma ? row_[lay_.sigma] : 1.0));
  }
  const model& m_;
  const output_layout& lay_;
  const simulated& s_;
  family fam_;
  std::vector<double> row_, eta_;
  std::vector<std::vector<double>> values;  ///< values[quantity][iteration]
};

/** The true value of each tracked quantity. */
std::vector<double> true_values(const case_spec& c, const simulated& s) {
  std::vector<double> eta(s.n);
  for (std::size_t i = 0; i < s.n; ++i) {
    const std::size_t j = s.g[i];
    eta[i] = s.intercept_centered + s.b_x * (s.x[i] - s.x_mean) + s.u0[j] + s.u1[j] * s.x[i];
  }
  std::vector<double> v;
  for (const auto& q : tracked_quantities(c)) {
    if (q == "b_Intercept") v.push_back(s.intercept_centered - s.x_mean * s.b_x);
    else if (q == "b_x") v.push_back(s.b_x);
    else if (q == "sd_g__Intercept") v.push_back(s.sd0);
    else if (q == "sd_g__x") v.push_back(s.sd1);
    else if (q == "cor_g__Intercept__x") v.push_back(s.cor);
    else if (q == "sigma") v.push_back(s.sigma);
    else if (q == "r_g.1.1") v.push_back(s.u0[0]);
    else if (q == "r_g.2.1") v.push_back(s.u0[1]);
    else if (q == "r_g.1.2") v.push_back(s.u1[0]);
    else if (q == "log_lik") v.push_back(log_likelihood(c.fam, s, eta, s.sigma));
    else throw std::logic_error("SBC: no true value for " + q);
  }
  return v;
}

}  // namespace

std::vector<std::string> prior_statements(const prior_scales& s, family fam, bool correlated) {
  std::vector<std::string> p = {"Intercept ~ normal(0, " + number_text(s.intercept) + ")",
                                "b ~ normal(0, " + number_text(s.b) + ")",
                                "sd ~ normal(0, " + number_text(s.sd) + ")"};
  if (fam == family::gaussian) p.push_back("sigma ~ normal(0, " + number_text(s.sigma) + ")");
  if (correlated) p.push_back("cor ~ lkj(" + number_text(s.lkj_eta) + ")");
  return p;
}

std::string case_spec::formula() const {
  const std::string lhs = fam == family::binomial ? "y | trials(n)" : "y";
  return lhs + " ~ x + (" + (varying_slope ? "1 + x" : "1") + " | g)";
}

std::vector<case_spec> standard_cases() {
  std::vector<case_spec> cases;
  for (family fam : {family::gaussian, family::bernoulli, family::binomial, family::poisson}) {
    for (bool slope : {false, true}) {
      case_spec c;
      c.name = to_string(fam) + (slope ? "_slope" : "_intercept");
      c.fam = fam;
      c.varying_slope = slope;
      cases.push_back(c);
    }
  }
  return cases;
}

std::vector<case_spec> centered_cases() {
  std::vector<case_spec> cases;
  const auto add = [&](family fam, bool slope, const std::string& suffix,
                       const std::string& centered) {
    case_spec c;
    c.name = to_string(fam) + (slope ? "_slope" : "_intercept") + suffix;
    c.fam = fam;
    c.varying_slope = slope;
    c.min_obs = 300;
    c.max_obs = 600;
    c.centered = centered;
    cases.push_back(c);
  };
  for (family fam : {family::gaussian, family::poisson}) {
    for (bool slope : {false, true}) add(fam, slope, "_centered", "all");
  }
  // (1 + x | g) with its intercept alone centered (term_parameters::n_centered 1): the slope's
  // effects read the centered intercepts through z_Intercept = r / sd (kernels/group_effects.cuh).
  for (family fam : {family::gaussian, family::poisson}) add(fam, true, "_partial", "g:Intercept");
  return cases;
}

std::vector<std::string> tracked_quantities(const case_spec& c) {
  std::vector<std::string> q = {"b_Intercept", "b_x", "sd_g__Intercept"};
  if (c.varying_slope) {
    q.push_back("sd_g__x");
    q.push_back("cor_g__Intercept__x");
  }
  if (c.fam == family::gaussian) q.push_back("sigma");
  q.push_back("r_g.1.1");
  if (c.varying_slope) q.push_back("r_g.1.2");
  else q.push_back("r_g.2.1");
  q.push_back("log_lik");
  return q;
}

replication_result run_replication(const case_spec& c, std::size_t case_id, std::size_t rep,
                                   const run_options& options) {
  const auto start = std::chrono::steady_clock::now();
  replication_result out;
  out.rep = rep;
  try {
    const simulated s = simulate(c, options.seed, case_id, rep);
    out.n_obs = s.n;
    out.n_groups = s.n_groups;
    out.truth = true_values(c, s);

    problem_spec spec;
    spec.formula = c.formula();
    spec.family = to_string(c.fam);
    spec.priors = prior_statements(c.fit_prior, c.fam, c.varying_slope);
    spec.centered = c.centered;
    const problem p = make_problem(make_table(s), spec);
    const model& m = *p.model_ptr;
    const output_layout lay = make_layout(m, c, s.n_groups);

    nuts_options nuts;
    nuts.num_warmup = options.warmup;
    nuts.num_samples = static_cast<int>(options.n_draws) * options.thin;
    nuts.delta = options.adapt_delta;
    nuts.max_depth = options.max_depth;
    nuts.metric = options.metric;
    nuts.seed = mix64(options.seed ^ mix64((static_cast<std::uint64_t>(case_id) << 40) ^ rep));
    sbc_collector collector(m, lay, s, c.fam);
    auto backend = detail::make_backend(backend_kind::cpu, p.model_ptr);
    mcmc::chain_setup setup;
    setup.n_dense_globals = m.n_globals();
    const mcmc::chain_result chain = mcmc::run_chain(*backend, nuts, 1, collector, setup);
    out.n_divergent = chain.n_divergent;
    out.n_max_treedepth = chain.n_max_treedepth;
    out.stepsize = chain.stepsize;

    // Rank of the truth among the kept draws (every thin-th), ties broken by a uniform draw.
    philox_stream tie(options.seed ^ 0x5BC5BC5BCull, static_cast<std::uint32_t>(case_id), rep);
    out.min_ess_bulk = std::numeric_limits<double>::infinity();
    for (std::size_t k = 0; k < out.truth.size(); ++k) {
      const std::vector<double>& all = collector.values[k];
      if (all.size() != options.n_draws * static_cast<std::size_t>(options.thin)) {
        throw std::runtime_error("SBC: the chain ended early");
      }
      int below = 0, equal = 0;
      for (std::size_t i = static_cast<std::size_t>(options.thin) - 1; i < all.size();
           i += static_cast<std::size_t>(options.thin)) {
        below += all[i] < out.truth[k] ? 1 : 0;
        equal += all[i] == out.truth[k] ? 1 : 0;
      }
      out.ranks.push_back(below + static_cast<int>(tie.integer(0, static_cast<std::size_t>(equal))));
      const double ess = posterior::ess_bulk({all});
      if (std::isfinite(ess)) out.min_ess_bulk = std::min(out.min_ess_bulk, ess);
    }
  } catch (const std::exception& e) {
    out.ranks.clear();
    out.error = e.what();
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

case_result run_case(const case_spec& c, std::size_t case_id, const run_options& options) {
  const auto start = std::chrono::steady_clock::now();
  case_result result;
  result.spec = c;
  result.case_id = case_id;
  result.quantities = tracked_quantities(c);
  result.n_draws = options.n_draws;
  result.reps.resize(options.n_reps);
  unsigned n_threads = options.n_threads ? options.n_threads : std::thread::hardware_concurrency();
  n_threads = std::max(1u, std::min<unsigned>(n_threads, static_cast<unsigned>(options.n_reps)));
  std::atomic<std::size_t> next{0};
  std::size_t done = 0;
  std::mutex progress_mutex;
  auto worker = [&] {
    for (;;) {
      const std::size_t i = next++;
      if (i >= options.n_reps) return;
      result.reps[i] = run_replication(c, case_id, options.first_rep + i, options);
      if (options.progress) {
        std::lock_guard<std::mutex> lock(progress_mutex);
        options.progress(++done, options.n_reps);
      }
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < n_threads; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

double chi_square_upper_tail(double x, double df) {
  const double a = 0.5 * df, z = 0.5 * x;
  if (!(z > 0.0)) return 1.0;
  const double log_prefix = a * std::log(z) - z - std::lgamma(a);
  if (z < a + 1.0) {
    // P(a, z) by its series; Q = 1 - P.
    double term = 1.0 / a, sum = term;
    for (int n = 1; n < 10000; ++n) {
      term *= z / (a + n);
      sum += term;
      if (std::fabs(term) < std::fabs(sum) * 1e-16) break;
    }
    return std::max(0.0, 1.0 - sum * std::exp(log_prefix));
  }
  // Q(a, z) by its continued fraction (modified Lentz; Numerical Recipes' gcf).
  const double tiny = 1e-300;
  double b = z + 1.0 - a, c = 1.0 / tiny, d = 1.0 / b, h = d;
  for (int i = 1; i < 10000; ++i) {
    const double an = -i * (i - a);
    b += 2.0;
    d = an * d + b;
    if (std::fabs(d) < tiny) d = tiny;
    c = b + an / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1.0) < 1e-16) break;
  }
  return std::exp(log_prefix) * h;
}

uniformity_test chi_square_uniformity(const std::vector<int>& ranks, std::size_t n_draws,
                                      std::size_t n_bins) {
  if (n_bins == 0 || (n_draws + 1) % n_bins != 0) {
    throw std::invalid_argument("SBC: L + 1 = " + std::to_string(n_draws + 1) +
                                " ranks do not split into " + std::to_string(n_bins) + " bins");
  }
  uniformity_test t;
  t.counts.assign(n_bins, 0);
  const std::size_t per_bin = (n_draws + 1) / n_bins;
  for (int r : ranks) {
    if (r < 0 || static_cast<std::size_t>(r) > n_draws) {
      throw std::invalid_argument("SBC: rank " + std::to_string(r) + " outside 0.." +
                                  std::to_string(n_draws));
    }
    ++t.counts[static_cast<std::size_t>(r) / per_bin];
  }
  const double expected = static_cast<double>(ranks.size()) / static_cast<double>(n_bins);
  for (std::size_t c : t.counts) {
    const double d = static_cast<double>(c) - expected;
    t.chi_square += d * d / expected;
  }
  t.df = static_cast<int>(n_bins) - 1;
  t.p_value = ranks.empty() ? 1.0 : chi_square_upper_tail(t.chi_square, t.df);
  return t;
}

void correct_p_values(std::vector<uniformity_test>& tests) {
  const double m = static_cast<double>(tests.size());
  std::vector<std::size_t> order(tests.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return tests[a].p_value < tests[b].p_value; });
  double running = 0.0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    uniformity_test& t = tests[order[k]];
    t.p_bonferroni = std::min(1.0, m * t.p_value);
    running = std::max(running, std::min(1.0, (m - static_cast<double>(k)) * t.p_value));
    t.p_holm = running;
  }
}

std::vector<uniformity_test> test_uniformity(const std::vector<case_result>& results,
                                             std::size_t n_bins) {
  std::vector<uniformity_test> tests;
  for (const case_result& r : results) {
    for (std::size_t k = 0; k < r.quantities.size(); ++k) {
      std::vector<int> ranks;
      for (const auto& rep : r.reps) {
        if (rep.error.empty()) ranks.push_back(rep.ranks[k]);
      }
      uniformity_test t = chi_square_uniformity(ranks, r.n_draws, n_bins);
      t.case_name = r.spec.name;
      t.quantity = r.quantities[k];
      tests.push_back(std::move(t));
    }
  }
  correct_p_values(tests);
  return tests;
}

void write_ranks_csv(std::ostream& out, const std::vector<case_result>& results, bool header) {
  if (header) {
    out << "case,rep,quantity,rank,L,truth,n_obs,n_groups,n_divergent,n_max_treedepth,"
           "min_ess_bulk,stepsize,seconds\n";
  }
  out << std::setprecision(10);
  for (const case_result& r : results) {
    for (const auto& rep : r.reps) {
      if (!rep.error.empty()) continue;
      for (std::size_t k = 0; k < r.quantities.size(); ++k) {
        out << r.spec.name << ',' << rep.rep << ',' << r.quantities[k] << ',' << rep.ranks[k]
            << ',' << r.n_draws << ',' << rep.truth[k] << ',' << rep.n_obs << ','
            << rep.n_groups << ',' << rep.n_divergent << ',' << rep.n_max_treedepth << ','
            << rep.min_ess_bulk << ',' << rep.stepsize << ',' << rep.seconds << '\n';
      }
    }
  }
}

void print_report(std::ostream& out, const std::vector<case_result>& results,
                  const std::vector<uniformity_test>& tests) {
  char line[512];
  std::snprintf(line, sizeof line, "%-20s %6s %6s %9s %10s %8s %8s %9s %7s\n", "case", "reps",
                "failed", "div_reps", "div_trans", "maxdepth", "med_s", "med_ess", "ess<L");
  out << line;
  for (const case_result& r : results) {
    std::size_t failed = 0, div_reps = 0, div = 0, depth = 0, low_ess = 0;
    std::vector<double> secs, ess;
    for (const auto& rep : r.reps) {
      if (!rep.error.empty()) {
        ++failed;
        continue;
      }
      div_reps += rep.n_divergent > 0 ? 1 : 0;
      div += rep.n_divergent;
      depth += rep.n_max_treedepth;
      secs.push_back(rep.seconds);
      ess.push_back(rep.min_ess_bulk);
      low_ess += rep.min_ess_bulk < static_cast<double>(r.n_draws) ? 1 : 0;
    }
    auto median = [](std::vector<double> v) {
      if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    std::snprintf(line, sizeof line, "%-20s %6zu %6zu %9zu %10zu %8zu %8.3f %9.0f %7zu\n",
                  r.spec.name.c_str(), r.reps.size(), failed, div_reps, div, depth, median(secs),
                  median(ess), low_ess);
    out << line;
    for (const auto& rep : r.reps) {
      if (!rep.error.empty()) out << "  rep " << rep.rep << " failed: " << rep.error << '\n';
    }
  }
  out << '\n';
  std::snprintf(line, sizeof line, "%-20s %-22s %9s %4s %11s %11s %11s  %s\n", "case", "quantity",
                "chi2", "df", "p", "p_bonf", "p_holm", "bin counts");
  out << line;
  for (const auto& t : tests) {
    std::ostringstream counts;
    for (std::size_t i = 0; i < t.counts.size(); ++i) counts << (i ? " " : "") << t.counts[i];
    std::snprintf(line, sizeof line, "%-20s %-22s %9.2f %4d %11.3g %11.3g %11.3g  %s\n",
                  t.case_name.c_str(), t.quantity.c_str(), t.chi_square, t.df, t.p_value,
                  t.p_bonferroni, t.p_holm, counts.str().c_str());
    out << line;
  }
}

}  // namespace hbglm::sbc
