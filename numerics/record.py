"""One record vocabulary for every solver and simulation: SciPy's ``OptimizeResult`` fields.

Every iterative computation of the package (fixed points, roots, state evolution, GAMP, gradient
flows, trained models) returns a record with at least

``success`` (bool, or a bool array for batched solves), ``status`` (int; 0 = success, see
:data:`STATUS`), ``message`` (str), ``nit`` (iterations, steps or function evaluations) and
``residual`` (the quantity the stopping rule looked at, ``nan`` when there is none),

plus problem-specific fields and, where it is kept, ``history``.  A catalogued result's
:class:`~icl_companion.theory.registry.Evaluation` separates these diagnostics (``ev.info``) from
its value(s) (``ev.value``).

>>> r = make_record(SolverRecord, success=False, nit=20, residual=0.5, status=1, x=1.0)
>>> r.success, r.status, r.message, r.nit
(False, 1, 'iteration cap reached', 20)
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import OptimizeResult

from icl_companion.theory.registry import INFO_KEYS, SOLVER_STATUS

__all__ = ["SolverRecord", "STATUS", "REQUIRED", "make_record", "diagnostics"]

#: The fields every record carries (``Evaluation.info`` of a catalogued result has the same keys).
REQUIRED = INFO_KEYS

#: ``status`` codes shared by all solvers (the message defaults to the description).
STATUS = SOLVER_STATUS


class SolverRecord(OptimizeResult):
    """Base of every solver/simulation record: ``success, status, message, nit, residual``."""


def make_record(cls: type = SolverRecord, *, success, nit, residual, status=None, message=None,
                **fields) -> OptimizeResult:
    """Build a record of class ``cls`` with the shared fields filled consistently.

    ``status`` defaults to 0 on success and 4 otherwise (elementwise for batched solves);
    ``message`` defaults to the description of ``status``.
    """
    if np.ndim(success) == 0:
        success = bool(success)
        if status is None:
            status = 0 if success else 4
        status = int(status)
        if message is None:
            message = STATUS.get(status, "did not converge")
        nit = int(nit) if np.ndim(nit) == 0 else nit
        residual = float(residual) if np.ndim(residual) == 0 else residual
    else:
        success = np.asarray(success, dtype=bool)
        if status is None:
            status = np.where(success, 0, 4)
        if message is None:
            message = "converged" if success.all() else (
                f"{int((~success).sum())} of {success.size} points did not converge")
    return cls(success=success, status=status, message=message, nit=nit, residual=residual,
               **fields)


def diagnostics(rec) -> dict:
    """The shared fields of ``rec`` as plain Python values (scalars only)."""
    out = {}
    for k in REQUIRED:
        v = rec[k] if isinstance(rec, dict) else getattr(rec, k)
        out[k] = v.item() if hasattr(v, "item") and np.ndim(v) == 0 else v
    return out
