"""Honest numerics at the edges of the linear, softmax, xattn and mmicl results (issue 16).

Each failing input of the issue is compared with an mpmath reference at 50+ digits computed here
from the defining formula (not from the code under test), so a regression to the old double
precision evaluation fails with the numbers it used to give.
"""

import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

from icl_companion.theory import linear as tl
from icl_companion.theory.closed_form import MAX_SECONDS, evaluate_interval
from icl_companion.theory.registry import evaluate, results


def _ridge_mp(xi, s2, dps=80):
    """sigma2 + sigma2 xi m(-sigma2 xi), Marchenko-Pastur, at ``dps`` digits."""
    with mp.workdps(dps):
        xi, s2 = mp.mpf(xi), mp.mpf(s2)
        c = s2 - 1 + 1 / xi
        return s2 + (mp.sqrt(c * c + 4 * s2) - c) / 2


@pytest.mark.parametrize("xi", [1e-8, 1e-16, 1e-100, 1e-300])
@pytest.mark.parametrize("rid", ["linear.ridge_bayes_risk_asym", "softmax.bayes_risk"])
def test_ridge_risk_never_below_noise_floor_at_small_xi(rid, xi):
    """0.0999999972 < sigma2 at xi = 1e-8 and 0 at xi <= 1e-16 before."""
    ev = evaluate(rid, xi=xi, sigma2=0.1)
    ref = _ridge_mp(xi, 0.1, dps=700)
    assert ev.success and ev.value >= 0.1
    assert ev.value == pytest.approx(float(ref), rel=4e-16, abs=0)


@pytest.mark.parametrize("xi,s2", [(1e200, 0.1), (1.7e308, 0.1), (0.5, 1e200), (1.0, 0.0),
                                   (5e-324, 0.1)])
def test_ridge_risk_extreme_inputs(xi, s2):
    ev = evaluate("linear.ridge_bayes_risk_asym", xi=xi, sigma2=s2)
    assert ev.success and ev.value == pytest.approx(float(_ridge_mp(xi, s2, dps=800)), rel=4e-16)


def test_ratio_bound_holds_at_small_xi():
    """The theorem was reported violated (holds=False) at xi = 1e-8 by the cancellation."""
    for xi in (1e-8, 1e-12, 1e-300):
        v = evaluate("softmax.ratio_bound", xi=xi, sigma2=0.1)
        assert v.success and v.value["holds"], (xi, v.value)
        with mp.workdps(700):
            dgd = 0.1 + mp.mpf(xi) * mp.mpf(1.1) / (1 + mp.mpf(xi) * mp.mpf(1.1))
            ratio = dgd / _ridge_mp(xi, 0.1, dps=700)
        assert v.value["ratio"] == pytest.approx(float(ratio), rel=4e-16)


def test_dgd_risk_at_L_1_is_exact():
    """At L = 1 the debiased predictor is 0: the risk is 1 + sigma2 for any step (was 0)."""
    ev = evaluate("softmax.dgd_risk", d=10**6, L=1, sigma2=0.1, eta=1e6)
    assert ev.value == 1.1
    # and away from L = 1, against the formula at 60 digits
    with mp.workdps(60):
        d, L, s2, eta = 10**6, 3, mp.mpf(0.1), mp.mpf(1e6)
        ref = 1 + s2 - 2 * eta * (1 - mp.mpf(1) / L) + eta**2 * (1 - mp.mpf(1) / L) * (
            1 + d * (1 + s2) / L)
    assert evaluate("softmax.dgd_risk", d=10**6, L=3, sigma2=0.1, eta=1e6).value == \
        pytest.approx(float(ref), rel=4e-16)


def test_value_beyond_double_range_is_a_clear_error():
    with pytest.raises(ValueError, match=r"linear.gd_risk: the exact value is about 1.16e\+400"):
        evaluate("linear.gd_risk", d=5, L=40, sigma2=0.1, eta=1e200)


