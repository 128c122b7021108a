#!/usr/bin/env python3
"""The election model of hbglm (ARCHITECTURE §1) in NumPyro: a peer benchmark for the CUDA backend.

STATUS: NOT yet run on a GPU. Checked on a 2-core machine without one (2026-11-27): the data
reading, the brms default-prior constants (def_scale_prior), the centering, the parameter names,
the reference log density in plain numpy (equal to hbglm's lp__ at hbglm's own draws, to 4e-15
relative, gaussian and bernoulli) and the posterior-package diagnostics in plain numpy (equal to
`hbglm summary`, to 1e-14), all with --check-hbglm below; and, with jax 0.11.2 + numpyro 0.21.0
(the GPU image's versions) installed in a scratch venv, the whole script on jax's CPU backend at
n = 1000 (self-check exact, gradient timing, short NUTS runs of both families). Its timings there
mean nothing. Every run starts with a self-check that NumPyro's potential energy equals minus the
numpy reference log density at a random point, and stops if it does not.

The model is the one `hbglm sample --family gaussian|bernoulli --formula <election formula>` fits
on `hbglm simulate --model election` data, with hbglm's (brms's) default priors:

    y ~ educ*nonwhite + inc*nonwhite + relig*nonwhite + V1 + ... + V40
        + (1 | state) + (1 | respondent) + (1 | dem) + (1 | rep) + (0 + age | state)
        + (0 + educ | state) + (0 + inc | state) + (0 + relig | state) + (0 + potus2016 | state)

    eta = Intercept + Xc b + sum_t sd_t z_t[group_t] * covariate_t       (non-centered, as brms)
    Xc: the 47 population-level columns, each centered at its mean (brms); b_Intercept is
        reported uncentered: Intercept - mean(X) . b
    Intercept ~ student_t(3, loc, scale); b flat; sd_t, sigma ~ student_t(3, 0, scale) on (0, inf)
    (loc, scale) = brms def_scale_prior: gaussian (round1(median y), round1(max(2.5, mad y))),
                   bernoulli (0, 2.5); round1 as hbglm's (half away from zero)
    z_t ~ normal(0, 1); y ~ normal(eta, sigma) or bernoulli_logit(eta)

The unconstrained parameters are hbglm's (Intercept, b, log sd, log sigma, z), so NumPyro's
potential energy is minus hbglm's lp__ (which leaves out hbglm's constant column-scale Jacobian).
Float64 throughout (jax_enable_x64), as hbglm and Stan; --float32 for the single-precision variant.

Usage:
    python3 numpyro_election.py DATA.csv --family gaussian --chains 4 --warmup 1000 \
        --samples 1000 --seed 1 --out OUT.csv [--grad-only] [--skip-grad] [--grad-out G.csv]
    python3 numpyro_election.py DATA.csv --family gaussian --check-hbglm CHAIN1.csv [CHAIN2.csv ...]
        [--check-summary SUMMARY.csv]          (numpy only: no jax needed)

  (a) one log density + gradient: jax.jit(jax.value_and_grad(potential)) at a uniform(-2, 2)
      point, median of >= 20 calls (and >= 1 s) after compiling, each ended by
      block_until_ready; for one chain (grad_ms) and for all chains at once under jax.vmap, as
      the vectorized sampler evaluates them (grad_batch_ms). --skip-grad skips it.
  (b) unless --grad-only: NUTS (Stan's defaults: adapt 0.8, max tree depth 10, diagonal mass
      matrix; init uniform(-2, 2)) with chain_method="vectorized" (all chains on one device),
      no progress bar, one mcmc.run call (--split-warmup: mcmc.warmup, then mcmc.run, which
      also counts the warmup's gradients but compiles twice). Wall time of the call(s), and the
      part of it that JAX spent tracing and compiling (jax.monitoring '/jax/core/compile/*'
      events); seconds = wall - compile. sampling_gradients: leapfrog steps after warmup summed
      over chains (as the sum of hbglm's n_leapfrog__ column); ess_per_1000_grad uses it.
      Diagnostics are posterior's (as hbglm summary and rstanarm/posterior compute them):
      rank-normalized split R-hat (max of bulk and tail), bulk ESS, mcse_mean = sd /
      sqrt(ess_basic), in plain numpy here (checked against hbglm summary by --check-hbglm).
      numpyro.diagnostics' ESS (not rank-normalized) is printed beside it for reference.
      --out writes tool,family,n,parameter,mean,sd,mcse,ess_bulk,rhat,seconds (brms names).
  The last line of stdout is `RESULT key=value ...` for scripts (bench/gpu_check.sh).
  --grad-out appends tool,family,n,dim,chains,dtype,grad_ms,grad_batch_ms,compile_s,peak_MB,device
  (a CSV that bench/plot.py reads).
"""

