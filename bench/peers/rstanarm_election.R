# rstanarm on the election model (ARCHITECTURE §1): the time of one log density + gradient of
# its Stan model, and (with --full) a full NUTS run summarized under hbglm's (brms's) names.
#
#   Rscript bench/peers/rstanarm_election.R DATA.csv FAMILY OUT.csv [--full] [--seed S]
#                                           [--formula F] [--min-reps N] [--min-time SEC]
#                                           [--warmup W] [--samples S]
#
# DATA.csv: from `hbglm simulate --model election --family FAMILY`; FAMILY: gaussian
# (stan_lmer) or bernoulli (stan_glmer, binomial(link = "logit")). rstanarm's default priors:
# coefficients normal(0, 2.5) and intercept normal(mean(y) or 0, 2.5), both autoscaled;
# sigma exponential(1/sd(y)); covariance decov(1, 1, 1, 1), i.e. for these one-coefficient terms
# a gamma(1, 1) prior on each sd in units of sd(y) (gaussian) or 1 (bernoulli).
# prior_summary() is printed.
#
# 1. Gradient time. Builds the model with the fewest iterations rstanarm allows (chains = 1,
#    iter = 2, warmup = 1, max_treedepth = 1), then times rstan::grad_log_prob(fit$stanfit, q)
#    at points q ~ uniform(-2, 2) on the unconstrained scale (Stan's initialization range), a new
#    point per call (drawn outside the timed part): one untimed call, then at least --min-reps
#    (default 20) calls and --min-time (default 1) seconds. Reports the median wall time per call
#    (Sys.time, microseconds) and the mean processor time (proc.time user + system over all the
#    timed calls). Without --full, OUT.csv gets this one row:
#      tool,family,n,n_upars,build_s,grad_ms,grad_cpu_ms,reps,rss_MB
#    (build_s: elapsed time of the stan_lmer/stan_glmer call of the tiny fit; rss_MB: the
#    process's peak resident set, VmHWM, after the timing).
# 2. --full: a full run, 4 chains, W = 1000 warmup + S = 1000 draws (--warmup, --samples),
#    cores = 2, seed --seed (default 1),
#    timed (elapsed). OUT.csv gets, per parameter,
#      tool,family,n,parameter,estimate,std_error,seconds,mcse,ess_bulk
#    estimate = posterior mean, std_error = posterior sd, mcse = posterior::mcse_mean,
#    ess_bulk = posterior::ess_bulk (sd_* from sqrt of rstanarm's Sigma[g:v,v] draws), and the
#    gradient timing of step 1 goes to OUT with .csv replaced by _grad.csv. Prints the number of
#    gradients after warmup (sum of n_leapfrog__; rstanarm drops the warmup iterations), the
#    divergences and the smallest bulk ESS and largest R-hat of those parameters.
#    Takes hours at n = 30,000.
suppressPackageStartupMessages({
  library(rstanarm)
  library(posterior)
})

script_dir <- dirname(normalizePath(sub("^--file=", "",
  grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)[1])))
source(file.path(script_dir, "election_formula.R"))  # election_formula

args <- commandArgs(trailingOnly = TRUE)
usage <- paste("usage: Rscript rstanarm_election.R DATA.csv FAMILY OUT.csv [--full] [--seed S]",
               "[--formula F] [--min-reps N] [--min-time SEC] [--warmup W] [--samples S]")
if (length(args) < 3) stop(usage)
data_path <- args[1]
family <- args[2]
out_path <- args[3]
full <- FALSE
seed <- 1L
min_reps <- 20L
min_time <- 1
n_warmup <- 1000L
n_samples <- 1000L
formula_text <- election_formula
rest <- args[-(1:3)]
while (length(rest) > 0) {
  if (rest[1] == "--full") {
    full <- TRUE; rest <- rest[-1]
  } else if (rest[1] == "--seed" && length(rest) >= 2) {
    seed <- as.integer(rest[2]); rest <- rest[-(1:2)]
  } else if (rest[1] == "--formula" && length(rest) >= 2) {
    formula_text <- rest[2]; rest <- rest[-(1:2)]
  } else if (rest[1] == "--min-reps" && length(rest) >= 2) {
    min_reps <- as.integer(rest[2]); rest <- rest[-(1:2)]
  } else if (rest[1] == "--warmup" && length(rest) >= 2) {
    n_warmup <- as.integer(rest[2]); rest <- rest[-(1:2)]
  } else if (rest[1] == "--samples" && length(rest) >= 2) {
    n_samples <- as.integer(rest[2]); rest <- rest[-(1:2)]
  } else if (rest[1] == "--min-time" && length(rest) >= 2) {
    min_time <- as.numeric(rest[2]); rest <- rest[-(1:2)]
  } else {
    stop(usage)
  }
}
if (!family %in% c("gaussian", "bernoulli")) stop("FAMILY must be gaussian or bernoulli")

d <- read.csv(data_path)
for (g in c("state", "respondent", "dem", "rep")) d[[g]] <- factor(d[[g]])
f <- as.formula(formula_text)
n <- nrow(d)
tool <- if (family == "gaussian") "rstanarm stan_lmer" else "rstanarm stan_glmer"
cat(sprintf("rstanarm %s, rstan %s, n = %d, family %s\n",
            as.character(packageVersion("rstanarm")), as.character(packageVersion("rstan")),
            n, family))

fit_model <- function(...) {
  if (family == "gaussian") {
    stan_lmer(f, data = d, seed = seed, refresh = 0, ...)
  } else {
    stan_glmer(f, data = d, family = binomial(link = "logit"), seed = seed, refresh = 0, ...)
  }
}

