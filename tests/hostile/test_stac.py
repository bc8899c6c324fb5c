"""Hostile STAC inputs (issues #10 and #13): API search, remote COG reads, static catalogues and
href confinement. Each case feeds one bad input, asserts our error type and message, that the
good input of the same run was indexed, and that the index is otherwise unchanged.

Servers run on 127.0.0.1 (``tests/data/stac_api/server.py``); nothing is mocked.
"""

from __future__ import annotations

import json
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from closp_core.data import BigEarthNetSource, ChipSource, Tally
from closp_core.data.samples import SAMPLES_DIR
from closp_core.data.stac.aoi import Aoi
from closp_core.data.stac.api import StacQuery, StacSearchSource
from closp_core.data.stac.remote import RemoteOptions
from closp_core.data.stac.static import StacSource
from closp_core.embedder import Embedder
from closp_core.errors import DataError, HrefRefusedError
from closp_core.settings import Settings
from closp_core.store import open_store
from ingest.pipeline import Ingestor, IngestSummary
from tests.data.stac import make_data as static_md
from tests.data.stac_api import layouts
from tests.data.stac_api import make_data as md
from tests.data.stac_api.helpers import ALL_TIME, S1, WORLD, serve
from tests.data.stac_api.server import Fault
from tests.hostile.harness import index_fingerprint

FAST = RemoteOptions(
    timeout_s=1.0, connect_timeout_s=1.0, retries=1, retry_delay_s=0.05, hosts=("127.0.0.1",)
)
S2_VIRGINIA = (-75.64, 37.66, -75.637, 37.662)  # one chip of the Virginia strip
B05 = f"/files/s2/{md.S2_STEM}_B05.tif"
error, refused, flagged = (pytest.mark.hostile(v) for v in ("error", "refused", "flagged"))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = md.ensure_files(tmp_path_factory.getbasetemp() / "stac_api_files")
    (folder / "not-a-raster.tif").write_text("<html><body>not an image</body></html>")
    return folder


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory, rn_embedder: Embedder) -> Path:
    """An index holding two BigEarthNet chips: what every case must leave as it was."""
    data = tmp_path_factory.mktemp("baseline") / "data"
    store = open_store(Settings(data_dir=data), rn_embedder.model_id)
    try:
        source = BigEarthNetSource(SAMPLES_DIR / "bigearthnet")
        Ingestor(rn_embedder, store, data, progress=False).run(source, limit=2)
    finally:
        store.close()
    return data


@pytest.fixture
def settings(baseline: Path, tmp_path: Path) -> Settings:
    shutil.copytree(baseline, tmp_path / "data")
    return Settings(data_dir=tmp_path / "data")


def ingest(settings: Settings, embedder: Embedder, source: ChipSource) -> IngestSummary:
    """Run ``source`` into the index; the STAC chips it added are removed again and the index
    must then be exactly the baseline. ``summary.stac_keys`` lists what was added."""
    store = open_store(settings, embedder.model_id)
    try:
        before = index_fingerprint(store)
        summary = Ingestor(embedder, store, settings.data_dir, progress=False).run(source)
        added = sorted(r.key for r in store.iter_records() if r.source == "stac")
        store.delete_source("stac")
        assert index_fingerprint(store) == before
    finally:
        store.close()
    summary.stac_keys = added  # type: ignore[attr-defined]
    return summary