import argparse
import csv
import math
import os
import statistics
import sys
import time

import numpy as np

TOOL = "numpyro"
DBL_EPSILON = np.finfo(np.float64).eps

# Population-level coefficients in hbglm's (R's model.matrix) order, without the intercept.
MAIN_EFFECTS = ["educ", "nonwhite", "inc", "relig"] + [f"V{k}" for k in range(1, 41)]
INTERACTIONS = [("educ", "nonwhite"), ("nonwhite", "inc"), ("nonwhite", "relig")]
COEF_NAMES = MAIN_EFFECTS + [f"{a}:{b}" for a, b in INTERACTIONS]
# Group-level terms in formula order: (grouping factor, coefficient, covariate column or None).
GROUP_TERMS = [
    ("state", "Intercept", None),
    ("respondent", "Intercept", None),
    ("dem", "Intercept", None),
    ("rep", "Intercept", None),
    ("state", "age", "age"),
    ("state", "educ", "educ"),
    ("state", "inc", "inc"),
    ("state", "relig", "relig"),
    ("state", "potus2016", "potus2016"),
]
SD_NAMES = [f"sd_{g}__{c}" for g, c, _ in GROUP_TERMS]
Z_SITES = [f"z_{g}__{c}" for g, c, _ in GROUP_TERMS]
ELECTION_COLUMNS = sorted({"y", "state", "respondent", "dem", "rep", "age", "potus2016"} |
                          set(MAIN_EFFECTS))


def output_names(family):
    """The saved globals in hbglm's (brms's) output order."""
    names = ["b_Intercept"] + ["b_" + c for c in COEF_NAMES] + SD_NAMES
    return names + ["sigma"] if family == "gaussian" else names


# ---------------------------------------------------------------------------------------------
# Data and prior constants (numpy only)

def read_csv_columns(path):
    """Columns of an hbglm-simulated CSV (header line, numbers only) as float64 arrays."""
    with open(path, newline="") as f:
        header = next(csv.reader(f))
    try:
        values = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    except ValueError as e:
        sys.exit(f"error: {path}: every cell must be a number (hbglm simulate writes no missing "
                 f"values): {e}")
    if values.shape[1] != len(header):
        sys.exit(f"error: {path}: {len(header)} names in the header, {values.shape[1]} columns")
    missing = [c for c in ELECTION_COLUMNS if c not in header]
    if missing:
        sys.exit(f"error: {path} lacks the election columns {missing} "
                 "(make it with `hbglm simulate --model election`)")
    return {name: values[:, j].copy() for j, name in enumerate(header)}


def round1(x):
    """hbglm's round1: std::round(x * 10) / 10, halves away from zero (Python's round() would
    round halves to even)."""
    return math.copysign(math.floor(abs(x) * 10.0 + 0.5), x) / 10.0


def def_scale_prior(y, family):
    """brms's def_scale_prior as hbglm computes it (host/model/model.cpp default_location_scale):
    the location and scale of the default student_t(3, ., .) priors."""
    if family == "bernoulli":
        return 0.0, 2.5
    y = np.asarray(y, dtype=np.float64)
    median = float(np.median(y))
    mad = 1.4826 * float(np.median(np.abs(y - median)))
    return round1(median), round1(max(2.5, mad))


def build_data(cols, family):
    """The design hbglm builds for the election formula: centered population-level columns,
    0-based level indices per term (levels = sorted distinct codes, as hbglm's numeric factors),
    the slope covariates, and the prior constants."""
    y = cols["y"]
    n = y.shape[0]
    if family == "bernoulli" and not np.all((y == 0.0) | (y == 1.0)):
        sys.exit("error: --family bernoulli needs y in {0, 1}")
    raw = [cols[c] for c in MAIN_EFFECTS] + [cols[a] * cols[b] for a, b in INTERACTIONS]
    X = np.column_stack(raw)
    x_means = X.mean(axis=0)
    levels, index = {}, {}
    for g in ("state", "respondent", "dem", "rep"):
        uniq, inv = np.unique(cols[g], return_inverse=True)
        levels[g] = uniq
        index[g] = inv.astype(np.int32)
    loc, scale = def_scale_prior(y, family)
    return {
        "family": family,
        "n": n,
        "y": y,
        "X": X - x_means,  # n x 47, row-major
        "x_means": x_means,
        "levels": levels,
        "index": index,
        "J": [len(levels[g]) for g, _, _ in GROUP_TERMS],
        "covariates": [None if c is None else cols[c] for _, _, c in GROUP_TERMS],
        "loc": loc,
        "scale": scale,
    }


