#!/usr/bin/env python3
"""One PNG per benchmark question, from the CSV files under bench/results/ (python3 + matplotlib).

    python3 bench/plot.py [--results DIR] [--plots DIR]       (defaults bench/results, bench/plots)

  grad_time.png  (a) one log density + gradient vs n, log-log, per backend and family, with the
                 bytes-read floor n (8p + 8 + 4K) at 10 GB/s (one CPU core) and at the GPU's
                 bandwidth (ARCHITECTURE §9), and rstanarm's gradient where the CPU bench lists
                 it. Inputs: hbglm_bench_grad_eval --csv (grad_ms), hbglm_bench_grad_eval_cuda
                 --csv (cuda_ms, cpu_ms), numpyro_election.py --grad-out (tool, grad_ms).
  memory.png     (b) peak memory vs n against the data's size (the floor bytes, and the arrays
                 the CUDA backend uploads). Inputs: the same files (peak_rss_MB of the CPU
                 bench, device_peak_MB and data_MB of the CUDA bench, peak_MB of numpyro's),
                 and bench/memory.sh's memory.csv (run, chains_at_once, peak_MB).
  sampling.png   (c) min bulk ESS per second per tool (hbglm cpu/cuda, rstanarm, numpyro, ...)
                 and wall time per tool next to lme4's. Inputs: per-parameter CSVs
                 tool,family,n,parameter,...,ess_bulk,...,seconds (numpyro_election.py --out,
                 the rstanarm script, `plot.py convert-hbglm`) and lme4's
                 tool,family,n,parameter,estimate,std_error,seconds.
  lme4_classics.png  (d) lme4's own data sets: the full hbglm posterior's wall time beside
                 lme4's fit, per case and backend. Input: bench/lme4_classics.py --csv
                 (case, family, rows, backend, lme4_s, hbglm_s, min_ess, divergent).

Files are recognised by their header, wherever they are under DIR; a plot whose inputs are
missing is skipped with a message. Each PNG has a footer naming its source files.

    python3 bench/plot.py convert-hbglm --summary SUMMARY.csv (--log SAMPLE.log | --seconds S)
        --tool 'hbglm cuda' --family gaussian --n 30000 --out bench/results/FILE.csv

turns `hbglm summary --format csv` of a run (and the `Sampled ... in X s` line of its log) into
the per-parameter format (the globals only: b_*, sd_*, cor_*, sigma).
"""

import argparse
import csv
import math
import os
import re
import sys
from collections import defaultdict

CPU_CORE_BANDWIDTH = 10e9  # bytes/s one core streams (ARCHITECTURE §9)
H100_BANDWIDTH = 3.35e12   # the CUDA bench's default
SAMPLE_COLUMNS = ["tool", "family", "n", "parameter", "mean", "sd", "mcse", "ess_bulk", "rhat",
                  "seconds"]
CLASSICS_COLUMNS = {"case", "family", "rows", "backend", "lme4_s", "hbglm_s", "min_ess",
                    "divergent"}  # bench/lme4_classics.py --csv


def num(x):
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


def read_rows(path):
    with open(path, newline="") as f:
        lines = [line for line in f if line.strip() and not line.startswith("#")]
    if not lines:
        return [], []
    reader = csv.DictReader(lines)
    return reader.fieldnames or [], list(reader)


def classify(results):
    """{kind: [(path, rows)]} for every CSV under results, by header."""
    found = defaultdict(list)
    for root, _, files in os.walk(results):
        for name in sorted(files):
            if not name.endswith(".csv"):
                continue
            path = os.path.join(root, name)
            header, rows = read_rows(path)
            h = set(header)
            if "cuda_ms" in h:
                kind = "grad_cuda"
            elif {"grad_ms", "floor_MB"} <= h:
                kind = "grad_cpu"
            elif {"tool", "grad_ms"} <= h:
                kind = "grad_peer"
            elif {"tool", "parameter", "ess_bulk", "seconds"} <= h:
                kind = "sampling"
            elif {"tool", "parameter", "estimate", "seconds"} <= h:
                kind = "point"
            elif {"run", "chains_at_once", "peak_MB", "floor_MB"} <= h:
                kind = "memory_run"
            elif CLASSICS_COLUMNS <= h:
                kind = "classics"
            else:
                print(f"plot.py: {path}: header not recognised, ignored")
                continue
            if rows:
                found[kind].append((path, rows))
    return found


def display_dir(results):
    """results relative to the current directory when inside it (bench/results), else as given."""
    rel = os.path.relpath(results)
    return results if rel.startswith("..") else rel


