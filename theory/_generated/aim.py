"""Generated outputs of the derivations of paper ``aim``: do not edit.

Written by ``python -m icl_companion.theory.precompute`` from the modules listed in the SOURCES
below (SymPy 1.14.0); :mod:`icl_companion.theory.precompute` explains what is here and when it is
used.  ``tests/test_precompute.py`` re-derives everything and compares.
"""
# flake8: noqa
# ruff: noqa
import math

import mpmath

inf = math.inf
SYMPY = '1.14.0'
DERIVATION_SOURCES = {'icl_companion.theory.aim': '04c30ca1a472af75992a45ff8b204f2d2958c8faaa68cfbabfcef7d9b737b6e7', 'icl_companion.theory.aim_multilayer': '770d03509cb90ed186494bc15d798c68687eccdecf635466a968c3088b8ae8b1', 'icl_companion.theory.linear': '392038d580ee82dbddd60d20ffcec77ee29fe81e05e099cac3538a4c417849cf', 'icl_companion.theory.precompute': '213bb11cf15fced1f68f2f1468bd6bd1c1a9ecfe0115de357a96a19a3860c025'}
CATALOGUE_SOURCES = {'icl_companion.numerics.aim_channels': '730e9ddee216f66d227709ac1e6584355f01f455f43ab60f73212099a2bfacb0', 'icl_companion.numerics.aim_data': '660ac6bc341c99209d93844bd4f8a28965546b1a61dc752bfcb0465ae680e8ce', 'icl_companion.numerics.aim_free_prob': '92f46580a09b9cebff476a75325e0e8634c39a012c5534310e9df5b8eed5c708', 'icl_companion.numerics.aim_gamp': '6ca458b2ee7af4a4f8420f8103d2ab2dae5acff376005b48cd198f5f04686a22', 'icl_companion.numerics.aim_gd': '4da6de777cf300dff53aa514a59d45e343d9e242bc1c136f1e419098eb3d747d', 'icl_companion.numerics.aim_multilayer': 'c0378ca2709c7eece1d549576f6ddff0bcdde58cca1296328ecd24f8662be230', 'icl_companion.numerics.aim_multilayer_channel': '7af39f539669fb4979845e8f3a196425dc5c79ee5b382961e5bf55904f881048', 'icl_companion.numerics.aim_multilayer_gamp': '2bfe31f0a42bcb7d4f6781a47fa39056093fe9c6c217a9a121c0a71b4bc1514e', 'icl_companion.numerics.aim_multilayer_gd': '3c48ee09baddd3978c515de2ae0a6fe49d452b92cb3e46ec7005ab258fb28df7', 'icl_companion.numerics.aim_multilayer_se': '7d456fa9019355a1c03008bf4a83c3dd59f860a476d9132d936292bbfe45ceac', 'icl_companion.numerics.aim_se': '28137a800f4ae7e6e2f9e2fdb03a6948603200dfe5ce2339d73088825321c79a', 'icl_companion.theory.aim': '04c30ca1a472af75992a45ff8b204f2d2958c8faaa68cfbabfcef7d9b737b6e7', 'icl_companion.theory.aim_multilayer': '770d03509cb90ed186494bc15d798c68687eccdecf635466a968c3088b8ae8b1', 'icl_companion.theory.linear': '392038d580ee82dbddd60d20ffcec77ee29fe81e05e099cac3538a4c417849cf'}
INDEX = {
    'aim.alpha_pr': ('icl_companion.theory.aim', 'asymptotic', 'Perfect-recovery threshold alpha_PR(rho, T) = (2 rho - rho^2)/(T^2+T-2), 1/(T^2+T-2) if rho>=1'),
    'aim.alpha_pr_multilayer': ('icl_companion.theory.aim_multilayer', 'asymptotic', 'Two-layer AIM perfect-recovery threshold (slope(rho1) + slope(rho2))/(T^2+T-2), both layers'),
    'aim.bbp_mmse': ('icl_companion.theory.aim', 'asymptotic', 'rho -> 0 denoising error per spike, Db (2 - Db) for Db = rho Delta < 1, else 1'),
    'aim.denoising_mi': ('icl_companion.numerics.aim_se', 'numerical', 'Mutual information I_rho(Delta) per d^2 of the matrix-denoising channel'),
    'aim.denoising_mmse': ('icl_companion.numerics.aim_se', 'numerical', 'Matrix-denoising MMSE of S = WW^T/sqrt(rd) from S + sqrt(Delta) GOE (free probability)'),
    'aim.gen_error': ('icl_companion.numerics.aim_se', 'numerical', 'Bayes-optimal test error E||y - E[y|data]||_F^2 per sample at the SE fixed point'),
    'aim.mmse': ('icl_companion.numerics.aim_se', 'numerical', 'Bayes-optimal estimation error (1/d)||S_hat - S||^2 from state evolution (1 at alpha=0)'),
    'aim.mmse_bar': ('icl_companion.numerics.aim_se', 'numerical', 'Hardmax T=2 SE error at alpha = alpha_bar rho (alpha_bar = n/(d r)), for phase diagrams'),
    'aim.mmse_multilayer': ('icl_companion.numerics.aim_multilayer_se', 'numerical', 'Two-layer AIM: per-layer Bayes error (1/d)||S_hat_l - S_l||^2 from the decoupled state evolution with the joint output channel'),
    'aim.mmse_rho0': ('icl_companion.numerics.aim_se', 'numerical', 'Hardmax T=2 error in the rho -> 0 limit at fixed alpha_bar = n/(d r) (1 below alpha_bar_c)'),
    'aim.rho_inf_mmse': ('icl_companion.theory.aim', 'asymptotic', 'Softmax Bayes error for a GOE prior (rho = infinity line): 1 - (T^2+T-2) alpha, clipped at 0'),
    'aim.transition': ('icl_companion.numerics.aim_se', 'numerical', 'Order of the softmax perfect-recovery (or rho->0 hardmax weak-recovery) transition, measured: jump, one-sided slopes, hysteresis'),
    'aim.weak_recovery': ('icl_companion.numerics.aim_se', 'asymptotic', 'rho -> 0 hardmax weak-recovery threshold alpha_bar_c = 1/(2 E0) in n/(d r)'),
}
EVALUATORS = {
}


