// Building blocks of the posterior-package diagnostics; see posterior_internal.hpp. Each function
// ports the R function it names (posterior 1.4.0, R 4.2 stats/base), keeping R's order of
// operations so that the results agree with R to rounding.

#include "summary/posterior_internal.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <complex>
#include <limits>
#include <string>
#include <utility>

#include "hbglm/error.hpp"

namespace hbglm::detail::posterior {

namespace {

constexpr double nan_value = std::numeric_limits<double>::quiet_NaN();

// Twiddle factors exp(-2 pi i k / n), k < n/2, for a radix-2 FFT of size n. Computed with
// cos/sin per k (not by repeated multiplication) so each is correctly rounded; cached per thread
// because summaries call the FFT with the same few sizes thousands of times.
const std::vector<std::complex<double>>& twiddles(std::size_t n) {
  thread_local std::size_t cached_n = 0;
  thread_local std::vector<std::complex<double>> cached;
  if (cached_n != n) {
    cached.resize(n / 2);
    const double pi = std::acos(-1.0);
    for (std::size_t k = 0; k < n / 2; ++k) {
      const double angle = -2.0 * pi * static_cast<double>(k) / static_cast<double>(n);
      cached[k] = {std::cos(angle), std::sin(angle)};
    }
    cached_n = n;
  }
  return cached;
}

// In-place iterative radix-2 FFT (Cooley-Tukey, decimation in time); n must be a power of two.
// The inverse is unnormalized: the autocovariance is rescaled by its lag-0 value anyway, as in
// posterior:::autocovariance.
void fft(std::vector<std::complex<double>>& a, bool inverse) {
  const std::size_t n = a.size();
  for (std::size_t i = 1, j = 0; i < n; ++i) {
    std::size_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) std::swap(a[i], a[j]);
  }
  const auto& w = twiddles(n);
  for (std::size_t len = 2; len <= n; len <<= 1) {
    const std::size_t half = len / 2;
    const std::size_t stride = n / len;
    for (std::size_t start = 0; start < n; start += len) {
      for (std::size_t k = 0; k < half; ++k) {
        const double wr = w[k * stride].real();
        const double wi = inverse ? -w[k * stride].imag() : w[k * stride].imag();
        const std::complex<double> u = a[start + k];
        const std::complex<double> x = a[start + k + half];
        // Written out: std::complex's operator* checks for infinities (__muldc3), which
        // triples the cost; the inputs here are finite (centred finite draws).
        const std::complex<double> v(x.real() * wr - x.imag() * wi, x.real() * wi + x.imag() * wr);
        a[start + k] = u + v;
        a[start + k + half] = u - v;
      }
    }
  }
}

// Zero padding to any length >= 2n - 1 turns the circular autocorrelation into the linear one,
// so a power of two >= 2n gives posterior's values (it pads to 2 * nextn(n)).
std::size_t fft_size(std::size_t n) {
  std::size_t m = 1;
  while (m < 2 * n) m <<= 1;
  return m;
}

// posterior:::autocovariance's final scaling of the raw lag sums: ac / ac[1] * var(x) * (N - 1) / N
// (R's left-to-right order), or zeros when var(x) == 0. raw[0] must be the lag-0 sum.
double scaled_lag(double raw_t, double raw_0, double varx, std::size_t n) {
  if (varx == 0) return 0.0;
  return raw_t / raw_0 * varx * static_cast<double>(n - 1) / static_cast<double>(n);
}

void scale_autocovariance(const double* x, std::size_t n, const std::vector<double>& raw,
                          std::vector<double>& out) {
  const double varx = r_var(x, n);
  out.resize(raw.size());
  for (std::size_t t = 0; t < raw.size(); ++t) out[t] = scaled_lag(raw[t], raw[0], varx, n);
}

// Long-double sum / n without refinement: base::colMeans and matrixStats::colMeans2/rowMeans2.
template <typename Get>
double plain_mean(std::size_t n, Get get) {
  long double sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += get(i);
  return static_cast<double>(sum / static_cast<long double>(n));
}

// Lags computed directly before ess_chains switches to the FFT. Geyer's truncation usually stops
// after a few lags for well-mixed chains, where m n operations per lag beat the FFT's ~10 m n
// log2(2n); chains that mix slowly ask for more lags and get the FFT (O(m n log n) for all lags).
constexpr std::size_t direct_lag_limit = 32;

// The mean over chains of posterior:::autocovariance at lag t, computed on demand: directly for
// t < direct_lag_limit (lag sums added as the Geyer loop asks for them), from the FFT for all
// later lags. Both give posterior's values to rounding (~1e-16 of the lag-0 value).
class mean_autocovariance {
 public:
  explicit mean_autocovariance(const draws_matrix& x)
      : x_(x), centred_(x.n_chain), raw_(x.n_chain), var_(x.n_chain) {
    for (std::size_t c = 0; c < x.n_chain; ++c) {
      const double* v = x.chain(c);
      const double mu = r_mean(v, x.n_iter);
      centred_[c].resize(x.n_iter);
      for (std::size_t i = 0; i < x.n_iter; ++i) centred_[c][i] = v[i] - mu;
      var_[c] = r_var(v, x.n_iter);
    }
  }

