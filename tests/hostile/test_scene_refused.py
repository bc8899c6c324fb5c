"""Raster scenes refused on purpose: VRTs that read more than they name, other formats,
complex pixels, and values in the wrong units or outside the sensor's physical range (see
``closp_core/data/values.py``). Each is refused alone; the good file of the run is indexed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.hostile.harness import Bench
from tests.hostile.scene_inputs import (
    RAW_BAND,
    Bad,
    assert_fails_alone,
    db_to_linear,
    outside_file,
    raw_file,
    stack,
    text_file,
    vrt,
    vrt_source,
)

BAD: dict[str, tuple[str, Bad]] = {
    # --- refused on purpose: reads more than it names, or values in the wrong units --------
    "vrt_raw_band": ("refused", Bad(vrt("raw.vrt", RAW_BAND, raw_file), "VRTRawRasterBand")),
    "vrt_raw_named_tif": (
        "refused",
        Bad(vrt("innocent.tif", RAW_BAND, raw_file), r"innocent\.tif: refused: a VRTRaw"),
    ),
    "vrt_lowercase_tags": (
        "refused",
        Bad(vrt("lower.vrt", RAW_BAND.replace("subClass", "subclass"), raw_file), "VRTRaw"),
    ),
    "vrt_outside_folder": (
        "refused",
        Bad(
            lambda t: vrt("out.vrt", vrt_source(f"../{t.name}-outside/x.tif"), outside_file)(t),
            r"out\.vrt: refused: it reads .*outside the VRT's folder",
        ),
    ),
    "vrt_absolute_elsewhere": (
        "refused",
        Bad(vrt("etc.vrt", vrt_source("/etc/hostname", 0)), r"reads /etc/hostname, outside"),
    ),
    "vrt_remote_url": (
        "refused",
        Bad(vrt("url.vrt", vrt_source("/vsicurl/http://127.0.0.1:9/x.tif")), r"reads '/vsicurl"),
    ),
    "vrt_recursive": (
        "refused",
        Bad(vrt("self.vrt", vrt_source("self.vrt")), r"self\.vrt: refused: it reads a VRT"),
    ),
    "vrt_entity": (
        "refused",
        Bad(
            text_file("bomb.vrt", b'<!DOCTYPE x [<!ENTITY a "aaaa">]><VRTDataset>&a;</VRTDataset>'),
            r"bomb\.vrt: refused: VRTs with DOCTYPE or ENTITY",
        ),
    ),
    "vrt_pixel_function_code": (
        "refused",
        Bad(
            vrt(
                "code.vrt",
                '<VRTRasterBand dataType="Float32" band="{band}" subClass="VRTDerivedRasterBand">'
                "<PixelFunctionLanguage>Python</PixelFunctionLanguage>"
                "<PixelFunctionCode>import os</PixelFunctionCode></VRTRasterBand>",
            ),
            r"code\.vrt: refused: VRT pixel functions",
        ),
    ),
    "ascii_grid": (
        "refused",
        Bad(
            text_file(
                "grid.tif", b"ncols 2\nnrows 2\nxllcorner 0\nyllcorner 0\ncellsize 1\n1 2\n3 4\n"
            ),
            r"grid\.tif: not a readable raster: neither GeoTIFF",
        ),
    ),
    "complex64": ("refused", Bad(stack("slc.tif", dtype="complex64"), r"complex pixels")),
    "complex128": ("refused", Bad(stack("c128.tif", dtype="complex128"), r"complex128")),
    "linear_read_as_db": (
        "refused",
        Bad(
            stack("lin.tif", values=db_to_linear),
            r"lin\.tif: read as dB but only 0\.0% .* pass --linear",
        ),
    ),
    "db_with_linear_flag": (
        "refused",
        Bad(
            stack("db.tif"),
            r"db\.tif: read as linear power .* already in dB; drop --linear",
            options={"s1_linear": True},
            good="linear",
        ),
    ),
    "db_with_linear_tag": (
        "refused",
        Bad(stack("tagged.tif", band_tags={"units": "linear"}), r"tagged\.tif: .*pass --db"),
    ),
    "db_forced_on_linear": (
        "refused",
        Bad(
            stack("forced.tif", values=db_to_linear, band_tags={"units": "linear"}),
            r"forced\.tif: read as dB",
            options={"s1_linear": False},
        ),
    ),
    "s1_amplitude_uint16": (
        "refused",
        Bad(
            stack("amp.tif", dtype="uint16", values=lambda a: 10 ** ((a + 60) / 20)),
            r"amp\.tif: read as dB",
        ),
    ),
    "s1_db_times_100": (
        "refused",
        Bad(
            stack("db100.tif", dtype="int16", values=lambda a: a * 100),
            r"db100\.tif: .*outside the physical range of S1 dB \[-60, 40\]",
        ),
    ),
    "s2_reflectance_floats": (
        "refused",
        Bad(
            stack("refl.tif", "s2", dtype="float32", values=lambda a: a / 10000),
            r"refl\.tif: .*already divided by 10000",
        ),
    ),
    "s2_saturated": (
        "refused",
        Bad(
            stack("sat.tif", "s2", dtype="uint16", values=lambda a: np.full(a.shape, 60000.0)),
            r"sat\.tif: 100% of the sampled pixels lie outside .*\[0, 30000\]",
        ),
    ),
    "s2_negative_dn": (
        "refused",
        Bad(stack("neg.tif", "s2", values=lambda a: a - 20000), r"neg\.tif: .*outside"),
    ),
}


@pytest.mark.parametrize(
    "name",
    [pytest.param(name, marks=pytest.mark.hostile(verdict)) for name, (verdict, _) in BAD.items()],
)
def test_a_refused_scene_fails_alone(
    name: str, bench: Bench, goods: dict[str, Path], tmp_path: Path
) -> None:
    assert_fails_alone(bench, goods, BAD[name][1], tmp_path)
