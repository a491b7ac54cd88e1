"""The readability audit of the figures (:mod:`icl_companion.figures.layout`) finds what it claims to.

Every written figure is held to ``audit(fig) == []`` (``test_figure_outputs``); these tests make
sure that an empty list means something: each detector fires on a figure built to break its rule,
and stays quiet on the same figure laid out correctly.
"""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from icl_companion.figures import layout  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _line_figure(legend_at):
    """One axes with a rising line through the middle; its legend at ``legend_at``."""
    fig, ax = layout.new_figure(layout.SINGLE, 2.4)
    x = np.linspace(0.0, 1.0, 50)
    ax.plot(x, x, label="rising")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    if legend_at == "right":
        layout.legend_right(ax)
    else:
        ax.legend(loc=legend_at)
    return fig


def test_legend_on_a_line_is_reported_and_off_it_is_not():
    # the line runs corner to corner: a legend in the centre sits on it, the empty upper-left
    # corner (above the diagonal) and the outside-right position do not
    assert layout.legend_overlaps(_line_figure("center"))
    assert layout.legend_overlaps(_line_figure("upper left")) == []
    assert layout.legend_overlaps(_line_figure("right")) == []


def test_legend_between_markers_of_a_dashed_curve_counts_as_over_it():
    # the segment test, not a marker test: the legend sits on the line between its two markers
    fig, ax = layout.new_figure(layout.SINGLE, 2.4)
    ax.plot([0.0, 1.0], [0.5, 0.5], "o--", label="two points")
    ax.set_xlim(-0.1, 1.1)
    ax.set_ylim(0, 1)
    ax.legend(loc="center")
    hits = layout.legend_overlaps(fig)
    assert hits and "two points" in hits[0]


def test_markers_images_and_filled_areas_are_data():
    fig, axs = layout.new_figure(layout.DOUBLE, 2.4, 1, 3)
    axs[0].scatter([0.5], [0.5], label="dot")
    axs[1].imshow(np.arange(16.0).reshape(4, 4), label="map")
    axs[1].plot([], [], label="empty")   # the legend needs an entry
    axs[2].fill_between([0, 1], [0, 0], [1, 1], label="band")
    for ax in axs:
        ax.legend(loc="center")
    found = " ".join(layout.legend_overlaps(fig))
    assert "markers 'dot'" in found and "image" in found and "filled area" in found


def test_text_sticking_out_and_overlapping_titles_are_reported():
    fig = _line_figure("right")
    fig.text(1.05, 0.5, "outside the page")
    assert any("outside the page" in p for p in layout.outside_figure(fig))
    fig2 = _line_figure("right")
    assert layout.outside_figure(fig2) == []

    fig3, ax = layout.new_figure(layout.SINGLE, 2.4)
    ax.plot([0, 1], [0, 1], label="a")
    layout.headline(fig3, "A claim")
    fig3.legend(loc="upper center")    # the figure legend drawn where the title is
    assert any("overlaps" in p for p in layout.text_overlaps(fig3))


def test_audit_reports_width_small_fonts_and_greek_words():
    fig, ax = plt.subplots(figsize=(5.0, 2.4), layout="constrained")
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("alpha = n/d^2", fontsize=5)
    problems = layout.audit(fig)
    assert any(p.startswith("width 5.00 in") for p in problems)
    assert any(p.startswith("font below 6 pt") and "alpha" in p for p in problems)
    assert any(p.startswith("Greek written as a word") for p in problems)

    good, ax = layout.new_figure(layout.SINGLE, 2.4)
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel(r"$\alpha = n/d^2$")
    assert layout.audit(good) == []


def test_audit_reads_the_laid_out_figure_without_rasterising_it():
    # the audit lays the figure out itself (constrained layout places the outside legend); a
    # figure never drawn before gives the same answer as one drawn to pixels first
    fresh = _line_figure("right")
    drawn = _line_figure("right")
    drawn.canvas.draw()
    assert layout.audit(fresh) == layout.audit(drawn) == []
    moved = _line_figure("center")
    assert layout.audit(moved) and layout.audit(moved) == layout.audit(moved)


def test_greek_typesets_terminal_names_and_the_audit_flags_them_untypeset():
    line = "D=32, eps=0.1, alpha=0, sigma2 = 0.5, steps 1500, $\\rho = 2$ kept"
    typeset = layout.greek(line)
    assert typeset == ("D=32, $\\varepsilon$=0.1, $\\alpha$=0, $\\sigma^2$ = 0.5, steps 1500, "
                       "$\\rho = 2$ kept")
    for text, flagged in ((line, True), (typeset, False)):
        fig, ax = layout.new_figure(layout.SINGLE, 2.4)
        ax.plot([0, 1], [0, 1])
        ax.set_xlabel(text, fontsize=6)
        greek_problems = [p for p in layout.audit(fig) if p.startswith("Greek")]
        assert bool(greek_problems) == flagged, greek_problems
        if flagged:   # every untypeset name is reported, "steps" is not mistaken for eps
            names = {re.search(r"mathtext\): '(\w+)'", p).group(1) for p in greek_problems}
            assert names == {"eps", "alpha", "sigma"}
