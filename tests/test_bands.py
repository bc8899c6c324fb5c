import numpy as np
import pytest

from closp_core.bands import (
    S1_FILL_DB,
    S2_BANDS,
    Sensor,
    canonical_band_name,
    check_model_input,
    linear_to_db,
    prepare_s1,
    prepare_s2,
)
from closp_core.errors import BandContractError


def test_sensor_parse() -> None:
    assert Sensor.parse("S2") is Sensor.S2
    assert Sensor.parse(Sensor.S1) is Sensor.S1
    with pytest.raises(BandContractError, match="unknown sensor 'landsat'"):
        Sensor.parse("landsat")


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [("B02", "B2"), ("b8a", "B8A"), ("B8A", "B8A"), ("B10", "B10"), ("vh", "VH")],
)
def test_canonical_band_name(raw: str, canonical: str) -> None:
    assert canonical_band_name(raw) == canonical


def test_prepare_s2_inserts_zero_b10_and_scales() -> None:
    dn = np.arange(12, dtype=np.uint16)[:, None, None] * np.ones((12, 4, 4), np.uint16) * 100
    out = prepare_s2(dn)
    assert out.shape == (13, 4, 4) and out.dtype == np.float32
    assert np.all(out[10] == 0)
    np.testing.assert_allclose(out[:10, 0, 0], np.arange(10) * 100 / 10000)
    np.testing.assert_allclose(out[11:, 0, 0], np.array([10, 11]) * 100 / 10000)


def test_prepare_s2_orders_bands_by_name() -> None:
    rng = np.random.default_rng(0)
    dn = rng.integers(0, 5000, size=(13, 3, 3)).astype(np.int16)
    order = rng.permutation(13)
    names = [f"B{b[1:].zfill(2)}" for b in np.array(S2_BANDS)[order]]  # "B02", "B8A" ...
    np.testing.assert_array_equal(prepare_s2(dn[order], names), prepare_s2(dn))


def test_prepare_s2_without_b10_by_name() -> None:
    dn = np.ones((12, 2, 2), np.uint16)
    names = [b for b in S2_BANDS if b != "B10"][::-1]
    out = prepare_s2(dn[::-1], names)
    assert out.shape == (13, 2, 2) and np.all(out[10] == 0)


def test_prepare_s2_nan_becomes_zero() -> None:
    dn = np.full((13, 2, 2), 1000.0, np.float32)
    dn[3, 0, 0] = np.nan
    out = prepare_s2(dn)
    assert out[3, 0, 0] == 0 and out[3, 1, 1] == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("array", "names", "message"),
    [
        (np.ones((5, 4, 4)), None, "expected 13 bands"),
        (np.ones((1, 4, 4)), None, "expected 13 bands"),
        (np.ones((4, 4)), None, r"expected \(bands, H, W\)"),
        (np.ones((1, 1, 13, 4, 4)), None, r"expected \(bands, H, W\)"),
        (np.ones((13, 4, 4), dtype=bool), None, "dtype bool"),
        (np.ones((13, 4, 4), dtype=np.complex64), None, "dtype complex64"),
        (np.full((13, 4, 4), np.nan), None, "no valid pixel"),
        (np.full((13, 4, 4), np.inf), None, "infinite"),
        (np.ones((3, 4, 4)), ["B2", "B3", "B4"], r"missing bands \['B1'"),
        (np.ones((3, 4, 4)), ["B2", "B3"], "2 band names given for 3 bands"),
    ],
)
def test_prepare_s2_rejects(array: np.ndarray, names: list[str] | None, message: str) -> None:
    with pytest.raises(BandContractError, match=message):
        prepare_s2(array, names)


def test_prepare_s1_orders_by_name_and_fills_nan() -> None:
    vv = np.full((4, 4), -10.0, np.float32)
    vh = np.full((4, 4), -20.0, np.float32)
    vh[0, 0] = np.nan
    out = prepare_s1(np.stack([vh, vv]), ["VH", "VV"])
    assert out[0, 1, 1] == -10.0 and out[1, 1, 1] == -20.0
    assert out[1, 0, 0] == S1_FILL_DB


@pytest.mark.parametrize(
    ("array", "names", "message"),
    [
        (np.ones((1, 4, 4)), None, r"expected 2 bands \['VV', 'VH'\]"),
        (np.ones((1, 4, 4)), ["VV"], r"missing bands \['VH'\]"),
        (np.ones((2, 4, 4)), ["HH", "HV"], r"missing bands \['VV', 'VH'\]"),
        (np.full((2, 4, 4), -np.inf), None, "infinite"),
        (np.full((2, 4, 4), np.nan), None, "no valid pixel"),
    ],
)
def test_prepare_s1_rejects(array: np.ndarray, names: list[str] | None, message: str) -> None:
    with pytest.raises(BandContractError, match=message):
        prepare_s1(array, names)


def test_linear_to_db() -> None:
    out = linear_to_db(np.array([1.0, 0.01, 0.0, -1.0, np.nan]), floor_db=-50)
    np.testing.assert_allclose(out[:4], [0.0, -20.0, -50.0, -50.0], atol=1e-5)
    assert np.isnan(out[4])


def test_check_model_input_accepts_single_chip() -> None:
    out = check_model_input(np.zeros((2, 8, 8), np.float64), Sensor.S1)
    assert out.shape == (1, 2, 8, 8) and out.dtype == np.float32


@pytest.mark.parametrize(
    ("array", "sensor", "message"),
    [
        (np.full((1, 13, 4, 4), 1234.0, np.float32), Sensor.S2, "digital numbers"),
        (np.ones((1, 13, 4, 4), np.uint16), Sensor.S2, "expected float pixels"),
        (np.ones((1, 12, 4, 4), np.float32), Sensor.S2, "12-band S2 needs prepare_s2"),
        (np.ones((1, 13, 4, 4), np.float32), Sensor.S1, r"expected 2 bands \['VV', 'VH'\]"),
        (np.ones((1, 2, 4, 4), np.float32), Sensor.S2, "expected 13 bands"),
        (np.full((1, 2, 4, 4), np.nan, np.float32), Sensor.S1, "NaN or infinite"),
        (np.ones((0, 2, 4, 4), np.float32), Sensor.S1, "empty batch"),
    ],
)
def test_check_model_input_rejects(array: np.ndarray, sensor: Sensor, message: str) -> None:
    with pytest.raises(BandContractError, match=message):
        check_model_input(array, sensor)