peak_rss_mb <- function() {
  line <- grep("^VmHWM:", readLines("/proc/self/status"), value = TRUE)
  as.numeric(sub("^VmHWM:\\s*([0-9]+) kB.*", "\\1", line)) / 1024
}

# 1. The tiny fit, for its model object, then the gradient timing.
build_s <- system.time(tiny <- suppressWarnings(
  # init = 0: random inits on 10,000 bernoulli group effects can fail Stan's initialization,
  # and this fit is only for its model object (the timing draws its own points below).
  fit_model(chains = 1, iter = 2, warmup = 1, init = 0,
            control = list(max_treedepth = 1))))[["elapsed"]]
print(prior_summary(tiny))
sf <- tiny$stanfit
n_upars <- rstan::get_num_upars(sf)
cat(sprintf("model built in %.1f s; %d unconstrained parameters\n", build_s, n_upars))

set.seed(seed)
# Stan's range is uniform(-2, 2); where rstanarm's bernoulli log density overflows there at
# 10,000 group effects, the range is halved until points have a finite log density (the cost of
# a gradient does not depend on where it is taken). The range used is printed.
init_radius <- 2
draw_point <- function() {
  repeat {
    for (attempt in 1:20) {
      q <- runif(n_upars, -init_radius, init_radius)
      if (is.finite(rstan::log_prob(sf, q))) return(q)
    }
    if (init_radius < 0.01) stop("no point with a finite log density")
    init_radius <<- init_radius / 2
    cat(sprintf("no finite log density in 20 tries: points now uniform(-%g, %g)\n",
                init_radius, init_radius))
  }
}
invisible(rstan::grad_log_prob(sf, draw_point()))  # untimed
wall <- numeric(0)
cpu <- 0
while (length(wall) < min_reps || sum(wall) < min_time) {
  q <- draw_point()
  c0 <- proc.time()
  t0 <- Sys.time()
  g <- rstan::grad_log_prob(sf, q)
  t1 <- Sys.time()
  c1 <- proc.time()
  wall <- c(wall, as.numeric(t1 - t0, units = "secs"))
  cpu <- cpu + (c1[["user.self"]] - c0[["user.self"]]) + (c1[["sys.self"]] - c0[["sys.self"]])
  stopifnot(length(g) == n_upars, all(is.finite(g)))
}
grad <- data.frame(tool = tool, family = family, n = n, n_upars = n_upars, build_s = build_s,
                   grad_ms = 1000 * median(wall), grad_cpu_ms = 1000 * cpu / length(wall),
                   reps = length(wall), rss_MB = round(peak_rss_mb()))
cat(sprintf("grad_log_prob: median %.3f ms wall, mean %.3f ms processor, %d calls\n",
            grad$grad_ms, grad$grad_cpu_ms, grad$reps))
grad_path <- if (full) sub("(\\.csv)?$", "_grad.csv", out_path) else out_path
write.csv(grad, grad_path, row.names = FALSE, quote = FALSE)
cat(sprintf("wrote %s\n", grad_path))
if (!full) quit(save = "no")

# 2. The full run.
rm(tiny, sf)
seconds <- system.time(fit <- fit_model(chains = 4, iter = n_warmup + n_samples, warmup = n_warmup,
                                        cores = 2))[["elapsed"]]
arr <- as.array(fit)  # iterations x chains x parameters, rstanarm's names
pn <- dimnames(arr)[[3]]
fixed <- pn[seq_len(which(pn == "sigma" | grepl("^b\\[", pn))[1] - 1)]
sigmas <- grep("^Sigma\\[([^:]+):([^,]+),\\2\\]$", pn, value = TRUE)
draws <- list()
for (p in fixed) {
  draws[[paste0("b_", sub("^\\(Intercept\\)$", "Intercept", p))]] <- arr[, , p]
}
for (p in sigmas) {
  grp <- sub("^Sigma\\[([^:]+):.*$", "\\1", p)
  coef <- sub("^Sigma\\[[^:]+:([^,]+),.*$", "\\1", p)
  draws[[paste0("sd_", grp, "__", sub("^\\(Intercept\\)$", "Intercept", coef))]] <- sqrt(arr[, , p])
}
if ("sigma" %in% pn) draws[["sigma"]] <- arr[, , "sigma"]
da <- posterior::as_draws_array(
  array(unlist(draws), dim = c(dim(arr)[1:2], length(draws)),
        dimnames = list(NULL, NULL, names(draws))))
s <- posterior::summarise_draws(da, mean = mean, sd = sd, mcse_mean = posterior::mcse_mean,
                                ess_bulk = posterior::ess_bulk, rhat = posterior::rhat)
num <- function(x) as.numeric(unclass(x))  # summarise_draws returns pillar_num columns
out <- data.frame(tool = tool, family = family, n = n, parameter = s$variable,
                  estimate = num(s$mean), std_error = num(s$sd), seconds = seconds,
                  mcse = num(s$mcse_mean), ess_bulk = num(s$ess_bulk))
write.csv(out, out_path, row.names = FALSE, quote = FALSE)
# rstanarm does not keep the warmup iterations (set_sampling_args forces save_warmup = FALSE),
# so the gradients counted are those of the sampling phase only.
sp <- rstan::get_sampler_params(fit$stanfit, inc_warmup = FALSE)
n_grad <- sum(sapply(sp, function(x) sum(x[, "n_leapfrog__"])))
n_div <- sum(sapply(sp, function(x) sum(x[, "divergent__"])))
cat(sprintf(paste("full run: %.1f s elapsed, %d gradients after warmup, %d divergent,",
                  "min bulk ESS %.0f, max R-hat %.3f\n"),
            seconds, n_grad, n_div, min(num(s$ess_bulk)), max(num(s$rhat))))
cat(sprintf("wrote %d rows to %s\n", nrow(out), out_path))