def prior_lines(d):
    """The default priors as hbglm prints them (`# prior:` lines of its CSV header)."""
    def num(x):
        return f"{x:g}"
    lines = [f"Intercept ~ student_t(3, {num(d['loc'])}, {num(d['scale'])})"]
    lines += [f"b_{c} ~ flat" for c in COEF_NAMES]
    lines += [f"{s} ~ student_t(3, 0, {num(d['scale'])}) truncated to (0, inf)" for s in SD_NAMES]
    if d["family"] == "gaussian":
        lines.append(f"sigma ~ student_t(3, 0, {num(d['scale'])}) truncated to (0, inf)")
    return lines


def dim_of(d):
    return 1 + len(COEF_NAMES) + len(GROUP_TERMS) + (d["family"] == "gaussian") + sum(d["J"])


# ---------------------------------------------------------------------------------------------
# Reference log density (numpy): hbglm's lp__ on the unconstrained scale

def student_t_lpdf(x, nu, mu, s):
    c = (math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi)
         - math.log(s))
    return c - (nu + 1) / 2 * np.log1p(((x - mu) / s) ** 2 / nu)


def reference_log_density(d, intercept, b, sd, sigma, z):
    """log p(y, Intercept, b, log sd, log sigma, z): the priors (normalized, truncated ones
    divided by their mass on (0, inf)), the log Jacobians of sd = exp(.) and sigma = exp(.), the
    N(0, 1) densities of z and the normalized likelihood; in numpy float64.
    intercept: centered Intercept; b: 47 coefficients; sd: 9; sigma: float (gaussian); z: list of
    9 arrays of J_t."""
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    scale = d["scale"]
    lp = float(student_t_lpdf(intercept, 3.0, d["loc"], scale))
    sd = np.asarray(sd, dtype=np.float64)
    lp += float(np.sum(student_t_lpdf(sd, 3.0, 0.0, scale) - math.log(0.5) + np.log(sd)))
    eta = intercept + d["X"] @ np.asarray(b, dtype=np.float64)
    for t, (g, _, _) in enumerate(GROUP_TERMS):
        zt = np.asarray(z[t], dtype=np.float64)
        lp += float(np.sum(-0.5 * zt * zt) - half_log_2pi * zt.size)
        term = sd[t] * zt[d["index"][g]]
        cov = d["covariates"][t]
        eta = eta + (term if cov is None else term * cov)
    y = d["y"]
    if d["family"] == "gaussian":
        lp += float(student_t_lpdf(sigma, 3.0, 0.0, scale) - math.log(0.5) + math.log(sigma))
        r = (y - eta) / sigma
        lp += float(np.sum(-0.5 * r * r) - y.size * (half_log_2pi + math.log(sigma)))
    else:
        lp += float(np.sum(y * eta - np.logaddexp(0.0, eta)))
    return lp


# ---------------------------------------------------------------------------------------------
# posterior-package diagnostics (numpy): rhat, ess_bulk, ess_basic, mcse_mean (posterior 1.4)

def _should_return_na(x):
    return (not np.all(np.isfinite(x))) or abs(float(np.max(x) - np.min(x))) < DBL_EPSILON


def split_chains(x):
    """x: draws x chains. Each chain split in halves (the middle draw dropped when odd)."""
    n = x.shape[0]
    if n == 1:
        return x
    half = n / 2
    return np.concatenate([x[: int(math.floor(half))], x[int(math.ceil(half + 1)) - 1:]], axis=1)


def _rank_average(v):
    """R's rank(ties.method = 'average') of a flat array (1-based)."""
    order = np.argsort(v, kind="mergesort")
    ranks = np.empty(v.size, dtype=np.float64)
    sv = v[order]
    i = 0
    while i < v.size:
        j = i
        while j + 1 < v.size and sv[j + 1] == sv[i]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    return ranks


def _qnorm(p):
    try:
        from scipy.special import ndtri  # noqa: PLC0415
        return ndtri(p)
    except ImportError:
        inv = statistics.NormalDist().inv_cdf
        return np.array([inv(float(q)) for q in np.ravel(p)]).reshape(np.shape(p))


def z_scale(x):
    """posterior::z_scale: normal scores of the ranks over all draws, c = 3/8."""
    r = _rank_average(x.ravel(order="F")).reshape(x.shape, order="F")
    s = x.size
    return _qnorm((r - 0.375) / (s - 2 * 0.375 + 1))


