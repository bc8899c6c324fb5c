"""The Sentinel-2 offset rule, products as they ship (.SAFE folder and zip), the shifted-scene
guard and the Sentinel-1 GRD refusal, on products built from the shipped samples
(``products.py``)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio

from closp_core.bands import remove_dn_offset
from closp_core.data import Chip, DataError, SceneOptions, SceneSource, StacSource, Tally
from closp_core.data.scene.source import product_scenes
from closp_core.data.values import SHIFT_FLAG
from closp_core.errors import ConfigError
from tests.data import products
from tests.data.conftest import read_all

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")


def _offsets(chip: Chip) -> tuple[int, int]:
    match = re.search(r"/r(\d+)_c(\d+)", chip.key)
    assert match, chip.key
    return int(match.group(1)), int(match.group(2))


def test_the_offset_rule_keeps_dark_water_as_zero_reflectance() -> None:
    dn = np.array([[[0.0, 400.0, 1000.0, 1234.0, np.nan]]], dtype=np.float32)
    out = remove_dn_offset(dn, -1000.0)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[0, 0, :4], [0.0, 0.0, 0.0, 234.0])
    assert np.isnan(out[0, 0, 4])  # no-data stays no-data
    np.testing.assert_array_equal(remove_dn_offset(dn, 0.0)[0, 0, :4], dn[0, 0, :4])


def test_l2a_item_with_the_offset_keeps_every_flood_chip(tmp_path: Path) -> None:
    """The Spain scene as an L2A item (+1000, offset -0.1): all 25 chips, no pixel called out
    of range, the flooded chips among them (before the rule: 9 skipped, the most flooded)."""
    item = products.write_spain_l2a_item(tmp_path / "spain")
    with rasterio.open(item.parent / "B8.tif") as src:  # the premise: dark water below 1000
        assert 0.03 < float((src.read(1) < 1000).mean()) < 0.08
    tally = Tally()
    chips = read_all(StacSource(str(item)), tally)
    assert len(chips) == 25 and not tally.skipped and not tally.flagged
    water = sorted(products.water_fraction(*_offsets(c)) for c in chips)
    assert sum(f >= 0.25 for f in water) >= 9 and water[-1] > 0.7
    b8 = chips[0].pixels[7]
    assert float(b8.min()) == 0.0 and float(b8.max()) < 1.0  # offset removed, clipped at 0


@pytest.mark.parametrize("zipped", [False, True], ids=["folder", "zip"])
@pytest.mark.parametrize("level", ["L2A", "L1C"])
def test_s2_product_reads_with_its_offsets_and_dates(
    tmp_path: Path, level: str, zipped: bool
) -> None:
    product = products.write_s2_product(tmp_path, level, "05.10", zipped=zipped)
    tally = Tally()
    chips = read_all(SceneSource(product), tally)
    reference = read_all(SceneSource(_plain_bands(tmp_path / "plain", level)))
    assert [c.key.rsplit("/", 1)[1] for c in chips] == [c.key.rsplit("/", 1)[1] for c in reference]
    for chip, ref in zip(chips, reference, strict=True):
        np.testing.assert_allclose(chip.pixels, ref.pixels, atol=1e-6)  # the +1000 is gone
    name = products.product_name(level, "05.10")
    assert chips[0].key.startswith(f"scene/{name}/s2/") and chips[0].scene_id == name
    assert chips[0].acquired is not None and chips[0].acquired.microsecond == 24000  # metadata
    assert not tally.flagged and not tally.skipped


def _plain_bands(folder: Path, level: str) -> Path:
    """The same square as loose band files without any offset (what the product must equal)."""
    for band in products.BANDS:
        if level == "L2A" and band == "B10":
            continue
        data, profile = products.virginia_band(band, products.NATIVE[band])
        products.write_band(folder / f"plain_{band}.tif", data, profile, "GTiff")
    return folder


def test_old_baseline_product_is_read_as_is(tmp_path: Path) -> None:
    product = products.write_s2_product(tmp_path, "L2A", "02.14")
    text = (product / "MTD_MSIL2A.xml").read_text()
    assert "BOA_ADD_OFFSET" not in text
    chips = read_all(SceneSource(product))
    reference = read_all(SceneSource(_plain_bands(tmp_path / "plain", "L2A")))
    np.testing.assert_allclose(chips[0].pixels, reference[0].pixels, atol=1e-6)


def test_a_folder_of_products_reads_each(tmp_path: Path) -> None:
    products.write_s2_product(tmp_path / "drop", "L2A", zipped=True)
    products.write_s2_product(tmp_path / "drop", "L1C")
    source = SceneSource(tmp_path / "drop")
    assert len(source.units()) == 2
    assert len(read_all(source)) == 8


def test_native_resolution_wins(tmp_path: Path) -> None:
    """L2A holds B02 at 10, 20 and 60 m: the 10 m file is read (four chips, 10 m pixels)."""
    product = products.write_s2_product(tmp_path, "L2A")
    (spec,) = product_scenes(product)
    assert spec.bands is not None
    assert spec.bands["B2"].path.endswith("_B02_10m.jp2")
    assert spec.bands["B5"].path.endswith("_B05_20m.jp2")
    assert spec.bands["B1"].path.endswith("_B01_60m.jp2")
    assert not any("TCI" in ref.path or "SCL" in ref.path for ref in spec.bands.values())


def test_s1_grd_product_is_refused_with_the_alternatives(tmp_path: Path) -> None:
    safe = products.write_s1_grd(tmp_path)
    with pytest.raises(DataError, match=r"Sentinel-1 product.*sentinel-1-rtc.*dB"):
        SceneSource(safe).units()


@pytest.mark.parametrize(
    ("member", "data", "match"),
    [
        ("../evil.jp2", b"x", "outside the archive"),
        ("X.SAFE/notes.txt", b"x", "not a Sentinel-2 L1C/L2A product"),
        ("X.SAFE/MTD_MSIL2A.xml", b"<unclosed", "not valid XML"),
    ],
    ids=["zip-slip", "no-metadata", "bad-xml"],
)
def test_bad_product_zips_are_refused(tmp_path: Path, member: str, data: bytes, match: str) -> None:
    archive = tmp_path / "product.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(member, data)
    with pytest.raises(DataError, match=match):
        SceneSource(archive).units()


def test_a_band_member_that_is_not_an_image_is_refused(tmp_path: Path) -> None:
    """A VRT (XML that could read any file) named like a band inside a product zip."""
    product = products.write_s2_product(tmp_path, "L1C", zipped=True)
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(product) as src, zipfile.ZipFile(evil, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename.endswith("_B02.jp2"):
                body = b"<VRTDataset><VRTRasterBand><SourceFilename>/etc/passwd"
            dst.writestr(info, body)
    with pytest.raises(DataError, match="not a JPEG2000 or TIFF image"):
        SceneSource(evil).units()


def _shifted_virginia(folder: Path) -> Path:
    """A copy of the shipped Virginia scene with +1000 on every valid DN and no metadata."""
    folder.mkdir(parents=True)
    for path in sorted(products.VIRGINIA.glob("*.tif")):
        with rasterio.open(path) as src:
            data, profile = src.read(1), src.profile
        shifted = np.where(data > 0, data + 1000, 0).astype(np.uint16)
        with rasterio.open(folder / path.name, "w", **profile) as dst:
            dst.write(shifted, 1)
    return folder


def test_guard_flags_a_shifted_scene_and_the_override_removes_the_offset(tmp_path: Path) -> None:
    shifted = _shifted_virginia(tmp_path / "shifted")
    tally = Tally()
    assert read_all(SceneSource(shifted), tally)
    assert tally.flagged[SHIFT_FLAG] == 1
    fixed = Tally()
    chips = read_all(SceneSource(shifted, SceneOptions(s2_offset=1000)), fixed)
    original = read_all(SceneSource(products.VIRGINIA))
    assert not fixed.flagged
    np.testing.assert_allclose(chips[5].pixels, original[5].pixels, atol=1e-6)


def test_guard_never_fires_on_the_shipped_samples() -> None:
    ben = products.SAMPLES / "bigearthnet" / "BigEarthNet-S2-Example"
    paths = [products.VIRGINIA, products.SPAIN / "Spain_7370579_S2Hand.tif"]
    paths += sorted(p for p in ben.iterdir() if p.is_dir())
    for path in paths:
        tally = Tally()
        assert read_all(SceneSource(path, SceneOptions(sensor="s2")), tally), path
        assert SHIFT_FLAG not in tally.flagged, path


def test_s2_offset_option_is_checked() -> None:
    with pytest.raises(ConfigError, match="s2_offset must be between 0 and 10000"):
        SceneOptions(s2_offset=-1000)
