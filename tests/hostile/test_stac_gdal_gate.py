"""GDAL's own HTTP (issue 17, finding 3): every hop GDAL's ``/vsicurl/`` takes is checked
(``closp_core/data/stac/gdal_gate.py``), and no proxy from the environment carries a request
past the checks. Servers on 127.0.0.1 (listed), 127.0.0.2 (not listed) and 127.0.0.3 (a
"proxy" that must never be asked).
"""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from closp_core.bands import Sensor
from closp_core.data import Tally
from closp_core.data.stac.count import count_search
from closp_core.data.stac.fetch import HostPolicy, HostRefusedError
from closp_core.data.stac.gdal_gate import GdalGate
from closp_core.errors import ConfigError
from closp_core.records import ChipOrigin, ChipRecord, OriginBand
from closp_core.scoremap.imagery import export_imagery
from tests.data.stac_api import layouts
from tests.data.stac_api import make_data as md
from tests.data.stac_api.helpers import serve
from tests.hostile.test_stac_budgets import LOCAL, REMOTE, item, search
from tests.hostile.test_stac_trust import B05, UNLISTED
from tests.store import conftest as store_fixtures

PROXY_HOST = "127.0.0.3"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "GDAL_HTTP_PROXY")
refused = pytest.mark.hostile("refused")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return md.ensure_files(tmp_path_factory.getbasetemp() / "stac_api_files")


def _lying(target: str) -> Any:
    """A server that answers the redirect probe (``HEAD``) 200 and sends GDAL (``GET``) on to
    ``target``: what the probe saw is not what GDAL gets."""

    def answer(handler: Any, method: str) -> None:
        if method == "HEAD":
            handler.send_response(200)
            handler.send_header("Content-Length", "1000000")
        else:
            handler.send_response(302)
            handler.send_header("Location", target)
            handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


@refused
def test_a_redirect_gdal_follows_to_an_unlisted_host_is_refused(files: Path) -> None:
    with serve(files, [], host=UNLISTED) as inner, serve(files, []) as server:
        doc = item(files, 0)
        doc["assets"]["B05"]["href"] = "{base}/lying/B05.tif"
        server.custom["/lying/B05.tif"] = _lying(inner.base_url + B05)
        server.items = [doc, item(files, 1)]
        source = search(server)
        units = source.units()
        with pytest.raises(HostRefusedError, match=r"GDAL was sent on to a refused host: host "
                           r"127\.0\.0\.2 is not one the product fetches from"):  # fmt: skip
            list(source.read(units[0], Tally()))
        assert ("GET", "/lying/B05.tif") in server.requests  # GDAL was redirected, and stopped
        assert inner.requests == []
        assert list(source.read(units[1], Tally()))  # the other item, read through the gate


