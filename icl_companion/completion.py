"""Completion of result identifiers: in the shell (argcomplete) and in IPython / Jupyter.

* shell: ``eval "$(register-python-argcomplete iclc)"`` (the ``notebook`` extra installs
  argcomplete); ``iclc eval aim.<TAB>`` completes ids, ``iclc eval aim.mmse <TAB>`` input names;
* IPython: ``icl.get("aim.<TAB>")`` (also ``evaluate`` and ``sweep``) through a completer registered
  when the package is imported in IPython, ``icl.results["aim.<TAB>"]`` and attribute access
  ``icl.results.aim.mmse``.

Identifiers come from the generated index (no paper module is imported while completing).
"""

from __future__ import annotations

import re
import sys

__all__ = ["result_ids", "complete_id", "complete_inputs", "ipython_matcher",
           "register_ipython"]


def result_ids() -> list[str]:
    from icl_companion.theory.registry import listing

    return [i for i, _, _ in listing()]


def complete_id(prefix: str, **_) -> list[str]:
    """argcomplete completer for a result id."""
    return [i for i in result_ids() if i.startswith(prefix)]


def complete_inputs(prefix: str, parsed_args=None, **_) -> list[str]:
    """argcomplete completer for ``name=value`` inputs of the id given before."""
    from icl_companion.theory.registry import get

    try:
        r = get(parsed_args.id)
    except (ValueError, AttributeError):
        return []
    given = {t.partition("=")[0] for t in (parsed_args.inputs or [])}
    return [f"{p.name}=" for p in r.params if p.name not in given and
            f"{p.name}=".startswith(prefix)]


_CALL = re.compile(r"""\b(?:get|evaluate|sweep)\(\s*["']([\w.]*)$""")


_ATTR = re.compile(r"\bresults\.(\w*)(?:\.(\w*))?$")


def ipython_matcher(text: str) -> list[str]:
    """IPython matcher: ids after ``get("``, ``evaluate("`` or ``sweep("``, and the attributes
    ``results.<paper>.<name>`` (IPython does not evaluate them to list their names)."""
    ip = _ipython()
    line = getattr(getattr(ip, "Completer", None), "text_until_cursor", "") or ""
    m = _CALL.search(line)
    if m:
        return [i for i in result_ids() if i.startswith(m.group(1))]
    m = _ATTR.search(text)
    if not m:
        return []
    from icl_companion.theory.papers import papers

    if m.group(2) is None:  # results.<paper>
        stem = text[: len(text) - len(m.group(1))]
        return [stem + p for p in papers() if p.startswith(m.group(1))]
    stem = text[: len(text) - len(m.group(2))]
    return [stem + i.partition(".")[2] for i in result_ids()
            if i.startswith(f"{m.group(1)}.{m.group(2)}")]


def _ipython():
    if "IPython" not in sys.modules:
        return None
    try:
        return sys.modules["IPython"].get_ipython()
    except AttributeError:
        return None


def register_ipython() -> bool:
    """Add :func:`ipython_matcher` to the running IPython's completer (once)."""
    ip = _ipython()
    if ip is None or not hasattr(ip, "Completer"):
        return False
    if ipython_matcher not in ip.Completer.custom_matchers:
        ip.Completer.custom_matchers.append(ipython_matcher)
    return True


def load_ipython_extension(ip) -> None:
    """``%load_ext icl_companion.completion`` (done automatically when the package is imported
    in IPython)."""
    register_ipython()
