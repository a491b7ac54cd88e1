"""aim channels: one object for sampling, GAMP g_out and SE information (numerics.aim_channels).

References are independent of the code under test where possible: scipy.stats.multivariate_normal
and mpmath for the bivariate normal CDF; the extensive-width quadratic-network equation of Maillard
et al. (2024) solved in their own normalisation (their Stieltjes cubic, numpy.roots per point and
adaptive scipy quadrature); the closed-form SE paths against the generic quadrature path.
"""

import math

import mpmath as mp
import numpy as np
import pytest
from scipy import integrate, optimize
from scipy.stats import multivariate_normal

import icl_companion.numerics.aim_channels as ch
import icl_companion.numerics.aim_se as se
from icl_companion.numerics.aim_data import sample_aim


# ------------------------------------------------------------------ bivariate normal CDF
@pytest.mark.parametrize("k1,k2,r", [(0.3, -0.2, 0.5), (1.0, 2.0, -1 / 3), (-1.5, 0.4, 1 / 3),
                                     (0.0, 0.0, 0.5), (2.5, -0.7, -0.8), (0.0, 1.2, 0.1)])
def test_bvn_cdf_vs_scipy(k1, k2, r):
    ref = multivariate_normal([0, 0], [[1, r], [r, 1]]).cdf([k1, k2])
    assert float(ch.bvn_cdf(k1, k2, r)) == pytest.approx(ref, rel=1e-7)


def _mp_bvn(h, k, r):
    """Phi_2 = int_0^inf phi(h - t) Phi((k - r (h - t))/s) dt, 40 digits, panels of 1/16."""
    with mp.workdps(40):
        s = mp.sqrt(1 - mp.mpf(r) ** 2)
        f = lambda t: mp.npdf(h - t) * mp.ncdf((k - r * (h - t)) / s)  # noqa: E731
        return mp.quad(f, [mp.mpf(i) / 16 for i in range(6 * 16 + 1)]) + mp.quad(f, [6, mp.inf])


@pytest.mark.parametrize("k1,k2,r", [(-9.0, -8.0, 1 / 3), (-6.0, 3.0, -1 / 3), (-12.0, -12.5, 0.5),
                                     (0.5, -0.3, 1 / 3)])
def test_log_bvn_cdf_vs_mpmath_in_the_tails(k1, k2, r):
    ref = float(mp.log(_mp_bvn(mp.mpf(k1), mp.mpf(k2), mp.mpf(r))))
    assert float(ch.log_bvn_cdf(k1, k2, r)) == pytest.approx(ref, rel=1e-10)


def test_one_bivariate_cdf_in_the_aim_code():
    """The GAMP and SE modules use the channel module's function (issue 12: merged)."""
    import icl_companion.numerics.aim_gamp as gamp

    assert gamp.log_bvn_cdf is ch.log_bvn_cdf
    assert not hasattr(se, "_bvn_cdf")


# ------------------------------------------------------------------ generic vs closed form
SOFTMAX_POINTS = [(0.02, 0.5, 2), (0.1, 0.5, 2), (0.03, 0.2, 3), (0.1, 2.0, 2), (0.015, 1.0, 3)]


@pytest.mark.parametrize("alpha,rho,T", SOFTMAX_POINTS)
def test_softmax_generic_se_matches_closed_form(alpha, rho, T):
    """The generic path (fixed point, information by tensor Gauss-Hermite of the channel's g_out)
    reproduces the scalar-equation fast path to 1e-8."""
    fast = se.se_softmax(alpha, rho, T)
    gen = se.se_channel(alpha, rho, ch.SoftmaxChannel(T), closed_form=False, tol=1e-14)
    assert fast.success and gen.success
    assert gen.mmse == pytest.approx(fast.mmse, abs=1e-8)


@pytest.mark.parametrize("q,V", [(1.0, 0.5), (0.2, 1.3), (1.4, 0.1)])
def test_softmax_generic_information_is_K_over_2V(q, V):
    for T in (2, 3):
        c = ch.SoftmaxChannel(T)
        est = ch.information_quadrature(c, q, V)
        assert est.value == pytest.approx(c.information(q, V), rel=1e-12)


