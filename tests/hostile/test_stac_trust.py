"""Hostile STAC servers, issue 17 (findings 3 and 5): hosts nobody named, redirects, remote
error bodies, malformed items and JSON that is not STAC. Servers on 127.0.0.1 (listed, as an
operator would list a host) and 127.0.0.2 (not listed: a loopback host must be refused).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from closp_core.data import Tally
from closp_core.data.stac import fetch
from closp_core.data.stac.api import StacQuery, StacSearchSource
from closp_core.data.stac.fetch import HostRefusedError
from closp_core.data.stac.io import NotStacError
from closp_core.data.stac.static import StacSource
from closp_core.errors import DataError, HrefRefusedError
from closp_core.settings import Settings
from ingest.cli import main
from tests.data.stac_api import make_data as md
from tests.data.stac_api.helpers import ALL_TIME, S2, WORLD, serve
from tests.data.stac_api.server import StacApiServer
from tests.hostile.stac_servers import json_answer, json_text, page, raw
from tests.hostile.test_stac_budgets import REMOTE, item
from tests.ingest.conftest import cli_args

UNLISTED = "127.0.0.2"  # a loopback address nobody listed
B05 = f"/files/s2/{md.S2_STEM}_B05.tif"
error, refused = (pytest.mark.hostile(v) for v in ("error", "refused"))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return md.ensure_files(tmp_path_factory.getbasetemp() / "stac_api_files")


def search(url: str) -> StacSearchSource:
    return StacSearchSource(StacQuery(url, S2, WORLD, ALL_TIME, method="GET"), remote=REMOTE)


def failed_unit(source: StacSearchSource | StacSource, good: int = 1) -> str:
    """The one failed unit beside ``good`` scenes."""
    units = source.units()
    assert len(units) == good + 1, units
    return units[-1]


# --- hosts: only the named API, listed hosts, every hop checked ------------------------------


@refused
def test_unlisted_loopback_api_is_refused_before_any_request(files: Path) -> None:
    with serve(files, [item(files, 0)], host=UNLISTED) as server:
        with pytest.raises(HostRefusedError, match=r"host 127\.0\.0\.2 resolves to 127\.0\.0\.2, "
                           r"a loopback.*CLOSP_STAC_HOSTS"):  # fmt: skip
            search(server.base_url).units()
        assert server.requests == []


@refused
def test_name_that_resolves_differently_at_connection_time_is_refused(
    files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name looked public when checked, the connection reached loopback."""
    monkeypatch.setattr(fetch, "_non_public", lambda host, port: None)
    with serve(files, [item(files, 0)], host=UNLISTED) as server:
        with pytest.raises(HostRefusedError, match=r"host 127\.0\.0\.2 connected to 127\.0\.0\.2"):
            search(server.base_url).units()
        assert server.requests == []


@refused
def test_landing_redirect_to_an_unlisted_host_is_refused(files: Path) -> None:
    with serve(files, [], host=UNLISTED) as inner, serve(files, [item(files, 0)]) as server:
        server.redirects["/"] = inner.base_url + "/"
        with pytest.raises(HostRefusedError, match=r"host 127\.0\.0\.2 is not one the product"):
            search(server.base_url).units()
        assert inner.requests == []


@refused
def test_next_link_to_an_unlisted_host_ends_the_search_there(files: Path) -> None:
    with serve(files, [], host=UNLISTED) as inner, serve(files, []) as server:
        link = [{"rel": "next", "href": inner.base_url + "/search?token=1"}]
        server.custom["/search"] = json_answer(page([item(files, 0)], link))
        source = search(server.base_url)
        bad = failed_unit(source)
        with pytest.raises(HostRefusedError, match=r"host 127\.0\.0\.2 is not one"):
            list(source.read(bad, Tally()))
        assert inner.requests == []


def _asset_case(kind: str, files: Path, server: StacApiServer, inner: StacApiServer) -> None:
    doc = item(files, 0)
    doc["assets"]["B05"]["href"] = "{base}/moved/B05.tif"  # this item's own path
    server.redirects["/moved/B05.tif"] = {
        "asset-redirect-to-unlisted-host": inner.base_url + B05,
        "asset-redirect-to-a-non-raster": "{base}/collections",
        "asset-redirect-loop": "{base}/moved/B05.tif",
    }.get(kind, "{base}" + B05)
    if kind == "asset-on-unlisted-host":
        doc["assets"]["B05"]["href"] = inner.base_url + B05
    server.items = [doc, item(files, 1)]


