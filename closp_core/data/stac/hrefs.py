"""Where STAC hrefs may point: inputs read only what they name (issue #13, "Trust").

Rule (``HrefPolicy.resolve``): an href, absolute or relative to the document that holds it,
must resolve

- to an ``http://`` or ``https://`` URL, or
- to a local path **inside the catalogue's folder** (the folder of the STAC file given on the
  command line; symbolic links are followed before the check, so a link cannot leave it), or
  inside one of the extra roots a setting allows (``CLOSP_STAC_ALLOWED_ROOTS``, a comma-separated
  list of folders; ``*`` allows any local path).

Refused, with ``HrefRefusedError`` naming the href: GDAL's virtual-file prefixes (``/vsi...``,
which could read archives, memory or other protocols), any other scheme or GDAL connection
string (``s3://``, ``ftp://``, ``HDF5:...``), ``file://`` URLs and ``..`` paths that leave the
folder, control characters, and local paths named by a remote document (a remote catalogue or
an API never names files on this machine).
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from closp_core.errors import HrefRefusedError

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
ANY_LOCAL = "*"


def is_http(href: str) -> bool:
    """An ``http://`` / ``https://`` URL."""
    return urlsplit(href).scheme.lower() in ("http", "https")


def parse_roots(text: str) -> tuple[str, ...]:
    """``"a, b"`` (the ``stac_allowed_roots`` setting) -> ``("a", "b")``."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


@dataclasses.dataclass(frozen=True)
class HrefPolicy:
    """``root``: the catalogue's local folder (``None`` for a remote catalogue or an API);
    ``extra``: more folders a setting allows (``"*"``: any local path)."""

    root: Path | None = None
    extra: tuple[str, ...] = ()

    @classmethod
    def for_document(cls, href: str, extra: tuple[str, ...] = ()) -> HrefPolicy:
        """The policy for a catalogue whose top document is ``href`` (file or URL)."""
        if is_http(href):
            return cls(None, extra)
        return cls(Path(_local_path(href)).resolve().parent, extra)

    def resolve(self, href: str, base: str) -> str:
        """``href`` (relative to the document ``base``) -> the URL or local path to open."""
        if not isinstance(href, str) or not href.strip():
            raise HrefRefusedError(f"STAC href {href!r} is empty; the catalogue names nothing")
        if _CONTROL.search(href):
            raise HrefRefusedError(f"STAC href {href!r} holds control characters; refused")
        if href.lstrip().lower().startswith("/vsi"):
            raise HrefRefusedError(
                f"STAC href {href!r} uses a GDAL virtual file system (/vsi...); refused: "
                "catalogues may name http(s) URLs or files inside their own folder"
            )
        scheme = _scheme(href)
        if scheme in ("http", "https"):
            return href
        if scheme is None and is_http(base):
            joined = urljoin(base, href)
            if is_http(joined):
                return joined
        if scheme not in (None, "file"):
            raise HrefRefusedError(
                f"STAC href {href!r}: scheme {scheme!r} is not read; refused (use http(s) "
                "URLs or files inside the catalogue's folder)"
            )
        if is_http(base):
            raise HrefRefusedError(
                f"STAC href {href!r} names a local file, but {base} is remote; refused "
                "(a remote catalogue may only name http(s) URLs)"
            )
        return self._local(href, base)

    def _local(self, href: str, base: str) -> str:
        raw = _local_path(href)
        folder = Path(_local_path(base)).parent if base else Path.cwd()
        path = Path(os.path.normpath(folder / raw)).resolve()
        if ANY_LOCAL in self.extra:
            return str(path)
        roots = [r for r in (self.root, *(Path(e).resolve() for e in self.extra)) if r]
        if any(path.is_relative_to(r) for r in roots):
            return str(path)
        where = ", ".join(str(r) for r in roots)
        raise HrefRefusedError(
            f"STAC href {href!r} resolves to {path}, outside the catalogue's folder ({where}); "
            "refused (set CLOSP_STAC_ALLOWED_ROOTS to allow another folder)"
        )


def _scheme(href: str) -> str | None:
    match = _SCHEME.match(href.strip())
    if match is None or len(match.group(1)) == 1:  # a Windows drive letter is a path
        return None
    return match.group(1).lower()


def _local_path(href: str) -> str:
    """A ``file://`` URL or plain path -> a path string."""
    if _scheme(href) == "file":
        parts = urlsplit(href)
        if parts.netloc not in ("", "localhost"):
            raise HrefRefusedError(f"STAC href {href!r} names a file on host {parts.netloc!r}")
        return unquote(parts.path)
    return href
