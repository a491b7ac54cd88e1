"""References a reader can open: every result, check and figure cites the paper (arXiv id plus the
place in it, or "not numbered in the sources") and/or a derivation page of this repository, whose
anchors exist; nothing cites the project's internal working notes."""

import re
import unicodedata
from pathlib import Path

import pytest

from icl_companion.theory.papers import papers
from icl_companion.theory.registry import NOT_NUMBERED, RESULTS, Reference

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("theory", "numerics", "validation", "figures", "icl_companion", "docs", "README.md")
TEXT_SUFFIXES = {".py", ".md", ".cfg", ".toml", ".txt", ".mplstyle", ".rst"}
#: The internal notes users do not have; ``hexdigest`` (hashlib) is not a citation.
FORBIDDEN = re.compile(r"digest|shared/papers", re.IGNORECASE)
ANCHOR_LINK = re.compile(r"\]\(([^)#\s]*\.md)#([^)\s]+)\)")


def _files():
    for name in SCANNED:
        p = ROOT / name
        if p.is_file():
            yield p
            continue
        for f in sorted(p.rglob("*")):
            if f.is_file() and f.suffix in TEXT_SUFFIXES and "__pycache__" not in f.parts:
                yield f


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped (letters,
    digits, ``_``, ``-`` and spaces kept), spaces turned into hyphens."""
    text = unicodedata.normalize("NFC", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set:
    """Anchors of every heading of ``page`` (duplicates get ``-1``, ``-2``... as on GitHub);
    headings inside fenced code blocks are not headings."""
    out, seen, fenced = set(), {}, False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        m = None if fenced else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            slug = github_slug(m.group(1))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def _all_entries():
    from icl_companion.figures.registry import REGISTRY as FIGURES
    from icl_companion.validation.checks import REGISTRY as CHECKS

    out = [("result", r.id, r.reference) for r in RESULTS.all()]
    out += [("check", c.id, c.reference) for c in CHECKS.all()]
    out += [("figure", f.id, f.reference) for f in FIGURES.all()]
    return out


ENTRIES = _all_entries()


def test_slug_matches_github():
    assert github_slug("Support edges") == "support-edges"
    assert github_slug("Multi-task: separate debiased GD") == "multi-task-separate-debiased-gd"
    assert github_slug("The gamma to zero limit and the 1/L gap") == \
        "the-gamma-to-zero-limit-and-the-1l-gap"


def test_no_file_cites_the_internal_notes():
    bad = []
    for f in _files():
        for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if FORBIDDEN.search(line.replace("hexdigest", "")):
                bad.append(f"{f.relative_to(ROOT)}:{i}: {line.strip()[:100]}")
    assert not bad, "references to the internal notes:\n" + "\n".join(bad)


def test_registries_are_populated():
    kinds = {k for k, _, _ in ENTRIES}
    assert kinds == {"result", "check", "figure"}
    assert len(ENTRIES) > 80


@pytest.mark.parametrize("kind, id, ref", ENTRIES, ids=[f"{k}:{i}" for k, i, _ in ENTRIES])
def test_every_entry_has_an_openable_reference(kind, id, ref):
    assert isinstance(ref, Reference), f"{kind} {id}: no Reference"
    assert ref.paper in papers(), f"{kind} {id}: undeclared paper {ref.paper!r}"
    assert ref.where.strip() or ref.derivation.strip(), \
        f"{kind} {id}: neither the place in the paper nor a derivation page"
    text = " ".join([ref.where, ref.derivation, *ref.cites])
    assert not FORBIDDEN.search(text), f"{kind} {id}: cites the internal notes: {text}"
    if ref.paper != "linear":  # the shared baselines have no paper of their own
        assert ref.where.strip(), f"{kind} {id}: say where in the paper, or {NOT_NUMBERED!r}"
    if ref.derivation:
        path, _, anchor = ref.derivation.partition("#")
        assert path.startswith("docs/derivations/") and path.endswith(".md"), ref.derivation
        page = ROOT / path
        assert page.is_file(), f"{kind} {id}: {path} does not exist"
        assert anchor, f"{kind} {id}: {ref.derivation} has no #anchor"
        assert anchor in anchors(page), f"{kind} {id}: no heading with anchor #{anchor} in {path}"


def test_every_derivation_page_is_cited():
    cited = {r.derivation.partition("#")[0] for _, _, r in ENTRIES if r.derivation}
    pages = {f"docs/derivations/{p.name}" for p in (ROOT / "docs" / "derivations").glob("*.md")}
    assert pages and pages <= cited, f"derivation pages nobody cites: {sorted(pages - cited)}"


def test_markdown_anchor_links_resolve():
    """Links ``[..](page.md#anchor)`` inside the docs point to existing headings."""
    bad = []
    for f in [*(ROOT / "docs").rglob("*.md"), ROOT / "README.md"]:
        for target, anchor in ANCHOR_LINK.findall(f.read_text(encoding="utf-8")):
            page = (f.parent / target).resolve()
            if not page.is_file() or anchor not in anchors(page):
                bad.append(f"{f.relative_to(ROOT)} -> {target}#{anchor}")
    assert not bad, "broken anchor links:\n" + "\n".join(bad)


@pytest.mark.parametrize("rid", [i for k, i, _ in ENTRIES if k == "result"])
def test_generated_docstring_has_references(rid):
    doc = RESULTS.get(rid).__doc__
    assert "\nReferences\n----------\n" in doc
    refs = doc.split("\nReferences\n----------\n", 1)[1]
    assert ".. [1]" in refs
    if RESULTS.get(rid).reference.derivation:
        assert "docs/derivations/" in refs
