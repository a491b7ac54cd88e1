"""``python -m icl_companion ...`` is the same as ``iclc ...``."""

import sys

from icl_companion.cli import main

sys.exit(main())