@pytest.mark.parametrize("rho", [0.999999999999, -0.999999999999, 0.9999])
def test_preconditioner_symmetric_and_accurate_near_unit_correlation(rho):
    d, L, s2 = 5, 40, 0.1
    G = np.asarray(evaluate("softmax.preconditioner", d=d, L=L, sigma2=s2, rho=rho).value)
    assert np.array_equal(G, G.T)
    with mp.workdps(60):
        S = mp.matrix(d, d)
        for i in range(d):
            for j in range(d):
                S[i, j] = mp.mpf(rho) ** abs(i - j)
        M = (1 + mp.mpf(1) / L) * S + (d + mp.mpf(s2) * d) / L * mp.eye(d)
        ref = np.array((M ** -1).tolist(), dtype=float)
    assert np.max(np.abs(G - ref)) <= 1e-13 * np.max(np.abs(ref))  # was 8e-3 at 1 - 1e-12


def test_preconditioner_refuses_huge_d_and_flags_ill_conditioning():
    with pytest.raises(ValueError, match=r"d = 257 is outside the allowed domain"):
        evaluate("softmax.preconditioner", d=257, L=40, sigma2=0.1, rho=0.5)
    ev = evaluate("softmax.preconditioner", d=3, L=10**12, sigma2=0.1, rho=0.9999999)
    assert not ev.success and "ill-conditioned" in ev.info["message"]


@pytest.mark.parametrize("gamma", [1e-200, 1e-8, 0.3, 30.0, 1e200])
def test_profile_loss_and_mu_gamma_at_extreme_gamma(gamma):
    """profile_loss at gamma = 1e-200 was nan (0/0 in double precision)."""
    d, L, s2 = 5, 40, 0.1
    with mp.workdps(120):
        g, c = mp.mpf(gamma), (1 + mp.mpf(s2)) / L
        if gamma < 1e-100:  # sinh(d g^2) = d g^2 (1 + O(g^4)): the limit form, exact to 1e-400
            loss = 1 + mp.mpf(s2) - 1 / (1 + c * d)
            mu = (g / 2) / (g * g * (1 + c * d))
        else:
            den = g * g + c * mp.sinh(d * g * g)
            loss, mu = 1 + mp.mpf(s2) - g * g / den, (g / 2) / den
    assert evaluate("softmax.profile_loss", d=d, L=L, sigma2=s2, gamma=gamma).value == \
        pytest.approx(float(loss), rel=4e-16)
    if gamma > 1e-300:
        assert evaluate("softmax.mu_gamma", d=d, L=L, sigma2=s2, gamma=gamma).value == \
            pytest.approx(float(mu), rel=4e-16, abs=1e-300)


def test_single_head_optimum_huge_d():
    """d = 1e20 raised TypeError (numpy sqrt of a Python int beyond int64)."""
    v = evaluate("softmax.single_head_optimum", d=10**20, L=3, sigma2=0.1).value
    with mp.workdps(50):
        mu = mp.sqrt(10**20) / (1 + mp.mpf(1.1) * mp.e * 10**20 / 3)
    assert v["omega"] == 1e-10 and v["mu"] == pytest.approx(float(mu), rel=4e-16)


def test_approx_loss_certified_or_refused():
    # cancellation: mu omega = 1 exactly, quadratic form 1e20-sized terms
    ev = evaluate("softmax.approx_loss", d=5, L=32, sigma2=0.1, omega=[1e-10, -1e-10],
                  mu=[1e10, -1e10])
    with mp.workdps(80):
        w, m, c = mp.mpf(1e-10), mp.mpf(1e10), mp.mpf(1.1) / 32
        quad = 2 * m * m * (w * w + c * mp.exp(5 * w * w)) - 2 * m * m * (-w * w + c * mp.exp(-5 * w * w))
        ref = 1 + mp.mpf(0.1) - 4 * m * w + quad
    assert ev.success and ev.value == pytest.approx(float(ref), rel=1e-15)
    # equal omegas with opposite mu: exactly 1 + sigma2 even though exp(d omega^2) is 10^(10^617)
    assert evaluate("softmax.approx_loss", d=5, L=32, sigma2=0.1, omega=[1e308, 1e308],
                    mu=[3, -3]).value == 1.1
    with pytest.raises(ValueError, match="beyond the double-precision range"):
        evaluate("softmax.approx_loss", d=5, L=32, sigma2=0.1, omega=[100, -100], mu=[3, -3])