  double operator[](std::size_t t) {
    const std::size_t n = x_.n_iter;
    if (t < direct_lag_limit) {
      if (n_direct_ <= t) {
        // lag 0 first (the scale), then at least double the lags so far
        const std::size_t upto = std::min({direct_lag_limit, n, std::max(t + 1, 2 * n_direct_)});
        for (std::size_t c = 0; c < x_.n_chain; ++c) {
          const std::vector<double>& y = centred_[c];
          for (std::size_t lag = n_direct_; lag < upto; ++lag) {
            double sum = 0;
            for (std::size_t i = 0; i + lag < n; ++i) sum += y[i] * y[i + lag];
            raw_[c].push_back(sum);
          }
        }
        n_direct_ = upto;
      }
      return plain_mean(x_.n_chain, [&](std::size_t c) {
        return scaled_lag(raw_[c][t], raw_[c][0], var_[c], n);
      });
    }
    if (fft_.empty()) {
      fft_.resize(x_.n_chain);
      for (std::size_t c = 0; c + 1 < x_.n_chain; c += 2) {
        autocovariance_pair(x_.chain(c), x_.chain(c + 1), n, fft_[c], fft_[c + 1]);
      }
      if (x_.n_chain % 2 == 1) fft_[x_.n_chain - 1] = autocovariance(x_.chain(x_.n_chain - 1), n);
    }
    return plain_mean(x_.n_chain, [&](std::size_t c) { return fft_[c][t]; });
  }

 private:
  const draws_matrix& x_;
  std::vector<std::vector<double>> centred_;  // x - mean(x), per chain
  std::vector<std::vector<double>> raw_;      // direct lag sums, per chain
  std::vector<double> var_;                   // var(x), per chain
  std::size_t n_direct_ = 0;                  // lags in raw_
  std::vector<std::vector<double>> fft_;      // all lags, once a late lag is needed
};

}  // namespace

draws_matrix to_draws_matrix(const std::vector<std::vector<double>>& x) {
  draws_matrix m;
  m.n_chain = x.size();
  m.n_iter = x.empty() ? 0 : x.front().size();
  m.values.reserve(m.n_chain * m.n_iter);
  for (std::size_t c = 0; c < x.size(); ++c) {
    if (x[c].size() != m.n_iter) {
      throw data_error("draws: chain " + std::to_string(c + 1) + " has " +
                       std::to_string(x[c].size()) + " draws but chain 1 has " +
                       std::to_string(m.n_iter) + "; all chains must be equally long");
    }
    m.values.insert(m.values.end(), x[c].begin(), x[c].end());
  }
  return m;
}

