"""``python -m closp_core.search``: see ``closp_core.search.cli``."""

from __future__ import annotations

import sys

from closp_core.search.cli import main

if __name__ == "__main__":
    sys.exit(main())