def unchanged(settings: Settings, embedder: Embedder, action: Callable[[], object]) -> None:
    """``action`` (which must raise) leaves the index exactly as it was."""
    store = open_store(settings, embedder.model_id)
    try:
        before = index_fingerprint(store)
        action()
    finally:
        after = index_fingerprint(store)
        store.close()
    assert after == before


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def silent_api() -> Iterator[str]:
    """A port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def box(w: float, s: float, e: float, n: float) -> list[list[list[float]]]:
    return [[[w, s], [e, s], [e, n], [w, n], [w, s]]]


def two_chip_aoi(s1_item: dict[str, Any]) -> Aoi:
    """One chip of the Spain S1 item and one of the Virginia S2 strip."""
    w, _, _, n = s1_item["bbox"]
    polys = [box(w, n - 0.01, w + 0.01, n), box(*S2_VIRGINIA)]  # the top-left S1 chip
    return Aoi.from_geojson({"type": "MultiPolygon", "coordinates": polys})


# --- the search itself: nothing can start ------------------------------------------------

SEARCH_FAILURES = [
    pytest.param("unreachable", r"cannot reach it .*check the URL", marks=error),
    pytest.param("silent", r"no complete answer within 1 s; stopped", marks=error),
    pytest.param("datetime", r"rejected the request to search \(HTTP 400\)", marks=error),
    pytest.param("search-500", r"HTTP 500 after 1 retries", marks=error),
]


@pytest.mark.parametrize(("kind", "match"), SEARCH_FAILURES)
def test_search_that_cannot_run(
    kind: str, match: str, files: Path, settings: Settings, rn_embedder: Embedder
) -> None:
    with serve(files, [layouts.pc_s1_rtc(files)]) as server, silent_api() as silent:
        url = {"unreachable": f"http://127.0.0.1:{closed_port()}", "silent": silent}.get(
            kind, server.base_url
        )
        when = "2024-01-01/2020-01-01" if kind == "datetime" else ALL_TIME
        if kind == "search-500":
            server.faults["/search"] = Fault(500)
        source = StacSearchSource(StacQuery(url, S1, WORLD, when), remote=FAST)
        start = time.monotonic()

        def search() -> None:
            with pytest.raises(DataError, match=match):
                source.units()

        unchanged(settings, rn_embedder, search)
    bound = (FAST.retries + 1) * (FAST.timeout_s + FAST.connect_timeout_s) + 2
    assert time.monotonic() - start < bound  # within the configured timeout


@pytest.mark.parametrize(
    ("geometry", "match"),
    [
        pytest.param({"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
                     "is a LineString, not an area", marks=error, id="line"),
        pytest.param({"type": "Point", "coordinates": [0, 0]}, "is a Point", marks=error,
                     id="point"),
        pytest.param({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1]]]},
                     "the first repeated last", marks=error, id="open-ring"),
        pytest.param({"type": "Polygon", "coordinates": box(0, 80, 1, 95)},
                     r"\(1.0, 95.0\) is not a WGS84", marks=error, id="latitude-95"),
    ],
)  # fmt: skip
def test_aoi_that_is_not_a_polygon(
    geometry: dict[str, Any], match: str, tmp_path: Path, settings: Settings, rn_embedder: Embedder
) -> None:
    path = tmp_path / "aoi.geojson"
    path.write_text(json.dumps({"type": "Feature", "geometry": geometry, "properties": {}}))

    def parse() -> None:
        with pytest.raises(DataError, match=rf"AOI {path}: .*{match}"):
            Aoi.from_geojson(path)

    unchanged(settings, rn_embedder, parse)


@error
def test_datetime_that_is_not_a_date(settings: Settings, rn_embedder: Embedder) -> None:
    def build() -> None:
        with pytest.raises(DataError, match=r"--datetime 'last week/\.\.': 'last week' is not"):
            StacQuery("http://127.0.0.1:9", S1, WORLD, "last week/..")

    unchanged(settings, rn_embedder, build)


# --- one item of a search fails; the others are indexed ----------------------------------


def _bad_s2(server: Any, item: dict[str, Any], kind: str) -> None:
    if kind == "asset-500":
        server.faults[B05] = Fault(500)
    elif kind == "asset-timeout":
        server.faults[B05] = Fault(None, delay_s=2.5)
    elif kind == "unsigned-403":
        server.signed.add("/files/s2/")
    elif kind == "missing-band":
        del item["assets"]["B05"]
    else:
        item["assets"]["B05"]["href"] = {
            "not-a-raster": "{base}/files/not-a-raster.tif",
            "vsi-href": "/vsicurl/{base}" + B05,
            "file-url": "file:///etc/hostname",
            "s3-no-alternate": "s3://sentinel-cogs/B05.tif",
        }[kind]


ITEM_FAILURES = [
    pytest.param("asset-500", DataError, r"HTTP response code: 500.*after 1 retries", marks=error),
    pytest.param("asset-timeout", DataError, r"[Tt]imed out.*after 1 retries", marks=error),
    pytest.param("unsigned-403", DataError, r"B01\.tif: not a readable raster: HTTP response "
                 "code: 403 -- HTTP 403 Forbidden: the asset URL is not signed.*web app does not",
                 marks=error),
    pytest.param("missing-band", DataError, r"missing S2 bands \['B5'\]", marks=error),
    pytest.param("not-a-raster", DataError, r"not-a-raster\.tif: not a readable raster",
                 marks=error),
    pytest.param("vsi-href", HrefRefusedError, r"GDAL virtual file system", marks=refused),
    pytest.param("file-url", HrefRefusedError, r"'file:///etc/hostname' names a local file",
                 marks=refused),
    pytest.param("s3-no-alternate", HrefRefusedError, r"scheme 's3' is not read", marks=refused),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "kind_error", "match"), ITEM_FAILURES)
def test_item_that_fails_while_the_others_go_on(
    kind: str,
    kind_error: type[DataError],
    match: str,
    files: Path,
    settings: Settings,
    rn_embedder: Embedder,
) -> None:
    s1, s2 = layouts.pc_s1_rtc(files), layouts.pc_s2(files)
    with serve(files, [s1, s2]) as server:
        _bad_s2(server, s2, kind)
        query = StacQuery(server.base_url, ("sentinel-1-rtc", "sentinel-2-l2a"),
                          two_chip_aoi(s1), ALL_TIME)  # fmt: skip
        source = StacSearchSource(query, remote=FAST)
        bad = next(u for u in source.units() if u.startswith("S2B_MSIL2A"))
        with pytest.raises(kind_error, match=match):
            list(source.read(bad, Tally()))
        summary = ingest(settings, rn_embedder, source)
    assert list(summary.failed) == [bad]
    assert summary.indexed == 1 and summary.stac_keys[0].startswith("stac/S1A_IW_GRDH")  # type: ignore[attr-defined]


@error
def test_search_page_that_fails_mid_run(
    files: Path, settings: Settings, rn_embedder: Embedder
) -> None:
    s1, s2 = layouts.pc_s1_rtc(files), layouts.pc_s2(files)
    with serve(files, [s1, s2]) as server:
        server.faults["/search"] = Fault(500, after=1)  # page 1 answers, page 2 never
        query = StacQuery(server.base_url, ("sentinel-1-rtc", "sentinel-2-l2a"),
                          two_chip_aoi(s1), ALL_TIME, page_size=1)  # fmt: skip
        source = StacSearchSource(query, remote=FAST)
        page = f"{server.base_url} search page 2"
        assert source.units()[-1] == page
        with pytest.raises(DataError, match=r"HTTP 500 after 1 retries"):
            list(source.read(page, Tally()))
        summary = ingest(settings, rn_embedder, source)
    assert list(summary.failed) == [page] and summary.indexed == 1


# --- static catalogues: bad documents and hrefs that leave the folder -----------------------


def make_catalog(root: Path, links: list[dict[str, str]], item: dict[str, Any] | None) -> Path:
    """``root/catalog.json`` linking the good S1 item (a copy) and ``links``; ``item`` (if
    given) is written as ``root/bad/item.json`` with the S1 assets copied beside it."""
    shutil.copytree(static_md.S1_DIR, root / "s1-item")
    if item is not None:
        (root / "bad").mkdir()
        for name in ("vv.tif", "vh.tif"):
            shutil.copy(static_md.S1_DIR / name, root / "bad" / name)
        (root / "bad" / "item.json").write_text(json.dumps(item))
        links = [*links, {"rel": "item", "href": "./bad/item.json"}]
    catalog = {"type": "Catalog", "stac_version": "1.0.0", "id": "hostile", "description": "x",
               "links": [{"rel": "item", "href": "./s1-item/s1-item.json"}, *links]}  # fmt: skip
    (root / "catalog.json").write_text(json.dumps(catalog))
    return root / "catalog.json"


def bad_item(vv_href: str, item_id: str = "bad") -> dict[str, Any]:
    doc = static_md.s1_item(static_md.S1_DIR)
    doc["id"] = item_id
    doc["assets"]["vv"]["href"] = vv_href
    return doc


def _static_case(kind: str, root: Path) -> Path:
    outside = root.parent / "outside"
    outside.mkdir()
    shutil.copy(static_md.S1_DIR / "vv.tif", outside / "vv.tif")
    (outside / "item.json").write_text(json.dumps(bad_item(str(outside / "vv.tif"))))
    cases: dict[str, tuple[list[dict[str, str]], dict[str, Any] | None]] = {
        "malformed-json": ([{"rel": "item", "href": "./broken.json"}], None),
        "item-without-id": ([{"rel": "item", "href": "./noid.json"}], None),
        "self-cycle": ([{"rel": "child", "href": "./catalog.json"}], None),
        "unreachable-link": ([{"rel": "item", "href": f"http://127.0.0.1:{closed_port()}/i.json"}],
                             None),
        "link-outside": ([{"rel": "item", "href": "../outside/item.json"}], None),
        "asset-dotdot": ([], bad_item("../../outside/vv.tif")),
        "asset-vsi": ([], bad_item("/vsizip/" + str(outside / "a.zip") + "/vv.tif")),
        "asset-file-url": ([], bad_item((outside / "vv.tif").as_uri())),
        "asset-symlink": ([], bad_item("escape.tif")),
        "asset-gdal-string": ([], bad_item('HDF5:"' + str(outside / "vv.tif") + '"://x')),
    }  # fmt: skip
    links, item = cases[kind]
    path = make_catalog(root, links, item)
    (root / "broken.json").write_text('{"type": "Feature", "id": ')
    (root / "noid.json").write_text(json.dumps({"type": "Feature", "properties": {}}))
    if kind == "asset-symlink":
        (root / "bad" / "escape.tif").symlink_to(outside / "vv.tif")
    return path


STATIC_FAILURES = [
    pytest.param("malformed-json", DataError, r"broken\.json: cannot read it \(JSONDecodeError",
                 marks=error),
    pytest.param("item-without-id", DataError, r"noid\.json: an item without an id", marks=error),
    pytest.param("self-cycle", DataError, r"catalog\.json: linked again from .* \(a cycle\)",
                 marks=error),
    pytest.param("unreachable-link", DataError, r"i\.json: cannot reach it", marks=error),
    pytest.param("link-outside", HrefRefusedError, r"outside the catalogue's folder",
                 marks=refused),
    pytest.param("asset-dotdot", HrefRefusedError, r"'\.\./\.\./outside/vv\.tif' resolves to .* "
                 "outside the catalogue's folder", marks=refused),
    pytest.param("asset-vsi", HrefRefusedError, r"GDAL virtual file system", marks=refused),
    pytest.param("asset-file-url", HrefRefusedError, r"file://.* outside the catalogue",
                 marks=refused),
    pytest.param("asset-symlink", HrefRefusedError, r"escape\.tif' resolves to .*outside/vv",
                 marks=refused),
    pytest.param("asset-gdal-string", HrefRefusedError, r"scheme 'hdf5' is not read",
                 marks=refused),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "kind_error", "match"), STATIC_FAILURES)
def test_static_catalogue_document_that_fails(
    kind: str,
    kind_error: type[DataError],
    match: str,
    tmp_path: Path,
    settings: Settings,
    rn_embedder: Embedder,
) -> None:
    source = StacSource(_static_case(kind, tmp_path / "cat"), remote=FAST)
    units = source.units()
    good = [u for u in units if u.endswith("#s1-item")]
    (bad,) = [u for u in units if u not in good]
    with pytest.raises(kind_error, match=match):
        list(source.read(bad, Tally()))
    summary = ingest(settings, rn_embedder, source)
    assert list(summary.failed) == [bad] and summary.indexed == 1
    assert summary.stac_keys == ["stac/s1-item/s1/r0_c0"]  # type: ignore[attr-defined]


@flagged
def test_item_id_with_markup_gets_a_safe_key(
    tmp_path: Path, settings: Settings, rn_embedder: Embedder
) -> None:
    evil = '../../evil<script>alert("x")</script>\x07'
    (tmp_path / "cat").mkdir()
    for name in ("vv.tif", "vh.tif"):
        shutil.copy(static_md.S1_DIR / name, tmp_path / "cat" / name)
    doc = bad_item("vv.tif", item_id=evil)
    doc["assets"]["vh"]["href"] = "vh.tif"
    (tmp_path / "cat" / "item.json").write_text(json.dumps(doc))
    source = StacSource(tmp_path / "cat" / "item.json")
    (unit,) = source.units()
    assert "<" not in unit and "\x07" not in unit
    summary = ingest(settings, rn_embedder, source)
    (key,) = summary.stac_keys  # type: ignore[attr-defined]
    assert summary.indexed == 1 and not summary.failed
    assert summary.flagged["STAC item id made safe for keys (original kept as scene_id)"] == 1
    assert ".." not in key and "<" not in key and key.startswith("stac/evil_script_alert")
    chips = list(source.read(unit, Tally()))
    assert chips[0].key == key and chips[0].scene_id == evil
