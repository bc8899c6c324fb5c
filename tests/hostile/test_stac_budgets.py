"""Hostile STAC servers, issue 17 (findings 2, 6, 11, 12): servers that trickle, inflate and
loop. Each case is one bad input with our error (or a note in the run's flags), within its
deadline; the servers run on 127.0.0.1, listed as the operator would (``hosts=LOCAL``).
"""

from __future__ import annotations

import dataclasses
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from closp_core.data import Tally
from closp_core.data.stac.api import StacQuery, StacSearchSource, list_collections
from closp_core.data.stac.fetch import DeadlineError, TooLargeError
from closp_core.data.stac.remote import RemoteOptions
from closp_core.data.stac.static import StacSource
from closp_core.errors import DataError
from closp_core.settings import Settings
from ingest.cli import main
from tests.data.stac_api import layouts
from tests.data.stac_api import make_data as md
from tests.data.stac_api.helpers import ALL_TIME, S2, WORLD, serve
from tests.data.stac_api.server import StacApiServer
from tests.hostile.stac_servers import (
    endless_pages,
    inflating,
    json_answer,
    page,
    raw,
    slow_json,
    trickle,
    trickle_headers,
)
from tests.ingest.conftest import cli_args

LOCAL = ("127.0.0.1",)
REMOTE = RemoteOptions(
    timeout_s=2.0, connect_timeout_s=1.0, retries=1, retry_delay_s=0.05, hosts=LOCAL
)
error, refused, flagged = (pytest.mark.hostile(v) for v in ("error", "refused", "flagged"))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return md.ensure_files(tmp_path_factory.getbasetemp() / "stac_api_files")


def item(files: Path, n: int) -> dict[str, Any]:
    return layouts.pc_s2(files, f"item-{n}", product=f"P{n}")


def search(server: StacApiServer, remote: RemoteOptions = REMOTE) -> StacSearchSource:
    query = StacQuery(server.base_url, S2, WORLD, ALL_TIME, method="GET")
    return StacSearchSource(query, remote=remote)


def nxt(n: int, path: str = "/search") -> list[dict[str, str]]:
    return [{"rel": "next", "href": f"{{base}}{path}?token={n}"}]


# --- deadlines: a trickling server ends at the deadline ------------------------------------


def _units(server: StacApiServer) -> object:
    return search(server).units()


def _listing(server: StacApiServer) -> object:
    return list_collections(server.base_url, REMOTE)


def _catalog(server: StacApiServer) -> object:
    return StacSource(server.base_url + "/cat.json", remote=REMOTE).units()


TRICKLES = [
    pytest.param("/", trickle(), _units, id="landing-body-1-byte-per-s"),
    pytest.param("/", trickle_headers(), _units, id="landing-headers-1-byte-per-s"),
    pytest.param("/search", trickle(), _units, id="search-page-1-byte-per-s"),
    pytest.param("/collections", trickle(), _listing, id="collections-1-byte-per-s"),
    pytest.param("/cat.json", trickle(), _catalog, id="static-catalogue-1-byte-per-s"),
]

RETRY_AFTER = raw(b"{}", 503, headers={"Retry-After": "100000"})


@error
@pytest.mark.parametrize(("path", "behaviour", "action"), TRICKLES)
def test_trickling_server_ends_at_the_request_deadline(
    path: str, behaviour: Any, action: Callable[[StacApiServer], object], files: Path
) -> None:
    with serve(files, [item(files, 0)]) as server:
        server.custom[path] = behaviour
        start = time.monotonic()
        with pytest.raises(DeadlineError, match=r"no complete answer within 2 s; stopped"):
            action(server)
        assert time.monotonic() - start < REMOTE.timeout_s + 3  # a hang lasts the server's 20 s


@error
def test_retry_after_a_day_ends_at_the_request_deadline(files: Path) -> None:
    with serve(files, [item(files, 0)]) as server:
        server.custom["/search"] = RETRY_AFTER
        start = time.monotonic()
        with pytest.raises(DataError, match=r"HTTP 503 after 1 retries"):
            search(server).units()
        assert time.monotonic() - start < REMOTE.timeout_s + 3  # a hang lasts the server's 20 s


