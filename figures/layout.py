"""Page layout of the figures and the readability audit every written figure passes.

Layout: figures are one journal column (:data:`SINGLE`, 3.4 in) or two (:data:`DOUBLE`, 7 in) wide,
drawn with matplotlib's constrained layout (the saved file has exactly that width: the style file
does not crop), with the fonts of ``icl.mplstyle`` (8 pt text, 7 pt legends and ticks).  The runner
writes the figure's one-sentence claim as its title (:func:`headline`); a figure adds a caption
line under its panels (:func:`caption`: what was run, the mode, what is omitted) and places its
legends outside the data (:func:`legend_right`, :func:`legend_below`) or in an area it has checked
to be empty.

Audit (:func:`audit`): a list of readability problems of a drawn figure, empty when it is fine.

* a legend (of an axes, or of the figure) whose box meets plotted data: a line segment, a marker,
  an error bar, a bar, a filled area or an image of any axes it overlaps; a legend, the title or
  the caption overlapping another of them; a legend or a text sticking out of the figure;
* text in a font smaller than :data:`MIN_FONT` points;
* a Greek quantity written as a plain word (``alpha``, ``rho``, ``sigma2``, ``eta*``) outside
  mathtext ``$...$`` (Unicode Greek letters are fine);
* a width other than one or two columns.

The segment test is exact (Liang-Barsky clipping of every segment of every line, in display
coordinates), so a legend in a gap between curves passes, and one on a curve between its markers
does not.
"""

from __future__ import annotations

import re
import textwrap

import numpy as np

__all__ = ["SINGLE", "DOUBLE", "MIN_FONT", "new_figure", "headline", "caption", "legend_right",
           "legend_below", "audit", "legend_overlaps", "wrap", "greek"]

SINGLE, DOUBLE = 3.4, 7.0   # inches: one and two journal columns
MIN_FONT = 6.0              # points: nothing smaller is legible in print
_WIDTH_TOL = 0.01           # inches

#: Greek names that must be typeset (mathtext) rather than written out
_GREEK = re.compile(r"(?<![A-Za-z\\])(alpha|beta|gamma|Gamma|delta|Delta|eta|theta|lambda|Lambda|"
                    r"mu|rho|sigma|Sigma|tau|omega|Omega|xi|kappa|epsilon|eps)(?![A-Za-z])")
_MATH = re.compile(r"(?<!\\)\$.*?(?<!\\)\$", re.S)


def wrap(text: str, width_in: float, fontsize: float, em: float = 0.55) -> str:
    """``text`` wrapped (each paragraph) to a line of ``width_in`` inches at ``fontsize`` points
    (an average character of DejaVu Sans is ~0.55 em wide; mathtext counts by its source, which
    errs on the short side; ``em`` = 0.62 for bold), never inside a ``$...$`` formula."""
    chars = max(20, int(width_in * 72 / (em * fontsize)))
    glue = "\x00"  # spaces inside formulas: not break points
    protected = _MATH.sub(lambda m: m.group().replace(" ", glue), text)
    # nor around a relation ("T = 4" stays on one line)
    protected = re.sub(r" ([=<>≤≥≈~]) ", lambda m: f"{glue}{m.group(1)}{glue}", protected)
    lines = [textwrap.fill(p, chars, break_long_words=False, break_on_hyphens=False)
             for p in protected.split("\n")]
    return "\n".join(lines).replace(glue, " ")


def greek(text: str) -> str:
    """``text`` (a configuration line written for the terminal) with its Greek names typeset:
    ``sigma2`` -> ``$\\sigma^2$``, ``eps`` -> ``$\\varepsilon$``, ``alpha`` -> ``$\\alpha$`` (outside
    existing ``$...$``)."""
    parts = _MATH.split(text)
    maths = _MATH.findall(text)
    out = []
    for i, p in enumerate(parts):
        p = re.sub(r"(?<![A-Za-z\\])sigma2(?![A-Za-z])", r"$\\sigma^2$", p)
        p = re.sub(r"(?<![A-Za-z\\])eps(?![A-Za-z])", r"$\\varepsilon$", p)
        out.append(_GREEK.sub(lambda m: f"$\\{m.group()}$", p))
        if i < len(maths):
            out.append(maths[i])
    return "".join(out)


