"""HTTP for remote STAC documents, under a budget: which hosts, how long, how many bytes.

Every STAC document this project fetches over http(s) (an API's landing page, search pages,
``/collections``, a remote catalogue or item) goes through ``fetch(session, request, remote,
deadline)`` with a ``CheckedSession``:

- **Hosts** (``HostPolicy.check``, on every request and on every redirect hop): a host listed
  in ``RemoteOptions.hosts`` (the public providers' API and asset hosts, ``PUBLIC_HOSTS``, plus
  the setting ``CLOSP_STAC_HOSTS``; ``*.example.org`` matches sub-domains) is allowed; the host
  the user named (the API or catalogue URL) is allowed unless it resolves to a loopback,
  private, link-local or otherwise non-public address; any other host is refused
  (``HostRefusedError``). Redirects are followed by hand (at most ``max_redirects``), so that
  each hop is checked before it is requested and a redirect's body is never read.
- **Deadline**: ``deadline`` (a ``time.monotonic()`` instant) bounds the whole request,
  connection, retries, headers and body together. A watchdog shuts the socket down when it
  passes (``http_deadline.py``), so a server that trickles one byte per second ends there
  (``DeadlineError``); a per-read timeout alone would wait forever.
- **Bytes**: at most ``max_document_bytes`` on the wire and ``max_inflated_bytes`` once
  inflated (gzip / deflate are inflated here, in bounded steps: a small gzip bomb is refused
  before it takes the memory, ``TooLargeError``); other content encodings are refused.
- **Errors never carry the remote body**: status and host only.
- **No proxy from the environment** (``CheckedSession.trust_env`` off), only the setting
  ``stac_proxy``, its host checked (``check_proxy``); GDAL's reads go through
  ``gdal_gate.GdalGate``, which checks every hop GDAL takes, its own redirects included.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
import time
import zlib
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from closp_core.data.stac.deadline import DeadlineRetry, Watch, WatchedAdapter
from closp_core.data.stac.remote import RETRY_CODES, RemoteOptions
from closp_core.errors import DataError, HrefRefusedError

_CHUNK = 64 * 2**10
_ENCODINGS = ("gzip", "x-gzip", "deflate")
_REDIRECTS = (301, 302, 303, 307, 308)


class HostRefusedError(HrefRefusedError):
    """A URL names a host the product does not fetch from."""


class DeadlineError(DataError):
    """A request or a search ran past its deadline."""


class TooLargeError(DataError):
    """A remote document is larger than its byte budget."""


def host_of(url: str) -> str:
    """``host[:port]`` of a URL, as messages name it."""
    return urlsplit(url).netloc.rpartition("@")[2] or url


def host_matches(host: str, pattern: str) -> bool:
    """``host`` equals ``pattern`` or, for ``*.suffix``, is a sub-domain of ``suffix``."""
    pattern = pattern.strip().lower()
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


def _non_public(host: str, port: int) -> str | None:
    """The first address ``host`` resolves to that is not public (``None`` if all are)."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return None  # the connection fails on its own: "cannot reach"
    for info in infos:
        if not is_public(str(info[4][0])):
            return str(info[4][0])
    return None


