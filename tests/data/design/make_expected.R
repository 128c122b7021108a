#!/usr/bin/env Rscript
# Reference values for tests/unit/design_test.cpp: the population-level design matrix from R's
# model.matrix and the group-level design from lme4::lFormula, for a small fixed data set, so that
# hbglm's design builder (host/design/design.cpp) can be compared to R without R.
#
# Run from this directory:  Rscript make_expected.R
# Made with R 4.2.2 and lme4 1.1.31. The tests never run R.
#
# Files written:
#   data.csv      48 rows: numeric y, yb (0/1), cnt (counts), s and n (binomial), x, z, m (with 3
#                 NAs), text factors f (a/b/c), h (hi/lo), e (B/C/a/b: mixed case, so that byte-wise
#                 and locale sorting differ), numeric grouping g1 (2/7/10/33/100: numeric and
#                 string sorting differ) and text grouping g2 (s1,s2,s3,s10,s11,s20) and g3 (X/Y/Z).
#                 Written by write.csv (text quoted, NA for missing) and READ BACK before computing
#                 anything, so R and C++ use the same doubles.
#   expected.txt  one block per case, tab-separated lines:
#                   case <name> / formula <hbglm formula> / r_formula <formula given to R>
#                   n <kept rows> / rows <0-based table rows kept>
#                   xnames <model.matrix column names, as R writes them>
#                   x <n*p values, column-major, %.17g> / colmeans <p values>
#                   nterms <lme4 terms (after lme4's reordering by decreasing number of levels)>
#                   then per lme4 term:
#                     term <lme4 group name> <k> <J> / cnms <k names> / levels <J labels>
#                     idx <n 0-based level codes> / zt <nnz> then <row col value> triplets of
#                     reTrms$Ztlist for that term (rows j*k + c: level-major, checked below)
#                   end
# Sorting: text levels byte-wise (LC_COLLATE=C, as the C++ builder), numbers numerically.
suppressPackageStartupMessages(library(lme4))
stopifnot(packageVersion("lme4") >= "1.1.31")
invisible(Sys.setlocale("LC_COLLATE", "C"))

set.seed(20240612)
n <- 48
cyc <- function(levels, n) sample(c(levels, sample(levels, n - length(levels), TRUE)))
d <- data.frame(
  y = round(rnorm(n, 2, 1.5), 3),
  yb = rbinom(n, 1, 0.4),
  cnt = rpois(n, 3),
  n = sample(1:10, n, TRUE),
  x = round(rnorm(n), 3),
  z = round(runif(n, -1, 3), 2),
  m = round(rnorm(n, 10), 2),
  f = cyc(c("a", "b", "c"), n),
  h = cyc(c("hi", "lo"), n),
  e = cyc(c("B", "C", "a", "b"), n),
  g1 = cyc(c(2, 7, 10, 33, 100), n),
  g2 = cyc(c("s1", "s2", "s3", "s10", "s11", "s20"), n),
  g3 = cyc(c("X", "Y", "Z"), n),
  stringsAsFactors = FALSE)
d$s <- rbinom(n, d$n, 0.3)
d$m[c(5, 17, 40)] <- NA
d <- d[, c("y", "yb", "cnt", "s", "n", "x", "z", "m", "f", "h", "e", "g1", "g2", "g3")]
write.csv(d, "data.csv", row.names = FALSE)
d <- read.csv("data.csv", stringsAsFactors = FALSE)