def footer(fig, paths, results):
    names = sorted({os.path.relpath(p, results) for p in paths})
    text = "sources (" + display_dir(results) + "/): " + ", ".join(names)
    fig.text(0.01, 0.01, text, fontsize=7, color="0.35", ha="left", va="bottom", wrap=True)


def plain_log_ticks(*axes):
    """Log axes labelled 0.1, 1, 10 rather than 10^-1 (and 2, 5 between decades)."""
    from matplotlib.ticker import FuncFormatter, LogLocator  # noqa: PLC0415
    fmt = FuncFormatter(lambda v, _: f"{v:g}")
    for ax, which in axes:
        axis = ax.xaxis if which == "x" else ax.yaxis
        axis.set_major_formatter(fmt)
        axis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
        axis.set_minor_formatter(fmt)


def tool_colors(tools):
    return {t: f"C{i % 10}" for i, t in enumerate(sorted(set(tools)))}


def series_style(label):
    if "cuda" in label:
        return "o", "-"
    if "numpyro" in label:
        return "s", "-"
    if "rstanarm" in label or "stan" in label:
        return "^", ":"
    return "D", "-"


def save_figure(fig, paths, results, out, name, plt):
    """Footer with the source files, layout, PNG into out; returns the PNG's path."""
    footer(fig, paths, results)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    path = os.path.join(out, name)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_grad(found, results, out, plt):
    paths = [p for k in ("grad_cpu", "grad_cuda", "grad_peer") for p, _ in found.get(k, [])]
    if not paths:
        print("plot.py: (a) gradient time: no grad_eval / grad_eval_cuda / numpyro --grad-out "
              "CSV under " + results + ", skipped")
        return None
    series = defaultdict(dict)   # label -> {n: ms}
    floor_mb = {}                # n -> MB
    device_bw = None
    stan = {}
    for path, rows in found.get("grad_cpu", []):
        for r in rows:
            n = int(num(r["n"]))
            series[f"hbglm cpu 1 thread, {r['family']}"][n] = num(r["grad_ms"])
            floor_mb[n] = num(r["floor_MB"])
            if "stan_ms" in r and r.get("stan_ref", "measured") == "measured":
                stan[n] = num(r["stan_ms"])
    for path, rows in found.get("grad_cuda", []):
        for r in rows:
            n = int(num(r["n"]))
            fam = r["family"]
            if not math.isnan(num(r["cuda_ms"])):
                series[f"hbglm cuda, {fam}"][n] = num(r["cuda_ms"])
            if not math.isnan(num(r.get("cpu_ms"))):
                series[f"hbglm cpu 1 thread (GPU host), {fam}"][n] = num(r["cpu_ms"])
            floor_mb[n] = num(r["floor_MB"])
            if num(r.get("floor_us")) > 0:
                device_bw = num(r["floor_MB"]) * 1e6 / (num(r["floor_us"]) * 1e-6)
    for path, rows in found.get("grad_peer", []):
        for r in rows:
            n = int(num(r["n"]))
            device = r.get("device", "")
            dtype = r.get("dtype", "")
            series[f"{r['tool']} ({device}{', ' + dtype if dtype else ''}), {r['family']}"][n] = \
                num(r["grad_ms"])
    fig, ax = plt.subplots(figsize=(9, 6))
    for label in sorted(series):
        pts = sorted((n, ms) for n, ms in series[label].items() if ms == ms and ms > 0)
        if not pts:
            continue
        marker, line = series_style(label)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker, linestyle=line,
                label=label)
    if stan:
        pts = sorted(stan.items())
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "k^", markersize=9,
                label="rstanarm (team's measurement)")
    if floor_mb:
        ns = sorted(floor_mb)
        ax.plot(ns, [floor_mb[n] * 1e6 / CPU_CORE_BANDWIDTH * 1e3 for n in ns], "k--",
                linewidth=1, label="floor n(8p+8+4K) bytes at 10 GB/s (one core)")
        bw = device_bw or H100_BANDWIDTH
        ax.plot(ns, [floor_mb[n] * 1e6 / bw * 1e3 for n in ns], "k-.", linewidth=1,
                label=f"floor at {bw / 1e12:.2f} TB/s (GPU memory)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("observations n (election model, ARCHITECTURE §1)")
    ax.set_ylabel("ms per log density + gradient")
    plain_log_ticks((ax, "y"))
    ax.set_title("(a) gradient time vs n per backend, against the bytes-read floor")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    return save_figure(fig, paths, results, out, "grad_time.png", plt)


def plot_memory(found, results, out, plt):
    series = defaultdict(dict)
    floor_mb, data_mb = {}, {}
    paths = set()
    for path, rows in found.get("grad_cpu", []):
        for r in rows:
            if "peak_rss_MB" in r:
                # VmHWM in MiB (kB / 1024): to 1e6 bytes like the rest of the plot. Per data set
                # where the bench resets the peak (peak_rss_over_floor present), else the
                # process's peak so far.
                n = int(num(r["n"]))
                what = "per data set" if "peak_rss_over_floor" in r else "of the process so far"
                series[f"hbglm cpu bench: peak RSS {what} (host), {r['family']}"][n] = \
                    num(r["peak_rss_MB"]) * 1.048576
                floor_mb[n] = num(r["floor_MB"])
                paths.add(path)
    for path, rows in found.get("grad_cuda", []):
        for r in rows:
            n = int(num(r["n"]))
            floor_mb[n] = num(r["floor_MB"])
            if "device_peak_MB" in r and num(r["device_peak_MB"]) > 0:
                series[f"hbglm cuda: peak device memory, {r['family']}"][n] = \
                    num(r["device_peak_MB"])
                paths.add(path)
            if "data_MB" in r and num(r["data_MB"]) > 0:
                data_mb[n] = num(r["data_MB"])
    for path, rows in found.get("memory_run", []):
        for r in rows:
            n = int(num(r["n"]))
            floor_mb[n] = num(r["floor_MB"])
            what = ("1 chain, short (loading peak)" if r["run"] == "short" else
                    f"{r['chains_at_once']} chains at once at tree depth {r['tree_depth']}")
            series[f"hbglm sample cpu (memory.sh): {what}"][n] = num(r["peak_MB"])
            paths.add(path)
    for path, rows in found.get("grad_peer", []):
        for r in rows:
            if num(r.get("peak_MB")) > 0:
                series[f"{r['tool']}: peak device memory ({r.get('device', '')}), "
                       f"{r['family']}"][int(num(r["n"]))] = num(r["peak_MB"])
                paths.add(path)
    if not series:
        print("plot.py: (b) memory: no peak_rss_MB / device_peak_MB / peak_MB column under "
              + results + ", skipped")
        return None
    fig, ax = plt.subplots(figsize=(9, 6))
    for label in sorted(series):
        pts = sorted((n, v) for n, v in series[label].items() if v == v and v > 0)
        if pts:
            marker, line = series_style(label)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker, linestyle=line,
                    label=label)
    if floor_mb:
        ns = sorted(floor_mb)
        ax.plot(ns, [floor_mb[n] for n in ns], "k--", linewidth=1,
                label="data floor n(8p+8+4K) bytes (X, y, group indices)")
        ax.plot(ns, [3 * floor_mb[n] for n in ns], color="0.6", linestyle="--", linewidth=1,
                label="3 × the floor (issue 6's target for the host)")
    if data_mb:
        ns = sorted(data_mb)
        ax.plot(ns, [data_mb[n] for n in ns], "k:", linewidth=1,
                label="X, y, Z, Zᵀ as the CUDA backend stores them")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("observations n")
    ax.set_ylabel("MB (10⁶ bytes)")
    plain_log_ticks((ax, "y"))
    ax.set_title("(b) peak memory vs n, against the data's size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    return save_figure(fig, sorted(paths), results, out, "memory.png", plt)


def plot_sampling(found, results, out, plt):
    runs = []   # (tool, family, n, min_ess, seconds, path)
    for path, rows in found.get("sampling", []):
        groups = defaultdict(list)
        for r in rows:
            groups[(r["tool"], r["family"], int(num(r["n"])))].append(r)
        for (tool, fam, n), rs in groups.items():
            ess = [num(r["ess_bulk"]) for r in rs if num(r["ess_bulk"]) == num(r["ess_bulk"])]
            runs.append((tool, fam, n, min(ess) if ess else math.nan, num(rs[0]["seconds"]),
                         path))
    fits = []   # (tool, family, n, seconds, path)
    for path, rows in found.get("point", []):
        seen = set()
        for r in rows:
            key = (r["tool"], r["family"], int(num(r["n"])))
            if key not in seen:
                seen.add(key)
                fits.append(key + (num(r["seconds"]), path))
    if not runs and not fits:
        print("plot.py: (c) sampling: no per-parameter (ess_bulk, seconds) or lme4 CSV under "
              + results + ", skipped")
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 6))
    colors = tool_colors([r[0] for r in runs] + [f[0] for f in fits])
    if runs:
        runs.sort(key=lambda r: (r[1], r[2], r[0]))
        labels = [f"{t}\n{f} n={n}" for t, f, n, *_ in runs]
        values = [e / s if s > 0 else math.nan for _, _, _, e, s, _ in runs]
        bars = ax1.barh(range(len(runs)), values, color=[colors[r[0]] for r in runs])
        for bar, (_, _, _, e, s, _) in zip(bars, runs):
            ax1.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                     f" {e:.0f} ESS / {s:.0f} s", va="center", fontsize=7)
        ax1.set_yticks(range(len(runs)))
        ax1.set_yticklabels(labels, fontsize=7)
        ax1.set_xscale("log")
        good = [v for v in values if v == v and v > 0]
        if good:
            ax1.set_xlim(min(good) / 2, max(good) * 4)
        plain_log_ticks((ax1, "x"))
        ax1.set_xlabel("min bulk ESS over the globals per second of sampling")
    else:
        ax1.text(0.5, 0.5, "no sampling runs", ha="center", transform=ax1.transAxes)
    ax1.set_title("(c) ESS per second per tool")
    walls = [(t, f, n, s, p) for t, f, n, _, s, p in runs] + fits
    walls.sort(key=lambda r: (r[1], r[2], r[0]))
    if walls:
        ax2.barh(range(len(walls)), [w[3] for w in walls],
                 color=["0.5" if "lme4" in w[0] else colors[w[0]] for w in walls])
        for i, w in enumerate(walls):
            ax2.text(w[3], i, f" {w[3]:.1f} s", va="center", fontsize=7)
        ax2.set_yticks(range(len(walls)))
        ax2.set_yticklabels([f"{t}\n{f} n={n}" for t, f, n, *_ in walls], fontsize=7)
        ax2.set_xscale("log")
        good = [w[3] for w in walls if w[3] == w[3] and w[3] > 0]
        if good:
            ax2.set_xlim(min(good) / 2, max(good) * 4)
        plain_log_ticks((ax2, "x"))
        ax2.set_xlabel("wall seconds (sampling runs: without compilation; lme4: the fit)")
        # Each lme4 time as a dashed line across the rows of its own data (family and n) only.
        for w in walls:
            if "lme4" not in w[0]:
                continue
            rows = [i for i, v in enumerate(walls) if v[1:3] == w[1:3]]
            ax2.vlines(w[3], min(rows) - 0.45, max(rows) + 0.45, color="0.5", linestyle="--",
                       linewidth=0.8)
    ax2.set_title("wall time (grey: lme4, point estimates, on the same data)")
    paths = sorted({r[-1] for r in runs} | {f[-1] for f in fits})
    return save_figure(fig, paths, results, out, "sampling.png", plt)


