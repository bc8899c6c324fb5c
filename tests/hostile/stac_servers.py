"""Hostile HTTP answers for ``StacApiServer.custom[path]`` (tests/data/stac_api/server.py):
servers that trickle, inflate, lie and loop. Each writes its whole answer itself; every loop is
bounded on the server's side too (``STOP_S``), so that no test can hang on it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
import zlib
from collections.abc import Callable
from typing import Any

STOP_S = 20.0  # a trickling answer stops here whatever the client does
Behaviour = Callable[[Any, str], None]


def _head(handler: Any, status: int, headers: dict[str, str]) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()


def trickle(body: bytes = b'{"type": "Catalog"' + b" " * 4096, per_s: float = 1.0) -> Behaviour:
    """Headers at once, then the body one byte per ``1 / per_s`` seconds."""

    def answer(handler: Any, method: str) -> None:
        _head(handler, 200, {"Content-Type": "application/json",
                             "Content-Length": str(len(body))})  # fmt: skip
        _drip(handler, body, per_s)

    return answer


def trickle_headers(per_s: float = 1.0) -> Behaviour:
    """The status line and headers themselves, one byte per second."""

    def answer(handler: Any, method: str) -> None:
        handler.close_connection = True
        _drip(handler, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" * 50, per_s)

    return answer


def _drip(handler: Any, data: bytes, per_s: float) -> None:
    end = time.monotonic() + STOP_S
    try:
        for i in range(len(data)):
            if time.monotonic() > end:
                break
            handler.wfile.write(data[i : i + 1])
            handler.wfile.flush()
            time.sleep(1.0 / per_s)
    except OSError:
        pass  # the client hung up: what a deadline does
    handler.close_connection = True


@functools.cache
def gzip_bomb(inflated_mb: int = 400) -> bytes:
    """``inflated_mb`` MB of JSON whitespace in a gzip stream (about 0.4 MB for 400 MB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    parts = [packer.compress(b'{"type": "FeatureCollection", "features": [], "x": "')]
    block = b" " * 2**20
    parts += [packer.compress(block) for _ in range(inflated_mb)]
    parts.append(packer.compress(b'"}') + packer.flush())
    return b"".join(parts)


def raw(
    body: bytes, status: int = 200, headers: dict[str, str] | None = None, length: bool = True
) -> Behaviour:
    """Exactly ``body`` with ``headers`` (no Content-Length and a closed connection when
    ``length`` is false: the body ends when the connection does)."""

    def answer(handler: Any, method: str) -> None:
        extra = dict(headers or {})
        if length:
            extra.setdefault("Content-Length", str(len(body)))
        else:
            handler.close_connection = True
            extra["Connection"] = "close"
        _head(handler, status, {"Content-Type": "application/json", **extra})
        with contextlib.suppress(OSError):
            handler.wfile.write(body)

    return answer


def inflating(inflated_mb: int = 400) -> Behaviour:
    """A gzip bomb sent as ``Content-Encoding: gzip``."""
    return raw(gzip_bomb(inflated_mb), headers={"Content-Encoding": "gzip"})


def json_answer(doc: Any, status: int = 200) -> Behaviour:
    """``doc`` as JSON ("{base}" is the server's URL), whatever it is."""

    def answer(handler: Any, method: str) -> None:
        body = handler.app.render(doc)
        raw(body, status)(handler, method)

    return answer


def json_text(text: str, status: int = 200) -> Behaviour:
    return raw(text.encode(), status)


def page(features: list[Any], links: list[Any] | None = None) -> dict[str, Any]:
    """A search page holding ``features`` (any JSON) and ``links``."""
    return {"type": "FeatureCollection", "features": features, "links": links or []}


def endless_pages(make: Callable[[int], dict[str, Any]], delay_s: float = 0.0) -> Behaviour:
    """``/search`` answered by ``make(n)`` for the ``token=n`` of the request."""

    def answer(handler: Any, method: str) -> None:
        query = handler.path.partition("?")[2]
        token = 0
        for part in query.split("&"):
            if part.startswith("token="):
                token = int(part[6:] or 0)
        if method == "POST":  # the server has read the body into request_body
            token = int(json.loads(handler.request_body or b"{}").get("token") or 0)
        time.sleep(delay_s)
        json_answer(make(token))(handler, method)

    return answer


def slow_json(doc: Any, delay_s: float) -> Behaviour:
    """``doc`` as JSON after ``delay_s`` seconds."""

    def answer(handler: Any, method: str) -> None:
        time.sleep(delay_s)
        json_answer(doc)(handler, method)

    return answer
