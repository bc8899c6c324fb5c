"""The Add imagery page through AppTest: every state, each way in, a real job, then search.

Uploads are real GeoTIFFs: a 2.4 km corner of the shipped Virginia Sentinel-2 scene, one file
per band on each band's own grid (``virginia_corner``). The STAC case runs a STAC API on
127.0.0.1 (``tests/data/stac_api``). The job is the app's own (``ui.resources.job_runner``);
tests wait for it, then rerun the page and search for the new chips."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import from_bounds
from streamlit.testing.v1 import AppTest

from closp_core.data.raster import BandGrid, BandRef, band_from_file_name
from closp_core.data.samples import SAMPLES_DIR
from tests.app.test_pages import new_app, outcome, texts
from tests.data import products
from tests.data.stac_api import layouts
from tests.data.stac_api import make_data as md
from tests.data.stac_api.helpers import serve
from tests.hostile.bomb_inputs import pixel_bomb
from ui.resources import job_runner

PAGE = "app_pages/add_imagery.py"
VIRGINIA = SAMPLES_DIR / "virginia-s2-l1c"
ACQUIRED = dt.date(2016, 1, 12)  # the Virginia scene: no other indexed chip has this date


def virginia_corner(folder: Path, size_m: float = 2400.0) -> list[Path]:
    """The first ``size_m`` x ``size_m`` of every Virginia band file, each on its own grid."""
    folder.mkdir(parents=True, exist_ok=True)
    with rasterio.open(VIRGINIA / "T18SVG_20160112_B02.tif") as ref:
        left, top = ref.bounds.left + 20, ref.bounds.top - 20
    bounds = (left, top - size_m, left + size_m, top)
    written = []
    for path in sorted(VIRGINIA.glob("*.tif")):
        with rasterio.open(path) as src:
            window = from_bounds(*bounds, src.transform).round_offsets().round_lengths()
            data = src.read(window=window)
            profile = src.profile | {
                "width": data.shape[2],
                "height": data.shape[1],
                "transform": src.window_transform(window),
                "driver": "GTiff",
            }
        out = folder / path.name
        with rasterio.open(out, "w", **profile) as dst:
            dst.write(data)
        written.append(out)
    return written


@pytest.fixture(autouse=True)
def fresh_job_runner() -> None:
    """Each test starts with no job (the runner lives as long as the process otherwise)."""
    job_runner.clear()


def add_page() -> AppTest:
    at = new_app().run()
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def upload_and_run(files: list[Path]) -> AppTest:
    """Upload ``files`` on a fresh Add imagery page, start the job and wait for it to end."""
    at = add_page()
    at.file_uploader(key="upload_files").set_value(
        [(f.name, f.read_bytes(), "image/tiff") for f in files]
    ).run()
    at.button(key="up_go").click().run()
    return finish_job(at)


def finish_job(at: AppTest) -> AppTest:
    status = job_runner().wait(timeout=600)
    assert not status.active
    return at.run()


def new_chips() -> list[str]:
    """Keys of the chips acquired on ``ACQUIRED`` (the added imagery), found by a real search
    in a new session (a share link with the query and the date)."""
    at = new_app()
    at.query_params["q"] = "farmland with crops"
    at.query_params["from"] = at.query_params["to"] = ACQUIRED.isoformat()
    at.run()
    assert not at.exception
    return [hit.key for hit in outcome(at).hits]


@pytest.mark.usefixtures("app_data")
def test_idle_page_offers_three_ways_in() -> None:
    at = add_page()
    assert "No imagery is being added right now." in texts(at)
    assert [t.label for t in at.tabs] == [
        "Upload files",
        "Fetch from a STAC API",
        "Folder on the server",
    ]
    assert any("CLOSP_IMPORT_DIRS" in i.value for i in at.info)  # no folders allowed
    assert at.button(key="up_go").disabled  # nothing uploaded yet
    assert at.button(key="stac_go").disabled  # no collection, no area


@pytest.mark.usefixtures("app_data")
def test_upload_geotiffs_then_find_their_chips(tmp_path: Path) -> None:
    files = virginia_corner(tmp_path / "corner")
    at = add_page()
    at.file_uploader(key="upload_files").set_value(
        [(f.name, f.read_bytes(), "image/tiff") for f in files]
    ).run()
    at.selectbox(key="up_s").set_value("s2")
    at.button(key="up_go").click().run()
    assert not at.exception
    at = finish_job(at)
    assert any("done" in s.value for s in at.success), texts(at)
    report = at.code[0].value
    assert "indexed 4 chips" in report
    keys = new_chips()
    assert len(keys) == 4 and all("T18SVG_20160112" in key for key in keys)
    # the same files again: same keys, nothing added twice
    at = upload_and_run(files)
    assert "skipped 4 chips already indexed" in at.code[0].value
    assert "--" not in at.code[0].value  # web users get no CLI flags


@pytest.mark.usefixtures("app_data")
def test_an_upload_that_is_not_a_geotiff_fails_in_the_job_not_the_page() -> None:
    at = add_page()
    at.file_uploader(key="upload_files").set_value(
        [("scene_B04.tif", b"<html>not a raster</html>", "image/tiff")]
    ).run()
    at.button(key="up_go").click().run()
    at = finish_job(at)
    assert not at.exception
    report = at.code[0].value
    assert "FAILED" in report and "indexed 0 chips" in report
    # named as uploaded (a band group by its files' prefix), not by the server's folder
    assert "FAILED scene_*: missing S2 bands" in report and "upload-" not in report, report


def test_folder_inside_and_outside_the_allowed_folders(
    app_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed = tmp_path / "allowed"
    virginia_corner(allowed / "corner")
    outside = tmp_path / "outside"
    virginia_corner(outside)
    monkeypatch.setenv("CLOSP_IMPORT_DIRS", str(allowed))
    at = add_page()
    at.text_input(key="dir_path").input(str(allowed / ".." / "outside")).run()
    at.button(key="dir_go").click().run()
    assert any("outside the folders the app may read" in e.value for e in at.error)
    assert not job_runner().status().active
    at.text_input(key="dir_path").input(str(allowed / "corner")).run()
    at.button(key="dir_go").click().run()
    at = finish_job(at)
    assert "indexed 4 chips" in at.code[0].value
    product = products.write_s2_product(allowed, "L1C", zipped=True)  # as downloaded
    at.text_input(key="dir_path").input(str(product)).run()
    at.button(key="dir_go").click().run()
    at = finish_job(at)
    assert "indexed 4 chips" in at.code[0].value, at.code[0].value


def test_shifted_band_files_are_flagged_and_the_offset_box_fixes_them(
    app_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Band files of a 2022+ product without its metadata: the job report says they look
    shifted by +1000; ticking the offset box adds them again with the offset removed."""
    allowed = tmp_path / "allowed"
    for path in virginia_corner(allowed / "shifted"):
        with rasterio.open(path, "r+") as dst:
            data = dst.read(1)
            dst.write(np.where(data > 0, data + 1000, 0).astype(data.dtype), 1)
    monkeypatch.setenv("CLOSP_IMPORT_DIRS", str(allowed))
    at = add_page()
    at.text_input(key="dir_path").input(str(allowed / "shifted")).run()
    at.button(key="dir_go").click().run()
    at = finish_job(at)
    assert "looks like a +1000 offset" in at.code[0].value, at.code[0].value
    at.checkbox(key="dir_o").check().run()
    at.button(key="dir_go").click().run()
    at = finish_job(at)
    report = at.code[0].value
    assert "indexed 4 chips" in report and "+1000" not in report, report


