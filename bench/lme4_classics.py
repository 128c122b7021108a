#!/usr/bin/env python3
"""hbglm against lme4 on lme4's own classic data sets (tests/lme4/cases.json: sleepstudy, cbpp,
grouseticks, Penicillin, Pastes, Dyestuff, VerbAgg, InstEval), timed side by side on one machine.

For each case: the lme4 fit (lmer with REML = FALSE for gaussian, glmer Laplace otherwise, as
the estimates in cases.json were made; the elapsed time of the lmer()/glmer() call alone, by
Rscript) and the full hbglm posterior (`hbglm sample`, 4 chains of 1000 + 1000, seed 1, the
case's adapt_delta; the wall time of the whole command, reading the CSV included). Prints one row
per case: rows, lme4 s, hbglm s, their ratio, hbglm's min bulk ESS over the population-level
and group-level sds (the parameters lme4 reports), that ESS per second, and divergent
transitions. The hbglm estimates themselves are judged against lme4's by the tests
(`ctest -L lme4`).

    python3 bench/lme4_classics.py [--hbglm build/cpu/hbglm] [--backend cpu|cuda] [--no-lme4]
                                   [--csv FILE] [CASE ...]

--csv also writes the rows as CSV (case, family, rows, backend, lme4_s, hbglm_s, min_ess,
divergent), the input of bench/plot.py's lme4_classics.png.

lme4 needs r-base-core and r-cran-lme4 (bench/peers/setup.sh); --no-lme4 leaves its column
empty (nan in the table, NA in the CSV).
"""
import argparse
import csv
import math
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "lme4"))
import check_fit  # noqa: E402  (the cases, the sample command and the summaries: tests/lme4)

LME4_FIT = r"""
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
family <- args[3]
f <- as.formula(args[2])
# brms's `s | trials(n)` is lme4's cbind(s, n - s).
trials <- regmatches(args[2], regexec("^ *([A-Za-z0-9_.]+) *\\| *trials\\(([A-Za-z0-9_.]+)\\)",
                                      args[2]))[[1]]
if (length(trials) == 3) {
  f <- as.formula(sub("^[^~]*~", sprintf("cbind(%s, %s - %s) ~", trials[2], trials[3],
                                         trials[2]), args[2]))
}
if (family == "bernoulli") d[[all.vars(f)[1]]] <- factor(d[[all.vars(f)[1]]])
seconds <- system.time(fit <- if (family == "gaussian") lmer(f, data = d, REML = FALSE) else
  glmer(f, data = d, family = if (family == "poisson") poisson() else binomial()))[["elapsed"]]
cat(sprintf("seconds %.3f\n", seconds))
"""


def lme4_seconds(case):
    got = subprocess.run(["Rscript", "-e", LME4_FIT, os.path.join(ROOT, case["data"]),
                          case["formula"], case["family"]], capture_output=True, text=True)
    for line in got.stdout.splitlines():
        if line.startswith("seconds "):
            return float(line.split()[1])
    sys.stderr.write(f"{case['name']}: lme4 failed\n{got.stderr}\n")
    return float("nan")


def hbglm_run(binary, backend, case, out_dir):
    """Wall time, min bulk ESS over the parameters lme4 reports, divergent transitions."""
    start = time.monotonic()
    run = subprocess.run(check_fit.sample_command(binary, case, out_dir, backend),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.monotonic() - start
    if run.returncode != 0:
        raise RuntimeError(run.stderr.strip().splitlines()[-1] if run.stderr.strip()
                           else f"exit {run.returncode}")
    files = check_fit.chain_files(case, out_dir)
    rows = check_fit.posterior_summary(binary, files)
    min_ess = min(float(rows[p]["ess_bulk"]) for p in case["lme4"])
    return seconds, min_ess, check_fit.divergent(files)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hbglm", default=os.path.join(ROOT, "build/cpu/hbglm"))
    ap.add_argument("--backend", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--no-lme4", action="store_true")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/out/lme4_classics"))
    ap.add_argument("--csv", help="also write the table as CSV (bench/plot.py reads it)")
    ap.add_argument("cases", nargs="*")
    a = ap.parse_args()
    cases = list(check_fit.load_cases().values())
    if a.cases:
        cases = [c for c in cases if c["name"] in a.cases]
    os.makedirs(a.out, exist_ok=True)
    print(f"hbglm backend {a.backend}")
    print(f"{'case':<12} {'family':<9} {'rows':>7} {'lme4_s':>8} {'hbglm_s':>8} {'ratio':>7} "
          f"{'min_ess':>8} {'ess/s':>8} {'div':>5}", flush=True)
    failed = 0
    # Row by row, flushed, so that a run stopped by a time limit keeps the cases it finished.
    table = open(a.csv, "w", newline="") if a.csv else None
    if table:
        csv.writer(table).writerow(["case", "family", "rows", "backend", "lme4_s", "hbglm_s",
                                    "min_ess", "divergent"])
    for case in cases:
        with open(os.path.join(ROOT, case["data"])) as f:
            rows = sum(1 for _ in f) - 1
        lme4 = float("nan") if a.no_lme4 else lme4_seconds(case)
        try:
            seconds, min_ess, divergent = hbglm_run(a.hbglm, a.backend, case, a.out)
        except RuntimeError as e:
            print(f"{case['name']:<12} {case['family']:<9} {rows:>7} {lme4:>8.2f} "
                  f"hbglm failed: {e}", flush=True)
            failed += 1
            if table:  # the failure stays in the CSV (NA), not only in the log
                csv.writer(table).writerow([case["name"], case["family"], rows, a.backend,
                                            "NA" if math.isnan(lme4) else f"{lme4:.3f}", "NA",
                                            "NA", "NA"])
                table.flush()
            continue
        print(f"{case['name']:<12} {case['family']:<9} {rows:>7} {lme4:>8.2f} {seconds:>8.2f} "
              f"{seconds / lme4:>7.1f} {min_ess:>8.0f} {min_ess / seconds:>8.1f} {divergent:>5}",
              flush=True)
        if table:
            csv.writer(table).writerow([case["name"], case["family"], rows, a.backend,
                                        "NA" if math.isnan(lme4) else f"{lme4:.3f}",
                                        f"{seconds:.3f}", f"{min_ess:.1f}", divergent])
            table.flush()
    if table:
        table.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
