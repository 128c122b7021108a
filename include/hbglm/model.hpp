#pragma once
/** @file The statistical model on top of a design: parameters, transforms, priors, names, and the
 *  "global" part of the log density (everything but the data terms and the group effects), which
 *  every backend shares. ARCHITECTURE §4.
 *
 *  Unconstrained parameter vector q = [globals | z]:
 *    globals: population-level coefficients (design order; the centered Intercept when the design
 *             is centered, less mean(x) b_x for each covariate a centered term is centered
 *             around, see uncentered_intercept_columns_; each times its column's sd, see
 *             scalar_parameter::column_scale), then per group-level term the log sds (or
 *             interval-transformed sds),
 *             then per correlated term its k(k-1)/2 canonical partial correlations (tanh), then
 *             log sigma (gaussian without se()). Parameters with a constant() prior are not in q.
 *    z:       per term, level-major: z[t][j][c] ~ N(0, 1);  u_t[j] = diag(sd_t) L_t z_t[j]
 *             (non-centered), or for a centered term u_t[j] itself plus, coefficient by
 *             coefficient, the population-level coefficient it is centered around
 *             (term_parameters::centered, term_parameters::mean_of).
 *  The globals come first so the dense block of the dense_diag metric is q[0 .. n_globals). */

#include <cstddef>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "hbglm/design.hpp"
#include "hbglm/prior.hpp"

