#!/usr/bin/env python3
"""Compares an hbglm fit of the election model with lme4's estimates and, optionally, the
posteriors of rstanarm and NumPyro, parameter by parameter (issue 6, item 4).

    bench/peers/compare.py --hbglm SUMMARY.csv --lme4 LME4.csv [--rstanarm R.csv] [--numpyro N.csv]
    bench/peers/compare.py --hbglm run_1.csv run_2.csv ... --lme4 LME4.csv   (chain files)
    bench/peers/compare.py --hbglm SUMMARY.csv --truth TRUTH.csv   (where lme4 is too slow)

--hbglm takes the output of `hbglm summary --format csv` (header starting with `variable`), a
per-parameter file of bench/results (`tool,family,n,parameter,mean,sd,mcse,...`, as
bench/gpu_check.sh writes for a device run), or the chain CSV files themselves, which it
summarizes with `HBGLM summary --format csv` (--bin, default build/cpu/hbglm). --lme4 and
--rstanarm are the OUT.csv files of lme4_election.R and rstanarm_election.R --full; --numpyro is
the --out file of numpyro_election.py (the bench/results format); --truth is the file of
`hbglm simulate --truth` (the values the data were simulated from). At least one of --lme4 and
--truth.

Per parameter (b_*, sd_*, sigma) it prints hbglm's posterior mean and sd, then
  lme4:              z = (hbglm mean - lme4 estimate) / hbglm sd,             PASS when |z| < 3
  truth:             z = (hbglm mean - true value) / hbglm sd,                PASS when |z| < 3,
                     and for information z_real against the value this data set drew (a
                     group-level sd's root mean square over its effects: what the data can tell)
  rstanarm, numpyro: z = (hbglm mean - peer mean) / sqrt(mcse_h^2 + mcse_p^2), PASS when |z| < 4
(thresholds: --z-lme4, --z-truth, --z-posterior); for information also
d/hb_sd = (hbglm mean - peer mean) / hbglm sd, the difference on the posterior's scale. A
parameter a peer reports and hbglm lacks fails. Exit status 1 when any comparison fails, 0
otherwise.
"""
import argparse
import csv
import io
import math
import subprocess
import sys


def number(text):
    if text is None or text.strip() in ("", "NA", "nan", "NaN"):
        return math.nan
    return float(text)


def read_hbglm(files, binary):
    with open(files[0], newline="") as f:
        first = f.readline()
    single = len(files) == 1
    if single and first.startswith("tool,"):  # bench/results per-parameter format
        text, name, mcse = open(files[0], newline="").read(), "parameter", "mcse"
    elif single and first.startswith("variable,"):  # hbglm summary --format csv
        text, name, mcse = open(files[0], newline="").read(), "variable", "mcse_mean"
    else:  # chain files
        text = subprocess.run([binary, "summary", "--format", "csv", *files], check=True,
                              capture_output=True, text=True).stdout
        name, mcse = "variable", "mcse_mean"
    rows = {}
    for r in csv.DictReader(io.StringIO(text)):
        rows[r[name]] = {"mean": number(r["mean"]), "sd": number(r["sd"]),
                         "mcse": number(r.get(mcse)), "ess_bulk": number(r.get("ess_bulk")),
                         "rhat": number(r.get("rhat"))}
    return rows


