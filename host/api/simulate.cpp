#include "hbglm/simulate.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "hbglm/error.hpp"
#include "kernels/glm_family.cuh"
#include "kernels/rng.cuh"

namespace hbglm {
namespace {

/// The largest data set: the design keeps Z's offsets in 32-bit integers, and the election
/// model has 9 non-zeros per row (about 2^31 / 9 = 238 million rows); 10^8 leaves a margin and
/// is already 47 GB of table.
constexpr std::size_t max_rows = 100'000'000;

/// The `chain` word of the Philox counter names what is drawn: the data set in the high 16 bits,
/// the variable in the low ones. The `counter` word is the unit (row, respondent, state,
/// candidate, group) and the `index` the element within the unit, so every value has its own
/// counter and never depends on what else was drawn (rng.cuh's layout).
constexpr std::uint32_t election_set = 1u << 16;
constexpr std::uint32_t varying_slope_set = 2u << 16;

enum election_variable : std::uint32_t {
  respondent_attributes = 1,  ///< words: state, educ, inc, relig, nonwhite, age
  respondent_effect = 2,      ///< normal 0
  state_values = 3,           ///< normals: intercept, 5 slopes, potus2016
  dem_effect = 4,             ///< normal 0
  rep_effect = 5,             ///< normal 0
  row_candidates = 6,         ///< words: dem, rep
  row_noise_predictors = 7,   ///< normals: V1..V40
  row_response = 8            ///< gaussian: normal 0; bernoulli: word 0 as a uniform
};

// simulate.hpp documents V(k+1) of row i as rng::standard_normal(seed, simulate, 0x10007, i, k).
static_assert((election_set | row_noise_predictors) == 0x10007u, "documented in simulate.hpp");

enum varying_slope_variable : std::uint32_t {
  group_effect = 1,  ///< normals: z0, z1
  obs_values = 2,    ///< normal 0: x (normal 1 unused); word 2 (call 1, word 0): group
  obs_response = 3   ///< gaussian: normal 0; bernoulli: word 0 as a uniform
};

/// Words 2·call and 2·call + 1 of rng::random_bits(seed, simulate, chain, unit, ·) from one
/// Philox call (random_bits computes one call per word and keeps half of it).
struct word_pair {
  std::uint64_t w[2];
};

word_pair random_words(std::uint64_t seed, std::uint32_t chain, std::uint64_t unit,
                       std::uint64_t call) {
  // The counter layout documented at rng::random_bits.
  const rng::philox_block c{{static_cast<std::uint32_t>(call), chain,
                             static_cast<std::uint32_t>(unit),
                             static_cast<std::uint32_t>(unit >> 32) ^
                                 (static_cast<std::uint32_t>(rng::stream::simulate) << 24)}};
  const rng::philox_block r = rng::philox4x32_10(c, static_cast<std::uint32_t>(seed),
                                                 static_cast<std::uint32_t>(seed >> 32));
  return {{(static_cast<std::uint64_t>(r.v[0]) << 32) | r.v[1],
           (static_cast<std::uint64_t>(r.v[2]) << 32) | r.v[3]}};
}

/// Box-Muller on a word pair, with rng::standard_normal's expressions (so the same bits).
void box_muller(const word_pair& b, double* out) {
  const double u1 = rng::uniform_open(b.w[0]);
  const double u2 = rng::uniform_open(b.w[1]);
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 6.283185307179586476925286766559 * u2;
  out[0] = radius * std::cos(angle);
  out[1] = radius * std::sin(angle);
}

/// Elements 2·pair and 2·pair + 1 of rng::standard_normal(seed, simulate, chain, unit, ·),
/// bitwise the same, from one Philox call instead of four.
void normal_pair(std::uint64_t seed, std::uint32_t chain, std::uint64_t unit, std::uint64_t pair,
                 double* out) {
  box_muller(random_words(seed, chain, unit, pair), out);
}

/// A uniform integer in [0, k) from the high 32 bits of @p bits (Lemire's multiply-shift
/// without rejection: each value's probability is within 2^-32 of 1/k, far below what any use
/// here can detect). Integer arithmetic only, so the discrete columns are identical on every
/// platform.
std::uint32_t uniform_below(std::uint64_t bits, std::uint32_t k) {
  return static_cast<std::uint32_t>(((bits >> 32) * k) >> 32);
}

void check_size(std::size_t n_obs, const char* what) {
  if (n_obs == 0) throw option_error(std::string(what) + ": n_obs must be at least 1");
  if (n_obs > max_rows) {
    throw option_error(std::string(what) + ": n_obs = " + std::to_string(n_obs) +
                       " is above the limit of " + std::to_string(max_rows) +
                       " rows (32-bit sparse indices in the design)");
  }
}

void check_family(family f, const char* what) {
  if (f != family::gaussian && f != family::bernoulli) {
    throw option_error(std::string(what) + ": family " + to_string(f) +
                       " is not simulated; use gaussian or bernoulli");
  }
}

/// A table with these numeric columns, n rows, no missing cells.
table make_table(std::size_t n, const std::vector<std::string>& names, std::string source) {
  table t;
  t.source = std::move(source);
  t.columns.resize(names.size());
  for (std::size_t c = 0; c < names.size(); ++c) {
    t.columns[c].name = names[c];
    t.columns[c].is_numeric = true;
    t.columns[c].numbers.resize(n);
    t.columns[c].missing.assign(n, 0);
  }
  t.line_of_row.resize(n);
  for (std::size_t i = 0; i < n; ++i) t.line_of_row[i] = i + 2;
  return t;
}

/// The response of one observation from its linear predictor and the unit's two response
/// words: gaussian eta + sigma e with e the first normal of the pair (Box-Muller), bernoulli
/// [u < inv_logit(eta)] with u the uniform of the first word.
double draw_response(family f, double eta, double sigma, const word_pair& w) {
  if (f == family::gaussian) {
    double e[2];
    box_muller(w, e);
    return eta + sigma * e[0];
  }
  return rng::uniform_open(w.w[0]) < kernels::inv_logit(eta) ? 1.0 : 0.0;
}

/// Root mean square of effects drawn about their known mean 0.
double root_mean_square(const std::vector<double>& u) {
  double s = 0.0;
  for (double v : u) s += v * v;
  return u.empty() ? std::nan("") : std::sqrt(s / static_cast<double>(u.size()));
}

}  // namespace

table simulate_election(const election_options& options, election_effects* effects) {
  using sizes = election_sizes;
  using truth = election_truth;
  check_size(options.n_obs, "simulate_election");
  check_family(options.response_family, "simulate_election");
  const std::size_t n = options.n_obs;
  const std::uint64_t seed = options.seed;
  const std::size_t n_respondents = (n + sizes::n_questions - 1) / sizes::n_questions;

  // Group effects.
  election_effects e;
  e.state_intercept.resize(sizes::n_states);
  e.state_age.resize(sizes::n_states);
  e.state_educ.resize(sizes::n_states);
  e.state_inc.resize(sizes::n_states);
  e.state_relig.resize(sizes::n_states);
  e.state_potus2016.resize(sizes::n_states);
  std::vector<double> potus2016(sizes::n_states);
  for (std::size_t s = 0; s < sizes::n_states; ++s) {
    double z[8];
    for (std::uint64_t pair = 0; pair < 4; ++pair) {
      normal_pair(seed, election_set | state_values, s, pair, z + 2 * pair);
    }
    e.state_intercept[s] = truth::sd_state_intercept * z[0];
    e.state_age[s] = truth::sd_state_age * z[1];
    e.state_educ[s] = truth::sd_state_educ * z[2];
    e.state_inc[s] = truth::sd_state_inc * z[3];
    e.state_relig[s] = truth::sd_state_relig * z[4];
    e.state_potus2016[s] = truth::sd_state_potus2016 * z[5];
    potus2016[s] = z[6];
  }
  e.dem.resize(sizes::n_dem);
  for (std::size_t c = 0; c < sizes::n_dem; ++c) {
    double z[2];
    normal_pair(seed, election_set | dem_effect, c, 0, z);
    e.dem[c] = truth::sd_dem * z[0];
  }
  e.rep.resize(sizes::n_rep);
  for (std::size_t c = 0; c < sizes::n_rep; ++c) {
    double z[2];
    normal_pair(seed, election_set | rep_effect, c, 0, z);
    e.rep[c] = truth::sd_rep * z[0];
  }
  e.respondent.resize(n_respondents);

  std::vector<std::string> names = {"y",   "respondent", "state",    "dem", "rep",      "educ",
                                    "inc", "relig",      "nonwhite", "age", "potus2016"};
  const std::size_t first_v = names.size();
  for (std::size_t k = 1; k <= sizes::n_noise; ++k) names.push_back("V" + std::to_string(k));
  table t =
      make_table(n, names,
                 "simulate_election(n=" + std::to_string(n) + ", seed=" + std::to_string(seed) +
                     ", family=" + to_string(options.response_family) + ")");
  auto col = [&t](std::size_t c) { return t.columns[c].numbers.data(); };
  double *y = col(0), *respondent = col(1), *state = col(2), *dem = col(3), *rep = col(4),
         *educ = col(5), *inc = col(6), *relig = col(7), *nonwhite = col(8), *age = col(9),
         *potus = col(10);
  double* v[sizes::n_noise];
  for (std::size_t k = 0; k < sizes::n_noise; ++k) v[k] = col(first_v + k);

  auto fill = [&](std::size_t r_begin, std::size_t r_end) {
    for (std::size_t r = r_begin; r < r_end; ++r) {
      // Respondent-level values: the first n_states respondents cover every state.
      const word_pair a0 = random_words(seed, election_set | respondent_attributes, r, 0);
      const word_pair a1 = random_words(seed, election_set | respondent_attributes, r, 1);
      const word_pair a2 = random_words(seed, election_set | respondent_attributes, r, 2);
      const std::uint32_t s =
          r < sizes::n_states ? static_cast<std::uint32_t>(r)
                              : uniform_below(a0.w[0], static_cast<std::uint32_t>(sizes::n_states));
      const double r_educ = (static_cast<double>(uniform_below(a0.w[1], 5)) - 2.0) / 2.0;
      const double r_inc = (static_cast<double>(uniform_below(a1.w[0], 5)) - 2.0) / 2.0;
      const double r_relig = (static_cast<double>(uniform_below(a1.w[1], 4)) - 1.5) / 2.0;
      const double r_nonwhite = uniform_below(a2.w[0], 10) < 3 ? 1.0 : 0.0;
      const double r_age = (18.0 + static_cast<double>(uniform_below(a2.w[1], 73)) - 50.0) / 20.0;
      double z[2];
      normal_pair(seed, election_set | respondent_effect, r, 0, z);
      e.respondent[r] = truth::sd_respondent * z[0];

      // The respondent's part of eta, in a fixed order (the same sums on every platform).
      const double eta_respondent =
          truth::intercept + truth::b_educ * r_educ + truth::b_nonwhite * r_nonwhite +
          truth::b_inc * r_inc + truth::b_relig * r_relig +
          truth::b_educ_nonwhite * r_educ * r_nonwhite +
          truth::b_nonwhite_inc * r_nonwhite * r_inc +
          truth::b_nonwhite_relig * r_nonwhite * r_relig + e.state_intercept[s] + e.respondent[r] +
          e.state_age[s] * r_age + e.state_educ[s] * r_educ + e.state_inc[s] * r_inc +
          e.state_relig[s] * r_relig + e.state_potus2016[s] * potus2016[s];

      const std::size_t end = std::min(n, (r + 1) * sizes::n_questions);
      for (std::size_t i = r * sizes::n_questions; i < end; ++i) {
        respondent[i] = static_cast<double>(r + 1);
        state[i] = static_cast<double>(s + 1);
        educ[i] = r_educ;
        inc[i] = r_inc;
        relig[i] = r_relig;
        nonwhite[i] = r_nonwhite;
        age[i] = r_age;
        potus[i] = potus2016[s];
        const word_pair c = random_words(seed, election_set | row_candidates, i, 0);
        const std::size_t d =
            i < sizes::n_dem ? i : uniform_below(c.w[0], static_cast<std::uint32_t>(sizes::n_dem));
        const std::size_t g =
            i < sizes::n_rep ? i : uniform_below(c.w[1], static_cast<std::uint32_t>(sizes::n_rep));
        dem[i] = static_cast<double>(d + 1);
        rep[i] = static_cast<double>(g + 1);
        double eta_v = 0.0;
        for (std::size_t k = 0; k < sizes::n_noise; k += 2) {
          double pair[2];
          normal_pair(seed, election_set | row_noise_predictors, i, k / 2, pair);
          v[k][i] = pair[0];
          v[k + 1][i] = pair[1];
          eta_v += truth::b_v[k] * pair[0];
          eta_v += truth::b_v[k + 1] * pair[1];
        }
        const double eta = eta_respondent + eta_v + e.dem[d] + e.rep[g];
        y[i] = draw_response(options.response_family, eta, truth::sigma,
                             random_words(seed, election_set | row_response, i, 0));
      }
    }
  };

  // Rows are independent given the (already drawn) state and candidate effects, and every value
  // has its own Philox counter, so the respondents can be split among threads in any way
  // without changing a bit of the result.
  const std::size_t n_threads = std::max<std::size_t>(
      1, std::min<std::size_t>(
             options.n_threads != 0 ? options.n_threads : std::thread::hardware_concurrency(),
             n_respondents / 10000));
  auto range_begin = [&](std::size_t w) { return n_respondents * w / n_threads; };
  std::vector<std::thread> workers;
  std::size_t w = 1;  // range 0 is this thread's
  try {
    for (; w < n_threads; ++w) workers.emplace_back(fill, range_begin(w), range_begin(w + 1));
  } catch (const std::system_error&) {
    // No thread to be had: the ranges not started are filled here, the result is the same.
  }
  fill(range_begin(0), range_begin(1));
  for (std::size_t rest = w; rest < n_threads; ++rest)
    fill(range_begin(rest), range_begin(rest + 1));
  for (auto& worker : workers) worker.join();
  if (effects != nullptr) *effects = std::move(e);
  return t;
}

table simulate_varying_slope(const varying_slope_options& options, varying_slope_effects* effects) {
  using truth = varying_slope_truth;
  check_size(options.n_obs, "simulate_varying_slope");
  check_family(options.response_family, "simulate_varying_slope");
  if (options.n_groups < 2 || options.n_groups > 0x7fffffffu) {
    throw option_error("simulate_varying_slope: n_groups = " + std::to_string(options.n_groups) +
                       " must be between 2 and 2^31 - 1 (a group-level sd needs two groups)");
  }
  const std::size_t n = options.n_obs, n_groups = options.n_groups;
  const std::uint64_t seed = options.seed;

  // u_g = diag(sd) L z_g with L the Cholesky factor of [[1, cor], [cor, 1]].
  const double rho = truth::cor_g_intercept_x;
  const double l11 = std::sqrt(1.0 - rho * rho);
  varying_slope_effects e;
  e.u.resize(2 * n_groups);
  for (std::size_t g = 0; g < n_groups; ++g) {
    double z[2];
    normal_pair(seed, varying_slope_set | group_effect, g, 0, z);
    e.u[2 * g] = truth::sd_g_intercept * z[0];
    e.u[2 * g + 1] = truth::sd_g_x * (rho * z[0] + l11 * z[1]);
  }

  table t = make_table(n, {"y", "g", "x"},
                       "simulate_varying_slope(n=" + std::to_string(n) + ", groups=" +
                           std::to_string(n_groups) + ", seed=" + std::to_string(seed) +
                           ", family=" + to_string(options.response_family) + ")");
  double *y = t.columns[0].numbers.data(), *group = t.columns[1].numbers.data(),
         *x = t.columns[2].numbers.data();
  for (std::size_t i = 0; i < n; ++i) {
    double xs[2];
    normal_pair(seed, varying_slope_set | obs_values, i, 0, xs);
    const word_pair w = random_words(seed, varying_slope_set | obs_values, i, 1);
    const std::size_t g =
        i < n_groups ? i : uniform_below(w.w[0], static_cast<std::uint32_t>(n_groups));
    group[i] = static_cast<double>(g + 1);
    x[i] = xs[0];
    const double eta = truth::intercept + truth::b_x * xs[0] + e.u[2 * g] + e.u[2 * g + 1] * xs[0];
    y[i] = draw_response(options.response_family, eta, truth::sigma,
                         random_words(seed, varying_slope_set | obs_response, i, 0));
  }
  if (effects != nullptr) *effects = std::move(e);
  return t;
}

std::vector<true_parameter> election_true_parameters(family response_family,
                                                     const election_effects& effects) {
  using truth = election_truth;
  check_family(response_family, "election_true_parameters");
  const double none = std::nan("");
  std::vector<true_parameter> p = {{"b_Intercept", truth::intercept, none},
                                   {"b_educ", truth::b_educ, none},
                                   {"b_nonwhite", truth::b_nonwhite, none},
                                   {"b_inc", truth::b_inc, none},
                                   {"b_relig", truth::b_relig, none}};
  for (std::size_t k = 0; k < truth::b_v.size(); ++k) {
    p.push_back({"b_V" + std::to_string(k + 1), truth::b_v[k], none});
  }
  p.push_back({"b_educ:nonwhite", truth::b_educ_nonwhite, none});
  p.push_back({"b_nonwhite:inc", truth::b_nonwhite_inc, none});
  p.push_back({"b_nonwhite:relig", truth::b_nonwhite_relig, none});
  // The group-level terms in the formula's order.
  struct group_sd {
    const char* name;
    double value;
    const std::vector<double>* drawn;
  };
  const group_sd sds[] = {
      {"sd_state__Intercept", truth::sd_state_intercept, &effects.state_intercept},
      {"sd_respondent__Intercept", truth::sd_respondent, &effects.respondent},
      {"sd_dem__Intercept", truth::sd_dem, &effects.dem},
      {"sd_rep__Intercept", truth::sd_rep, &effects.rep},
      {"sd_state__age", truth::sd_state_age, &effects.state_age},
      {"sd_state__educ", truth::sd_state_educ, &effects.state_educ},
      {"sd_state__inc", truth::sd_state_inc, &effects.state_inc},
      {"sd_state__relig", truth::sd_state_relig, &effects.state_relig},
      {"sd_state__potus2016", truth::sd_state_potus2016, &effects.state_potus2016}};
  for (const group_sd& sd : sds) p.push_back({sd.name, sd.value, root_mean_square(*sd.drawn)});
  if (response_family == family::gaussian) p.push_back({"sigma", truth::sigma, none});
  return p;
}

std::vector<true_parameter> varying_slope_true_parameters(family response_family,
                                                          const varying_slope_effects& effects) {
  using truth = varying_slope_truth;
  check_family(response_family, "varying_slope_true_parameters");
  const double none = std::nan("");
  std::vector<double> intercepts, slopes;
  double cross = 0.0;
  for (std::size_t g = 0; 2 * g + 1 < effects.u.size(); ++g) {
    intercepts.push_back(effects.u[2 * g]);
    slopes.push_back(effects.u[2 * g + 1]);
    cross += effects.u[2 * g] * effects.u[2 * g + 1];
  }
  const double rms_intercept = root_mean_square(intercepts), rms_slope = root_mean_square(slopes);
  const double realized_cor =
      cross / (static_cast<double>(intercepts.size()) * rms_intercept * rms_slope);
  std::vector<true_parameter> p = {{"b_Intercept", truth::intercept, none},
                                   {"b_x", truth::b_x, none},
                                   {"sd_g__Intercept", truth::sd_g_intercept, rms_intercept},
                                   {"sd_g__x", truth::sd_g_x, rms_slope},
                                   {"cor_g__Intercept__x", truth::cor_g_intercept_x, realized_cor}};
  if (response_family == family::gaussian) p.push_back({"sigma", truth::sigma, none});
  return p;
}

}  // namespace hbglm
