#!/usr/bin/env python3
"""Fits one external validation case (../shared/validation/CASE) through the hbglm CLI with the
case's formula, family, priors and sampler settings, then judges the draws with the case's own
compare.py. Exit status: compare.py's (0 pass, 1 fail, 2 unusable), 77 when the case folder is
absent (CTest reports a skip), or hbglm's when sampling fails.

    run_case.py HBGLM_BINARY CASE_DIR OUTPUT_DIR
"""
import json
import os
import subprocess
import sys


def main():
    hbglm, case_dir, out_dir = sys.argv[1:4]
    case_json = os.path.join(case_dir, "case.json")
    if not os.path.exists(case_json):
        print(f"skipped: {case_json} not found (shared/validation is not beside this checkout)")
        return 77
    case = json.load(open(case_json))
    s = case["sampler"]
    cmd = [hbglm, "sample", "--data", os.path.join(case_dir, case["data"]),
           "--formula", case["formula"], "--family", case["family"],
           "--chains", str(s["chains"]), "--warmup", str(s["warmup"]),
           "--samples", str(s["samples"]), "--adapt-delta", str(s["adapt_delta"]),
           "--seed", str(s["seed"]), "--output-dir", out_dir, "--output-prefix", case["name"],
           "--save-group-effects", "all", "--quiet"]
    if "max_depth" in s:
        cmd += ["--max-depth", str(s["max_depth"])]
    for prior in case.get("priors", []):
        cmd += ["--prior", prior]
    print(" ".join(f"'{c}'" if " " in c else c for c in cmd), flush=True)
    fit = subprocess.run(cmd)
    if fit.returncode != 0:
        return fit.returncode
    files = [os.path.join(out_dir, f"{case['name']}_{c}.csv") for c in range(1, s["chains"] + 1)]
    compare = os.path.join(case_dir, "..", "compare.py")
    subprocess.run([hbglm, "summary"] + files)
    return subprocess.run([sys.executable, compare, case_dir] + files).returncode


if __name__ == "__main__":
    sys.exit(main())
