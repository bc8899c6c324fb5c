"""A tiny STAC API and COG file server on 127.0.0.1, started by the tests themselves.

``StacApiServer(files_dir, items)`` serves, on a free port of 127.0.0.1 (threaded, so GDAL's
parallel range requests work):

- ``/`` (landing page with ``conformsTo`` and a ``search`` link for GET and POST),
  ``/conformance``, ``/collections``, ``/collections/<id>``;
- ``/search`` (GET query string and POST JSON body): ``collections``, ``bbox``, ``intersects``
  (filtered by the geometry's bounding box), ``datetime`` (``a/b``, ``a``, ``../b``, ``a/..``;
  HTTP 400 when it does not parse or ends before it starts), ``limit``, ``token`` (paging:
  every page but the last has a ``next`` link carrying the token; POST next links carry the
  body), ``query`` (``{"prop": {"lt": 10}}``) and ``filter`` (a CQL2-JSON comparison or an
  ``and`` of them, or CQL2 text ``prop < 10``; anything else is HTTP 400);
- ``/files/<path>``: the files under ``files_dir`` with ``HEAD`` and single-range ``GET``
  (``Range: bytes=a-b``; several ranges get the whole file), counting the body bytes sent per
  path in ``bytes_served``.

Item JSON may hold ``{base}`` in hrefs: it becomes the server's URL when served. Test hooks:
``faults[path] = Fault(status=500, times=2)`` answers the next two requests of ``path`` with
HTTP 500 (``delay_s`` sleeps first: a timeout; ``after=1`` lets the first request through);
``signed`` holds path prefixes that answer 403 unless the query string has ``sig=``;
``redirects[path] = "{base}/other"`` answers 302 with that Location; ``custom[path] =
function(handler, method)`` answers however the function writes (hostile servers: trickling,
inflating, lying). ``host`` binds another loopback address (127.0.0.2 ...).
``requests`` logs ``(method, path)``. ``lists_collections=False``: an API without a
collection listing (no ``data`` link, ``/collections`` answers 404), searched by name.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

CONFORMS_TO = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#query",
    "https://api.stacspec.org/v1.0.0/item-search#filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
]
_OPS = {
    "<": float.__lt__,
    "<=": float.__le__,
    ">": float.__gt__,
    ">=": float.__ge__,
    "=": float.__eq__,
    "lt": float.__lt__,
    "lte": float.__le__,
    "gt": float.__gt__,
    "gte": float.__ge__,
    "eq": float.__eq__,
}


class BadRequest(Exception):
    """A search parameter the API rejects (HTTP 400)."""


class NotFound(Exception):
    """A path the API does not have (HTTP 404)."""


@dataclasses.dataclass
class Fault:
    """What the requests of a path get after the first ``after`` went through: ``status``
    (after sleeping ``delay_s``; ``None``: the normal answer, late), ``times`` times
    (``None``: every request)."""

    status: int | None = 500
    delay_s: float = 0.0
    times: int | None = None
    after: int = 0


class StacApiServer:
    """See the module docstring. Use as a context manager; ``base_url`` once started."""

    def __init__(
        self,
        files_dir: Path,
        items: list[dict[str, Any]],
        collections: list[str] | None = None,
        default_limit: int = 10,
        host: str = "127.0.0.1",
        lists_collections: bool = True,
    ) -> None:
        self.lists_collections = lists_collections
        self.files_dir = files_dir.resolve()
        self.items = items
        ids = collections or sorted({str(i.get("collection", "default")) for i in items})
        self.collections = ids
        self.default_limit = default_limit
        self.faults: dict[str, Fault] = {}
        self.signed: set[str] = set()
        self.redirects: dict[str, str] = {}
        self.custom: dict[str, Callable[[Any, str], None]] = {}
        self.bytes_served: Counter[str] = Counter()
        self.requests: list[tuple[str, str]] = []
        self.searches: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.app = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> StacApiServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def total_bytes(self, prefix: str = "/files/") -> int:
        """Body bytes sent for paths starting with ``prefix``."""
        with self._lock:
            return sum(n for path, n in self.bytes_served.items() if path.startswith(prefix))

    def take_fault(self, path: str) -> Fault | None:
        with self._lock:
            fault = self.faults.get(path)
            if fault is None:
                return None
            if fault.after > 0:
                fault.after -= 1
                return None
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    del self.faults[path]
            return fault

    def log(self, method: str, path: str, sent: int = 0) -> None:
        with self._lock:
            self.requests.append((method, path))
            if sent:
                self.bytes_served[path] += sent

    def render(self, doc: Any) -> bytes:
        return json.dumps(doc).replace("{base}", self.base_url).encode()

    # --- STAC documents ---------------------------------------------------------------

    def landing(self) -> dict[str, Any]:
        base = self.base_url
        return {
            "type": "Catalog",
            "stac_version": "1.0.0",
            "id": "test-api",
            "description": "STAC API of the test suite",
            "conformsTo": self.conforms_to(),
            "links": [
                {"rel": "self", "href": f"{base}/", "type": "application/json"},
                {"rel": "root", "href": f"{base}/", "type": "application/json"},
                *([{"rel": "data", "href": f"{base}/collections", "type": "application/json"}]
                  if self.lists_collections else []),
                {"rel": "conformance", "href": f"{base}/conformance"},
                {"rel": "search", "href": f"{base}/search", "method": "GET",
                 "type": "application/geo+json"},
                {"rel": "search", "href": f"{base}/search", "method": "POST",
                 "type": "application/geo+json"},
            ],
        }  # fmt: skip

    def conforms_to(self) -> list[str]:
        listing = CONFORMS_TO[1]  # .../collections
        return [c for c in CONFORMS_TO if self.lists_collections or c != listing]

    def collection(self, cid: str) -> dict[str, Any]:
        return {
            "type": "Collection",
            "stac_version": "1.0.0",
            "id": cid,
            "description": f"collection {cid}",
            "license": "proprietary",
            "extent": {
                "spatial": {"bbox": [[-180, -90, 180, 90]]},
                "temporal": {"interval": [[None, None]]},
            },
            "links": [{"rel": "self", "href": f"{self.base_url}/collections/{cid}"}],
        }

    def search(self, params: dict[str, Any], method: str) -> dict[str, Any]:
        """One page of results (see the module docstring); ``BadRequest`` for bad input."""
        with self._lock:
            self.searches.append(dict(params))
        limit = int(params.get("limit") or self.default_limit)
        start = int(params.get("token") or 0)
        matched = [item for item in self.items if _matches(item, params)]
        page = matched[start : start + limit]
        links: list[dict[str, Any]] = []
        if start + limit < len(matched):
            nxt = {**params, "token": str(start + limit)}
            if method == "POST":
                links.append({"rel": "next", "href": f"{self.base_url}/search",
                              "method": "POST", "body": nxt, "merge": False})  # fmt: skip
            else:
                query = urlencode({k: _as_query(v) for k, v in nxt.items()})
                links.append({"rel": "next", "href": f"{self.base_url}/search?{query}"})
        return {
            "type": "FeatureCollection",
            "features": page,
            "links": links,
            "numberMatched": len(matched),
            "numberReturned": len(page),
        }


def _as_query(value: Any) -> str:
    if isinstance(value, list) and all(isinstance(v, int | float | str) for v in value):
        return ",".join(str(v) for v in value)
    return value if isinstance(value, str) else json.dumps(value)


def _parse_time(text: str) -> dt.datetime | None:
    if text in ("", ".."):
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"datetime component {text!r} is not RFC 3339") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _time_range(text: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    parts = text.split("/")
    if len(parts) > 2:
        raise BadRequest(f"datetime {text!r} has more than two parts")
    start = _parse_time(parts[0])
    end = _parse_time(parts[-1]) if len(parts) == 2 else start
    if start and end and end < start:
        raise BadRequest(f"datetime {text!r} ends before it starts")
    return start, end


def _bbox_of(geometry: dict[str, Any]) -> list[float]:
    points: list[list[float]] = []

    def walk(coords: Any) -> None:
        if coords and isinstance(coords[0], int | float):
            points.append(coords)
        else:
            for c in coords:
                walk(c)

    walk(geometry.get("coordinates", []))
    if not points:
        raise BadRequest("intersects geometry has no coordinates")
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return [min(xs), min(ys), max(xs), max(ys)]


def _compare(item: dict[str, Any], prop: str, op: str, value: Any) -> bool:
    if op not in _OPS:
        raise BadRequest(f"operator {op!r} is not supported")
    have = item["properties"].get(prop)
    return have is not None and _OPS[op](float(have), float(value))


def _cql2(item: dict[str, Any], expr: Any, lang: str | None) -> bool:
    if isinstance(expr, str) and lang != "cql2-json":
        words = expr.split()
        if len(words) != 3:
            raise BadRequest(f"CQL2 text {expr!r} is not 'property op number'")
        return _compare(item, words[0], words[1], words[2])
    if isinstance(expr, str):
        expr = json.loads(expr)
    if not isinstance(expr, dict) or "op" not in expr:
        raise BadRequest("filter is not CQL2 JSON")
    if expr["op"] == "and":
        return all(_cql2(item, arg, "cql2-json") for arg in expr["args"])
    left, right = expr["args"]
    if not isinstance(left, dict) or "property" not in left:
        raise BadRequest("filter: the first argument must be a property")
    return _compare(item, left["property"], expr["op"], right)


def _matches(item: dict[str, Any], params: dict[str, Any]) -> bool:
    collections = params.get("collections")
    if isinstance(collections, str):
        collections = collections.split(",")
    if collections and item.get("collection") not in collections:
        return False
    box = params.get("bbox")
    if params.get("intersects"):
        geometry = params["intersects"]
        box = _bbox_of(json.loads(geometry) if isinstance(geometry, str) else geometry)
    if box:
        west, south, east, north = (float(v) for v in _split(box))
        w, s, e, n = item["bbox"]
        if w > east or e < west or s > north or n < south:
            return False
    if params.get("datetime"):
        start, end = _time_range(str(params["datetime"]))
        when = _parse_time(item["properties"]["datetime"])
        if when is None or (start and when < start) or (end and when > end):
            return False
    query = params.get("query")
    if query:
        query = json.loads(query) if isinstance(query, str) else query
        for prop, ops in query.items():
            if not all(_compare(item, prop, op, v) for op, v in ops.items()):
                return False
    if params.get("filter"):
        return _cql2(item, params["filter"], params.get("filter-lang"))
    return True


def _split(box: Any) -> list[Any]:
    values = box.split(",") if isinstance(box, str) else list(box)
    if len(values) != 4:
        raise BadRequest(f"bbox must have 4 numbers, got {box!r}")
    return values


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr
        return

    @property
    def app(self) -> StacApiServer:
        return self.server.app  # type: ignore[attr-defined,no-any-return]

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""  # read it all: keep-alive
        self.request_body = body
        if url.path in self.app.custom:
            self.app.log(method, url.path)
            self.app.custom[url.path](self, method)
            return
        if url.path in self.app.redirects:
            self.app.log(method, url.path)
            self.send_response(302)
            self.send_header(
                "Location", self.app.redirects[url.path].replace("{base}", self.app.base_url)
            )
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        fault = self.app.take_fault(url.path)
        if fault is not None:
            time.sleep(fault.delay_s)
            if fault.status is not None:
                self.app.log(method, url.path)
                self._json({"code": "Injected", "description": "injected fault"}, fault.status)
                return
        if any(url.path.startswith(p) for p in self.app.signed) and "sig=" not in url.query:
            self.app.log(method, url.path)
            self._json({"code": "Forbidden", "description": "signature required"}, 403)
            return
        if url.path.startswith("/files/"):
            self._file(method, url.path)
            return
        self.app.log(method, url.path)
        try:
            self._json(self._route(method, url.path, url.query, body))
        except NotFound as err:
            self._json({"code": "NotFound", "description": str(err)}, 404)
        except BadRequest as err:
            self._json({"code": "InvalidParameterValue", "description": str(err)}, 400)

    def _route(self, method: str, path: str, query: str, body: bytes) -> Any:
        app = self.app
        if path in ("", "/"):
            return app.landing()
        if path == "/conformance":
            return {"conformsTo": app.conforms_to()}
        if path == "/collections" and not app.lists_collections:
            raise NotFound(path)
        if path == "/collections":
            return {"collections": [app.collection(c) for c in app.collections], "links": []}
        if path.startswith("/collections/"):
            return app.collection(path.split("/")[2])
        if path == "/search":
            if method == "POST":
                params = json.loads(body or b"{}")
            else:
                params = {k: v[-1] for k, v in parse_qs(query).items()}
            return app.search(params, method)
        raise BadRequest(f"no route {path}")

    def _json(self, doc: Any, status: int = 200) -> None:
        body = self.app.render(doc)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _file(self, method: str, path: str) -> None:
        target = (self.app.files_dir / path.removeprefix("/files/")).resolve()
        if not target.is_relative_to(self.app.files_dir) or not target.is_file():
            self.app.log(method, path)
            self._json({"code": "NotFound", "description": path}, 404)
            return
        size = target.stat().st_size
        start, end, status = 0, size - 1, 200
        spec = self.headers.get("Range", "")
        if spec.startswith("bytes=") and "," not in spec:
            first, _, last = spec[6:].partition("-")
            start = int(first) if first else max(0, size - int(last))
            end = min(int(last), size - 1) if first and last else size - 1
            status = 206
        length = max(0, end - start + 1)
        self.send_response(status)
        self.send_header("Content-Type", "image/tiff")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(length))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if method == "HEAD":
            self.app.log(method, path)
            return
        with open(target, "rb") as fh:
            fh.seek(start)
            self.wfile.write(fh.read(length))
        self.app.log(method, path, length)