def rhat_chains(x):
    n, m = x.shape
    if _should_return_na(x) or n < 2 or m < 2:
        return math.nan
    chain_mean = x.mean(axis=0)
    chain_var = x.var(axis=0, ddof=1)
    var_between = n * np.var(chain_mean, ddof=1)
    var_within = np.mean(chain_var)
    return math.sqrt((var_between / var_within + n - 1) / n)


def _autocovariance(v):
    n = v.size
    c = v - v.mean()
    m = 1
    while m < 2 * n:
        m *= 2
    f = np.fft.rfft(c, m)
    ac = np.fft.irfft(f * np.conj(f), m)[:n]
    var = np.var(v, ddof=1)
    if var == 0:
        return np.zeros(n)
    return ac / ac[0] * var * (n - 1) / n


def ess_chains(x):
    """posterior:::.ess: Geyer's initial monotone sequence on the mean autocovariance."""
    n, m = x.shape
    if n < 3 or _should_return_na(x):
        return math.nan
    acov = np.mean([_autocovariance(x[:, c]) for c in range(m)], axis=0)
    mean_var = acov[0] * n / (n - 1)
    var_plus = mean_var * (n - 1) / n
    if m > 1:
        var_plus += np.var(x.mean(axis=0), ddof=1)
    rho = np.zeros(n)
    t = 0
    rho_even = 1.0
    rho[0] = rho_even
    rho_odd = 1 - (mean_var - acov[1]) / var_plus
    rho[1] = rho_odd
    while t < n - 5 and not math.isnan(rho_even + rho_odd) and rho_even + rho_odd > 0:
        t += 2
        rho_even = 1 - (mean_var - acov[t]) / var_plus
        rho_odd = 1 - (mean_var - acov[t + 1]) / var_plus
        if rho_even + rho_odd >= 0:
            rho[t] = rho_even
            rho[t + 1] = rho_odd
    max_t = t
    if rho_even > 0:
        rho[max_t] = rho_even
    t = 0
    while t <= max_t - 4:
        t += 2
        if rho[t] + rho[t + 1] > rho[t - 2] + rho[t - 1]:
            rho[t] = (rho[t - 2] + rho[t - 1]) / 2
            rho[t + 1] = rho[t]
    ess = m * n
    rho_sum = rho[0] if max_t == 0 else float(np.sum(rho[:max_t]))
    tau_hat = -1 + 2 * rho_sum + rho[max_t]
    tau_hat = max(tau_hat, 1 / math.log10(ess))
    return ess / tau_hat


def summarise(x):
    """x: draws x chains. mean, sd, mcse_mean, ess_bulk, rhat as posterior::summarise_draws."""
    x = np.asarray(x, dtype=np.float64)
    flat = x.ravel()
    mean = float(np.mean(flat))
    sd = float(np.std(flat, ddof=1))
    split = split_chains(x)
    ess_basic = ess_chains(split)
    mcse = sd / math.sqrt(ess_basic) if ess_basic == ess_basic else math.nan
    if not np.all(np.isfinite(flat)):
        return mean, sd, mcse, math.nan, math.nan
    z = z_scale(split)
    ess_bulk = ess_chains(z)
    folded = np.abs(x - np.median(flat))
    rhat_bulk = rhat_chains(z)
    rhat_tail = rhat_chains(z_scale(split_chains(folded)))
    rhat = max(rhat_bulk, rhat_tail) if not (math.isnan(rhat_bulk) or math.isnan(rhat_tail)) \
        else (rhat_tail if math.isnan(rhat_bulk) else rhat_bulk)
    return mean, sd, mcse, ess_bulk, rhat


# ---------------------------------------------------------------------------------------------
# Check against hbglm's own files (numpy only)

def read_cmdstan_csv(path):
    """(header comment lines, column names, draws as float64 rows) of a CmdStan CSV."""
    comments, rows, names = [], [], None
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                comments.append(line.rstrip("\n"))
            elif names is None:
                names = line.strip().split(",")
            elif line.strip():
                rows.append([float(v) for v in line.strip().split(",")])
    return comments, names, np.array(rows, dtype=np.float64)