HARDMAX_POINTS = [(0.6, 0.9), (1.0, 0.5), (1.2, 0.3), (0.3, 1.2), (1.3, 0.2)]


@pytest.mark.parametrize("variant", ["correct", "paper"])
def test_hardmax_fast_information_matches_generic(variant):
    """Ridge-split fast rule vs the plain 3-D Gauss-Hermite over omega with the sum over the 4
    outputs weighted by Z_out: both from the same g_out, to 1e-6 at five points."""
    c = ch.HardmaxChannel(variant)
    for q, V in HARDMAX_POINTS:
        gen = ch.information_quadrature(c, q, V, n=32).value
        assert c.information(q, V) == pytest.approx(gen, rel=1e-6), (q, V)


@pytest.mark.parametrize("variant", ["correct", "paper"])
@pytest.mark.parametrize("alpha", [0.1, pytest.param(0.2, marks=pytest.mark.slow),
                                   0.4, pytest.param(0.7, marks=pytest.mark.slow),
                                   pytest.param(1.0, marks=pytest.mark.slow)])
def test_hardmax_generic_se_matches_fast(alpha, variant):
    """The SE with the generic information (warm-started at the fast fixed point) stays there to
    1e-6: the fast point is a fixed point of the generic map."""
    fast = se.se_hardmax(alpha, 0.5, variant)
    gen = se.se_channel(alpha, 0.5, ch.HardmaxChannel(variant), closed_form=False,
                        warm=fast.mmse, tol=1e-9)
    assert fast.success and gen.success
    assert gen.mmse == pytest.approx(fast.mmse, abs=1e-6)


def test_linear_generic_matches_closed_form():
    """Identity channel: closed-form information 2/(2V + Delta) and the scalar SE against the
    user-channel machinery (g_out by quadrature) with g = identity."""
    for Delta in (0.3, 0.8):   # prior-centred inner rule: Delta not << 2V
        user = ch.GaussianNoiseChannel(lambda h: h, 1, Delta, name="identity")
        est = ch.information_quadrature(user, 1.0, 0.4, rule="tensor", n=20)
        assert est.value == pytest.approx(ch.LinearChannel(Delta).information(1.0, 0.4), rel=1e-6)
        fast = se.se_linear(0.3, 0.5, Delta)
        gen = se.se_channel(0.3, 0.5, ch.LinearChannel(Delta), closed_form=False, tol=1e-13)
        assert gen.mmse == pytest.approx(fast.mmse, abs=1e-8)


# ------------------------------------------------------------------ Maillard et al. 2024
def _maillard_err(alpha, kappa, Delta):
    """Extensive-width quadratic network (Maillard, Troiani, Martin, Krzakala, Zdeborova 2024) in
    their normalisation S_M = W W^T / r: q_hat solves (4 pi^2 / 3) int mu^3 / q_hat - Delta q_hat / 2
    = 1 - 2 alpha with mu the law of S_M + q_hat^(-1/2) GOE; error 2 alpha / q_hat - Delta / 2."""
    import sympy as sp

    from icl_companion.theory import aim

    a = 1.0 / kappa
    cubic = sp.Poly(aim.maillard_cubic().subs(aim.A, a), aim.G)
    cf = sp.lambdify((aim.Z, aim.DELTA), cubic.all_coeffs(), "numpy")
    disc = sp.Poly(sp.discriminant(cubic.as_expr(), aim.G), aim.Z)
    df = sp.lambdify(aim.DELTA, disc.all_coeffs(), "numpy")

    def cube(dl):
        ed = np.roots([float(c) for c in df(dl)])
        ed = np.sort(ed[np.abs(ed.imag) < 1e-8].real)
        dens = lambda x: max(abs(np.roots([complex(c) for c in cf(x, dl)]).imag)) / math.pi
        pairs = [(ed[0], ed[1])] if ed.size == 2 else [(ed[0], ed[1]), (ed[2], ed[3])]
        return sum(integrate.quad(lambda x: dens(x) ** 3, lo, hi, epsabs=1e-13, epsrel=1e-12,
                                  limit=200)[0] for lo, hi in pairs)

    f = lambda lq: (4 * math.pi**2 / 3) * cube(math.exp(-lq)) / math.exp(lq) \
        - Delta * math.exp(lq) / 2 - (1 - 2 * alpha)
    lq = optimize.brentq(f, math.log(1e-3), math.log(1e4), xtol=1e-13)
    return 2 * alpha / math.exp(lq) - Delta / 2