def new_figure(width: float = DOUBLE, height: float = 2.8, nrows: int = 1, ncols: int = 1,
               legend_row: bool = False, **kw):
    """``(fig, axes)`` of ``plt.subplots`` at a column width, with constrained layout.

    ``legend_row``: one more (empty) row under the panels, spanning them, that holds the legend
    of :func:`legend_below`; constrained layout gives it the legend's height, and the caption
    (:func:`caption`) goes under it.
    """
    import matplotlib.pyplot as plt

    if width not in (SINGLE, DOUBLE):
        raise ValueError(f"width must be SINGLE ({SINGLE}) or DOUBLE ({DOUBLE}) inches, got {width}")
    if not legend_row:
        return plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained", **kw)
    ratios = list(kw.pop("height_ratios", [1.0] * nrows)) + [1e-3]
    squeeze = kw.pop("squeeze", True)
    fig, axs = plt.subplots(nrows + 1, ncols, figsize=(width, height), layout="constrained",
                            height_ratios=ratios, squeeze=False, **kw)
    gs = axs[-1, 0].get_gridspec()
    for a in axs[-1]:
        a.remove()
    lax = fig.add_subplot(gs[-1, :])
    lax.axis("off")
    fig._icl_legend_axes = lax
    axes = axs[:-1]
    if squeeze:
        axes = axes[0, 0] if axes.size == 1 else axes.ravel() if 1 in axes.shape else axes
    return fig, axes


def headline(fig, claim: str) -> None:
    """The figure's claim as its title (wrapped to the figure's width)."""
    w = fig.get_size_inches()[0]
    fig.suptitle(wrap(claim, w * 0.97, 8.0, em=0.62), fontsize=8, fontweight="bold")


def caption(fig, text: str) -> None:
    """A caption under the panels (7 pt, wrapped); constrained layout reserves its room."""
    w = fig.get_size_inches()[0]
    fig.supxlabel(wrap(text, w * 0.97, 7.0), fontsize=7, x=0.5, ha="center", va="bottom",
                  linespacing=1.2)


def legend_right(ax, **kw):
    """A legend outside the axes, on its right (constrained layout makes room)."""
    kw.setdefault("loc", "upper left")
    kw.setdefault("bbox_to_anchor", (1.02, 1.0))
    kw.setdefault("borderaxespad", 0.0)
    return ax.legend(**kw)


def legend_below(fig, handles=None, labels=None, ncol: int = 3, **kw):
    """One legend for the whole figure, in the legend row under its panels (``new_figure(...,
    legend_row=True)``); by default the entries of every axes, each label once."""
    lax = getattr(fig, "_icl_legend_axes", None)
    if lax is None:
        raise ValueError("legend_below needs a figure made by new_figure(..., legend_row=True)")
    if handles is None:
        seen = {}
        for ax in fig.axes:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                if not lab.startswith("_"):
                    seen.setdefault(lab, h)
        labels, handles = list(seen), list(seen.values())
    kw.setdefault("loc", "upper center")
    kw.setdefault("bbox_to_anchor", (0.5, 1.0))
    return lax.legend(handles, labels, ncol=ncol, **kw)


# ----------------------------------------------------------------------------------------- audit
def _renderer(fig):
    """Lay ``fig`` out (the layout engine places everything) and return its renderer; the tests
    below read the drawn extents, so one draw serves them all.  Nothing is rasterised: the
    extents come from the same layout pass as a full draw (a quarter of the audit's time saved,
    the same problems found on every figure)."""
    fig.draw_without_rendering()
    return fig.canvas.get_renderer()


