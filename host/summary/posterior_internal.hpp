#pragma once
/** @file Building blocks of the posterior-package diagnostics (host/summary), exposed for tests.
 *  Each function names the R function of posterior 1.4.0 (or of R's stats) that it ports; the
 *  arithmetic follows R's order of operations, and R's long-double accumulations where R uses
 *  them, so results agree with R to a few units in the last place. */

#include <cstddef>
#include <vector>

namespace hbglm::detail::posterior {

/** Draws of one variable as an iterations x chains matrix, column-major: value(i, c) is
 *  iteration i of chain c (posterior's draws_array slice for one variable). */
struct draws_matrix {
  std::size_t n_iter = 0;
  std::size_t n_chain = 0;
  std::vector<double> values;  ///< values[c * n_iter + i]

  /** Pointer to the first iteration of chain @p c. */
  const double* chain(std::size_t c) const { return values.data() + c * n_iter; }
  double* chain(std::size_t c) { return values.data() + c * n_iter; }
};

/** Copies chains into a matrix.
 *  @param[in] x draws as chains
 *  @return the matrix
 *  @throws data_error when the chains have different lengths */
draws_matrix to_draws_matrix(const std::vector<std::vector<double>>& x);

/** posterior:::.split_chains: each chain cut into its first floor(n/2) and last floor(n/2)
 *  iterations (the middle one dropped when n is odd); unchanged when n == 1.
 *  @param[in] x the draws @return 2 * n_chain chains of floor(n/2) iterations */
draws_matrix split_chains(const draws_matrix& x);

/** posterior::fold_draws: |x - median(x)| with the median of all draws.
 *  @param[in] x the draws @return the folded draws */
draws_matrix fold_draws(const draws_matrix& x);

/** As fold_draws with the median of all draws already known.
 *  @param[in] x the draws @param[in] median median(x) @return |x - median| */
draws_matrix fold_draws(const draws_matrix& x, double median);

/** posterior:::z_scale: qnorm((r - 3/8) / (S + 1/4)) of the average ranks r over all S draws
 *  (Blom's offset; Vehtari et al. 2021 eq. 14).
 *  @param[in] x the draws, none NaN @return the rank-normalized draws */
draws_matrix z_scale(const draws_matrix& x);

/** posterior:::should_return_NA: true when a draw is NaN or infinite, or max - min < DBL_EPSILON
 *  (posterior's is_constant with its default tolerance).
 *  @param[in] v values @return whether posterior would answer NA */
bool should_return_na(const std::vector<double>& v);

/** posterior:::.rhat: potential scale reduction of the chains as given (Gelman et al. BDA3
 *  eq. 11.4, with the between-chain variance of Vehtari et al. 2021 eq. 3).
 *  @param[in] x the draws @return R-hat, NaN where posterior gives NA */
double rhat_chains(const draws_matrix& x);

/** posterior:::.ess: ESS of the chains as given, with Geyer's initial monotone sequence on the
 *  paired autocorrelations (Vehtari et al. 2021 eqs. 10-13, Stan's compute_effective_sample_size)
 *  and the estimate capped at S log10(S) (posterior's "ESS has been capped" rule).
 *  @param[in] x the draws @return the ESS, NaN with fewer than 3 iterations or where posterior
 *  gives NA */
double ess_chains(const draws_matrix& x);

/** posterior:::autocovariance: autocovariances at lags 0..n-1 with denominator n, scaled so that
 *  lag 0 is var(x) (n - 1) / n exactly; zeros when var(x) == 0. Computed with a radix-2 FFT on the
 *  series zero-padded to a power of two >= 2n, which gives the same (linear, not circular)
 *  autocovariance as posterior's padding to 2 * nextn(n).
 *  @param[in] x the series @param[in] n its length @return n autocovariances */
std::vector<double> autocovariance(const double* x, std::size_t n);

/** As autocovariance for the first @p n_lags lags only, by direct summation (O(n n_lags)); the
 *  same values up to rounding. ess_chains uses it for the first lags, which is all that Geyer's
 *  truncation needs for well-mixed chains.
 *  @param[in] x the series @param[in] n its length @param[in] n_lags lags wanted (at most n)
 *  @return min(n_lags, n) autocovariances */
std::vector<double> autocovariance_direct(const double* x, std::size_t n, std::size_t n_lags);

/** As autocovariance for two series of equal length at once (one complex FFT carries both:
 *  the real and imaginary parts of the input); the results equal two autocovariance calls up to
 *  rounding.
 *  @param[in] a first series @param[in] b second series @param[in] n their length
 *  @param[out] acov_a autocovariances of a @param[out] acov_b autocovariances of b */
void autocovariance_pair(const double* a, const double* b, std::size_t n,
                         std::vector<double>& acov_a, std::vector<double>& acov_b);

/** stats::qnorm for the standard normal: Wichura's algorithm AS 241 (PPND16, Applied Statistics
 *  37, 1988), as R's nmath/qnorm.c; accurate to about 1e-16 relative.
 *  @param[in] p probability @return the quantile; -inf at 0, +inf at 1, NaN outside [0, 1] */
double qnorm(double p);

/** base::rank(ties.method = "average") of values without NaN.
 *  @param[in] v values @return 1-based ranks, ties sharing their average rank */
std::vector<double> average_ranks(const std::vector<double>& v);

/** base::mean: a long-double sum, then one refinement pass (R's summary.c real_mean).
 *  @param[in] x values @param[in] n count @return the mean; NaN when n == 0 */
double r_mean(const double* x, std::size_t n);

/** stats::var of a vector: R's cov.c two-pass algorithm with long-double accumulation.
 *  @param[in] x values @param[in] n count @return the variance; NaN when n < 2 */
double r_var(const double* x, std::size_t n);

/** stats::quantile type 7 of sorted values, with R's arithmetic
 *  ((1 - h) * x[lo] + h * x[hi], and no interpolation when x[lo] == x[hi]).
 *  @param[in] sorted values in increasing order, none NaN @param[in] prob in [0, 1]
 *  @return the quantile; NaN when there are no values */
double quantile7_sorted(const std::vector<double>& sorted, double prob);

/** stats::median of unsorted values, by selection (O(n)) instead of a sort.
 *  @param[in] values values, none NaN (reordered) @return the median; NaN when empty */
double median_unsorted(std::vector<double>& values);

/** stats::median of sorted values (the mean of the middle two, in long double, when even).
 *  @param[in] sorted values in increasing order, none NaN @return the median */
double median_sorted(const std::vector<double>& sorted);

}  // namespace hbglm::detail::posterior