def check_hbglm(d, files, summary_path):
    """Compares, on hbglm's own output for the same data: the default priors (header lines),
    the reference log density at every draw (lp__, with the group effects r_* saved), and with
    --check-summary the numpy diagnostics with `hbglm summary --format csv`. Exit 1 on mismatch."""
    ok = True
    chains = []
    for path in files:
        comments, names, draws = read_cmdstan_csv(path)
        hb_priors = [c[len("# prior: "):] for c in comments if c.startswith("# prior: ")]
        if hb_priors != prior_lines(d):
            ok = False
            print(f"{path}: priors differ\n  hbglm: {hb_priors}\n  here:  {prior_lines(d)}")
        else:
            print(f"{path}: the {len(hb_priors)} prior lines agree "
                  f"(Intercept ~ student_t(3, {d['loc']:g}, {d['scale']:g}))")
        coefs = {}
        for c in comments:
            if c.startswith("# coefs.r_"):
                key, value = c[len("# coefs."):].split(" = ", 1)
                coefs[key] = [s.strip().strip('"') for s in value.strip("[] ").split(",")]
        col = {name: j for j, name in enumerate(names)}
        worst = 0.0
        for row in draws:
            b = np.array([row[col["b_" + c]] for c in COEF_NAMES])
            intercept = row[col["b_Intercept"]] + float(d["x_means"] @ b)
            sd = np.array([row[col[s]] for s in SD_NAMES])
            sigma = row[col["sigma"]] if d["family"] == "gaussian" else None
            z = []
            for t, (g, coef, _) in enumerate(GROUP_TERMS):
                k = coefs["r_" + g].index(coef) + 1
                r = np.array([row[col[f"r_{g}.{j}.{k}"]] for j in range(1, d["J"][t] + 1)])
                z.append(r / sd[t])
            lp = reference_log_density(d, intercept, b, sd, sigma, z)
            rel = abs(lp - row[col["lp__"]]) / max(1.0, abs(row[col["lp__"]]))
            worst = max(worst, rel)
        # lp__ and the draws are printed with the files' significant digits (--sig-figs N,
        # default 6), so the agreement can be no closer than about 10^(2-N).
        sig_figs = 6
        for c in comments:
            if c.startswith("# command = ") and "--sig-figs" in c:
                sig_figs = int(c.split("--sig-figs")[1].split()[0])
        tol = max(1e-11, 10.0 ** (2 - sig_figs))
        status = "agree" if worst < tol else "DIFFER"
        ok &= worst < tol
        print(f"{path}: reference log density vs lp__ over {len(draws)} draws: max relative "
              f"difference {worst:.2e} ({status}, tolerance {tol:g})")
        chains.append({name: draws[:, j] for j, name in enumerate(names)})
    if summary_path:
        hb = {r["variable"]: r for r in csv.DictReader(open(summary_path))}
        worst = {"mean": 0.0, "mcse_mean": 0.0, "ess_bulk": 0.0, "rhat": 0.0}
        for name in output_names(d["family"]) + ["lp__"]:
            x = np.column_stack([c[name] for c in chains])
            mean, _, mcse, ess, rhat = summarise(x)
            for key, mine in (("mean", mean), ("mcse_mean", mcse), ("ess_bulk", ess),
                              ("rhat", rhat)):
                theirs = float(hb[name][key]) if hb[name][key] not in ("NA", "") else math.nan
                if math.isnan(mine) and math.isnan(theirs):
                    continue
                worst[key] = max(worst[key], abs(mine - theirs) / max(1e-300, abs(theirs)))
        print("numpy diagnostics vs hbglm summary, max relative difference over the globals and "
              "lp__: " + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))
        if max(worst.values()) > 1e-8:
            ok = False
            print("DIFFER")
    return ok


# ---------------------------------------------------------------------------------------------
# NumPyro

def import_jax(float32):
    try:
        import jax  # noqa: PLC0415
        import numpyro  # noqa: PLC0415
    except ImportError as e:
        sys.exit(f"error: this needs jax and numpyro ({e}); the GPU machine has both "
                 "(jax with CUDA). `--check-hbglm` runs without them.")
    jax.config.update("jax_enable_x64", not float32)
    return jax, numpyro


