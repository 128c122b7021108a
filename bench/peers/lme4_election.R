# Fits the election model (ARCHITECTURE §1) with lme4 and writes its estimates under hbglm's
# (brms's) parameter names, with the wall time of the fit alone.
#
#   Rscript bench/peers/lme4_election.R DATA.csv FAMILY OUT.csv [--nagq 0|1] [--formula F]
#                                       [--optimizer NAME] [--maxfun N]
#
# DATA.csv: from `hbglm simulate --model election --family FAMILY`. FAMILY: gaussian or
# bernoulli. gaussian: lmer(REML = FALSE), i.e. maximum likelihood (the default optimizer,
# nloptwrap/BOBYQA). bernoulli: glmer(family = binomial(link = "logit"), nAGQ = 1 (Laplace, the
# default) or 0 with --nagq 0). The formula is hbglm::election_formula unless --formula is given.
# --optimizer NAME (bernoulli): use NAME (e.g. bobyqa) for both stages of glmer instead of
# lme4's default (bobyqa, then Nelder_Mead for the Laplace stage, which stops at 10,000
# evaluations); --maxfun N: the optimizer's evaluation limit (optCtrl = list(maxfun = N)).
#
# OUT.csv columns: tool,family,n,parameter,estimate,std_error,seconds
#   tool       "lme4 lmer ML" or "lme4 glmer Laplace" / "lme4 glmer nAGQ=0"
#   estimate   fixef() for b_*, the standard deviations of VarCorr() for sd_*, sigma()
#   std_error  the Wald standard error of the fixed effects; NA for sd_* and sigma (lme4 gives
#              none without profiling)
#   seconds    elapsed time of the lmer()/glmer() call only (system.time), same on every row
# Also prints the fit's summary, convergence messages and whether the fit is singular.
suppressPackageStartupMessages(library(lme4))

script_dir <- dirname(normalizePath(sub("^--file=", "",
  grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)[1])))
source(file.path(script_dir, "election_formula.R"))  # election_formula

args <- commandArgs(trailingOnly = TRUE)
usage <- paste("usage: Rscript lme4_election.R DATA.csv FAMILY OUT.csv [--nagq 0|1] [--formula F]",
               "[--optimizer NAME] [--maxfun N]")
if (length(args) < 3) stop(usage)
data_path <- args[1]
family <- args[2]
out_path <- args[3]
nagq <- 1L
optimizer <- NULL
maxfun <- NULL
formula_text <- election_formula
rest <- args[-(1:3)]
while (length(rest) > 0) {
  if (rest[1] == "--nagq" && length(rest) >= 2) {
    nagq <- as.integer(rest[2]); rest <- rest[-(1:2)]
  } else if (rest[1] == "--optimizer" && length(rest) >= 2) {
    optimizer <- rest[2]; rest <- rest[-(1:2)]
  } else if (rest[1] == "--maxfun" && length(rest) >= 2) {
    maxfun <- as.numeric(rest[2]); rest <- rest[-(1:2)]
  } else if (rest[1] == "--formula" && length(rest) >= 2) {
    formula_text <- rest[2]; rest <- rest[-(1:2)]
  } else {
    stop(usage)
  }
}
if (!family %in% c("gaussian", "bernoulli")) stop("FAMILY must be gaussian or bernoulli")

d <- read.csv(data_path)
for (g in c("state", "respondent", "dem", "rep")) d[[g]] <- factor(d[[g]])
f <- as.formula(formula_text)
cat(sprintf("lme4 %s, n = %d, family %s\n", as.character(packageVersion("lme4")), nrow(d), family))

if (family == "gaussian") {
  tool <- "lme4 lmer ML"
  seconds <- system.time(fit <- lmer(f, data = d, REML = FALSE))[["elapsed"]]
} else {
  tool <- if (nagq == 0) "lme4 glmer nAGQ=0" else "lme4 glmer Laplace"
  control_args <- list()
  if (!is.null(optimizer)) {
    control_args$optimizer <- optimizer
    tool <- paste0(tool, " ", optimizer)
  }
  if (!is.null(maxfun)) control_args$optCtrl <- list(maxfun = maxfun)
  control <- do.call(glmerControl, control_args)
  seconds <- system.time(
    fit <- glmer(f, data = d, family = binomial(link = "logit"), nAGQ = nagq,
                 control = control))[["elapsed"]]
}
print(summary(fit), correlation = FALSE)
cat(sprintf("fit: %.2f s elapsed; singular: %s\n", seconds, isSingular(fit)))
msgs <- fit@optinfo$conv$lme4$messages
if (length(msgs) > 0) cat("convergence messages:", msgs, sep = "\n  ")

# Fixed effects: lme4 and brms both name interactions by model.matrix (e.g. nonwhite:inc).
beta <- fixef(fit)
se <- sqrt(diag(as.matrix(vcov(fit))))
fixed_names <- paste0("b_", sub("^\\(Intercept\\)$", "Intercept", names(beta)))

# Standard deviations: lme4 names repeated grouping factors state, state.1, ...; brms names
# them sd_state__Intercept, sd_state__age, ...
vc <- as.data.frame(VarCorr(fit))
vc <- vc[is.na(vc$var2), ]
sd_rows <- vc[vc$grp != "Residual", ]
sd_names <- paste0("sd_", sub("\\.[0-9]+$", "", sd_rows$grp), "__",
                   sub("^\\(Intercept\\)$", "Intercept", sd_rows$var1))

out <- data.frame(parameter = c(fixed_names, sd_names),
                  estimate = c(unname(beta), sd_rows$sdcor),
                  std_error = c(unname(se), rep(NA_real_, nrow(sd_rows))))
if (family == "gaussian") {
  out <- rbind(out, data.frame(parameter = "sigma", estimate = sigma(fit), std_error = NA_real_))
}
out <- cbind(data.frame(tool = tool, family = family, n = nrow(d)), out, seconds = seconds)
write.csv(out, out_path, row.names = FALSE, quote = FALSE)
cat(sprintf("wrote %d rows to %s\n", nrow(out), out_path))
