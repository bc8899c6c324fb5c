"""Chip keys -- the only place they are formed -- and names made safe to store and to print.

Keys decide point ids (uuid5 of the key), so a key that drifts duplicates the index: every
reader builds its keys with the functions below, nowhere else.

- ``scene_key``: ``<source>/<scene_id>/<sensor>/r<row>_c<col>[_s<size>]`` (scenes, STAC);
- ``patch_key``: ``bigearthnet/<patch folder>``;
- ``corpus_key``: ``crisislandmark/<sample key>``.

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

CHIP_SIZE = 120  # the native chip size: keys of other sizes carry ``_s<size>``
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


def scene_key(source: str, key_id: str, sensor: str, row: int, col: int, size: int) -> str:
    """The key of the chip at pixel (``row``, ``col``) of a scene's reference grid; ``key_id``
    is the scene id already made safe by ``key_part``."""
    suffix = "" if size == CHIP_SIZE else f"_s{size}"
    return f"{source}/{key_id}/{sensor}/r{row}_c{col}{suffix}"


def patch_key(key_id: str) -> str:
    """The key of a BigEarthNet patch (``key_id``: its folder name made safe by ``key_part``)."""
    return f"bigearthnet/{key_id}"


def corpus_key(sample_key: str) -> str:
    """The key of a CrisisLandMark sample (its key in the corpus, e.g. ``benv2s2_...``)."""
    return f"crisislandmark/{sample_key}"
