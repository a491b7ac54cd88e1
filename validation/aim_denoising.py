"""AIM matrix denoising: ``mmse_rho(Delta)`` against the RIE applied to sampled matrices.

``iclc verify aim.denoising_rie``.  For each ``(rho, Delta)``: sample ``S = W W^T/sqrt(r d)``
(``W`` a ``d x r`` Gaussian matrix, ``r = rho d``), a GOE ``Z`` (off-diagonal variance ``1/d``),
``Y = S + sqrt(Delta) Z``, denoise with :func:`icl_companion.numerics.aim_free_prob.rie_denoise` (``eigh``) and
measure ``||S_hat - S||_F^2/d``.  The theory value comes from the catalogue
(``aim.denoising_mmse``), so a perturbed formula there makes this check fail (tested).

Tolerance.  The error of one matrix fluctuates from seed to seed; its mean at size ``d`` has a
finite-size bias ``b/d + o(1/d)`` (Bun et al. 2016: the RIE is optimal up to ``O(1/d)`` corrections
of the resolvent).  Rather than guessing ``b``, the check runs two sizes ``d/2`` and ``d`` and
compares the first-order Richardson extrapolation ``2 m(d) - m(d/2)`` with the theory, tolerance
4 x its standard error ``sqrt(4 se(d)^2 + se(d/2)^2)`` (seed-to-seed spread).  The raw mean at ``d``
is reported as a fact.
"""

from __future__ import annotations

import math

import numpy as np

from icl_companion.numerics.aim_free_prob import rie_denoise
from icl_companion.numerics.linear import mc_mean
from icl_companion.theory.registry import NOT_NUMBERED, Reference, evaluate
from icl_companion.validation.checks import Outcome, check, compare

CONFIGS = [(0.5, 0.4), (0.2, 0.05), (1.0, 0.1), (2.0, 1.0)]  # (rho, Delta); (0.2, 0.05): 2 intervals


def sample_denoising_error(rng: np.random.Generator, d: int, rho: float, delta: float) -> float:
    """One draw of ``||rie_denoise(Y) - S||_F^2 / d`` for ``Y = S + sqrt(Delta) Z``."""
    r = max(1, int(round(rho * d)))
    W = rng.standard_normal((d, r))
    S = W @ W.T / math.sqrt(r * d)
    G = rng.standard_normal((d, d)) / math.sqrt(d)
    Z = (G + G.T) / math.sqrt(2)                  # GOE: off-diagonal 1/d, diagonal 2/d
    S_hat = rie_denoise(S + math.sqrt(delta) * Z, delta, r / d)
    return float(np.sum((S_hat - S) ** 2) / d)


def denoising_outcome(quick: bool, seed: int, configs=CONFIGS) -> Outcome:
    d = 160 if quick else 800
    seeds = 16 if quick else 8
    rng = np.random.default_rng(seed)
    out = Outcome(facts={"d": d, "d_half": d // 2, "matrices_per_size": seeds, "seed": seed,
                         "rule": "Richardson 2 m(d) - m(d/2) vs theory, 4 SE"})
    for rho, delta in configs:
        th = evaluate("aim.denoising_mmse", rho=rho, delta=delta).value
        big = mc_mean(np.array([sample_denoising_error(rng, d, rho, delta) for _ in range(seeds)]))
        half = mc_mean(np.array([sample_denoising_error(rng, d // 2, rho, delta)
                                 for _ in range(seeds)]))
        extrap = 2 * big.mean - half.mean
        se = math.hypot(2 * big.stderr, half.stderr)
        out.comparisons.append(compare(f"rho={rho} Delta={delta} (extrapolated to d=inf)", th,
                                       extrap, se))
        out.facts[f"rho={rho} Delta={delta}: mean at d={d}"] = f"{big.mean:.5g} +- {big.stderr:.2g}"
    return out


@check("aim.denoising_rie", "mmse_rho(Delta) vs the RIE on sampled S + sqrt(Delta) GOE "
       "(d >= 800 full, 160 quick; 1/d Richardson)",
       reference=Reference("aim", NOT_NUMBERED,
                           "docs/derivations/aim.md#denoising-mmse-and-the-rie",
                           ("Bun, Allez, Bouchaud, Potters (2016), IEEE Trans. Inf. Theory 62, "
                            "7475, arXiv:1502.06736",)))
def denoising_rie_check(quick: bool, seed: int) -> Outcome:
    return denoising_outcome(quick, seed)
