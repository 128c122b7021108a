#!/usr/bin/env python3
"""The mixing numbers of one run that bench/README.md's tables report, from its CSV files.

    python3 bench/mixing.py [--hbglm build/cpu/hbglm] RUN_1.csv RUN_2.csv ... [--show NAME ...]

Over the global parameters (every column of `hbglm summary --format csv` but the group effects
r_*, lp__ and the sampler's __ columns): the smallest bulk ESS and its parameter, the 10th
percentile of the bulk ESS (the value at 0-based position floor(count / 10) of the sorted
ESS, 5 of 58 for the election model), the median bulk ESS of the sd_* parameters, the largest
R-hat; and from the draws themselves the divergent transitions and the leapfrog steps after warmup
(n_leapfrog__ summed over every draw of every file). Files written with --save-warmup add the
leapfrog steps of warmup (the rows before "# Adaptation terminated"; with --thin, of the saved
iterations only) and the steps of each of Stan's warmup phases (the 75-iteration unit-metric
buffer, the metric windows, the 50-iteration final buffer, as hbglm and Stan place them for the
run's num_warmup). --show prints the mean, sd, bulk ESS and R-hat of the named parameters as well.
Python's standard library only.
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


def read_sampler_columns(path):
    """(config, warmup rows, draw rows) of one file, each row (n_leapfrog__, divergent__).
    Warmup rows are those before "# Adaptation terminated"; without that line (no adaptation, or a
    run stopped in warmup) the first ceil(num_warmup / thin) rows when save_warmup = 1, as
    `hbglm summary` reads them."""
    config, rows, n_warmup_rows, header = {}, [], None, None
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            if line.startswith("#"):
                text = line[1:].strip()
                if text == "Adaptation terminated" and n_warmup_rows is None:
                    n_warmup_rows = len(rows)
                elif "=" in text:
                    key, value = (part.strip() for part in text.split("=", 1))
                    config.setdefault(key, value.replace("(Default)", "").strip())
                continue
            cells = line.rstrip("\n").split(",")
            if header is None:
                header = cells
                i_steps, i_div = header.index("n_leapfrog__"), header.index("divergent__")
                continue
            rows.append((int(float(cells[i_steps])), int(float(cells[i_div]))))
    if n_warmup_rows is None:
        n_warmup_rows = 0
        if config.get("save_warmup") in ("1", "true"):
            warmup, thin = int(config.get("num_warmup", 0)), int(config.get("thin", 1))
            n_warmup_rows = min(len(rows), -(-warmup // thin))
    return config, rows[:n_warmup_rows], rows[n_warmup_rows:]


def warmup_phases(num_warmup, init_buffer=75, term_buffer=50, base_window=25):
    """[(name, first iteration, end)] of Stan's windowed adaptation for num_warmup iterations, as
    host/mcmc/adapt/windowed_adaptation.cpp places them: 15% / 75% / 10% when the three stages do
    not fit; each window doubles, and one that would leave less than twice its successor's size
    before the final buffer takes the rest. 1000: 75 | 25, 50, 100, 200, 500 | 50."""
    if num_warmup < 20:
        return [("no adaptation windows", 0, num_warmup)]
    if init_buffer + base_window + term_buffer > num_warmup:
        init_buffer = int(0.15 * num_warmup)
        term_buffer = int(0.10 * num_warmup)
        base_window = num_warmup - (init_buffer + term_buffer)
    windows_end = num_warmup - term_buffer
    phases = [("unit-metric buffer", 0, init_buffer)]
    first, last, size = init_buffer, init_buffer + base_window - 1, base_window
    while True:
        phases.append((f"window of {last + 1 - first}", first, last + 1))
        if last == windows_end - 1:
            break
        size *= 2
        next_last = last + size
        if next_last != windows_end - 1 and next_last + 2 * size >= windows_end:
            next_last = windows_end - 1
        first, last = last + 1, next_last
    phases.append(("final buffer", windows_end, num_warmup))
    return phases


def sampler_totals(files):
    """Leapfrog steps and divergences after warmup, and the leapfrog steps of saved warmup rows
    in total and per warmup phase ({} when no file saved its warmup)."""
    steps = divergent = warmup_steps = 0
    by_phase = {}
    for path in files:
        config, warmup, draws = read_sampler_columns(path)
        steps += sum(n for n, _ in draws)
        divergent += sum(d for _, d in draws)
        warmup_steps += sum(n for n, _ in warmup)
        if not warmup:
            continue
        thin = int(config.get("thin", 1))
        for name, first, end in warmup_phases(int(config.get("num_warmup", 0))):
            kept = warmup[-(-first // thin):-(-end // thin)]
            total, count = by_phase.get((first, name), (0, 0))
            by_phase[(first, name)] = (total + sum(n for n, _ in kept), count + len(kept))
    return steps, divergent, warmup_steps, [(name, total, count) for (first, name), (total, count)
                                            in sorted(by_phase.items())]


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
    steps, divergent, warmup_steps, phases = sampler_totals(files)
    print(f"globals: {len(rows)}")
    print(f"min bulk ESS: {ess[0][0]:.0f} ({ess[0][1]})")
    print(f"10th percentile bulk ESS: {ess[len(ess) // 10][0]:.0f}")
    if sd_ess:
        print(f"median bulk ESS of the {len(sd_ess)} sds: {statistics.median(sd_ess):.0f}")
    print(f"max R-hat: {rhat:.3f} ({rhat_name})")
    print(f"divergent: {divergent}")
    print(f"leapfrog steps after warmup: {steps}")
    if phases:
        print(f"leapfrog steps in warmup: {warmup_steps}")
        for name, total, count in phases:
            print(f"  {name}: {total} in {count} iterations ({total / max(count, 1):.1f} each)")
    by_name = {r["variable"]: r for r in rows}
    for name in args.show:
        r = by_name.get(name)
        if r is None:
            sys.exit(f"no parameter {name}")
        print(f"{name}: mean {float(r['mean']):.4f} sd {float(r['sd']):.4f} "
              f"bulk ESS {float(r['ess_bulk']):.0f} R-hat {float(r['rhat']):.3f}")


if __name__ == "__main__":
    main()