def _declarations():
    from icl_companion.theory.registry import (Bound, Interval, Param, Reference, REQUIRED, RiskBounds)

    return {
        'aim.alpha_pr': lambda: dict(summary='Perfect-recovery threshold alpha_PR(rho, T) = (2 rho - rho^2)/(T^2+T-2), 1/(T^2+T-2) if rho>=1', params=(Param('rho', 'real', Interval(0, inf, True, False), 'r/d', REQUIRED, 1), Param('T', 'integer', Interval(2, 1000000, False, False), 'sequence length', REQUIRED, 1), ), reference=Reference('aim', 'not numbered in the sources', 'docs/derivations/aim.md#perfect-recovery-threshold', ('Boncoraglio et al., code github.com/FabrizioBoncoraglio/BO_ExtensiveRankAttention, SE_softmax.py (alpha_max)', )), status='asymptotic', status_note='d -> inf, n = alpha d^2, r = rho d', outputs=('value', ), definition='', bounds={'value': (0.0, 0.25, )}),
        'aim.alpha_pr_multilayer': lambda: dict(summary='Two-layer AIM perfect-recovery threshold (slope(rho1) + slope(rho2))/(T^2+T-2), both layers', params=(Param('rho1', 'real', Interval(0, inf, True, False), 'r_1/d of the first (hidden) layer', REQUIRED, 1), Param('rho2', 'real', Interval(0, inf, True, False), 'r_2/d of the second (output) layer', REQUIRED, 1), Param('T', 'integer', Interval(2, inf, False, False), 'sequence length', REQUIRED, 1), ), reference=Reference('aim', 'Eqs. 4-5 (multilayer construction); state evolution derived here', 'docs/derivations/aim_multilayer.md#perfect-recovery', ()), status='asymptotic', status_note='d -> inf; decoupled SE (derived here, not in the paper), counting of constraints', outputs=('value', ), definition='', bounds={'value': (0.0, 0.5, )}),
        'aim.bbp_mmse': lambda: dict(summary='rho -> 0 denoising error per spike, Db (2 - Db) for Db = rho Delta < 1, else 1', params=(Param('Deltabar', 'real', Interval(0, inf, True, False), 'rho * Delta', REQUIRED, 1), ), reference=Reference('aim', 'not numbered in the sources', 'docs/derivations/aim.md#small-rank-limit', ('Boncoraglio et al., code github.com/FabrizioBoncoraglio/BO_ExtensiveRankAttention, SE_hardmax_rho=0.py', 'Baik, Ben Arous, Péché (2005), Ann. Probab. 33, 1643', )), status='asymptotic', status_note='rho -> 0 at fixed rho Delta', outputs=('value', ), definition='', bounds={'value': (0.0, 1.0, )}),
        'aim.rho_inf_mmse': lambda: dict(summary='Softmax Bayes error for a GOE prior (rho = infinity line): 1 - (T^2+T-2) alpha, clipped at 0', params=(Param('alpha', 'real', Interval(0, inf, False, False), 'n/d^2', REQUIRED, 1), Param('T', 'integer', Interval(2, 1000000, False, False), 'sequence length', REQUIRED, 1), ), reference=Reference('aim', 'not numbered in the sources', 'docs/derivations/aim.md#the-goe-prior-line', ()), status='asymptotic', status_note='d -> inf, then rho -> inf', outputs=('value', ), definition='', bounds={'value': (0.0, 1.0, )}),
    }


