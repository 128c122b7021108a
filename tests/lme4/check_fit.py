#!/usr/bin/env python3
"""Fits one of lme4's classic models on its own data set through the hbglm CLI (4 chains of
1000 + 1000, seed 1, brms's default priors, the case's adapt_delta where it gives one, as the
warning hbglm prints advises) and checks the posterior against lme4's estimates
(tests/lme4/cases.json, from lme4 1.1.31):

  b_*               |posterior mean - lme4 estimate| < 0.5 posterior sd: with brms's flat priors
                    on b the posterior mean is the maximum likelihood estimate up to the
                    marginalization over the sds and the Monte Carlo error (about 0.03 sd);
                    the seven cases' 27 coefficients differ by 0.12 sd at most (session 11),
                    while a coefficient off by one lme4 standard error would fail
  sd_*, cor_*, sigma lme4's estimate inside the posterior's central 90% interval [q5, q95]: with
                    6 to 24 groups the posterior of an sd is skewed and its mean sits above the
                    maximum likelihood estimate, which is near the posterior mode
  every parameter   present in hbglm's summary, with R-hat < 1.05

Prints one line per parameter and the divergent transitions (not judged: the case's adapt_delta
keeps them rare), and exits 1 on any failure (2 when hbglm fails).

    check_fit.py HBGLM_BINARY CASE_NAME OUTPUT_DIR
"""
import csv
import io
import json
import math
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def divergent(files):
    """Divergent transitions after warmup in CmdStan CSV files."""
    count = 0
    for path in files:
        column = None
        for line in open(path):
            if line.startswith("#") or not line.strip():
                continue
            cells = line.rstrip("\n").split(",")
            if column is None:
                column = cells.index("divergent__")
            else:
                count += int(float(cells[column]))
    return count


def load_cases():
    """The cases of cases.json by name."""
    return {c["name"]: c for c in json.load(open(os.path.join(HERE, "cases.json")))["cases"]}


def sample_command(hbglm, case, out_dir, backend="cpu"):
    """`hbglm sample` for a case: 4 chains of 1000 + 1000, seed 1, into
    <out_dir>/<name>_<c>.csv."""
    cmd = [hbglm, "sample", "--data", os.path.join(ROOT, case["data"]), "--formula",
           case["formula"], "--family", case["family"], "--seed", "1", "--quiet",
           "--backend", backend, "--output-dir", out_dir, "--output-prefix", case["name"]]
    if "adapt_delta" in case:
        cmd += ["--adapt-delta", str(case["adapt_delta"])]
    return cmd


def chain_files(case, out_dir):
    return [os.path.join(out_dir, f"{case['name']}_{c}.csv") for c in range(1, 5)]


def posterior_summary(hbglm, files):
    """`hbglm summary --format csv` of the files, by variable."""
    summary = subprocess.run([hbglm, "summary", "--format", "csv", *files], check=True,
                             capture_output=True, text=True).stdout
    return {r["variable"]: r for r in csv.DictReader(io.StringIO(summary))}


def main():
    hbglm, name, out_dir = sys.argv[1:4]
    case = load_cases()[name]
    os.makedirs(out_dir, exist_ok=True)
    cmd = sample_command(hbglm, case, out_dir)
    print(" ".join(f"'{c}'" if " " in c else c for c in cmd), flush=True)
    if subprocess.run(cmd).returncode != 0:
        return 2
    files = chain_files(case, out_dir)
    posterior = posterior_summary(hbglm, files)

    failures = 0
    print(f"{'parameter':<26} {'lme4':>10} {'mean':>10} {'sd':>9} {'q5':>10} {'q95':>10} "
          f"{'rhat':>6}  check")
    for parameter, reference in case["lme4"].items():
        row = posterior.get(parameter)
        if row is None:
            print(f"{parameter:<26} FAIL: not in hbglm's summary ({', '.join(posterior)})")
            failures += 1
            continue
        mean, sd, q5, q95, rhat = (float(row[k]) for k in ("mean", "sd", "q5", "q95", "rhat"))
        if isinstance(reference, list):  # [estimate, Wald standard error]
            estimate = reference[0]
            z = (mean - estimate) / sd
            ok = abs(z) < 0.5
            check = f"z = {z:+.2f} (|z| < 0.5)"
        else:
            estimate = reference
            ok = q5 <= estimate <= q95
            check = "in [q5, q95]" if ok else "outside [q5, q95]"
        converged = rhat < 1.05
        if not converged:
            check += f", R-hat {rhat:.3f} >= 1.05"
        passed = ok and converged and not math.isnan(mean)
        failures += not passed
        print(f"{parameter:<26} {estimate:>10.4f} {mean:>10.4f} {sd:>9.4f} {q5:>10.4f} "
              f"{q95:>10.4f} {rhat:>6.3f}  {check} {'PASS' if passed else 'FAIL'}")
    print(f"{len(case['lme4']) - failures} of {len(case['lme4'])} parameters agree with lme4; "
          f"{divergent(files)} of 4000 transitions divergent")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