namespace hbglm {

/** How a scalar parameter maps from the unconstrained scale. */
enum class scalar_transform {
  identity,   ///< x = y
  positive,   ///< x = exp(y), log Jacobian y
  interval,   ///< x = lower + (upper - lower) inv_logit(y) (a uniform prior bounds it)
  fixed       ///< x = value (a constant() prior): not sampled
};

/** A scalar global parameter (a coefficient, an sd, sigma). */
struct scalar_parameter {
  std::string name;             ///< brms name: b_x, Intercept (centered), sd_g__c, sigma
  prior_class cls = prior_class::b;
  prior_distribution prior;     ///< after defaults and user statements
  bool truncated_at_zero = false;  ///< sd and sigma: the prior is truncated to (0, inf), as brms
  scalar_transform transform = scalar_transform::identity;
  double lower = 0.0, upper = 0.0;  ///< interval bounds
  double fixed_value = 0.0;         ///< fixed
  /** identity transform of a coefficient: x = y / column_scale, so that q holds the coefficient
   *  times its column's standard deviation. A predictor measured in micrometres and one in
   *  dollars then give q coordinates of like size, and warmup's first step size and unit metric
   *  fit both (with 1e-6 and 1e6 columns in one model the unscaled posterior scales differ by
   *  1e12 and the chains never mix). 1 for everything else. The constant log Jacobian
   *  -log column_scale is left out of lp__, so lp__ stays the log density of the coefficients
   *  as brms and Stan report it. */
  double column_scale = 1.0;
  std::size_t q_index = 0;          ///< position in q (unless fixed)
  double log_normalizer = 0.0;      ///< subtracted from the log prior: log P(x > 0) if truncated
};

/** One group-level term's parameters. */
struct term_parameters {
  std::size_t first_sd = 0;        ///< index into model::scalars() of its k sds
  std::size_t k = 0;
  bool correlated = false;
  std::size_t cpc_q_index = 0;     ///< first of k(k-1)/2 canonical partial correlations in q
  double lkj_eta = 1.0;
  std::size_t z_q_index = 0;       ///< first of its J·k entries in q (z, or u when centered)
  /** Centered form: q holds u_t[j] ~ N(0, diag(sd) L Lᵀ diag(sd)) instead of z_t[j] for the
   *  first n_centered coefficients (0: non-centered, k: the whole term). The same posterior, a
   *  different geometry: better where each level has many observations
   *  (kernels/group_effects.cuh says why); see centering. Between 0 and k in a correlated term
   *  whose leading coefficients (its intercept) differ clearly between data-rich levels while
   *  the later ones (a slope) hardly do: MRP's (1 + age | state), where centering the whole term
   *  makes the flat slope's sd a funnel and leaving it all non-centered makes the intercepts
   *  crawl (bench/README.md, session 10). Only a leading block: L is lower triangular, so the
   *  centered u_C = D_C L_CC z_C does not depend on the non-centered z_N. */
  std::size_t n_centered = 0;
  /** Whether any coefficient is centered (mean_of, absorption and the Jacobian then apply). */
  bool centered() const { return n_centered > 0; }
  /** Centered terms, per centered coefficient c < n_centered: the population-level coefficient
   *  (design column) of the same name that q's entries are centered on, or -1. q then holds
   *  m + u_t[j][c] (Gelfand, Sahu & Carlin's hierarchical centering): where the data fix each
   *  level's b + u, the coefficient b and the J effects u would otherwise move together along a
   *  ridge that no diagonal metric follows (b_educ, bulk ESS 6 at 300k rows in session 6); in
   *  the centered sum the data no longer see b, which its levels' prior alone places. The
   *  term's Intercept is centered on the model's intercept at zero covariates
   *  (model::globals_forward says which). A coefficient goes to one term at most: of the terms
   *  that have it, the one on the factor with the fewest levels (then the most rows_per_level),
   *  if that term centers it. n_centered entries. */
  std::vector<std::ptrdiff_t> mean_of;
  /** A centered varying intercept alone in its term (k = 1) absorbs the varying slopes on the
   *  same factor whose covariate takes one value x_j in each level (other k = 1 terms, e.g. the
   *  election model's (0 + potus2016 | state) beside (1 | state)): q's entry for level j holds
   *  m + u[j] + Σ_s x_sj u_s[j], the whole level effect the data see, so the prior of u[j] =
   *  q - m - Σ_s x_sj u_s[j] is where the slopes enter, and the data no longer pin u[j] and
   *  x_j u_s[j] only through their sum. Without it each level has a ridge along which the two
   *  move together, as narrow as the data are rich: at 30k rows the slope took the adapted step
   *  size of the election model from 0.13 to below 0.01 (bench/README.md). Empty otherwise. */
  struct absorbed_slope {
    std::size_t term = 0;              ///< the slope's term (k = 1, not itself absorbing)
    std::vector<double> level_values;  ///< x_j, one per level of the factor
  };
  std::vector<absorbed_slope> absorbed;
  /** A centered term whose coefficient 0 is the Intercept ((1 | state), (1 + age | state)) absorbs
   *  the population-level coefficients whose column takes one value in each of its levels (MRP's
   *  state-level predictors: y ~ x + ... + (1 | state) with x a property of the state): q's
   *  Intercept entry for level j holds m + u[j] + Σ_a x_aj b_a as well, the Intercept's level mean
   *  gains Σ_a x_aj b_a, and the data no longer see b_a, which the levels' prior alone places (a
   *  regression of the level effects on x_a). Without it the data fix u[j] + x_aj b_a in every
   *  level, and b_a moves with all J entries of q along a ridge no diagonal metric follows: bulk
   *  ESS 121 of 2,000 draws and R-hat 1.047 for b_x at 34 levels of 1,000 rows (bench/README.md,
   *  session 9). A column goes to the centered term with an Intercept that has the fewest levels
   *  among those it is constant within; not a coefficient that some centered term's levels are
   *  centered on (mean_of), nor one with a constant() prior. Empty otherwise. */
  struct absorbed_coefficient {
    std::size_t coefficient = 0;       ///< the design column (index into the coefficients)
    std::vector<double> level_values;  ///< x_aj, the column's value (as in X) in each level
  };
  std::vector<absorbed_coefficient> absorbed_coefficients;
  /** Whether the term's level means read other parameters level by level (absorbed slopes or
   *  coefficients): such terms go second in the forward pass and first in the backward pass. */
  bool absorbs() const { return !absorbed.empty() || !absorbed_coefficients.empty(); }
  /** The absorbing term's index when this term's slope is absorbed (above), else -1. Its data
   *  gradient then cancels (it moves q's entry of the absorbing term with it), leaving the prior. */
  std::ptrdiff_t absorbed_into = -1;
  /** How much the data say about each level's coefficients, in rows of average size: for each
   *  coefficient, the information of a level's rows about it given the other coefficients on the
   *  same grouping factor (Σ x² for an intercept alone), over the mean x² of a row; the median
   *  over levels; the smallest over the term's coefficients. About the observations per level;
   *  near 0 for a covariate constant within levels, confounded with the factor's intercept
   *  (exactly 0 for a slope an intercept-only term could absorb, see absorbed, and that
   *  intercept's information is then reckoned without it).
   *  Where even each coefficient's own information (Σ x² alone) is under the automatic
   *  threshold for every coefficient on the factor, that upper bound is reported instead (the
   *  per-level Gram matrices are then not formed). What the automatic choice reads (0 for a
   *  factor with over 16 coefficients, never centered automatically). */
  double rows_per_level = 0.0;
  /** Automatic choice, for the terms whose rows_per_level passes: how far apart the levels'
   *  coefficients are against how well each level's rows fix them (between-level variance by the
   *  method of moments over the median within-level sampling variance, of a least-squares fit per
   *  level; the smallest over the coefficients). Below centering::automatic_signal_to_noise the
   *  prior outweighs the data even with many rows (small sds: the election model's state slopes
   *  in bernoulli data, where the centered form gave 202 divergent transitions at 30k rows), and
   *  the term stays non-centered, or centered through its last leading coefficient that passes
   *  (n_centered). NaN when not computed. */
  double signal_to_noise = std::numeric_limits<double>::quiet_NaN();
  /** The same per coefficient (k values; empty when not computed). */
  std::vector<double> coefficient_signal_to_noise;
};

/** Which group-level terms are sampled in the centered form (`--centered`). */
struct centering {
  enum class mode {
    automatic,  ///< the terms with rows_per_level >= automatic_threshold (and k <= 16), through
                ///< their last leading coefficient whose levels' spread over noise
                ///< (term_parameters::coefficient_signal_to_noise) is at least
                ///< automatic_signal_to_noise
    none,       ///< every term non-centered (brms's parameterization)
    all,        ///< every term centered
    listed      ///< the terms on the grouping factors in `groups`
  };
  mode how = mode::automatic;
  /** listed: grouping factors as the formula names them ("state": its terms whole), or a factor
   *  and a coefficient ("state:Intercept": each term on the factor that has the coefficient,
   *  through it, term_parameters::n_centered). */
  std::vector<std::string> groups;
  /** Observations per level from which the automatic choice centers a term. Where the data
   *  give each level at least this many rows, a group sd would have to be under about a tenth
   *  of the residual sd (gaussian) for the prior to outweigh them; at 3 rows per level (the
   *  election model's respondents) the prior dominates and non-centered is right. */
  static constexpr double automatic_threshold = 100.0;
  /** And the levels' spread over the data's noise per level (term_parameters::signal_to_noise)
   *  from which the automatic choice centers a term's coefficient. At 1 the data and the prior
   *  weigh the same (I sd² = 1); 2 leans to non-centered, because the estimate from a few dozen
   *  levels is rough and the two mistakes differ: a centered term whose sd can come near 0
   *  diverges (a funnel), a non-centered one only mixes more slowly. */
  static constexpr double automatic_signal_to_noise = 2.0;
};

/** Parses `--centered`: "auto", "none", "all", or grouping factors separated by commas
 *  ("state,dem"; a factor named in the formula, checked by the model), each perhaps with one of
 *  its terms' coefficients ("state:Intercept", centering the terms on state through it).
 *  @throws option_error for an empty list or an empty name. */
centering parse_centering(const std::string& text);


/** Constrained values of the global parameters at one q, with what the backward pass needs. */
struct global_values {
  std::vector<double> beta;                ///< p coefficients in design order (centered Intercept)
  std::vector<double> sd;                  ///< Σ_t k_t sds, term by term
  std::vector<std::vector<double>> chol_corr;  ///< per term, k×k lower Cholesky factor, row-major
  double sigma = 1.0;                      ///< gaussian sigma (1 when absent)
  /** Σ_t k_t, term by term: what each centered coefficient's entries of q are centered on (the
   *  value of the coefficient term_parameters::mean_of names), 0 elsewhere. */
  std::vector<double> level_means;
  double log_prior_jacobian = 0.0;         ///< priors + Jacobians of the globals
};

/** Gradients of the log density with respect to the constrained globals, from the data terms
 *  and the group effects; model::globals_backward turns them into gradients on q. */
struct global_gradients {
  std::vector<double> beta;                ///< ∂/∂β (Xᵀr)
  std::vector<double> sd;                  ///< ∂/∂sd
  std::vector<std::vector<double>> chol_corr;  ///< ∂/∂L, k×k row-major (lower part used)
  double sigma = 0.0;                      ///< ∂/∂sigma
  std::vector<double> level_means;         ///< ∂/∂ global_values::level_means (Σ_t k_t)
};

/** A model: design + priors. Immutable after construction; shared by all chains. */
class model {
 public:
  /** @param[in] d the design (shared, read-only)
   *  @param[in] priors user prior statements, applied in order (later ones win)
   *  @param[in] centered which group-level terms take the centered form
   *  @throws prior_error for a prior that names a class, group or coefficient the model does
   *          not have, or a distribution that cannot apply (e.g. lkj on b); option_error for a
   *          centered group the formula does not have (or a coefficient its terms do not
   *          have), or a centered term with more than
   *          kernels::max_centered_k (16) coefficients. */
  model(std::shared_ptr<const design> d, const std::vector<prior_spec>& priors,
        const centering& centered = {});

