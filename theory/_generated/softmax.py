"""Generated outputs of the derivations of paper ``softmax``: do not edit.

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
DERIVATION_SOURCES = {'icl_companion.theory.closed_form': '80e59ce93272112b211ba4817e9df0c021cafbbebccf76e35cdfd7b0da31fe65', 'icl_companion.theory.linear': '392038d580ee82dbddd60d20ffcec77ee29fe81e05e099cac3538a4c417849cf', 'icl_companion.theory.precompute': '213bb11cf15fced1f68f2f1468bd6bd1c1a9ecfe0115de357a96a19a3860c025', 'icl_companion.theory.softmax': '048814c0f09574cccd7cbc6effa41fdc75f0562e41db80d21f5fd8d67e255cb3'}
CATALOGUE_SOURCES = {'icl_companion.numerics.softmax_attention': '3a6851d36e8c722a3d5664519b5d6c57f49015bf2184c996ab72db14169d9589', 'icl_companion.numerics.softmax_data': 'e4fa8595175aa0c699bd5e411c061500ed6a5aba31dcff5a3ee8f897a652c92c', 'icl_companion.numerics.softmax_patterns': '14368f9aed62544b26bbb65e229a8ba6691e3036c5975fc6762970c74d141fb7', 'icl_companion.numerics.softmax_reduced': '0d9a89a53afebd14cdb87f6320467e362a75a2222e6c1408f27499a0e97af770', 'icl_companion.theory.closed_form': '80e59ce93272112b211ba4817e9df0c021cafbbebccf76e35cdfd7b0da31fe65', 'icl_companion.theory.linear': '392038d580ee82dbddd60d20ffcec77ee29fe81e05e099cac3538a4c417849cf', 'icl_companion.theory.softmax': '048814c0f09574cccd7cbc6effa41fdc75f0562e41db80d21f5fd8d67e255cb3'}
INDEX = {
    'softmax.approx_loss': ('icl_companion.theory.softmax', 'asymptotic', 'Approximate population loss L~(omega, mu) of the reduced H-head model (H = len(omega))'),
    'softmax.approx_loss_gap': ('icl_companion.theory.softmax', 'exact', 'Exact debiased-GD risk minus the gamma -> 0 limit of the approximate loss at the same step: (eta/L)(2 - eta/eta*), eta*/L at eta*'),
    'softmax.bayes_risk': ('icl_companion.theory.softmax', 'asymptotic', 'Asymptotic Bayes risk, d/L -> xi (= linear.ridge_bayes_risk_asym)'),
    'softmax.dgd_min_risk': ('icl_companion.theory.softmax', 'exact', 'Minimum over eta of the exact debiased-GD risk (finite d, L)'),
    'softmax.dgd_risk': ('icl_companion.theory.softmax', 'exact', 'Exact risk of debiased one-step GD with step eta (finite d, L)'),
    'softmax.dgd_risk_asym': ('icl_companion.theory.softmax', 'asymptotic', 'Limit of the optimal debiased-GD risk, d/L -> xi'),
    'softmax.eta_star': ('icl_companion.theory.softmax', 'exact', 'Optimal debiased-GD step eta* = (1 + (1+sigma2) d/L)^-1 (Theorem 1(2))'),
    'softmax.gd_eta_star': ('icl_companion.theory.softmax', 'exact', 'Optimal vanilla one-step GD step (= linear.gd_eta_star)'),
    'softmax.gd_risk': ('icl_companion.theory.softmax', 'exact', 'Exact risk of vanilla one-step GD with step eta (= linear.gd_risk)'),
    'softmax.linear_length_risk': ('icl_companion.theory.softmax', 'exact', 'Risk at L_test of linear attention trained at L_train (GD with the 1/L_train kept)'),
    'softmax.mu_gamma': ('icl_companion.theory.softmax', 'asymptotic', 'OV sum mu_gamma on the solution manifold S_gamma (omega = +-gamma)'),
    'softmax.mu_star': ('icl_companion.theory.softmax', 'asymptotic', 'Optimal OV mu*(omega) = argmin_mu L~(omega, mu) and the loss there'),
    'softmax.preconditioner': ('icl_companion.theory.softmax', 'exact', 'Optimal linear-TF preconditioner Gamma* for AR(1) covariates Sigma_ij = rho^|i-j|'),
    'softmax.profile_loss': ('icl_companion.theory.softmax', 'asymptotic', 'Approximate loss along the solution manifold S_gamma'),
    'softmax.ratio_bound': ('icl_companion.theory.softmax', 'asymptotic', 'Theorem 1(3): optimal debiased-GD risk / Bayes risk, and its upper bound'),
    'softmax.reduced_flow': ('icl_companion.numerics.softmax_reduced', 'numerical', 'State at t_max of the gradient flow on L~(omega, mu) (scipy solve_ivp, LSODA + exact Jacobian)'),
    'softmax.reduced_risk': ('icl_companion.numerics.softmax_reduced', 'monte-carlo', 'Monte Carlo risk of the reduced multi-head predictor sum_h mu_h NW_{omega_h}, with its SE'),
    'softmax.single_head_optimum': ('icl_companion.theory.softmax', 'asymptotic', 'Single-head optimum of the approximate loss: omega = 1/sqrt(d), mu = mu*(omega)'),
}
EVALUATORS = {
    'softmax.approx_loss_gap': 'interval',
    'softmax.bayes_risk': 'interval',
    'softmax.dgd_min_risk': 'interval',
    'softmax.dgd_risk': 'interval',
    'softmax.dgd_risk_asym': 'interval',
    'softmax.eta_star': 'interval',
    'softmax.gd_eta_star': 'interval',
    'softmax.gd_risk': 'interval',
    'softmax.linear_length_risk': 'interval',
    'softmax.mu_gamma': 'interval',
    'softmax.profile_loss': 'interval',
}


def _declarations():
    from icl_companion.theory.registry import (Bound, Interval, Param, Reference, REQUIRED, RiskBounds)

    return {
        'softmax.approx_loss_gap': lambda: dict(summary='Exact debiased-GD risk minus the gamma -> 0 limit of the approximate loss at the same step: (eta/L)(2 - eta/eta*), eta*/L at eta*', params=(Param('d', 'integer', Interval(1, inf, False, False), 'covariate dimension', REQUIRED, 1), Param('L', 'integer', Interval(1, inf, False, False), 'prompt length (context tokens)', REQUIRED, 1), Param('sigma2', 'real', Interval(0, inf, False, False), 'noise variance', REQUIRED, 1), Param('eta', 'real', Interval(-inf, inf, False, False), 'effective step 2 gamma mu', REQUIRED, 1), ), reference=Reference('softmax', 'not numbered in the sources', 'docs/derivations/softmax.md#the-gamma-to-zero-limit-and-the-1l-gap', ()), status='exact', status_note='the O(1/L) centring term that L~ drops; the reduced predictor adds O(gamma^2)', outputs=('value', ), definition='', bounds=None),
        'softmax.bayes_risk': lambda: dict(summary='Asymptotic Bayes risk, d/L -> xi (= linear.ridge_bayes_risk_asym)', params=(Param('xi', 'real', Interval(0, inf, True, False), 'd/L', REQUIRED, 1), Param('sigma2', 'real', Interval(0, inf, False, False), 'noise variance', REQUIRED, 1), ), reference=Reference('softmax', 'not numbered in the sources', 'docs/derivations/softmax.md#bayes-risk-and-the-ratio-bound', ("He, Pan, Chen, Yang, blog post 'In-Context Linear Regression Demystified' (2025), github.com/Y-Agent/Y-Agent.github.io, content/posts/in_context_regression.md, Theorem 1(3)", 'He et al., code github.com/XintianPan/ICL_linear, ridge_loss', )), status='asymptotic', status_note='d, L -> inf with d/L -> xi', outputs=('value', ), definition='', bounds=RiskBounds(1.0)),
        'softmax.dgd_min_risk': lambda: dict(summary='Minimum over eta of the exact debiased-GD risk (finite d, L)', params=(Param('d', 'integer', Interval(1, inf, False, False), 'covariate dimension', REQUIRED, 1), Param('L', 'integer', Interval(1, inf, False, False), 'prompt length (context tokens)', REQUIRED, 1), Param('sigma2', 'real', Interval(0, inf, False, False), 'noise variance', REQUIRED, 1), ), reference=Reference('softmax', 'not numbered in the sources', 'docs/derivations/softmax.md#optimal-debiased-gd-step', ("He, Pan, Chen, Yang, blog post 'In-Context Linear Regression Demystified' (2025), github.com/Y-Agent/Y-Agent.github.io, content/posts/in_context_regression.md, Theorem 1(2)", )), status='exact', status_note='', outputs=('value', ), definition='', bounds=RiskBounds(1.0)),
        'softmax.dgd_risk': lambda: dict(summary='Exact risk of debiased one-step GD with step eta (finite d, L)', params=(Param('d', 'integer', Interval(1, inf, False, False), 'covariate dimension', REQUIRED, 1), Param('L', 'integer', Interval(1, inf, False, False), 'prompt length (context tokens)', REQUIRED, 1), Param('sigma2', 'real', Interval(0, inf, False, False), 'noise variance', REQUIRED, 1), Param('eta', 'real', Interval(-inf, inf, False, False), 'GD step', REQUIRED, 1), ), reference=Reference('softmax', 'not numbered in the sources', 'docs/derivations/softmax.md#exact-risks-of-one-step-gd-and-debiased-gd', ('He et al., code github.com/XintianPan/ICL_linear, TFEst.DGDEst', )), status='exact', status_note='', outputs=('value', ), definition='', bounds=RiskBounds(None)),
        'softmax.dgd_risk_asym': lambda: dict(summary='Limit of the optimal debiased-GD risk, d/L -> xi', params=(Param('xi', 'real', Interval(0, inf, True, False), 'd/L', REQUIRED, 1), Param('sigma2', 'real', Interval(0, inf, False, False), 'noise variance', REQUIRED, 1), ), reference=Reference('softmax', 'not numbered in the sources', 'docs/derivations/softmax.md#large-l-limit-of-the-optimal-risk', ()), status='asymptotic', status_note='d, L -> inf with d/L -> xi', outputs=('value', ), definition='', bounds=RiskBounds(1.0)),
        'softmax.eta_star': lambda: dict(summary='Optimal debiased-GD step eta* = (1 + (1+sigma2) d/L)^-1 (Theorem 1(2))', params=(Param('d', 'integer', Interval(1, inf, False, False), 'covariate dimension', REQUIRED, 1), Param('L', 'integer', Interval(1, inf, False, False), 'prompt length (context tokens)', REQUIRED, 1), Param('sigma2', 'real', Interval(0, inf, False, False), 'noise variance', REQUIRED, 1), ), reference=Reference('softmax', 'not numbered in the sources', 'docs/derivations/softmax.md#optimal-debiased-gd-step', ("He, Pan, Chen, Yang, blog post 'In-Context Linear Regression Demystified' (2025), github.com/Y-Agent/Y-Agent.github.io, content/posts/in_context_regression.md, Theorem 1(2)", )), status='exact', status_note='', outputs=('value', ), definition='', bounds={'value': (0, 1, )}),
        'softmax.gd_eta_star': lambda: dict(summary='Optimal vanilla one-step GD step (= linear.gd_eta_star)', params=(Param('d', 'integer', Interval(1, inf, False, False), 'covariate dimension', REQUIRED, 1), Param('L', 'integer', Interval(1, inf, False, False), 'prompt length (context tokens)', REQUIRED, 1), Param('sigma2', 'real', Interval(0, inf, False, False), 'noise variance', REQUIRED, 1), ), reference=Reference('softmax', 'not numbered in the sources', 'docs/derivations/softmax.md#exact-risks-of-one-step-gd-and-debiased-gd', ('He et al., code github.com/XintianPan/ICL_linear, TFEst.GDEst', )), status='exact', status_note='', outputs=('value', ), definition='', bounds={'value': (0, 1, )}),
        'softmax.gd_risk': lambda: dict(summary='Exact risk of vanilla one-step GD with step eta (= linear.gd_risk)', params=(Param('d', 'integer', Interval(1, inf, False, False), 'covariate dimension', REQUIRED, 1), Param('L', 'integer', Interval(1, inf, False, False), 'prompt length (context tokens)', REQUIRED, 1), Param('sigma2', 'real', Interval(0, inf, False, False), 'noise variance', REQUIRED, 1), Param('eta', 'real', Interval(-inf, inf, False, False), 'GD step', REQUIRED, 1), ), reference=Reference('softmax', 'not numbered in the sources', 'docs/derivations/softmax.md#exact-risks-of-one-step-gd-and-debiased-gd', ('He et al., code github.com/XintianPan/ICL_linear, TFEst.GDEst', )), status='exact', status_note='', outputs=('value', ), definition='', bounds=RiskBounds(None)),
        'softmax.linear_length_risk': lambda: dict(summary='Risk at L_test of linear attention trained at L_train (GD with the 1/L_train kept)', params=(Param('d', 'integer', Interval(1, inf, False, False), 'covariate dimension', REQUIRED, 1), Param('L_train', 'integer', Interval(1, inf, False, False), 'training prompt length', REQUIRED, 1), Param('L_test', 'integer', Interval(1, inf, False, False), 'test prompt length', REQUIRED, 1), Param('sigma2', 'real', Interval(0, inf, False, False), 'noise variance', REQUIRED, 1), ), reference=Reference('softmax', 'not numbered in the sources', 'docs/derivations/softmax.md#linear-attention-length-generalisation', ("He, Pan, Chen, Yang, blog post 'In-Context Linear Regression Demystified' (2025), github.com/Y-Agent/Y-Agent.github.io, content/posts/in_context_regression.md, Figure 4.1", )), status='exact', status_note='exact for the linear-attention population optimum at L_train (one-step GD with eta*_gd(L_train))', outputs=('value', ), definition='', bounds=RiskBounds(None)),
        'softmax.mu_gamma': lambda: dict(summary='OV sum mu_gamma on the solution manifold S_gamma (omega = +-gamma)', params=(Param('d', 'integer', Interval(1, inf, False, False), 'covariate dimension', REQUIRED, 1), Param('L', 'integer', Interval(1, inf, False, False), 'prompt length (context tokens)', REQUIRED, 1), Param('sigma2', 'real', Interval(0, inf, False, False), 'noise variance', REQUIRED, 1), Param('gamma', 'real', Interval(0, inf, True, False), 'common |omega| of the heads', REQUIRED, 1), ), reference=Reference('softmax', 'not numbered in the sources', 'docs/derivations/softmax.md#solution-manifold', ("He, Pan, Chen, Yang, blog post 'In-Context Linear Regression Demystified' (2025), github.com/Y-Agent/Y-Agent.github.io, content/posts/in_context_regression.md, solution manifold S_gamma", )), status='asymptotic', status_note='minimiser of the large-L approximate loss', outputs=('value', ), definition='', bounds={'value': (0, inf, )}),
        'softmax.profile_loss': lambda: dict(summary='Approximate loss along the solution manifold S_gamma', params=(Param('d', 'integer', Interval(1, inf, False, False), 'covariate dimension', REQUIRED, 1), Param('L', 'integer', Interval(1, inf, False, False), 'prompt length (context tokens)', REQUIRED, 1), Param('sigma2', 'real', Interval(0, inf, False, False), 'noise variance', REQUIRED, 1), Param('gamma', 'real', Interval(0, inf, True, False), 'common |omega| of the heads', REQUIRED, 1), ), reference=Reference('softmax', 'not numbered in the sources', 'docs/derivations/softmax.md#profile-loss', ()), status='asymptotic', status_note='large-L approximate loss', outputs=('value', ), definition='', bounds=RiskBounds(1.0)),
    }


DECLARATIONS = _declarations()


def f_softmax_approx_loss_gap(d, L, sigma2, eta):
    return -eta*(L*eta - 2*L + d*eta*sigma2 + d*eta)/L**2


def mp_softmax_approx_loss_gap(d, L, sigma2, eta):
    return -eta*(L*eta - 2*L + d*eta*sigma2 + d*eta)/L**2


def f_softmax_bayes_risk(xi, sigma2):
    import numpy
    return (1/2)*(sigma2*xi + xi + numpy.sqrt(sigma2**2*xi**2 + 2*sigma2*xi**2 + 2*sigma2*xi + xi**2 - 2*xi + 1) - 1)/xi


def mp_softmax_bayes_risk(xi, sigma2):
    return (mpmath.mpf(1)/mpmath.mpf(2))*(sigma2*xi + xi + mpmath.sqrt(sigma2**2*xi**2 + 2*sigma2*xi**2 + 2*sigma2*xi + xi**2 - 2*xi + 1) - 1)/xi


def f_softmax_dgd_min_risk(d, L, sigma2):
    return (L*sigma2 + d*sigma2**2 + 2*d*sigma2 + d + 1)/(L + d*sigma2 + d)


def mp_softmax_dgd_min_risk(d, L, sigma2):
    return (L*sigma2 + d*sigma2**2 + 2*d*sigma2 + d + 1)/(L + d*sigma2 + d)


def f_softmax_dgd_risk(d, L, sigma2, eta):
    return eta**2 - 2*eta + sigma2 + 1 + d*eta**2*sigma2/L + d*eta**2/L - eta**2/L + 2*eta/L - d*eta**2*sigma2/L**2 - d*eta**2/L**2


def mp_softmax_dgd_risk(d, L, sigma2, eta):
    return eta**2 - 2*eta + sigma2 + 1 + d*eta**2*sigma2/L + d*eta**2/L - eta**2/L + 2*eta/L - d*eta**2*sigma2/L**2 - d*eta**2/L**2


def f_softmax_dgd_risk_asym(xi, sigma2):
    return (sigma2**2*xi + 2*sigma2*xi + sigma2 + xi)/(sigma2*xi + xi + 1)


def mp_softmax_dgd_risk_asym(xi, sigma2):
    return (sigma2**2*xi + 2*sigma2*xi + sigma2 + xi)/(sigma2*xi + xi + 1)


def f_softmax_eta_star(d, L, sigma2):
    return L/(L + d*sigma2 + d)


def mp_softmax_eta_star(d, L, sigma2):
    return L/(L + d*sigma2 + d)


def f_softmax_gd_eta_star(d, L, sigma2):
    return L/(L + d*sigma2 + d + 1)


def mp_softmax_gd_eta_star(d, L, sigma2):
    return L/(L + d*sigma2 + d + 1)


def f_softmax_gd_risk(d, L, sigma2, eta):
    return eta**2 - 2*eta + sigma2 + 1 + d*eta**2*sigma2/L + d*eta**2/L + eta**2/L


def mp_softmax_gd_risk(d, L, sigma2, eta):
    return eta**2 - 2*eta + sigma2 + 1 + d*eta**2*sigma2/L + d*eta**2/L + eta**2/L


def f_softmax_linear_length_risk(d, L_train, L_test, sigma2):
    return (L_test*(L_test + d*sigma2 + d + 1) - 2*L_test*(L_train + d*sigma2 + d + 1) + (sigma2 + 1)*(L_train + d*sigma2 + d + 1)**2)/(L_train + d*sigma2 + d + 1)**2


def mp_softmax_linear_length_risk(d, L_train, L_test, sigma2):
    return (L_test*(L_test + d*sigma2 + d + 1) - 2*L_test*(L_train + d*sigma2 + d + 1) + (sigma2 + 1)*(L_train + d*sigma2 + d + 1)**2)/(L_train + d*sigma2 + d + 1)**2


def f_softmax_mu_gamma(d, L, sigma2, gamma):
    import numpy
    return (1/2)*gamma/(gamma**2 + (sigma2 + 1)*numpy.sinh(d*gamma**2)/L)


def mp_softmax_mu_gamma(d, L, sigma2, gamma):
    return (mpmath.mpf(1)/mpmath.mpf(2))*gamma/(gamma**2 + (sigma2 + 1)*mpmath.sinh(d*gamma**2)/L)


def f_softmax_profile_loss(d, L, sigma2, gamma):
    import numpy
    return -gamma**2/(gamma**2 + (sigma2 + 1)*numpy.sinh(d*gamma**2)/L) + sigma2 + 1


def mp_softmax_profile_loss(d, L, sigma2, gamma):
    return -gamma**2/(gamma**2 + (sigma2 + 1)*mpmath.sinh(d*gamma**2)/L) + sigma2 + 1


def f_softmax_pair_term_T(omega_a, omega_b, mu_a, mu_b, d, L, sigma2):
    import numpy
    return mu_a*mu_b*(omega_a*omega_b + (sigma2 + 1)*numpy.exp(d*omega_a*omega_b)/L)


def f_softmax_pair_term_d1_0(omega_a, omega_b, mu_a, mu_b, d, L, sigma2):
    import numpy
    return mu_a*mu_b*(omega_b + d*omega_b*(sigma2 + 1)*numpy.exp(d*omega_a*omega_b)/L)


def f_softmax_pair_term_d1_1(omega_a, omega_b, mu_a, mu_b, d, L, sigma2):
    import numpy
    return mu_b*(omega_a*omega_b + (sigma2 + 1)*numpy.exp(d*omega_a*omega_b)/L)


def f_softmax_pair_term_d11_0_0(omega_a, omega_b, mu_a, mu_b, d, L, sigma2):
    import numpy
    return d**2*mu_a*mu_b*omega_b**2*(sigma2 + 1)*numpy.exp(d*omega_a*omega_b)/L


def f_softmax_pair_term_d11_0_1(omega_a, omega_b, mu_a, mu_b, d, L, sigma2):
    import numpy
    return mu_b*omega_b*(1 + d*(sigma2 + 1)*numpy.exp(d*omega_a*omega_b)/L)


def f_softmax_pair_term_d11_1_0(omega_a, omega_b, mu_a, mu_b, d, L, sigma2):
    import numpy
    return mu_b*omega_b*(1 + d*(sigma2 + 1)*numpy.exp(d*omega_a*omega_b)/L)


def f_softmax_pair_term_d11_1_1(omega_a, omega_b, mu_a, mu_b, d, L, sigma2):
    return 0


def f_softmax_pair_term_d12_0_0(omega_a, omega_b, mu_a, mu_b, d, L, sigma2):
    import numpy
    return mu_a*mu_b*(1 + d**2*omega_a*omega_b*(sigma2 + 1)*numpy.exp(d*omega_a*omega_b)/L + d*(sigma2 + 1)*numpy.exp(d*omega_a*omega_b)/L)


def f_softmax_pair_term_d12_0_1(omega_a, omega_b, mu_a, mu_b, d, L, sigma2):
    import numpy
    return mu_a*omega_b*(1 + d*(sigma2 + 1)*numpy.exp(d*omega_a*omega_b)/L)


def f_softmax_pair_term_d12_1_0(omega_a, omega_b, mu_a, mu_b, d, L, sigma2):
    import numpy
    return mu_b*omega_a*(1 + d*(sigma2 + 1)*numpy.exp(d*omega_a*omega_b)/L)


def f_softmax_pair_term_d12_1_1(omega_a, omega_b, mu_a, mu_b, d, L, sigma2):
    import numpy
    return omega_a*omega_b + (sigma2 + 1)*numpy.exp(d*omega_a*omega_b)/L


def f_softmax_manifold_0(d, L, sigma2, gamma):
    import numpy
    return (1/2)*gamma/(gamma**2 + (sigma2 + 1)*numpy.sinh(d*gamma**2)/L)


def f_softmax_manifold_1(d, L, sigma2, gamma):
    import numpy
    return -gamma**2/(gamma**2 + (sigma2 + 1)*numpy.sinh(d*gamma**2)/L) + sigma2 + 1


def f_softmax_ratio_0(xi, sigma2):
    import numpy
    return 2*xi*(sigma2**2*xi + 2*sigma2*xi + sigma2 + xi)/((sigma2*xi + xi + 1)*(sigma2*xi + xi + numpy.sqrt(sigma2**2*xi**2 + 2*sigma2*xi**2 + 2*sigma2*xi + xi**2 - 2*xi + 1) - 1))


def f_softmax_ratio_1(xi, sigma2):
    return 1 + 1/(sigma2*(sigma2*xi + 1)*(sigma2 + 1 + xi**(-1.0)))


def f_softmax_ratio_2(xi, sigma2):
    return (sigma2**2*xi + 2*sigma2*xi + sigma2 + xi)/(sigma2*xi + xi + 1)


def f_softmax_ratio_3(xi, sigma2):
    import numpy
    return (1/2)*(sigma2*xi + xi + numpy.sqrt(sigma2**2*xi**2 + 2*sigma2*xi**2 + 2*sigma2*xi + xi**2 - 2*xi + 1) - 1)/xi


def f_softmax_single_head_0(d, L, sigma2):
    import numpy
    return 1/numpy.sqrt(d)


def f_softmax_single_head_1(d, L, sigma2):
    import numpy
    return L*numpy.sqrt(d)/(L + numpy.e*d*(sigma2 + 1))


def f_softmax_single_head_2(d, L, sigma2):
    import numpy
    return (-L + (L + numpy.e*d*(sigma2 + 1))*(sigma2 + 1))/(L + numpy.e*d*(sigma2 + 1))

FUNCTIONS = {
    'softmax.approx_loss_gap': f_softmax_approx_loss_gap,
    'softmax.bayes_risk': f_softmax_bayes_risk,
    'softmax.dgd_min_risk': f_softmax_dgd_min_risk,
    'softmax.dgd_risk': f_softmax_dgd_risk,
    'softmax.dgd_risk_asym': f_softmax_dgd_risk_asym,
    'softmax.eta_star': f_softmax_eta_star,
    'softmax.gd_eta_star': f_softmax_gd_eta_star,
    'softmax.gd_risk': f_softmax_gd_risk,
    'softmax.linear_length_risk': f_softmax_linear_length_risk,
    'softmax.mu_gamma': f_softmax_mu_gamma,
    'softmax.profile_loss': f_softmax_profile_loss,
    'softmax.pair_term': {'T': f_softmax_pair_term_T, 'd1': [f_softmax_pair_term_d1_0, f_softmax_pair_term_d1_1], 'd11': [[f_softmax_pair_term_d11_0_0, f_softmax_pair_term_d11_0_1], [f_softmax_pair_term_d11_1_0, f_softmax_pair_term_d11_1_1]], 'd12': [[f_softmax_pair_term_d12_0_0, f_softmax_pair_term_d12_0_1], [f_softmax_pair_term_d12_1_0, f_softmax_pair_term_d12_1_1]]},
    'softmax.manifold': [f_softmax_manifold_0, f_softmax_manifold_1],
    'softmax.ratio': [f_softmax_ratio_0, f_softmax_ratio_1, f_softmax_ratio_2, f_softmax_ratio_3],
    'softmax.single_head': [f_softmax_single_head_0, f_softmax_single_head_1, f_softmax_single_head_2],
}

MPMATH = {
    'softmax.approx_loss_gap': mp_softmax_approx_loss_gap,
    'softmax.bayes_risk': mp_softmax_bayes_risk,
    'softmax.dgd_min_risk': mp_softmax_dgd_min_risk,
    'softmax.dgd_risk': mp_softmax_dgd_risk,
    'softmax.dgd_risk_asym': mp_softmax_dgd_risk_asym,
    'softmax.eta_star': mp_softmax_eta_star,
    'softmax.gd_eta_star': mp_softmax_gd_eta_star,
    'softmax.gd_risk': mp_softmax_gd_risk,
    'softmax.linear_length_risk': mp_softmax_linear_length_risk,
    'softmax.mu_gamma': mp_softmax_mu_gamma,
    'softmax.profile_loss': mp_softmax_profile_loss,
}

CONSTANTS = {
}

EXPRESSIONS = {
    'softmax.approx_loss': "Add(Mul(Integer(-1), Integer(2), Symbol('mu_1', real=True), Symbol('omega_1', real=True)), Mul(Symbol('mu_1', real=True), Add(Mul(Symbol('mu_1', real=True), Add(Pow(Symbol('omega_1', real=True), Integer(2)), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Add(Symbol('sigma2', positive=True), Integer(1)), exp(Mul(Symbol('d', positive=True, integer=True), Pow(Symbol('omega_1', real=True), Integer(2))))))), Mul(Symbol('mu_2', real=True), Add(Mul(Symbol('omega_1', real=True), Symbol('omega_2', real=True)), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Add(Symbol('sigma2', positive=True), Integer(1)), exp(Mul(Symbol('d', positive=True, integer=True), Symbol('omega_1', real=True), Symbol('omega_2', real=True)))))))), Mul(Integer(-1), Integer(2), Symbol('mu_2', real=True), Symbol('omega_2', real=True)), Mul(Symbol('mu_2', real=True), Add(Mul(Symbol('mu_1', real=True), Add(Mul(Symbol('omega_1', real=True), Symbol('omega_2', real=True)), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Add(Symbol('sigma2', positive=True), Integer(1)), exp(Mul(Symbol('d', positive=True, integer=True), Symbol('omega_1', real=True), Symbol('omega_2', real=True)))))), Mul(Symbol('mu_2', real=True), Add(Pow(Symbol('omega_2', real=True), Integer(2)), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Add(Symbol('sigma2', positive=True), Integer(1)), exp(Mul(Symbol('d', positive=True, integer=True), Pow(Symbol('omega_2', real=True), Integer(2))))))))), Symbol('sigma2', positive=True), Integer(1))",
    'softmax.approx_loss_gap': "Mul(Integer(-1), Pow(Symbol('L', positive=True, integer=True), Integer(-2)), Symbol('eta', positive=True), Add(Mul(Symbol('L', positive=True, integer=True), Symbol('eta', positive=True)), Mul(Integer(-1), Integer(2), Symbol('L', positive=True, integer=True)), Mul(Symbol('d', positive=True, integer=True), Symbol('eta', positive=True), Symbol('sigma2', positive=True)), Mul(Symbol('d', positive=True, integer=True), Symbol('eta', positive=True))))",
    'softmax.bayes_risk': "Mul(Rational(1, 2), Pow(Symbol('xi', positive=True), Integer(-1)), Add(Mul(Symbol('sigma2', positive=True), Symbol('xi', positive=True)), Symbol('xi', positive=True), Pow(Add(Mul(Pow(Symbol('sigma2', positive=True), Integer(2)), Pow(Symbol('xi', positive=True), Integer(2))), Mul(Integer(2), Symbol('sigma2', positive=True), Pow(Symbol('xi', positive=True), Integer(2))), Mul(Integer(2), Symbol('sigma2', positive=True), Symbol('xi', positive=True)), Pow(Symbol('xi', positive=True), Integer(2)), Mul(Integer(-1), Integer(2), Symbol('xi', positive=True)), Integer(1)), Rational(1, 2)), Integer(-1)))",
    'softmax.dgd_min_risk': "Mul(Pow(Add(Symbol('L', positive=True, integer=True), Mul(Symbol('d', positive=True, integer=True), Symbol('sigma2', positive=True)), Symbol('d', positive=True, integer=True)), Integer(-1)), Add(Mul(Symbol('L', positive=True, integer=True), Symbol('sigma2', positive=True)), Mul(Symbol('d', positive=True, integer=True), Pow(Symbol('sigma2', positive=True), Integer(2))), Mul(Integer(2), Symbol('d', positive=True, integer=True), Symbol('sigma2', positive=True)), Symbol('d', positive=True, integer=True), Integer(1)))",
    'softmax.dgd_risk': "Add(Pow(Symbol('eta', positive=True), Integer(2)), Mul(Integer(-1), Integer(2), Symbol('eta', positive=True)), Symbol('sigma2', positive=True), Integer(1), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Symbol('d', positive=True, integer=True), Pow(Symbol('eta', positive=True), Integer(2)), Symbol('sigma2', positive=True)), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Symbol('d', positive=True, integer=True), Pow(Symbol('eta', positive=True), Integer(2))), Mul(Integer(-1), Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Pow(Symbol('eta', positive=True), Integer(2))), Mul(Integer(2), Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Symbol('eta', positive=True)), Mul(Integer(-1), Pow(Symbol('L', positive=True, integer=True), Integer(-2)), Symbol('d', positive=True, integer=True), Pow(Symbol('eta', positive=True), Integer(2)), Symbol('sigma2', positive=True)), Mul(Integer(-1), Pow(Symbol('L', positive=True, integer=True), Integer(-2)), Symbol('d', positive=True, integer=True), Pow(Symbol('eta', positive=True), Integer(2))))",
    'softmax.dgd_risk_asym': "Mul(Pow(Add(Mul(Symbol('sigma2', positive=True), Symbol('xi', positive=True)), Symbol('xi', positive=True), Integer(1)), Integer(-1)), Add(Mul(Pow(Symbol('sigma2', positive=True), Integer(2)), Symbol('xi', positive=True)), Mul(Integer(2), Symbol('sigma2', positive=True), Symbol('xi', positive=True)), Symbol('sigma2', positive=True), Symbol('xi', positive=True)))",
    'softmax.eta_star': "Mul(Symbol('L', positive=True, integer=True), Pow(Add(Symbol('L', positive=True, integer=True), Mul(Symbol('d', positive=True, integer=True), Symbol('sigma2', positive=True)), Symbol('d', positive=True, integer=True)), Integer(-1)))",
    'softmax.gd_eta_star': "Mul(Symbol('L', positive=True, integer=True), Pow(Add(Symbol('L', positive=True, integer=True), Mul(Symbol('d', positive=True, integer=True), Symbol('sigma2', positive=True)), Symbol('d', positive=True, integer=True), Integer(1)), Integer(-1)))",
    'softmax.gd_risk': "Add(Pow(Symbol('eta', positive=True), Integer(2)), Mul(Integer(-1), Integer(2), Symbol('eta', positive=True)), Symbol('sigma2', positive=True), Integer(1), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Symbol('d', positive=True, integer=True), Pow(Symbol('eta', positive=True), Integer(2)), Symbol('sigma2', positive=True)), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Symbol('d', positive=True, integer=True), Pow(Symbol('eta', positive=True), Integer(2))), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Pow(Symbol('eta', positive=True), Integer(2))))",
    'softmax.linear_length_risk': "Mul(Add(Mul(Symbol('L_test', positive=True, integer=True), Add(Symbol('L_test', positive=True, integer=True), Mul(Symbol('d', positive=True, integer=True), Symbol('sigma2', positive=True)), Symbol('d', positive=True, integer=True), Integer(1))), Mul(Integer(-1), Integer(2), Symbol('L_test', positive=True, integer=True), Add(Symbol('L_train', positive=True, integer=True), Mul(Symbol('d', positive=True, integer=True), Symbol('sigma2', positive=True)), Symbol('d', positive=True, integer=True), Integer(1))), Mul(Add(Symbol('sigma2', positive=True), Integer(1)), Pow(Add(Symbol('L_train', positive=True, integer=True), Mul(Symbol('d', positive=True, integer=True), Symbol('sigma2', positive=True)), Symbol('d', positive=True, integer=True), Integer(1)), Integer(2)))), Pow(Add(Symbol('L_train', positive=True, integer=True), Mul(Symbol('d', positive=True, integer=True), Symbol('sigma2', positive=True)), Symbol('d', positive=True, integer=True), Integer(1)), Integer(-2)))",
    'softmax.mu_gamma': "Mul(Rational(1, 2), Symbol('gamma', positive=True), Pow(Add(Pow(Symbol('gamma', positive=True), Integer(2)), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Add(Symbol('sigma2', positive=True), Integer(1)), sinh(Mul(Symbol('d', positive=True, integer=True), Pow(Symbol('gamma', positive=True), Integer(2)))))), Integer(-1)))",
    'softmax.mu_star': "ImmutableDenseMatrix([[Mul(Symbol('L', positive=True, integer=True), Symbol('omega_1', real=True), Pow(Add(Mul(Symbol('L', positive=True, integer=True), Pow(Symbol('omega_1', real=True), Integer(2))), Mul(Add(Symbol('sigma2', positive=True), Integer(1)), exp(Mul(Symbol('d', positive=True, integer=True), Pow(Symbol('omega_1', real=True), Integer(2)))))), Integer(-1)))]])",
    'softmax.preconditioner': "Inverse(MatAdd(MatMul(Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Add(Mul(Symbol('d', positive=True, integer=True), Symbol('sigma2', positive=True)), Trace(MatrixSymbol(Str('Sigma'), Symbol('d', positive=True, integer=True), Symbol('d', positive=True, integer=True))))), Identity(Symbol('d', positive=True, integer=True))), MatMul(Add(Integer(1), Pow(Symbol('L', positive=True, integer=True), Integer(-1))), MatrixSymbol(Str('Sigma'), Symbol('d', positive=True, integer=True), Symbol('d', positive=True, integer=True)))), Integer(-1))",
    'softmax.profile_loss': "Add(Mul(Integer(-1), Pow(Symbol('gamma', positive=True), Integer(2)), Pow(Add(Pow(Symbol('gamma', positive=True), Integer(2)), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Add(Symbol('sigma2', positive=True), Integer(1)), sinh(Mul(Symbol('d', positive=True, integer=True), Pow(Symbol('gamma', positive=True), Integer(2)))))), Integer(-1))), Symbol('sigma2', positive=True), Integer(1))",
    'softmax.ratio_bound': "Add(Integer(1), Mul(Pow(Symbol('sigma2', positive=True), Integer(-1)), Pow(Add(Mul(Symbol('sigma2', positive=True), Symbol('xi', positive=True)), Integer(1)), Integer(-1)), Pow(Add(Symbol('sigma2', positive=True), Integer(1), Pow(Symbol('xi', positive=True), Integer(-1))), Integer(-1))))",
    'softmax.single_head_optimum': "MutableDenseMatrix([[Pow(Symbol('d', positive=True, integer=True), Rational(-1, 2))], [Mul(Symbol('L', positive=True, integer=True), Pow(Symbol('d', positive=True, integer=True), Rational(1, 2)), Pow(Add(Symbol('L', positive=True, integer=True), Mul(E, Symbol('d', positive=True, integer=True), Add(Symbol('sigma2', positive=True), Integer(1)))), Integer(-1)))]])",
    'softmax.pair_term': "{'T': Mul(Symbol('mu_a', real=True), Symbol('mu_b', real=True), Add(Mul(Symbol('omega_a', real=True), Symbol('omega_b', real=True)), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Add(Symbol('sigma2', positive=True), Integer(1)), exp(Mul(Symbol('d', positive=True, integer=True), Symbol('omega_a', real=True), Symbol('omega_b', real=True)))))), 'd1': [Mul(Symbol('mu_a', real=True), Symbol('mu_b', real=True), Add(Symbol('omega_b', real=True), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Symbol('d', positive=True, integer=True), Symbol('omega_b', real=True), Add(Symbol('sigma2', positive=True), Integer(1)), exp(Mul(Symbol('d', positive=True, integer=True), Symbol('omega_a', real=True), Symbol('omega_b', real=True)))))), Mul(Symbol('mu_b', real=True), Add(Mul(Symbol('omega_a', real=True), Symbol('omega_b', real=True)), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Add(Symbol('sigma2', positive=True), Integer(1)), exp(Mul(Symbol('d', positive=True, integer=True), Symbol('omega_a', real=True), Symbol('omega_b', real=True))))))], 'd11': [[Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Pow(Symbol('d', positive=True, integer=True), Integer(2)), Symbol('mu_a', real=True), Symbol('mu_b', real=True), Pow(Symbol('omega_b', real=True), Integer(2)), Add(Symbol('sigma2', positive=True), Integer(1)), exp(Mul(Symbol('d', positive=True, integer=True), Symbol('omega_a', real=True), Symbol('omega_b', real=True)))), Mul(Symbol('mu_b', real=True), Symbol('omega_b', real=True), Add(Integer(1), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Symbol('d', positive=True, integer=True), Add(Symbol('sigma2', positive=True), Integer(1)), exp(Mul(Symbol('d', positive=True, integer=True), Symbol('omega_a', real=True), Symbol('omega_b', real=True))))))], [Mul(Symbol('mu_b', real=True), Symbol('omega_b', real=True), Add(Integer(1), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Symbol('d', positive=True, integer=True), Add(Symbol('sigma2', positive=True), Integer(1)), exp(Mul(Symbol('d', positive=True, integer=True), Symbol('omega_a', real=True), Symbol('omega_b', real=True)))))), Integer(0)]], 'd12': [[Mul(Symbol('mu_a', real=True), Symbol('mu_b', real=True), Add(Integer(1), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Pow(Symbol('d', positive=True, integer=True), Integer(2)), Symbol('omega_a', real=True), Symbol('omega_b', real=True), Add(Symbol('sigma2', positive=True), Integer(1)), exp(Mul(Symbol('d', positive=True, integer=True), Symbol('omega_a', real=True), Symbol('omega_b', real=True)))), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Symbol('d', positive=True, integer=True), Add(Symbol('sigma2', positive=True), Integer(1)), exp(Mul(Symbol('d', positive=True, integer=True), Symbol('omega_a', real=True), Symbol('omega_b', real=True)))))), Mul(Symbol('mu_a', real=True), Symbol('omega_b', real=True), Add(Integer(1), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Symbol('d', positive=True, integer=True), Add(Symbol('sigma2', positive=True), Integer(1)), exp(Mul(Symbol('d', positive=True, integer=True), Symbol('omega_a', real=True), Symbol('omega_b', real=True))))))], [Mul(Symbol('mu_b', real=True), Symbol('omega_a', real=True), Add(Integer(1), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Symbol('d', positive=True, integer=True), Add(Symbol('sigma2', positive=True), Integer(1)), exp(Mul(Symbol('d', positive=True, integer=True), Symbol('omega_a', real=True), Symbol('omega_b', real=True)))))), Add(Mul(Symbol('omega_a', real=True), Symbol('omega_b', real=True)), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Add(Symbol('sigma2', positive=True), Integer(1)), exp(Mul(Symbol('d', positive=True, integer=True), Symbol('omega_a', real=True), Symbol('omega_b', real=True)))))]]}",
    'softmax.manifold': "[Mul(Rational(1, 2), Symbol('gamma', positive=True), Pow(Add(Pow(Symbol('gamma', positive=True), Integer(2)), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Add(Symbol('sigma2', positive=True), Integer(1)), sinh(Mul(Symbol('d', positive=True, integer=True), Pow(Symbol('gamma', positive=True), Integer(2)))))), Integer(-1))), Add(Mul(Integer(-1), Pow(Symbol('gamma', positive=True), Integer(2)), Pow(Add(Pow(Symbol('gamma', positive=True), Integer(2)), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Add(Symbol('sigma2', positive=True), Integer(1)), sinh(Mul(Symbol('d', positive=True, integer=True), Pow(Symbol('gamma', positive=True), Integer(2)))))), Integer(-1))), Symbol('sigma2', positive=True), Integer(1))]",
    'softmax.ratio': "[Mul(Integer(2), Symbol('xi', positive=True), Pow(Add(Mul(Symbol('sigma2', positive=True), Symbol('xi', positive=True)), Symbol('xi', positive=True), Integer(1)), Integer(-1)), Pow(Add(Mul(Symbol('sigma2', positive=True), Symbol('xi', positive=True)), Symbol('xi', positive=True), Pow(Add(Mul(Pow(Symbol('sigma2', positive=True), Integer(2)), Pow(Symbol('xi', positive=True), Integer(2))), Mul(Integer(2), Symbol('sigma2', positive=True), Pow(Symbol('xi', positive=True), Integer(2))), Mul(Integer(2), Symbol('sigma2', positive=True), Symbol('xi', positive=True)), Pow(Symbol('xi', positive=True), Integer(2)), Mul(Integer(-1), Integer(2), Symbol('xi', positive=True)), Integer(1)), Rational(1, 2)), Integer(-1)), Integer(-1)), Add(Mul(Pow(Symbol('sigma2', positive=True), Integer(2)), Symbol('xi', positive=True)), Mul(Integer(2), Symbol('sigma2', positive=True), Symbol('xi', positive=True)), Symbol('sigma2', positive=True), Symbol('xi', positive=True))), Add(Integer(1), Mul(Pow(Symbol('sigma2', positive=True), Integer(-1)), Pow(Add(Mul(Symbol('sigma2', positive=True), Symbol('xi', positive=True)), Integer(1)), Integer(-1)), Pow(Add(Symbol('sigma2', positive=True), Integer(1), Pow(Symbol('xi', positive=True), Integer(-1))), Integer(-1)))), Mul(Pow(Add(Mul(Symbol('sigma2', positive=True), Symbol('xi', positive=True)), Symbol('xi', positive=True), Integer(1)), Integer(-1)), Add(Mul(Pow(Symbol('sigma2', positive=True), Integer(2)), Symbol('xi', positive=True)), Mul(Integer(2), Symbol('sigma2', positive=True), Symbol('xi', positive=True)), Symbol('sigma2', positive=True), Symbol('xi', positive=True))), Mul(Rational(1, 2), Pow(Symbol('xi', positive=True), Integer(-1)), Add(Mul(Symbol('sigma2', positive=True), Symbol('xi', positive=True)), Symbol('xi', positive=True), Pow(Add(Mul(Pow(Symbol('sigma2', positive=True), Integer(2)), Pow(Symbol('xi', positive=True), Integer(2))), Mul(Integer(2), Symbol('sigma2', positive=True), Pow(Symbol('xi', positive=True), Integer(2))), Mul(Integer(2), Symbol('sigma2', positive=True), Symbol('xi', positive=True)), Pow(Symbol('xi', positive=True), Integer(2)), Mul(Integer(-1), Integer(2), Symbol('xi', positive=True)), Integer(1)), Rational(1, 2)), Integer(-1)))]",
    'softmax.single_head': "[Pow(Symbol('d', positive=True, integer=True), Rational(-1, 2)), Mul(Symbol('L', positive=True, integer=True), Pow(Symbol('d', positive=True, integer=True), Rational(1, 2)), Pow(Add(Symbol('L', positive=True, integer=True), Mul(E, Symbol('d', positive=True, integer=True), Add(Symbol('sigma2', positive=True), Integer(1)))), Integer(-1))), Mul(Add(Mul(Integer(-1), Symbol('L', positive=True, integer=True)), Mul(Add(Symbol('L', positive=True, integer=True), Mul(E, Symbol('d', positive=True, integer=True), Add(Symbol('sigma2', positive=True), Integer(1)))), Add(Symbol('sigma2', positive=True), Integer(1)))), Pow(Add(Symbol('L', positive=True, integer=True), Mul(E, Symbol('d', positive=True, integer=True), Add(Symbol('sigma2', positive=True), Integer(1)))), Integer(-1)))]",
}