def test_mu_star_refuses_exp_overflow_before_lapack(capfd):
    """LAPACK printed '** On entry to DLASCL ...' on stdout for an overflowing exp matrix."""
    with pytest.raises(ValueError, match=r"softmax.mu_star: d \* max\(omega\)\^2 = 5e\+04"):
        evaluate("softmax.mu_star", d=5, L=32, sigma2=0.1, omega=[100, -100])
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    ev = evaluate("softmax.mu_star", d=5, L=40, sigma2=0.1, omega=[0.1, -0.1])
    assert ev.success and ev.info["residual"] < 1e-14


def test_zfb_ratio_form_identity_and_extremes():
    assert sp.simplify(tl.zfb_term_expr() - tl.zfb_term_ratio_form()) == 0
    with mp.workdps(50):
        def term(lam, T, N, M):
            lam, T, N, M = map(mp.mpf, (lam, T, N, M))
            return lam * (T + lam) * (M * T + M * lam + N**2 * lam) / (M * (N * lam + T + lam)**2)

        for lams, N, M in [([1e-200, 1e200], 10**308, 1), ([1e-200], 8, 1), ([1e200], 8, 3),
                           ([1.0, 2.0], 10**300, 10**300)]:
            T = sum(mp.mpf(x) for x in lams)
            ref = float(sum(term(x, T, N, M) for x in lams))
            got = evaluate("linear.lsa_zfb_risk", lambdas=lams, N=N, M=M)
            assert got.success and got.value == pytest.approx(ref, rel=1e-14), (lams, N, M)


def test_layers_needed_when_rho_rounds_to_one():
    """m_hi = 1e17 m_lo: rho* is 1.0 in double precision (ZeroDivisionError before)."""
    T = evaluate("xattn.layers_needed", m_lo=1, m_hi=1e17, eps=0.1).value
    with mp.workdps(60):
        delta = 2 * (1 + mp.mpf(1)) / (2 + 1 + mp.mpf(1e17))
        x = mp.log(mp.mpf(0.1)) / mp.log(1 - delta)  # 57564627324851141.29
        ref = int(mp.ceil(x * (1 - mp.mpf(2) ** -50)))  # the documented rounding guard
    assert T == ref and abs(T - x) < 60  # the input m_hi = 1e17 is itself known to +-8
    with pytest.raises(ValueError, match="beyond the double-precision range"):
        evaluate("xattn.layers_needed", m_lo=1, m_hi=1e308, eps=1e-300)


def test_alpha_T_extremes_stay_in_range():
    a = evaluate("xattn.alpha_T", lambda1=1, lambda2=2, w1=0.5, w2=1.7e308, T=2)
    assert a.success and 0.5 <= a.value <= 1
    big = evaluate("xattn.alpha_T", lambda1=1, lambda2=2, w1=0.5, w2=0.5, T=10**308)
    assert big.value == pytest.approx(2 / 3, rel=1e-15)  # T -> inf: 2/(lambda1 + lambda2)


def test_mmicl_uniform_closed_forms_match_the_sums():
    from icl_companion.numerics import mmicl_data as md
    from icl_companion.theory.mmicl import distinct_label_accuracy, distinct_label_law_float

    for K, N in [(64, 8), (4, 2), (1, 5)]:
        P = np.full(K, 1 / K)
        r = float(np.sum(P * -np.expm1(N * np.log1p(-P)))) if K > 1 else 1.0
        assert md.p_query_in_context(K, N, 0.0, 0, 1.0, 0.0)["nonbursty"] == \
            pytest.approx(r, rel=1e-14)
    for K_c, L in [(128, 32), (100, 32), (7, 3)]:
        counts = np.bincount(np.arange(K_c) % L, minlength=L)
        assert md._sum_sq_novel_labels(K_c, L) == pytest.approx(np.sum((counts / K_c) ** 2),
                                                                rel=1e-14)
    for L, m in [(3, 2), (32, 100), (5, 40)]:
        p = distinct_label_law_float(L, m)
        assert np.sum(p[1:] / np.arange(1, p.size)) == \
            pytest.approx(float(distinct_label_accuracy(L, m)), rel=1e-13)
    # K = 1e9 used 7.9 GB before; uniform classes need no array, Zipf ones are refused
    v = evaluate("mmicl.p_query_in_context", K=10**9, N=8).value
    assert v["nonbursty"] == pytest.approx(-math.expm1(8 * math.log1p(-1e-9)), rel=1e-15)
    with pytest.raises(ValueError, match="exceeds the limit 1e\\+07"):
        evaluate("mmicl.p_query_in_context", K=10**9, N=8, alpha=1.0)


