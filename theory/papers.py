"""The papers the package covers, each declared once.

A :class:`Paper` names its prefix (used in every identifier, module and figure name), its full
citation, its arXiv id, its page in ``docs/`` and whether the model is a reconstruction.  Everything
else reads these declarations: the results catalogue, the verification checks and the figures (one
discovery, :meth:`Paper.modules`), ``iclc --help`` and ``iclc list --paper``, and the generated
tables of the README and of the docs pages.

A paper's modules are found by name: ``icl_companion.<layer>.<prefix>`` and
``icl_companion.<layer>.<prefix>_*`` for each layer (``theory``, ``numerics``, ``validation``,
``figures``).  A paper maintained outside this package declares its modules explicitly
(``Paper.layer_modules``) and is announced through the ``icl_companion.papers`` entry-point group,
whose entries are :class:`Paper` objects (or lists of them)::

    [options.entry_points]
    icl_companion.papers =
        toy = my_package.paper:PAPER

>>> paper("aim").arxiv
'2506.01582'
>>> paper("xattn").reconstructed
True
>>> [p.prefix for p in builtin_papers()]
['aim', 'softmax', 'xattn', 'mmicl', 'linear']
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from dataclasses import dataclass, field

__all__ = ["Paper", "LAYERS", "builtin_papers", "papers", "paper", "UnknownPaperError"]

#: The layers of the package, in import order (a later layer may import an earlier one).
LAYERS = ("theory", "numerics", "validation", "figures")


class UnknownPaperError(ValueError):
    """A prefix that no declared paper uses."""


@dataclass(frozen=True)
class Paper:
    """One paper (or the shared baselines): everything the rest of the package says about it.

    Parameters
    ----------
    prefix : str
        Identifier prefix: results ``<prefix>.<name>``, modules ``<prefix>[_*].py``, figures
        ``<prefix>-<name>``.
    authors, title : str
        The citation; ``year`` and ``arxiv`` (the arXiv identifier, ``""`` when there is none).
    docs : str
        Path of the paper's page inside the repository (``docs/<prefix>.md``).
    reconstructed : bool
        The model is a reconstruction (not confirmed from the paper body); every result, check and
        figure of the paper says so wherever a user sees it.
    reconstructed_note : str
        Why, in one sentence.
    code : str
        Where the authors' code is published (``github.com/owner/repo``), when it is cited.
    layer_modules : dict, optional
        For a paper maintained outside the package: ``{layer: (module, ...)}``.  Built-in papers
        leave it empty and are found by module name.
    """

    prefix: str
    authors: str
    title: str
    year: int | None = None
    arxiv: str = ""
    docs: str = ""
    reconstructed: bool = False
    reconstructed_note: str = ""
    summary: str = ""
    layer_modules: dict = field(default_factory=dict, compare=False, hash=False)
    code: str = ""

    def __post_init__(self):
        if not self.prefix.isidentifier() or not self.prefix.islower() or "." in self.prefix:
            raise ValueError(f"paper prefix {self.prefix!r} must be a lower-case identifier")

    # -- citations
    @property
    def short(self) -> str:
        """``Boncoraglio et al. (2025)``, or the title when there are no authors."""
        if not self.authors:
            return self.title
        names = [a.strip() for a in self.authors.split(",")]
        surname = [n.split()[-1] for n in names]  # authors are "First Last" or surnames only
        who = surname[0] + (" et al." if len(names) > 2 else
                            f" and {surname[1]}" if len(names) == 2 else "")
        return f"{who} ({self.year})" if self.year else who

    @property
    def url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv}" if self.arxiv else ""

    def code_citation(self) -> str:
        """The authors' public code, cited as ``<surname> et al., code <code>`` (``code``: where it
        is published, e.g. ``github.com/owner/repo``)."""
        return f"{self.short.rsplit(' (', 1)[0]}, code {self.code}"

    def citation(self) -> str:
        """Full citation: authors (year). *title*. arXiv:id."""
        parts = []
        if self.authors:
            parts.append(f"{self.authors} ({self.year})." if self.year else f"{self.authors}.")
        parts.append(f"{self.title}.")
        if self.arxiv:
            parts.append(f"arXiv:{self.arxiv}.")
        text = " ".join(parts)
        if self.reconstructed:
            text += " [reconstructed model]"
        return text

    # -- discovery
    def modules(self, layer: str) -> list[str]:
        """Import names of this paper's modules in ``layer`` (no import of the modules)."""
        if layer not in LAYERS:
            raise ValueError(f"layer {layer!r} is not one of {', '.join(LAYERS)}")
        if self.layer_modules:
            return list(self.layer_modules.get(layer, ()))
        return [f"icl_companion.{layer}.{name}" for name in _layer_module_names(layer)
                if name == self.prefix or name.startswith(self.prefix + "_")]

    def load(self, layers) -> None:
        """Import this paper's modules of the given layers (they register what they define)."""
        for layer in layers:
            for m in self.modules(layer):
                importlib.import_module(m)


