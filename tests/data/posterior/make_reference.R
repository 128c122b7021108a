#!/usr/bin/env Rscript
# Reference values for tests/unit/summary_test.cpp: posterior summaries computed by the R package
# posterior (Vehtari, Gelman, Simpson, Carpenter and Buerkner 2021, "Rank-normalization, folding,
# and localization: an improved R-hat"), so that hbglm's C++ port can be compared to it without R.
#
# Run from this directory:  Rscript make_reference.R
# Made with R 4.2.2, posterior 1.4.0, matrixStats 0.63.0. The tests never run R.
#
# Files written:
#   draws_<set>.csv    one column `chain` (1-based) and one column per variable; rows in chain
#                      order, iterations in order within a chain. Values are printed with 7
#                      significant digits and READ BACK before summarising, so R and C++ summarise
#                      exactly the same doubles (both parse the same decimal strings).
#   summary_<set>.csv  posterior::summarise_draws() of the read-back draws, 17 significant digits,
#                      NA where posterior returns NA.
#   qnorm.csv          stats::qnorm at fixed probabilities (the rank normalization uses it).
#   autocovariance.csv posterior:::autocovariance of two series (the FFT step of ESS).
#   print_format.txt   brms's print_format() layout (sprintf + print(quote = FALSE, right = TRUE))
#                      of a small table, to check the C++ brms-like table layout.
suppressPackageStartupMessages(library(posterior))
stopifnot(packageVersion("posterior") >= "1.4.0")

set.seed(20240611)

fmt7 <- function(x) sprintf("%.7g", x)
fmt17 <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))

ar1 <- function(n, rho) {
  # stationary start, so each chain is AR(1) from its first draw
  x <- numeric(n)
  x[1] <- rnorm(1) / sqrt(1 - rho^2)
  for (i in 2:n) x[i] <- rho * x[i - 1] + rnorm(1)
  x
}

# Each set: a list of variables, each an iterations x chains matrix.
make_set <- function(n_iter, n_chain, generators) {
  lapply(generators, function(g) {
    m <- matrix(NA_real_, n_iter, n_chain)
    for (c in seq_len(n_chain)) m[, c] <- g(n_iter, c)
    m
  })
}

sets <- list(
  main = make_set(1000, 4, list(
    iid_normal = function(n, c) rnorm(n),
    ar1_0.9 = function(n, c) ar1(n, 0.9),
    shifted_mean = function(n, c) rnorm(n, mean = if (c == 4) 0.6 else 0),  # bad R-hat
    heavy_t2 = function(n, c) rt(n, df = 2),                                 # infinite variance
    antithetic = function(n, c) ar1(n, -0.7),                                # ESS cap S log10(S)
    random_walk = function(n, c) cumsum(rnorm(n)),                           # long Geyer cutoff
    lognormal = function(n, c) exp(rnorm(n)),                                # skewed
    constant = function(n, c) rep(3.5, n),                                   # NA diagnostics
    discrete_ties = function(n, c) rpois(n, 3),                              # many ties
    binary = function(n, c) rbinom(n, 1, 0.3)                                # q95 = max: NA tail
  )),
  short = make_set(20, 4, list(
    normal = function(n, c) rnorm(n),
    ar1_0.5 = function(n, c) ar1(n, 0.5),
    discrete = function(n, c) sample(1:3, n, replace = TRUE)
  )),
  odd = make_set(101, 3, list(                                               # split drops a middle draw
    normal = function(n, c) rnorm(n),
    ar1_0.7 = function(n, c) ar1(n, 0.7),
    with_inf = function(n, c) { x <- rnorm(n); x[c * 7] <- if (c == 2) -Inf else Inf; x },
    with_nan = function(n, c) { x <- rnorm(n); if (c == 3) x[50] <- NaN; x }
  )),
  single = make_set(400, 1, list(                                            # one chain
    normal = function(n, c) rnorm(n),
    ar1_0.9 = function(n, c) ar1(n, 0.9)
  )),
  tiny = make_set(7, 2, list(normal = function(n, c) rnorm(n))),             # split chains of 3
  very_tiny = make_set(5, 2, list(normal = function(n, c) rnorm(n)))         # split chains of 2: ESS NA
)