  const design& data() const { return design_; }
  std::size_t dim() const { return dim_; }
  std::size_t n_globals() const { return n_globals_; }
  const std::vector<scalar_parameter>& scalars() const { return scalars_; }
  const std::vector<term_parameters>& terms() const { return terms_; }
  bool has_sigma() const { return has_sigma_; }

  /** Names of the unconstrained parameters q (e.g. "log(sd_g__Intercept)", "z_g[3,1]", and
   *  "r_g[3,1]" for a centered term). */
  std::vector<std::string> unconstrained_names() const;

  /** Output columns in brms order: b_* (b_Intercept uncentered), sd_*, cor_*, sigma, then the
   *  group effects r_<group>.<level>.<coef> (1-based, as ArviZ/cmdstanr read arrays). */
  std::vector<std::string> output_names(bool include_group_effects = true) const;
  /** Number of output columns before the group effects. */
  std::size_t n_output_globals() const;

  /** The constrained output values at @p q, in output_names() order. */
  void write_constrained(const double* q, double* out, bool include_group_effects = true) const;

  /** Maps the globals of @p q to constrained values; puts priors and log Jacobians of the
   *  globals into log_prior_jacobian (-infinity outside a prior's support), with, for each
   *  centered term, its group effects' -J (Σ log sd + Σ log L_aa). The rest of the group effects'
   *  prior (-z²/2 each, without its constant) is the backend's, as z lives in its memory. */
  void globals_forward(const double* q, global_values& values) const;

