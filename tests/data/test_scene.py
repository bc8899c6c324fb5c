"""Raster-scene reader: georeferenced resampling, chips, no-data, S1 units, time, labels."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from closp_core.bands import Sensor
from closp_core.data import MaskLabeler, SceneOptions, SceneSource, Tally
from tests.data.conftest import read_all, ring_contains
from tests.data.scene import make_data as md

S2_DIR = md.HERE / "s2_bands"
S1_STACK = md.HERE / "s1_stack.tif"


def test_s2_band_folder_gives_model_ready_chips() -> None:
    source = SceneSource(S2_DIR)
    (unit,) = source.units()
    tally = Tally()
    chips = list(source.read(unit, tally))
    # 10 m grid 240 px, but the 60 m bands end 10 m earlier: common area 239 px -> 2 + edge chip
    assert len(chips) == 4
    chip = chips[0]
    assert chip.sensor is Sensor.S2
    assert chip.pixels.shape == (13, 120, 120) and chip.pixels.dtype == np.float32
    assert chip.key == "scene/s2_bands_T99XYZ_20160112T160632/s2/r0_c0"
    assert chip.crs == "EPSG:32618" and chip.source == "scene"
    assert chip.acquired == dt.datetime(2016, 1, 12, 16, 6, 32, tzinfo=dt.UTC)
    assert np.all(chip.pixels[10] >= 0) and chip.pixels.max() <= 0.91
    assert chip.footprint[0] == chip.footprint[-1] and len(chip.footprint) == 5
    assert ring_contains(chip.footprint, chip.center)
    assert -76 < chip.center[0] < -75 and 37 < chip.center[1] < 38
    assert len({c.key for c in chips}) == 4 and not tally.skipped
    # stable keys across re-reads
    assert [c.key for c in read_all(SceneSource(S2_DIR))] == [c.key for c in chips]


def test_bands_are_aligned_by_map_coordinates_not_index() -> None:
    """The bright square sits at the same map position in the 10, 20 and 60 m bands."""
    options = SceneOptions(resampling="nearest", cover_edges=False)
    chip = read_all(SceneSource(S2_DIR, options))[0]
    bright = chip.pixels > 0.85  # (13, 120, 120)
    for band in range(13):
        if band == 10:
            continue  # B10 included here, but check all the real bands
        assert np.array_equal(bright[band], bright[1]), f"band {band} misplaced"
    rows, cols = np.nonzero(bright[1])
    # FEATURE is 600..660 m east of X0; the 10 m grid starts at X0 + 10 m
    assert (cols.min(), cols.max() + 1) == (59, 65)
    assert (rows.min(), rows.max() + 1) == (59, 65)
    # index-based stacking of the 20 m band would put it elsewhere
    naive = np.kron(md.s2_band(20, 5), np.ones((2, 2), dtype=np.uint16))[:120, :120] >= 9000
    assert not np.array_equal(naive, bright[4])


def test_stride_and_edge_offsets() -> None:
    chips = read_all(SceneSource(S2_DIR, SceneOptions(stride=60, cover_edges=False)))
    assert [c.key.rsplit("/", 1)[1] for c in chips] == ["r0_c0", "r0_c60", "r60_c0", "r60_c60"]
    edges = read_all(SceneSource(S2_DIR, SceneOptions(stride=60)))
    assert [c.key.rsplit("/", 1)[1] for c in edges][:3] == ["r0_c0", "r0_c60", "r0_c119"]


def test_s1_stack_is_ordered_vv_vh_by_description() -> None:
    chips = read_all(SceneSource(S1_STACK))
    assert len(chips) == 4 and chips[0].sensor is Sensor.S1
    assert chips[0].pixels.shape == (2, 120, 120)
    assert np.allclose(chips[0].pixels[0], -10.0) and np.allclose(chips[0].pixels[1], -20.0)
    assert chips[0].crs == "EPSG:4326"
    lon, lat = chips[0].center
    assert lon == pytest.approx(-0.78 + 60 * 9e-5) and lat == pytest.approx(38.13 - 60 * 9e-5)


@pytest.mark.parametrize("flag", ["tag", "option"])
def test_s1_linear_power_is_converted_to_db(tmp_path: Path, flag: str) -> None:
    power = np.stack([np.full((120, 120), 0.1), np.full((120, 120), 0.01)]).astype(np.float32)
    tags = {"units": "linear power"} if flag == "tag" else None
    path = md.write_stack(tmp_path / "s1.tif", power, ["VV", "VH"], tags=tags)
    options = SceneOptions(s1_linear=True if flag == "option" else None)
    (chip,) = read_all(SceneSource(path, options))
    assert np.allclose(chip.pixels[0], -10.0, atol=1e-4)
    assert np.allclose(chip.pixels[1], -20.0, atol=1e-4)


def test_time_from_tags_and_explicit_option(tmp_path: Path) -> None:
    path = md.write_stack(
        tmp_path / "s1.tif",
        md.s1_db(120),
        ["VV", "VH"],
        tags={"ACQUISITION_TIME": "2019-09-17T06:00:00Z"},
    )
    (chip,) = read_all(SceneSource(path))
    assert chip.acquired == dt.datetime(2019, 9, 17, 6, tzinfo=dt.UTC)
    when = dt.datetime(2020, 1, 2, 3, 4, 5)
    (chip,) = read_all(SceneSource(path, SceneOptions(acquired=when)))
    assert chip.acquired == when.replace(tzinfo=dt.UTC)


def test_nodata_chips_are_skipped_and_gaps_filled(tmp_path: Path) -> None:
    data = md.s1_db(240)
    data[:, :120, :120] = np.nan  # one whole chip missing
    data[:, 130:135, 0:10] = np.nan  # a few gaps in another
    data[0, 200, 200] = np.inf
    tally = Tally()
    chips = read_all(SceneSource(md.write_stack(tmp_path / "s1.tif", data, ["VV", "VH"])), tally)
    assert len(chips) == 3
    assert tally.skipped == {"no-data share above 10%": 1}
    assert tally.flagged["infinite pixels treated as no-data"] == 1
    gappy = next(c for c in chips if c.key.endswith("r120_c0"))
    assert gappy.pixels[0, 10, 0] == pytest.approx(-30.0)  # S1_FILL_DB
    assert all(np.isfinite(c.pixels).all() for c in chips)


def test_s2_zeros_are_nodata_and_all_nodata_scene_gives_no_chip(tmp_path: Path) -> None:
    data = np.zeros((13, 120, 120), dtype=np.uint16)
    names = [f"B{i}" for i in range(1, 13)] + ["B8A"]
    tally = Tally()
    path = md.write_stack(tmp_path / "empty.tif", data, names)
    assert read_all(SceneSource(path), tally) == []
    assert tally.skipped == {"no-data share above 10%": 1}
    assert tally.flagged == {"scene without a usable chip: empty": 1}


def test_labels_explicit_and_from_mask(tmp_path: Path) -> None:
    mask = np.zeros((240, 240), dtype=np.int16)
    mask[:120, :60] = 1  # half of the first chip is water
    mask[120:, 120:] = -1  # no data under the last chip
    mask_path = md.write_band(
        tmp_path / "mask.tif", mask, from_origin(-0.78, 38.13, 9e-5, 9e-5), crs="EPSG:4326"
    )

    def odd(window: object) -> list[str]:
        return ["Glacier pudding"]

    options = SceneOptions(labels=("crops",), chip_labeler=MaskLabeler(mask_path, "Flooded Area"))
    chips = read_all(SceneSource(S1_STACK, options))
    assert chips[0].labels == ("Flooded Area", "Crops")
    assert [c.labels for c in chips[1:]] == [("Crops",)] * 3
    tally = Tally()
    chips = read_all(SceneSource(S1_STACK, SceneOptions(chip_labeler=odd)), tally)
    assert chips[0].unmapped_labels == ("Glacier pudding",) and chips[0].labels == ()
    assert chips[0].original_labels == ("Glacier pudding",)
    assert tally.flagged["label outside the label space: 'Glacier pudding'"] == 4


def test_window_reads_keep_memory_bounded(tmp_path: Path) -> None:
    """A 3000x3000 two-band float32 scene (72 MB decoded) is read with a small peak."""
    import tracemalloc

    path = tmp_path / "big.tif"
    profile = dict(
        md.PROFILE,
        height=3000,
        width=3000,
        count=2,
        dtype="float32",
        tiled=True,
        blockxsize=512,
        blockysize=512,
        crs=md.UTM,
        transform=from_origin(md.X0, md.Y0, 10, 10),
    )
    with rasterio.open(path, "w", **profile) as dst:
        dst.descriptions = ("VV", "VH")
        block = np.full((2, 500, 3000), -12.0, dtype=np.float32)
        for row in range(0, 3000, 500):
            dst.write(block, window=rasterio.windows.Window(0, row, 3000, 500))
    source = SceneSource(path, SceneOptions(window_chips=4))
    (unit,) = source.units()
    tracemalloc.start()
    try:
        count = sum(1 for _ in source.read(unit, Tally()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 25 * 25
    assert peak < 8 * 2**20, f"peak traced memory {peak / 2**20:.1f} MiB"