def make_model(d, float32):
    import jax.numpy as jnp  # noqa: PLC0415
    import numpyro  # noqa: PLC0415
    import numpyro.distributions as dist  # noqa: PLC0415
    from numpyro.distributions import constraints  # noqa: PLC0415

    fdt = jnp.float32 if float32 else jnp.float64
    loc, scale, family = d["loc"], d["scale"], d["family"]
    n_coef, n_terms, J = len(COEF_NAMES), len(GROUP_TERMS), list(d["J"])

    def half_student_t(size):
        return dist.TruncatedDistribution(
            dist.StudentT(3.0, jnp.zeros(size, fdt), scale), low=0.0)

    def model(data):
        intercept = numpyro.sample("Intercept", dist.StudentT(3.0, loc, scale))
        b = numpyro.sample("b", dist.ImproperUniform(constraints.real, (), (n_coef,)))
        sd = numpyro.sample("sd", half_student_t(n_terms).to_event(1))
        eta = intercept + data["X"] @ b
        for t, (g, _, cov) in enumerate(GROUP_TERMS):
            z = numpyro.sample(Z_SITES[t], dist.Normal(jnp.zeros(J[t], fdt), 1.0).to_event(1))
            u = sd[t] * z
            term = u[data["idx_" + g]]
            eta = eta + (term if cov is None else term * data[cov])
        if family == "gaussian":
            sigma = numpyro.sample(
                "sigma", dist.TruncatedDistribution(dist.StudentT(3.0, 0.0, scale), low=0.0))
            numpyro.sample("y", dist.Normal(eta, sigma), obs=data["y"])
        else:
            numpyro.sample("y", dist.Bernoulli(logits=eta), obs=data["y"])

    def device_data():
        out = {"X": jnp.asarray(d["X"], fdt), "y": jnp.asarray(d["y"], fdt)}
        for g, idx in d["index"].items():
            out["idx_" + g] = jnp.asarray(idx)
        for (_, _, cov), values in zip(GROUP_TERMS, d["covariates"]):
            if cov is not None:
                out[cov] = jnp.asarray(values, fdt)
        return out

    return model, device_data


def constrained_from_unconstrained(params, chain=None):
    """(intercept, b, sd, sigma, z) as numpy from NumPyro's unconstrained dict (sd and sigma are
    exp of theirs: biject_to(greater_than(0)) is exp)."""
    def get(k):
        v = np.asarray(params[k], dtype=np.float64)
        return v if chain is None else v[chain]
    sigma = float(np.exp(get("sigma"))) if "sigma" in params else None
    return (float(get("Intercept")), get("b"), np.exp(get("sd")), sigma,
            [get(s) for s in Z_SITES])


class CompileClock:
    """Seconds JAX reports for tracing, lowering and compiling (jax.monitoring)."""

    def __init__(self, jax):
        self.seconds = 0.0
        self.available = False
        try:
            jax.monitoring.register_event_duration_secs_listener(self._listener)
            self.available = True
        except AttributeError:
            pass

    def _listener(self, event, duration, **kwargs):
        if event.startswith("/jax/core/compile/"):
            self.seconds += duration


def median_time(f, min_reps=20, min_seconds=1.0):
    f()
    times = []
    start = time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def device_peak_mb(jax):
    try:
        stats = jax.devices()[0].memory_stats() or {}
        return stats.get("peak_bytes_in_use", float("nan")) / 1e6
    except Exception:  # noqa: BLE001  (memory_stats is not on every backend)
        return float("nan")


