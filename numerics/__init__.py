"""icl_companion.numerics: numerical layer (torch-free): quadrature, fixed points, state evolution, AMP, NumPy simulators.

This folder sits at the top of the repository but installs only as ``icl_companion.numerics``
(a ``package_dir`` mapping in setup.cfg), so that it cannot collide with a user's own ``numerics``.
"""

if __name__ != "icl_companion.numerics":  # imported as a top-level ``numerics`` from a source checkout
    raise ImportError(f"this is icl_companion.numerics; import it as `import icl_companion.numerics`, "
                      f"not as {__name__!r}")
