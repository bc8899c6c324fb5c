"""A host-checking proxy for GDAL's ``/vsicurl/`` reads: every hop GDAL takes is checked.

GDAL's curl layer follows HTTP redirects by itself: GDAL 3.10 has no configuration option to
stop it (the options it reads about redirects, ``CPL_VSIL_CURL_USE_S3_REDIRECT`` and
``CPL_VSIL_CURL_AUTHORIZATION_HEADER_ALLOWED_IF_REDIRECT``, only concern S3 signing and
credentials; ``CURLOPT_FOLLOWLOCATION`` is always on). What it does honour is a proxy:
``GDAL_HTTP_PROXY`` / ``GDAL_HTTPS_PROXY`` set curl's ``CURLOPT_PROXY``, which also overrides
the ``http_proxy`` / ``HTTPS_PROXY`` / ``ALL_PROXY`` environment variables curl reads.

So every STAC read runs GDAL through ``GdalGate``, a forward proxy on 127.0.0.1 in this process:
each request GDAL sends, the first and every redirect hop alike, names its host to the gate
(``GET http://host/...`` or ``CONNECT host:443``), which checks it with the read's
``HostPolicy`` (listed hosts; named hosts only while they resolve to public addresses), opens
the connection itself and checks the address it reached (``HostPolicy.check_peer``) before a
byte goes out. A refused hop answers 403 to GDAL and is kept in ``refused``, so the reader
reports the refusal (``HostRefusedError``) instead of GDAL's "HTTP 403".

With the setting ``stac_proxy`` (``upstream``), the gate checks each hop the same way, then
sends it on through that proxy (whose host ``fetch.check_proxy`` checked, and whose address
each connection checks again).

``NO_PROXY`` / ``no_proxy`` in the environment would make curl go around the gate for the hosts
they name; ``GdalGate`` refuses to start while either is set (``ConfigError`` saying so).
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import socketserver
import threading
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from closp_core.data.stac.fetch import HostPolicy, HostRefusedError, check_proxy
from closp_core.errors import ConfigError

_HEAD_BYTES = 64 * 2**10  # the most a request or response head may be
_CHUNK = 64 * 2**10
_DROPPED = (b"connection", b"proxy-connection", b"proxy-authorization", b"keep-alive")
_REFUSED = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_FAILED = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class GdalGate:
    """The proxy of one read (module docstring); a context manager. ``url``: give it to GDAL
    (``gdal_options``); ``refused``: the refusals of hops GDAL asked for, in order;
    ``opened``: connections it opened for them.
    ``idle_s``: a connection with no byte either way for this long is closed."""

    def __init__(
        self, hosts: HostPolicy, connect_timeout_s: float, idle_s: float, upstream: str = ""
    ) -> None:
        for name in ("NO_PROXY", "no_proxy"):
            if os.environ.get(name, "").strip():
                raise ConfigError(
                    f"{name} is set ({os.environ[name][:80]!r}): curl would reach the hosts it "
                    "names around the host check of remote reads; unset NO_PROXY and no_proxy "
                    "for this program (it uses no proxy from the environment)"
                )
        if upstream:
            check_proxy(upstream, hosts)
        self.hosts, self.connect_timeout_s, self.idle_s = hosts, connect_timeout_s, idle_s
        self.upstream = upstream
        self.refused: list[str] = []
        self.opened = 0
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.gate = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def gdal_options(self) -> dict[str, str]:
        """GDAL configuration options that send every request through this gate."""
        return {"GDAL_HTTP_PROXY": self.url, "GDAL_HTTPS_PROXY": self.url}

    def __enter__(self) -> GdalGate:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def refuse(self, message: str) -> None:
        with self._lock:
            self.refused.append(message)

    def open(self, method: str, target: str) -> socket.socket:
        """The checked connection a request line asks for (``HostRefusedError``, ``OSError``)."""
        if method == "CONNECT":
            url = f"https://{target}/"
        elif urlsplit(target).scheme.lower() == "http":
            url = target
        else:
            raise HostRefusedError(f"{target[:200]!r} is not an http(s) URL; refused")
        self.hosts.check(url)
        parts = urlsplit(self.upstream or url)  # connect to the upstream proxy, or the host
        default = 443 if method == "CONNECT" and not self.upstream else 80
        host, port = parts.hostname or "", parts.port or default
        upstream = socket.create_connection((host, port), timeout=self.connect_timeout_s)
        try:
            self.hosts.check_peer(host, str(upstream.getpeername()[0]))
            if self.upstream and method == "CONNECT":
                _tunnel(upstream, target)
        except (HostRefusedError, OSError, ValueError):
            upstream.close()
            raise
        with self._lock:
            self.opened += 1
        return upstream


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    gate: GdalGate


class _Handler(socketserver.BaseRequestHandler):
    """One client connection of GDAL's curl: one request (``GET``/``HEAD`` of an ``http://``
    URL, relayed with ``Connection: close``) or one ``CONNECT`` tunnel."""

    server: _Server
    request: socket.socket

    def handle(self) -> None:
        gate, client = self.server.gate, self.request
        client.settimeout(gate.idle_s)
        try:
            head, rest = _read_head(client)
            method, target, version = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            upstream = gate.open(method, target)
        except HostRefusedError as err:
            gate.refuse(str(err))
            with contextlib.suppress(OSError):
                client.sendall(_REFUSED)
            return
        except (OSError, ValueError, UnicodeError):
            with contextlib.suppress(OSError):
                client.sendall(_FAILED)
            return
        with upstream, contextlib.suppress(OSError, ValueError):  # a side hung up, or lied
            upstream.settimeout(gate.idle_s)
            if method == "CONNECT":
                client.sendall(f"{version} 200 Connection established\r\n\r\n".encode())
                if rest:
                    upstream.sendall(rest)
                _relay(client, upstream, gate.idle_s, forward=True)
                return
            upstream.sendall(_forward_form(head, target, absolute=bool(gate.upstream)) + rest)
            response, body = _read_head(upstream)
            client.sendall(_closing(response) + body)
            _relay(client, upstream, gate.idle_s, forward=False)


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """An HTTP head (through the blank line) and the bytes read after it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(_CHUNK)
        if not chunk or len(data) > _HEAD_BYTES:
            raise ValueError("no complete HTTP head")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head + b"\r\n\r\n", rest


