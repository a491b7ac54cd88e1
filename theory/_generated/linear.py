"""Generated outputs of the derivations of paper ``linear``: do not edit.

Written by ``python -m icl_companion.theory.precompute`` from the modules listed in the SOURCES
below (SymPy 1.14.0); :mod:`icl_companion.theory.precompute` explains what is here and when it is
used.  ``tests/test_precompute.py`` re-derives everything and compares.
"""
# flake8: noqa
# ruff: noqa
import math

inf = math.inf
SYMPY = '1.14.0'
DERIVATION_SOURCES = {'icl_companion.theory.linear': '0749ee9c77c5ae4fa15760a4c7c33d4f0a536dc6ec96ef81c2bc329377d368a0', 'icl_companion.theory.precompute': 'cef6d146a692ff4d7a1eacd4ea33c17c1634362239dd04d89e6ef749e79432cb'}
CATALOGUE_SOURCES = {'icl_companion.numerics.linear': '1f5f03b1f781412244c5223be17927917b26286d43752e1edfb51d94b15b4024', 'icl_companion.theory.linear': '0749ee9c77c5ae4fa15760a4c7c33d4f0a536dc6ec96ef81c2bc329377d368a0'}
INDEX = {
    'linear.gd_eta_star': ('icl_companion.theory.linear', 'exact', 'Risk-minimising step of one-step GD from zero (finite d, L)'),
    'linear.gd_risk': ('icl_companion.theory.linear', 'exact', 'Exact risk E(yhat - y_q)^2 of one-step GD from zero with step eta (finite d, L)'),
    'linear.lsa_zfb_risk': ('icl_companion.theory.linear', 'exact', 'Exact error of the gradient-flow optimum of 1-layer LSA (ZFB), trained at N, tested at M'),
    'linear.ridge_bayes_risk_asym': ('icl_companion.theory.linear', 'asymptotic', 'Asymptotic Bayes (ridge, lambda = sigma2 d) risk of in-context linear regression, d/L -> xi'),
}


def _declarations():
    from icl_companion.theory.registry import (Bound, Interval, Param, Reference, REQUIRED)

    return {
        'linear.gd_eta_star': lambda: dict(summary='Risk-minimising step of one-step GD from zero (finite d, L)', params=(Param('d', 'integer', Interval(1, inf, False, False), '', REQUIRED, 1), Param('L', 'integer', Interval(1, inf, False, False), '', REQUIRED, 1), Param('sigma2', 'real', Interval(0, inf, False, False), '', REQUIRED, 1), ), reference=Reference('linear', '', 'docs/derivations/linear.md#optimal-gd-step', ('He, Pan, Chen, Yang (2025), arXiv:2503.12734 (estimator TFEst.GDEst)', )), status='exact', status_note='', outputs=('value', ), definition='', bounds=None),
        'linear.gd_risk': lambda: dict(summary='Exact risk E(yhat - y_q)^2 of one-step GD from zero with step eta (finite d, L)', params=(Param('d', 'integer', Interval(1, inf, False, False), 'dimension', REQUIRED, 1), Param('L', 'integer', Interval(1, inf, False, False), 'prompt length', REQUIRED, 1), Param('sigma2', 'real', Interval(0, inf, False, False), 'noise variance', REQUIRED, 1), Param('eta', 'real', Interval(-inf, inf, False, False), 'GD step', REQUIRED, 1), ), reference=Reference('linear', '', 'docs/derivations/linear.md#exact-risk-of-one-step-gd', ('He, Pan, Chen, Yang (2025), arXiv:2503.12734 (estimator TFEst.GDEst)', )), status='exact', status_note='', outputs=('value', ), definition='', bounds=None),
        'linear.ridge_bayes_risk_asym': lambda: dict(summary='Asymptotic Bayes (ridge, lambda = sigma2 d) risk of in-context linear regression, d/L -> xi', params=(Param('xi', 'real', Interval(0, inf, True, False), 'd/L, limit ratio', REQUIRED, 1), Param('sigma2', 'real', Interval(0, inf, False, False), 'noise variance', REQUIRED, 1), ), reference=Reference('linear', '', 'docs/derivations/linear.md#bayes-risk-via-marchenko-pastur', ('Marchenko, Pastur (1967), Math. USSR Sbornik 1', 'He, Pan, Chen, Yang (2025), arXiv:2503.12734 (the BayesRisk of Theorem 1(3) of their blog post; code ridge_loss)', )), status='asymptotic', status_note='d, L -> inf with d/L -> xi', outputs=('value', ), definition='', bounds=None),
    }


DECLARATIONS = _declarations()


def f_linear_gd_eta_star(d, L, sigma2):
    return L/(L + d*sigma2 + d + 1)


def mp_linear_gd_eta_star(d, L, sigma2):
    return L/(L + d*sigma2 + d + 1)


def f_linear_gd_risk(d, L, sigma2, eta):
    return eta**2 - 2*eta + sigma2 + 1 + d*eta**2*sigma2/L + d*eta**2/L + eta**2/L


def mp_linear_gd_risk(d, L, sigma2, eta):
    return eta**2 - 2*eta + sigma2 + 1 + d*eta**2*sigma2/L + d*eta**2/L + eta**2/L


