"""The arithmetic of one paired difference of two arms: its interval and p-values, with the
seed as the unit of replication.

**The model.**  Arm A and arm B run on the same seeds (same dense network, data order and
test set); ``a[s, i]``, ``b[s, i]`` say whether seed ``s`` classified test example ``i``
correctly.  Every seed is scored on the *same* test set, so the spread of the per-seed
differences ``d_s = 100 · mean_i(a[s, i] − b[s, i])`` (points) holds the training noise
(seeds) but none of the test set's sampling error: a second test set drawn from the same
population would move every seed's difference together.  The standard error of the mean
difference ``d̄`` therefore adds the two:

    se² = s_d² / n  +  v_test,     v_test = 100² · var_i(e_i) / N,   e_i = mean_s(a[s, i] − b[s, i])

(``n`` seeds, ``N`` test examples, both variances with ``ddof=1``).  ``v_test`` is the
variance of a mean over N examples of the seed-averaged per-example difference.  Beside the
examples' own spread it holds each seed's example-by-example noise (divided by n), which the
seed term already counts, so the sum errs on the wide side.  The 95% interval is
``d̄ ± t_{0.975, n−1} · se``, and the p-values come from the same statistic with ``n − 1``
degrees of freedom: two-sided of H0: difference = 0, one-sided of H0: difference ≤ bound.
They are exact under the model (normal seed effects), never floored.  ``v_test ≥ 0``, so the
interval is never narrower than the seed-only t-interval (``t_low``, ``t_high``), which is
reported beside it.  With one seed there is no interval and no p-value (NaN): a test-only
interval would pass one network's luck off as the arm's.  Without stored predictions only
the seed-only t-interval is available (``v_test`` unknown, taken as 0).

**Why not a bootstrap.**  The earlier paired bootstrap (:func:`bootstrap_difference`,
resampling seeds and test examples with replacement, percentile interval) is kept for
comparison: with n seeds its variance of the seed mean is ``(n − 1)/n · s_d²/n`` (3 seeds: 10
distinct resamples) and its percentile interval takes normal-like quantiles where t with
``n − 1`` df is due (4.30 against 1.96 at n = 3), so its intervals are far narrower than the
seed-level t-interval and its false-positive rate far above nominal; its p-values are floored
at ``1/N_BOOT``.  ``tests/test_inference_calibration.py`` measures both.
"""
from __future__ import annotations

import functools
import math

import numpy as np
from scipy import stats as scipy_stats

from ..core.config import derive_seed
from .stats import t_quantile

#: Two-sided interval level.
LEVEL = 0.95
#: ``interval_source`` of a row: which interval ``ci_low``/``ci_high`` and the p-values are.
SEEDS_AND_TEST = "seeds + shared test set (t, n − 1 df)"
SEEDS_ONLY = "seeds (t; no stored predictions)"
ONE_SEED = "one seed: no interval"
#: Replicates of the old paired bootstrap (seeded: the same numbers on every run).
N_BOOT = 2000
_CHUNK = 250  # bootstrap replicates per matrix product
_NO_SPREAD = 1e-9  # a standard error below this (points) is none: no test
_KEYS = ("diff", "ci_low", "ci_high", "t_low", "t_high", "se_seeds", "se_test", "p", "p_one_sided")


# ---------------------------------------------------------------------------------------------
# Seeds as the unit, the shared test set added
# ---------------------------------------------------------------------------------------------

def shared_test_variance(a: np.ndarray, b: np.ndarray) -> np.ndarray | float:
    """``v_test`` in points²: the variance over test examples of the seed-averaged per-example
    difference ``e_i = mean_s(a[s, i] − b[s, i])``, divided by the number of examples.
    ``a``, ``b``: (..., seeds, test examples) correctness, row s of each from the same seed;
    leading axes are separate comparisons."""
    per_example = np.mean(np.asarray(a, dtype=float) - np.asarray(b, dtype=float), axis=-2)
    return _plain(100.0 ** 2 * np.var(per_example, axis=-1, ddof=1) / per_example.shape[-1])


def _plain(x):
    """A 0-d array as a float; arrays as they are."""
    return float(x) if np.ndim(x) == 0 else x


def _t_p_values(mean, se, df: int, bound: float):
    """(two-sided p of H0: mean = 0, one-sided p of H0: mean ≤ bound); NaN without spread."""
    spread = se > _NO_SPREAD
    safe = np.where(spread, se, 1.0)
    two_sided = np.minimum(1.0, 2 * scipy_stats.t.sf(np.abs(mean) / safe, df))
    one_sided = scipy_stats.t.sf((mean - bound) / safe, df)
    return np.where(spread, two_sided, np.nan), np.where(spread, one_sided, np.nan)


