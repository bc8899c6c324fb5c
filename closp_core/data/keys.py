"""Chip keys from untrusted names, and names made safe to store and to print.

Scene ids come from file and folder names (or STAC item ids, or callers): anything a file
system allows. A chip key (``scene/<scene_id>/<sensor>/r<row>_c<col>``) is a path-like id that
travels into URLs, file names of previews and the store, so each id component goes through
``key_part``:

- control, format, surrogate, private-use and unassigned characters (Unicode category ``C*``:
  ``\\x1b``, ``\\u202e`` ...), the markup and quoting characters ``< > " ' & ` ``, and the path
  separators ``/`` and ``\\`` each become ``_``;
- a run of two or more dots becomes ``_`` (no ``..`` anywhere in a key);
- an id that is empty afterwards becomes ``_``.

Everything else is kept, so ordinary names (letters of any script, digits, ``_ - . +``,
spaces) give the same keys as before and a re-ingest finds the chips it indexed. The original
id stays in the chip's ``scene_id`` (``payload_text``: only lone surrogates, which no JSON
encoder accepts, are written as ``\\udcff`` escapes). ``display_text`` makes any text safe for a
terminal or a log line (control characters escaped, so a file name cannot move the cursor or
recolour the screen).
"""

from __future__ import annotations

import re
import unicodedata

_UNSAFE_IN_KEY = frozenset("<>\"'&`/\\")
_DOTS = re.compile(r"\.{2,}")
_KEEP_IN_DISPLAY = frozenset("\n\t")


def _is_hidden(char: str) -> bool:
    """Control, format, surrogate, private-use or unassigned (Unicode category ``C*``)."""
    return unicodedata.category(char).startswith("C")


def key_part(name: str) -> str:
    """One id component of a chip key, made safe (rules in the module docstring)."""
    text = "".join("_" if c in _UNSAFE_IN_KEY or _is_hidden(c) else c for c in str(name))
    text = _DOTS.sub("_", text)
    return text if text.strip() else "_"


def payload_text(text: str) -> str:
    """``text`` unchanged, except lone surrogates (undecodable bytes of a file name) escaped."""
    return str(text).encode("utf-8", "backslashreplace").decode("utf-8")


def display_text(text: object, *, newlines: bool = True) -> str:
    """``str(text)`` safe to print: surrogates and control/format characters shown as
    ``\\x..``/``\\u....`` escapes; newlines and tabs kept when ``newlines`` (one-line
    output such as a summary line passes ``False``, so a file name cannot forge a line)."""
    keep = _KEEP_IN_DISPLAY if newlines else frozenset()
    out = []
    for char in payload_text(str(text)):
        if _is_hidden(char) and char not in keep:
            out.append(char.encode("unicode_escape").decode("ascii"))
        else:
            out.append(char)
    return "".join(out)