def _segments_hit(P: np.ndarray, box) -> bool:
    """Does any segment of the polyline ``P`` (n x 2, display coordinates; NaN breaks it) meet
    the box ``(x0, y0, x1, y1)``?  Liang-Barsky clipping, vectorised over the segments."""
    if len(P) == 0:
        return False
    x0, y0, x1, y1 = box
    a, b = P[:-1], P[1:]
    ok = np.isfinite(a).all(1) & np.isfinite(b).all(1)
    a, b = a[ok], b[ok]
    # isolated finite points (markers or one-point lines) are tested as points
    pts = P[np.isfinite(P).all(1)]
    if ((pts[:, 0] > x0) & (pts[:, 0] < x1) & (pts[:, 1] > y0) & (pts[:, 1] < y1)).any():
        return True
    if len(a) == 0:
        return False
    d = b - a
    t0, t1 = np.zeros(len(a)), np.ones(len(a))
    for p, q in ((-d[:, 0], a[:, 0] - x0), (d[:, 0], x1 - a[:, 0]),
                 (-d[:, 1], a[:, 1] - y0), (d[:, 1], y1 - a[:, 1])):
        par = p == 0
        out = par & (q < 0)
        t0 = np.where(out, 2.0, t0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = q / p
        t0 = np.where(~par & (p < 0), np.maximum(t0, r), t0)
        t1 = np.where(~par & (p > 0), np.minimum(t1, r), t1)
    return bool((t0 <= t1).any())


def _box_hit(ext, box) -> bool:
    x0, y0, x1, y1 = box
    return ext.x0 < x1 and ext.x1 > x0 and ext.y0 < y1 and ext.y1 > y0 and \
        ext.width > 0 and ext.height > 0


def _axes_hits(ax, box, renderer) -> list[str]:
    """Names of the data artists of ``ax`` that meet ``box`` (clipped to the axes)."""
    from matplotlib.collections import (LineCollection, PathCollection, PolyCollection,
                                        QuadMesh)

    a = ax.get_window_extent(renderer)
    box = (max(box[0], a.x0), max(box[1], a.y0), min(box[2], a.x1), min(box[3], a.y1))
    if box[0] >= box[2] or box[1] >= box[3]:
        return []
    hits = []
    for line in ax.get_lines():
        if not line.get_visible() or len(line.get_xdata()) == 0:
            continue
        P = line.get_transform().transform(np.asarray(line.get_xydata(), float))
        ls = line.get_linestyle()
        if ls in ("None", "", " ", "none"):
            P = P.copy()
            fin = np.isfinite(P).all(1)
            hit = bool(((P[fin, 0] > box[0]) & (P[fin, 0] < box[2]) & (P[fin, 1] > box[1])
                        & (P[fin, 1] < box[3])).any())
        else:
            hit = _segments_hit(P, box)
        if hit:
            hits.append(f"line {line.get_label()!r}")
    for c in ax.collections:
        if not c.get_visible():
            continue
        if isinstance(c, PathCollection) and len(c.get_offsets()):
            P = c.get_offset_transform().transform(np.asarray(c.get_offsets(), float))
            fin = np.isfinite(P).all(1)
            if ((P[fin, 0] > box[0]) & (P[fin, 0] < box[2]) & (P[fin, 1] > box[1])
                    & (P[fin, 1] < box[3])).any():
                hits.append(f"markers {c.get_label()!r}")
        elif isinstance(c, LineCollection):
            t = c.get_transform()
            for path in c.get_paths():
                if _segments_hit(t.transform(path.vertices), box):
                    hits.append(f"error bars / segments {c.get_label()!r}")
                    break
        elif isinstance(c, (QuadMesh, PolyCollection)):
            if _box_hit(c.get_window_extent(renderer), box):
                hits.append(f"filled area {c.get_label()!r}")
    for im in ax.images:
        if im.get_visible() and _box_hit(im.get_window_extent(renderer), box):
            hits.append("image")
    for p in ax.patches:
        if p.get_visible() and p.get_fill() and _box_hit(p.get_window_extent(renderer), box):
            hits.append(f"patch {type(p).__name__}")
    return hits


def legend_overlaps(fig, renderer=None) -> list[str]:
    """Legends of ``fig`` whose box meets plotted data (empty list: none)."""
    renderer = _renderer(fig) if renderer is None else renderer
    out = []
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    legends += list(fig.legends)
    for leg in legends:  # against every axes: a legend outside its axes may reach the next
        if not leg.get_visible():
            continue
        e = leg.get_window_extent(renderer)
        box = (e.x0 + 1, e.y0 + 1, e.x1 - 1, e.y1 - 1)   # touching the frame is not overlap
        for ax in fig.axes:
            hits = _axes_hits(ax, box, renderer)
            if hits:
                title = ax.get_title() or ax.get_ylabel() or "an axes"
                out.append(f"legend over data in {title!r}: {', '.join(sorted(set(hits)))}")
    return out


def outside_figure(fig, renderer=None) -> list[str]:
    """Legends and texts that stick out of the figure (cut off in the saved file)."""
    renderer = _renderer(fig) if renderer is None else renderer
    W, H = fig.bbox.width, fig.bbox.height
    legs = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None] + fig.legends
    items = [(f"legend with {len(leg.get_texts())} entries", leg) for leg in legs]
    # tick labels are placed by the layout engine; those of ticks outside the view are not drawn
    ticks = {id(t) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)
             for t in axis.get_ticklabels(which="both")}
    items += [(f"text {t.get_text()[:30]!r}", t) for t in _texts(fig)
              if id(t) not in ticks and not any(t in leg.get_texts() for leg in legs)]
    out = []
    for name, a in items:
        e = a.get_window_extent(renderer)
        if e.x0 < -1 or e.y0 < -1 or e.x1 > W + 1 or e.y1 > H + 1:
            out.append(f"{name} sticks out of the figure")
    return out