# name, hbglm formula, formula for R (differs only for brms's `0 + Intercept`).
cases <- list(
  c("numeric", "y ~ x + z", NA),
  c("treatment", "y ~ f", NA),
  c("no_intercept_dummies", "y ~ 0 + f", NA),
  c("no_intercept_dummies_then_numeric", "y ~ 0 + f + x", NA),
  c("mixed_case_levels", "y ~ e + x", NA),
  c("factor_times_numeric", "y ~ f * x", NA),
  c("numeric_colon_factor", "y ~ x + x:f", NA),
  c("factor_colon_factor_no_margins", "y ~ f:h", NA),
  c("factor_colon_factor_no_margins_no_intercept", "y ~ 0 + f:h", NA),
  c("factor_times_factor", "y ~ f * h", NA),
  c("factor_colon_factor_one_margin", "y ~ f + f:h", NA),
  # R's terms() orders the variables of a term by their first appearance in the formula, so
  # f:h after h is the term h:f (columns "hhi:fb", h varying fastest).
  c("factor_colon_factor_margin_written_first", "y ~ h + f:h", NA),
  c("interaction_written_in_other_order", "y ~ x + f:x", NA),
  c("numeric_colon_numeric", "y ~ x:z", NA),
  c("three_way", "y ~ f * h * x", NA),
  c("two_factors_no_intercept", "y ~ 0 + f + h", NA),
  c("numeric_as_factor", "y ~ factor(g1) + x", NA),
  c("intercept_as_coefficient", "y ~ 0 + Intercept + x + f", "y ~ 1 + x + f"),
  c("missing_values_dropped", "y ~ x + m + (1 | g2)", NA),
  c("random_intercept_numeric_group", "y ~ x + (1 | g1)", NA),
  c("random_slope", "y ~ x + (1 + x | g2)", NA),
  c("random_factor_lhs", "y ~ x + (1 + f | g2)", NA),
  c("random_factor_lhs_no_intercept", "y ~ x + (0 + h | g1)", NA),
  c("random_interaction_group", "y ~ x + (1 | g1:g2)", NA),
  c("random_nested_group", "y ~ x + (1 | g1/g2)", NA),
  c("random_uncorrelated", "y ~ x + (x || g2)", NA),
  c("random_several_terms", "y ~ f + x + (1 + x | g3) + (1 | g2) + (1 | g1)", NA),
  c("random_factor_times_numeric_lhs", "y ~ 1 + (1 + f * z | g3)", NA))

fmt <- function(v) ifelse(is.na(v), "NA", sprintf("%.17g", v))
line <- function(...) paste(c(...), collapse = "\t")
ctl <- lmerControl(check.nobs.vs.nlev = "ignore", check.nobs.vs.nRE = "ignore",
                   check.nlev.gtr.1 = "ignore", check.nobs.vs.rankZ = "ignore")

out <- character()
for (cs in cases) {
  name <- cs[1]; ours <- cs[2]; rf <- if (is.na(cs[3])) ours else cs[3]
  fo <- as.formula(rf)
  has_bars <- !is.null(findbars(fo))
  if (has_bars) {
    lf <- lFormula(fo, d, control = ctl)
    X <- lf$X
    rows <- as.integer(rownames(lf$fr)) - 1L
  } else {
    mf <- model.frame(fo, d, na.action = na.omit)
    X <- model.matrix(fo, mf)
    rows <- as.integer(rownames(mf)) - 1L
  }
  out <- c(out, line("case", name), line("formula", ours), line("r_formula", rf),
           line("n", nrow(X)), line("rows", rows), line("xnames", colnames(X)),
           line("x", fmt(as.vector(X))), line("colmeans", fmt(colMeans(X))))
  if (has_bars) {
    rt <- lf$reTrms
    assign <- attr(rt$flist, "assign")
    out <- c(out, line("nterms", length(rt$cnms)))
    for (t in seq_along(rt$cnms)) {
      fac <- rt$flist[[assign[t]]]
      lev <- levels(fac)
      cn <- rt$cnms[[t]]
      k <- length(cn)
      zt <- rt$Ztlist[[t]]
      # lme4's Zt rows are level-major within a term: row j*k + c is level j, coefficient c.
      stopifnot(identical(rownames(zt), rep(lev, each = k)))
      lhs <- sub(" \\|.*$", "", names(rt$Ztlist)[t])  # "1 + x | g2" -> "1 + x"
      mm <- model.matrix(as.formula(paste("~", lhs)), lf$fr)
      codes <- as.integer(fac) - 1L
      dense <- as.matrix(zt)
      for (i in seq_len(nrow(X))) for (c in seq_len(k)) {
        stopifnot(dense[codes[i] * k + c, i] == mm[i, cn[c]])
      }
      s <- summary(as(zt, "TsparseMatrix"))
      trip <- as.vector(rbind(s$i - 1L, s$j - 1L, fmt(s$x)))
      out <- c(out, line("term", names(rt$cnms)[t], k, length(lev)), line("cnms", cn),
               line("levels", lev), line("idx", codes), line("zt", nrow(s), trip))
    }
  } else {
    out <- c(out, line("nterms", 0))
  }
  out <- c(out, "end")
}
writeLines(out, "expected.txt")
