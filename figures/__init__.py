"""icl_companion.figures: one module per reproduced figure: compute (cached table) -> plot.

This folder sits at the top of the repository but installs only as ``icl_companion.figures``
(a ``package_dir`` mapping in setup.cfg), so that it cannot collide with a user's own ``figures``.
"""

if __name__ != "icl_companion.figures":  # imported as a top-level ``figures`` from a source checkout
    raise ImportError(f"this is icl_companion.figures; import it as `import icl_companion.figures`, "
                      f"not as {__name__!r}")