draws_matrix split_chains(const draws_matrix& x) {
  if (x.n_iter == 1) return x;
  // R: half <- niter / 2; x[1:floor(half), ] and x[ceiling(half + 1):niter, ]
  const std::size_t half = x.n_iter / 2;
  const std::size_t second_start = x.n_iter - half;
  draws_matrix s;
  s.n_iter = half;
  s.n_chain = 2 * x.n_chain;
  s.values.resize(s.n_iter * s.n_chain);
  for (std::size_t c = 0; c < x.n_chain; ++c) {
    const double* in = x.chain(c);
    std::copy(in, in + half, s.chain(c));
    std::copy(in + second_start, in + x.n_iter, s.chain(x.n_chain + c));
  }
  return s;
}

draws_matrix fold_draws(const draws_matrix& x) {
  const bool has_nan =
      std::any_of(x.values.begin(), x.values.end(), [](double v) { return std::isnan(v); });
  std::vector<double> copy = x.values;
  return fold_draws(x, has_nan ? nan_value : median_unsorted(copy));
}

draws_matrix fold_draws(const draws_matrix& x, double median) {
  draws_matrix f = x;
  for (double& v : f.values) v = std::abs(v - median);
  return f;
}

draws_matrix z_scale(const draws_matrix& x) {
  draws_matrix z = x;
  const std::vector<double> r = average_ranks(x.values);
  // posterior:::backtransform_ranks with c = 3/8: (r - c) / (S - 2c + 1)
  const double c = 3.0 / 8.0;
  const double denom = static_cast<double>(r.size()) - 2 * c + 1;
  for (std::size_t k = 0; k < r.size(); ++k) z.values[k] = qnorm((r[k] - c) / denom);
  return z;
}

