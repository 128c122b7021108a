#!/usr/bin/env python3
"""The mixing numbers of one run that bench/README.md's tables report, from its CSV files.

    python3 bench/mixing.py [--hbglm build/cpu/hbglm] RUN_1.csv RUN_2.csv ... [--show NAME ...]

Over the global parameters (every column of `hbglm summary --format csv` but the group effects
r_*, lp__ and the sampler's __ columns): the smallest bulk ESS and its parameter, the 10th
percentile of the bulk ESS (the value at 0-based position floor(count / 10) of the sorted
ESS, 5 of 58 for the election model), the median bulk ESS of the sd_* parameters, the largest
R-hat; and from the draws themselves the divergent transitions and the leapfrog steps after warmup
(n_leapfrog__ summed over every draw of every file). --show prints the mean, sd, bulk ESS and
R-hat of the named parameters as well. Python's standard library only.
"""

import argparse
import csv
import statistics
import subprocess
import sys


def summary_rows(hbglm, files):
    out = subprocess.run([hbglm, "summary", "--format", "csv"] + files, check=True,
                         capture_output=True, text=True).stdout
    lines = [line for line in out.splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(lines))


def is_global(name):
    return not name.startswith("r_") and not name.endswith("__")


def sampler_totals(files):
    steps = divergent = 0
    for path in files:
        header = None
        with open(path) as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                cells = line.rstrip("\n").split(",")
                if header is None:
                    header = cells
                    i_steps, i_div = header.index("n_leapfrog__"), header.index("divergent__")
                    continue
                steps += int(float(cells[i_steps]))
                divergent += int(float(cells[i_div]))
    return steps, divergent


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", help="the run's CSV files, one per chain")
    parser.add_argument("--hbglm", default="build/cpu/hbglm", help="the hbglm executable")
    parser.add_argument("--show", nargs="*", default=[], help="parameters to print as well")
    args = parser.parse_args()
    files = [f for f in args.files if not f.endswith("_group_effects.csv")]
    rows = [r for r in summary_rows(args.hbglm, files) if is_global(r["variable"])]
    if not rows:
        sys.exit("no global parameters in " + ", ".join(files))
    ess = sorted((float(r["ess_bulk"]), r["variable"]) for r in rows)
    sd_ess = [float(r["ess_bulk"]) for r in rows if r["variable"].startswith("sd_")]
    rhat, rhat_name = max((float(r["rhat"]), r["variable"]) for r in rows)
    steps, divergent = sampler_totals(files)
    print(f"globals: {len(rows)}")
    print(f"min bulk ESS: {ess[0][0]:.0f} ({ess[0][1]})")
    print(f"10th percentile bulk ESS: {ess[len(ess) // 10][0]:.0f}")
    if sd_ess:
        print(f"median bulk ESS of the {len(sd_ess)} sds: {statistics.median(sd_ess):.0f}")
    print(f"max R-hat: {rhat:.3f} ({rhat_name})")
    print(f"divergent: {divergent}")
    print(f"leapfrog steps after warmup: {steps}")
    by_name = {r["variable"]: r for r in rows}
    for name in args.show:
        r = by_name.get(name)
        if r is None:
            sys.exit(f"no parameter {name}")
        print(f"{name}: mean {float(r['mean']):.4f} sd {float(r['sd']):.4f} "
              f"bulk ESS {float(r['ess_bulk']):.0f} R-hat {float(r['rhat']):.3f}")


if __name__ == "__main__":
    main()