def test_random_guess_cla_tiny_probability():
    """1 - (1 - 1/L)^(N/B) with L = 1e17 was 0 in double precision."""
    v = evaluate("mmicl.random_guess_cla", L=10**17, N=8, B=2).value
    with mp.workdps(60):
        ref = 1 - (1 - mp.mpf(1) / 10**17) ** 4
    assert v == pytest.approx(float(ref), rel=4e-16)


def test_reduced_flow_tiny_time_and_caps():
    """t_max <= 1e-160 hung in LSODA; a stiff flow stops at the evaluation cap, reported."""
    from icl_companion.numerics.softmax_reduced import integrate_reduced_ode

    ev = evaluate("softmax.reduced_flow", d=5, L=32, sigma2=0.1, omega0=[0.01, -0.01],
                  mu0=[0.01, -0.01], t_max=1e-160)
    assert ev.success and ev.value["omega"] == [0.01, -0.01]
    r = integrate_reduced_ode(5, 32, 0.1, [0.01, -0.01], [0.01, -0.01], 50.0, n_eval=2,
                              max_rhs_evals=5)
    assert not r.success and r.status == 1 and "iteration cap" in r.message
    r = integrate_reduced_ode(5, 32, 0.1, [0.01, -0.01], [0.01, -0.01], 50.0, n_eval=2,
                              max_seconds=0.0)
    assert not r.success and r.status == 3 and "time cap" in r.message


def test_reduced_risk_refuses_beyond_work_limit():
    with pytest.raises(ValueError, match="exceed the Monte Carlo limits"):
        evaluate("softmax.reduced_risk", d=1000, L=32, sigma2=0.1, omega=[0.1, -0.1],
                 mu=[3, -3])


def test_every_closed_form_compiles_for_interval_arithmetic():
    """Each result evaluated by interval arithmetic calls only functions that round outwards
    (an expression needing another function would fail here, not in a user's hands)."""
    from icl_companion.theory import closed_form

    n = 0
    for r in results():
        if getattr(r.func, "__qualname__", "").startswith("closed_form_func"):
            n += 1
            args = {p.name: _typical(p) for p in r.params}
            try:
                inputs = r.validate(args)
            except ValueError:
                continue
            ev = r.evaluate(**inputs)
            assert ev.success, (r.id, ev.info)
    assert n == 19 and closed_form.MAX_DPS >= 1000  # linear 3, softmax 11, xattn 2, mmicl 3


def _typical(p):
    if p.kind == "integer":
        return max(2, int(p.domain.lo)) if p.domain.lo > -math.inf else 3
    return 0.5 if 0.5 in p.domain else float(p.domain.lo) + 1


def test_interval_evaluation_caps_time_and_reports(monkeypatch):
    f = lambda x: x - x + 1  # noqa: E731 - the dependency problem: never narrows for huge x
    import itertools
    import time

    from mpmath import iv

    big = lambda x: iv.exp(x) - iv.exp(x) + 1  # noqa: E731
    # a clock that advances 1 s per reading: the time cap is reached whatever the machine's
    # speed (with the real clock a fast machine reached the digit cap first, status 4)
    ticks = itertools.count()
    with monkeypatch.context() as m:
        m.setattr(time, "monotonic", lambda: float(next(ticks)))
        r = evaluate_interval(big, (1e300,), max_seconds=0.2)
    assert not r.success and r.status == 3 and "time cap 0.2 s reached" in r.message
    r = evaluate_interval(big, (1e300,), max_dps=200, max_seconds=1e9)  # the digit cap instead
    assert not r.success and r.status == 4 and "after 200 digits" in r.message
    assert evaluate_interval(f, (3.0,)).value == 1.0 and MAX_SECONDS > 0
