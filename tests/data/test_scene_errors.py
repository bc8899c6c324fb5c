"""Bad raster input: every case is a ``DataError`` naming the file and what is wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from rasterio.transform import from_origin

from closp_core.data import DataError, SceneOptions, SceneSource
from closp_core.errors import ConfigError
from tests.data.conftest import read_all
from tests.data.scene import make_data as md


def test_missing_path() -> None:
    with pytest.raises(DataError, match=r"nowhere.*no such file or folder"):
        SceneSource("/nowhere/scene").units()


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a raster")
    with pytest.raises(DataError, match=rf"{tmp_path}.*no raster files"):
        SceneSource(tmp_path).units()


def test_text_file_named_tif(tmp_path: Path) -> None:
    path = tmp_path / "scene.tif"
    path.write_text("hello, I am not a GeoTIFF")
    with pytest.raises(DataError, match=r"scene\.tif: not a readable raster"):
        read_all(SceneSource(path))


def test_truncated_tiff(tmp_path: Path) -> None:
    data = np.random.default_rng(0).normal(-12, 3, (2, 240, 240)).astype(np.float32)
    path = md.write_stack(tmp_path / "cut.tif", data, ["VV", "VH"])
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match=r"cut\.tif: .*(corrupt|truncated|not a readable)"):
        read_all(SceneSource(path))


def test_no_crs(tmp_path: Path) -> None:
    path = md.write_stack(tmp_path / "nocrs.tif", md.s1_db(120), ["VV", "VH"], crs=None)
    with pytest.raises(DataError, match=r"nocrs\.tif: has no CRS"):
        read_all(SceneSource(path))


def test_unknown_band_names(tmp_path: Path) -> None:
    data = np.ones((3, 120, 120), dtype=np.uint16)
    path = md.write_stack(tmp_path / "rgb.tif", data, ["red", "green", "blue"])
    with pytest.raises(DataError, match=r"rgb\.tif: no Sentinel band names"):
        read_all(SceneSource(path))


def test_missing_band_names(tmp_path: Path) -> None:
    path = md.write_stack(tmp_path / "plain.tif", md.s1_db(120), [None, None])
    with pytest.raises(DataError, match=r"plain\.tif: no Sentinel band names"):
        read_all(SceneSource(path))
    (chip,) = read_all(SceneSource(path, band_names=["VV", "VH"]))  # explicit names fix it
    assert chip.pixels.shape == (2, 120, 120)


def test_twelve_of_thirteen_bands_missing(tmp_path: Path) -> None:
    md.write_s2_folder(tmp_path / "one", bands=["B02"])
    with pytest.raises(DataError, match=r"missing S2 bands \['B1', 'B3'"):
        read_all(SceneSource(tmp_path / "one"))


def test_s1_with_one_polarisation(tmp_path: Path) -> None:
    md.write_band(
        tmp_path / "x_VV.tif", md.s1_db(120)[0], from_origin(0, 0, 9e-5, 9e-5), crs="EPSG:4326"
    )
    with pytest.raises(DataError, match=r"x_\*: S1 needs both polarisations VV and VH"):
        read_all(SceneSource(tmp_path))


def test_band_grids_that_do_not_overlap(tmp_path: Path) -> None:
    md.write_band(
        tmp_path / "x_VV.tif", md.s1_db(120)[0], from_origin(0, 0, 9e-5, 9e-5), crs="EPSG:4326"
    )
    md.write_band(
        tmp_path / "x_VH.tif", md.s1_db(120)[1], from_origin(5, 5, 9e-5, 9e-5), crs="EPSG:4326"
    )
    with pytest.raises(DataError, match=r"x_V[HV]\.tif: band grids do not overlap"):
        read_all(SceneSource(tmp_path))


def test_scene_smaller_than_a_chip(tmp_path: Path) -> None:
    path = md.write_stack(tmp_path / "small.tif", md.s1_db(100), ["VV", "VH"])
    with pytest.raises(DataError, match=r"small\.tif: .*100x100 px, smaller than one 120x120"):
        read_all(SceneSource(path))


def test_mixed_sensors_need_an_explicit_sensor(tmp_path: Path) -> None:
    folder = md.write_s2_folder(tmp_path / "mix", prefix="x_")
    shutil.copy(md.HERE / "s2_bands" / "T99XYZ_20160112T160632_B02.tif", folder / "x_VV.tif")
    with pytest.raises(DataError, match=r"S1 bands \['VV'\] and S2 bands"):
        read_all(SceneSource(folder))
    assert len(read_all(SceneSource(folder, SceneOptions(sensor="s2")))) == 4


def test_bad_options_and_labels() -> None:
    with pytest.raises(ConfigError, match="max_nodata"):
        SceneOptions(max_nodata=1.0)
    with pytest.raises(DataError, match="scene labels: unknown label 'Lava'"):
        SceneSource(md.HERE / "s1_stack.tif", SceneOptions(labels=("Lava",)))
