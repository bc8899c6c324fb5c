"""Raster scenes that are indexed but flagged (never silently): rotated or skewed grids with
their true footprint, names made safe for keys, a few impossible pixels, a date tag that is no
date, values kept with ``units_check=False``. The flag is counted in its unit and printed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from affine import Affine

from tests.hostile.harness import Bench, rotation
from tests.hostile.scene_inputs import (
    SPAIN_TRANSFORM,
    Odd,
    assert_indexed_and_flagged,
    not_a_box,
    safe_key,
    spiky,
    stack,
)

MARKUP = "<b>x</b-&amp;'\"\x1b[31m"
ODD: dict[str, Odd] = {
    "rotated_grid": Odd(
        stack("rotated.tif", transform=rotation(20, SPAIN_TRANSFORM)),
        r"rotated or skewed pixel grid",
        check=not_a_box,
    ),
    "skewed_grid": Odd(
        stack("skewed.tif", transform=SPAIN_TRANSFORM @ Affine.shear(15, 5)),
        r"rotated or skewed pixel grid",
        check=not_a_box,
    ),
    "markup_in_name": Odd(
        stack(f"{MARKUP}.tif".replace("/", "_")),
        r"scene id made safe",
        check=safe_key(f"{MARKUP}.tif".replace("/", "_")[:-4]),
    ),
    "dots_in_name": Odd(stack("a..b...c.tif"), r"scene id made safe", check=safe_key("a..b...c")),
    "bidi_override_in_name": Odd(
        stack("evil\u202egnp.tif"), r"scene id made safe", check=safe_key("evil\u202egnp")
    ),
    "path_in_scene_id": Odd(
        stack("plain.tif"),
        r"scene id made safe",
        check=safe_key("../../etc/passwd"),
        scene_id="../../etc/passwd",
    ),
    "s2_few_saturated": Odd(
        stack("fewsat.tif", "s2", dtype="uint16", values=spiky(65535)),
        r"pixels outside the physical range of S2 digital numbers \[0, 30000\] \(masked",
    ),
    "s1_few_bright": Odd(
        stack("bright.tif", values=spiky(80.0)),
        r"pixels outside the physical range of S1 dB \[-60, 40\] \(masked",
    ),
    "s1_infinite_pixels": Odd(
        stack("inf.tif", values=spiky(np.inf)), r"infinite pixels", unit="pixels"
    ),
    "amplitude_units_check_off": Odd(
        stack("ampoff.tif", dtype="uint16", values=lambda a: 10 ** ((a + 60) / 20)),
        r"pixels outside the physical range of S1 dB .*\(kept: units check off\)",
        options={"units_check": False},
    ),
    "date_tag_not_a_date": Odd(
        stack("when.tif", tags={"ACQUISITION_DATE": "last tuesday"}),
        r"a date tag that is no date",
        unit="scenes",
    ),
}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.hostile("flagged")) for n in ODD]
)
def test_an_odd_scene_is_indexed_and_flagged(
    name: str, bench: Bench, goods: dict[str, Path], tmp_path: Path
) -> None:
    assert_indexed_and_flagged(bench, goods, ODD[name], tmp_path)
