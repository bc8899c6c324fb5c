import io

import numpy as np
import pytest
from PIL import Image

from closp_core.bands import Sensor, prepare_s1, prepare_s2
from closp_core.errors import BandContractError, ClospError
from closp_core.render import jpeg_bytes, render_composite, render_previews, stretch


def test_stretch_uses_robust_percentiles() -> None:
    band = np.linspace(0, 1, 10000).reshape(100, 100)
    band[0, 0] = 1e6  # one hot pixel does not flatten the rest
    out = stretch(band)
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255
    assert 100 < out[50, 50] < 155
    assert stretch(np.full((4, 4), np.nan)).max() == 0
    assert len(np.unique(stretch(np.full((4, 4), 3.0)))) == 1


def test_s2_composites_pick_the_named_bands() -> None:
    dn = np.zeros((13, 8, 8), np.uint16)
    dn[3, :, :4] = 3000  # B4 (red) bright on the left half only
    dn[7, :, 4:] = 3000  # B8 (nir) bright on the right half only
    chip = prepare_s2(dn)
    true = render_composite(chip, Sensor.S2, "true_color")
    false = render_composite(chip, Sensor.S2, "false_color")
    assert true[0, 0, 0] == 255 and true[0, 7, 0] == 0  # red channel = B4
    assert false[0, 7, 0] == 255 and false[0, 0, 1] == 255  # R = B8, G = B4
    assert set(render_previews(chip, Sensor.S2)) == {"true_color", "false_color", "swir"}


def test_s1_composite_water_is_dark() -> None:
    db = np.stack([np.full((8, 8), -8.0), np.full((8, 8), -15.0)])
    db[:, :4, :4] = [[[-25.0]], [[-32.0]]]  # calm water: low backscatter
    rgb = render_previews(prepare_s1(db), Sensor.S1)["sar"]
    assert rgb.shape == (8, 8, 3)
    assert rgb[0, 0, :2].max() < rgb[7, 7, :2].min()


def test_jpeg_bytes_round_trip() -> None:
    rgb = np.zeros((16, 24, 3), np.uint8)
    rgb[:, 12:] = (200, 40, 90)
    image = Image.open(io.BytesIO(jpeg_bytes(rgb)))
    assert image.format == "JPEG" and image.size == (24, 16)
    decoded = np.asarray(image).astype(int)
    assert np.abs(decoded[8, 20] - (200, 40, 90)).max() < 12 and decoded[8, 2].max() < 12


def test_bad_composite_requests() -> None:
    with pytest.raises(ClospError, match=r"no composite 'swir' for S1; choose one of \['sar'\]"):
        render_composite(np.zeros((2, 4, 4), np.float32), Sensor.S1, "swir")
    with pytest.raises(BandContractError, match="expected 13 bands"):
        render_composite(np.zeros((2, 4, 4), np.float32), Sensor.S2, "true_color")