@pytest.mark.parametrize("alpha,Delta", [(0.1, 0.0), (0.3, 0.0), (0.2, 0.1), (0.6, 0.5)])
def test_linear_se_reproduces_maillard_et_al(alpha, Delta):
    """SE of channel=linear = rho x err_Maillard(alpha_M, kappa = rho, Delta_M) through
    theory.aim.maillard_mapping (noiseless and noisy, two points each)."""
    from icl_companion.theory import aim

    rho = 0.5
    m = aim.maillard_mapping()
    sub = {aim.ALPHA: alpha, aim.RHO: rho, aim.DELTA_OUT: Delta, aim.T_: 1}
    alpha_M = float((m["K1"] * aim.ALPHA / 2).subs(sub))    # identity: K1/2 = 1 direction
    ref = float(m["error_factor"].subs(sub)) * _maillard_err(
        alpha_M, rho, float(m["delta_M"].subs(sub)))
    r = se.se_linear(alpha, rho, Delta)
    assert r.success and r.mmse == pytest.approx(ref, rel=1e-8)
    ev = se.se_channel(alpha, rho, ch.make_channel("linear", 1, Delta=Delta))
    assert ev.mmse == pytest.approx(ref, rel=1e-8)


# ------------------------------------------------------------------ noisy softmax
def test_noisy_softmax_tends_to_noiseless_se():
    """Delta -> 0: the noisy-softmax SE approaches the noiseless one from above, monotonically;
    measured gaps 0.358, 0.151, 0.037 at Delta = 0.1, 0.01, 0.001 (alpha = 0.1, rho = 0.5): a
    slow approach (local exponent log(gap ratio)/log 10 = 0.38, then 0.61), the saturated
    softmax entries carrying little information at small noise."""
    alpha, rho = 0.1, 0.5
    clean = se.se_softmax(alpha, rho, 2).mmse
    deltas = [0.1, 0.01, 0.001]
    vals = [se.se_channel(alpha, rho, ch.SoftmaxNoisyChannel(D)) for D in deltas]
    assert all(v.success for v in vals)
    gaps = np.array([v.mmse for v in vals]) - clean
    errs = np.array([v.mmse_err for v in vals])
    assert np.all(gaps > errs) and np.all(np.diff(gaps) < 0)
    exps = np.log(gaps[:-1] / gaps[1:]) / math.log(10.0)
    assert exps[1] > exps[0] > 0.3, exps           # the approach accelerates
    assert gaps[-1] < 0.05


def test_user_channel_matches_noisy_softmax_reduction():
    """A user channel g = softmax_beta with noise (10-dim generic quadrature) has the same SE
    information as the exact 2-D reduction of SoftmaxNoisyChannel, within their error bars."""
    beta, Delta = 2.0, 0.1
    user = ch.GaussianNoiseChannel(lambda h: ch.SoftmaxChannel(2, beta).output(h), 2, Delta,
                                   name="softmax_beta2", n_inner=10)
    red = ch.SoftmaxNoisyChannel(Delta, beta=beta)
    a = ch.information_quadrature(user, 1.0, 0.5, rule="rqmc")
    b = red.information_estimate(1.0, 0.5, log2=12)
    assert a.value == pytest.approx(b.value, abs=4 * math.hypot(a.stderr, b.stderr) + 5e-3 * b.value)


@pytest.mark.parametrize("chan", [ch.LinearChannel(0.2), ch.SoftmaxNoisyChannel(0.1),
                                  ch.GaussianNoiseChannel(np.tanh, 1, 0.1)])
