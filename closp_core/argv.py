"""Command lines: options whose value may start with ``-`` (negative coordinates).

argparse reads ``--bbox -75.7,37.6,-75.6,37.7`` as ``--bbox`` followed by another option
(its negative-number rule only knows single numbers such as ``-75.7``) and fails with
"expected one argument". ``attach_values`` rewrites such a pair to ``--bbox=-75.7,...`` before
parsing, for the options a CLI names; every CLI that takes coordinates calls it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence

COORDINATE_OPTIONS = ("--bbox", "--near")  # the coordinate options of this project's CLIs
_STARTS_NEGATIVE = re.compile(r"-\.?\d")  # "-75.7,37.6,..." or "-.5,..."


def attach_values(
    argv: Sequence[str] | None, options: Iterable[str] = COORDINATE_OPTIONS
) -> list[str]:
    """``argv`` (default ``sys.argv[1:]``) with ``OPTION VALUE`` written ``OPTION=VALUE`` where
    ``OPTION`` is one of ``options`` and ``VALUE`` starts with a negative number; everything
    after ``--`` is left alone."""
    args = list(sys.argv[1:] if argv is None else argv)
    wanted = set(options)
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            out.extend(args[i:])
            break
        following = args[i + 1] if i + 1 < len(args) else ""
        if arg in wanted and _STARTS_NEGATIVE.match(following):
            out.append(f"{arg}={following}")
            i += 2
        else:
            out.append(arg)
            i += 1
    return out