@error
def test_slow_endless_search_ends_at_the_search_deadline(files: Path) -> None:
    remote = dataclasses.replace(REMOTE, search_deadline_s=1.5, max_pages=10_000)
    with serve(files, []) as server:
        items = [item(files, n) for n in range(40)]  # made here: never after the test
        server.custom["/search"] = endless_pages(
            lambda n: page([items[n % 40]], nxt(n + 1)), delay_s=0.3
        )
        source = search(server, remote)
        start = time.monotonic()
        units = source.units()
        assert time.monotonic() - start < 5
    failed = units[-1]
    assert len(units) >= 3 and "search page" in failed
    with pytest.raises(DeadlineError, match=r"ran past its deadline of 1\.5 s"):
        list(source.read(failed, Tally()))


@error
def test_static_catalogue_of_slow_items_ends_at_the_walk_deadline(files: Path) -> None:
    remote = dataclasses.replace(REMOTE, search_deadline_s=1.0)
    with serve(files, []) as server:
        links = [{"rel": "item", "href": f"{{base}}/i{n}.json"} for n in range(40)]
        server.custom["/cat.json"] = json_answer(
            {"type": "Catalog", "stac_version": "1.0.0", "id": "c", "description": "slow",
             "links": links}
        )  # fmt: skip
        for n in range(40):
            server.custom[f"/i{n}.json"] = slow_json(item(files, n), 0.3)
        source = StacSource(server.base_url + "/cat.json", remote=remote)
        start = time.monotonic()
        units = source.units()
        assert time.monotonic() - start < 4
    assert 2 <= len(units) < 20 and units[-1].endswith("walk stopped")
    with pytest.raises(DeadlineError, match=r"ran past its deadline of 1 s .*found so far"):
        list(source.read(units[-1], Tally()))


