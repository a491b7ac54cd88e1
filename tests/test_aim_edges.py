"""aim.* at the edges of their domains (honest numerics): mpmath-referenced values at the inputs
where the previous code returned wrong numbers marked converged, refusals before allocating, and
declared output bounds.

The mpmath reference of ``mmse_rho(Delta)`` is computed from the SymPy Stieltjes cubic and edge
quartic (``theory.aim``) with ``mpmath.polyroots`` and tanh-sinh quadrature at 40 digits, through
the direct formula ``Delta - (4 pi^2/3) Delta^2 int mu^3`` (whose cancellation 40 digits absorb):
independent of the double-precision rules under test.
"""

import functools
import time

import mpmath as mp
import numpy as np
import pytest

import icl_companion.numerics.aim_free_prob as fp
import icl_companion.numerics.aim_se as se
from icl_companion.theory.registry import evaluate, results


@functools.lru_cache(maxsize=None)
def _lambdified():
    import sympy as sp

    from icl_companion.theory import aim

    cs = [sp.lambdify((aim.Z, aim.DELTA, aim.A), c, "mpmath") for c in aim.cubic_coeffs()]
    qs = [sp.lambdify((aim.DELTA, aim.A), c, "mpmath")
          for c in sp.Poly(aim.edge_quartic(), aim.Z).all_coeffs()]
    return cs, qs