write_draws <- function(set, path) {
  n_iter <- nrow(set[[1]])
  n_chain <- ncol(set[[1]])
  out <- data.frame(chain = rep(seq_len(n_chain), each = n_iter))
  for (v in names(set)) out[[v]] <- fmt7(as.vector(set[[v]]))
  write.csv(out, path, row.names = FALSE, quote = FALSE)
}

read_draws <- function(path) {
  d <- read.csv(path, check.names = FALSE)
  n_chain <- max(d$chain)
  n_iter <- nrow(d) / n_chain
  vars <- setdiff(names(d), "chain")
  arr <- array(NA_real_, c(n_iter, n_chain, length(vars)),
               dimnames = list(NULL, NULL, vars))
  for (v in vars) arr[, , v] <- matrix(d[[v]], n_iter, n_chain)
  as_draws_array(arr)
}

for (name in names(sets)) {
  path <- sprintf("draws_%s.csv", name)
  write_draws(sets[[name]], path)
  x <- read_draws(path)
  s <- suppressWarnings(summarise_draws(
    x, "mean", "median", "sd", "mad",
    ~quantile2(.x, probs = c(0.025, 0.05, 0.95, 0.975)),
    "rhat", "ess_bulk", "ess_tail", "mcse_mean", "ess_basic", "rhat_basic"))
  out <- data.frame(variable = s$variable)
  for (col in setdiff(names(s), "variable")) out[[col]] <- fmt17(s[[col]])
  write.csv(out, sprintf("summary_%s.csv", name), row.names = FALSE, quote = FALSE)
}

# qnorm: both branches of Wichura's AS 241 (|p - 0.5| <= 0.425, and r = sqrt(-log p) <= 5 or > 5).
p <- c(1e-300, 1e-20, 1e-12, 1.3e-11, 1e-8, 1e-5, 1.5e-4, 0.001, 0.01, 0.05, 0.0749, 0.075, 0.0751,
       0.1, 0.2, 0.3, 0.375 / 4000.25, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.925, 0.9251, 0.95, 0.99,
       0.999, 1 - 1e-5, 1 - 1e-9)
write.csv(data.frame(p = fmt17(p), q = fmt17(qnorm(p))), "qnorm.csv", row.names = FALSE,
          quote = FALSE)

# autocovariance (posterior's FFT version) of an AR(1) chain and of a short series.
ac1 <- posterior:::autocovariance(as.numeric(read_draws("draws_main.csv")[, 1, "ar1_0.9"]))
ac2 <- posterior:::autocovariance(as.numeric(read_draws("draws_short.csv")[, 2, "normal"]))
write.csv(rbind(data.frame(series = "main_ar1_0.9_chain1", lag = 0:49, value = fmt17(ac1[1:50])),
                data.frame(series = "short_normal_chain2", lag = 0:19, value = fmt17(ac2))),
          "autocovariance.csv", row.names = FALSE, quote = FALSE)

# brms's print_format (brms/R/summary.R): "%.2f" for every column except the ESS columns ("%.0f"),
# then print(quote = FALSE, right = TRUE), which pads columns to the widest cell or header.
s <- suppressWarnings(summarise_draws(read_draws("draws_main.csv"), "mean", "sd",
                     ~quantile2(.x, probs = c(0.025, 0.975)), "rhat", "ess_bulk", "ess_tail"))
m <- as.matrix(as.data.frame(s)[, -1])
colnames(m) <- c("Estimate", "Est.Error", "l-95% CI", "u-95% CI", "Rhat", "Bulk_ESS", "Tail_ESS")
rownames(m) <- s$variable
out <- m
for (i in seq_len(ncol(m))) {
  out[, i] <- if (colnames(m)[i] %in% c("Bulk_ESS", "Tail_ESS")) sprintf("%.0f", m[, i])
              else sprintf("%.2f", m[, i])
}
writeLines(capture.output(print(out, quote = FALSE, right = TRUE)), "print_format.txt")
