"""``python -m ingest`` end to end on the shipped samples, with a real embedded Qdrant Edge."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from closp_core.data.samples import SAMPLES_DIR
from closp_core.settings import Settings
from closp_core.store import open_store
from ingest.cli import main
from tests.ingest.conftest import cli_args

SAMPLE_CHIPS = 64 + 25 + 25 + 12  # Virginia strip, Spain S1, Spain S2, BigEarthNet pairs


def _count(settings: Settings, model_id: str = "closp-rn:random-seed0") -> int:
    store = open_store(settings, model_id)
    try:
        return store.count()
    finally:
        store.close()


def test_demo_indexes_the_samples_once(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(cli_args(settings, "info")) == 0
    assert "no index" in capsys.readouterr().out

    assert main(cli_args(settings, "demo")) == 0
    out = capsys.readouterr().out
    assert f"indexed {SAMPLE_CHIPS} chips" in out
    assert _count(settings) == SAMPLE_CHIPS

    store = open_store(settings, "closp-rn:random-seed0")
    try:
        flooded = store.browse(filters=None, limit=200).records
        record = next(r for r in flooded if "Flooded Area" in r.labels)
        assert record.sensor.value in ("s1", "s2") and record.footprint is not None
        for relative in record.previews.values():
            assert (settings.data_dir / relative).stat().st_size > 500
    finally:
        store.close()

    assert main(cli_args(settings, "demo")) == 0  # rerun: nothing new
    out = capsys.readouterr().out
    assert "indexed 0 chips" in out and f"skipped {SAMPLE_CHIPS} chips already indexed" in out
    assert _count(settings) == SAMPLE_CHIPS

    assert main(cli_args(settings, "info")) == 0
    info = capsys.readouterr().out
    assert f"chips     {SAMPLE_CHIPS}" in info and "RANDOM" in info and "Flooded Area" in info
    assert "older version" not in info

    meta_path = settings.index_dir / settings.collection / "closp-store.json"
    meta_path.write_text(json.dumps(json.loads(meta_path.read_text()) | {"schema": 1}))
    assert main(cli_args(settings, "info")) == 0
    assert (
        "written by an older version: map filters are exact but slower" in capsys.readouterr().out
    )


def test_force_and_limit(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    bigearthnet = str(SAMPLES_DIR / "bigearthnet")
    assert main(cli_args(settings, "bigearthnet", bigearthnet, "--limit", "5")) == 0
    assert _count(settings) == 5
    assert main(cli_args(settings, "bigearthnet", bigearthnet, "--force")) == 0
    assert "indexed 12 chips" in capsys.readouterr().out
    assert _count(settings) == 12


def test_a_bad_file_fails_alone(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "scenes"
    folder.mkdir()
    shutil.copy(SAMPLES_DIR / "sen1floods11-spain" / "Spain_7370579_S1Hand.tif", folder)
    (folder / "broken_VV.tif").write_text("this is not a GeoTIFF")
    code = main(cli_args(settings, "scene", str(folder), "--sensor", "s1"))
    out = capsys.readouterr().out
    assert code == 1
    assert "indexed 25 chips" in out
    assert "FAILED" in out and "broken" in out
    assert _count(settings) == 25


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("scene", "/nonexistent/scene.tif"), "/nonexistent/scene.tif"),
        (("bigearthnet", "/nonexistent"), "/nonexistent"),
        (("scene", "x.tif", "--labels", "Lava"), "unknown label 'Lava'"),
        (("scene", "x.tif", "--date", "yesterday"), "--date 'yesterday' is not a date"),
    ],
)
def test_bad_arguments_exit_2_before_loading_a_model(
    settings: Settings,
    extra: tuple[str, ...],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(cli_args(settings, *extra)) == 2
    assert message in capsys.readouterr().err
    assert not (settings.data_dir / "index").exists()


def test_models_never_mix(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    bigearthnet = str(SAMPLES_DIR / "bigearthnet")
    assert main(cli_args(settings, "bigearthnet", bigearthnet)) == 0
    other = cli_args(settings, "bigearthnet", bigearthnet, "--force")
    other[other.index("random:closp-rn")] = "random:geoclosp-rn"
    assert main(other) == 2
    assert "vectors of two models must never mix" in capsys.readouterr().err
    assert _count(settings) == 12


def test_unreachable_weights_fall_back_to_the_demo_model(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    args = cli_args(settings, "bigearthnet", str(SAMPLES_DIR / "bigearthnet"), "--limit", "2")
    args[args.index("random:closp-rn")] = "DarthReca/CLOSP-RN"
    assert main(args) == 0
    assert "DEMO" in capsys.readouterr().err


def test_products_as_they_ship_are_indexed_with_their_dates(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``ingest scene PRODUCT.zip`` and the fresh L2A item with the +1000 offset: every chip in,
    dated from the product, nothing flagged out of range."""
    from tests.data import products

    product = products.write_s2_product(tmp_path / "dl", "L2A", zipped=True)
    item = products.write_spain_l2a_item(tmp_path / "spain")
    assert main(cli_args(settings, "scene", str(product))) == 0
    assert main(cli_args(settings, "stac", str(item))) == 0
    out = capsys.readouterr().out
    assert "indexed 4 chips" in out and "indexed 25 chips" in out
    assert "physical range" not in out and "no-data share" not in out
    store = open_store(settings, "closp-rn:random-seed0")
    try:
        records = store.browse(filters=None, limit=100).records
    finally:
        store.close()
    dated = {r.scene_id: r.acquired.isoformat() for r in records if r.acquired}
    assert dated[products.product_name("L2A", "05.10")] == "2023-01-12T15:59:41.024000+00:00"
    assert len(records) == 29