def is_public(address: str) -> bool:
    """An IP address on the public internet (not loopback, private, link-local, reserved ...)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclasses.dataclass(frozen=True)
class HostPolicy:
    """``listed``: hosts always allowed (patterns); ``named``: the hosts the user named, allowed
    while they resolve to public addresses only."""

    listed: tuple[str, ...]
    named: tuple[str, ...] = ()

    @classmethod
    def for_url(cls, url: str | None, remote: RemoteOptions) -> HostPolicy:
        """The policy of a search or catalogue whose top document is ``url``."""
        named = (urlsplit(url).hostname or "",) if url else ()
        return cls(remote.hosts, tuple(h.lower() for h in named if h))

    def check(self, url: str) -> None:
        """``HostRefusedError`` unless ``url`` may be fetched (module docstring)."""
        try:
            parts = urlsplit(url)
            scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:  # a bracketed host that is not an address, a port out of range
            scheme = host = ""
        if scheme not in ("http", "https") or not host:
            raise HostRefusedError(f"{url[:200]!r} is not an http(s) URL with a host; refused")
        if any(host_matches(host, p) for p in self.listed):
            return
        if host not in self.named:
            raise HostRefusedError(
                f"host {host} is not one the product fetches from; refused (add it to the "
                "setting CLOSP_STAC_HOSTS to allow it)"
            )
        address = _non_public(host, port)
        if address is not None:
            raise HostRefusedError(
                f"host {host} resolves to {address}, a loopback, private or link-local "
                "address; refused (list it in the setting CLOSP_STAC_HOSTS to allow it)"
            )

    def check_peer(self, host: str, address: str) -> None:
        """The address a connection to ``host`` reached: refused when it is not public and
        the host is not listed (a name may resolve differently from when it was checked)."""
        if any(host_matches(host.lower(), p) for p in self.listed) or is_public(address):
            return
        raise HostRefusedError(
            f"host {host} connected to {address}, a loopback, private or link-local address; "
            "refused (list it in the setting CLOSP_STAC_HOSTS to allow it)"
        )


def check_proxy(proxy: str, hosts: HostPolicy) -> None:
    """``HostRefusedError`` unless the proxy of the setting ``stac_proxy`` is listed or
    resolves to public addresses only (a proxy reaches where it is told: it is a host too)."""
    parts = urlsplit(proxy)
    host = (parts.hostname or "").lower()
    if any(host_matches(host, p) for p in hosts.listed):
        return
    address = _non_public(host, parts.port or 80)
    if address is not None:
        raise HostRefusedError(
            f"proxy {host} (setting stac_proxy) resolves to {address}, a loopback, private or "
            "link-local address; refused (list it in the setting CLOSP_STAC_HOSTS to allow it)"
        )


class CheckedSession(requests.Session):
    """A ``requests.Session`` that checks every URL it sends against ``hosts`` and retries
    connection errors and HTTP 429 / 5xx ``remote.retries`` times with back-off. It ignores
    the environment (``trust_env`` off): no ``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``ALL_PROXY``,
    which would carry requests past the host and address checks, nor ``.netrc`` credentials."""

    def __init__(self, hosts: HostPolicy, remote: RemoteOptions) -> None:
        super().__init__()
        self.trust_env = False
        self.hosts = hosts
        if remote.proxy:  # the setting stac_proxy: checked, and its connections watched
            check_proxy(remote.proxy, hosts)
            self.proxies = {"http": remote.proxy, "https": remote.proxy}
        retry = DeadlineRetry(
            total=remote.retries,
            backoff_factor=remote.retry_delay_s,
            status_forcelist=[int(c) for c in RETRY_CODES.split(",")],
            allowed_methods=None,  # POST searches are read-only: retry them too
            raise_on_status=False,
            redirect=False,
        )
        for scheme in ("http://", "https://"):
            self.mount(scheme, WatchedAdapter(max_retries=retry))
        self.headers["Accept-Encoding"] = ", ".join(_ENCODINGS[::2])

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.hosts.check(str(request.url))
        return super().send(request, **kwargs)


def fetch(
    session: CheckedSession,
    request: requests.PreparedRequest,
    remote: RemoteOptions,
    deadline: float,
) -> tuple[int, bytes]:
    """``(status, body)`` of ``request`` (redirects followed, each hop checked); our errors
    for a refused host, a passed ``deadline`` (monotonic seconds) or too many bytes."""
    host = host_of(str(request.url))
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlineError(f"{host}: {remote.deadline_words()} passed before this request")
    with Watch(left, session.hosts.check_peer) as watch:
        try:
            response = _follow(session, request, remote, left)
            with response:
                if not 200 <= response.status_code < 300:
                    return response.status_code, b""
                return response.status_code, read_body(response, remote, host)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as err:
            if watch.passed:
                raise DeadlineError(
                    f"{host}: no complete answer within {left:.3g} s; stopped "
                    f"({remote.deadline_words()})"
                ) from None
            raise DataError(
                f"{host}: cannot reach it ({type(err).__name__}, after {remote.retries} "
                "retries); check the URL and the network"
            ) from None


def _follow(
    session: CheckedSession, request: requests.PreparedRequest, remote: RemoteOptions, left: float
) -> requests.Response:
    timeout = (min(remote.connect_timeout_s, left), left)
    for _ in range(remote.max_redirects + 1):
        response = session.send(request, stream=True, timeout=timeout, allow_redirects=False)
        location = response.headers.get("Location")
        if response.status_code not in _REDIRECTS or not location:
            return response
        response.close()  # a redirect's body is never read
        request = _redirected(request, response.status_code, urljoin(str(request.url), location))
    raise DataError(
        f"{host_of(str(request.url))}: more than {remote.max_redirects} redirects; stopped"
    )


def _redirected(
    request: requests.PreparedRequest, status: int, target: str
) -> requests.PreparedRequest:
    """The request to send to ``target`` after a redirect with ``status`` (as browsers do)."""
    nxt = request.copy()
    nxt.prepare_url(target, None)
    if status in (301, 302, 303) and nxt.method != "HEAD":
        nxt.method = "GET"
        nxt.body = None
        for name in ("Content-Length", "Content-Type"):
            nxt.headers.pop(name, None)
    if host_of(target) != host_of(str(request.url)):
        nxt.headers.pop("Authorization", None)
    return nxt


def read_body(response: requests.Response, remote: RemoteOptions, host: str) -> bytes:
    """The body of ``response``, inflated, within the byte budgets of ``remote``."""
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity", *_ENCODINGS):
        raise DataError(f"{host}: answered in content encoding {encoding[:40]!r}; not read")
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > remote.max_document_bytes:
        raise TooLargeError(f"{host}: {remote.too_large('document', int(declared))}")
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32) if encoding in _ENCODINGS else None
    parts: list[bytes] = []
    wire = size = 0
    try:
        for chunk in response.raw.stream(_CHUNK, decode_content=False):
            wire += len(chunk)
            if wire > remote.max_document_bytes:
                raise TooLargeError(f"{host}: {remote.too_large('document', wire)}")
            if inflater is not None:
                chunk = inflater.decompress(chunk, remote.max_inflated_bytes - size + 1)
            size += len(chunk)
            if size > remote.max_inflated_bytes:
                raise TooLargeError(f"{host}: {remote.too_large('inflated', size)}")
            parts.append(chunk)
        if inflater is not None:
            parts.append(inflater.flush())
            if size + len(parts[-1]) > remote.max_inflated_bytes:
                raise TooLargeError(f"{host}: {remote.too_large('inflated', size)}")
    except zlib.error:
        raise DataError(f"{host}: answered with a broken {encoding} body") from None
    return b"".join(parts)


def get_json_bytes(url: str, remote: RemoteOptions, hosts: HostPolicy, deadline: float) -> bytes:
    """The body of ``GET url`` (2xx) under the budget; ``DataError`` with status and host."""
    with CheckedSession(hosts, remote) as session:
        request = session.prepare_request(requests.Request("GET", url))
        status, body = fetch(session, request, remote, deadline)
    if not 200 <= status < 300:
        raise DataError(f"{host_of(url)}: HTTP {status}")
    return body


def resolve_redirects(url: str, remote: RemoteOptions, hosts: HostPolicy) -> str:
    """The URL ``url`` finally lands on (each hop checked; ``HEAD``, bodies never read).
    GDAL's /vsicurl/ follows redirects itself: it is given this URL, so that an honest server
    makes it follow none. A probe that fails otherwise returns ``url`` (GDAL reports it)."""
    hosts.check(url)
    deadline = min(remote.timeout_s, 10.0)
    with CheckedSession(hosts, remote) as session, Watch(deadline, hosts.check_peer):
        request = session.prepare_request(requests.Request("HEAD", url))
        timeout = (min(remote.connect_timeout_s, deadline), deadline)
        for _ in range(remote.max_redirects + 1):
            try:
                response = session.send(request, timeout=timeout, allow_redirects=False)
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError):
                return str(request.url)
            location = response.headers.get("Location")
            response.close()
            if response.status_code not in _REDIRECTS or not location:
                return str(request.url)
            target = urljoin(str(request.url), location)
            request = _redirected(request, response.status_code, target)
    raise DataError(f"{host_of(url)}: more than {remote.max_redirects} redirects; stopped")