ASSETS = [
    pytest.param("asset-on-unlisted-host", HrefRefusedError, r"host 127\.0\.0\.2 is not one",
                 marks=refused),
    pytest.param("asset-redirect-to-unlisted-host", HostRefusedError,
                 r"host 127\.0\.0\.2 is not one", marks=refused),
    pytest.param("asset-redirect-to-a-non-raster", HrefRefusedError,
                 r"redirects to .*/collections, which is not a raster file", marks=refused),
    pytest.param("asset-redirect-loop", DataError, r"more than 5 redirects; stopped",
                 marks=error),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "kind_error", "match"), ASSETS)
def test_asset_that_leaves_the_allowed_hosts(
    kind: str, kind_error: type[DataError], match: str, files: Path
) -> None:
    with serve(files, [], host=UNLISTED) as inner, serve(files, []) as server:
        _asset_case(kind, files, server, inner)
        source = search(server.base_url)
        units = source.units()
        assert len(units) == 2
        with pytest.raises(kind_error, match=match):
            list(source.read(units[0], Tally()))
        assert source.read(units[1], Tally()) is not None  # the other item is read
        assert inner.requests == []


@refused
def test_static_catalogue_linking_an_unlisted_host(files: Path) -> None:
    with serve(files, [], host=UNLISTED) as inner, serve(files, []) as server:
        catalog = {"type": "Catalog", "stac_version": "1.0.0", "id": "c", "description": "c",
                   "links": [{"rel": "item", "href": "{base}/item.json"},
                             {"rel": "item", "href": inner.base_url + "/item.json"}]}  # fmt: skip
        server.custom["/cat.json"] = json_answer(catalog)
        server.custom["/item.json"] = json_answer(item(files, 0))
        source = StacSource(server.base_url + "/cat.json", remote=REMOTE)
        bad = failed_unit(source)
        with pytest.raises(HostRefusedError, match=r"item\.json: host 127\.0\.0\.2 is not one"):
            list(source.read(bad, Tally()))
        assert inner.requests == []


SECRET = b"SECRET-internal-service-reply token=hunter2"
BODIES = [
    pytest.param("/search", raw(SECRET, 400), "search", r"rejected the request to search "
                 r"\(HTTP 400\); check the collections", id="search-400-body"),
    pytest.param("/", raw(SECRET, 500), "search", r"HTTP 500 after 1 retries",
                 id="landing-500-body"),
    pytest.param("/", raw(SECRET, 404), "search", r"rejected the request to open \(HTTP 404\)",
                 id="landing-404-body"),
    pytest.param("/cat.json", raw(SECRET, 403), "static", r"cat\.json: HTTP 403",
                 id="catalogue-403-body"),
]  # fmt: skip


@error
@pytest.mark.parametrize(("path", "behaviour", "kind", "match"), BODIES)
def test_remote_error_body_is_never_shown(
    path: str, behaviour: Any, kind: str, match: str, files: Path
) -> None:
    with serve(files, [item(files, 0)]) as server:
        server.custom[path] = behaviour
        url = server.base_url
        with pytest.raises(DataError, match=match) as caught:
            if kind == "static":
                StacSource(url + "/cat.json", remote=REMOTE).units()
            else:
                search(url).units()
    assert "SECRET" not in str(caught.value) and "hunter2" not in str(caught.value)


# --- one malformed item is one failed unit; the page's other items go on ---------------------


def _bad_item(files: Path, kind: str) -> Any:
    doc = item(files, 9)
    change: dict[str, Any] = {
        "properties-list": {"properties": []},
        "assets-list": {"assets": []},
        "integer-id": {"id": 42},
        "empty-id": {"id": ""},
        "links-not-a-list": {"links": {"rel": "self"}},
        "bbox-of-strings": {"bbox": ["a", "b", "c", "d"]},
        "geometry-a-string": {"geometry": "POINT (0 0)"},
    }.get(kind, {})
    doc.update(change)
    if kind == "integer-href":
        doc["assets"]["B05"]["href"] = 5
    elif kind == "asset-not-an-object":
        doc["assets"]["B05"] = "B05.tif"
    elif kind == "null-datetime":
        doc["properties"]["datetime"] = None
    elif kind == "garbage-datetime":
        doc["properties"]["datetime"] = "the day after tomorrow"
    elif kind == "numeric-datetime":
        doc["properties"]["datetime"] = 1673539200
    elif kind == "year-99999-datetime":
        doc["properties"]["datetime"] = "99999-01-01T00:00:00Z"
    return {"feature-a-string": "not a feature", "feature-a-list": [1, 2],
            "feature-null": None}.get(kind, doc)  # fmt: skip