def text_overlaps(fig, renderer=None) -> list[str]:
    """The title and the caption must not meet a legend or each other."""
    renderer = _renderer(fig) if renderer is None else renderer
    texts = [t for t in (fig._suptitle, fig._supxlabel) if t is not None and t.get_text()]
    boxes = [(f"title {t.get_text()[:30]!r}", t.get_window_extent(renderer)) for t in texts]
    legs = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None] + fig.legends
    boxes += [(f"legend {i + 1}", leg.get_window_extent(renderer)) for i, leg in enumerate(legs)]
    out = []
    for i, (na, a) in enumerate(boxes):
        for nb, b in boxes[i + 1:]:
            if a.x0 < b.x1 - 1 and a.x1 > b.x0 + 1 and a.y0 < b.y1 - 1 and a.y1 > b.y0 + 1:
                out.append(f"{na} overlaps {nb}")
    return out


def _texts(fig):
    from matplotlib.text import Text

    for t in fig.findobj(Text):
        if t.get_visible() and t.get_text().strip():
            yield t


def audit(fig) -> list[str]:
    """Readability problems of a drawn figure (see the module notes); empty when none."""
    renderer = _renderer(fig)   # one draw serves the three geometric tests
    problems = (legend_overlaps(fig, renderer) + text_overlaps(fig, renderer)
                + outside_figure(fig, renderer))
    w = fig.get_size_inches()[0]
    if min(abs(w - SINGLE), abs(w - DOUBLE)) > _WIDTH_TOL:
        problems.append(f"width {w:.2f} in is neither one column ({SINGLE}) nor two ({DOUBLE})")
    small, plain = set(), set()
    for t in _texts(fig):
        s = t.get_text()
        if t.get_fontsize() < MIN_FONT - 1e-9:
            small.add(f"{s[:40]!r} ({t.get_fontsize():.1f} pt)")
        for m in _GREEK.finditer(_MATH.sub("", s)):
            plain.add(f"{m.group()!r} in {s[:60]!r}")
    problems += [f"font below {MIN_FONT:g} pt: {s}" for s in sorted(small)]
    problems += [f"Greek written as a word (use mathtext): {s}" for s in sorted(plain)]
    return problems