def seed_level_difference(diffs, test_variance=0.0, bound: float = 0.0, level: float = LEVEL) -> dict:
    """Per-seed differences ``diffs`` (points; (..., seeds), leading axes separate comparisons)
    and the test-sample variance (points², 0 where unknown): the mean ``diff``, the interval
    ``ci_low``/``ci_high`` of ``se² = s_d²/n + test_variance`` with ``n − 1`` df, the
    seed-only t-interval ``t_low``/``t_high``, the two standard errors ``se_seeds``/``se_test``,
    the two-sided ``p`` (H0: 0) and ``p_one_sided`` (H0: ≤ ``bound``).  One seed: everything
    but ``diff`` is NaN."""
    diffs = np.asarray(diffs, dtype=float)
    n, mean = diffs.shape[-1], np.mean(diffs, axis=-1)
    nan = np.full_like(mean, np.nan)
    if n < 2:
        return {k: _plain(mean if k == "diff" else nan) for k in _KEYS}
    q = t_quantile((1 + level) / 2, n - 1)
    se_seeds = np.std(diffs, axis=-1, ddof=1) / math.sqrt(n)
    se_test = np.sqrt(np.broadcast_to(np.asarray(test_variance, dtype=float), np.shape(mean)))
    se = np.hypot(se_seeds, se_test)
    p, p_one_sided = _t_p_values(mean, se, n - 1, bound)
    found = {"diff": mean, "ci_low": mean - q * se, "ci_high": mean + q * se, "t_low": mean - q * se_seeds,
             "t_high": mean + q * se_seeds, "se_seeds": se_seeds, "se_test": se_test, "p": p,
             "p_one_sided": p_one_sided}
    return {k: _plain(v) for k, v in found.items()}


def outcome_difference(a: np.ndarray, b: np.ndarray, bound: float = 0.0, level: float = LEVEL) -> dict:
    """:func:`seed_level_difference` of per-example correctness ``a`` − ``b`` ((..., seeds,
    test examples), row s of each from the same seed, one test set for all): seeds and the
    shared test set."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diffs = 100 * np.mean(a - b, axis=-1)
    return seed_level_difference(diffs, shared_test_variance(a, b), bound, level)


# ---------------------------------------------------------------------------------------------
# The old paired bootstrap (seeds × test examples), kept for comparison
# ---------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=16)
def _resample_counts(n: int, n_boot: int, what: str) -> np.ndarray:
    """(n_boot, n) float32: how often each of n items is drawn in each replicate (n draws with
    replacement), from a generator seeded by (what, n): the same draws for every pair of arms
    of one size (common random numbers)."""
    rng = np.random.default_rng(derive_seed(0, "paired_bootstrap", what, n, n_boot))
    draws = rng.integers(0, n, size=(n_boot, n)) + (np.arange(n_boot)[:, None] * n)
    return np.bincount(draws.ravel(), minlength=n_boot * n).reshape(n_boot, n).astype(np.float32)


def bootstrap_replicates(a: np.ndarray, b: np.ndarray, n_boot: int = N_BOOT) -> np.ndarray:
    """Replicates of the mean accuracy difference a − b in points.  ``a``, ``b``: (seeds, test
    examples) correctness, row i of each from the same seed; each replicate resamples seeds and
    test examples with replacement, the same ones for both arms."""
    d = np.asarray(a, dtype=np.float32) - np.asarray(b, dtype=np.float32)
    n_seeds, n_examples = d.shape
    seeds, examples = _resample_counts(n_seeds, n_boot, "seeds"), _resample_counts(n_examples, n_boot, "examples")
    out = np.empty(n_boot)
    for start in range(0, n_boot, _CHUNK):
        stop = min(start + _CHUNK, n_boot)
        out[start:stop] = np.einsum("bn,bn->b", seeds[start:stop] @ d, examples[start:stop])
    return 100 * out / (n_seeds * n_examples)


def bootstrap_p(replicates: np.ndarray, bound: float = 0.0, two_sided: bool = True) -> float:
    """Two-sided: 2·min(share ≤ bound, share ≥ bound), at most 1; one-sided (H0: difference ≤
    bound): the share ≤ bound.  Floored at 1/B."""
    floor = 1 / len(replicates)
    below = float(np.mean(replicates <= bound))
    if not two_sided:
        return max(below, floor)
    return min(1.0, max(2 * min(below, float(np.mean(replicates >= bound))), floor))


def bootstrap_difference(a: np.ndarray, b: np.ndarray, n_boot: int = N_BOOT, level: float = LEVEL) -> dict:
    """The paired bootstrap of a − b (see :func:`bootstrap_replicates`): the mean difference in
    points, the percentile interval, the two-sided p-value, and the replicates."""
    reps = bootstrap_replicates(a, b, n_boot)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(reps, [tail, 100 - tail])
    diff = 100 * float(np.mean(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)))
    return {"diff": diff, "ci_low": float(low), "ci_high": float(high), "p": bootstrap_p(reps), "replicates": reps}
