"""Inputs inside a result's declared domain (and its cross-input check), for tests."""

import itertools
import math

_REALS = (0.37, 1.3, 2.2, 0.05)
_INTS = (3, 4, 6, 8, 12, 2, 1)


def _candidates(p):
    if p.kind == "choice":
        return list(p.domain)
    if not p.required:
        return [p.default]
    lo, hi = p.domain.lo, p.domain.hi
    if p.kind == "integer":
        vals = [v for v in _INTS if v in p.domain]
        return vals or [int(lo)]
    if p.kind == "real":
        vals = [lo + v if math.isfinite(lo) else v for v in _REALS]
        vals = [v for v in vals if v in p.domain] or [(lo + hi) / 2]
        return vals
    return [[0.5, 1.0]]


def sample_inputs(result, tries: int = 400) -> dict:
    """The first combination of candidate values that passes ``result.validate``."""
    cands = [_candidates(p) for p in result.params]
    for combo in itertools.islice(itertools.product(*cands), tries):
        raw = {p.name: v for p, v in zip(result.params, combo)}
        try:
            return result.validate(raw)
        except ValueError:
            continue
    raise AssertionError(f"no valid sample inputs found for {result.id}")