@error
def test_cli_timeout_is_the_whole_request(
    files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLOSP_STAC_HOSTS", "127.0.0.1")
    settings = Settings(model="random:closp-rn", data_dir=tmp_path / "data", batch_size=16)
    with serve(files, []) as server:
        server.custom["/"] = trickle()
        args = ["--collections", "sentinel-2-l2a", "--datetime", ALL_TIME, "--bbox=0,0,1,1"]
        start = time.monotonic()
        code = main(cli_args(settings, "stac-search", server.base_url, *args,
                             "--timeout", "3", "--retries", "1"))  # fmt: skip
        took = time.monotonic() - start
    out = capsys.readouterr()
    assert code != 0 and took < 8
    assert "no complete answer within 3 s" in out.out + out.err
    assert "--timeout" in out.out + out.err


# --- bytes: bombs and floods are refused before they take the memory -------------------------

BOMBS = [
    pytest.param("/search", inflating(400), _units, r"inflates to more than 64 MB",
                 id="search-page-gzip-0.4MB-to-400MB"),
    pytest.param("/", inflating(400), _units, r"inflates to more than 64 MB",
                 id="landing-gzip-bomb"),
    pytest.param("/collections", inflating(400), _listing, r"inflates to more than 64 MB",
                 id="collections-gzip-bomb"),
    pytest.param("/cat.json", inflating(400), _catalog, r"inflates to more than 64 MB",
                 id="static-catalogue-gzip-bomb"),
    pytest.param("/search", raw(b"{}", headers={"Content-Length": str(100 * 2**20)}), _units,
                 r"answer is more than 16 MB", id="declares-100MB"),
    pytest.param("/search", raw(b"[" + b" " * (17 * 2**20) + b"]", length=False), _units,
                 r"answer is more than 16 MB", id="17MB-without-length"),
]  # fmt: skip


@refused
@pytest.mark.parametrize(("path", "behaviour", "action", "match"), BOMBS)
def test_document_over_its_byte_budget_is_refused(
    path: str,
    behaviour: Any,
    action: Callable[[StacApiServer], object],
    match: str,
    files: Path,
) -> None:
    with serve(files, [item(files, 0)]) as server:
        server.custom[path] = behaviour
        tracemalloc.start()
        try:
            with pytest.raises(TooLargeError, match=match + r".*refused \(setting stac_max_"):
                action(server)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 200 * 2**20  # 400 MB inflated before


ENCODINGS = [
    pytest.param(raw(b"\x1b\x00", headers={"Content-Encoding": "br"}),
                 r"content encoding 'br'; not read", id="brotli"),
    pytest.param(raw(b"not gzip at all", headers={"Content-Encoding": "gzip"}),
                 r"broken gzip body", id="broken-gzip"),
]  # fmt: skip


@error
@pytest.mark.parametrize(("behaviour", "match"), ENCODINGS)
def test_answer_in_an_encoding_we_do_not_read(behaviour: Any, match: str, files: Path) -> None:
    with serve(files, [item(files, 0)]) as server:
        server.custom["/search"] = behaviour
        with pytest.raises(DataError, match=match):
            search(server).units()


# --- pages: loops end with a note, duplicates are counted ---------------------------------


def _first_read_flags(source: StacSearchSource) -> dict[str, int]:
    tally = Tally()
    source.read(source.units()[0], tally)
    return dict(tally.flagged)


PAGE_LOOPS = [
    pytest.param(lambda files: lambda n: page([item(files, n)], nxt(1)), 2,
                 "STAC search ended: the API's next link repeats one followed before",
                 id="next-link-repeats"),
    pytest.param(lambda files: lambda n: page([item(files, 0)], nxt(n + 1)), 1,
                 "STAC search ended: page 2 repeats items already seen",
                 id="same-items-new-tokens"),
    pytest.param(lambda files: lambda n: page([item(files, n)], nxt(n + 1)), 3,
                 "STAC search ended after 3 pages (setting stac_max_pages); narrow it",
                 id="endless-distinct-pages"),
]  # fmt: skip


@flagged
@pytest.mark.parametrize(("make", "scenes", "note"), PAGE_LOOPS)
def test_paging_loop_ends_with_a_note(
    make: Callable[[Path], Callable[[int], dict[str, Any]]], scenes: int, note: str, files: Path
) -> None:
    with serve(files, []) as server:
        server.custom["/search"] = endless_pages(make(files))
        source = search(server, dataclasses.replace(REMOTE, max_pages=3))
        units = source.units()
        assert len(server.requests) <= 5
        assert len(units) == scenes
        assert _first_read_flags(source)[note] == 1


@flagged
def test_duplicate_item_id_on_one_page_is_counted(files: Path) -> None:
    with serve(files, []) as server:
        server.custom["/search"] = json_answer(
            page([item(files, 0), item(files, 0), item(files, 1)])
        )
        source = search(server)
        assert len(source.units()) == 2
        assert source.duplicates == 1  # progress said duplicates=0 before
        assert _first_read_flags(source)["STAC search: duplicate item ids dropped"] == 1


COLLECTION_LOOPS = [
    pytest.param(lambda n: {"collections": [{"id": "c0"}], "links": nxt(1, "/collections")},
                 "next link repeats", id="collections-next-loop"),
    pytest.param(lambda n: {"collections": [{"id": f"c{n}"}], "links": nxt(n + 1, "/collections")},
                 "after 3 pages", id="collections-endless"),
]  # fmt: skip


@flagged
@pytest.mark.parametrize(("make", "note"), COLLECTION_LOOPS)
def test_collections_paging_loop_ends_with_a_note(
    make: Callable[[int], dict[str, Any]], note: str, files: Path
) -> None:
    with serve(files, []) as server:
        server.custom["/collections"] = endless_pages(make)
        start = time.monotonic()
        found = list_collections(server.base_url, dataclasses.replace(REMOTE, max_pages=3))
        assert time.monotonic() - start < 5
    assert found.entries and any(note in n for n in found.notes), found