bool should_return_na(const std::vector<double>& v) {
  if (v.empty()) return true;
  double lo = v.front(), hi = v.front();
  for (double d : v) {
    if (!std::isfinite(d)) return true;
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  return std::abs(hi - lo) < DBL_EPSILON;
}

double rhat_chains(const draws_matrix& x) {
  if (should_return_na(x.values)) return nan_value;
  const std::size_t n = x.n_iter;
  const std::size_t m = x.n_chain;
  // var() of one chain mean and colVars() of one iteration are NA in R.
  if (n < 2 || m < 2) return nan_value;
  std::vector<double> chain_mean(m), chain_var(m);
  for (std::size_t c = 0; c < m; ++c) {
    const double* v = x.chain(c);
    chain_mean[c] = plain_mean(n, [&](std::size_t i) { return v[i]; });
    // matrixStats::colVars(x, center = chain_mean): colMeans((x - center)^2) * n / (n - 1)
    const double mu = chain_mean[c];
    const double mean_sq = plain_mean(n, [&](std::size_t i) {
      const double d = v[i] - mu;
      return d * d;
    });
    chain_var[c] = mean_sq * (static_cast<double>(n) / static_cast<double>(n - 1));
  }
  const double nd = static_cast<double>(n);
  const double var_between = nd * r_var(chain_mean.data(), m);
  const double var_within = r_mean(chain_var.data(), m);
  return std::sqrt((var_between / var_within + nd - 1) / nd);
}

double ess_chains(const draws_matrix& x) {
  const std::size_t n = x.n_iter;
  const std::size_t m = x.n_chain;
  if (n < 3 || should_return_na(x.values)) return nan_value;

  // acov <- apply(x, 2, autocovariance); acov_means <- rowMeans2(acov), lags on demand
  mean_autocovariance acov_means(x);
  const double nd = static_cast<double>(n);
  const double mean_var = acov_means[0] * nd / (nd - 1);
  double var_plus = mean_var * (nd - 1) / nd;
  if (m > 1) {
    std::vector<double> chain_mean(m);
    for (std::size_t c = 0; c < m; ++c) {
      const double* v = x.chain(c);
      chain_mean[c] = plain_mean(n, [&](std::size_t i) { return v[i]; });
    }
    var_plus += r_var(chain_mean.data(), m);
  }

  // Geyer's initial positive sequence on pairs of autocorrelations (Vehtari et al. 2021 eq. 12);
  // indices are 0-based here, posterior's rho_hat_t[t + 1] is rho[t].
  std::vector<double> rho(n, 0.0);
  const auto rho_at = [&](std::size_t t) { return 1 - (mean_var - acov_means[t]) / var_plus; };
  std::ptrdiff_t t = 0;
  double rho_even = 1;
  rho[0] = rho_even;
  double rho_odd = rho_at(1);
  rho[1] = rho_odd;
  const std::ptrdiff_t n_lags = static_cast<std::ptrdiff_t>(n);
  while (t < n_lags - 5 && !std::isnan(rho_even + rho_odd) && (rho_even + rho_odd > 0)) {
    t += 2;
    rho_even = rho_at(static_cast<std::size_t>(t));
    rho_odd = rho_at(static_cast<std::size_t>(t + 1));
    if ((rho_even + rho_odd) >= 0) {
      rho[t] = rho_even;
      rho[t + 1] = rho_odd;
    }
  }
  const std::ptrdiff_t max_t = t;
  // Geyer's truncated sequence: only the last even term if it is positive.
  if (rho_even > 0) rho[max_t] = rho_even;

  // Geyer's initial monotone sequence: each pair sum no larger than the one before.
  t = 0;
  while (t <= max_t - 4) {
    t += 2;
    if (rho[t] + rho[t + 1] > rho[t - 2] + rho[t - 1]) {
      rho[t] = (rho[t - 2] + rho[t - 1]) / 2;
      rho[t + 1] = rho[t];
    }
  }

  const double ess = static_cast<double>(m) * nd;
  // sum(rho_hat_t[1:max_t]): R's 1:0 is c(1, 0), which selects rho[0] alone when max_t == 0.
  long double rho_sum = 0;
  if (max_t == 0) {
    rho_sum = rho[0];
  } else {
    for (std::ptrdiff_t k = 0; k < max_t; ++k) rho_sum += rho[k];
  }
  double tau_hat = -1 + 2 * static_cast<double>(rho_sum) + rho[max_t];
  // posterior caps the ESS at S log10(S): antithetic chains otherwise give unstable estimates.
  const double tau_bound = 1 / std::log10(ess);
  if (tau_hat < tau_bound) tau_hat = tau_bound;
  return ess / tau_hat;
}

std::vector<double> autocovariance(const double* x, std::size_t n) {
  std::vector<double> out;
  if (n == 0) return out;
  const double mu = r_mean(x, n);
  std::vector<std::complex<double>> a(fft_size(n), 0.0);
  for (std::size_t i = 0; i < n; ++i) a[i] = x[i] - mu;
  fft(a, false);
  for (auto& v : a) v = std::norm(v);
  fft(a, true);
  std::vector<double> raw(n);
  for (std::size_t t = 0; t < n; ++t) raw[t] = a[t].real();
  scale_autocovariance(x, n, raw, out);
  return out;
}

std::vector<double> autocovariance_direct(const double* x, std::size_t n, std::size_t n_lags) {
  std::vector<double> out;
  n_lags = std::min(n_lags, n);
  if (n_lags == 0) return out;
  const double mu = r_mean(x, n);
  std::vector<double> centred(n);
  for (std::size_t i = 0; i < n; ++i) centred[i] = x[i] - mu;
  std::vector<double> raw(n_lags);
  for (std::size_t t = 0; t < n_lags; ++t) {
    double sum = 0;
    for (std::size_t i = 0; i + t < n; ++i) sum += centred[i] * centred[i + t];
    raw[t] = sum;
  }
  scale_autocovariance(x, n, raw, out);
  return out;
}

void autocovariance_pair(const double* a, const double* b, std::size_t n,
                         std::vector<double>& acov_a, std::vector<double>& acov_b) {
  acov_a.clear();
  acov_b.clear();
  if (n == 0) return;
  const double mu_a = r_mean(a, n);
  const double mu_b = r_mean(b, n);
  const std::size_t size = fft_size(n);
  std::vector<std::complex<double>> z(size, 0.0);
  for (std::size_t i = 0; i < n; ++i) z[i] = {a[i] - mu_a, b[i] - mu_b};
  fft(z, false);
  // With Z = FFT(a + ib): A_k = (Z_k + conj Z_-k) / 2 and B_k = (Z_k - conj Z_-k) / 2i. Both power
  // spectra are real and even, so one inverse FFT of |A|^2 + i|B|^2 returns both
  // autocorrelations, in its real and imaginary parts.
  std::vector<std::complex<double>> p(size);
  for (std::size_t k = 0; k < size; ++k) {
    const std::complex<double> zk = z[k];
    const std::complex<double> zc = std::conj(z[(size - k) % size]);
    const std::complex<double> ak = (zk + zc) * 0.5;
    const std::complex<double> bk = (zk - zc) * std::complex<double>(0, -0.5);
    p[k] = {std::norm(ak), std::norm(bk)};
  }
  fft(p, true);
  std::vector<double> raw_a(n), raw_b(n);
  for (std::size_t t = 0; t < n; ++t) {
    raw_a[t] = p[t].real();
    raw_b[t] = p[t].imag();
  }
  scale_autocovariance(a, n, raw_a, acov_a);
  scale_autocovariance(b, n, raw_b, acov_b);
}

double qnorm(double p) {
  if (std::isnan(p) || p < 0 || p > 1) return nan_value;
  if (p == 0) return -std::numeric_limits<double>::infinity();
  if (p == 1) return std::numeric_limits<double>::infinity();
  // Wichura's AS 241 PPND16, coefficients and branches as in R's nmath/qnorm.c (R 4.2): rational
  // approximations in q = p - 1/2 near the centre and in r = sqrt(-log(min(p, 1 - p))) in the
  // tails. Horner's rule in the same order as R's nested expressions gives the same rounding.
  static constexpr double a[8] = {
      2509.0809287301226727, 33430.575583588128105, 67265.770927008700853, 45921.953931549871457,
      13731.693765509461125, 1971.5909503065514427, 133.14166789178437745, 3.387132872796366608};
  static constexpr double b[8] = {
      5226.495278852854561,  28729.085735721942674, 39307.89580009271061,  21213.794301586595867,
      5394.1960214247511077, 687.1870074920579083,  42.313330701600911252, 1.};
  static constexpr double c[8] = {7.7454501427834140764e-4, .0227238449892691845833,
                                  .24178072517745061177,    1.27045825245236838258,
                                  3.64784832476320460504,   5.7694972214606914055,
                                  4.6303378461565452959,    1.42343711074968357734};
  static constexpr double d[8] = {1.05075007164441684324e-9, 5.475938084995344946e-4,
                                  .0151986665636164571966,   .14810397642748007459,
                                  .68976733498510000455,     1.6763848301838038494,
                                  2.05319162663775882187,    1.};
  static constexpr double e[8] = {2.01033439929228813265e-7, 2.71155556874348757815e-5,
                                  .0012426609473880784386,   .026532189526576123093,
                                  .29656057182850489123,     1.7848265399172913358,
                                  5.4637849111641143699,     6.6579046435011037772};
  static constexpr double f[8] = {2.04426310338993978564e-15, 1.4215117583164458887e-7,
                                  1.8463183175100546818e-5,   7.868691311456132591e-4,
                                  .0148753612908506148525,    .13692988092273580531,
                                  .59983220655588793769,      1.};
  const auto horner = [](const double(&coef)[8], double x) {
    double v = coef[0];
    for (int k = 1; k < 8; ++k) v = v * x + coef[k];
    return v;
  };
  const double q = p - 0.5;
  if (std::abs(q) <= .425) {  // 0.075 <= p <= 0.925
    const double r = .180625 - q * q;
    return q * horner(a, r) / horner(b, r);
  }
  double r = std::sqrt(-std::log(q > 0 ? 1 - p : p));  // min(p, 1 - p) < 0.075
  double val;
  if (r <= 5.) {  // min(p, 1 - p) >= exp(-25) ~= 1.39e-11
    r += -1.6;
    val = horner(c, r) / horner(d, r);
  } else {
    r += -5.;
    val = horner(e, r) / horner(f, r);
  }
  return q < 0.0 ? -val : val;
}

std::vector<double> average_ranks(const std::vector<double>& v) {
  const std::size_t n = v.size();
  std::vector<std::pair<double, std::size_t>> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = {v[i], i};
  std::sort(order.begin(), order.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<double> r(n);
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i + 1;
    while (j < n && order[j].first == order[i].first) ++j;
    // ranks i+1 .. j share their average; exact in double for any realistic n
    const double avg = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (std::size_t k = i; k < j; ++k) r[order[k].second] = avg;
    i = j;
  }
  return r;
}

double r_mean(const double* x, std::size_t n) {
  if (n == 0) return nan_value;
  long double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += x[i];
  s /= static_cast<long double>(n);
  if (std::isfinite(static_cast<double>(s))) {
    long double t = 0;
    for (std::size_t i = 0; i < n; ++i) t += (x[i] - s);
    s += t / static_cast<long double>(n);
  }
  return static_cast<double>(s);
}

double r_var(const double* x, std::size_t n) {
  if (n < 2) return nan_value;
  // cov.c cov_complete1: the mean with a refinement pass, then a long-double sum of products of
  // double differences, divided by n - 1.
  long double sum = 0;
  for (std::size_t k = 0; k < n; ++k) sum += x[k];
  long double tmp = sum / static_cast<long double>(n);
  if (std::isfinite(static_cast<double>(tmp))) {
    sum = 0;
    for (std::size_t k = 0; k < n; ++k) sum += (x[k] - tmp);
    tmp = tmp + sum / static_cast<long double>(n);
  }
  const double xm = static_cast<double>(tmp);
  sum = 0;
  for (std::size_t k = 0; k < n; ++k) sum += (x[k] - xm) * (x[k] - xm);
  return static_cast<double>(sum / static_cast<long double>(n - 1));
}

double quantile7_sorted(const std::vector<double>& sorted, double prob) {
  const std::size_t n = sorted.size();
  if (n == 0) return nan_value;
  prob = std::max(0.0, std::min(1.0, prob));
  // R: index <- 1 + max(n - 1, 0) * probs; lo <- floor(index); hi <- ceiling(index)
  const double index = 1 + static_cast<double>(n - 1) * prob;
  const double lo = std::floor(index);
  const double hi = std::ceil(index);
  const double x_lo = sorted[static_cast<std::size_t>(lo) - 1];
  const double x_hi = sorted[static_cast<std::size_t>(hi) - 1];
  double qs = x_lo;
  if (index > lo && x_hi != qs) {
    const double h = index - lo;
    qs = (1 - h) * qs + h * x_hi;
  }
  return qs;
}

double median_unsorted(std::vector<double>& values) {
  const std::size_t n = values.size();
  if (n == 0) return nan_value;
  // R's median uses a partial sort too: the same order statistics, hence the same value.
  const std::size_t half = (n + 1) / 2;
  const auto upper = values.begin() + static_cast<std::ptrdiff_t>(n % 2 == 1 ? half - 1 : half);
  std::nth_element(values.begin(), upper, values.end());
  if (n % 2 == 1) return *upper;
  const double pair[2] = {*std::max_element(values.begin(), upper), *upper};
  return r_mean(pair, 2);
}

double median_sorted(const std::vector<double>& sorted) {
  const std::size_t n = sorted.size();
  if (n == 0) return nan_value;
  const std::size_t half = (n + 1) / 2;
  if (n % 2 == 1) return sorted[half - 1];
  const double pair[2] = {sorted[half - 1], sorted[half]};
  return r_mean(pair, 2);
}

}  // namespace hbglm::detail::posterior
