"""The Python API and the search CLI write the same files for the same request: the COG and
the GeoJSON byte for byte, the GeoPackage feature for feature (it stamps its write time)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyogrio
import pytest

import closp_core
from closp_core.search.cli import main

SPAIN = "-0.79,38.08,-0.73,38.13"


def test_api_and_cli_write_the_same_files(
    multidate_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli, api = tmp_path / "cli", tmp_path / "api"
    cli.mkdir()
    api.mkdir()
    from closp_core.scoremap.export import write_exports

    with closp_core.open_index() as idx:
        first = idx.score_map("flooded fields", bbox=SPAIN, combine="both")
        t = first.suggested  # the threshold the page starts at, given explicitly below
        smap = idx.score_map("flooded fields", bbox=SPAIN, threshold=t, combine="both")
        write_exports(smap, score_map=api / "m.tif", area=api / "a.geojson", stac=api / "s.json")
        write_exports(smap, area=api / "a.gpkg")
    argv = ["flooded fields", "--bbox", SPAIN, "--threshold", repr(t), "--combine", "both"]
    files = ["--score-map", str(cli / "m.tif"), "--area", str(cli / "a.geojson")]
    assert main([*argv, *files, "--stac", str(cli / "s.json")]) == 0, capsys.readouterr().err
    assert main([*argv, "--area", str(cli / "a.gpkg")]) == 0
    assert f"chips scored (cosine similarity), >= {t:g}" in capsys.readouterr().err
    for name in ("m.tif", "a.geojson", "s.json"):
        assert (cli / name).read_bytes() == (api / name).read_bytes(), name
    a, b = pyogrio.read_dataframe(cli / "a.gpkg"), pyogrio.read_dataframe(api / "a.gpkg")
    assert len(a) >= 1 and a.equals(b)


def test_cli_refuses_bad_score_map_input(
    multidate_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["flooded", "--score-map", str(tmp_path / "m.png")]) == 2
    assert "name a .tif or .tiff file" in capsys.readouterr().err
    assert main(["flooded", "--area", str(tmp_path / "a.gpkg"), "--change-after", "soon"]) == 2
    assert "change_after must be a date" in capsys.readouterr().err


def test_the_api_reads_its_side_file_once_written(multidate_data: Path) -> None:
    with closp_core.open_index() as idx:
        plain = idx.score_map("flooded fields", bbox=SPAIN)
        folder = idx.write_score_map_side_file()
        assert (folder / "manifest.json").exists() and folder.parent == idx.settings.index_dir
        fast = idx.score_map("flooded fields", bbox=SPAIN)
    assert fast.table is not plain.table  # a new cache, filled from the side file
    assert fast.top_keys == plain.top_keys
    assert (fast.grid.values == plain.grid.values)[~np.isnan(plain.grid.values)].all()
