"""icl_companion.validation: theory-versus-simulation checks; torch is imported only in this layer.

This folder sits at the top of the repository but installs only as ``icl_companion.validation``
(a ``package_dir`` mapping in setup.cfg), so that it cannot collide with a user's own ``validation``.
"""

if __name__ != "icl_companion.validation":  # imported as a top-level ``validation`` from a source checkout
    raise ImportError(f"this is icl_companion.validation; import it as `import icl_companion.validation`, "
                      f"not as {__name__!r}")
