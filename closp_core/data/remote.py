"""Reading cloud-optimised GeoTIFFs over HTTP: GDAL's curl options in one place, URL signing.

Remote assets are opened by rasterio through GDAL's ``/vsicurl/`` layer, which fetches byte
ranges: a COG's header, then only the tiles a window needs. ``RemoteOptions.gdal_options()``
is the one place that configures it; ``remote_env(options)`` applies it (``rasterio.Env``,
thread-local on the reader thread) around every STAC read. Each option, as documented in
https://gdal.org/en/stable/user/configoptions.html and (section /vsicurl/)
https://gdal.org/en/stable/user/virtual_file_systems.html :

- ``GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR``: no directory listing when a file is opened (no
  request for the parent "folder", no probing for sidecars); the file is all that is read.
- ``CPL_VSIL_CURL_ALLOWED_EXTENSIONS=.tif,.tiff,.jp2,.TIF,.TIFF,.JP2``: vsicurl opens only
  these (query strings such as SAS signatures are ignored by the check).
- ``GDAL_HTTP_MULTIRANGE=YES``: the ranges of one read are fetched in parallel;
  ``GDAL_HTTP_MERGE_CONSECUTIVE_RANGES=YES``: adjacent ranges become one request.
- ``GDAL_INGESTED_BYTES_AT_OPEN``: the first request reads this much (a COG header fits).
- ``GDAL_HTTP_TIMEOUT`` / ``GDAL_HTTP_CONNECTTIMEOUT`` (seconds); ``GDAL_HTTP_MAX_RETRY`` and
  ``GDAL_HTTP_RETRY_DELAY``: a failed request is retried with back-off (GDAL multiplies the
  delay by about 2 on each retry) for ``GDAL_HTTP_RETRY_CODES`` (GDAL >= 3.10: 429, 500, 502,
  503, 504) and for timeouts; then the read fails and the item is reported.
- ``VSI_CACHE=TRUE`` / ``VSI_CACHE_SIZE``: a per-file cache of fetched ranges (bounded);
  ``CPL_VSIL_CURL_CACHE_SIZE``: GDAL's process-wide cache of downloaded blocks (bounded);
  ``GDAL_CACHEMAX``: the block cache, the same bound ``raster.py`` sets process-wide.

**Signed URLs.** Some providers hand out asset URLs that must be signed first (Microsoft
Planetary Computer: a SAS token appended by its ``planetary-computer`` package, see
https://planetarycomputer.microsoft.com/docs/concepts/sas/). ``load_signer(name)`` returns an
``href -> signed href`` function: ``"planetary-computer"`` imports that optional package lazily
(``pip install planetary-computer``; not a dependency of this project), ``"module:function"``
any function of your own. An unsigned request answered 403 is reported with that hint.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable

import rasterio

from closp_core.data.raster import GDAL_CACHE_BYTES
from closp_core.errors import ConfigError, DataError

Signer = Callable[[str], str]
PLANETARY_COMPUTER = "planetary-computer"
RETRY_CODES = "429,500,502,503,504"
_ALLOWED_EXTENSIONS = ".tif,.tiff,.jp2,.TIF,.TIFF,.JP2"


@dataclasses.dataclass(frozen=True)
class RemoteOptions:
    """Timeouts, retries and cache bounds for remote reads (STAC API requests use the same
    timeout and retry count)."""

    timeout_s: float = 30.0
    connect_timeout_s: float = 10.0
    retries: int = 3
    retry_delay_s: float = 1.0  # first back-off delay; grows on each retry
    file_cache_bytes: int = 16 * 2**20  # VSI_CACHE_SIZE, per open file
    curl_cache_bytes: int = 32 * 2**20  # CPL_VSIL_CURL_CACHE_SIZE, process-wide
    header_bytes: int = 32 * 2**10  # GDAL_INGESTED_BYTES_AT_OPEN

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.connect_timeout_s <= 0:
            raise ConfigError("remote timeouts must be positive seconds")
        if self.retries < 0 or self.retry_delay_s < 0:
            raise ConfigError("remote retries and retry delay must not be negative")

    def gdal_options(self) -> dict[str, str | int]:
        """The GDAL configuration options for remote reads (see the module docstring)."""
        return {
            "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
            "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": _ALLOWED_EXTENSIONS,
            "GDAL_HTTP_MULTIRANGE": "YES",
            "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
            "GDAL_INGESTED_BYTES_AT_OPEN": str(self.header_bytes),
            "GDAL_HTTP_TIMEOUT": _seconds(self.timeout_s),
            "GDAL_HTTP_CONNECTTIMEOUT": _seconds(self.connect_timeout_s),
            "GDAL_HTTP_MAX_RETRY": str(self.retries),
            "GDAL_HTTP_RETRY_DELAY": f"{self.retry_delay_s:g}",
            "GDAL_HTTP_RETRY_CODES": RETRY_CODES,
            "VSI_CACHE": "TRUE",
            "VSI_CACHE_SIZE": str(self.file_cache_bytes),
            "CPL_VSIL_CURL_CACHE_SIZE": str(self.curl_cache_bytes),
            "GDAL_CACHEMAX": GDAL_CACHE_BYTES,  # bytes (rasterio takes an int)
        }


def _seconds(value: float) -> str:
    return str(max(1, round(value)))  # curl takes whole seconds


def remote_env(options: RemoteOptions) -> rasterio.Env:
    """A ``rasterio.Env`` with ``options.gdal_options()``; enter it on the thread that reads."""
    return rasterio.Env(**options.gdal_options())


def explain_read_error(message: str, options: RemoteOptions) -> str:
    """A DataError message from a remote read -> the same, with what to do next."""
    if "response code: 403" in message or "HTTP error code: 403" in message:
        return (
            f"{message} -- HTTP 403 Forbidden: the asset URL is not signed or its signature "
            "expired; sign it (--sign planetary-computer for Microsoft Planetary Computer, "
            "with the optional 'planetary-computer' package installed, or --sign "
            "module:function)"
        )
    if "timed out" in message.lower() or any(f"code: {c}" in message for c in (500, 502, 503)):
        return (
            f"{message} -- still failing after {options.retries} retries with back-off "
            f"(timeout {options.timeout_s:g} s); try again later"
        )
    return message


def load_signer(name: str) -> Signer:
    """``"planetary-computer"`` or ``"package.module:function"`` -> an href signer."""
    if name == PLANETARY_COMPUTER:
        try:
            module = importlib.import_module("planetary_computer")
        except ImportError:
            raise ConfigError(
                "--sign planetary-computer needs the optional package 'planetary-computer' "
                "(pip install planetary-computer)"
            ) from None
        return _checked(module.sign, name)
    module_name, sep, attr = name.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(
            f"signer {name!r}: give 'planetary-computer' or 'package.module:function'"
        )
    try:
        function = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"signer {name!r} cannot be loaded ({err})") from None
    if not callable(function):
        raise ConfigError(f"signer {name!r} is not a function")
    return _checked(function, name)


def _checked(function: Callable[[str], object], name: str) -> Signer:
    """``function`` wrapped so that it returns a string or raises ``DataError``."""

    def sign(href: str) -> str:
        try:
            signed = function(href)
        except (OSError, ValueError, RuntimeError) as err:
            raise DataError(f"signer {name!r} failed for {href} ({err})") from None
        if not isinstance(signed, str) or not signed:
            raise DataError(f"signer {name!r} returned {signed!r} for {href}, not a URL")
        return signed

    return sign
