"""``python -m ingest stac-search`` end to end: a STAC API on 127.0.0.1, a real embedded index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from closp_core.settings import Settings
from closp_core.store import open_store
from ingest.cli import main
from tests.data.stac_api import layouts
from tests.data.stac_api import make_data as md
from tests.data.stac_api.helpers import serve
from tests.data.stac_api.server import Fault
from tests.ingest.conftest import cli_args

ONE_CHIP = "--bbox=-75.64,37.66,-75.637,37.662"  # one Virginia chip
SEARCH = ("--collections", "sentinel-2-l2a,sentinel-1-rtc", "--datetime", "2019-01-01/2024-01-01")
FAST = ("--timeout", "2", "--retries", "1")


@pytest.fixture(autouse=True)
def local_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test servers' host, listed as an operator would (CLOSP_STAC_HOSTS)."""
    monkeypatch.setenv("CLOSP_STAC_HOSTS", "127.0.0.1")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return md.ensure_files(tmp_path_factory.getbasetemp() / "stac_api_files")


def _keys(settings: Settings) -> list[str]:
    store = open_store(settings, "closp-rn:random-seed0")
    try:
        return sorted(rec.key for rec in store.iter_records())
    finally:
        store.close()


def test_search_indexes_the_aoi_once(
    settings: Settings, files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve(files, [layouts.earth_search_s2(files)]) as server:
        args = cli_args(settings, "stac-search", server.base_url, *SEARCH, ONE_CHIP, *FAST)
        assert main(args) == 0
        assert "indexed 1 chips" in capsys.readouterr().out
        assert main(args) == 0  # the same search again: nothing new
        out = capsys.readouterr().out
    assert "indexed 0 chips" in out and "skipped 1 chips already indexed" in out
    assert _keys(settings) == ["stac/S2B_18SVG_20230112_0_L2A/s2/r240_c720"]


def test_a_negative_bbox_needs_no_equals_sign(
    settings: Settings, files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    box = ONE_CHIP.removeprefix("--bbox=")
    with serve(files, [layouts.earth_search_s2(files)]) as server:
        args = cli_args(settings, "stac-search", server.base_url, *SEARCH, "--bbox", box, *FAST)
        assert main(args) == 0
    assert "indexed 1 chips" in capsys.readouterr().out
    assert _keys(settings) == ["stac/S2B_18SVG_20230112_0_L2A/s2/r240_c720"]


def test_a_failing_item_is_reported_and_the_run_goes_on(
    settings: Settings, files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s1 = layouts.pc_s1_rtc(files)
    w, s, e, n = s1["bbox"]
    aoi = tmp_path / "aoi.geojson"  # the S1 chip's area and the Virginia chip's
    boxes = [(w, s, e, n), (-75.64, 37.66, -75.637, 37.662)]
    polygons = [[[[a, b], [c, b], [c, d], [a, d], [a, b]]] for a, b, c, d in boxes]
    aoi.write_text(json.dumps({"type": "MultiPolygon", "coordinates": polygons}))
    with serve(files, [layouts.pc_s2(files), s1]) as server:
        server.faults["/files/s1/vh.tif"] = Fault(status=500)  # every request, after retries
        args = ["--intersects", str(aoi), *FAST]
        code = main(cli_args(settings, "stac-search", server.base_url, *SEARCH, *args))
        requests = [p for _, p in server.requests if p == "/files/s1/vh.tif"]
    out = capsys.readouterr().out
    assert code == 1
    assert "indexed 1 chips" in out
    assert "FAILED S1A_IW_GRDH_1SDV_20190917T060000_rtc (2/2)" in out and "HTTP" in out
    assert len(requests) >= 2  # retried
    assert len(_keys(settings)) == 1


BASE = ("--collections", "sentinel-2-l2a", "--datetime", "2020-01-01/..")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ((*BASE, "--bbox", "1,2,3"), "give four numbers W,S,E,N"),
        (("--collections", "c", ONE_CHIP, "--datetime", "yesterday"), "not an RFC 3339 date"),
        ((*BASE, ONE_CHIP, "--query", "cloudy"), "give PROPERTY OP VALUE"),
        ((*BASE, ONE_CHIP, "--sign", "no_such_module:sign"), "cannot be loaded"),
    ],
)
def test_bad_arguments_exit_2_before_any_request(
    settings: Settings,
    files: Path,
    extra: tuple[str, ...],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with serve(files, []) as server:
        assert main(cli_args(settings, "stac-search", server.base_url, *extra)) == 2
        assert server.requests == []
    assert message in capsys.readouterr().err
    assert not (settings.data_dir / "index").exists()


def test_planetary_computer_signing_needs_the_optional_package(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        import planetary_computer  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("planetary-computer is installed here")
    args = ["--collections", "c", ONE_CHIP, "--datetime", "2020", "--sign", "planetary-computer"]
    assert main(cli_args(settings, "stac-search", "http://127.0.0.1:9", *args)) == 2
    assert "pip install planetary-computer" in capsys.readouterr().err
