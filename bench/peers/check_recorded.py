#!/usr/bin/env python3
"""Reruns compare.py on the recorded inputs under bench/peers/results and bench/results, and checks
that each recorded table (results/compare_*.txt, quoted in bench/peers/README.md and
bench/README.md) is what the command gives. CTest runs it (bench.peers_recorded_comparisons), so a
change to compare.py or to a recorded input cannot leave a quoted table stale.

    python3 bench/peers/check_recorded.py            # exit 1 on any difference
    python3 bench/peers/check_recorded.py --update   # rewrite the tables from their inputs
"""
import argparse
import difflib
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# table: the compare.py arguments that make it (paths relative to the repository root)
RECORDED = {
    "compare_1000_gaussian.txt": [
        "--hbglm", "bench/peers/results/hbglm_1000_gaussian.summary.csv",
        "--lme4", "bench/peers/results/lme4_1000_gaussian.csv",
        "--rstanarm", "bench/peers/results/rstanarm_1000_gaussian.csv"],
    "compare_3000_gaussian.txt": [
        "--hbglm", "bench/peers/results/hbglm_3000_gaussian.summary.csv",
        "--lme4", "bench/peers/results/lme4_3000_gaussian.csv"],
    "compare_10000_gaussian.txt": [
        "--hbglm", "bench/peers/results/hbglm_10000_gaussian.summary.csv",
        "--lme4", "bench/peers/results/lme4_10000_gaussian.csv",
        "--rstanarm", "bench/peers/results/rstanarm_10000_gaussian.csv"],
    "compare_30000_gaussian.txt": [
        "--hbglm", "bench/peers/results/hbglm_30000_gaussian.summary.csv",
        "--lme4", "bench/peers/results/lme4_30000_gaussian.csv"],
    "compare_30000_bernoulli.txt": [
        "--hbglm", "bench/peers/results/hbglm_30000_bernoulli.summary.csv",
        "--lme4", "bench/peers/results/lme4_30000_bernoulli_bobyqa.csv"],
    "compare_30000_bernoulli_ad95.txt": [
        "--hbglm", "bench/peers/results/hbglm_30000_bernoulli_ad95.summary.csv",
        "--lme4", "bench/peers/results/lme4_30000_bernoulli_bobyqa.csv"],
    "compare_300000_gaussian_chain1.txt": [
        "--hbglm", "bench/peers/results/hbglm_300000_gaussian_chain1.summary.csv",
        "--lme4", "bench/peers/results/lme4_300000_gaussian.csv"],
    "compare_300000_gaussian_centered_chain1.txt": [
        "--hbglm", "bench/peers/results/hbglm_300000_gaussian_centered_chain1.summary.csv",
        "--lme4", "bench/peers/results/lme4_300000_gaussian.csv"],
    "compare_30000_gaussian_around_b_seed2.txt": [
        "--hbglm", "bench/peers/results/hbglm_30000_gaussian_around_b_seed2.summary.csv",
        "--lme4", "bench/peers/results/lme4_30000_gaussian.csv"],
    "compare_30000_gaussian_around_b_seed4.txt": [
        "--hbglm", "bench/peers/results/hbglm_30000_gaussian_around_b_seed4.summary.csv",
        "--lme4", "bench/peers/results/lme4_30000_gaussian.csv"],
    "compare_300000_gaussian_around_b_chain1.txt": [
        "--hbglm", "bench/peers/results/hbglm_300000_gaussian_around_b_chain1.summary.csv",
        "--lme4", "bench/peers/results/lme4_300000_gaussian.csv"],
    "compare_30000_gaussian_absorbed.txt": [
        "--hbglm", "bench/peers/results/hbglm_30000_gaussian_absorbed.summary.csv",
        "--lme4", "bench/peers/results/lme4_30000_gaussian.csv"],
    "compare_30000_gaussian_data_metric.txt": [
        "--hbglm", "bench/peers/results/hbglm_30000_gaussian_data_metric.summary.csv",
        "--lme4", "bench/peers/results/lme4_30000_gaussian.csv"],
    "compare_30000_bernoulli_data_metric.txt": [
        "--hbglm", "bench/peers/results/hbglm_30000_bernoulli_data_metric.summary.csv",
        "--lme4", "bench/peers/results/lme4_30000_bernoulli_bobyqa.csv"],
    "compare_30000_gaussian_data_init.txt": [
        "--hbglm", "bench/peers/results/hbglm_30000_gaussian_data_init.summary.csv",
        "--lme4", "bench/peers/results/lme4_30000_gaussian.csv"],
    "compare_30000_bernoulli_data_init.txt": [
        "--hbglm", "bench/peers/results/hbglm_30000_bernoulli_data_init.summary.csv",
        "--lme4", "bench/peers/results/lme4_30000_bernoulli_bobyqa.csv"],
    "compare_300000_gaussian_data_init_chain1.txt": [
        "--hbglm", "bench/peers/results/hbglm_300000_gaussian_data_init_chain1.summary.csv",
        "--lme4", "bench/peers/results/lme4_300000_gaussian.csv"],
    "compare_300000_gaussian_full.txt": [
        "--hbglm", "bench/peers/results/hbglm_300000_gaussian_full.summary.csv",
        "--lme4", "bench/peers/results/lme4_300000_gaussian.csv"],
    "compare_300000_gaussian_full_chains12.txt": [
        "--hbglm", "bench/peers/results/hbglm_300000_gaussian_full_chains12.summary.csv",
        "--lme4", "bench/peers/results/lme4_300000_gaussian.csv"],
    "compare_30000_bernoulli_absorbed.txt": [
        "--hbglm", "bench/peers/results/hbglm_30000_bernoulli_absorbed.summary.csv",
        "--lme4", "bench/peers/results/lme4_30000_bernoulli_bobyqa.csv"],
    "compare_30000_gaussian_cuda_numpyro.txt": [
        "--hbglm", "bench/results/hbglm_cuda_gaussian_30000_1000_h200.csv",
        "--lme4", "bench/peers/results/lme4_30000_gaussian.csv",
        "--numpyro", "bench/results/numpyro_gaussian_30000_h200.csv"],
    # Against the values the data were simulated from (`hbglm simulate --truth`, session 11).
    "compare_30000_gaussian_data_init_truth.txt": [
        "--hbglm", "bench/peers/results/hbglm_30000_gaussian_data_init.summary.csv",
        "--lme4", "bench/peers/results/lme4_30000_gaussian.csv",
        "--truth", "bench/peers/results/truth_30000_gaussian.csv"],
    "compare_30000_bernoulli_data_init_truth.txt": [
        "--hbglm", "bench/peers/results/hbglm_30000_bernoulli_data_init.summary.csv",
        "--lme4", "bench/peers/results/lme4_30000_bernoulli_bobyqa.csv",
        "--truth", "bench/peers/results/truth_30000_bernoulli.csv"],
    "compare_300000_gaussian_full_truth.txt": [
        "--hbglm", "bench/peers/results/hbglm_300000_gaussian_full.summary.csv",
        "--lme4", "bench/peers/results/lme4_300000_gaussian.csv",
        "--truth", "bench/peers/results/truth_300000_gaussian.csv"],
    # Chains 1 and 2 of the 300k bernoulli 4 × (1000 + 1000) run (session 11); lme4 has no fit.
    "compare_300000_bernoulli_chains12_truth.txt": [
        "--hbglm", "bench/peers/results/hbglm_300000_bernoulli_chains12.summary.csv",
        "--truth", "bench/peers/results/truth_300000_bernoulli.csv"],
    "compare_300000_bernoulli_full_truth.txt": [
        "--hbglm", "bench/peers/results/hbglm_300000_bernoulli_full.summary.csv",
        "--truth", "bench/peers/results/truth_300000_bernoulli.csv"],
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--update", action="store_true", help="rewrite the recorded tables")
    a = ap.parse_args()
    stale = 0
    for table, args in RECORDED.items():
        # compare.py exits 1 when a comparison fails (compare_1000: sigma); the text is the record.
        got = subprocess.run([sys.executable, os.path.join(HERE, "compare.py"), *args], cwd=ROOT,
                             capture_output=True, text=True)
        if got.stderr:
            print(f"{table}: compare.py wrote to stderr:\n{got.stderr}")
            stale += 1
            continue
        path = os.path.join(HERE, "results", table)
        if a.update:
            with open(path, "w") as f:
                f.write(got.stdout)
            print(f"wrote {path}")
            continue
        recorded = open(path).read() if os.path.exists(path) else ""
        if got.stdout != recorded:
            stale += 1
            print(f"{table}: differs from `python3 bench/peers/compare.py {' '.join(args)}`")
            sys.stdout.writelines(difflib.unified_diff(
                recorded.splitlines(True), got.stdout.splitlines(True), "recorded", "now", n=1))
        else:
            print(f"{table}: ok")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