def test_gout_nishimori_identity(chan):
    """For a Bayes channel E[d g_ab/d omega_ab] = -E[g_ab^2] (per coordinate), with the generic
    finite-difference derivative or the closed form; sampled at omega ~ N(0, c q)."""
    rng = np.random.default_rng(3)
    T, q, V, n = chan.T, 0.8, 0.5, 4000
    c = ch.c_matrix(T)
    om = rng.standard_normal((n, T, T)) * np.sqrt(c * q)
    om = np.triu(om) + np.swapaxes(np.triu(om, 1), 1, 2)
    h = om + np.triu(rng.standard_normal((n, T, T)) * np.sqrt(c * V))
    h = np.triu(h) + np.swapaxes(np.triu(h, 1), 1, 2)
    y = chan.sample(h, rng)
    g = chan.gout(y, om, V)
    dg = chan.gout_deriv(y, om, V)
    for a, b in zip(*ch.upper(T)):
        x = dg[:, a, b] + g[:, a, b] ** 2
        assert abs(x.mean()) < 4 * x.std() / math.sqrt(n) + 1e-9, (a, b)


def test_softmax_gout_deriv_closed_form_vs_finite_differences():
    c = ch.SoftmaxChannel(3)
    rng = np.random.default_rng(0)
    h = rng.standard_normal((5, 3, 3))
    h = h + np.swapaxes(h, 1, 2)
    om = 0.5 * h + 0.1
    y = c.output(h)
    fd = ch.Channel.gout_deriv(c, y, om, 0.7)
    assert np.allclose(c.gout_deriv(y, om, 0.7), fd, atol=1e-7)


# ------------------------------------------------------------------ sampling, GAMP, GD take a channel
def test_sampler_gamp_and_gd_take_a_channel():
    from icl_companion.numerics.aim_gamp import gamp_rie
    from icl_companion.numerics.aim_gd import loss_and_grad

    c = ch.SoftmaxChannel(2)
    D1 = sample_aim(np.random.default_rng(1), 20, 0.5, 2, alpha=0.2, channel=c)
    D2 = sample_aim(np.random.default_rng(1), 20, 0.5, 2, alpha=0.2, channel="softmax")
    assert np.array_equal(D1.y, D2.y)          # same data by name and by object
    g1 = gamp_rie(D1.X, D1.y, 0.5, channel=c, max_iter=3, track_se=False)
    g2 = gamp_rie(D1.X, D1.y, 0.5, channel="softmax", max_iter=3, track_se=False)
    assert np.allclose(g1.S_hat, g2.S_hat)
    W = np.random.default_rng(2).standard_normal((20, 10))
    l1, gr1 = loss_and_grad(W, D1.X, D1.y, channel=c)
    l2, gr2 = loss_and_grad(W, D1.X, D1.y)
    assert l1 == l2 and np.allclose(gr1, gr2)
    noisy = sample_aim(np.random.default_rng(1), 20, 0.5, 2, alpha=0.2,
                       channel=ch.SoftmaxNoisyChannel(0.01))
    assert np.allclose(noisy.X, D1.X) and 0 < np.std(noisy.y - D1.y) < 0.2
    with pytest.raises(ValueError, match="differentiable"):
        loss_and_grad(W, D1.X, D1.y, channel=ch.HardmaxChannel())


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("make,needle", [
    (lambda: ch.make_channel("relu"), "channel"),
    (lambda: ch.make_channel("softmax_noisy", 2), "Delta is missing"),
    (lambda: ch.make_channel("softmax_noisy", 2, Delta=-0.1), "Delta"),
    (lambda: ch.make_channel("linear", 1, Delta=-1.0), "channel linear: Delta"),
    (lambda: ch.make_channel("linear", 2), "channel linear: T = 2"),
    (lambda: ch.make_channel("softmax_noisy", 3, Delta=0.1), "softmax_noisy: T = 3"),
    (lambda: ch.make_channel("softmax", 2, Delta=0.1), "noiseless"),
    (lambda: ch.GaussianNoiseChannel(lambda h: h[:, 0], 2, 0.1, name="bad"), "bad: g returned shape"),
    (lambda: ch.GaussianNoiseChannel(lambda h: h / 0.0, 1, 0.1, name="nan"), "non-finite"),
    (lambda: ch.GaussianNoiseChannel(lambda h: 1 / 0, 1, 0.1, name="boom"), "ZeroDivisionError"),
    (lambda: ch.GaussianNoiseChannel(np.tanh, 3, 0.1, name="big"), "big: T = 3"),
    (lambda: ch.GaussianNoiseChannel(np.tanh, 1, 0.0, name="clean"), "clean: Delta"),
])
def test_bad_channels_name_channel_and_problem(make, needle):
    with np.errstate(all="ignore"), pytest.raises(ValueError, match=needle):
        make()


