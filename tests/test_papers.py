"""Each paper is declared once: a fifth paper needs one declaration and its modules, nothing else."""

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import icl_companion
from icl_companion.theory.papers import Paper, builtin_papers, paper, papers

PKG = Path(icl_companion.__file__).resolve().parent
ROOT = PKG.parent
LAYER_DIRS = [ROOT / d for d in ("theory", "numerics", "validation", "figures")] + [PKG]
PREFIXES = {p.prefix for p in builtin_papers()}


def _source_files():
    for d in LAYER_DIRS:
        yield from sorted(d.glob("*.py"))


def test_no_module_hard_codes_the_paper_set():
    """Outside theory/papers.py, no literal or text enumerates three paper prefixes.

    (Two may meet legitimately: "softmax" and "linear" are also the two attention kinds.)
    """
    bad = []
    for f in _source_files():
        if f.name == "papers.py" and f.parent.name == "theory":
            continue
        tree = ast.parse(f.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
                elts = node.keys if isinstance(node, ast.Dict) else node.elts
                found = {e.value for e in elts if isinstance(e, ast.Constant) and e.value in PREFIXES}
                if len(found) >= 3:
                    bad.append(f"{f.name}:{node.lineno}: literal with prefixes {sorted(found)}")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                words = set(node.value.replace(",", " ").split())
                if len(words & PREFIXES) >= 3:
                    bad.append(f"{f.name}:{node.lineno}: text enumerates {sorted(words & PREFIXES)}")
    assert not bad, "\n".join(bad)


def test_builtin_declarations():
    assert [p.prefix for p in builtin_papers()] == list(papers())[:len(builtin_papers())]
    for p in builtin_papers():
        assert (ROOT / p.docs).exists(), p.docs
        assert p.citation().endswith((".", "[reconstructed model]"))
        if p.authors:
            assert p.arxiv and p.year
    assert paper("xattn").reconstructed and "reconstructed" in paper("xattn").citation()
    with pytest.raises(ValueError, match="unknown paper prefix 'nope'; allowed: aim, softmax"):
        paper("nope")
    with pytest.raises(ValueError, match="lower-case identifier"):
        Paper("Bad-Prefix", "", "t")


TOY = {
    "toy_plugin/__init__.py": '''
        from icl_companion.theory.papers import Paper
        PAPER = Paper("toy", "Ada Lovelace, Charles Babbage", "A toy paper on squares", 2026,
                      "2601.00001", "docs/toy.md", summary="squares, in closed form and by Monte Carlo",
                      layer_modules={"theory": ["toy_plugin.theory"], "numerics": ["toy_plugin.numerics"],
                                     "validation": ["toy_plugin.validation"],
                                     "figures": ["toy_plugin.figures"]})
    ''',
    "toy_plugin/theory.py": '''
        import sympy as sp
        from icl_companion.theory.registry import Reference, real, register_symbolic
        X = sp.Symbol("x")
        register_symbolic("toy.square", "x squared", [real("x")], lambda: X**2, lambda: (X,),
                          Reference("toy", "Eq. (1)"))
    ''',
    "toy_plugin/numerics.py": '''
        import numpy as np
        from icl_companion.theory.registry import Reference, Result, real, register
        def _mc(x, seed=0):
            z = np.random.default_rng(0).standard_normal(4000)
            return {"value": float(np.mean((x + z) ** 2) - 1.0), "stderr": 0.1}
        register(Result("toy.square_mc", "x squared by Monte Carlo", (real("x"),), _mc,
                        Reference("toy", "Sec. 2"), status="monte-carlo", outputs=("value", "stderr")))
    ''',
    "toy_plugin/validation.py": '''
        from icl_companion.theory.registry import Reference, evaluate
        from icl_companion.validation.checks import Outcome, check, compare
        @check("toy.square_vs_mc", "closed form vs Monte Carlo", reference=Reference("toy", "Eq. (1)"))
        def _c(quick, seed):
            mc = evaluate("toy.square_mc", x=1.0).value
            return Outcome([compare("x=1", evaluate("toy.square", x=1.0).value, mc["value"],
                                    mc["stderr"])])
    ''',
    "toy_plugin/figures.py": '''
        from icl_companion.figures.registry import FigureData, figure
        from icl_companion.theory.registry import Reference
        def compute(quick, seed):
            return FigureData({"x": [0.0, 1.0, 2.0], "y": [0.0, 1.0, 4.0]})
        def plot(data):
            import matplotlib.pyplot as plt
            fig, ax = plt.subplots()
            ax.plot(data.columns["x"], data.columns["y"])
            return fig
        figure("toy-curve", "the square, drawn", compute, plot, reference=Reference("toy", "Fig. 1"))
    ''',
    "toy_plugin-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: toy-plugin\nVersion: 0.1\n",
    "toy_plugin-0.1.dist-info/entry_points.txt": "[icl_companion.papers]\ntoy = toy_plugin:PAPER\n",
}


def test_a_fifth_paper_needs_one_declaration(tmp_path):
    for rel, text in TOY.items():
        f = tmp_path / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(textwrap.dedent(text).lstrip())
    env = dict(os.environ, PYTHONPATH=str(tmp_path))

    def run(*args):
        r = subprocess.run([sys.executable, "-m", "icl_companion", *args], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r.stdout

    out = run("list", "--paper", "toy")
    assert "toy.square " in out and "toy.square_mc" in out
    assert "toy (Lovelace and Babbage (2026))" in run("--help")
    assert "toy.square_vs_mc" in run("verify", "--list")
    assert "toy-curve" in run("figure", "list")
    assert "1 passed" in run("verify", "toy", "--quick")
    table = subprocess.run(
        [sys.executable, "-c", "from icl_companion import docs; print(docs.papers_table()); "
         "print(docs.results_table('toy')); print(docs.figures_table('toy'))"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert table.returncode == 0, table.stderr
    assert "| `toy` | Ada Lovelace, Charles Babbage (2026). A toy paper on squares." in table.stdout
    assert "| `toy.square` | exact | x squared | Lovelace and Babbage (2026), arXiv:2601.00001, Eq. (1) |" \
        in table.stdout
    assert "| `toy-curve` |" in table.stdout
    run("figure", "toy-curve", "--quick", "--out", "figs")
    assert (tmp_path / "figs" / "toy-curve.png").exists()
