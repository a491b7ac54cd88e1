"""Generated outputs of the derivations of paper ``mmicl``: do not edit.

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
DERIVATION_SOURCES = {'icl_companion.theory.closed_form': '80e59ce93272112b211ba4817e9df0c021cafbbebccf76e35cdfd7b0da31fe65', 'icl_companion.theory.mmicl': 'e2c640768bdc9f4ff941a20bca4c0dba822b0b1cd3f6caea5c27d75e04b66c9c', 'icl_companion.theory.precompute': '213bb11cf15fced1f68f2f1468bd6bd1c1a9ecfe0115de357a96a19a3860c025'}
CATALOGUE_SOURCES = {'icl_companion.numerics.mmicl_data': 'aeb7095b48c7db3e22ac2160f616b7f0ecf5431f2cabdf676627261b50efcbad', 'icl_companion.numerics.mmicl_metrics': 'af6f79c7bb81b3c43567c1473918e5bc1eed138908f1a01255c5e358e76c4356', 'icl_companion.theory.closed_form': '80e59ce93272112b211ba4817e9df0c021cafbbebccf76e35cdfd7b0da31fe65', 'icl_companion.theory.mmicl': 'e2c640768bdc9f4ff941a20bca4c0dba822b0b1cd3f6caea5c27d75e04b66c9c'}
INDEX = {
    'mmicl.bursty_label_stats': ('icl_companion.numerics.mmicl_data', 'exact', 'bursty sequences of trained Zipf classes: E[# distinct labels], ideal induction-head TILA E[1/|M|], uniform-guess CLA, copy-slot accuracy'),
    'mmicl.copy_slot_accuracy': ('icl_companion.numerics.mmicl_data', 'exact', "accuracy of copying a random context slot's label (= E|M|/N), Zipf classes, bursty/non-bursty/novel mixture"),
    'mmicl.copy_slot_uniform': ('icl_companion.theory.mmicl', 'exact', "accuracy of copying a random context slot's label (bursty, uniform labels, e.g. the IC set)"),
    'mmicl.distinct_label_accuracy': ('icl_companion.theory.mmicl', 'exact', 'accuracy of picking among the distinct context labels (bursty, uniform labels) and E[# distinct labels]'),
    'mmicl.ideal_tila': ('icl_companion.theory.mmicl', 'exact', 'largest expected TILA (= IndStrength): an ideal induction head on bursty uniform-label sequences, E[1/|M|]'),
    'mmicl.novel_m2_classes': ('icl_companion.theory.mmicl', 'exact', 'number of novel M2 classes in a multimodal ICL set'),
    'mmicl.p_query_in_context': ('icl_companion.numerics.mmicl_data', 'exact', "probability that the query class appears in context (training mixture; 'nonbursty' = the IW set)"),
    'mmicl.param_count': ('icl_companion.theory.mmicl', 'exact', "trainable parameters and width of the paper's decoder, by positional scheme"),
    'mmicl.random_guess_cla': ('icl_companion.theory.mmicl', 'exact', 'CLA of a uniform label guess on bursty uniform-label sequences'),
}
EVALUATORS = {
    'mmicl.copy_slot_uniform': 'interval',
    'mmicl.ideal_tila': 'interval',
    'mmicl.random_guess_cla': 'interval',
}


def _declarations():
    from icl_companion.theory.registry import (Bound, Interval, Param, Reference, REQUIRED, RiskBounds)

    return {
    }


DECLARATIONS = _declarations()


def f_mmicl_copy_slot_uniform(L, N, B):
    return B/N + (-B/N + 1)/L


def mp_mmicl_copy_slot_uniform(L, N, B):
    return B/N + (-B/N + 1)/L


def f_mmicl_ideal_tila(L, N, B):
    return L*(1 - (1 - 1/L)**(N/B))/N


def mp_mmicl_ideal_tila(L, N, B):
    return L*(1 - (1 - 1/L)**(N/B))/N


def f_mmicl_random_guess_cla(L, N, B):
    return 1 - (1 - 1/L)**(N/B)


def mp_mmicl_random_guess_cla(L, N, B):
    return 1 - (1 - 1/L)**(N/B)

FUNCTIONS = {
    'mmicl.copy_slot_uniform': f_mmicl_copy_slot_uniform,
    'mmicl.ideal_tila': f_mmicl_ideal_tila,
    'mmicl.random_guess_cla': f_mmicl_random_guess_cla,
}

MPMATH = {
    'mmicl.copy_slot_uniform': mp_mmicl_copy_slot_uniform,
    'mmicl.ideal_tila': mp_mmicl_ideal_tila,
    'mmicl.random_guess_cla': mp_mmicl_random_guess_cla,
}

CONSTANTS = {
}

EXPRESSIONS = {
    'mmicl.copy_slot_uniform': "Add(Mul(Symbol('B', positive=True, integer=True), Pow(Symbol('N', positive=True, integer=True), Integer(-1))), Mul(Pow(Symbol('L', positive=True, integer=True), Integer(-1)), Add(Mul(Integer(-1), Symbol('B', positive=True, integer=True), Pow(Symbol('N', positive=True, integer=True), Integer(-1))), Integer(1))))",
    'mmicl.ideal_tila': "Mul(Symbol('L', positive=True, integer=True), Pow(Symbol('N', positive=True, integer=True), Integer(-1)), Add(Integer(1), Mul(Integer(-1), Pow(Add(Integer(1), Mul(Integer(-1), Pow(Symbol('L', positive=True, integer=True), Integer(-1)))), Mul(Pow(Symbol('B', positive=True, integer=True), Integer(-1)), Symbol('N', positive=True, integer=True))))))",
    'mmicl.random_guess_cla': "Add(Integer(1), Mul(Integer(-1), Pow(Add(Integer(1), Mul(Integer(-1), Pow(Symbol('L', positive=True, integer=True), Integer(-1)))), Mul(Pow(Symbol('B', positive=True, integer=True), Integer(-1)), Symbol('N', positive=True, integer=True)))))",
}