@pytest.mark.parametrize("args,needle", [
    (["aim.mmse", "alpha=0.1", "rho=0.5", "T=2", "channel=relu"], "channel"),
    (["aim.mmse", "alpha=0.1", "rho=0.5", "T=2", "channel=softmax_noisy"], "Delta is missing"),
    (["aim.mmse", "alpha=0.1", "rho=0.5", "T=2", "channel=softmax_noisy", "Delta=-1"], "Delta"),
    (["aim.mmse", "alpha=0.1", "rho=0.5", "T=3", "channel=softmax_noisy", "Delta=0.1"], "T = 3"),
    (["aim.mmse", "alpha=0.1", "rho=0.5", "T=2", "channel=linear"], "channel linear: T = 2"),
    (["aim.mmse", "alpha=0.1", "rho=0.5", "T=1"], "channel softmax: T = 1"),
    (["aim.gen_error", "alpha=0.1", "rho=0.5", "T=1000"], "T <= 64"),
    (["aim.gen_error", "alpha=0.1", "rho=0.5", "T=2", "channel=softmax", "Delta=0.2"],
     "noiseless"),
])
def test_cli_channel_errors_one_line_exit_2(iclc, args, needle):
    p = iclc("eval", *args)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], lines


def test_catalogue_new_channels():
    from icl_companion.theory.registry import evaluate

    ev = evaluate("aim.mmse", alpha=0.2, rho=0.5, T=1, channel="linear", Delta=0.1)
    assert ev.success and ev.value["mmse"] == pytest.approx(se.se_linear(0.2, 0.5, 0.1).mmse)
    ev = evaluate("aim.gen_error", alpha=0.2, rho=0.5, T=1, channel="linear", Delta=0.1)
    assert ev.value["gen_error"] == pytest.approx(2 * ev.value["mmse"] + 0.1)
    ev = evaluate("aim.mmse", alpha=0.1, rho=0.5, T=2, channel="softmax", init="informed")
    assert ev.value["mmse"] == pytest.approx(se.se_softmax(0.1, 0.5, 2).mmse, abs=1e-8)


# ------------------------------------------------------------------ SE vs GAMP-RIE
@pytest.mark.slow
def test_se_vs_gamp_channels_full():
    """Full ``aim.se_vs_gamp_channels``: d = 60 (and 30), 8 teachers, three alphas per channel."""
    from icl_companion.validation.aim_channels import channel_comparisons

    out = channel_comparisons(False, 0)
    assert out.ok(), [c for c in out.comparisons if not c.passed]


def test_se_vs_gamp_channels_can_fail():
    """The comparison fails against an SE 3x off (one channel, one alpha, quick sizes, where the
    measured allowance is ~0.06 on an MMSE of 0.09)."""
    from icl_companion.validation import aim_channels as vc

    cases = {"linear": (ch.LinearChannel(0.1), (0.5,))}
    good = vc.channel_comparisons(True, 0, cases)
    assert good.ok()
    orig = vc.se_channel

    def off(alpha, rho, chan, **kw):
        r = orig(alpha, rho, chan, **kw)
        r["mmse"] = 3.0 * r["mmse"]
        return r

    import unittest.mock as um

    with um.patch.object(vc, "se_channel", off):
        assert not vc.channel_comparisons(True, 0, cases).ok()
