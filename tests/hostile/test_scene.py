"""Raster scenes that cannot be read, placed or dated: each fails alone, the run goes on.

Every case makes its bad file (``scene_inputs``), checks that the reader raises our
``DataError`` naming it, then ingests it before a good file in one run into a real Qdrant Edge
store holding baseline chips: the bad file fails alone with the same sentence, the good file is
indexed, and everything else in the index is unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from affine import Affine

from tests.hostile.harness import Bench
from tests.hostile.scene_inputs import (
    UTM,
    Bad,
    assert_fails_alone,
    fifo,
    gcps_only,
    split_bands,
    stack,
    symlink_loop,
    text_file,
    truncated,
    undecodable_name,
    vrt,
    vrt_source,
)

BAD: dict[str, tuple[str, Bad]] = {
    # --- files that cannot be read --------------------------------------------------------
    "fifo": ("error", Bad(fifo, r"pipe\.tif: not a regular file or folder \(a FIFO")),
    "device": ("error", Bad(lambda _: Path("/dev/null"), r"/dev/null: not a regular file")),
    "symlink_loop": ("error", Bad(symlink_loop, r"loop\.tif: a symbolic link to nothing")),
    "empty_file": ("error", Bad(text_file("empty.tif", b""), r"empty\.tif: is empty \(0 bytes\)")),
    "text_as_tif": (
        "error",
        Bad(text_file("notes.tif", b"field notes, not pixels"), r"notes\.tif: not a readable"),
    ),
    "truncated": ("error", Bad(truncated, r"cut\.tif: .*(corrupt|truncated|not a readable)")),
    "png_as_tif": (
        "error",
        Bad(text_file("img.tif", b"\x89PNG\r\n\x1a\n" + bytes(64)), r"img\.tif: not a readable"),
    ),
    "no_crs": ("error", Bad(stack("nocrs.tif", crs=None), r"nocrs\.tif: has no CRS")),
    "gcps_only": ("error", Bad(gcps_only, r"gcps\.tif: has no usable geotransform")),
    "zero_pixel_size": (
        "error",
        Bad(
            stack("zero.tif", transform=Affine(0, 0, -0.78, 0, -9e-5, 38.1)),
            r"zero\.tif: has no usable geotransform .*zero pixel size",
        ),
    ),
    "nan_geotransform": (
        "error",
        Bad(
            stack("nan.tif", transform=Affine(float("nan"), 0, -0.78, 0, -9e-5, 38.1)),
            r"nan\.tif: its geotransform is not finite",
        ),
    ),
    "utm_coords_in_wgs84": (
        "error",
        Bad(
            stack("utm4326.tif", transform=Affine(10, 0, 435720, 0, -10, 4179480)),
            r"utm4326\.tif: coordinates .* fall outside the globe",
        ),
    ),
    "degree_coords_in_utm": (
        "error",
        Bad(stack("degutm.tif", crs=UTM), r"degutm\.tif: one pixel measures 9.*e-05 m"),
    ),
    "outside_projection": (
        "error",
        Bad(
            stack("far.tif", crs=UTM, transform=Affine(10, 0, 1e12, 0, -10, 1e12)),
            r"far\.tif: coordinates cannot be transformed",
        ),
    ),
    "latitude_95": (
        "error",
        Bad(
            stack("lat95.tif", transform=Affine(9e-5, 0, 10, 0, -9e-5, 95.0)),
            r"lat95\.tif: .*fall outside the globe .*lat 9[45]",
        ),
    ),
    "km_pixels": (
        "error",
        Bad(
            stack("km.tif", crs=UTM, transform=Affine(1000, 0, 500000, 0, -1000, 4.2e6)),
            r"km\.tif: one pixel measures 1e\+03 m",
        ),
    ),
    "bands_far_apart": ("error", Bad(lambda t: split_bands(t), r"grids do not overlap")),
    "date_9999": (
        "error",
        Bad(
            stack("d9999.tif", tags={"ACQUISITION_DATE": "9999-12-31"}),
            r"d9999\.tif \(date tag\): acquisition time 9999-12-31.* outside the Sentinel era",
        ),
    ),
    "date_1850": (
        "error",
        Bad(stack("d1850.tif", tags={"acquisition_time": "1850-01-01T10:00:00"}), "1850-01-01"),
    ),
    "date_future": (
        "error",
        Bad(stack("d2090.tif", tags={"DATE": "2090-06-01"}), r"2090-06-01.*Sentinel era"),
    ),
    "bad_utf8_name": ("error", Bad(lambda t: undecodable_name(t), r"not valid UTF-8.*rename")),
    "malformed_vrt": (
        "error",
        Bad(text_file("broken.vrt", b"<VRTDataset><VRTRasterBand>"), r"broken\.vrt: malformed VRT"),
    ),
    "xml_not_vrt": (
        "error",
        Bad(
            text_file("doc.tif", b"<html><body>hi</body></html>"), r"doc\.tif: an XML file but not"
        ),
    ),
    "vrt_source_fifo": (
        "error",
        Bad(
            vrt("fifo.vrt", vrt_source("src.tif"), lambda t: os.mkfifo(t / "src.tif")),
            r"fifo\.vrt: cannot read its source: .*src\.tif: is not a regular file \(a FIFO",
        ),
    ),
}


@pytest.mark.parametrize(
    "name",
    [pytest.param(name, marks=pytest.mark.hostile(verdict)) for name, (verdict, _) in BAD.items()],
)
def test_a_scene_that_cannot_be_read_fails_alone(
    name: str, bench: Bench, goods: dict[str, Path], tmp_path: Path
) -> None:
    assert_fails_alone(bench, goods, BAD[name][1], tmp_path)