  /** Adds to grad_q[0 .. n_globals) the gradient of log_prior_jacobian and, through the
   *  transforms, of the data terms given their gradients @p g in the constrained globals. The
   *  z part of grad_q (from the group effects and z's own prior) is the backend's job. */
  void globals_backward(const double* q, const global_values& values, const global_gradients& g,
                        double* grad_q) const;

  /** The group effects at q (n_u values in the design's layout) given globals_forward's
   *  @p values: kernels::group_level_forward per level, the absorbing intercepts
   *  (term_parameters::absorbed) after the terms whose effects their level means read. What the
   *  CPU backend's forward pass and write_constrained compute; the CUDA kernels do the same. */
  void group_effects_forward(const double* q, const global_values& values, double* u) const;

  /** What level j of centered term @p t is centered on (k values into @p means): the term's
   *  level means, its Intercept's (coefficient 0) plus Σ_s x_sj u_s[j] for the absorbed slopes,
   *  with @p u holding the slopes' effects (group_effects_forward), plus Σ_a x_aj b_a for the
   *  absorbed coefficients. Only for terms that absorb (term_parameters::absorbs). */
  void absorbing_level_means(std::size_t t, std::size_t j, const global_values& values,
                             const double* u, double* means) const;

  /** The terms of the log density that do not depend on the parameters, summed once: over
   *  observations log C(n, y), -lgamma(y + 1), -log(2π)/2, -log se_i (glm_family.cuh leaves them
   *  out), and -log(2π)/2 for each z. Backends add it to every evaluation, so that lp__ is the
   *  normalized log posterior density up to the LKJ normalizer. */
  double log_density_constant() const { return log_density_constant_; }

  /** Where random initial values are centered (dim values): for the centered Intercept, the
   *  link of the median response (the location of brms's default Intercept prior, whatever the
   *  prior in use), 0 for everything else. Stan centers every coordinate at 0; with counts in
   *  the millions the intercept is then 14 units from the data, and warmup cannot cover that. */
  std::vector<double> init_centers() const;

  /** Where chains start, and how widely, per coordinate of q (dim values each). */
  struct initial_value_guess {
    std::vector<double> center;
    /** A guessed posterior sd: random initial values are center ± R × scale (uniform). */
    std::vector<double> scale;
  };
  /** A rough fit from the data (`--init-from data`, fit_options::initial_values_from_data): the
   *  population-level coefficients by iteratively reweighted least squares without group effects
   *  (on up to 2^18 evenly spaced rows), then four sweeps over the group-level terms in formula
   *  order (backfitting), each fitted per level by least squares to the working residuals the
   *  others left, its sds by the method of moments across levels (at least a tenth of a level's
   *  sampling sd) and its effects shrunk toward 0 by them; sigma from the final residuals;
   *  correlations 0.
   *  Scales: the coefficients' standard errors (at least sd/√J for a centered term's level mean),
   *  each level's shrunken posterior sd (over sd for z, at most 1), 0.5 for log sds and
   *  correlations, 0.1 for log sigma. A few passes over the data; a part whose fit fails keeps
   *  init_centers() and scale 1 (Stan's start), as does a term of more than 16 coefficients. */
  initial_value_guess initial_values_from_data() const;