def mmse_mp(delta, rho, dps=40):
    """40-digit ``mmse_rho(Delta)``; returns an mpf."""
    cs, qs = _lambdified()
    with mp.workdps(dps):
        D, a = mp.mpf(delta), 1 / mp.mpf(rho)
        er = mp.polyroots([q(D, a) for q in qs], maxsteps=400, extraprec=4 * dps)
        edges = sorted(mp.re(r) for r in er if abs(mp.im(r)) < mp.mpf(10) ** (-dps // 3) * (1 + abs(r)))
        dens = lambda x: max(abs(mp.im(r)) for r in mp.polyroots(  # noqa: E731
            [c(x, D, a) for c in cs], maxsteps=200, extraprec=2 * dps)) / mp.pi
        ivs = [edges[0:2]] if len(edges) == 2 else [edges[0:2], edges[2:4]]
        I3 = sum(mp.quad(lambda x: dens(x) ** 3, iv) for iv in ivs)
        return D - 4 * mp.pi**2 / 3 * D**2 * I3


# ------------------------------------------------------------------ denoising MMSE, large Delta
@pytest.mark.parametrize("rho,delta", [(0.5, 1e14), (0.5, 30.0), (2.0, 1e6),
                                       pytest.param(0.1, 1e9, marks=pytest.mark.slow)])
def test_denoising_mmse_large_delta_vs_mpmath(rho, delta):
    """rho=0.5 delta=1e14 returned -3.69 (cancellation ~4.7e-14 Delta); now within 1e-12."""
    ref = float(mmse_mp(delta, rho))
    ev = evaluate("aim.denoising_mmse", rho=rho, delta=delta)
    assert ev.success and ev.info["residual"] < 1e-8
    assert ev.value == pytest.approx(ref, rel=1e-12)


def test_denoising_mmse_and_mi_carry_diagnostics():
    for rid in ("aim.denoising_mmse", "aim.denoising_mi"):
        for delta in (0.05, 3.0, 1e20):
            ev = evaluate(rid, rho=0.5, delta=delta)
            assert set(ev.info) >= {"success", "status", "message", "nit", "residual"}
            assert ev.success, (rid, delta, ev.info)


def test_denoising_mi_large_delta():
    """mmse = Delta/(1 + Delta) - O(Delta^-2) (free Cramer-Rao), so I(Delta) = log1p(1/Delta)/4 up
    to O(Delta^-3): at Delta = 1e14 the old log-potential difference returned -2.8e-11."""
    for delta in (1e6, 1e14, 1e100):
        ref = float(mp.log1p(mp.mpf(1) / delta) / 4)
        assert evaluate("aim.denoising_mi", rho=0.5, delta=delta).value == pytest.approx(
            ref, rel=1e-9 if delta < 1e7 else 1e-13)


def test_denoising_mi_branches_agree_and_i_mmse_in_the_integral_branch():
    lo = fp._mi_log_potential(fp.MI_SPLIT, 0.5)
    hi = fp._mi_immse(fp.MI_SPLIT, 0.5)
    assert hi == pytest.approx(lo, rel=1e-9)
    delta, h = 20.0, 1e-3 / 20.0
    s = 1 / delta
    dI = (fp.mutual_information(1 / (s + h), 0.5) - fp.mutual_information(1 / (s - h), 0.5)) / (2 * h)
    assert dI == pytest.approx(float(fp.mmse_rho(delta, 0.5)) / 4, rel=1e-8)


# ------------------------------------------------------------------ small-alpha SE
def _mmse_ref_small_alpha(alpha, rho, T=2):
    """Root of mmse_mp(Delta)/Delta = K alpha by Newton from 1/(K alpha) - 1 (two steps at 40
    digits, derivative of 1/(1 + Delta)), MMSE = K alpha Delta."""
    K = se.K_of_T(T)
    with mp.workdps(40):
        x = K * mp.mpf(alpha)
        D = 1 / x - 1
        for _ in range(2):
            f = mmse_mp(D, rho) / D - x
            D = D + f * (1 + D) ** 2
        return float(x * D)


@pytest.mark.parametrize("alpha,rho", [(1e-12, 0.5), (1e-14, 0.5), (5e-15, 1e-8)])
def test_small_alpha_mmse_vs_mpmath(alpha, rho):
    """Previously 1.2 % wrong at alpha = 1e-12, 54 % at 1e-14 and 0.30 at rho=1e-8, alpha=5e-15."""
    ref = _mmse_ref_small_alpha(alpha, rho)
    ev = evaluate("aim.mmse", alpha=alpha, rho=rho, T=2)
    assert ev.success
    assert 1 - ev.value["mmse"] == pytest.approx(1 - ref, rel=1e-6)   # 1 - MMSE ~ K alpha
    assert ev.value["mmse"] <= 1.0


@pytest.mark.parametrize("rho", [1e-8, 1e-3, 0.5, 1.0, 7.0, 1e6])
def test_softmax_mmse_is_monotone_down_to_tiny_alpha(rho):
    a = np.geomspace(1e-320, 0.9 * se.alpha_pr(rho, 2), 500)
    r = se.se_softmax(a, rho, 2)
    assert np.all(r.success) and np.all(np.diff(r.mmse) <= 0) and r.mmse.max() <= 1.0


def test_hardmax_paper_huge_rho_is_monotone_and_a_fixed_point_of_the_mpmath_map():
    """channel=hardmax variant=paper rho=1e6 alpha=1e-6 returned 0.979 (non-monotone); the
    value must satisfy V = mmse_rho(1/hat q(V)) with the 40-digit denoising error, to the
    solver's tolerance."""
    rho = 1e6
    alphas = np.geomspace(1e-8, 1e-3, 12)
    v = np.array([se.se_hardmax(a, rho, "paper").mmse for a in alphas])
    assert np.all(np.diff(v) < 0) and v.max() <= 1.0
    r = se.se_hardmax(1e-6, rho, "paper")
    qh = 2e-6 * se.hardmax_channel_info(1 + rho - r.mmse, r.mmse, "paper")
    # within the fixed point's absolute tolerance 1e-11 (its reported residual)
    assert r.success and r.mmse == pytest.approx(float(mmse_mp(1 / qh, rho)), abs=1e-11)
    assert abs(r.mmse - float(mmse_mp(1 / qh, rho))) <= 2 * r.residual + 1e-13


# ------------------------------------------------------------------ overflow, refusals, bounds
def test_alpha_pr_huge_rho():
    assert evaluate("aim.alpha_pr", rho=1e200, T=2).value == 0.25
    assert evaluate("aim.alpha_pr", rho=1e-300, T=2).value == pytest.approx(2e-300 / 4)


def test_gen_error_refuses_large_T_before_allocating():
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"T <= 64"):
        evaluate("aim.gen_error", alpha=0.1, rho=0.5, T=1000)
    with pytest.raises(ValueError, match=r"T <= 64"):
        se.gen_error(0.1, 0.5, 1000)
    assert time.perf_counter() - t0 < 5.0


def test_every_aim_result_declares_bounds():
    for r in results("aim"):
        assert r.bounds, r.id


def test_bounds_flag_a_violation():
    r = next(x for x in results("aim") if x.id == "aim.mmse")
    ev = r.wrap({"alpha": 0.1, "rho": 0.5, "T": 2, "channel": "softmax", "variant": "correct",
                 "Delta": None, "init": "uninformed"},
                {"mmse": 1.2, "delta": 1.0, "mmse_err": 0.0, "success": True, "status": 0,
                 "message": "", "nit": 1, "residual": 0.0})
    assert not ev.success and "mmse" in ev.info["message"]


@pytest.mark.parametrize("rho", [0.1, 0.5, 0.9, 0.99])
@pytest.mark.parametrize("delta", [1e-30, 1e-18, 1e-13])
def test_small_noise_denoising_error_below_the_quadrature_resolution(rho, delta):
    """mmse_rho(Delta)/Delta -> 2 rho - rho^2 (rho < 1): the direct rule drifts below
    Delta rho ~ 1e-12 (it read 0.92 instead of 0.75 at rho = 1/2, Delta = 1e-18, marked
    converged); the small-noise form keeps the exact slope, with a reported error bound."""
    from icl_companion.numerics.aim_free_prob import denoising_mmse_record

    rec = denoising_mmse_record(delta, rho)
    s = 2 * rho - rho * rho
    assert rec["success"], rec["message"]
    # the first-order correction is at most |c| Delta with |c| < 200 at these rho (measured)
    assert rec["mmse"] / delta == pytest.approx(s, rel=200 * delta / s + 1e-12)


def test_small_noise_form_is_flagged_where_its_anchor_is_not_linear():
    from icl_companion.numerics.aim_free_prob import denoising_mmse_record

    assert not denoising_mmse_record(1e-16, 1e-6)["success"]
    assert not denoising_mmse_record(1e-16, 1 - 1e-6)["success"]


def test_catalogue_domains_refuse_rho_and_T_beyond_the_double_range():
    from icl_companion.cli import main

    for argv in (["aim.denoising_mmse", "rho=1e-300", "delta=1"], ["aim.transition", "rho=5e-324"],
                 ["aim.gen_error", "alpha=0.1", "rho=1e17", "T=2"],
                 ["aim.alpha_pr", "rho=0.5", "T=1e309"],
                 ["aim.denoising_mi", "rho=0.5", "delta=5e-324"]):
        assert main(["eval", *argv]) == 2, argv


def test_hardmax_se_reports_its_time_cap_instead_of_hanging(monkeypatch):
    from icl_companion.numerics import aim_se as se

    monkeypatch.setattr(se, "SE_TIME_LIMIT", 0.05)
    r = se.se_hardmax(0.5, 1e-10, "correct")
    assert not r.success and r.status == 3 and "time cap" in r.message