def f_linear_ridge_bayes_risk_asym(xi, sigma2):
    import numpy
    return (1/2)*(sigma2*xi + xi + numpy.sqrt(sigma2**2*xi**2 + 2*sigma2*xi**2 + 2*sigma2*xi + xi**2 - 2*xi + 1) - 1)/xi


def mp_linear_ridge_bayes_risk_asym(xi, sigma2):
    import mpmath
    return (mpmath.mpf(1)/mpmath.mpf(2))*(sigma2*xi + xi + mpmath.sqrt(sigma2**2*xi**2 + 2*sigma2*xi**2 + 2*sigma2*xi + xi**2 - 2*xi + 1) - 1)/xi


def f_linear_zfb_term(lambda_i, T_Lambda, N, M):
    return lambda_i*(T_Lambda + lambda_i)*(M*T_Lambda + M*lambda_i + N**2*lambda_i)/(M*(N*lambda_i + T_Lambda + lambda_i)**2)

FUNCTIONS = {
    'linear.gd_eta_star': f_linear_gd_eta_star,
    'linear.gd_risk': f_linear_gd_risk,
    'linear.ridge_bayes_risk_asym': f_linear_ridge_bayes_risk_asym,
    'linear.zfb_term': f_linear_zfb_term,
}

MPMATH = {
    'linear.gd_eta_star': mp_linear_gd_eta_star,
    'linear.gd_risk': mp_linear_gd_risk,
    'linear.ridge_bayes_risk_asym': mp_linear_ridge_bayes_risk_asym,
}

CONSTANTS = {
}

EXPRESSIONS = {
    'linear.gd_eta_star': "Mul(Symbol('L', positive=True, integer=True), Pow(Add(Symbol('L', positive=True, integer=True), Mul(Symbol('d', positive=True, integer=True), Symbol('sigma2', positive=True)), Symbol('d', positive=True, integer=True), Integer(1)), Integer(-1)))",
    'linear.gd_risk': "Add(Pow(Symbol('eta', positive=True), Integer(2)), Mul(Integer(-1), Integer(2), Symbol('eta', positive=True)), Symbol('sigma2', positive=True), Integer(1), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Symbol('d', positive=True, integer=True), Pow(Symbol('eta', positive=True), Integer(2)), Symbol('sigma2', positive=True)), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Symbol('d', positive=True, integer=True), Pow(Symbol('eta', positive=True), Integer(2))), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Pow(Symbol('eta', positive=True), Integer(2))))",
    'linear.lsa_zfb_risk': "Sum(Mul(Pow(Symbol('M', positive=True), Integer(-1)), Add(Symbol('T_Lambda', positive=True), Indexed(IndexedBase(Symbol('lambda')), Symbol('i', integer=True, positive=True))), Add(Mul(Symbol('M', positive=True), Symbol('T_Lambda', positive=True)), Mul(Symbol('M', positive=True), Indexed(IndexedBase(Symbol('lambda')), Symbol('i', integer=True, positive=True))), Mul(Pow(Symbol('N', positive=True), Integer(2)), Indexed(IndexedBase(Symbol('lambda')), Symbol('i', integer=True, positive=True)))), Pow(Add(Mul(Symbol('N', positive=True), Indexed(IndexedBase(Symbol('lambda')), Symbol('i', integer=True, positive=True))), Symbol('T_Lambda', positive=True), Indexed(IndexedBase(Symbol('lambda')), Symbol('i', integer=True, positive=True))), Integer(-2)), Indexed(IndexedBase(Symbol('lambda')), Symbol('i', integer=True, positive=True))), Tuple(Symbol('i', integer=True, positive=True), Integer(1), Symbol('d', positive=True, integer=True)))",
    'linear.ridge_bayes_risk_asym': "Mul(Rational(1, 2), Pow(Symbol('xi', positive=True), Integer(-1)), Add(Mul(Symbol('sigma2', positive=True), Symbol('xi', positive=True)), Symbol('xi', positive=True), Pow(Add(Mul(Pow(Symbol('sigma2', positive=True), Integer(2)), Pow(Symbol('xi', positive=True), Integer(2))), Mul(Integer(2), Symbol('sigma2', positive=True), Pow(Symbol('xi', positive=True), Integer(2))), Mul(Integer(2), Symbol('sigma2', positive=True), Symbol('xi', positive=True)), Pow(Symbol('xi', positive=True), Integer(2)), Mul(Integer(-1), Integer(2), Symbol('xi', positive=True)), Integer(1)), Rational(1, 2)), Integer(-1)))",
    'linear.zfb_term': "Mul(Pow(Symbol('M', positive=True), Integer(-1)), Symbol('lambda_i', positive=True), Add(Symbol('T_Lambda', positive=True), Symbol('lambda_i', positive=True)), Add(Mul(Symbol('M', positive=True), Symbol('T_Lambda', positive=True)), Mul(Symbol('M', positive=True), Symbol('lambda_i', positive=True)), Mul(Pow(Symbol('N', positive=True), Integer(2)), Symbol('lambda_i', positive=True))), Pow(Add(Mul(Symbol('N', positive=True), Symbol('lambda_i', positive=True)), Symbol('T_Lambda', positive=True), Symbol('lambda_i', positive=True)), Integer(-2)))",
}
