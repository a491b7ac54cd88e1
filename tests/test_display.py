"""Jupyter displays, the papers' symbols and tab completion of result ids."""

import os
import subprocess
import sys

import pytest

import icl_companion as icl
from icl_companion.theory.display import latex, mathtext, symbol_latex


@pytest.mark.parametrize("name, tex", [
    ("sigma2", r"\sigma^2"), ("tau2", r"\tau^2"), ("eta_star", r"\eta^*"),
    ("alpha_bar", r"\bar{\alpha}"), ("alphabar", r"\bar{\alpha}"), ("rho", r"\rho"),
    ("Deltabar", r"\bar{\Delta}"), ("lambda1", r"\lambda_{1}"), ("m_lo", r"m_{\mathrm{lo}}"),
    ("d", "d"), ("gen_error", r"\mathrm{gen\_error}"), ("alpha_bar_c", r"\bar{\alpha}_{c}")])
def test_symbols(name, tex):
    assert symbol_latex(name) == tex and mathtext(name) == f"${tex}$"


def test_latex_of_expressions_uses_the_symbols():
    tex = icl.get("softmax.eta_star").latex()
    assert r"\sigma^2" in tex and r"\sigma_{2}" not in tex
    assert r"\sigma^2" in latex(icl.get("linear.gd_risk").sympy_expr())


def test_result_and_evaluation_displays():
    r = icl.get("aim.alpha_pr")
    html = r._repr_html_()
    assert "aim.alpha_pr" in html and r"\(\rho\)" in html and "arxiv.org/abs/2506.01582" in html
    assert r._repr_latex_().startswith("$$") and r"\rho" in r._repr_latex_()
    num = icl.get("aim.denoising_mmse")
    assert num._repr_latex_() is None and "<pre>" in num._repr_html_()
    ev = icl.evaluate("aim.mmse", alpha=0.05, rho=0.5, T=2)
    h = ev._repr_html_()
    assert "trusted" in h and "nit = " in h and r"\(\mathrm{MMSE}\)" in h
    bad = icl.get("aim.mmse").wrap(ev.inputs, {"mmse": 2.0, "delta": 1.0, "alpha_pr": 0.1,
                                               "success": False, "status": 4, "nit": 3,
                                               "residual": 1.0, "message": "did not converge"})
    assert "NOT TRUSTED" in bad._repr_html_() and "not trusted" in bad._repr_latex_()
    hp = icl.evaluate("softmax.eta_star", d=5, L=40, sigma2=0.1, dps=40)
    assert "0.8791208791208791208791208791208791208791" in hp._repr_latex_()


def test_check_reports_display_a_table():
    from icl_companion.validation.checks import CheckReport, Reports, compare

    rep = CheckReport("linear.x", "a check", "failed", 0.1, True, 0,
                      [compare("m", 1.0, 1.05, stderr=0.01)], notes=["why"])
    rs = Reports([rep])
    html = rs._repr_html_()
    assert not rs.passed and "tolerance rule" in html and "4 x standard error" in html
    assert "&#10007;" in html and "1 failed" in repr(rs)


def test_attribute_and_key_access():
    assert icl.results.aim.mmse is icl.get("aim.mmse")
    assert icl.results["linear.gd_risk"] is icl.get("linear.gd_risk")
    assert "mmse" in dir(icl.results.aim) and "aim" in dir(icl.results)
    assert "aim.mmse" in icl.results._ipython_key_completions_()
    assert [r.id for r in icl.results("linear")][0] == "linear.gd_eta_star"
    with pytest.raises(AttributeError):
        icl.results.aim.no_such_result


def test_ipython_completes_ids():
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_cell("import icl_companion as icl")
    ip.run_line_magic("load_ext", "icl_companion.completion")  # this package was imported first
    for line, want in [('icl.get("aim.mm', "aim.mmse"),
                       ("icl.evaluate('linear.gd_r", "linear.gd_risk"),
                       ("icl.results.aim.mm", "icl.results.aim.mmse")]:
        assert want in ip.Completer.complete(line_buffer=line, cursor_pos=len(line))[1], line


def test_shell_completion_with_argcomplete():
    pytest.importorskip("argcomplete")
    env = dict(os.environ, _ARGCOMPLETE="1", _ARGCOMPLETE_IFS="\n", COMP_LINE="iclc eval aim.mm",
               COMP_POINT="16")
    # argcomplete writes the completions to file descriptor 8
    out = subprocess.run(["bash", "-c", f"{sys.executable} -m icl_companion 8>&1 9>/dev/null"],
                         env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert "aim.mmse" in out.stdout.split("\n"), out
