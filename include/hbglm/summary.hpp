#pragma once
/** @file Posterior summaries and convergence diagnostics exactly as the R package posterior
 *  (version 1.4) defines them: rank-normalized split R-hat, bulk and tail ESS (Vehtari, Gelman,
 *  Simpson, Carpenter and Buerkner 2021, "Rank-normalization, folding, and localization: an
 *  improved R-hat for assessing convergence of MCMC", Bayesian Analysis 16(2)), MCSE of the mean,
 *  and the usual location/scale summaries; the brms-like printed table, the CSV summary and the
 *  sampler warnings of `hbglm summary`.
 *
 *  Draws of one variable are given as chains: x[c][i] is iteration i of chain c, all chains of
 *  equal length. Where posterior returns NA (constant draws, NaN or infinite draws, too few
 *  iterations) these functions return NaN. */

#include <cstddef>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "hbglm/cmdstan_csv.hpp"

namespace hbglm {

/** Functions named and defined as in the R package posterior (and R's stats for mean, median,
 *  sd, mad and quantile type 7). Each takes the draws of one variable as chains.
 *  All of them throw data_error when the chains have different lengths; with no draws at all they
 *  return NaN. */
namespace posterior {

/** Mean of all draws (R's mean). @param[in] x draws as chains @return the mean */
double mean(const std::vector<std::vector<double>>& x);

/** Median of all draws (R's median). @param[in] x draws as chains @return the median; NaN if any
 *  draw is NaN */
double median(const std::vector<std::vector<double>>& x);

/** Standard deviation of all draws with denominator S - 1 (R's sd).
 *  @param[in] x draws as chains @return the sd; NaN with fewer than two draws */
double sd(const std::vector<std::vector<double>>& x);

/** Median absolute deviation, 1.4826 * median(|x - median(x)|) (R's mad).
 *  @param[in] x draws as chains @return the mad */
double mad(const std::vector<std::vector<double>>& x);

/** Quantile of all draws by R's type 7 (linear interpolation between order statistics), as
 *  posterior::quantile2 computes it.
 *  @param[in] x draws as chains
 *  @param[in] prob probability in [0, 1]
 *  @return the quantile; NaN if any draw is NaN
 *  @throws data_error when prob is outside [0, 1] */
double quantile2(const std::vector<std::vector<double>>& x, double prob);

/** posterior::rhat: the larger of the rank-normalized split R-hat of the draws (bulk) and of the
 *  folded draws |x - median(x)| (tail). Vehtari et al. (2021) section 4.
 *  @param[in] x draws as chains @return R-hat, NaN where posterior gives NA */
double rhat(const std::vector<std::vector<double>>& x);

/** posterior::rhat_basic: split R-hat of the draws as they are (no rank normalization).
 *  @param[in] x draws as chains @return R-hat, NaN where posterior gives NA */
double rhat_basic(const std::vector<std::vector<double>>& x);

/** posterior::ess_bulk: ESS of the rank-normalized split chains.
 *  @param[in] x draws as chains @return the ESS, NaN where posterior gives NA */
double ess_bulk(const std::vector<std::vector<double>>& x);

/** posterior::ess_tail: the smaller of the ESS of the 5% and 95% quantile indicators.
 *  @param[in] x draws as chains @return the ESS, NaN where posterior gives NA */
double ess_tail(const std::vector<std::vector<double>>& x);

/** posterior::ess_quantile: ESS of the indicator x <= quantile2(x, prob), split chains.
 *  @param[in] x draws as chains @param[in] prob probability in [0, 1]
 *  @return the ESS, NaN where posterior gives NA */
double ess_quantile(const std::vector<std::vector<double>>& x, double prob);

/** posterior::ess_basic: ESS of the split chains as they are (no rank normalization); the ESS
 *  that posterior::ess_mean and mcse_mean use.
 *  @param[in] x draws as chains @return the ESS, NaN where posterior gives NA */
double ess_basic(const std::vector<std::vector<double>>& x);

/** posterior::mcse_mean: sd(x) / sqrt(ess_basic(x)).
 *  @param[in] x draws as chains @return the Monte Carlo standard error of the mean */
double mcse_mean(const std::vector<std::vector<double>>& x);

}  // namespace posterior

/** One row of posterior::summarise_draws with the measures hbglm reports. */
struct draws_summary {
  std::string variable;
  double mean = 0, median = 0, sd = 0, mad = 0;
  double q2_5 = 0, q5 = 0, q95 = 0, q97_5 = 0;  ///< quantile2 at 0.025, 0.05, 0.95, 0.975
  double rhat = 0, ess_bulk = 0, ess_tail = 0, mcse_mean = 0;
  double ess_basic = 0, rhat_basic = 0;
};

/** Summarises the draws of one variable; the same numbers as posterior::summarise_draws with
 *  the measures above, computed sharing sorts and rank transforms between measures.
 *  @param[in] variable the name stored in the row
 *  @param[in] x draws as chains
 *  @return the row
 *  @throws data_error when the chains have different lengths */
draws_summary summarise_draws(const std::string& variable,
                              const std::vector<std::vector<double>>& x);

/** The draws of several chain files, column by column. */
struct named_draws {
  std::vector<std::string> names;      ///< column names as in the files, e.g. "r_g.3.1"
  std::vector<std::string> variables;  ///< display names, e.g. "r_g[AK,Intercept]" (display_name)
  /// draws[j][c][i]: iteration i of chain c of column j.
  std::vector<std::vector<std::vector<double>>> draws;
  std::map<std::string, std::vector<std::string>> levels;  ///< from the first file, by "r_g"
  std::map<std::string, std::vector<std::string>> coefs;   ///< from the first file, by "r_g"
  std::map<std::string, std::string> config;               ///< from the first file
  std::vector<std::string> sources;                        ///< one file name per chain
  /// Things the user should be told: dropped truncated rows, chains cut to a common length.
  std::vector<std::string> notes;

