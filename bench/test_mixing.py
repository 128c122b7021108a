#!/usr/bin/env python3
"""Checks bench/mixing.py on two small CmdStan files written here (one with saved warmup): its
counts and sums against the files' own numbers, its ESS and R-hat against `hbglm summary --format
csv`, and its reading of saved warmup rows.

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


WARMUP = 300  # with saved warmup: phases 75 | 25, 50, 100 | 50


def warmup_steps(i):
    return 1000 + i  # a different count in every warmup iteration, never like a draw's


def write_chain(path, chain, n_draws, save_warmup=False):
    steps = divergent = 0
    with open(path, "w") as f:
        f.write("# model = test\n")
        if save_warmup:
            f.write(f"# num_warmup = {WARMUP}\n# thin = 1\n# save_warmup = 1\n")
        f.write(",".join(COLUMNS) + "\n")
        if save_warmup:
            for i in range(WARMUP):
                # Divergent warmup iterations do not count among the run's divergences.
                row = [-50.0 + i, 0.5, 0.01, 10, warmup_steps(i), i % 2, 60.0, 5.0 + i, 9.0, 9.0,
                       9.0, 0.0]
                f.write(",".join(repr(float(v)) for v in row) + "\n")
            f.write("# Adaptation terminated\n# Step size = 0.1\n")
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


def check_warmup_rows_without_adaptation():
    """Saved warmup without "# Adaptation terminated" (adapt engaged = 0): the header's
    ceil(num_warmup / thin) rows are warmup, as `hbglm summary` reads them."""
    sys.path.insert(0, HERE)
    import mixing
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "no_adapt.csv")
        with open(path, "w") as f:
            f.write("# num_warmup = 5\n# thin = 2\n# save_warmup = 1\n" + ",".join(COLUMNS) + "\n")
            for i in range(5):
                f.write(",".join(["0", "1", "0.1", "1", str(10 + i), "0", "0"] + ["0"] * 5) + "\n")
        _, warmup, draws = mixing.read_sampler_columns(path)
    if [n for n, _ in warmup] != [10, 11, 12] or [n for n, _ in draws] != [13, 14]:
        print(f"warmup rows {warmup}, draws {draws}: expected the first 3 rows as warmup")
        sys.exit(1)
    if [p[1:] for p in mixing.warmup_phases(1000)] != [(0, 75), (75, 100), (100, 150), (150, 250),
                                                      (250, 450), (450, 950), (950, 1000)]:
        print(f"warmup_phases(1000) = {mixing.warmup_phases(1000)}: not Stan's 75 | 25, 50, 100, "
              "200, 500 | 50")
        sys.exit(1)


def main():
    hbglm = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        files, steps, divergent = [], 0, 0
        for chain in (1, 2):
            path = os.path.join(tmp, f"run_{chain}.csv")
            s, d = write_chain(path, chain, 200, save_warmup=(chain == 2))
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
        f"leapfrog steps in warmup: {sum(warmup_steps(i) for i in range(WARMUP))}",
    ]
    for name, first, end in [("unit-metric buffer", 0, 75), ("window of 25", 75, 100),
                             ("window of 50", 100, 150), ("window of 100", 150, 250),
                             ("final buffer", 250, 300)]:
        total = sum(warmup_steps(i) for i in range(first, end))
        expected.append(f"  {name}: {total} in {end - first} iterations "
                        f"({total / (end - first):.1f} each)")
    expected += [
        f"b_x: mean {float(rows['b_x']['mean']):.4f} sd {float(rows['b_x']['sd']):.4f} "
        f"bulk ESS {float(rows['b_x']['ess_bulk']):.0f} R-hat {float(rows['b_x']['rhat']):.3f}",
    ]
    check_warmup_rows_without_adaptation()
    got = out.splitlines()
    if got != expected:
        print("mixing.py printed:\n  " + "\n  ".join(got) + "\nexpected:\n  " +
              "\n  ".join(expected))
        sys.exit(1)
    print("mixing.py agrees with the files and with hbglm summary")


if __name__ == "__main__":
    main()
