"""The docstring examples of every module are executed specifications (doctest).

The layers install as ``icl_companion.<layer>`` (setup.cfg ``package_dir``), so the modules are
collected by their import name here rather than by pytest's file-based ``--doctest-modules``, which
would import ``theory/aim.py`` a second time under another name.
"""

import doctest
import importlib
import pkgutil

import pytest

import icl_companion

LAYERS = ("icl_companion", "icl_companion.theory", "icl_companion.numerics")


def _modules():
    names = []
    for layer in LAYERS:
        pkg = importlib.import_module(layer)
        names.append(layer)
        names += [f"{layer}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__)
                  if not m.ispkg and m.name != "__main__"]
    return sorted(set(names))


@pytest.mark.parametrize("name", _modules())
def test_module_doctests(name):
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                          verbose=False)
    assert res.failed == 0, f"{res.failed} of {res.attempted} doctest examples failed in {name}"


def test_doctests_are_collected():
    assert "icl_companion.theory.registry" in _modules()
    assert icl_companion.__name__ == "icl_companion"