ITEMS = [
    ("properties-list", r"lacks assets or properties objects"),
    ("assets-list", r"lacks assets or properties objects"),
    ("integer-id", r"search page 1, feature 2: an item without an id"),
    ("empty-id", r"an item without an id"),
    ("integer-href", r"asset 'B05' has no string href"),
    ("asset-not-an-object", r"asset 'B05' has no string href"),
    ("links-not-a-list", r"links is not a list"),
    ("bbox-of-strings", r"bbox is not a list of 4 or 6 numbers"),
    ("geometry-a-string", r"geometry is not an object"),
    ("null-datetime", r"datetime is null without start_datetime"),
    ("garbage-datetime", r"is malformed \(ValueError: Expected 4 digits"),
    ("numeric-datetime", r"datetime 1673539200 is not a string"),
    ("year-99999-datetime", r"is malformed"),
    ("feature-a-string", r"not a STAC Item \(type 'str'\)"),
    ("feature-a-list", r"not a STAC Item \(type 'list'\)"),
    ("feature-null", r"not a STAC Item \(type 'NoneType'\)"),
]


@error
@pytest.mark.parametrize(("kind", "match"), ITEMS, ids=[k for k, _ in ITEMS])
def test_malformed_item_fails_alone(kind: str, match: str, files: Path) -> None:
    with serve(files, []) as server:
        server.custom["/search"] = json_answer(page([item(files, 0), _bad_item(files, kind)]))
        source = search(server.base_url)
        bad = failed_unit(source)
    assert "search page 1, feature 2" in bad
    with pytest.raises(DataError, match=match):
        list(source.read(bad, Tally()))


# --- JSON that is not STAC: "not a STAC API", never a traceback -------------------------------

NOT_STAC = [
    pytest.param("/", json_answer([]), r"its landing page is a JSON list", id="landing-list"),
    pytest.param("/", json_answer("hello"), r"its landing page is a JSON str", id="landing-str"),
    pytest.param("/", json_answer({"hello": 1}), r"no list of links", id="landing-no-links"),
    pytest.param("/", json_answer({"links": [{"rel": 5}]}), r"no list of links",
                 id="landing-link-without-href"),
    pytest.param("/", json_text("<html><body>Welcome</body></html>"), r"its answer is not JSON",
                 id="landing-html"),
    pytest.param("/", json_text("[" * 100_000 + "]" * 100_000), r"nests too deep",
                 id="landing-100k-brackets"),
    pytest.param("/", raw(b"\xff\xfe\x00garbage"), r"not UTF-8 text", id="landing-binary"),
    pytest.param("/search", json_answer([1, 2]), r"a page is a JSON list", id="page-list"),
    pytest.param("/search", json_answer({"features": 5}), r"'features' is not a list",
                 id="page-features-number"),
    pytest.param("/search", json_answer({"features": [], "links": 5}), r"'links' is not a list",
                 id="page-links-number"),
]  # fmt: skip


@error
@pytest.mark.parametrize(("path", "behaviour", "match"), NOT_STAC)
def test_json_that_is_not_stac(path: str, behaviour: Any, match: str, files: Path) -> None:
    with serve(files, [item(files, 0)]) as server:
        server.custom[path] = behaviour
        with pytest.raises(NotStacError, match=r"not a STAC API \(.*" + match):
            search(server.base_url).units()


@error
def test_cli_on_json_that_is_not_stac_says_so(
    files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLOSP_STAC_HOSTS", "127.0.0.1")
    settings = Settings(model="random:closp-rn", data_dir=tmp_path / "data", batch_size=16)
    with serve(files, []) as server:
        server.custom["/"] = json_answer({"status": "ok", "version": 3})
        args = ["--collections", "sentinel-2-l2a", "--datetime", ALL_TIME, "--bbox=0,0,1,1"]
        code = main(cli_args(settings, "stac-search", server.base_url, *args))
    out = capsys.readouterr()
    assert code == 2 and "Traceback" not in out.err
    assert "not a STAC API (its landing page has no list of links)" in out.out + out.err
