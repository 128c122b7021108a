#!/usr/bin/env python3
"""Checks bench/mixing.py on two small CmdStan files written here: its counts and sums against
the files' own numbers, its ESS and R-hat against `hbglm summary --format csv`.

    python3 bench/test_mixing.py HBGLM_EXECUTABLE
"""

import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
COLUMNS = ["lp__", "accept_stat__", "stepsize__", "treedepth__", "n_leapfrog__", "divergent__",
           "energy__", "b_x", "sd_g__Intercept", "sd_h__Intercept", "sigma", "r_g.1.1"]


def write_chain(path, chain, n_draws):
    steps = divergent = 0
    with open(path, "w") as f:
        f.write("# model = test\n" + ",".join(COLUMNS) + "\n")
        a = b = c = 0.0
        for i in range(n_draws):
            # Autocorrelated series of different strengths, so that the ESS differ.
            a = 0.9 * a + math.sin(1.7 * i + chain)
            b = 0.2 * b + math.cos(2.3 * i + 3 * chain)
            c = 0.5 * c + math.sin(0.7 * i * i + chain)
            n_leapfrog = 3 + (i + chain) % 5
            div = 1 if (i + chain) % 17 == 0 else 0
            steps += n_leapfrog
            divergent += div
            row = [-10.0 + a, 0.8, 0.1, 2, n_leapfrog, div, 11.0, a, 1.0 + 0.1 * b, 2.0 + 0.1 * c,
                   1.0 + 0.01 * math.cos(i), b]
            f.write(",".join(repr(float(v)) for v in row) + "\n")
    return steps, divergent


def main():
    hbglm = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        files, steps, divergent = [], 0, 0
        for chain in (1, 2):
            path = os.path.join(tmp, f"run_{chain}.csv")
            s, d = write_chain(path, chain, 200)
            files.append(path)
            steps += s
            divergent += d
        out = subprocess.run([sys.executable, os.path.join(HERE, "mixing.py"), "--hbglm", hbglm,
                              *files, "--show", "b_x"], check=True, capture_output=True,
                             text=True).stdout
        summary = subprocess.run([hbglm, "summary", "--format", "csv", *files], check=True,
                                 capture_output=True, text=True).stdout
    lines = [l for l in summary.splitlines() if l and not l.startswith("#")]
    header = lines[0].split(",")
    rows = {l.split(",")[0]: dict(zip(header, l.split(","))) for l in lines[1:]}
    globals_ = ["b_x", "sd_g__Intercept", "sd_h__Intercept", "sigma"]
    ess = sorted((float(rows[g]["ess_bulk"]), g) for g in globals_)
    sd_ess = sorted(float(rows[g]["ess_bulk"]) for g in globals_ if g.startswith("sd_"))
    rhat = max((float(rows[g]["rhat"]), g) for g in globals_)
    expected = [
        "globals: 4",
        f"min bulk ESS: {ess[0][0]:.0f} ({ess[0][1]})",
        f"10th percentile bulk ESS: {ess[0][0]:.0f}",  # position 4 // 10 = 0
        f"median bulk ESS of the 2 sds: {(sd_ess[0] + sd_ess[1]) / 2:.0f}",
        f"max R-hat: {rhat[0]:.3f} ({rhat[1]})",
        f"divergent: {divergent}",
        f"leapfrog steps after warmup: {steps}",
        f"b_x: mean {float(rows['b_x']['mean']):.4f} sd {float(rows['b_x']['sd']):.4f} "
        f"bulk ESS {float(rows['b_x']['ess_bulk']):.0f} R-hat {float(rows['b_x']['rhat']):.3f}",
    ]
    got = out.splitlines()
    if got != expected:
        print("mixing.py printed:\n  " + "\n  ".join(got) + "\nexpected:\n  " +
              "\n  ".join(expected))
        sys.exit(1)
    print("mixing.py agrees with the files and with hbglm summary")


if __name__ == "__main__":
    main()