  /** Number of chains. */
  std::size_t n_chains() const { return sources.size(); }
  /** Draws per chain (all chains are equally long). */
  std::size_t n_draws_per_chain() const;
  /** Index of the column called @p name (file name, not display name), or npos. */
  std::size_t find(const std::string& name) const;
  /** Returned by find when the column does not exist. */
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
};

/** Puts chain files together. Chains of unequal length (a killed run) are all cut to the
 *  shortest, keeping their first draws, and a note says so (posterior needs equal lengths).
 *  @param[in] chains one parsed file per chain
 *  @return the combined draws
 *  @throws data_error when there are no files, the headers differ, or a chain has no draws */
named_draws combine_chains(const std::vector<cmdstan_csv>& chains);

/** Reads chain files with read_cmdstan_csv and combines them with combine_chains.
 *  @param[in] paths one file per chain
 *  @return the combined draws
 *  @throws data_error as read_cmdstan_csv and combine_chains */
named_draws read_chains(const std::vector<std::string>& paths);

/** The name a column is reported under: group-effect columns "r_g.i.k" become
 *  "r_g[level,coef]" with the labels of the levels/coefs comment lines (brms's names; the
 *  numbers themselves when a label is missing); other names are unchanged.
 *  @param[in] column a column name
 *  @param[in] levels level labels by group ("r_g")
 *  @param[in] coefs coefficient labels by group ("r_g")
 *  @return the display name */
std::string display_name(const std::string& column,
                         const std::map<std::string, std::vector<std::string>>& levels,
                         const std::map<std::string, std::vector<std::string>>& coefs);

/** True for sampler columns (names ending in "__", as CmdStan's accept_stat__) other than lp__.
 *  @param[in] name a column name @return whether it is a sampler diagnostic */
bool is_sampler_column(const std::string& name);

/** Summarises every column that is not a sampler column (lp__ included, as CmdStan's
 *  stansummary does), in column order, using display names.
 *  @param[in] d the draws
 *  @param[in] n_threads worker threads; 0 uses std::thread::hardware_concurrency()
 *  @return one row per variable
 *  @throws data_error as summarise_draws */
std::vector<draws_summary> summarise_draws(const named_draws& d, std::size_t n_threads = 0);

/** Writes the CSV summary (`hbglm summary --format csv`): a header
 *  variable,mean,median,sd,mad,q5,q95,rhat,ess_bulk,ess_tail,mcse_mean and one row per summary,
 *  numbers in the shortest form that reads back to the same double, NA for NaN, names quoted
 *  (RFC 4180) only when they hold a comma, quote or line break.
 *  @param[out] out the stream
 *  @param[in] rows the summaries */
void write_summary_csv(std::ostream& out, const std::vector<draws_summary>& rows);

/** A brms-style table: row names left-aligned, columns Estimate (mean), Est.Error (sd),
 *  l-95% CI (q2.5), u-95% CI (q97.5), Rhat (all "%.2f"), Bulk_ESS, Tail_ESS ("%.0f"), each
 *  right-aligned to its widest cell, NA for NaN; as brms's print_format, which prints with
 *  print(quote = FALSE, right = TRUE).
 *  @param[in] row_names one per row
 *  @param[in] rows the summaries
 *  @return the table, one line per row plus the header line, each ending in '\n' */
std::string format_brms_table(const std::vector<std::string>& row_names,
                              const std::vector<draws_summary>& rows);

/** Prints the brms-like summary: the draws line, then "Group-Level Effects:" with one
 *  "~g (Number of levels: N)" block per group (sd(coef) from sd_g__coef and cor(c1,c2) from
 *  cor_g__c1__c2), "Population-Level Effects:" (b_x as x) and "Family Specific Parameters:"
 *  (sigma, shape, phi, nu), then brms's closing note. Group effects (r_*), lp__ and sampler
 *  columns are not in the table.
 *  @param[out] out the stream
 *  @param[in] d the draws (for the groups' numbers of levels and the number of draws)
 *  @param[in] rows summaries of d's columns, as summarise_draws(d) returns them */
void print_brms_summary(std::ostream& out, const named_draws& d,
                        const std::vector<draws_summary>& rows);

/** Thresholds of the warnings (Vehtari et al. 2021 section 4: R-hat below 1.01 and ESS above 100
 *  per chain, i.e. 400 for four chains; Betancourt 2016 for E-BFMI). */
inline constexpr double rhat_warning_threshold = 1.01;
inline constexpr double ess_warning_threshold = 400;
inline constexpr double e_bfmi_warning_threshold = 0.3;

/** What the sampler columns say about the sampler. */
struct sampler_diagnostics {
  std::size_t n_draws = 0;          ///< all chains together
  bool has_divergent = false;       ///< divergent__ was present
  std::size_t n_divergent = 0;      ///< draws with divergent__ != 0
  bool has_treedepth = false;       ///< treedepth__ was present
  int max_depth = 10;               ///< the depth that counts as a hit
  std::size_t n_max_treedepth = 0;  ///< draws with treedepth__ >= max_depth
  std::vector<double> e_bfmi;       ///< one per chain when energy__ is present, else empty
};

/** E-BFMI of one chain: sum of squared successive differences of energy__ over the sum of
 *  squared deviations from its mean (Betancourt 2016, "Diagnosing suboptimal cotangent
 *  disintegrations in Hamiltonian Monte Carlo"; CmdStan's diagnose).
 *  @param[in] energy energy__ of one chain @return E-BFMI; NaN with fewer than two draws or
 *  constant energy */
double e_bfmi(const std::vector<double>& energy);

/** Counts divergences and tree-depth hits and computes E-BFMI per chain.
 *  @param[in] d the draws
 *  @param[in] max_depth the sampler's maximum tree depth
 *  @return the diagnostics */
sampler_diagnostics diagnose_sampler(const named_draws& d, int max_depth);

/** Warning texts, each saying what is wrong and what to try: divergences, tree-depth hits,
 *  E-BFMI below 0.3 per chain, R-hat above 1.01, bulk or tail ESS below 400.
 *  @param[in] diag sampler diagnostics
 *  @param[in] rows variable summaries (NaN R-hat or ESS, e.g. of constants, is not warned about)
 *  @return one paragraph per problem, each starting "Warning: "; empty when all is well */
std::vector<std::string> diagnostic_warnings(const sampler_diagnostics& diag,
                                             const std::vector<draws_summary>& rows);

}  // namespace hbglm
