"""Generated documentation tables: papers, results, checks and figures, from their declarations.

The README and each ``docs/<prefix>.md`` page hold blocks delimited by

``<!-- generated: KIND [PREFIX] -->`` ... ``<!-- end generated -->``

where KIND is ``papers``, ``results``, ``checks``, ``figures`` or ``not_reproduced``.  :func:`update` rewrites every
block from the registries; the test suite fails when a block is out of date.  Run::

    python -m icl_companion.docs          # rewrite the blocks in README.md and docs/*.md
    python -m icl_companion.docs --check  # exit 1 and name the stale files

>>> print(papers_table().splitlines()[0])
| prefix | paper | docs |
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

__all__ = ["papers_table", "results_table", "checks_table", "figures_table", "not_reproduced_list",
           "render", "update", "doc_files"]

_BLOCK = re.compile(r"(<!-- generated: (\w+)(?: (\w+))? -->\n)(.*?)(<!-- end generated -->)", re.S)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def papers_table() -> str:
    """One row per declared paper: prefix, citation, docs page."""
    from icl_companion.theory.papers import papers

    rows = ["| prefix | paper | docs |", "|---|---|---|"]
    for p in papers().values():
        cite = p.citation() if p.authors else f"{p.title}: {p.summary}."
        if p.reconstructed:
            cite += f" Reconstructed: {p.reconstructed_note}."
        rows.append(f"| `{p.prefix}` | {_cell(cite)} | [{p.docs}]({p.docs}) |")
    return "\n".join(rows)


def results_table(prefix: str | None = None) -> str:
    """Catalogued results: id, status, description, reference."""
    from icl_companion.theory.registry import results

    rows = ["| id | status | description | reference |", "|---|---|---|---|"]
    for r in results(prefix):
        status = r.status + (f" ({r.status_note})" if r.status_note else "")
        rows.append(f"| `{r.id}` | {_cell(status)} | {_cell(r.summary)} | {_cell(r.reference)} |")
    return "\n".join(rows)


def checks_table(prefix: str | None = None) -> str:
    """Verification checks: id, modes, expected outcome, description."""
    from icl_companion.validation.checks import select

    rows = ["| check | modes | expected | description |", "|---|---|---|---|"]
    for c in select([prefix] if prefix else []):
        exp = f"not reproduced ([record]({_rel(c.docs)}))" if c.expect == "not-reproduced" \
            else "pass"
        rows.append(f"| `{c.id}` | {'quick, full' if c.quick else 'full'} | {exp} | "
                    f"{_cell(c.description)} |")
    return "\n".join(rows)


def figures_table(prefix: str | None = None) -> str:
    """Figures: name, description, reference."""
    from icl_companion.figures.registry import REGISTRY

    rows = ["| figure | description | reference |", "|---|---|---|"]
    for f in REGISTRY.all(prefix):
        rows.append(f"| `{f.name}` | {_cell(f.description)} | {_cell(f.reference)} |")
    return "\n".join(rows)


def not_reproduced_list() -> str:
    """Declared non-reproductions: one bullet per check, with its docs section."""
    from icl_companion.validation.checks import select

    items = [f"- `{c.id}`: {_cell(c.description)} ([{c.docs}]({c.docs}))"
             for c in select() if c.expect == "not-reproduced"]
    return "\n".join(items) if items else "- none"


def _rel(path: str) -> str:
    # docs pages link to each other by file name; the README links by repository path
    return path.split("docs/", 1)[-1] if path.startswith("docs/") else path


_KINDS = {"papers": lambda p: papers_table(), "results": results_table,
          "checks": checks_table, "figures": figures_table,
          "not_reproduced": lambda p: not_reproduced_list()}


def render(text: str) -> str:
    """``text`` with every generated block rewritten."""

    def sub(m):
        kind, prefix = m.group(2), m.group(3)
        if kind not in _KINDS:
            raise ValueError(f"unknown generated block kind {kind!r}; known: {', '.join(_KINDS)}")
        return m.group(1) + _KINDS[kind](prefix) + "\n" + m.group(5)

    return _BLOCK.sub(sub, text)


def doc_files(root: Path) -> list[Path]:
    return [root / "README.md"] + sorted((root / "docs").rglob("*.md"))


def update(root: Path, check: bool = False) -> list[Path]:
    """Rewrite (or, with ``check``, only compare) the blocks; return the files that differ."""
    stale = []
    for f in doc_files(root):
        if not f.exists():
            continue
        old = f.read_text()
        new = render(old)
        if new != old:
            stale.append(f)
            if not check:
                f.write_text(new)
    return stale


def main(argv=None) -> int:  # pragma: no cover - exercised by the test suite through update()
    argv = sys.argv[1:] if argv is None else argv
    root = Path(__file__).resolve().parents[1]
    stale = update(root, check="--check" in argv)
    for f in stale:
        print(f"{'stale' if '--check' in argv else 'updated'}: {f.relative_to(root)}")
    return 1 if stale and "--check" in argv else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
