"""A deadline for one whole HTTP request made with requests / urllib3 (see ``fetch.py``).

A socket timeout bounds each read, not the request: a server that sends one byte per second
never trips it. ``Watch(seconds)`` (a context manager around one request, on its thread) starts
a timer; the connections that ``WatchedAdapter`` makes register their sockets with the active
watch, and when the timer fires their sockets are shut down, which ends any blocked read at
once (``Watch.expired`` then tells a deadline from other errors). ``DeadlineRetry`` keeps
urllib3's retries inside the same deadline: no back-off sleep or ``Retry-After`` outlasts it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import ConnectionPool, HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import MaxRetryError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

_ACTIVE = threading.local()


PeerCheck = Callable[[str, str], None]


class Watch:
    """Shuts down the sockets of one request when its deadline passes; ``peer_check(host,
    address)`` (if given) is called with the address each new connection actually reached, and
    may raise to refuse it (the host's name may have resolved differently when it was checked)."""

    def __init__(self, seconds: float, peer_check: PeerCheck | None = None) -> None:
        self.peer_check = peer_check
        self.ends = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(seconds, 0.0), self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Watch:
        _ACTIVE.watch = self
        self._timer.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._timer.cancel()
        _ACTIVE.watch = None

    @property
    def passed(self) -> bool:
        """The deadline has passed (the timer fired, or a socket timeout set to the time left
        fired first: they race at the deadline)."""
        return self.expired or time.monotonic() >= self.ends - 0.05

    def add(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if sock not in self._sockets:
                self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _left() -> float | None:
    """Seconds left to the current request's deadline (``None`` outside ``fetch``)."""
    watch = getattr(_ACTIVE, "watch", None)
    return None if watch is None else max(0.0, watch.ends - time.monotonic())


class DeadlineRetry(Retry):
    """urllib3's retries that end at the request's deadline: no back-off sleep (nor a server's
    ``Retry-After``) outlasts it, and a retry that would start after it is not made (the last
    answer stands: "HTTP 500 after N retries", not a timeout)."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        left = _left()
        wait = Retry.get_backoff_time(new)
        if response is not None and self.respect_retry_after_header:
            wait = max(wait, Retry.get_retry_after(new, response) or 0.0)
        if left is not None and wait >= left:
            raise MaxRetryError(_pool, url or "", error)  # type: ignore[arg-type]
        return new

    def get_backoff_time(self) -> float:
        left = _left()
        wait = super().get_backoff_time()
        return wait if left is None else min(wait, left)

    def get_retry_after(self, response: Any) -> float | None:
        wait = super().get_retry_after(response)
        left = _left()
        return wait if wait is None or left is None else min(wait, left)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # the plain socket's: wakes a blocked read, TLS untouched
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _watch(sock: Any) -> None:
    watch = getattr(_ACTIVE, "watch", None)
    if watch is not None:
        watch.add(sock)


def _connected(host: str, sock: Any) -> None:
    """Register a new connection's socket and check the address it reached."""
    _watch(sock)
    watch = getattr(_ACTIVE, "watch", None)
    if watch is not None and watch.peer_check is not None and sock is not None:
        try:
            address = str(sock.getpeername()[0])
        except OSError:
            return
        watch.peer_check(host, address)  # urllib3 closes the connection when this raises


class _Watched:
    """What both connection classes add: the peer checked on connect, the socket watched."""

    host: str
    sock: Any

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        _connected(self.host, self.sock)

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _watch(self.sock)
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = WatchedHTTPConnection


class WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = WatchedHTTPSConnection


_WATCHED_POOLS = {"http": WatchedHTTPPool, "https": WatchedHTTPSPool}


class WatchedAdapter(HTTPAdapter):
    """requests' adapter whose connections the deadline watchdog can cut."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        """The manager of a proxy's connections, watched too (their peer is the proxy)."""
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager
