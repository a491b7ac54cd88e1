"""Generated outputs of the derivations of paper ``xattn``: do not edit.

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
DERIVATION_SOURCES = {'icl_companion.theory.closed_form': '80e59ce93272112b211ba4817e9df0c021cafbbebccf76e35cdfd7b0da31fe65', 'icl_companion.theory.precompute': '213bb11cf15fced1f68f2f1468bd6bd1c1a9ecfe0115de357a96a19a3860c025', 'icl_companion.theory.xattn': '6027a3b4eb44322f9fe70afe0d500e5d9748d6d0c9fdf6eda11de5fbef2f59b0'}
CATALOGUE_SOURCES = {'icl_companion.numerics.xattn_data': '10d6f27d7e334ce91996cae55d728968d7b0e29251427facec6c300b5a3adc3a', 'icl_companion.numerics.xattn_models': 'd989f44ad41a282e6bda8803916b624b987802e6672621ee732ab3edc425336b', 'icl_companion.theory.closed_form': '80e59ce93272112b211ba4817e9df0c021cafbbebccf76e35cdfd7b0da31fe65', 'icl_companion.theory.xattn': '6027a3b4eb44322f9fe70afe0d500e5d9748d6d0c9fdf6eda11de5fbef2f59b0'}
INDEX = {
    'xattn.alpha_T': ('icl_companion.theory.xattn', 'reconstructed', 'Trained shared CA step at depth T for a two-point spectrum (exact minimiser)'),
    'xattn.alpha_star': ('icl_companion.theory.xattn', 'reconstructed', 'Minimax shared CA step alpha* = 2/(2 tau2 + m_lo + m_hi) (gradient-flow limit, T, L -> inf)'),
    'xattn.bayes_risk': ('icl_companion.theory.xattn', 'reconstructed', 'Infinite-context Bayes risk and coefficient w = Gamma (tau2 I + Gamma^T Gamma)^-1 beta'),
    'xattn.layers_needed': ('icl_companion.theory.xattn', 'reconstructed', 'CA depth T(eps) = ceil(log(1/eps)/log(1/rho*)) for relative coefficient error eps at L = inf'),
    'xattn.lsa_gap': ('icl_companion.theory.xattn', 'reconstructed', 'Infinite-context excess risk of the best 1-layer LSA over Bayes, fixed-direction family'),
    'xattn.rho_star': ('icl_companion.theory.xattn', 'reconstructed', 'Worst-case per-layer contraction of CA at alpha*: (m_hi - m_lo)/(2 tau2 + m_lo + m_hi)'),
}
EVALUATORS = {
    'xattn.alpha_star': 'interval',
    'xattn.rho_star': 'interval',
}


def _declarations():
    from icl_companion.theory.registry import (Bound, Interval, Param, Reference, REQUIRED, RiskBounds)

    return {
    }


DECLARATIONS = _declarations()


def f_xattn_alpha_star(m_lo, m_hi, tau2):
    return 2/(m_hi + m_lo + 2*tau2)


def mp_xattn_alpha_star(m_lo, m_hi, tau2):
    return 2/(m_hi + m_lo + 2*tau2)


def f_xattn_rho_star(m_lo, m_hi, tau2):
    return (m_hi - m_lo)/(m_hi + m_lo + 2*tau2)


def mp_xattn_rho_star(m_lo, m_hi, tau2):
    return (m_hi - m_lo)/(m_hi + m_lo + 2*tau2)


def f_xattn_lsa_fixed_direction_uniform_gap(m_lo, m_hi, p):
    return (mpmath.mpf(1)/mpmath.mpf(2))*(-3*(m_hi - m_lo)*(m_hi + m_lo)**2 + 2*(m_hi - m_lo + mpmath.log((m_lo + 1)/(m_hi + 1)))*(2*m_hi**2 + 2*m_hi*m_lo + 3*m_hi + 2*m_lo**2 + 3*m_lo))/((m_hi - m_lo)*(2*m_hi**2 + 2*m_hi*m_lo + 3*m_hi + 2*m_lo**2 + 3*m_lo))


def f_xattn_lsa_fixed_direction_uniform_gamma_star(m_lo, m_hi, p):
    return 3*(m_hi + m_lo)/(2*m_hi**2 + 2*m_hi*m_lo + 3*m_hi + 2*m_lo**2 + 3*m_lo)


def f_xattn_lsa_fixed_direction_uniform_bayes_risk(m_lo, m_hi, p):
    return mpmath.log((m_hi + 1)/(m_lo + 1))/(m_hi - m_lo)


def f_xattn_lsa_fixed_direction_two_point_gap(m_lo, m_hi, p):
    return m_hi*m_lo*p*(m_hi**2*p - m_hi**2 - 2*m_hi*m_lo*p + 2*m_hi*m_lo + m_lo**2*p - m_lo**2)/(m_hi**3*m_lo*p - m_hi**3*m_lo + m_hi**3*p - m_hi**3 + 2*m_hi**2*m_lo*p - 2*m_hi**2*m_lo + 2*m_hi**2*p - 2*m_hi**2 - m_hi*m_lo**3*p - 2*m_hi*m_lo**2*p - m_hi*m_lo + m_hi*p - m_hi - m_lo**3*p - 2*m_lo**2*p - m_lo*p)


def f_xattn_lsa_fixed_direction_two_point_gamma_star(m_lo, m_hi, p):
    return (-m_hi*p + m_hi + m_lo*p)/(-m_hi**2*p + m_hi**2 - m_hi*p + m_hi + m_lo**2*p + m_lo*p)


def f_xattn_lsa_fixed_direction_two_point_bayes_risk(m_lo, m_hi, p):
    return (p*(m_hi + 1) + (1 - p)*(m_lo + 1))/((m_hi + 1)*(m_lo + 1))

FUNCTIONS = {
    'xattn.alpha_star': f_xattn_alpha_star,
    'xattn.rho_star': f_xattn_rho_star,
    'xattn.lsa_fixed_direction': {'uniform': {'gap': f_xattn_lsa_fixed_direction_uniform_gap, 'gamma_star': f_xattn_lsa_fixed_direction_uniform_gamma_star, 'bayes_risk': f_xattn_lsa_fixed_direction_uniform_bayes_risk}, 'two_point': {'gap': f_xattn_lsa_fixed_direction_two_point_gap, 'gamma_star': f_xattn_lsa_fixed_direction_two_point_gamma_star, 'bayes_risk': f_xattn_lsa_fixed_direction_two_point_bayes_risk}},
}

MPMATH = {
    'xattn.alpha_star': mp_xattn_alpha_star,
    'xattn.rho_star': mp_xattn_rho_star,
}

CONSTANTS = {
}

EXPRESSIONS = {
    'xattn.alpha_T': "Mul(Pow(Add(Symbol('lambda1', positive=True), Mul(Symbol('lambda2', positive=True), Pow(Mul(Pow(Symbol('lambda1', positive=True), Integer(-1)), Symbol('lambda2', positive=True), Pow(Symbol('w1', positive=True), Integer(-1)), Symbol('w2', positive=True)), Pow(Add(Mul(Integer(2), Symbol('T', positive=True, integer=True)), Integer(-1)), Integer(-1))))), Integer(-1)), Add(Pow(Mul(Pow(Symbol('lambda1', positive=True), Integer(-1)), Symbol('lambda2', positive=True), Pow(Symbol('w1', positive=True), Integer(-1)), Symbol('w2', positive=True)), Pow(Add(Mul(Integer(2), Symbol('T', positive=True, integer=True)), Integer(-1)), Integer(-1))), Integer(1)))",
    'xattn.alpha_star': "Mul(Integer(2), Pow(Add(Symbol('m_hi', positive=True), Symbol('m_lo', positive=True), Mul(Integer(2), Symbol('tau2', positive=True))), Integer(-1)))",
    'xattn.bayes_risk': "Add(Symbol('sigma2'), Mul(Symbol('tau2', positive=True), Trace(MatMul(Transpose(MatrixSymbol(Str('beta'), Symbol('k', integer=True, positive=True), Integer(1))), Inverse(MatAdd(MatMul(Symbol('tau2', positive=True), Identity(Symbol('k', integer=True, positive=True))), MatMul(Transpose(MatrixSymbol(Str('Gamma'), Symbol('d', integer=True, positive=True), Symbol('k', integer=True, positive=True))), MatrixSymbol(Str('Gamma'), Symbol('d', integer=True, positive=True), Symbol('k', integer=True, positive=True)))), Integer(-1)), MatrixSymbol(Str('beta'), Symbol('k', integer=True, positive=True), Integer(1))))))",
    'xattn.layers_needed': "Max(Integer(1), ceiling(Mul(log(Pow(Symbol('epsilon', positive=True), Integer(-1))), Pow(log(Pow(Symbol('rho^*'), Integer(-1))), Integer(-1)))))",
    'xattn.lsa_gap': "Mul(Rational(1, 2), Pow(Add(Symbol('m_hi', positive=True), Mul(Integer(-1), Symbol('m_lo', positive=True))), Integer(-1)), Add(Mul(Integer(-1), Integer(3), Add(Symbol('m_hi', positive=True), Mul(Integer(-1), Symbol('m_lo', positive=True))), Pow(Add(Symbol('m_hi', positive=True), Symbol('m_lo', positive=True)), Integer(2))), Mul(Integer(2), Add(Symbol('m_hi', positive=True), Mul(Integer(-1), Symbol('m_lo', positive=True)), log(Mul(Pow(Add(Symbol('m_hi', positive=True), Integer(1)), Integer(-1)), Add(Symbol('m_lo', positive=True), Integer(1))))), Add(Mul(Integer(2), Pow(Symbol('m_hi', positive=True), Integer(2))), Mul(Integer(2), Symbol('m_hi', positive=True), Symbol('m_lo', positive=True)), Mul(Integer(3), Symbol('m_hi', positive=True)), Mul(Integer(2), Pow(Symbol('m_lo', positive=True), Integer(2))), Mul(Integer(3), Symbol('m_lo', positive=True))))), Pow(Add(Mul(Integer(2), Pow(Symbol('m_hi', positive=True), Integer(2))), Mul(Integer(2), Symbol('m_hi', positive=True), Symbol('m_lo', positive=True)), Mul(Integer(3), Symbol('m_hi', positive=True)), Mul(Integer(2), Pow(Symbol('m_lo', positive=True), Integer(2))), Mul(Integer(3), Symbol('m_lo', positive=True))), Integer(-1)))",
    'xattn.rho_star': "Mul(Add(Symbol('m_hi', positive=True), Mul(Integer(-1), Symbol('m_lo', positive=True))), Pow(Add(Symbol('m_hi', positive=True), Symbol('m_lo', positive=True), Mul(Integer(2), Symbol('tau2', positive=True))), Integer(-1)))",
    'xattn.lsa_fixed_direction': "{'uniform': {'gap': Mul(Rational(1, 2), Pow(Add(Symbol('m_hi', positive=True), Mul(Integer(-1), Symbol('m_lo', positive=True))), Integer(-1)), Add(Mul(Integer(-1), Integer(3), Add(Symbol('m_hi', positive=True), Mul(Integer(-1), Symbol('m_lo', positive=True))), Pow(Add(Symbol('m_hi', positive=True), Symbol('m_lo', positive=True)), Integer(2))), Mul(Integer(2), Add(Symbol('m_hi', positive=True), Mul(Integer(-1), Symbol('m_lo', positive=True)), log(Mul(Pow(Add(Symbol('m_hi', positive=True), Integer(1)), Integer(-1)), Add(Symbol('m_lo', positive=True), Integer(1))))), Add(Mul(Integer(2), Pow(Symbol('m_hi', positive=True), Integer(2))), Mul(Integer(2), Symbol('m_hi', positive=True), Symbol('m_lo', positive=True)), Mul(Integer(3), Symbol('m_hi', positive=True)), Mul(Integer(2), Pow(Symbol('m_lo', positive=True), Integer(2))), Mul(Integer(3), Symbol('m_lo', positive=True))))), Pow(Add(Mul(Integer(2), Pow(Symbol('m_hi', positive=True), Integer(2))), Mul(Integer(2), Symbol('m_hi', positive=True), Symbol('m_lo', positive=True)), Mul(Integer(3), Symbol('m_hi', positive=True)), Mul(Integer(2), Pow(Symbol('m_lo', positive=True), Integer(2))), Mul(Integer(3), Symbol('m_lo', positive=True))), Integer(-1))), 'gamma_star': Mul(Integer(3), Add(Symbol('m_hi', positive=True), Symbol('m_lo', positive=True)), Pow(Add(Mul(Integer(2), Pow(Symbol('m_hi', positive=True), Integer(2))), Mul(Integer(2), Symbol('m_hi', positive=True), Symbol('m_lo', positive=True)), Mul(Integer(3), Symbol('m_hi', positive=True)), Mul(Integer(2), Pow(Symbol('m_lo', positive=True), Integer(2))), Mul(Integer(3), Symbol('m_lo', positive=True))), Integer(-1))), 'bayes_risk': Mul(Pow(Add(Symbol('m_hi', positive=True), Mul(Integer(-1), Symbol('m_lo', positive=True))), Integer(-1)), log(Mul(Add(Symbol('m_hi', positive=True), Integer(1)), Pow(Add(Symbol('m_lo', positive=True), Integer(1)), Integer(-1)))))}, 'two_point': {'gap': Mul(Symbol('m_hi', positive=True), Symbol('m_lo', positive=True), Symbol('p', nonnegative=True), Add(Mul(Pow(Symbol('m_hi', positive=True), Integer(2)), Symbol('p', nonnegative=True)), Mul(Integer(-1), Pow(Symbol('m_hi', positive=True), Integer(2))), Mul(Integer(-1), Integer(2), Symbol('m_hi', positive=True), Symbol('m_lo', positive=True), Symbol('p', nonnegative=True)), Mul(Integer(2), Symbol('m_hi', positive=True), Symbol('m_lo', positive=True)), Mul(Pow(Symbol('m_lo', positive=True), Integer(2)), Symbol('p', nonnegative=True)), Mul(Integer(-1), Pow(Symbol('m_lo', positive=True), Integer(2)))), Pow(Add(Mul(Pow(Symbol('m_hi', positive=True), Integer(3)), Symbol('m_lo', positive=True), Symbol('p', nonnegative=True)), Mul(Integer(-1), Pow(Symbol('m_hi', positive=True), Integer(3)), Symbol('m_lo', positive=True)), Mul(Pow(Symbol('m_hi', positive=True), Integer(3)), Symbol('p', nonnegative=True)), Mul(Integer(-1), Pow(Symbol('m_hi', positive=True), Integer(3))), Mul(Integer(2), Pow(Symbol('m_hi', positive=True), Integer(2)), Symbol('m_lo', positive=True), Symbol('p', nonnegative=True)), Mul(Integer(-1), Integer(2), Pow(Symbol('m_hi', positive=True), Integer(2)), Symbol('m_lo', positive=True)), Mul(Integer(2), Pow(Symbol('m_hi', positive=True), Integer(2)), Symbol('p', nonnegative=True)), Mul(Integer(-1), Integer(2), Pow(Symbol('m_hi', positive=True), Integer(2))), Mul(Integer(-1), Symbol('m_hi', positive=True), Pow(Symbol('m_lo', positive=True), Integer(3)), Symbol('p', nonnegative=True)), Mul(Integer(-1), Integer(2), Symbol('m_hi', positive=True), Pow(Symbol('m_lo', positive=True), Integer(2)), Symbol('p', nonnegative=True)), Mul(Integer(-1), Symbol('m_hi', positive=True), Symbol('m_lo', positive=True)), Mul(Symbol('m_hi', positive=True), Symbol('p', nonnegative=True)), Mul(Integer(-1), Symbol('m_hi', positive=True)), Mul(Integer(-1), Pow(Symbol('m_lo', positive=True), Integer(3)), Symbol('p', nonnegative=True)), Mul(Integer(-1), Integer(2), Pow(Symbol('m_lo', positive=True), Integer(2)), Symbol('p', nonnegative=True)), Mul(Integer(-1), Symbol('m_lo', positive=True), Symbol('p', nonnegative=True))), Integer(-1))), 'gamma_star': Mul(Add(Mul(Integer(-1), Symbol('m_hi', positive=True), Symbol('p', nonnegative=True)), Symbol('m_hi', positive=True), Mul(Symbol('m_lo', positive=True), Symbol('p', nonnegative=True))), Pow(Add(Mul(Integer(-1), Pow(Symbol('m_hi', positive=True), Integer(2)), Symbol('p', nonnegative=True)), Pow(Symbol('m_hi', positive=True), Integer(2)), Mul(Integer(-1), Symbol('m_hi', positive=True), Symbol('p', nonnegative=True)), Symbol('m_hi', positive=True), Mul(Pow(Symbol('m_lo', positive=True), Integer(2)), Symbol('p', nonnegative=True)), Mul(Symbol('m_lo', positive=True), Symbol('p', nonnegative=True))), Integer(-1))), 'bayes_risk': Mul(Pow(Add(Symbol('m_hi', positive=True), Integer(1)), Integer(-1)), Pow(Add(Symbol('m_lo', positive=True), Integer(1)), Integer(-1)), Add(Mul(Symbol('p', nonnegative=True), Add(Symbol('m_hi', positive=True), Integer(1))), Mul(Add(Integer(1), Mul(Integer(-1), Symbol('p', nonnegative=True))), Add(Symbol('m_lo', positive=True), Integer(1)))))}}",
}
