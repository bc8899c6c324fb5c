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
- ``GDAL_HTTP_TIMEOUT`` (curl's total time of one request: a deadline, not a per-read timeout)
  / ``GDAL_HTTP_CONNECTTIMEOUT`` (seconds); ``GDAL_HTTP_MAX_RETRY`` and
  ``GDAL_HTTP_RETRY_DELAY``: a failed request is retried with back-off (GDAL multiplies the
  delay by about 2 on each retry) for ``GDAL_HTTP_RETRY_CODES`` (GDAL >= 3.10: 429, 500, 502,
  503, 504) and for timeouts; then the read fails and the item is reported.
- ``VSI_CACHE=TRUE`` / ``VSI_CACHE_SIZE``: a per-file cache of fetched ranges (bounded);
  ``CPL_VSIL_CURL_CACHE_SIZE``: GDAL's process-wide cache of downloaded blocks (bounded);
  ``GDAL_CACHEMAX``: the block cache, the same bound ``raster.py`` sets process-wide.

**Budgets** (``RemoteOptions``, from settings with ``RemoteOptions.from_settings``; each
documented in ``closp_core/settings.py``): ``timeout_s`` is the deadline of one whole request
(connection, retries, headers and body: ``--timeout``, setting ``stac_request_deadline_s``);
``search_deadline_s`` bounds a whole search or listing; ``max_document_bytes`` /
``max_inflated_bytes`` bound one remote STAC document on the wire and inflated; ``max_pages``
bounds the pages of one search; ``hosts`` lists the hosts fetched without question
(``PUBLIC_HOSTS`` plus the setting ``stac_hosts``). How they are enforced: ``fetch.py``.

**Hosts and redirects of assets.** An asset href must name a listed host or the API's own
(``fetch.HostPolicy``). GDAL's /vsicurl/ follows redirects by itself and has no option to stop
that (GDAL 3.10), so the redirect chain is first followed here, each hop checked
(``fetch.resolve_redirects``: a chain that lands on anything but a raster file is refused),
and GDAL is given the URL it lands on; and GDAL itself reads through ``gdal_gate.GdalGate``,
a proxy in this process that checks every hop GDAL takes, so a server that answers GDAL
differently from that probe is refused too.

**Proxies.** None from the environment: GDAL gets the gate as its proxy (which overrides
``http_proxy`` / ``HTTPS_PROXY`` / ``ALL_PROXY`` and ``GDAL_HTTP_PROXY``), our own requests
ignore those variables (``requests``' ``trust_env`` off), and ``NO_PROXY`` / ``no_proxy``
are refused (curl would go around the gate for the hosts they name). An operator who needs a
proxy names it in the setting ``stac_proxy`` (``http://HOST:PORT``); its host is checked like
any other (listed in ``stac_hosts``, or resolving to public addresses only:
``fetch.check_proxy``), every target host is still checked by name, and the gate chains GDAL's
requests through it. Through a proxy, the address a public name resolves to is the proxy's to
choose.

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
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import rasterio

from closp_core.data.raster import GDAL_CACHE_BYTES
from closp_core.errors import ConfigError, DataError

if TYPE_CHECKING:
    from closp_core.settings import Settings

Signer = Callable[[str], str]
PLANETARY_COMPUTER = "planetary-computer"
# the public providers' STAC API and asset hosts (Earth Search, Planetary Computer, Copernicus
# Data Space Ecosystem); the setting stac_hosts adds more
PUBLIC_HOSTS = (
    "earth-search.aws.element84.com",
    "sentinel-cogs.s3.us-west-2.amazonaws.com",
    "sentinel-cogs.s3.amazonaws.com",
    "planetarycomputer.microsoft.com",
    "sentinel2l2a01.blob.core.windows.net",
    "sentinel1euwestrtc.blob.core.windows.net",
    "sentinel1euwest.blob.core.windows.net",
    "*.dataspace.copernicus.eu",
)
MB = 2**20
RETRY_CODES = "429,500,502,503,504"
RASTER_SUFFIXES = (".tif", ".tiff", ".jp2")
_ALLOWED_EXTENSIONS = ",".join(RASTER_SUFFIXES + tuple(s.upper() for s in RASTER_SUFFIXES))


@dataclasses.dataclass(frozen=True)
class RemoteOptions:
    """Deadlines, retries, byte and page budgets, allowed hosts and cache bounds for remote
    reads and STAC API requests (see the module docstring). ``cli``: messages name the command
    line's flags (``--timeout``, ``--sign``); otherwise the settings, for people on the web app."""

    timeout_s: float = 30.0  # deadline of one whole request
    connect_timeout_s: float = 10.0
    retries: int = 3
    retry_delay_s: float = 1.0  # first back-off delay; grows on each retry
    file_cache_bytes: int = 16 * MB  # VSI_CACHE_SIZE, per open file
    curl_cache_bytes: int = 32 * MB  # CPL_VSIL_CURL_CACHE_SIZE, process-wide
    header_bytes: int = 32 * 2**10  # GDAL_INGESTED_BYTES_AT_OPEN
    search_deadline_s: float = 300.0
    max_document_bytes: int = 16 * MB
    max_inflated_bytes: int = 64 * MB
    max_pages: int = 200
    max_redirects: int = 5
    hosts: tuple[str, ...] = PUBLIC_HOSTS
    proxy: str = ""  # http://HOST:PORT every remote request goes through ("": none)
    cli: bool = False

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.connect_timeout_s <= 0 or self.search_deadline_s <= 0:
            raise ConfigError(
                "remote deadlines must be positive seconds (stac_request_deadline_s, "
                "stac_search_deadline_s)"
            )
        if self.retries < 0 or self.retry_delay_s < 0:
            raise ConfigError("remote retries and retry delay must not be negative")
        if min(self.max_document_bytes, self.max_inflated_bytes) < 1024:
            raise ConfigError(
                "stac_max_document_mb and stac_max_inflated_mb must be at least 1 (MB)"
            )
        if self.max_pages < 1 or self.max_redirects < 0:
            raise ConfigError("stac_max_pages must be at least 1")
        if self.proxy:
            parts = urlsplit(self.proxy)
            if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
                raise ConfigError(
                    f"stac_proxy {self.proxy[:100]!r}: give http://HOST:PORT (an HTTP proxy), "
                    "or leave it empty for none"
                )

    @classmethod
    def from_settings(cls, settings: Settings, **changes: Any) -> RemoteOptions:
        """The options the settings name (``changes`` override, e.g. the CLI's flags)."""
        extra = tuple(h.strip().lower() for h in settings.stac_hosts.split(",") if h.strip())
        apis = tuple(urlsplit(u).hostname or "" for u in settings.stac_api_list)  # operator's
        values: dict[str, Any] = {
            "timeout_s": settings.stac_request_deadline_s,
            "connect_timeout_s": min(settings.stac_request_deadline_s, 10.0),
            "search_deadline_s": settings.stac_search_deadline_s,
            "max_document_bytes": settings.stac_max_document_mb * MB,
            "max_inflated_bytes": settings.stac_max_inflated_mb * MB,
            "max_pages": settings.stac_max_pages,
            "hosts": PUBLIC_HOSTS + extra + tuple(h for h in apis if h),
            "proxy": settings.stac_proxy.strip(),
        }
        return cls(**(values | changes))

    def deadline_words(self) -> str:
        """How messages name the request deadline."""
        name = "--timeout" if self.cli else "setting stac_request_deadline_s"
        return f"the deadline of one request, {self.timeout_s:g} s: {name}"

    def too_large(self, what: str, size: int) -> str:
        """A refusal naming the byte budget ``what`` ("document" or "inflated") exceeds."""
        if what == "document":
            limit, name = self.max_document_bytes, "stac_max_document_mb"
            text = "its answer is"
        else:
            limit, name = self.max_inflated_bytes, "stac_max_inflated_mb"
            text = "its answer inflates to"
        return (
            f"{text} more than {limit / MB:g} MB ({size / MB:.3g} MB read so far); refused "
            f"(setting {name})"
        )

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


def remote_env(options: RemoteOptions, proxy: dict[str, str] | None = None) -> rasterio.Env:
    """A ``rasterio.Env`` with ``options.gdal_options()`` and ``proxy`` (the options of a
    ``gdal_gate.GdalGate``); enter it on the thread that reads."""
    return rasterio.Env(**options.gdal_options(), **(proxy or {}))


def explain_read_error(message: str, options: RemoteOptions) -> str:
    """A DataError message from a remote read -> what happened, with what to do next (a slow
    or failing server is not called corrupt)."""
    low = message.lower()
    if "timed out" in low or "response code" in low or "http error code" in low:
        for guess in ("; file corrupt or truncated?", " (corrupt, truncated or not an image)"):
            message = message.replace(guess, "")
    if "response code: 403" in message or "HTTP error code: 403" in message:
        how = (
            "sign it (--sign planetary-computer for Microsoft Planetary Computer, with the "
            "optional 'planetary-computer' package installed, or --sign module:function)"
            if options.cli
            else "this provider's assets must be signed, which the web app does not do; "
            "index them with the command-line tool and a signer"
        )
        return (
            f"{message} -- HTTP 403 Forbidden: the asset URL is not signed or its signature "
            f"expired; {how}"
        )
    if "timed out" in low:
        return (
            f"{message} -- the server was too slow: no complete answer within "
            f"{options.deadline_words()}, still after {options.retries} retries with "
            "back-off; try again later"
        )
    if any(f"code: {c}" in message for c in (500, 502, 503)):
        return (
            f"{message} -- the server failed, still after {options.retries} retries with "
            "back-off; try again later"
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
