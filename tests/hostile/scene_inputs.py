"""Bad raster files made from the real samples, and the two checks every scene case runs.

Builders write one bad input into a test's folder (from a 120 x 120 crop of the real
Sen1Floods11 S1/S2 files, see ``harness.write_stack``) and return its path. ``Bad`` cases must
fail alone (``assert_fails_alone``), ``Odd`` cases must be indexed and flagged
(``assert_indexed_and_flagged``).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.control import GroundControlPoint

from closp_core.data import DataError, SceneOptions, SceneSource
from closp_core.store import ChipRecord
from tests.data.conftest import read_all
from tests.hostile.harness import Bench, sample_crop, write_stack

GOOD_KEYS = {"db": "scene/good_s1/s1/r0_c0", "linear": "scene/good_s1_linear/s1/r0_c0"}
SPAIN_TRANSFORM = sample_crop("s1")[1]["transform"]


def make_goods(folder: Path) -> dict[str, Path]:
    """A good S1 file in dB, and one in linear power (for runs with ``s1_linear=True``)."""
    return {
        "db": write_stack(folder / "good_s1.tif"),
        "linear": write_stack(folder / "good_s1_linear.tif", values=lambda a: 10 ** (a / 10)),
    }


@dataclasses.dataclass(frozen=True)
class Bad:
    """A bad input: ``make(tmp_path)`` writes it; the run must fail it with ``message``."""

    make: Callable[[Path], Path]
    message: str
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    good: str = "db"


def fifo(tmp: Path) -> Path:
    os.mkfifo(tmp / "pipe.tif")
    return tmp / "pipe.tif"


def text_file(name: str, content: bytes) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        (tmp / name).write_bytes(content)
        return tmp / name

    return make


def truncated(tmp: Path) -> Path:
    path = write_stack(tmp / "cut.tif")
    path.write_bytes(path.read_bytes()[:600])
    return path


def stack(name: str, kind: str = "s1", **changes: Any) -> Callable[[Path], Path]:
    return lambda tmp: write_stack(tmp / name, kind, **changes)


def gcps_only(tmp: Path) -> Path:
    points = [GroundControlPoint(row=r, col=c, x=-0.78 + c * 9e-5, y=38.1 - r * 9e-5)
              for r, c in ((0, 0), (0, 119), (119, 0))]  # fmt: skip
    return write_stack(tmp / "gcps.tif", gcps=points)


def symlink_loop(tmp: Path) -> Path:
    (tmp / "loop.tif").symlink_to(tmp / "loop.tif")
    return tmp / "loop.tif"


def vrt(name: str, band_xml: str, prepare: Callable[[Path], None] | None = None) -> Any:
    """A 2-band (VV, VH) VRT whose bands are ``band_xml`` (``{band}`` = 1 or 2)."""

    def make(tmp: Path) -> Path:
        if prepare is not None:
            prepare(tmp)
        bands = "".join(band_xml.format(band=b, name=n) for b, n in ((1, "VV"), (2, "VH")))
        text = (
            '<VRTDataset rasterXSize="120" rasterYSize="120"><SRS>EPSG:4326</SRS>'
            "<GeoTransform>-0.78, 8.98e-05, 0, 38.1, 0, -8.98e-05</GeoTransform>"
            f"{bands}</VRTDataset>"
        )
        (tmp / name).write_text(text)
        return tmp / name

    return make


def raw_file(tmp: Path) -> None:
    (tmp / "raw.bin").write_bytes(np.full((120, 120), -12.0, np.float32).tobytes())


def outside_file(tmp: Path) -> None:
    write_stack(tmp.parent / f"{tmp.name}-outside" / "x.tif")


def vrt_source(path: str, relative: int = 1) -> str:
    return (
        '<VRTRasterBand dataType="Float32" band="{band}"><Description>{name}</Description>'
        f'<SimpleSource><SourceFilename relativeToVRT="{relative}">{path}</SourceFilename>'
        "<SourceBand>{band}</SourceBand></SimpleSource></VRTRasterBand>"
    )


RAW_BAND = (
    '<VRTRasterBand dataType="Float32" band="{band}" subClass="VRTRawRasterBand">'
    '<Description>{name}</Description><SourceFilename relativeToVRT="1">raw.bin</SourceFilename>'
    "<ImageOffset>0</ImageOffset><PixelOffset>4</PixelOffset><LineOffset>480</LineOffset>"
    "</VRTRasterBand>"
)
UTM = "EPSG:32630"


def db_to_linear(a: np.ndarray) -> np.ndarray:
    return (10 ** (a / 10)).astype(np.float32)


def split_bands(tmp: Path) -> Path:
    """VV and VH files of one scene, 5 degrees apart."""
    folder = tmp / "split"
    data, profile, _ = sample_crop("s1")
    for i, (band, x0) in enumerate((("VV", -0.78), ("VH", 4.22))):
        meta = profile | {"count": 1, "transform": Affine(9e-5, 0, x0, 0, -9e-5, 38.1)}
        folder.mkdir(exist_ok=True)
        with rasterio.open(folder / f"x_{band}.tif", "w", **meta) as dst:
            dst.write(data[i : i + 1])
    return folder


def undecodable_name(tmp: Path) -> Path:
    """A good file renamed to a name with a byte that is not UTF-8 (GDAL cannot open it)."""
    path = Path(os.fsdecode(bytes(tmp) + b"/bad\xffname.tif"))
    write_stack(tmp / "plain.tif").rename(path)
    return path


@dataclasses.dataclass(frozen=True)
class Odd:
    """An input indexed but flagged: ``flag`` (regex) must be counted in ``unit``."""

    make: Callable[[Path], Path]
    flag: str
    unit: str = "chips"
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    check: Callable[[list[ChipRecord]], None] | None = None
    scene_id: str | None = None


def not_a_box(chips: list[ChipRecord]) -> None:
    (chip,) = chips
    assert chip.footprint is not None
    lons = {round(lon, 9) for lon, _ in chip.footprint.exterior[:-1]}
    assert len(lons) == 4  # a rotated quadrilateral, not the axis-aligned box of two corners


def safe_key(original: str) -> Callable[[list[ChipRecord]], None]:
    def check(chips: list[ChipRecord]) -> None:
        (chip,) = chips
        scene_part = chip.key.split("/")[1]
        assert ".." not in chip.key and chip.key.count("/") == 3
        assert not any(c in scene_part for c in "<>\"'&\x1b\\") and scene_part.isprintable()
        assert chip.scene_id == original.encode("utf-8", "backslashreplace").decode()

    return check


def spiky(value: float) -> Callable[[np.ndarray], np.ndarray]:
    def change(a: np.ndarray) -> np.ndarray:
        a = a.astype(np.float64)
        a[:, :3, :3] = value  # 9 of 14,400 pixels per band
        return a

    return change


def assert_fails_alone(bench: Bench, goods: dict[str, Path], case: Bad, tmp_path: Path) -> None:
    """The reader raises our error naming the file; ingested before a good file, it fails
    alone with the same sentence, the good file is indexed, nothing else changes."""
    bad = case.make(tmp_path)
    options = SceneOptions(**case.options)
    with pytest.raises(DataError, match=case.message):
        read_all(SceneSource(bad, options))

    outcome = bench.run(SceneSource([bad, goods[case.good]], options))
    reason = outcome.failed_for(bad)
    assert re.search(case.message, reason), reason
    assert "Traceback" not in reason and "\n" not in reason
    assert outcome.summary.indexed == 1  # the good file, after the bad one, went in
    assert GOOD_KEYS[case.good] in bench.keys
    assert set(outcome.added) <= {GOOD_KEYS[case.good]}
    assert outcome.rest_unchanged


def assert_indexed_and_flagged(
    bench: Bench, goods: dict[str, Path], case: Odd, tmp_path: Path
) -> None:
    """Ingested with a good file: both indexed, the flag counted once in its unit and shown in
    the summary, nothing else in the index changed, and the case's own ``check`` holds."""
    odd = case.make(tmp_path)
    options = SceneOptions(**case.options)
    outcome = bench.run(
        SceneSource(odd, options, scene_id=case.scene_id), SceneSource(goods["db"], options)
    )
    assert not outcome.summary.failed
    reasons = [r for r in outcome.summary.flagged if re.search(case.flag, r)]
    assert len(reasons) == 1, outcome.summary.flagged
    n = outcome.summary.flagged[reasons[0]]
    assert outcome.summary.flag_units[reasons[0]] == case.unit
    unit = case.unit[:-1] if n == 1 else case.unit
    assert f"flagged {n} {unit}: {reasons[0]}" in outcome.summary.report().splitlines()
    chips = [r for key, r in outcome.added.items() if key != GOOD_KEYS["db"]]
    assert chips and GOOD_KEYS["db"] in bench.keys
    assert outcome.summary.indexed == len(chips) + 1  # the odd file's chips and the good one
    assert outcome.rest_unchanged
    if case.check is not None:
        case.check(chips)
