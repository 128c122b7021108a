#!/usr/bin/env python3
"""Rank histograms and chi-square tests of a simulation-based calibration run.

Reads the ranks CSV written by hbglm_bench_sbc (scripts/sbc.sh): one row per case, replication
and quantity, with the rank of the true value among L posterior draws (0..L). Writes one PNG per
case (a rank histogram per quantity, with the 99% band of a bin count under uniformity: the
0.5% and 99.5% quantiles of Binomial(N, 1/B), Talts et al. 2018, figure 3) and a text table of
chi-square p-values with Bonferroni and Holm corrections over all quantities of the standard
cases (cases whose name contains "mismatch" are deliberately miscalibrated demonstrations and
form a family of their own).

Usage: sbc_plot.py RANKS.csv [--png-dir DIR] [--bins B] [--table FILE] [--dpi N]

matplotlib is installed if missing (python3-matplotlib with apt-get, else pip --user).
"""

import argparse
import collections
import csv
import math
import os
import subprocess
import sys


def ensure_matplotlib():
    try:
        import matplotlib  # noqa: F401
        return
    except ImportError:
        pass
    print("sbc_plot: installing matplotlib", file=sys.stderr)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    try:
        subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "python3-matplotlib"],
                       check=True, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    except (OSError, subprocess.CalledProcessError):
        subprocess.run([sys.executable, "-m", "pip", "install", "--user", "matplotlib"],
                       check=True)


def chi_square_upper_tail(x, df):
    """P(X > x), X ~ chi-square(df): regularized upper incomplete gamma Q(df/2, x/2)."""
    a, z = 0.5 * df, 0.5 * x
    if z <= 0:
        return 1.0
    log_prefix = a * math.log(z) - z - math.lgamma(a)
    if z < a + 1:
        term = total = 1.0 / a
        n = 1
        while abs(term) > abs(total) * 1e-16 and n < 10000:
            term *= z / (a + n)
            total += term
            n += 1
        return max(0.0, 1.0 - total * math.exp(log_prefix))
    tiny = 1e-300
    b = z + 1 - a
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, 10000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-16:
            break
    return math.exp(log_prefix) * h


def binomial_quantile(n, p, q):
    """Smallest k with P(Binomial(n, p) <= k) >= q."""
    cdf = 0.0
    for k in range(n + 1):
        cdf += math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                        + k * math.log(p) + (n - k) * math.log1p(-p))
        if cdf >= q:
            return k
    return n


