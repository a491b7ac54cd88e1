"""AIM playground channels: state evolution against GAMP-RIE for the new output channels.

``iclc verify aim.se_vs_gamp_channels``.  One channel object
(:mod:`icl_companion.numerics.aim_channels`) draws the data, gives GAMP-RIE its ``g_out`` and the SE
its information; for each channel and three sample complexities the SE MMSE is compared with the
mean GAMP-RIE error over independent teachers:

* ``linear``: identity output at ``T = 1`` with Gaussian noise ``Delta = 0.1`` (the noisy
  extensive-width quadratic network of Maillard et al. 2024);
* ``softmax_noisy``: ``y = softmax(h) + sqrt(0.05) Z`` at ``T = 2``;
* ``user tanh``: a user-defined channel ``y = tanh(h_11) + sqrt(0.1) z`` at ``T = 1``, built from
  the Python callable ``numpy.tanh`` (:class:`~icl_companion.numerics.aim_channels.GaussianNoiseChannel`:
  ``g_out`` by quadrature, SE information by frozen randomized QMC).

Tolerance: 4 standard errors of the teacher-to-teacher spread at size ``d`` plus a *measured*
finite-size allowance: every point is also run at ``d/2`` with as many teachers, and the bias left
at ``d`` under a ``1/d`` law (``m(d) = m_inf + b/d``) is ``m(d/2) - m(d)``, whose absolute value is the
allowance; the Richardson extrapolation ``2 m(d) - m(d/2)`` is reported as a fact.  Plus the
stopping allowance of the GAMP runs (:func:`icl_companion.validation.aim.stopping_allowance`) and
the SE's own quadrature error (``mmse_err``).

Sizes: quick ``d = 40`` (and 20), 3 teachers, two alphas per channel; full ``d = 60`` (and 30), 8
teachers, three alphas (the acceptance setting of the channel issue).
"""

from __future__ import annotations

import math

import numpy as np

from icl_companion.numerics.aim_channels import (GaussianNoiseChannel, LinearChannel,
                                                 SoftmaxNoisyChannel)
from icl_companion.numerics.aim_se import se_channel
from icl_companion.validation.aim import RHO, _mean_se, gamp_errors
from icl_companion.theory.registry import NOT_NUMBERED, Reference
from icl_companion.validation.checks import Outcome, check, compare


def channel_cases():
    """``name -> (channel, alphas)``: the playground channels of the check."""
    return {
        "linear Delta=0.1": (LinearChannel(0.1), (0.1, 0.25, 0.5)),
        "softmax_noisy Delta=0.05": (SoftmaxNoisyChannel(0.05), (0.05, 0.1, 0.2)),
        "user tanh Delta=0.1": (GaussianNoiseChannel(np.tanh, 1, 0.1, name="tanh"),
                                (0.1, 0.25, 0.5)),
    }


def channel_comparisons(quick: bool, seed: int, cases=None) -> Outcome:
    """Body of ``aim.se_vs_gamp_channels``; ``cases`` may replace :func:`channel_cases` (tests)."""
    cases = cases or channel_cases()
    d = 40 if quick else 60
    n_seeds = 3 if quick else 8
    tol = 1e-6 if quick else 1e-7
    seeds = [seed * 1000 + 700 + i for i in range(n_seeds)]
    out = Outcome(facts={"rho": RHO, "d": d, "d_half": d // 2, "teachers_per_point": n_seeds,
                         "gamp": f"damping 0.5 on (V, omega), tol {tol}, <= 300 iterations, "
                                 "init sqrt(rho) I, same channel object as the data",
                         "allowance": "4 s.e. + |m(d/2) - m(d)| (1/d bias measured from two "
                                      "sizes) + stopping allowance + SE quadrature error"})
    nonconv = 0
    for name, (ch, alphas) in cases.items():
        for a in (alphas[::2] if quick else alphas):
            th = se_channel(a, RHO, ch)
            if not th.success:
                raise RuntimeError(f"SE did not converge for {name} at alpha={a}: {th.message}")
            big, cb, stop = gamp_errors(d, a, ch.T, ch, seeds, tol=tol, max_iter=300)
            small, cs, _ = gamp_errors(d // 2, a, ch.T, ch, seeds, tol=tol, max_iter=300)
            m, se = _mean_se(big)
            m2, _ = _mean_se(small)
            fs, st, qe = abs(m2 - m), float(np.mean(stop)), float(th.get("mmse_err", 0.0))
            if not math.isfinite(st):
                st = 0.0
            alpha_used = math.floor(a * d * d + 1e-9) / d**2
            if alpha_used != a:
                th = se_channel(alpha_used, RHO, ch)
            out.comparisons.append(compare(
                f"{name}, alpha={alpha_used:.4g}", float(th.mmse), m, se, allowance=fs + st + qe,
                allowance_rule=f"= {fs:.2g} measured finite-size (|m(d/2) - m(d)|) + {st:.2g} "
                               f"stopping + {qe:.2g} SE quadrature"))
            out.facts[f"{name}, alpha={a:g}: SE, GAMP(d), GAMP(d/2), Richardson"] = [
                round(float(th.mmse), 4), round(m, 4), round(m2, 4), round(2 * m - m2, 4)]
            nonconv += 2 * n_seeds - cb - cs
    out.facts["gamp runs not converged (final iterate used)"] = nonconv
    return out


@check("aim.se_vs_gamp_channels", "SE vs GAMP-RIE for the playground channels (identity T = 1 "
       "with noise, noisy softmax T = 2, a user-defined tanh channel), one channel object each",
       reference=Reference("aim", NOT_NUMBERED,
                           "docs/derivations/aim.md#output-channels-and-their-se-information",
                           ("Maillard, Troiani, Martin, Krzakala, Zdeborova (2024), "
                            "arXiv:2408.03733 (identity channel)",)))
def se_vs_gamp_channels(quick: bool, seed: int) -> Outcome:
    return channel_comparisons(quick, seed)
