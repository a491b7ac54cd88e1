"""icl_companion.theory: symbolic layer: SymPy derivations, closed forms and the registries.

This folder sits at the top of the repository but installs only as ``icl_companion.theory``
(a ``package_dir`` mapping in setup.cfg), so that it cannot collide with a user's own ``theory``.
"""

if __name__ != "icl_companion.theory":  # imported as a top-level ``theory`` from a source checkout
    raise ImportError(f"this is icl_companion.theory; import it as `import icl_companion.theory`, "
                      f"not as {__name__!r}")