DECLARATIONS = _declarations()


def f_aim_alpha_pr(rho, T):
    import numpy
    return numpy.select([numpy.less(rho, 1),True], [rho*(2 - rho)/(T**2 + T - 2),(T**2 + T - 2)**(-1.0)], default=numpy.nan)


def mp_aim_alpha_pr(rho, T):
    return ((rho*(2 - rho)/(T**2 + T - 2)) if (rho < 1) else (1/(T**2 + T - 2)))


def f_aim_alpha_pr_multilayer(rho1, rho2, T):
    import numpy
    return numpy.select([numpy.logical_and.reduce((numpy.less(rho1, 1),numpy.less(rho2, 1))),numpy.less(rho1, 1),numpy.less(rho2, 1),True], [(-rho1*(rho1 - 2) - rho2*(rho2 - 2))/((T - 1)*(T + 2)),(-rho1*(rho1 - 2) + 1)/((T - 1)*(T + 2)),(-rho2*(rho2 - 2) + 1)/((T - 1)*(T + 2)),2/((T - 1)*(T + 2))], default=numpy.nan)


def mp_aim_alpha_pr_multilayer(rho1, rho2, T):
    return (((-rho1*(rho1 - 2) - rho2*(rho2 - 2))/((T - 1)*(T + 2))) if (rho1 < 1) and (rho2 < 1) else ((-rho1*(rho1 - 2) + 1)/((T - 1)*(T + 2))) if (rho1 < 1) else ((-rho2*(rho2 - 2) + 1)/((T - 1)*(T + 2))) if (rho2 < 1) else (2/((T - 1)*(T + 2))))


def f_aim_bbp_mmse(Deltabar):
    import numpy
    return numpy.select([numpy.less(Deltabar, 1),True], [-Deltabar*(Deltabar - 2),1], default=numpy.nan)


def mp_aim_bbp_mmse(Deltabar):
    return ((-Deltabar*(Deltabar - 2)) if (Deltabar < 1) else (1))


def f_aim_rho_inf_mmse(alpha, T):
    import numpy
    return numpy.select([numpy.less(alpha, 1/((T - 1)*(T + 2))),True], [-T**2*alpha - T*alpha + 2*alpha + 1,0], default=numpy.nan)


def mp_aim_rho_inf_mmse(alpha, T):
    return ((-T**2*alpha - T*alpha + 2*alpha + 1) if (alpha < 1/((T - 1)*(T + 2))) else (0))


def f_aim_cubic_coeffs(z, Delta, a):
    import numpy
    return [Delta*numpy.sqrt(a), -Delta - numpy.sqrt(a)*z, numpy.sqrt(a) + z - 1/numpy.sqrt(a), -1]


def f_aim_edge_quartic_coeffs(Delta, a):
    import numpy
    return [a, -2*Delta*numpy.sqrt(a) - 2*a**(3/2) - 2*numpy.sqrt(a), Delta**2 - 2*Delta*a + 8*Delta + a**2 - 2*a + 1, 8*Delta**2*numpy.sqrt(a) - 2*Delta**2/numpy.sqrt(a) + 8*Delta*a**(3/2) + 2*Delta*numpy.sqrt(a) - 10*Delta/numpy.sqrt(a), -4*Delta**3 - 8*Delta**2*a - 20*Delta**2 + Delta**2/a - 4*Delta*a**2 + 12*Delta*a - 12*Delta + 4*Delta/a]

