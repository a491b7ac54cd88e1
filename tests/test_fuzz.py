"""Fuzz every catalogued result over its declared domain through ``iclc eval`` (issue 16).

Inputs are drawn by hypothesis from each parameter's ``kind`` and ``domain`` (edges included: the
interval ends or their neighbours, 0, 5e-324, 1e-300 ... 1.8e308, huge integers), and every
invocation must keep the contract of :mod:`fuzzing` (exit 0 with a finite in-range value and
``success``, or one ``error:`` line with exit 2, or one ``warning:`` line with exit 1 for an honest
solver cap; never a traceback, a hang, LAPACK output or a caught out-of-range value).

The default run is derandomised and small (well under a minute); ``pytest -m slow`` runs the
longer random profile.  A sample also goes through the real console script.
"""

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from fuzzing import eval_argv, judge, Outcome, run_inprocess
from icl_companion.theory.registry import get, results

IDS = [r.id for r in results()]

_COMMON = dict(deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
               suppress_health_check=list(HealthCheck))
DEFAULT = settings(max_examples=12, derandomize=True, **_COMMON)
LONG = settings(max_examples=150, derandomize=False, **_COMMON)


def _check(argv, timeout):
    o = run_inprocess(argv, timeout=timeout)
    assert o.ok, (" ".join(argv), o.code, o.problems, o.stderr[-300:])


@pytest.mark.parametrize("rid", IDS)
def test_fuzz_eval_default(rid):
    @DEFAULT
    @given(argv=eval_argv(get(rid)))
    def run(argv):
        _check(argv, timeout=20.0)

    run()


@pytest.mark.slow
@pytest.mark.parametrize("rid", IDS)
def test_fuzz_eval_long(rid):
    @LONG
    @given(argv=eval_argv(get(rid)))
    def run(argv):
        _check(argv, timeout=60.0)

    run()


def test_fuzz_reaches_the_edges():
    """The strategies really produce the issue's failing inputs (not only middling values)."""
    from fuzzing import int_edges, real_edges

    dom = get("linear.ridge_bayes_risk_asym").param("xi").domain
    edges = real_edges(dom)
    assert 5e-324 in edges and 1e-8 in edges and 1.7976931348623157e308 in edges and 0 not in edges
    assert 10**308 in int_edges(get("linear.gd_risk").param("d").domain)


def test_judge_flags_each_class_of_failure():
    def o(code, out="", err="", fd1=""):
        return judge(Outcome(["eval"], code, out, err, fd1, 0.0))

    ok = '{"value": 1.0, "info": {}}'
    assert o(0, ok) == [] and o(2, "", "error: x\n") == []
    assert o(0, '{"value": null, "info": {}}')[0].startswith("non-finite value")
    assert "hang" in o("hang")
    assert o(3, "", "error: internal error ...")[0].startswith("exit 3")
    assert o(2, "", "Traceback (most recent call last):\nerror: x") != []
    assert o(2, "", "error: x\n", " ** On entry to DLASCL")[0].startswith("output on file")
    assert o(1, '{"value": 1, "info": {"status": 5}}', "warning: out of range\n") != []
    assert o(1, '{"value": 1, "info": {"status": 4}}', "warning: not certified\n") == []


@settings(max_examples=3, derandomize=True, **_COMMON)
@given(data=st.data())
def test_fuzz_console_script_sample(data, iclc):
    """The installed ``iclc`` in a subprocess: the same contract, with real file descriptors."""
    rid = data.draw(st.sampled_from(IDS))
    argv = data.draw(eval_argv(get(rid)))
    r = iclc(*argv, timeout=120)
    problems = judge(Outcome(argv, r.returncode, r.stdout, r.stderr, "", 0.0))
    assert not problems, (" ".join(argv), r.returncode, problems, r.stderr[-300:])