@refused
def test_proxies_from_the_environment_are_not_used(
    files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search and a read with every proxy variable naming a server nobody listed: neither
    our requests nor GDAL's ask it anything."""
    with serve(files, [], host=PROXY_HOST) as proxy, serve(files, [item(files, 0)]) as server:
        for name in PROXY_VARIABLES:
            monkeypatch.setenv(name, proxy.base_url)
        source = search(server)
        chips = [chip for unit in source.units() for chip in source.read(unit, Tally())]
        assert chips
        assert proxy.requests == []


@refused
def test_no_proxy_is_refused_for_remote_reads(files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``NO_PROXY`` would send GDAL around the gate for the hosts it names."""
    with serve(files, [item(files, 0)]) as server:
        source = search(server)
        units = source.units()  # the search itself uses no proxy at all
        monkeypatch.setenv("NO_PROXY", UNLISTED)
        with pytest.raises(ConfigError, match=r"NO_PROXY is set \('127\.0\.0\.2'\).*unset"):
            list(source.read(units[0], Tally()))


def _ask(gate: GdalGate, request: bytes) -> bytes:
    """Send ``request`` to ``gate`` and read its answer to the end (one connection)."""
    port = int(gate.url.rpartition(":")[2])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and request.startswith(b"CONNECT"):
                sock.sendall(b"GET /conformance HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                request = b""
        return answer


@refused
def test_a_tunnel_to_an_unlisted_host_is_refused_and_one_to_a_listed_host_carries(
    files: Path,
) -> None:
    """``CONNECT`` (how curl reaches an https URL through a proxy) is checked like a request."""
    policy = HostPolicy(REMOTE.hosts)
    with serve(files, [item(files, 0)]) as server, GdalGate(policy, 1.0, 5.0) as gate:
        assert _ask(gate, b"CONNECT 127.0.0.2:443 HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 403")
        assert gate.refused == ["host 127.0.0.2 is not one the product fetches from; refused "
                                "(add it to the setting CLOSP_STAC_HOSTS to allow it)"]  # fmt: skip
        hostport = server.base_url.removeprefix("http://").encode()
        answer = _ask(gate, b"CONNECT " + hostport + b" HTTP/1.1\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200 Connection established") and b"conformsTo" in answer
        assert _ask(gate, b"nonsense\r\n\r\n").startswith(b"HTTP/1.1 502")
        with GdalGate(policy, 1.0, 5.0, upstream=gate.url) as chained:  # stac_proxy: a tunnel
            answer = _ask(chained, b"CONNECT " + hostport + b" HTTP/1.1\r\n\r\n")
            assert b"200 Connection established" in answer and b"conformsTo" in answer
            assert chained.opened == 1 and gate.opened == 2


def test_the_proxy_an_operator_named_carries_our_requests_and_gdals(files: Path) -> None:
    """The setting ``stac_proxy``: a search and a read both go through it (here a second gate,
    on the listed 127.0.0.1), every target still checked."""
    with serve(files, [item(files, 0)]) as server, GdalGate(HostPolicy(LOCAL), 1.0, 5.0) as proxy:
        remote = dataclasses.replace(REMOTE, proxy=proxy.url)
        source = search(server, remote)
        units = source.units()
        searched = proxy.opened
        assert searched > 0 and len(units) == 1
        assert list(source.read(units[0], Tally()))
        assert proxy.opened > searched  # GDAL's range requests too


@refused
def test_a_proxy_nobody_listed_on_a_loopback_address_is_refused(files: Path) -> None:
    with serve(files, [item(files, 0)]) as server:
        remote = dataclasses.replace(REMOTE, proxy="http://127.0.0.2:9")
        with pytest.raises(HostRefusedError, match=r"proxy 127\.0\.0\.2 \(setting stac_proxy\) "
                           r"resolves to 127\.0\.0\.2, a loopback"):  # fmt: skip
            search(server, remote).units()
    with pytest.raises(ConfigError, match=r"stac_proxy 'socks5://h:1': give http://HOST:PORT"):
        dataclasses.replace(REMOTE, proxy="socks5://h:1")


@refused
def test_check_counts_through_the_gate_too(files: Path) -> None:
    """The count before fetching (the STAC tab's Check) opens band headers when an item has no
    ``proj:`` fields: GDAL's hops there pass the same gate as a read's."""
    with serve(files, [], host=UNLISTED) as inner, serve(files, []) as server:
        doc = layouts.earth_search_s2(files)  # no proj: fields, the grid needs the headers
        lying = [a for a in doc["assets"].values() if str(a.get("href", "")).endswith("B05.tif")]
        lying[0]["href"] = "{base}/lying/B05.tif"
        server.custom["/lying/B05.tif"] = _lying(inner.base_url + B05)
        server.items = [doc]
        count = count_search(search(server))
        assert count.chips == 0 and len(count.failed) == 1, count
        assert "GDAL was sent on to a refused host: host 127.0.0.2" in count.failed[0]
        assert ("GET", "/lying/B05.tif") in server.requests  # GDAL was redirected, and stopped
        assert inner.requests == []


@refused
def test_the_imagery_export_reads_a_remote_chip_through_the_gate(
    files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A STAC chip's imagery read again for the export (its origin is a URL): a server on a
    listed host that now sends GDAL on to an unlisted one is refused, per chip, in plain
    words; the unlisted host is asked nothing."""
    monkeypatch.setenv("CLOSP_STAC_HOSTS", "127.0.0.1")
    with serve(files, [], host=UNLISTED) as inner, serve(files, []) as server:
        server.custom["/lying/B05.tif"] = _lying(inner.base_url + B05)
        origin = ChipOrigin(
            (OriginBand("VV", f"{server.base_url}/lying/B05.tif"),), row=0, col=0, size=120,
            crs="EPSG:32618", transform=(10.0, 0.0, 300000.0, 0.0, -10.0, 4200000.0),
        )  # fmt: skip
        vector = np.full(384, 384**-0.5, dtype=np.float32)
        chip = ChipRecord("remote/chip", vector, Sensor.S1, "stac", origin=origin)
        store = store_fixtures.open_backend("memory", tmp_path)
        store.upsert([chip])
        report = export_imagery(store, [chip.key], tmp_path / "img")
        store.close()
    assert not report.written
    assert report.missing[0].reason.startswith(
        "its source cannot be read: GDAL was sent on to a refused host: host 127.0.0.2"
    ), report.missing[0].reason
    assert ("GET", "/lying/B05.tif") in server.requests and inner.requests == []
