"""Generated documentation tables: papers, results, checks and figures, from their declarations.

The README and each ``docs/<prefix>.md`` page hold blocks delimited by

``<!-- generated: KIND [PREFIX] -->`` ... ``<!-- end generated -->``

where KIND is ``papers``, ``results``, ``checks``, ``figures``, ``not_reproduced`` or
``quick_numbers`` (the numbers of a paper's quick figures, from the snapshot
``docs/data/<prefix>-quick.json`` of a real run: quoted numbers are never typed).  :func:`update`
rewrites every block from the registries and snapshots; the test suite fails when a block is out of
date.  Run::

    python -m icl_companion.docs          # rewrite the blocks in README.md and docs/*.md
    python -m icl_companion.docs --check  # exit 1 and name the stale files
    python -m icl_companion.docs --snapshot mmicl DIR   # snapshot the CSVs of `iclc figure
                                                        # mmicl-* --quick --out DIR`

>>> print(papers_table().splitlines()[0])
| prefix | paper | docs |
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

__all__ = ["papers_table", "results_table", "checks_table", "figures_table", "not_reproduced_list",
           "quick_numbers", "snapshot", "QUICK_TABLES", "render", "update", "doc_files"]

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
    """Figures: name, the claim it shows (its description if it states none), reference."""
    from icl_companion.figures.registry import REGISTRY

    rows = ["| figure | claim | reference |", "|---|---|---|"]
    for f in REGISTRY.all(prefix):
        rows.append(f"| `{f.name}` | {_cell(f.claim or f.description)} | {_cell(f.reference)} |")
    return "\n".join(rows)


def not_reproduced_list() -> str:
    """Declared non-reproductions: one bullet per check, with its docs section."""
    from icl_companion.validation.checks import select

    items = [f"- `{c.id}`: {_cell(c.description)} ([{c.docs}]({c.docs}))"
             for c in select() if c.expect == "not-reproduced"]
    return "\n".join(items) if items else "- none"


#: per figure, the rows (``column == value`` filters, any value of a tuple) and the columns quoted
#: from its quick run in the docs
QUICK_TABLES = {
    "mmicl-pe": ({}, ("pos", "K", "IC", "IW")),
    "mmicl-asymmetry": ({"panel": ("vs K2", "vs K2 (final)")},
                        ("init", "K2", "step", "IC", "IW")),
    "mmicl-knockout": ({}, ("model", "condition", "acc")),
}
_ROOT = Path(__file__).resolve().parents[1]


def _snapshot_path(prefix: str) -> Path:
    return _ROOT / "docs" / "data" / f"{prefix}-quick.json"


def snapshot(prefix: str, out_dir) -> Path:
    """Store the tables of ``prefix``'s quick figures written into ``out_dir`` (their CSVs, as
    written) with their provenance, for :func:`quick_numbers`."""
    import csv
    import json

    from icl_companion.numerics.io import write_json

    out_dir = Path(out_dir)
    figs = {}
    for name in sorted(n for n in QUICK_TABLES if n.startswith(f"{prefix}-")):
        meta = json.loads((out_dir / f"{name}.json").read_text())
        if meta.get("quick") is not True:
            raise ValueError(f"{out_dir}/{name}.json is not a quick run")
        rows = list(csv.DictReader((out_dir / f"{name}.csv").read_text().splitlines()))
        figs[name] = {"git_commit": meta["git_commit"], "seed": meta["seed"],
                      "command": " ".join(meta["command"]), "rows": rows}
    return write_json(_snapshot_path(prefix), figs)


def _fmt(v: str) -> str:
    try:
        f = float(v)
    except ValueError:
        return _cell(v)
    return str(int(f)) if f.is_integer() and abs(f) >= 2 else f"{f:.3f}"


def quick_numbers(prefix: str | None = None) -> str:
    """The quoted numbers of ``prefix``'s quick figures: one table per figure from the snapshot of a
    real run (:func:`snapshot`), with the commit and command that produced it."""
    import json

    snap = json.loads(_snapshot_path(prefix).read_text())
    out = []
    for name, (where, cols) in QUICK_TABLES.items():
        if name not in snap:
            continue
        f = snap[name]
        rows = [r for r in f["rows"] if all(r[k] in (v if isinstance(v, tuple) else (v,))
                                            for k, v in where.items())]
        out.append(f"`{name}` (`{f['command']}`, seed {f['seed']}, commit "
                   f"`{f['git_commit'][:12]}`):\n")
        out.append("| " + " | ".join(cols) + " |")
        out.append("|" + "---|" * len(cols))
        out += ["| " + " | ".join(_fmt(r[c]) for c in cols) + " |" for r in rows]
        out.append("")
    return "\n".join(out).rstrip()


def _rel(path: str) -> str:
    # docs pages link to each other by file name; the README links by repository path
    return path.split("docs/", 1)[-1] if path.startswith("docs/") else path


_KINDS = {"papers": lambda p: papers_table(), "results": results_table,
          "checks": checks_table, "figures": figures_table,
          "not_reproduced": lambda p: not_reproduced_list(), "quick_numbers": quick_numbers}


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
    if argv[:1] == ["--snapshot"]:
        print(f"wrote {snapshot(argv[1], argv[2])}")
    stale = update(root, check="--check" in argv)
    for f in stale:
        print(f"{'stale' if '--check' in argv else 'updated'}: {f.relative_to(root)}")
    return 1 if stale and "--check" in argv else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