def read_peer(path):
    """lme4_election.R / rstanarm_election.R output (estimate, std_error) or the bench/results
    per-parameter format (mean, sd: numpyro_election.py --out)."""
    rows, meta = {}, {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            results_format = "estimate" not in r
            rows[r["parameter"]] = {"estimate": number(r["mean" if results_format else "estimate"]),
                                    "std_error": number(r.get("sd" if results_format
                                                              else "std_error")),
                                    "mcse": number(r.get("mcse")),
                                    "ess_bulk": number(r.get("ess_bulk"))}
            meta = {"tool": r["tool"], "family": r["family"], "n": r["n"],
                    "seconds": r["seconds"]}
    return rows, meta


def read_truth(path):
    """`hbglm simulate --truth` output: parameter, value, realized (NA where not defined)."""
    with open(path, newline="") as f:
        return {r["parameter"]: {"value": number(r["value"]), "realized": number(r["realized"])}
                for r in csv.DictReader(f)}


def is_global(name):
    return name.startswith("b_") or name.startswith("sd_") or name == "sigma"


def fmt(x, width=9, digits=4):
    return f"{x:{width}.{digits}f}" if not math.isnan(x) else f"{'-':>{width}}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hbglm", nargs="+", required=True,
                    help="hbglm summary --format csv output, or the chain CSV files")
    ap.add_argument("--lme4", help="OUT.csv of lme4_election.R")
    ap.add_argument("--truth", help="the --truth file of hbglm simulate")
    ap.add_argument("--rstanarm", help="OUT.csv of rstanarm_election.R --full")
    ap.add_argument("--numpyro", help="--out file of numpyro_election.py")
    ap.add_argument("--bin", default="build/cpu/hbglm", help="hbglm binary for chain files")
    ap.add_argument("--z-lme4", type=float, default=3.0)
    ap.add_argument("--z-truth", type=float, default=3.0)
    ap.add_argument("--z-posterior", "--z-rstanarm", type=float, default=4.0)
    a = ap.parse_args()
    if not a.lme4 and not a.truth:
        ap.error("give --lme4, --truth, or both")

    h = read_hbglm(a.hbglm, a.bin)
    lme4, lme4_meta = read_peer(a.lme4) if a.lme4 else ({}, {})
    truth = read_truth(a.truth) if a.truth else {}
    # The posterior peers: (column name, {parameter: row}, meta)
    posteriors = [(name, *read_peer(path)) for name, path in
                  (("rstanarm", a.rstanarm), ("numpyro", a.numpyro)) if path]

    names = [v for v in h if is_global(v)]
    for peer in [lme4, truth] + [rows for _, rows, _ in posteriors]:
        names += [v for v in peer if v not in names]

    if a.lme4:
        print(f"lme4: {lme4_meta.get('tool')}, family {lme4_meta.get('family')}, "
              f"n = {lme4_meta.get('n')}, fit {lme4_meta.get('seconds')} s")
    if a.truth:
        print(f"truth: {a.truth}")
    for name, _, meta in posteriors:
        print(f"{name}: {meta.get('tool')}, family {meta.get('family')}, "
              f"n = {meta.get('n')}, run {meta.get('seconds')} s")
    header = f"{'parameter':<26} {'hb_mean':>9} {'hb_sd':>9}"
    if a.lme4:
        header += f" {'lme4':>9} {'z':>7} {'':4}"
    if a.truth:
        header += f" {'truth':>9} {'z':>7} {'':4} {'realized':>9} {'z_real':>7}"
    for name, _, _ in posteriors:
        header += f" {name:>9} {'sd':>9} {'d/hb_sd':>7} {'z':>7} {'':4}"
    print(header)

    n_fail = n_checked = 0
    for v in names:
        hv = h.get(v)
        hm = hv["mean"] if hv else math.nan
        hs = hv["sd"] if hv else math.nan
        line = f"{v:<26} {fmt(hm)} {fmt(hs)}"
        cells = []

        def in_posterior_sds(value, threshold):
            """The cells `value z PASS|FAIL` of a point compared on hbglm's posterior sd."""
            z = (hm - value) / hs if hv and hs > 0 else math.nan
            ok = hv is not None and abs(z) < threshold
            return f" {fmt(value)} {fmt(z, 7, 2)} {'PASS' if ok else 'FAIL'}", ok, z

        if a.lme4:
            if v in lme4:
                cell, ok, _ = in_posterior_sds(lme4[v]["estimate"], a.z_lme4)
                cells.append(cell)
                n_checked += 1
                n_fail += not ok
            else:
                cells.append(f" {fmt(math.nan)} {fmt(math.nan, 7, 2)} {'':4}")
        if a.truth:
            if v in truth:
                cell, ok, _ = in_posterior_sds(truth[v]["value"], a.z_truth)
                realized = truth[v]["realized"]
                _, _, z_real = in_posterior_sds(realized, a.z_truth)
                cells.append(f"{cell} {fmt(realized)} {fmt(z_real, 7, 2)}")
                n_checked += 1
                n_fail += not ok
            else:
                cells.append(f" {fmt(math.nan)} {fmt(math.nan, 7, 2)} {'':4} {fmt(math.nan)} "
                             f"{fmt(math.nan, 7, 2)}")
        for _, peer, _ in posteriors:
            if v in peer:
                r = peer[v]
                den = math.hypot(hv["mcse"], r["mcse"]) if hv else math.nan
                z = (hm - r["estimate"]) / den if den > 0 else math.nan
                ok = hv is not None and abs(z) < a.z_posterior
                d = (hm - r["estimate"]) / hs if hv and hs > 0 else math.nan
                cells.append(f" {fmt(r['estimate'])} {fmt(r['std_error'])} {fmt(d, 7, 2)} "
                             f"{fmt(z, 7, 2)} {'PASS' if ok else 'FAIL'}")
                n_checked += 1
                n_fail += not ok
            else:
                cells.append(f" {fmt(math.nan)} {fmt(math.nan)} {fmt(math.nan, 7, 2)} "
                             f"{fmt(math.nan, 7, 2)} {'':4}")
        if hv is None:
            cells.append("  (not in hbglm's summary)")
        print(line + "".join(cells))

    in_sds = " and ".join([f"lme4 |z| < {a.z_lme4:g}"] * bool(a.lme4) +
                          [f"truth |z| < {a.z_truth:g}"] * bool(a.truth))
    print(f"{n_checked - n_fail} of {n_checked} comparisons pass "
          f"({in_sds} in hbglm sds; posteriors |z| < {a.z_posterior:g} in MCSEs)")
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