@functools.lru_cache(maxsize=None)
def _layer_module_names(layer: str) -> tuple[str, ...]:
    pkg = importlib.import_module(f"icl_companion.{layer}")
    return tuple(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))


_BUILTIN = (
    Paper("aim", "Boncoraglio, Troiani, Erba, Zdeborová",
          "Bayes optimal learning of attention-indexed models", 2025, "2506.01582", "docs/aim.md",
          summary="Bayes-optimal error from state evolution, phase transitions, GAMP-RIE, GD",
          code="github.com/FabrizioBoncoraglio/BO_ExtensiveRankAttention"),
    Paper("softmax", "Jianliang He, Xintian Pan, Siyu Chen, Zhuoran Yang",
          "In-context linear regression demystified: training dynamics and mechanistic "
          "interpretability of multi-head softmax attention", 2025, "2503.12734",
          "docs/softmax.md",
          summary="multi-head softmax attention learns debiased GD; patterns; length "
                  "generalisation; multi-task"),
    Paper("xattn", "Nicholas Barnfield, Subhabrata Sen, Pragya Sur",
          "Multi-layer cross-attention is provably optimal for multi-modal in-context learning",
          2026, "2602.04872", "docs/xattn.md", reconstructed=True,
          reconstructed_note="only the abstract and summaries were available: the latent-factor "
                             "model is a reconstruction",
          summary="latent factor model: one-layer LSA fails, deep linearized cross-attention "
                  "reaches Bayes"),
    Paper("mmicl", "Yiran Huang, Karsten Roth, Quentin Bouniot, Wenjia Xu, Zeynep Akata",
          "Dissecting multimodal in-context learning: modality asymmetries and circuit dynamics "
          "in modern transformers", 2026, "2601.20796", "docs/mmicl.md",
          summary="small transformers on bursty synthetic classification: RoPE vs APE, "
                  "modality asymmetry, induction circuits"),
    Paper("linear", "", "Shared linear-attention and ridge baselines", None, "",
          "docs/linear.md",
          summary="Bayes ridge (Marchenko-Pastur), one-step GD, the Zhang-Frei-Bartlett LSA "
                  "optimum"),
)


def builtin_papers() -> tuple[Paper, ...]:
    """The papers shipped with the package, in display order."""
    return _BUILTIN


@functools.lru_cache(maxsize=None)
def _plugin_papers() -> tuple[Paper, ...]:
    from importlib.metadata import entry_points

    out = []
    for ep in entry_points(group="icl_companion.papers"):
        obj = ep.load()
        for p in (obj if isinstance(obj, (list, tuple)) else [obj]):
            if not isinstance(p, Paper):
                raise TypeError(f"entry point {ep.name} = {ep.value} must give a Paper, got "
                                f"{type(p).__name__}")
            out.append(p)
    return tuple(out)


def papers() -> dict[str, Paper]:
    """Every declared paper (built-in, then entry-point plugins), by prefix."""
    out = {p.prefix: p for p in _BUILTIN}
    for p in _plugin_papers():
        if p.prefix in out:
            raise ValueError(f"paper prefix {p.prefix!r} is declared twice")
        out[p.prefix] = p
    return out


def paper(prefix: str) -> Paper:
    """The paper declared under ``prefix``; :class:`UnknownPaperError` names the known ones."""
    for p in _BUILTIN:
        if p.prefix == prefix:
            return p
    known = papers()
    if prefix not in known:
        raise UnknownPaperError(f"unknown paper prefix {prefix!r}; allowed: {', '.join(known)}")
    return known[prefix]
