"""Generated outputs of the derivations, one module per paper (see
:mod:`icl_companion.theory.precompute`); regenerate with
``python -m icl_companion.theory.precompute``."""
