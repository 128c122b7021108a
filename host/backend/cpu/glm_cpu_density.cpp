#include "backend/cpu/glm_cpu_density.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/glm_family.cuh"
#include "kernels/group_effects.cuh"

namespace hbglm::detail {
namespace {

kernels::glm_family_id family_id(family f) {
  switch (f) {
    case family::gaussian: return kernels::glm_family_id::gaussian_identity;
    case family::bernoulli: return kernels::glm_family_id::bernoulli_logit;
    case family::binomial: return kernels::glm_family_id::binomial_logit;
    case family::poisson: return kernels::glm_family_id::poisson_log;
  }
  return kernels::glm_family_id::gaussian_identity;
}

/// Xβ and Xᵀr inside the observation pass (observation_pass's kFusedX): β, and where the pass
/// writes its rows' Xᵀr (room for max_fused_coefficients values, the first p of them X's; null:
/// Xβ and Xᵀr are done outside the pass).
struct fused_x {
  std::size_t p = 0;
  const double* beta = nullptr;
  double* xtr = nullptr;
};

/// The pass over observations, instantiated per family so the family switch is outside the loop,
/// and per row length: Z's rows all hold K entries (one per coefficient of each group-level
/// term) and for K up to max_fixed_row_length the inner loops have a compile-time trip count
/// (unrolled, without per-row loop control: 1.14× the gradients per second on InstEval's K = 3
/// rows, 1.0-1.04× on the election model's K = 9); kRowLength 0 reads each row's length from
/// row_ptr. The sums run in the same order either way (the same bits). With kUnitValues every
/// value of Z is 1 (only (1 | g) terms, e.g. lme4's InstEval) and is not read: 1 · x is x
/// exactly, so again the same bits, for 24 fewer bytes a row at three terms (InstEval: 1.3× the
/// gradients per second, session 12).
///
/// For each row i of [begin, end) it forms η_i = (Xβ)_i + (Zu)_i + offset_i, evaluates the
/// family, and scatters r_i = d log p / d η_i along row i of Z into g_u, which must be zero where
/// these rows touch it: Zᵀr over the rows. Each sum of g_u then runs over the rows in order, the
/// order a gather along the rows of transpose(Z) would take, so no copy of Zᵀ is needed. Returns
/// Σ log p and Σ sq_residual over the rows.
///
/// Xβ and Xᵀr: with kFusedX > 0 (2 or 4) the pass forms (Xβ)_i from row i of X itself and sums
/// Xᵀr into @p x.xtr, for designs of a few columns (fuses_x_into_pass: then Xβ and Xᵀr apart
/// cost more than the pass, zeroing η and two matrix-vector products that write and read η for
/// a few products a row; InstEval, session 14); eta_r is not used. Otherwise eta_r[i - begin]
/// holds (Xβ)_i on entry (a vector of the chunk's rows) and the pass overwrites it with r_i (η_i
/// is not read again), for Xᵀr after.
template <kernels::glm_family_id F, int kRowLength, bool kUnitValues, int kFusedX>
void observation_pass(const design& d, std::size_t begin, std::size_t end, double sigma,
                      const double* u, const fused_x& x, double* eta_r, double* g_u,
                      double* log_lik, double* sq_residual) {
  double lp = 0.0, sq = 0.0;
  // The design's arrays as local restrict pointers: otherwise each store into g_u might change
  // the vectors' own pointers, and the compiler reloads them row after row.
  const std::int32_t* __restrict row_ptr = d.Z.row_ptr.data();
  const std::int32_t* __restrict col_idx = d.Z.col_idx.data();
  const double* __restrict z_values = d.Z.values.data();
  const double* __restrict y = d.y.data();
  const double* __restrict offset = d.offset.empty() ? nullptr : d.offset.data();
  const double* __restrict se = d.se.empty() ? nullptr : d.se.data();
  const double* __restrict trials = d.trials.empty() ? nullptr : d.trials.data();
  const double inv_sigma = 1.0 / sigma;
  // kFusedX columns of X, p of them X's and the rest X's first again with β = 0: each row's
  // (Xβ)_i gains exact zeros and the extra sums of Xᵀr are dropped. Loops to that compile-time
  // count, the sums copied out whole, let the compiler keep β and the sums in registers; a loop
  // to the run-time p (or copying out only p sums) keeps the sums in memory, and each row then
  // waits on the last one's store: InstEval 25% slower than the passes apart, against 11%
  // faster this way (session 14). A test of c < p per column costs as much as the saving.
  constexpr int m = kFusedX > 0 ? kFusedX : 1;
  const std::size_t n = d.n_obs, p = x.p;
  const double* __restrict x_data = d.X.data();
  std::size_t x_cols[m] = {};
  double beta[m] = {}, xtr[m] = {};
  if constexpr (kFusedX > 0) {
    for (std::size_t c = 0; c < static_cast<std::size_t>(m); ++c) {
      x_cols[c] = c < p ? c * n : 0;
      beta[c] = c < p ? x.beta[c] : 0.0;
    }
  }
  for (std::size_t i = begin; i < end; ++i) {
    const auto row_begin = kRowLength > 0 ? i * static_cast<std::size_t>(kRowLength)
                                          : static_cast<std::size_t>(row_ptr[i]);
    const auto row_end = kRowLength > 0 ? row_begin + static_cast<std::size_t>(kRowLength)
                                        : static_cast<std::size_t>(row_ptr[i + 1]);
    double zu = 0.0;
    for (std::size_t e = row_begin; e < row_end; ++e) {
      const double u_e = u[static_cast<std::size_t>(col_idx[e])];
      zu += kUnitValues ? u_e : z_values[e] * u_e;
    }
    double x_beta;
    if constexpr (kFusedX > 0) {
      x_beta = x_data[x_cols[0] + i] * beta[0];
      for (int c = 1; c < m; ++c) x_beta += x_data[x_cols[c] + i] * beta[c];
    } else {
      x_beta = eta_r[i - begin];
    }
    const double eta = x_beta + (zu + (offset != nullptr ? offset[i] : 0.0));
    const kernels::glm_observation_terms t =
        kernels::glm_observation(F, y[i], eta, trials != nullptr ? trials[i] : 0.0,
                                 se != nullptr ? 1.0 / se[i] : inv_sigma);
    lp += t.log_lik;
    sq += t.sq_residual;
    if constexpr (kFusedX > 0) {
      for (int c = 0; c < m; ++c) xtr[c] += x_data[x_cols[c] + i] * t.d_eta;
    } else {
      eta_r[i - begin] = t.d_eta;
    }
    for (std::size_t e = row_begin; e < row_end; ++e) {
      const double g_e = kUnitValues ? t.d_eta : z_values[e] * t.d_eta;
      g_u[static_cast<std::size_t>(col_idx[e])] += g_e;
    }
  }
  *log_lik = lp;
  *sq_residual = sq;
  if constexpr (kFusedX > 0) {
    for (int c = 0; c < m; ++c) x.xtr[c] = xtr[c];
  }
}

/// Whether the observation pass forms Xβ and Xᵀr for @p d itself (see max_fused_coefficients).
bool fuses_x_into_pass(const design& d) {
  const std::size_t p = d.n_coefs();
  return p >= 1 && (p <= 2 || (p <= max_fused_coefficients && d.family == family::gaussian));
}

/// Rows of Z with a compile-time length: 1 to this many entries (the election model has 9).
constexpr int max_fixed_row_length = 10;

/// Every row's length when all of Z's rows have the same one (then row_ptr[i] = i K), else 0.
std::size_t uniform_row_length(const csr_matrix& z, std::size_t n_rows) {
  if (n_rows == 0) return 0;
  const auto k = static_cast<std::size_t>(z.row_ptr[1] - z.row_ptr[0]);
  for (std::size_t i = 0; i <= n_rows; ++i) {
    if (static_cast<std::size_t>(z.row_ptr[i]) != i * k) return 0;
  }
  return k;
}

/// Whether every value of Z is 1, as when every group-level term is a (1 | g).
bool all_values_one(const csr_matrix& z) {
  return std::all_of(z.values.begin(), z.values.end(), [](double v) { return v == 1.0; });
}

/// observation_pass for family F with the row length given at run time (0: per row); unit values
/// only with a fixed row length (the constructor asks for both).
template <kernels::glm_family_id F, int kFusedX, int kLength = max_fixed_row_length>
void observation_pass_of_length(std::size_t row_length, bool unit_values, const design& d,
                                std::size_t begin, std::size_t end, double sigma,
                                const double* u, const fused_x& x, double* eta_r, double* g_u,
                                double* log_lik, double* sq_residual) {
  if constexpr (kLength == 0) {
    observation_pass<F, 0, false, kFusedX>(d, begin, end, sigma, u, x, eta_r, g_u, log_lik,
                                           sq_residual);
  } else {
    if (row_length == static_cast<std::size_t>(kLength)) {
      if (unit_values) {
        observation_pass<F, kLength, true, kFusedX>(d, begin, end, sigma, u, x, eta_r, g_u,
                                                    log_lik, sq_residual);
      } else {
        observation_pass<F, kLength, false, kFusedX>(d, begin, end, sigma, u, x, eta_r, g_u,
                                                     log_lik, sq_residual);
      }
    } else {
      observation_pass_of_length<F, kFusedX, kLength - 1>(row_length, unit_values, d, begin,
                                                          end, sigma, u, x, eta_r, g_u, log_lik,
                                                          sq_residual);
    }
  }
}

/// observation_pass_of_length with Xβ and Xᵀr outside the pass (x.xtr null) or inside it, over
/// 2 or 4 columns (p rounded up).
template <kernels::glm_family_id F>
void observation_pass_of_fusion(std::size_t row_length, bool unit_values, const design& d,
                                std::size_t begin, std::size_t end, double sigma,
                                const double* u, const fused_x& x, double* eta_r, double* g_u,
                                double* log_lik, double* sq_residual) {
  static_assert(max_fused_coefficients == 4, "the fused column counts below end at 4");
  const auto pass = [&](auto columns) {
    observation_pass_of_length<F, decltype(columns)::value>(row_length, unit_values, d, begin,
                                                            end, sigma, u, x, eta_r, g_u,
                                                            log_lik, sq_residual);
  };
  if (x.xtr == nullptr) {
    pass(std::integral_constant<int, 0>{});
  } else if (x.p <= 2) {
    pass(std::integral_constant<int, 2>{});
  } else {
    pass(std::integral_constant<int, 4>{});
  }
}

/// observation_pass for the family of @p d (the switch outside the loop).
void observation_pass_of_family(std::size_t row_length, bool unit_values, const design& d,
                                std::size_t begin, std::size_t end, double sigma,
                                const double* u, const fused_x& x, double* eta_r, double* g_u,
                                double* log_lik, double* sq_residual) {
  switch (family_id(d.family)) {
    case kernels::glm_family_id::gaussian_identity:
      observation_pass_of_fusion<kernels::glm_family_id::gaussian_identity>(
          row_length, unit_values, d, begin, end, sigma, u, x, eta_r, g_u, log_lik, sq_residual);
      break;
    case kernels::glm_family_id::bernoulli_logit:
      observation_pass_of_fusion<kernels::glm_family_id::bernoulli_logit>(
          row_length, unit_values, d, begin, end, sigma, u, x, eta_r, g_u, log_lik, sq_residual);
      break;
    case kernels::glm_family_id::binomial_logit:
      observation_pass_of_fusion<kernels::glm_family_id::binomial_logit>(
          row_length, unit_values, d, begin, end, sigma, u, x, eta_r, g_u, log_lik, sq_residual);
      break;
    case kernels::glm_family_id::poisson_log:
      observation_pass_of_fusion<kernels::glm_family_id::poisson_log>(
          row_length, unit_values, d, begin, end, sigma, u, x, eta_r, g_u, log_lik, sq_residual);
      break;
  }
}

/// A chunk of rows and, per term of the design, the least and one past the greatest column of
/// u that its rows of Z hold (first ≥ last: none).
struct chunk_span {
  std::size_t begin = 0, end = 0;
  std::vector<std::size_t> first, last;
};

/// @p n_chunks near-equal chunks over @p d's rows (chunk k: rows [n k / n_chunks,
/// n (k + 1) / n_chunks)), with the columns each touches: one pass over Z.
std::vector<chunk_span> chunk_spans(const design& d, std::size_t n_chunks) {
  const std::size_t n_terms = d.terms.size();
  std::vector<chunk_span> spans(n_chunks);
  // The term of a column below is found by its u_offset: terms in u's order, the first at 0
  // (build_design); Z has entries only where there are terms.
  for (std::size_t k = 0; k < n_chunks; ++k) {
    chunk_span& c = spans[k];
    c.begin = d.n_obs * k / n_chunks;
    c.end = d.n_obs * (k + 1) / n_chunks;
    c.first.assign(n_terms, d.n_u);
    c.last.assign(n_terms, 0);
    const auto entries_begin = static_cast<std::size_t>(d.Z.row_ptr[c.begin]);
    const auto entries_end = static_cast<std::size_t>(d.Z.row_ptr[c.end]);
    for (std::size_t e = entries_begin; e < entries_end; ++e) {
      const auto col = static_cast<std::size_t>(d.Z.col_idx[e]);
      // The term whose columns hold col: the last whose first column is not after it.
      std::size_t t = n_terms - 1;
      while (d.terms[t].u_offset > col) --t;
      c.first[t] = std::min(c.first[t], col);
      c.last[t] = std::max(c.last[t], col + 1);
    }
  }
  return spans;
}

/// Half as many chunks: 2k and 2k + 1 together. Chunk k of C / 2 starts at row n k / (C / 2) =
/// n 2k / C, where chunk 2k of C does, so these are the chunks chunk_spans(d, C / 2) makes.
std::vector<chunk_span> merged_pairs(const std::vector<chunk_span>& spans) {
  std::vector<chunk_span> out(spans.size() / 2);
  for (std::size_t k = 0; k < out.size(); ++k) {
    const chunk_span &a = spans[2 * k], &b = spans[2 * k + 1];
    out[k].begin = a.begin;
    out[k].end = b.end;
    for (std::size_t t = 0; t < a.first.size(); ++t) {
      out[k].first.push_back(std::min(a.first[t], b.first[t]));
      out[k].last.push_back(std::max(a.last[t], b.last[t]));
    }
  }
  return out;
}

/// The entries of u that the chunks after the first touch, in all.
std::size_t later_chunks_u_entries(const std::vector<chunk_span>& spans) {
  std::size_t total = 0;
  for (std::size_t k = 1; k < spans.size(); ++k) {
    for (std::size_t t = 0; t < spans[k].first.size(); ++t) {
      if (spans[k].first[t] < spans[k].last[t]) total += spans[k].last[t] - spans[k].first[t];
    }
  }
  return total;
}

}  // namespace

std::vector<row_chunk> plan_row_chunks(const design& d, std::size_t min_chunk_rows) {
  const std::size_t most = std::min(d.n_obs / std::max<std::size_t>(min_chunk_rows, 1),
                                    max_row_chunks);
  std::size_t n_chunks = 1;
  while (2 * n_chunks <= most) n_chunks *= 2;
  std::vector<chunk_span> spans = chunk_spans(d, n_chunks);
  while (spans.size() > 1 && later_chunks_u_entries(spans) > d.n_obs) spans = merged_pairs(spans);
  std::vector<row_chunk> chunks(spans.size());
  for (std::size_t k = 0; k < spans.size(); ++k) {
    chunks[k].begin = spans[k].begin;
    chunks[k].end = spans[k].end;
    for (std::size_t t = 0; t < spans[k].first.size(); ++t) {
      if (spans[k].first[t] < spans[k].last[t]) {
        chunks[k].u_ranges.emplace_back(spans[k].first[t], spans[k].last[t]);
      }
    }
  }
  return chunks;
}

glm_cpu_density::glm_cpu_density(std::shared_ptr<const model> m, int threads,
                                 std::size_t min_chunk_rows)
    : model_(std::move(m)) {
  const design& d = model_->data();
  fuses_x_ = fuses_x_into_pass(d);
  u_.resize(d.n_u);
  g_u_.resize(d.n_u);
  row_length_ = uniform_row_length(d.Z, d.n_obs);
  unit_values_ = row_length_ > 0 && all_values_one(d.Z);
  chunks_ = plan_row_chunks(d, min_chunk_rows);
  threads_ = chunk_threads_available()
                 ? static_cast<int>(
                       std::min(static_cast<std::size_t>(std::max(threads, 1)), chunks_.size()))
                 : 1;
  if (chunks_.size() > 1) {
    chunk_g_u_.assign(static_cast<std::size_t>(threads_), std::vector<double>(d.n_u, 0.0));
  }
  if (!fuses_x_) {
    std::size_t most_rows = 0;
    for (const row_chunk& c : chunks_) most_rows = std::max(most_rows, c.end - c.begin);
    chunk_eta_r_.assign(static_cast<std::size_t>(threads_), std::vector<double>(most_rows));
  }
  chunk_log_lik_.resize(chunks_.size());
  chunk_sq_residual_.resize(chunks_.size());
  chunk_xtr_.resize(chunks_.size() * d.n_coefs());
}

void glm_cpu_density::evaluate_chunk(std::size_t k, double* g_u) const {
  const design& d = model_->data();
  const row_chunk& c = chunks_[k];
  const std::size_t n = d.n_obs, p = d.n_coefs();
  double* xtr = chunk_xtr_.data() + k * p;
  if (fuses_x_) {
    // Few coefficients: Xβ and Xᵀr row by row inside the pass.
    double sums[max_fused_coefficients];
    observation_pass_of_family(row_length_, unit_values_, d, c.begin, c.end, values_.sigma,
                               u_.data(), fused_x{p, values_.beta.data(), sums}, nullptr, g_u,
                               &chunk_log_lik_[k], &chunk_sq_residual_[k]);
    std::copy(sums, sums + p, xtr);
    return;
  }
  const auto rows = static_cast<Eigen::Index>(c.end - c.begin);
  const auto first_row = static_cast<Eigen::Index>(c.begin);
  Eigen::Map<const Eigen::MatrixXd> x_all(d.X.data(), static_cast<Eigen::Index>(n),
                                          static_cast<Eigen::Index>(p));
  const auto x = x_all.middleRows(first_row, rows);
  // Xβ into the thread's η of a chunk (chunk k runs on one thread of its wave, and the chunks of
  // a wave use distinct vectors k mod threads: observation_passes); the pass adds Zu and the
  // offset. Xβ in panels of 8 columns: Eigen's column-major gemv streams every column at once
  // below 128 columns, more read streams than the prefetcher follows (3× slower than Xᵀr at
  // p = 48; bench/grad_eval --profile).
  double* eta_r = chunk_eta_r_[k % chunk_eta_r_.size()].data();
  Eigen::Map<Eigen::VectorXd> x_beta(eta_r, rows);
  Eigen::Map<const Eigen::VectorXd> beta(values_.beta.data(), static_cast<Eigen::Index>(p));
  x_beta.setZero();
  constexpr Eigen::Index panel = 8;
  for (Eigen::Index j = 0; j < static_cast<Eigen::Index>(p); j += panel) {
    const Eigen::Index w = std::min(panel, static_cast<Eigen::Index>(p) - j);
    x_beta.noalias() += x.middleCols(j, w) * beta.segment(j, w);
  }
  // η, the likelihood, r = d log p / d η (in eta_r) and ∇u = Zᵀr, in one pass.
  observation_pass_of_family(row_length_, unit_values_, d, c.begin, c.end, values_.sigma,
                             u_.data(), fused_x{}, eta_r, g_u,
                             &chunk_log_lik_[k], &chunk_sq_residual_[k]);
  // Xᵀr over the chunk's rows.
  if (p > 0) {
    Eigen::Map<const Eigen::VectorXd> r(eta_r, rows);
    Eigen::Map<Eigen::VectorXd>(xtr, static_cast<Eigen::Index>(p)).noalias() = x.transpose() * r;
  }
}

void glm_cpu_density::observation_passes() const {
  const std::size_t n_chunks = chunks_.size(), n_u = g_u_.size();
  const auto n_threads = static_cast<std::size_t>(threads_);
  std::fill(g_u_.begin(), g_u_.end(), 0.0);
  // Chunk k's Zᵀr goes into chunk_g_u_[k mod n_threads] (the first chunk's into g_u_ itself,
  // which is zero).
  auto run = [&](std::size_t k) {
    if (k == 0) {
      evaluate_chunk(0, g_u_.data());
      return;
    }
    std::vector<double>& own = chunk_g_u_[k % n_threads];
    for (const auto& [first, last] : chunks_[k].u_ranges) {
      std::fill(own.begin() + static_cast<std::ptrdiff_t>(first),
                own.begin() + static_cast<std::ptrdiff_t>(last), 0.0);
    }
    evaluate_chunk(k, own.data());
  };
  // The Zᵀr of chunks [wave, wave_end) into g_u_ over its entries [lo, hi): each entry adds the
  // chunks in order, however the entries are shared out.
  auto add_into_g_u = [&](std::size_t wave, std::size_t wave_end, std::size_t lo,
                          std::size_t hi) {
    for (std::size_t k = std::max<std::size_t>(wave, 1); k < wave_end; ++k) {
      const std::vector<double>& own = chunk_g_u_[k % n_threads];
      for (const auto& [first, last] : chunks_[k].u_ranges) {
        for (std::size_t j = std::max(first, lo); j < std::min(last, hi); ++j) g_u_[j] += own[j];
      }
    }
  };
  // Waves of n_threads chunks, each chunk on a thread, then the wave's Zᵀr added, each thread a
  // share of the entries; one parallel region for all the waves (a region costs a few µs, as
  // much as a wave's sums on small models: InstEval). Nothing in the region may throw (an
  // exception leaving an OpenMP region ends the program): the pass's family and group-effect
  // kernels and Eigen's products into the existing vectors do not.
#ifdef _OPENMP
  if (n_threads > 1) {
#pragma omp parallel num_threads(static_cast<int>(n_threads))
    {
      const auto id = static_cast<std::size_t>(omp_get_thread_num());
      const auto team = static_cast<std::size_t>(omp_get_num_threads());
      for (std::size_t wave = 0; wave < n_chunks; wave += team) {
        const std::size_t wave_end = std::min(n_chunks, wave + team);
        if (wave + id < wave_end) run(wave + id);
#pragma omp barrier
        add_into_g_u(wave, wave_end, n_u * id / team, n_u * (id + 1) / team);
#pragma omp barrier
      }
    }
    return;
  }
#endif
  for (std::size_t k = 0; k < n_chunks; ++k) {
    run(k);
    add_into_g_u(k, k + 1, 0, n_u);
  }
}

double glm_cpu_density::log_density_grad(const double* q, double* grad) const {
  const model& m = *model_;
  const design& d = m.data();
  const std::size_t n = d.n_obs, p = d.n_coefs();
  std::fill(grad, grad + m.dim(), 0.0);

  m.globals_forward(q, values_);
  double lp = values_.log_prior_jacobian + m.log_density_constant();
  if (!std::isfinite(lp)) return -std::numeric_limits<double>::infinity();

  // u_t[j] = diag(sd_t) L_t z_t[j] (non-centered) or q's entries less their means (centered).
  const auto& terms = m.terms();
  m.group_effects_forward(q, values_, u_.data());

  // Xβ, η, the likelihood, r = d log p / d η, ∇u = Zᵀr and Xᵀr, chunk by chunk of rows.
  observation_passes();
  double log_lik = chunk_log_lik_[0], sq_residual = chunk_sq_residual_[0];
  for (std::size_t k = 1; k < chunks_.size(); ++k) {
    log_lik += chunk_log_lik_[k];
    sq_residual += chunk_sq_residual_[k];
  }
  lp += log_lik;
  grads_.sigma = 0.0;
  if (m.has_sigma()) {
    // log p has -n log sigma beyond the per-observation part; d/dsigma = (Σ z² - n) / sigma.
    lp -= static_cast<double>(n) * std::log(values_.sigma);
    grads_.sigma = (sq_residual - static_cast<double>(n)) / values_.sigma;
  }
  if (!std::isfinite(lp)) return -std::numeric_limits<double>::infinity();

  // ∇β = Xᵀr, the chunks' in chunk order.
  grads_.beta.assign(chunk_xtr_.begin(), chunk_xtr_.begin() + static_cast<std::ptrdiff_t>(p));
  for (std::size_t k = 1; k < chunks_.size(); ++k) {
    for (std::size_t c = 0; c < p; ++c) grads_.beta[c] += chunk_xtr_[k * p + c];
  }

  // Chain rule to q's group entries, sd and L, with the group effects' prior.
  grads_.sd.assign(values_.sd.size(), 0.0);
  grads_.level_means.assign(values_.sd.size(), 0.0);
  grads_.chol_corr.resize(terms.size());
  // Absorbing terms first: the gradient of their per-level mean goes to the absorbed slopes'
  // u (∂mean/∂u_s[j] = x_sj), whose own pass then reads it beside Zᵀr, and to the absorbed
  // coefficients (∂mean/∂b_a = x_aj).
  for (const bool absorbing : {true, false}) {
    for (std::size_t t = 0; t < terms.size(); ++t) {
      const auto& tp = terms[t];
      if (tp.absorbs() != absorbing) continue;
      const auto& block = d.terms[t];
      const int k = static_cast<int>(tp.k);
      const std::size_t sd0 = tp.first_sd - d.n_coefs();
      grads_.chol_corr[t].assign(tp.k * tp.k, 0.0);
      if (k == 1 && tp.n_centered == 0 && !absorbing) {
        // The common non-centered (1 | g): group_level_backward at k = 1 (its products, with L's
        // one entry, 1, left out: 1 · x is x; its sums over k start from 0, which changes at most
        // the sign of a zero) in a loop without the per-level call (model::group_effects_forward
        // has the forward half). Here rather than as a k = 1 branch inside the shared kernel
        // functions: that branch, tried, gave grouseticks 183,000 gradients per second against
        // 251,000 for this loop and 125,000 for neither (session 11).
        const double sd = values_.sd[sd0];
        const double* z = q + tp.z_q_index;
        const double* g_u = g_u_.data() + block.u_offset;
        double* g_z = grad + tp.z_q_index;
        double& g_sd = grads_.sd[sd0];
        for (std::size_t j = 0; j < block.n_levels; ++j) {
          g_sd += g_u[j] * z[j];
          g_z[j] = sd * g_u[j] - z[j];
          lp -= 0.5 * (z[j] * z[j]);
        }
        continue;
      }
      double* g_chol = tp.correlated ? grads_.chol_corr[t].data() : nullptr;
      // An absorbing term's level means and their gradient, level by level.
      double level_means[kernels::max_centered_k], g_level_means[kernels::max_centered_k];
      for (std::size_t j = 0; j < block.n_levels; ++j) {
        const std::size_t level = tp.z_q_index + j * tp.k;
        if (absorbing) {
          m.absorbing_level_means(t, j, values_, u_.data(), level_means);
          std::fill(g_level_means, g_level_means + tp.k, 0.0);
        }
        lp -= 0.5 * kernels::group_level_backward(
                        k, static_cast<int>(tp.n_centered), values_.sd.data() + sd0,
                        values_.chol_corr[t].data(),
                        absorbing ? level_means : values_.level_means.data() + sd0, q + level,
                        g_u_.data() + block.u_offset + j * tp.k, grad + level,
                        grads_.sd.data() + sd0, g_chol,
                        absorbing ? g_level_means : grads_.level_means.data() + sd0);
        if (!absorbing) continue;
        for (std::size_t c = 0; c < tp.k; ++c) grads_.level_means[sd0 + c] += g_level_means[c];
        // The Intercept's (coefficient 0) mean reads the absorbed slopes and coefficients.
        const double g_intercept_mean = g_level_means[0];
        for (const auto& slope : tp.absorbed) {
          g_u_[d.terms[slope.term].u_offset + j] += slope.level_values[j] * g_intercept_mean;
        }
        // The data's part of Xᵀr for an absorbed coefficient cancels against this (they see
        // u[j] + x_aj b_a = q - m); its prior part is what remains.
        for (const auto& coefficient : tp.absorbed_coefficients) {
          grads_.beta[coefficient.coefficient] += coefficient.level_values[j] * g_intercept_mean;
        }
      }
    }
  }
  m.globals_backward(q, values_, grads_, grad);
  return lp;
}

bool chunk_threads_available() noexcept {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

std::unique_ptr<backend> make_cpu_backend(std::shared_ptr<const model> m, int threads) {
  return std::make_unique<cpu_backend>(std::make_shared<glm_cpu_density>(std::move(m), threads));
}

}  // namespace hbglm::detail