  /** A starting inverse metric for warmup (dim variances), from the data instead of Stan's unit
   *  metric, as a CmdStan user would give one in a metric file: each coordinate's posterior
   *  variance guessed from how much the rows say about it, with φ the noise variance of a row on
   *  the link scale (gaussian var(y) or mean se², bernoulli 1/(p̄(1-p̄)), binomial per trial,
   *  poisson 1/ȳ): φ/n for a coefficient (q holds it times its column's rms), (1 + spread over
   *  noise) φ/(rows J) for a coefficient that a centered term's levels are centered on, and
   *  (1 + spread) φ/(rows Σ_j x_aj²) times its column's scale² for one it absorbs, φ/Σx² over
   *  the level's rows for a centered level, 1/(2n) for log sigma, 1/(2J) for a log sd, 1 for
   *  non-centered z and everything else. The unit metric makes the first 100 warmup iterations
   *  take trees as long as the widest posterior scale over the narrowest (about 750-960 leapfrog
   *  steps each on the election model at 30k rows, 90% of a 300-iteration warmup); Stan's windows
   *  replace this guess with the draws' variances from the first window on. `--metric-init data`
   *  (fit_options::initial_metric_from_data, the default): over 4 chains of 300 + 300 warmup
   *  took 175,359 leapfrog steps against 384,483 for about the same ESS; in some chains a later
   *  window still adapts from a chain that moved less, and its trees are deeper. */
  std::vector<double> initial_inv_metric() const;

  /** Warnings about the model and data that make the posterior improper or the coefficients
   *  unidentified: a constant predictor column, collinear predictor columns, for the logit
   *  families a predictor that separates the outcomes while its prior is flat, a varying
   *  intercept on a factor with one observation per level (gaussian with sigma, bernoulli), a
   *  varying slope confounded with its factor's intercept. */
  const std::vector<std::string>& warnings() const { return warnings_; }

  /** The brms default priors as statements, one per line, for `hbglm info` and output headers. */
  std::vector<std::string> prior_summary() const;

 private:
  void apply_prior(const prior_spec& spec);
  void set_column_scales();
  void check_group_sizes();
  /** Per term, for a varying slope that a centered intercept-only term on its factor would
   *  absorb (term_parameters::absorbed): that term's index and the slope's covariate per level;
   *  else -1 and empty. A property of the design, found once. */
  struct absorbable_slopes {
    std::vector<std::ptrdiff_t> into;
    std::vector<std::vector<double>> level_values;
  };
  static absorbable_slopes find_absorbable_slopes(const design& d);
  void choose_centered_terms(const centering& centered, const absorbable_slopes& absorbable);
  void choose_level_means();
  void check_identifiability();
  void check_level_constant_slopes();
  void choose_absorbed_slopes(absorbable_slopes&& absorbable);
  void choose_absorbed_coefficients();

  std::shared_ptr<const design> design_ptr_;
  const design& design_;
  std::vector<scalar_parameter> scalars_;
  std::vector<term_parameters> terms_;
  std::size_t n_beta_ = 0;
  std::size_t sigma_index_ = 0;  ///< into scalars_
  bool has_sigma_ = false;
  std::size_t n_globals_ = 0;
  std::size_t dim_ = 0;
  double log_density_constant_ = 0.0;
  std::vector<std::string> warnings_;
  double intercept_init_center_ = 0.0;
  /** Covariates some centered term is centered on, when the design is centered: their
   *  column_means · b are taken out of the Intercept's coordinate in q, which then holds the
   *  intercept at zero covariates, the value such a term's own Intercept is centered on
   *  (globals_forward). Otherwise the data would tie b_x to the centered Intercept: they see
   *  Intercept - mean(x) b_x + Σ_j (b_x + u_j) x. */
  std::vector<std::size_t> uncentered_intercept_columns_;
  struct output_group {
    std::string name;                                    ///< r_<group>
    std::size_t first_term = 0;                          ///< its level labels come from here
    std::vector<std::pair<std::size_t, std::size_t>> coefs;  ///< (term, coef within term)
  };
  std::vector<output_group> output_groups_;

 public:
  /** Output groups of group effects: name r_<group>, level labels and coefficient names, as the
   *  CSV header comments list them (`# levels.r_g = [...]`, `# coefs.r_g = [...]`). */
  struct group_labels {
    std::string name;
    std::vector<std::string> levels;
    std::vector<std::string> coefs;
  };
  std::vector<group_labels> output_group_labels() const;
};

}  // namespace hbglm
