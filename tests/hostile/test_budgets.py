"""Budgets on local files (``Settings.max_file_pixels``, ``max_scene_chips``,
``max_job_chips``): a file whose header claims more pixels or chips than allowed is refused
before a pixel is read, in well under a second, and indexes nothing; files that hold only
zeros or nothing at all are refused with what they are. Before these budgets the 2 MB bomb
started a job of 695,556 chips."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from closp_core.data import DataError, SceneOptions, SceneSource
from closp_core.settings import Settings
from ingest.pipeline import JOB_BUDGET
from tests.data.conftest import read_all
from tests.hostile.bomb_inputs import all_zero, pixel_bomb
from tests.hostile.harness import Bench, write_stack
from tests.hostile.scene_inputs import Bad, assert_fails_alone

PIXELS = r"refused: its header claims .* more than the 2,000,000,000 one file may hold " \
    r"\(setting max_file_pixels, CLOSP_MAX_FILE_PIXELS\)"  # fmt: skip
CHIPS = r"refused: its grid holds .* chips, more than the .* \(setting max_scene_chips"
EMPTY = r"every sampled pixel is 0 in every band: an empty"
OFF = {"max_file_pixels": None, "max_scene_chips": None}


def band_folder(big: str) -> Callable[[Path], Path]:
    """A per-band S1 folder: VV a real crop, VH the 100,000 px bomb (or the reverse)."""

    def make(tmp: Path) -> Path:
        folder = tmp / "bands"
        folder.mkdir()
        for band in ("VV", "VH"):
            if band == big:
                pixel_bomb(folder / f"x_{band}.tif", "s1")
            else:
                path = write_stack(folder / f"x_{band}.tif")
                path.write_bytes(path.read_bytes())
        return folder

    return make


def zero_byte_band(tmp: Path) -> Path:
    folder = tmp / "half"
    write_stack(folder / "x_VV.tif")
    (folder / "x_VH.tif").write_bytes(b"")
    return folder


BAD: dict[str, tuple[str, Bad]] = {
    "bomb_s2_13_bands": ("refused", Bad(lambda t: pixel_bomb(t / "bomb.tif"), PIXELS)),
    "bomb_s1": ("refused", Bad(lambda t: pixel_bomb(t / "bomb1.tif", "s1"), PIXELS)),
    "bomb_one_real_tile": (
        "refused",
        Bad(lambda t: pixel_bomb(t / "tile.tif", "s2", write=True), PIXELS),
    ),
    "bomb_as_one_band_file": ("refused", Bad(band_folder("VH"), r"x_VH\.tif: " + PIXELS)),
    "bomb_as_reference_band": ("refused", Bad(band_folder("VV"), r"x_VV\.tif: " + PIXELS)),
    "chips_over_scene_budget": (
        "refused",
        Bad(lambda t: pixel_bomb(t / "wide.tif", "s1", side=20_000), CHIPS),
    ),
    "scene_budget_lowered": (
        "refused",
        Bad(
            lambda t: all_zero(t / "four.tif", side=240),
            r"4 chips, more than the 3 ",
            options={"max_scene_chips": 3},
        ),
    ),
    "pixel_budget_lowered": (
        "refused",
        Bad(
            lambda t: all_zero(t / "big.tif"),
            r"\(115,200 pixels\), more than the 50,000",
            options={"max_file_pixels": 50_000},
        ),
    ),
    "all_zero_db": ("error", Bad(lambda t: all_zero(t / "zero.tif"), EMPTY)),
    "all_zero_linear": (
        "error",
        Bad(lambda t: all_zero(t / "zlin.tif"), EMPTY, options={"s1_linear": True}, good="linear"),
    ),
    "all_zero_units_check_off": (
        "error",
        Bad(lambda t: all_zero(t / "zoff.tif"), EMPTY, options={"units_check": False}),
    ),
    "bomb_sparse_budgets_off": (
        "error",
        Bad(lambda t: pixel_bomb(t / "sparse.tif", "s1"), EMPTY, options=OFF),
    ),
    "zero_byte_band_file": ("error", Bad(zero_byte_band, r"x_VH\.tif: is empty \(0 bytes\)")),
}


@pytest.mark.parametrize(
    "name",
    [pytest.param(name, marks=pytest.mark.hostile(verdict)) for name, (verdict, _) in BAD.items()],
)
def test_a_file_over_budget_or_empty_fails_alone(
    name: str, bench: Bench, goods: dict[str, Path], tmp_path: Path
) -> None:
    assert_fails_alone(bench, goods, BAD[name][1], tmp_path)


@pytest.mark.hostile("refused")
def test_the_bomb_is_refused_in_under_a_second(tmp_path: Path) -> None:
    bomb = pixel_bomb(tmp_path / "bomb.tif")
    assert bomb.stat().st_size < 2 * 2**20
    start = time.process_time()  # CPU time: other processes on the machine do not count
    with pytest.raises(DataError, match=PIXELS):
        read_all(SceneSource(bomb))
    assert time.process_time() - start < 1.0


@pytest.mark.hostile("refused")
def test_a_job_over_its_chip_budget_stops_before_embedding(
    bench: Bench, goods: dict[str, Path], tmp_path: Path
) -> None:
    four = write_stack(tmp_path / "more.tif")  # 1 chip
    ingestor = bench.ingestor
    bench.ingestor = dataclasses.replace(ingestor, max_chips=1)
    try:
        outcome = bench.run(SceneSource([four, goods["db"]]))
    finally:
        bench.ingestor = ingestor
    reason = outcome.summary.failed[JOB_BUDGET]
    assert re.search(r"announced 2 chips, more than the 1 one job may add \(setting "
                     r"max_job_chips, CLOSP_MAX_JOB_CHIPS\); kept the 0 chips", reason)  # fmt: skip
    assert outcome.added == {} and outcome.rest_unchanged
    assert f"FAILED {JOB_BUDGET}: stopped" in outcome.summary.report()


def test_budgets_are_settings_with_defaults_and_refuse_nonsense() -> None:
    settings = Settings.load({"CLOSP_MAX_FILE_PIXELS": "5000"})
    assert settings.max_file_pixels == 5000
    assert SceneOptions().with_budgets(settings).max_file_pixels == 5000
    defaults = Settings()
    assert SceneOptions().max_file_pixels == defaults.max_file_pixels == 2_000_000_000
    assert SceneOptions().max_scene_chips == defaults.max_scene_chips == 20_000
    from closp_core.errors import ConfigError

    with pytest.raises(ConfigError, match="max_scene_chips must be >= 1, got 0"):
        Settings.load({"CLOSP_MAX_SCENE_CHIPS": "0"})


@pytest.mark.hostile("refused")
def test_ingest_scene_refuses_the_bomb_and_indexes_the_good_file(tmp_path: Path) -> None:
    from tests.hostile.test_cli import _settings, run_cli

    settings = _settings(tmp_path)
    bomb = pixel_bomb(tmp_path / "bomb.tif")
    good = write_stack(tmp_path / "good.tif")
    run = run_cli(settings, "scene", str(bomb), str(good))
    assert run.code == 1 and "Traceback" not in run.out + run.err
    assert re.search(r"FAILED .*bomb\.tif: .*" + PIXELS, run.out), run.out
    assert set(run.added) == {"scene/good/s1/r0_c0"} and run.rest_unchanged


def test_readme_and_config_agree_on_the_upload_limit() -> None:
    import tomllib

    root = Path(__file__).resolve().parents[2]
    config = tomllib.loads((root / ".streamlit" / "config.toml").read_text())
    limit = Settings().upload_max_mb
    assert config["server"]["maxUploadSize"] == limit
    readme = (root / "README.md").read_text()
    assert f"uploads limited to\n{limit} MB per file" in readme
    assert "10 MB, static" not in readme
