"""``python -m closp_core.search`` on the small real index: output files read back, and exit 2
with a clear reason for every bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import geopandas
import pytest

from closp_core.search.cli import main
from tests.app.conftest import ROOT

SPAIN = "-0.79,38.07,-0.73,38.14"  # the Sen1Floods11 Spain scene (west of Greenwich)
EAST = [[-0.765, 38.08], [-0.73, 38.08], [-0.73, 38.13], [-0.76, 38.13], [-0.765, 38.08]]


def area_file(folder: Path) -> Path:
    path = folder / "east.geojson"
    geometry = {"type": "Polygon", "coordinates": [EAST]}
    path.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": geometry}))
    return path


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.usefixtures("app_data")
def test_geojson_and_csv_files_read_back(tmp_path: Path) -> None:
    geojson, table = tmp_path / "hits.geojson", tmp_path / "hits.csv"
    argv = ["flooded fields", "--bbox", SPAIN, "--event", "flooded area", "--limit", "8"]
    assert main([*argv, "--out", str(geojson)]) == 0
    assert main([*argv, "--out", str(table)]) == 0
    frame = geopandas.read_file(geojson)
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert 0 < len(frame) <= 8 and [r["key"] for r in rows] == list(frame["key"])
    assert all("Flooded Area" in labels for labels in frame["labels"])
    assert frame.crs.to_epsg() == 4326 and (frame.geometry.geom_type == "Polygon").all()
    assert all(-0.79 < float(r["lon"]) < -0.73 and 38.07 < float(r["lat"]) < 38.14 for r in rows)
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores, reverse=True) and [r["rank"] for r in rows][:2] == ["1", "2"]


@pytest.mark.usefixtures("app_data")
def test_negative_coordinates_with_or_without_equals(capsys: pytest.CaptureFixture[str]) -> None:
    spaced = run_json(capsys, "farmland", "--bbox", SPAIN, "--sensor", "s2", "--limit", "5")
    joined = run_json(capsys, "farmland", f"--bbox={SPAIN}", "--sensor", "s2", "--limit", "5")
    assert [h["key"] for h in spaced["hits"]] == [h["key"] for h in joined["hits"]]
    assert len(spaced["hits"]) == 5 and {h["sensor"] for h in spaced["hits"]} == {"s2"}
    assert spaced["method"] == "query only" and spaced["title"] == "“farmland”"


@pytest.mark.usefixtures("app_data")
def test_area_file_and_table_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = run_json(capsys, "water", "--intersects", str(area_file(tmp_path)), "--limit", "100")
    assert found["hits"] and all(-0.765 < h["lon"] < -0.73 for h in found["hits"])
    assert len(found["hits"]) < 62  # the area keeps part of the index
    assert main(["water", "--limit", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "3 results for “water” (query only)" and len(lines) == 4


@pytest.mark.usefixtures("app_data")
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["water", "--bbox", "1,2,3"], "four numbers west,south,east,north; got 3"),
        (["water", "--bbox", "-0.7,38,-0.8,39"], "bbox is reversed"),
        (["water", "--event", "Lava"], "unknown label 'Lava'"),
        (["water", "--from", "2020-02-30"], "date_from must be a date"),
        (["water", "--from", "2020-02-02", "--to", "2020-01-01"], "swap them"),
        (["water", "--near", "-0.7,38.1"], "needs a GeoCLOSP model"),
        (["water", "--limit", "0"], "between 1 and 10000"),
        (["water", "--intersects", "/nonexistent/a.geojson"], "cannot read the area file"),
        (["water", "--labels", "/nonexistent/l.geojson"], "cannot read the label file"),
        (["water", "--out", "hits.parquet"], "name a .geojson or .csv file"),
        (["water", "--out", "/nonexistent/dir/hits.csv"], "does not exist"),
        ([], "nothing to search for"),
    ],
)
def test_bad_input_exits_2_with_the_reason(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_bad_usage_and_no_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLOSP_DATA_DIR", str(tmp_path / "empty"))
    assert main(["water", "--json"]) == 2
    assert "no index at" in capsys.readouterr().err
    assert not (tmp_path / "empty").exists()  # nothing created
    assert main(["water", "--data-dir", str(tmp_path / "other")]) == 2
    assert f"no index at {tmp_path / 'other'}" in capsys.readouterr().err
    for argv in (["--sensor", "s3"], ["--limit", "many"], ["--json", "--out", "a.csv"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
    assert "invalid choice: 's3'" in capsys.readouterr().err


def test_runs_as_a_module(tmp_path: Path) -> None:
    env = {"CLOSP_DATA_DIR": str(tmp_path / "none"), "HF_HUB_OFFLINE": "1", "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-m", "closp_core.search", "water", "--bbox", "-1,2,3,4", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "error: no index at" in done.stderr, done.stderr