def _tunnel(upstream: socket.socket, target: str) -> None:
    """Ask the upstream proxy for a tunnel to ``target`` (``host:port``); ``OSError`` if not."""
    upstream.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head, rest = _read_head(upstream)
    if head.split(b" ", 2)[1:2] != [b"200"] or rest:
        raise OSError(f"the proxy refused a tunnel to {target}")


def _forward_form(head: bytes, target: str, absolute: bool) -> bytes:
    """A proxy request head -> the head sent on: to the origin server a path-only request
    line (``absolute``: the full URL, to the upstream proxy), no proxy headers, and
    ``Connection: close`` (one request per connection: each one is checked)."""
    lines = head.rstrip(b"\r\n").split(b"\r\n")
    method, _, version = lines[0].split(b" ")
    parts = urlsplit(target)
    path = target if absolute else (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    kept = [line for line in lines[1:] if line.split(b":", 1)[0].strip().lower() not in _DROPPED]
    request = [method + b" " + path.encode("latin-1") + b" " + version, *kept]
    return b"\r\n".join([*request, b"Connection: close"]) + b"\r\n\r\n"


def _closing(head: bytes) -> bytes:
    """A response head with ``Connection: close``: curl opens a new connection (and so asks
    the gate again) for its next request."""
    lines = head.rstrip(b"\r\n").split(b"\r\n")
    kept = [line for line in lines[1:] if line.split(b":", 1)[0].strip().lower() not in _DROPPED]
    return b"\r\n".join([lines[0], *kept, b"Connection: close"]) + b"\r\n\r\n"


def _relay(client: socket.socket, upstream: socket.socket, idle_s: float, forward: bool) -> None:
    """Copy bytes until either side closes or ``idle_s`` pass without one; ``forward``: client
    bytes go upstream too (a tunnel), else they are dropped (a relayed single request)."""
    peers: dict[Any, socket.socket] = {client: upstream, upstream: client}
    while True:
        readable, _, _ = select.select(list(peers), [], [], idle_s)
        if not readable:
            return
        for sock in readable:
            try:
                data = sock.recv(_CHUNK)
            except OSError:
                return
            if not data:
                return
            if sock is upstream or forward:
                try:
                    peers[sock].sendall(data)
                except OSError:
                    return