FUNCTIONS = {
    'aim.alpha_pr': f_aim_alpha_pr,
    'aim.alpha_pr_multilayer': f_aim_alpha_pr_multilayer,
    'aim.bbp_mmse': f_aim_bbp_mmse,
    'aim.rho_inf_mmse': f_aim_rho_inf_mmse,
    'aim.cubic_coeffs': f_aim_cubic_coeffs,
    'aim.edge_quartic_coeffs': f_aim_edge_quartic_coeffs,
}

MPMATH = {
    'aim.alpha_pr': mp_aim_alpha_pr,
    'aim.alpha_pr_multilayer': mp_aim_alpha_pr_multilayer,
    'aim.bbp_mmse': mp_aim_bbp_mmse,
    'aim.rho_inf_mmse': mp_aim_rho_inf_mmse,
}

CONSTANTS = {
    'aim.hardmax_E0_correct': 1.2394318939806572,
    'aim.hardmax_E0_paper': 0.8876777064874719,
}

EXPRESSIONS = {
    'aim.alpha_pr': "Piecewise(ExprCondPair(Mul(Symbol('rho', positive=True), Add(Integer(2), Mul(Integer(-1), Symbol('rho', positive=True))), Pow(Add(Pow(Symbol('T', positive=True, integer=True), Integer(2)), Symbol('T', positive=True, integer=True), Integer(-2)), Integer(-1))), StrictLessThan(Symbol('rho', positive=True), Integer(1))), ExprCondPair(Pow(Add(Pow(Symbol('T', positive=True, integer=True), Integer(2)), Symbol('T', positive=True, integer=True), Integer(-2)), Integer(-1)), true))",
    'aim.alpha_pr_multilayer': "Piecewise(ExprCondPair(Mul(Pow(Add(Symbol('T', positive=True, integer=True), Integer(-1)), Integer(-1)), Pow(Add(Symbol('T', positive=True, integer=True), Integer(2)), Integer(-1)), Add(Mul(Integer(-1), Symbol('rho1', positive=True), Add(Symbol('rho1', positive=True), Integer(-2))), Mul(Integer(-1), Symbol('rho2', positive=True), Add(Symbol('rho2', positive=True), Integer(-2))))), And(StrictLessThan(Symbol('rho1', positive=True), Integer(1)), StrictLessThan(Symbol('rho2', positive=True), Integer(1)))), ExprCondPair(Mul(Pow(Add(Symbol('T', positive=True, integer=True), Integer(-1)), Integer(-1)), Pow(Add(Symbol('T', positive=True, integer=True), Integer(2)), Integer(-1)), Add(Mul(Integer(-1), Symbol('rho1', positive=True), Add(Symbol('rho1', positive=True), Integer(-2))), Integer(1))), StrictLessThan(Symbol('rho1', positive=True), Integer(1))), ExprCondPair(Mul(Pow(Add(Symbol('T', positive=True, integer=True), Integer(-1)), Integer(-1)), Pow(Add(Symbol('T', positive=True, integer=True), Integer(2)), Integer(-1)), Add(Mul(Integer(-1), Symbol('rho2', positive=True), Add(Symbol('rho2', positive=True), Integer(-2))), Integer(1))), StrictLessThan(Symbol('rho2', positive=True), Integer(1))), ExprCondPair(Mul(Integer(2), Pow(Add(Symbol('T', positive=True, integer=True), Integer(-1)), Integer(-1)), Pow(Add(Symbol('T', positive=True, integer=True), Integer(2)), Integer(-1))), true))",
    'aim.bbp_mmse': "Piecewise(ExprCondPair(Mul(Integer(-1), Symbol('Deltabar', positive=True), Add(Symbol('Deltabar', positive=True), Integer(-2))), StrictLessThan(Symbol('Deltabar', positive=True), Integer(1))), ExprCondPair(Integer(1), true))",
    'aim.rho_inf_mmse': "Piecewise(ExprCondPair(Add(Mul(Integer(-1), Pow(Symbol('T', positive=True, integer=True), Integer(2)), Symbol('alpha', nonnegative=True)), Mul(Integer(-1), Symbol('T', positive=True, integer=True), Symbol('alpha', nonnegative=True)), Mul(Integer(2), Symbol('alpha', nonnegative=True)), Integer(1)), StrictLessThan(Symbol('alpha', nonnegative=True), Mul(Pow(Add(Symbol('T', positive=True, integer=True), Integer(-1)), Integer(-1)), Pow(Add(Symbol('T', positive=True, integer=True), Integer(2)), Integer(-1))))), ExprCondPair(Integer(0), true))",
    'aim.weak_recovery': "Equality(Symbol('alphabar_c'), Mul(Rational(3, 8), Pow(Add(Mul(Integer(-1), Integer(2), asin(Rational(1, 3))), Mul(Integer(3), pi)), Integer(-1)), Add(Mul(Integer(-1), Integer(4), Pow(asin(Rational(1, 3)), Integer(2))), Pow(pi, Integer(2)))))",
    'aim.cubic_coeffs': "[Mul(Symbol('Delta', positive=True), Pow(Symbol('a', positive=True), Rational(1, 2))), Add(Mul(Integer(-1), Symbol('Delta', positive=True)), Mul(Integer(-1), Pow(Symbol('a', positive=True), Rational(1, 2)), Symbol('z'))), Add(Pow(Symbol('a', positive=True), Rational(1, 2)), Symbol('z'), Mul(Integer(-1), Pow(Symbol('a', positive=True), Rational(-1, 2)))), Integer(-1)]",
    'aim.edge_quartic_coeffs': "[Symbol('a', positive=True), Add(Mul(Integer(-1), Integer(2), Symbol('Delta', positive=True), Pow(Symbol('a', positive=True), Rational(1, 2))), Mul(Integer(-1), Integer(2), Pow(Symbol('a', positive=True), Rational(3, 2))), Mul(Integer(-1), Integer(2), Pow(Symbol('a', positive=True), Rational(1, 2)))), Add(Pow(Symbol('Delta', positive=True), Integer(2)), Mul(Integer(-1), Integer(2), Symbol('Delta', positive=True), Symbol('a', positive=True)), Mul(Integer(8), Symbol('Delta', positive=True)), Pow(Symbol('a', positive=True), Integer(2)), Mul(Integer(-1), Integer(2), Symbol('a', positive=True)), Integer(1)), Add(Mul(Integer(8), Pow(Symbol('Delta', positive=True), Integer(2)), Pow(Symbol('a', positive=True), Rational(1, 2))), Mul(Integer(-1), Integer(2), Pow(Symbol('Delta', positive=True), Integer(2)), Pow(Symbol('a', positive=True), Rational(-1, 2))), Mul(Integer(8), Symbol('Delta', positive=True), Pow(Symbol('a', positive=True), Rational(3, 2))), Mul(Integer(2), Symbol('Delta', positive=True), Pow(Symbol('a', positive=True), Rational(1, 2))), Mul(Integer(-1), Integer(10), Symbol('Delta', positive=True), Pow(Symbol('a', positive=True), Rational(-1, 2)))), Add(Mul(Integer(-1), Integer(4), Pow(Symbol('Delta', positive=True), Integer(3))), Mul(Integer(-1), Integer(8), Pow(Symbol('Delta', positive=True), Integer(2)), Symbol('a', positive=True)), Mul(Integer(-1), Integer(20), Pow(Symbol('Delta', positive=True), Integer(2))), Mul(Pow(Symbol('Delta', positive=True), Integer(2)), Pow(Symbol('a', positive=True), Integer(-1))), Mul(Integer(-1), Integer(4), Symbol('Delta', positive=True), Pow(Symbol('a', positive=True), Integer(2))), Mul(Integer(12), Symbol('Delta', positive=True), Symbol('a', positive=True)), Mul(Integer(-1), Integer(12), Symbol('Delta', positive=True)), Mul(Integer(4), Symbol('Delta', positive=True), Pow(Symbol('a', positive=True), Integer(-1))))]",
    'aim.hardmax_E0_correct': 'Mul(Rational(4, 3), Add(Mul(Integer(-1), Integer(3), pi), Mul(Integer(2), asin(Rational(1, 3)))), Pow(Add(Mul(Integer(-1), Pow(pi, Integer(2))), Mul(Integer(4), Pow(asin(Rational(1, 3)), Integer(2)))), Integer(-1)))',
    'aim.hardmax_E0_paper': 'Mul(Integer(3), Pow(pi, Integer(-1)), Add(Mul(Integer(-1), Integer(3), pi), Mul(Integer(2), asin(Rational(1, 3)))), Pow(Add(Mul(Integer(-1), Pow(pi, Integer(2))), Mul(Integer(4), Pow(asin(Rational(1, 3)), Integer(2)))), Integer(-1)))',
}
