"""Imports flow one way: theory <- numerics <- validation <- figures (DESIGN.md).

``theory`` and ``numerics`` never import torch or matplotlib.  A later layer may import an earlier
one, never the reverse; the only exceptions are presentation hooks imported lazily at call time,
listed here with their reason.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = {"theory": 0, "numerics": 1, "validation": 2, "figures": 3}

# (file, imported module): lazy, call-time imports from a later layer, each with its reason
ALLOWED_UPWARD = {
    # SweepResult.plot() / its Jupyter display draw with the figures layer's plotting helper;
    # numerics itself never imports matplotlib
    ("numerics/sweep.py", "icl_companion.figures.sweep_plot"),
    # the precompute script writes its generated modules with the atomic writer of numerics.io
    ("theory/precompute.py", "icl_companion.numerics.io"),
}


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            mods = [node.module]
        else:
            continue
        for m in mods:
            yield node.lineno, m, id(node) in top


def test_imports_flow_one_way():
    bad = []
    for layer, rank in ORDER.items():
        for f in sorted((ROOT / layer).rglob("*.py")):
            rel = str(f.relative_to(ROOT))
            for line, mod, module_level in _imports(f):
                parts = mod.split(".")
                if parts[0] in ("torch", "matplotlib") and rank <= ORDER["numerics"]:
                    bad.append(f"{rel}:{line}: {layer} imports {mod}")
                if (parts[0] == "icl_companion" and len(parts) > 1 and parts[1] in ORDER
                        and ORDER[parts[1]] > rank):
                    if module_level or (rel, mod) not in ALLOWED_UPWARD:
                        bad.append(f"{rel}:{line}: {layer} imports {mod}")
    assert not bad, "\n".join(bad)


def test_allowed_exceptions_still_exist():
    """An exception that no longer occurs is removed from the list (so it cannot hide a new one)."""
    seen = set()
    for rel, mod in ALLOWED_UPWARD:
        seen |= {(rel, m) for _, m, _ in _imports(ROOT / rel) if m == mod}
    assert seen == ALLOWED_UPWARD