def plot_classics(found, results, out, plt):
    """(d): one group of bars per case (fewest rows at the top), lme4 grey, hbglm per file."""
    files = found.get("classics", [])
    if not files:
        print("plot.py: (d) lme4 classics: no bench/lme4_classics.py --csv file under "
              + results + ", skipped")
        return None
    cases = {}   # name -> rows
    series = []  # (label, {case: seconds}, {case: note}, is_lme4)
    several = len(files) > 1
    for path, rows in files:
        # A line cut short (a run stopped mid-write) has empty fields: left out.
        rows = [r for r in rows if r["case"] and num(r["rows"]) == num(r["rows"])]
        stem = os.path.splitext(os.path.basename(path))[0]
        suffix = f" ({stem})" if several else ""
        lme4 = {r["case"]: num(r["lme4_s"]) for r in rows if num(r["lme4_s"]) > 0}
        if lme4:
            series.append(("lme4" + suffix, lme4, {}, True))
        backends = sorted({r["backend"] for r in rows})
        for backend in backends:
            mine = [r for r in rows if r["backend"] == backend]
            seconds = {r["case"]: num(r["hbglm_s"]) for r in mine}
            notes = {}
            for r in mine:
                if not num(r["hbglm_s"]) > 0:
                    continue  # hbglm failed on this case (NA): no bar
                ratio = (f"{num(r['hbglm_s']) / lme4[r['case']]:.1f}× lme4, "
                         if r["case"] in lme4 else "")
                notes[r["case"]] = f"{ratio}ESS {num(r['min_ess']):.0f}, {r['divergent']} div"
            series.append((f"hbglm {backend}" + suffix, seconds, notes, False))
        for r in rows:
            cases[r["case"]] = int(num(r["rows"]))
    order = sorted(cases, key=lambda c: (cases[c], c), reverse=True)
    fig, ax = plt.subplots(figsize=(11, 1.0 + 0.32 * len(order) * len(series)))
    height = 0.8 / len(series)
    colors = tool_colors([label for label, _, _, lme4 in series if not lme4])
    good = [v for _, sec, _, _ in series for v in sec.values() if v == v and v > 0]
    left = min(good) / 2 if good else 0.01
    for k, (label, seconds, notes, is_lme4) in enumerate(series):
        ys = [i + (k - (len(series) - 1) / 2) * height for i in range(len(order))]
        values = [seconds.get(c, math.nan) for c in order]
        ax.barh(ys, values, height=height, label=label,
                color="0.6" if is_lme4 else colors[label])
        for y, c, v in zip(ys, order, values):
            if v == v:
                text = f" {v:.2f} s" + (f"  ({notes[c]})" if c in notes else "")
                ax.text(v, y, text, va="center", fontsize=7)
            elif c in seconds:  # the case ran and failed (NA in the CSV)
                ax.text(left, y, f" {label}: failed", va="center", fontsize=7, color="C3")
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels([f"{c}\n{cases[c]:,} rows" for c in order], fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(left, max(good) * 20 if good else 10)
    plain_log_ticks((ax, "x"))
    ax.set_xlabel("wall seconds (hbglm: 4 chains × (1000 + 1000), the whole command; "
                  "lme4: the lmer/glmer call)")
    ax.set_title("(d) lme4's data sets: the full posterior beside lme4's fit "
                 "(ESS: min bulk over the parameters lme4 reports)")
    ax.legend(fontsize=8, loc="lower right")
    return save_figure(fig, sorted(p for p, _ in files), results, out, "lme4_classics.png", plt)


def convert_hbglm(argv):
    ap = argparse.ArgumentParser(prog="plot.py convert-hbglm")
    ap.add_argument("--summary", required=True, help="hbglm summary --format csv output")
    ap.add_argument("--log", help="hbglm sample's stdout (its 'Sampled N chains in X s' line)")
    ap.add_argument("--seconds", type=float, help="wall seconds, if no --log")
    ap.add_argument("--tool", required=True, help="e.g. 'hbglm cuda' or 'hbglm cpu'")
    ap.add_argument("--family", required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    seconds = a.seconds
    if a.log:
        m = re.search(r"Sampled \d+ chains in ([0-9.]+) s", open(a.log).read())
        if not m:
            sys.exit(f"plot.py convert-hbglm: no 'Sampled ... in X s' line in {a.log}")
        seconds = float(m.group(1))
    if seconds is None:
        sys.exit("plot.py convert-hbglm: give --log or --seconds")
    _, rows = read_rows(a.summary)
    keep = [r for r in rows if re.match(r"^(b_|sd_|cor_|sigma$)", r["variable"])]
    if not keep:
        sys.exit(f"plot.py convert-hbglm: no b_/sd_/sigma rows in {a.summary}")
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(SAMPLE_COLUMNS)
        for r in keep:
            w.writerow([a.tool, a.family, a.n, r["variable"], r["mean"], r["sd"], r["mcse_mean"],
                        r["ess_bulk"], r["rhat"], f"{seconds:.2f}"])
    print(f"wrote {len(keep)} rows to {a.out}")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "convert-hbglm":
        convert_hbglm(sys.argv[2:])
        return
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="Plots from bench/results/*.csv (see the top of "
                                 "this file).")
    ap.add_argument("--results", default=os.path.join(here, "results"))
    ap.add_argument("--plots", default=os.path.join(here, "plots"))
    a = ap.parse_args()
    try:
        import matplotlib  # noqa: PLC0415
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        sys.exit("plot.py needs matplotlib (Debian: apt-get install python3-matplotlib)")
    if not os.path.isdir(a.results):
        sys.exit(f"plot.py: {a.results} does not exist")
    found = classify(a.results)
    os.makedirs(a.plots, exist_ok=True)
    made = [p for p in (plot_grad(found, a.results, a.plots, plt),
                        plot_memory(found, a.results, a.plots, plt),
                        plot_sampling(found, a.results, a.plots, plt),
                        plot_classics(found, a.results, a.plots, plt)) if p]
    for p in made:
        print("wrote " + p)


if __name__ == "__main__":
    main()