def fmt(x, digits=4):
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", help="CSV from `hbglm simulate --model election`")
    ap.add_argument("--family", choices=["gaussian", "bernoulli"], default="gaussian")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", help="per-parameter summary CSV (tool,family,n,parameter,...)")
    ap.add_argument("--tool-label", help="the tool column of --out (default numpyro), e.g. "
                    "'numpyro 300+300' to tell runs apart in bench/plot.py")
    ap.add_argument("--grad-only", action="store_true", help="time the gradient, no NUTS")
    ap.add_argument("--skip-grad", action="store_true", help="no gradient timing, NUTS only")
    ap.add_argument("--grad-out", help="append the gradient timing to this CSV")
    ap.add_argument("--split-warmup", action="store_true",
                    help="mcmc.warmup then mcmc.run, to count the warmup's gradients too (a "
                         "second compilation)")
    ap.add_argument("--float32", action="store_true", help="single precision (default float64)")
    ap.add_argument("--check-hbglm", nargs="+", metavar="CHAIN.csv",
                    help="numpy only: compare priors, log density and diagnostics with hbglm's "
                         "CmdStan CSV files of a run on the same data (group effects saved)")
    ap.add_argument("--check-summary", help="with --check-hbglm: `hbglm summary --format csv` "
                    "of those files")
    args = ap.parse_args()

    t_read = time.perf_counter()
    d = build_data(read_csv_columns(args.data), args.family)
    t_read = time.perf_counter() - t_read
    print(f"data: {args.data}, n = {d['n']}, family {args.family}, dim {dim_of(d)}, levels "
          f"{dict(zip([g for g, _, _ in GROUP_TERMS[:4]], d['J'][:4]))}; priors: "
          f"{prior_lines(d)[0]}, sd/sigma scale {d['scale']:g} ({t_read:.1f} s to read)",
          flush=True)
    if args.check_hbglm:
        sys.exit(0 if check_hbglm(d, args.check_hbglm, args.check_summary) else 1)

    jax, numpyro = import_jax(args.float32)
    import jax.numpy as jnp  # noqa: PLC0415
    from numpyro.infer import MCMC, NUTS, init_to_uniform  # noqa: PLC0415
    from numpyro.infer.util import initialize_model  # noqa: PLC0415

    clock = CompileClock(jax)
    device = str(jax.devices()[0])
    dtype = "float32" if args.float32 else "float64"
    print(f"jax {jax.__version__}, numpyro {numpyro.__version__}, device {device}, {dtype}",
          flush=True)
    if jax.default_backend() == "cpu":
        print("warning: jax runs on the CPU here", flush=True)
    model, device_data = make_model(d, args.float32)
    data = device_data()
    result = {"tool": TOOL, "family": args.family, "n": d["n"], "dim": dim_of(d),
              "dtype": dtype, "chains": args.chains}

    # Self-check: NumPyro's potential energy is minus the numpy reference at a random point.
    key = jax.random.PRNGKey(args.seed)
    info = initialize_model(key, model, model_args=(data,), dynamic_args=True,
                            init_strategy=init_to_uniform(radius=2.0))
    potential = info.potential_fn(data)
    q0 = info.param_info.z
    lp_numpyro = -float(potential(q0))
    lp_ref = reference_log_density(d, *constrained_from_unconstrained(q0))
    rel = abs(lp_numpyro - lp_ref) / max(1.0, abs(lp_ref))
    tol = 1e-4 if args.float32 else 1e-9
    print(f"self-check: -potential {lp_numpyro:.10g}, numpy reference {lp_ref:.10g}, relative "
          f"difference {rel:.1e} ({'ok' if rel < tol else 'FAILED'})", flush=True)
    result["selfcheck_rel"] = f"{rel:.1e}"
    if not rel < tol:
        print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()) + " error=selfcheck")
        sys.exit(1)

    if not args.skip_grad:
        compile_before = clock.seconds

        def vg(q, data_):
            return jax.value_and_grad(lambda p: info.potential_fn(data_)(p))(q)

        vg_jit = jax.jit(vg)
        t0 = time.perf_counter()
        jax.block_until_ready(vg_jit(q0, data))
        first_s = time.perf_counter() - t0
        grad_s = median_time(lambda: jax.block_until_ready(vg_jit(q0, data)))
        keys = jax.random.split(jax.random.PRNGKey(args.seed + 1), args.chains)
        q_batch = initialize_model(keys, model, model_args=(data,), dynamic_args=True,
                                   init_strategy=init_to_uniform(radius=2.0)).param_info.z
        vg_batch = jax.jit(jax.vmap(vg, in_axes=(0, None)))
        jax.block_until_ready(vg_batch(q_batch, data))
        batch_s = median_time(lambda: jax.block_until_ready(vg_batch(q_batch, data)))
        result.update(grad_ms=f"{grad_s * 1e3:.4f}", grad_batch_ms=f"{batch_s * 1e3:.4f}",
                      grad_compile_s=f"{clock.seconds - compile_before:.1f}",
                      peak_MB=f"{device_peak_mb(jax):.0f}")
        print(f"gradient: {grad_s * 1e3:.4f} ms per log density + gradient (one chain, median), "
              f"{batch_s * 1e3:.4f} ms for {args.chains} chains under vmap; first call "
              f"{first_s:.1f} s (compile); device peak {result['peak_MB']} MB", flush=True)
        if args.grad_out:
            new = not os.path.exists(args.grad_out) or os.path.getsize(args.grad_out) == 0
            with open(args.grad_out, "a", newline="") as f:
                w = csv.writer(f)
                if new:
                    w.writerow(["tool", "family", "n", "dim", "chains", "dtype", "grad_ms",
                                "grad_batch_ms", "compile_s", "peak_MB", "device"])
                w.writerow([TOOL, args.family, d["n"], dim_of(d), args.chains, dtype,
                            f"{grad_s * 1e3:.4f}", f"{batch_s * 1e3:.4f}",
                            result["grad_compile_s"], result["peak_MB"], device])

    if not args.grad_only:
        kernel = NUTS(model, target_accept_prob=0.8, max_tree_depth=10, dense_mass=False,
                      init_strategy=init_to_uniform(radius=2.0))
        mcmc = MCMC(kernel, num_warmup=args.warmup, num_samples=args.samples,
                    num_chains=args.chains, chain_method="vectorized", progress_bar=False)
        compile_before = clock.seconds
        t0 = time.perf_counter()
        run_key = jax.random.PRNGKey(args.seed)
        warmup_steps, t_warm = None, None
        if args.split_warmup:
            # numpyro's documented two-call pattern: counts the warmup's leapfrog steps too, at
            # the price of a second compilation.
            mcmc.warmup(run_key, data, extra_fields=("num_steps",), collect_warmup=True)
            warmup_steps = int(np.sum(np.asarray(mcmc.get_extra_fields()["num_steps"])))
            t_warm = time.perf_counter() - t0
            run_key = mcmc.post_warmup_state.rng_key
        mcmc.run(run_key, data, extra_fields=("diverging", "num_steps"))
        samples = jax.block_until_ready(mcmc.get_samples(group_by_chain=True))
        wall = time.perf_counter() - t0
        compile_s = clock.seconds - compile_before
        seconds = wall - compile_s
        extra = mcmc.get_extra_fields(group_by_chain=True)
        divergent = int(np.sum(np.asarray(extra["diverging"])))
        # Leapfrog steps = gradients, summed over chains, of the sampling phase (hbglm's
        # n_leapfrog__ column sums to the same count).
        gradients = int(np.sum(np.asarray(extra["num_steps"])))
        # Output parameters, draws x chains each.
        b = np.asarray(samples["b"], dtype=np.float64)              # chains x draws x 47
        intercept = np.asarray(samples["Intercept"], dtype=np.float64) - b @ d["x_means"]
        columns = {"b_Intercept": intercept.T}
        for j, c in enumerate(COEF_NAMES):
            columns["b_" + c] = b[:, :, j].T
        sd = np.asarray(samples["sd"], dtype=np.float64)
        for t, s in enumerate(SD_NAMES):
            columns[s] = sd[:, :, t].T
        if args.family == "gaussian":
            columns["sigma"] = np.asarray(samples["sigma"], dtype=np.float64).T
        rows = []
        for name in output_names(args.family):
            mean, sdv, mcse, ess, rhat = summarise(columns[name])
            rows.append([args.tool_label or TOOL, args.family, d["n"], name, mean, sdv, mcse,
                         ess, rhat, f"{seconds:.2f}"])
        ess_all = [r[7] for r in rows]
        i_min = int(np.nanargmin(ess_all))
        max_rhat = float(np.nanmax([r[8] for r in rows]))
        try:
            from numpyro.diagnostics import effective_sample_size  # noqa: PLC0415
            np_ess = min(float(effective_sample_size(columns[n].T)) for n in columns)
        except Exception:  # noqa: BLE001
            np_ess = math.nan
        result.update(warmup=args.warmup, samples=args.samples, wall_s=f"{wall:.1f}",
                      compile_s=f"{compile_s:.1f}", seconds=f"{seconds:.1f}",
                      min_ess_bulk=f"{ess_all[i_min]:.0f}", min_ess_param=rows[i_min][3],
                      ess_per_s=fmt(ess_all[i_min] / seconds), max_rhat=f"{max_rhat:.3f}",
                      divergent=divergent, sampling_gradients=gradients,
                      ess_per_1000_grad=fmt(1000 * ess_all[i_min] / max(1, gradients)),
                      peak_MB=f"{device_peak_mb(jax):.0f}")
        print(f"NUTS: {args.chains} chains x ({args.warmup} warmup + {args.samples} draws), "
              f"vectorized: {wall:.1f} s wall"
              f"{'' if t_warm is None else f' (warmup call {t_warm:.1f} s)'}, of which "
              f"{compile_s:.1f} s compiling "
              f"({'jax.monitoring' if clock.available else 'not measured'}); min bulk ESS "
              f"{ess_all[i_min]:.0f} ({rows[i_min][3]}), {result['ess_per_s']} per second "
              f"without compile; max R-hat {max_rhat:.3f}; {divergent} divergent; {gradients} "
              f"gradients while sampling"
              f"{'' if warmup_steps is None else f' ({warmup_steps} in warmup)'}; "
              f"numpyro's own ESS (not rank-normalized) min "
              f"{np_ess:.0f}", flush=True)
        if args.out:
            with open(args.out, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["tool", "family", "n", "parameter", "mean", "sd", "mcse", "ess_bulk",
                            "rhat", "seconds"])
                for r in rows:
                    w.writerow(r[:4] + [f"{v:.6g}" for v in r[4:9]] + [r[9]])
            print(f"wrote {len(rows)} rows to {args.out}")
    print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()), flush=True)


if __name__ == "__main__":
    main()