@pytest.mark.usefixtures("app_data")
def test_fetch_from_a_stac_api_for_the_map_area(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = md.ensure_files(tmp_path_factory.getbasetemp() / "stac_api_files")
    with serve(files, [layouts.earth_search_s2(files)]) as server:
        monkeypatch.setenv("CLOSP_STAC_APIS", server.base_url)  # the operator's one API
        at = add_page()
        at.session_state["s_last_bounds"] = (-75.64, 37.66, -75.637, 37.662)  # one chip
        assert at.selectbox(key="stac_api").options == [server.base_url]
        at.button(key="stac_list").click().run()
        assert not at.exception
        at.multiselect(key="stac_c").set_value(["sentinel-2-l2a"])
        at.date_input(key="stac_from").set_value(dt.date(2023, 1, 1))
        at.date_input(key="stac_to").set_value(dt.date(2023, 1, 31)).run()
        assert "Area: the map view" in texts(at)
        at.button(key="stac_go").click().run()
        at = finish_job(at)
    assert "indexed 1 chips" in at.code[0].value, at.code[0].value


@pytest.mark.usefixtures("app_data")
def test_unreachable_stac_api_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOSP_STAC_FREE_ENTRY", "1")
    monkeypatch.setenv("CLOSP_STAC_HOSTS", "127.0.0.1")
    at = add_page()
    at.text_input(key="stac_url").input("http://127.0.0.1:9/stac").run()
    at.button(key="stac_list").click().run()
    assert not at.exception
    assert any("cannot reach" in e.value for e in at.error), texts(at)


def test_with_a_qdrant_server_the_page_works_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``CLOSP_STORE_URL`` set: the job writes through qdrant-client (its in-process
    ``:memory:`` mode stands in for a server here) and a new session finds the chips."""
    monkeypatch.setenv("CLOSP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CLOSP_DEVICE", "cpu")
    monkeypatch.setenv("CLOSP_STORE_URL", ":memory:")
    files = virginia_corner(tmp_path / "corner")
    at = upload_and_run(files)
    assert "indexed 4 chips" in at.code[0].value
    assert len(new_chips()) == 4


@pytest.mark.usefixtures("app_data")
def test_a_pixel_bomb_upload_is_refused_and_the_same_file_twice_is_added_once(
    tmp_path: Path,
) -> None:
    bomb = pixel_bomb(tmp_path / "bomb.tif")
    files = virginia_corner(tmp_path / "corner")
    at = add_page()
    at.file_uploader(key="upload_files").set_value(
        [(f.name, f.read_bytes(), "image/tiff") for f in [bomb, *files, files[0]]]
    ).run()
    at.selectbox(key="up_s").set_value("s2")
    at.button(key="up_go").click().run()
    at = finish_job(at)
    assert not at.exception
    report = at.code[0].value
    assert f"left out {files[0].name}: the same content as {files[0].name}" in report
    assert "indexed 4 chips" in report  # the corner once, the bomb not at all
    assert "bomb" in report and "setting max_file_pixels" in report
    assert job_runner().status().seconds < 120


@pytest.mark.usefixtures("app_data")
def test_a_killed_job_process_is_reported_on_the_page(tmp_path: Path) -> None:
    """The job runs in a process of its own; killed (out of memory, an operator), the page
    says so and what was kept, and the next job may start."""
    files = virginia_corner(tmp_path / "corner")
    at = add_page()
    at.file_uploader(key="upload_files").set_value(
        [(f.name, f.read_bytes(), "image/tiff") for f in files]
    ).run()
    at.button(key="up_go").click().run()
    pid = job_runner().status().pid
    assert pid is not None and pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    at = finish_job(at)
    assert not at.exception
    assert any("failed after" in e.value for e in at.error), texts(at)
    assert "ended before the job did (killed by signal 9 (SIGKILL))" in at.code[0].value
    assert not at.button(key="up_go").disabled  # the slot is free again


def test_a_job_the_app_lost_is_reported_after_a_restart(app_data: Path) -> None:
    from ui.resources import JOB_STATE_FILE

    record = {"state": "running", "title": "3 uploaded file(s)", "done": 12, "expected": 40,
              "report": "", "started_at": "2026-01-02T03:04:05+00:00"}  # fmt: skip
    (app_data / JOB_STATE_FILE).write_text(json.dumps(record))
    at = add_page()
    assert any("interrupted — the app stopped while it ran" in e.value for e in at.error)
    assert "12 chips had been added and are in the index" in at.code[0].value
    assert "No imagery is being added right now." not in texts(at)


def named_stack(path: Path, corner: list[Path], written: str) -> Path:
    """The corner's 13 bands on its 10 m grid in one GeoTIFF: band descriptions name them,
    ``TIFFTAG_DATETIME`` holds ``written`` (TIFF's ``YYYY:MM:DD HH:MM:SS``), the name no date."""
    refs = {}
    for file in corner:
        parsed = band_from_file_name(file.stem)
        assert parsed is not None
        refs[parsed[0]] = BandRef(str(file))
    with BandGrid(refs) as grid:
        g = grid.grid
        data = grid.read(g.row0, g.col0, g.height, g.width)
    profile = {"driver": "GTiff", "width": g.width, "height": g.height, "count": len(refs),
               "dtype": "uint16", "crs": g.crs,
               "transform": g.window_transform(g.row0, g.col0)}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.nan_to_num(data).astype("uint16"))
        dst.descriptions = grid.names
        dst.update_tags(TIFFTAG_DATETIME=written)
    return path


def as_jp2(corner: list[Path], folder: Path, prefix: str) -> list[Path]:
    """The corner's band files as lossless JPEG2000 named like Sentinel-2 granule files."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for file in corner:
        band = file.stem.rsplit("_", 1)[1]
        with rasterio.open(file) as src:
            profile = src.profile | {"driver": "JP2OpenJPEG", "QUALITY": "100",
                                     "REVERSIBLE": "YES"}  # fmt: skip
            for key in ("tiled", "blockxsize", "blockysize", "compress", "interleave"):
                profile.pop(key, None)
            target = folder / f"{prefix}_{band}.jp2"
            with rasterio.open(target, "w", **profile) as dst:
                dst.write(src.read())
        out.append(target)
    return out


@pytest.mark.usefixtures("app_data")
def test_named_uploads_keep_their_names_dates_and_event(tmp_path: Path) -> None:
    """A stack called "Valencia flood.tif" dated by its TIFF tag, and .jp2 band files dated by
    their Sentinel names, marked "Flooded Area": the results and Explore show names and dates."""
    corner = virginia_corner(tmp_path / "corner")
    stack = named_stack(tmp_path / "Valencia flood.tif", corner, "2016:01:12 15:55:09")
    jp2 = as_jp2(corner, tmp_path / "jp2", "T18SVG_20160112T155509")
    at = add_page()
    at.file_uploader(key="upload_files").set_value(
        [(f.name, f.read_bytes(), "image/tiff") for f in [stack, *jp2]]
    ).run()
    at.selectbox(key="up_e").set_value("Flooded Area").run()
    at.button(key="up_go").click().run()
    at = finish_job(at)
    assert "indexed 8 chips" in at.code[0].value, at.code[0].value
    title = "\n".join(s.value for s in at.success).replace("\\", "")
    assert title.startswith("Valencia flood.tif, T18SVG_20160112T155509_B01.jp2"), title
    found = new_app()
    found.query_params |= {"q": "farmland", "from": ACQUIRED.isoformat(), "to": "2016-01-12"}
    found.run()
    hits = outcome(found).hits
    assert {h.record.scene_id for h in hits} == {"Valencia flood", "T18SVG_20160112T155509"}
    assert all("Flooded Area" in h.record.labels for h in hits) and len(hits) == 8
    assert all(h.key.startswith("scene/Valencia_flood_") for h in hits  # identity: content
               if h.record.scene_id == "Valencia flood")  # fmt: skip
    table = next(d.value for d in found.dataframe if "scene" in d.value.columns)
    assert set(table["scene"]) == {"Valencia flood", "T18SVG_20160112T155509"}
    assert set(table["date"]) == {"2016-01-12"}
    found.switch_page("app_pages/explore.py").run()
    rows = next(d.value for d in found.dataframe if "scene" in d.value.columns)
    named = rows[rows["scene"] == "Valencia flood"]
    assert len(named) == 4 and set(named["acquired"]) == {"2016-01-12"}


def test_a_zipped_product_is_taken_and_a_broken_zip_fails_in_plain_words(
    app_data: Path, tmp_path: Path
) -> None:
    product = products.write_s2_product(tmp_path, "L1C", zipped=True)  # as downloaded
    at = add_page()
    at.file_uploader(key="upload_files").set_value(
        [
            (product.name, product.read_bytes(), "application/zip"),
            ("S2B_MSIL2A_20180131T105229.SAFE.zip", b"PK not a zip", "application/zip"),
        ]
    ).run()
    at.button(key="up_go").click().run()
    at = finish_job(at)
    report = at.code[0].value
    assert "indexed 4 chips" in report and "FAILED" in report, report
    assert "not a readable zip archive" in report, report
    assert "Error" not in report and "--" not in report and "Traceback" not in report, report