def holm(p_values):
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    out = [1.0] * m
    running = 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (m - k) * p_values[i]))
        out[i] = running
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ranks")
    ap.add_argument("--png-dir", default="docs/sbc")
    ap.add_argument("--bins", type=int, default=20)
    ap.add_argument("--table", default=None, help="also write the p-value table here")
    ap.add_argument("--dpi", type=int, default=72)
    args = ap.parse_args()

    ranks = collections.OrderedDict()  # case -> quantity -> [ranks]
    draws = {}
    reps = collections.defaultdict(dict)  # case -> rep -> (n_divergent, min_ess)
    with open(args.ranks, newline="") as f:
        for row in csv.DictReader(f):
            case, q = row["case"], row["quantity"]
            ranks.setdefault(case, collections.OrderedDict()).setdefault(q, []).append(
                int(row["rank"]))
            draws[case] = int(row["L"])
            reps[case][row["rep"]] = (int(row["n_divergent"]), float(row["min_ess_bulk"]),
                                      float(row["seconds"]))
    if not ranks:
        sys.exit("sbc_plot: no ranks in " + args.ranks)

    tests = []  # (case, quantity, n, chi2, df, p, counts)
    for case, quantities in ranks.items():
        n_ranks = draws[case] + 1
        if n_ranks % args.bins:
            sys.exit(f"sbc_plot: L + 1 = {n_ranks} ranks do not split into {args.bins} bins")
        per_bin = n_ranks // args.bins
        for q, r in quantities.items():
            counts = [0] * args.bins
            for v in r:
                counts[v // per_bin] += 1
            expected = len(r) / args.bins
            chi2 = sum((c - expected) ** 2 / expected for c in counts)
            tests.append([case, q, len(r), chi2, args.bins - 1,
                          chi_square_upper_tail(chi2, args.bins - 1), counts])

    # Corrections: the standard cases together; the mismatch demonstrations on their own.
    for family in (False, True):
        idx = [i for i, t in enumerate(tests) if ("mismatch" in t[0]) == family]
        ps = [tests[i][5] for i in idx]
        for i, ph in zip(idx, holm(ps)):
            tests[i] += [min(1.0, len(idx) * tests[i][5]), ph]

    lines = []
    lines.append(f"{'case':<32} {'reps':>5} {'div_reps':>8} {'div_trans':>9} "
                 f"{'med_s':>6} {'ess<L':>6}")
    for case in ranks:
        rows = reps[case].values()
        div_reps = sum(1 for d, _, _ in rows if d > 0)
        div = sum(d for d, _, _ in rows)
        secs = sorted(s for _, _, s in rows)
        low = sum(1 for _, e, _ in rows if e < draws[case])
        lines.append(f"{case:<32} {len(rows):>5} {div_reps:>8} {div:>9} "
                     f"{secs[len(secs) // 2]:>6.2f} {low:>6}")
    lines.append("")
    lines.append(f"{'case':<32} {'quantity':<20} {'n':>5} {'chi2':>7} {'df':>3} {'p':>9} "
                 f"{'p_bonf':>9} {'p_holm':>9}")
    for case, q, n, chi2, df, p, _, pb, ph in tests:
        flag = "  <-- flagged" if pb < 0.001 else ""
        lines.append(f"{case:<32} {q:<20} {n:>5} {chi2:>7.2f} {df:>3} {p:>9.3g} {pb:>9.3g} "
                     f"{ph:>9.3g}{flag}")
    n_std = sum(1 for t in tests if "mismatch" not in t[0])
    lines.append("")
    lines.append(f"Bonferroni and Holm over the {n_std} tests of the standard cases; {args.bins} "
                 f"bins; flagged: corrected p < 0.001.")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.table:
        os.makedirs(os.path.dirname(os.path.abspath(args.table)), exist_ok=True)
        with open(args.table, "w") as f:
            f.write(text)

    ensure_matplotlib()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(args.png_dir, exist_ok=True)
    by_case = collections.defaultdict(list)
    for t in tests:
        by_case[t[0]].append(t)
    for case, case_tests in by_case.items():
        n_q = len(case_tests)
        cols = 3 if n_q <= 9 else 4
        rows = math.ceil(n_q / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 2.3 * rows + 0.6),
                                 squeeze=False)
        for ax in axes.flat[n_q:]:
            ax.axis("off")
        for ax, (_, q, n, chi2, df, p, counts, pb, _) in zip(axes.flat, case_tests):
            lo = binomial_quantile(n, 1 / args.bins, 0.005)
            hi = binomial_quantile(n, 1 / args.bins, 0.995)
            ax.axhspan(lo, hi, color="0.85", zorder=0)
            for level in (lo, hi):
                ax.axhline(level, color="#e67e22", lw=1.0, ls="--", zorder=3)
            ax.axhline(n / args.bins, color="0.2", lw=0.8, zorder=3)
            ax.bar(range(args.bins), counts, width=1.0, align="edge",
                   color="#c0392b" if pb < 0.001 else "#3a6ea5", edgecolor="white", lw=0.5,
                   zorder=2)
            ax.set_xlim(0, args.bins)
            ax.set_ylim(0, max(max(counts), hi) * 1.15)
            ax.set_xticks([0, args.bins / 2, args.bins])
            ax.set_xticklabels(["0", str((draws[case] + 1) // 2), str(draws[case])])
            ax.set_title(f"{q}\nchi2 {chi2:.1f}, p {p:.2g}, p_bonf {pb:.2g}", fontsize=8)
            ax.tick_params(labelsize=7)
        rows_info = reps[case].values()
        div_reps = sum(1 for d, _, _ in rows_info if d > 0)
        fig.suptitle(f"SBC {case}: {len(rows_info)} replications, L = {draws[case]}, "
                     f"{args.bins} bins; {div_reps} with divergences; "
                     f"band: 99% of a bin count under uniformity", fontsize=9)
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        path = os.path.join(args.png_dir, f"sbc_{case}.png")
        fig.savefig(path, dpi=args.dpi)
        plt.close(fig)
        print(f"sbc_plot: wrote {path} ({os.path.getsize(path) // 1024} KB)")


if __name__ == "__main__":
    main()
