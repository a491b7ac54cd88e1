"""Generated outputs of the derivations of paper ``linear``: do not edit.

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
DERIVATION_SOURCES = {'icl_companion.theory.closed_form': '80e59ce93272112b211ba4817e9df0c021cafbbebccf76e35cdfd7b0da31fe65', 'icl_companion.theory.linear': '392038d580ee82dbddd60d20ffcec77ee29fe81e05e099cac3538a4c417849cf', 'icl_companion.theory.precompute': '213bb11cf15fced1f68f2f1468bd6bd1c1a9ecfe0115de357a96a19a3860c025'}
CATALOGUE_SOURCES = {'icl_companion.numerics.linear': 'cb29db6b568ac5d9c2ed694ebd0057149fb4a5b0798e17ee376a355d7a68235c', 'icl_companion.theory.closed_form': '80e59ce93272112b211ba4817e9df0c021cafbbebccf76e35cdfd7b0da31fe65', 'icl_companion.theory.linear': '392038d580ee82dbddd60d20ffcec77ee29fe81e05e099cac3538a4c417849cf'}
INDEX = {
    'linear.gd_eta_star': ('icl_companion.theory.linear', 'exact', 'Risk-minimising step of one-step GD from zero (finite d, L)'),
    'linear.gd_risk': ('icl_companion.theory.linear', 'exact', 'Exact risk E(yhat - y_q)^2 of one-step GD from zero with step eta (finite d, L)'),
    'linear.lsa_zfb_risk': ('icl_companion.theory.linear', 'exact', 'Exact error of the gradient-flow optimum of 1-layer LSA (ZFB), trained at N, tested at M'),
    'linear.ridge_bayes_risk_asym': ('icl_companion.theory.linear', 'asymptotic', 'Asymptotic Bayes (ridge, lambda = sigma2 d) risk of in-context linear regression, d/L -> xi'),
}
EVALUATORS = {
    'linear.gd_eta_star': 'interval',
    'linear.gd_risk': 'interval',
    'linear.ridge_bayes_risk_asym': 'interval',
}


def _declarations():
    from icl_companion.theory.registry import (Bound, Interval, Param, Reference, REQUIRED, RiskBounds)

    return {
        'linear.gd_eta_star': lambda: dict(summary='Risk-minimising step of one-step GD from zero (finite d, L)', params=(Param('d', 'integer', Interval(1, inf, False, False), '', REQUIRED, 1), Param('L', 'integer', Interval(1, inf, False, False), '', REQUIRED, 1), Param('sigma2', 'real', Interval(0, inf, False, False), '', REQUIRED, 1), ), reference=Reference('linear', '', 'docs/derivations/linear.md#optimal-gd-step', ('He, Pan, Chen, Yang (2025), arXiv:2503.12734 (estimator TFEst.GDEst)', )), status='exact', status_note='', outputs=('value', ), definition='', bounds={'value': (0, 1, )}),
        'linear.gd_risk': lambda: dict(summary='Exact risk E(yhat - y_q)^2 of one-step GD from zero with step eta (finite d, L)', params=(Param('d', 'integer', Interval(1, inf, False, False), 'dimension', REQUIRED, 1), Param('L', 'integer', Interval(1, inf, False, False), 'prompt length', REQUIRED, 1), Param('sigma2', 'real', Interval(0, inf, False, False), 'noise variance', REQUIRED, 1), Param('eta', 'real', Interval(-inf, inf, False, False), 'GD step', REQUIRED, 1), ), reference=Reference('linear', '', 'docs/derivations/linear.md#exact-risk-of-one-step-gd', ('He, Pan, Chen, Yang (2025), arXiv:2503.12734 (estimator TFEst.GDEst)', )), status='exact', status_note='', outputs=('value', ), definition='', bounds=RiskBounds(None)),
        'linear.ridge_bayes_risk_asym': lambda: dict(summary='Asymptotic Bayes (ridge, lambda = sigma2 d) risk of in-context linear regression, d/L -> xi', params=(Param('xi', 'real', Interval(0, inf, True, False), 'd/L, limit ratio', REQUIRED, 1), Param('sigma2', 'real', Interval(0, inf, False, False), 'noise variance', REQUIRED, 1), ), reference=Reference('linear', '', 'docs/derivations/linear.md#bayes-risk-via-marchenko-pastur', ('Marchenko, Pastur (1967), Math. USSR Sbornik 1', 'He, Pan, Chen, Yang (2025), arXiv:2503.12734 (the BayesRisk of Theorem 1(3) of their blog post; code ridge_loss)', )), status='asymptotic', status_note='d, L -> inf with d/L -> xi', outputs=('value', ), definition='', bounds=RiskBounds(1.0)),
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
    return (mpmath.mpf(1)/mpmath.mpf(2))*(sigma2*xi + xi + mpmath.sqrt(sigma2**2*xi**2 + 2*sigma2*xi**2 + 2*sigma2*xi + xi**2 - 2*xi + 1) - 1)/xi

FUNCTIONS = {
    'linear.gd_eta_star': f_linear_gd_eta_star,
    'linear.gd_risk': f_linear_gd_risk,
    'linear.ridge_bayes_risk_asym': f_linear_ridge_bayes_risk_asym,
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
}
