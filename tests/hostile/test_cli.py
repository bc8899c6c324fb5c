"""``python -m ingest`` on a mix of good and bad inputs, in process, with a real Edge index.

One CLI run per input kind (the model loads once per run): the bad inputs of a run each get
their own test (their own ``FAILED`` line), and every test checks the run as a whole: exit
status 1, no traceback anywhere, the good file's chip in the index, and the baseline chips
that were there before byte-for-byte unchanged.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from affine import Affine

from closp_core.settings import Settings
from closp_core.store import ChipRecord, open_store
from ingest.cli import EXIT_BUG, build_parser, main
from tests.hostile.harness import (
    BEN_S1,
    baseline_records,
    copy_patch,
    index_fingerprint,
    rotation,
    write_stack,
)
from tests.hostile.scene_inputs import SPAIN_TRANSFORM
from tests.ingest.conftest import cli_args

MODEL_ID = "closp-rn:random-seed0"  # what --model random:closp-rn loads


@dataclasses.dataclass(frozen=True)
class CliRun:
    """One ``main(argv)`` call: exit status, output, the chips it added, and whether the
    index is otherwise unchanged."""

    code: int
    out: str
    err: str
    added: dict[str, ChipRecord]
    rest_unchanged: bool

    def failed_line(self, name: str) -> str:
        lines = [line for line in self.out.splitlines() if line.startswith("FAILED ")]
        hits = [line for line in lines if name in line]
        assert len(hits) == 1, f"no single FAILED line for {name!r}: {lines}"
        return hits[0]


def _settings(folder: Path) -> Settings:
    """Settings of a data folder whose index already holds the baseline chips."""
    settings = Settings(model="random:closp-rn", data_dir=folder / "data", batch_size=16)
    store = open_store(settings, MODEL_ID)
    try:
        store.upsert(baseline_records())
    finally:
        store.close()
    return settings


def _records(settings: Settings) -> dict[str, ChipRecord]:
    store = open_store(settings, MODEL_ID)
    try:
        return {r.key: r for r in store.iter_records()}
    finally:
        store.close()


class _Records:
    """A fixed set of records, for ``index_fingerprint``."""

    def __init__(self, records: list[ChipRecord]) -> None:
        self.records = records

    def iter_records(self) -> list[ChipRecord]:
        return self.records


def run_cli(settings: Settings, *argv: str) -> CliRun:
    before = _records(settings)
    fingerprint = index_fingerprint(_Records(list(before.values())))  # type: ignore[arg-type]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(cli_args(settings, *argv, "--no-optimize"))
    after = _records(settings)
    added = {k: r for k, r in after.items() if k not in before}
    rest = [r for k, r in after.items() if k in before]
    unchanged = index_fingerprint(_Records(rest)) == fingerprint  # type: ignore[arg-type]
    return CliRun(code, out.getvalue(), err.getvalue(), added, unchanged)


def _assert_run_went_on(run: CliRun, good_keys: set[str]) -> None:
    assert run.code == 1, run.err
    assert "Traceback" not in run.out + run.err
    assert good_keys <= set(run.added), (good_keys, list(run.added))
    assert run.rest_unchanged
    assert re.search(r"\d+ input\(s\) failed; the others were indexed", run.out)


# --- run 1: `scene` with one good file, two odd ones and many bad ones --------------------
def _fifo(folder: Path) -> Path:
    os.mkfifo(folder / "pipe.tif")
    return folder / "pipe.tif"


def _raw_vrt(folder: Path) -> Path:
    (folder / "raw.bin").write_bytes(bytes(120 * 120 * 4))
    band = (
        '<VRTRasterBand dataType="Float32" band="{}" subClass="VRTRawRasterBand">'
        '<SourceFilename relativeToVRT="1">raw.bin</SourceFilename></VRTRasterBand>'
    )
    (folder / "raw.vrt").write_text(
        '<VRTDataset rasterXSize="120" rasterYSize="120">'
        + band.format(1)
        + band.format(2)
        + "</VRTDataset>"
    )
    return folder / "raw.vrt"


def _text(folder: Path) -> Path:
    (folder / "notes.tif").write_text("field notes, not pixels")
    return folder / "notes.tif"


SCENE_BAD: dict[str, tuple[str, Callable[[Path], Path], str]] = {
    # name: (verdict, make(folder) -> path, regex of the FAILED line's reason)
    "fifo": ("error", _fifo, r"pipe\.tif: not a regular file or folder \(a FIFO"),
    "missing": ("error", lambda f: f / "gone.tif", r"gone\.tif: no such file or folder"),
    "text": ("error", _text, r"notes\.tif: not a readable raster"),
    "utm_in_wgs84": (
        "error",
        lambda f: write_stack(f / "utm.tif", transform=Affine(10, 0, 435720, 0, -10, 4179480)),
        r"utm\.tif: coordinates .* in EPSG:4326 fall outside the globe",
    ),
    "date_9999": (
        "error",
        lambda f: write_stack(f / "d9999.tif", tags={"ACQUISITION_DATE": "9999-01-01"}),
        r"d9999\.tif \(date tag\): acquisition time 9999-01-01.* outside the Sentinel era",
    ),
    "vrt_raw": ("refused", _raw_vrt, r"raw\.vrt: refused: a VRTRawRasterBand reads raw bytes"),
    "complex": (
        "refused",
        lambda f: write_stack(f / "slc.tif", dtype="complex64"),
        r"slc\.tif: band VV holds complex pixels \(complex64\)",
    ),
    "linear_as_db": (
        "refused",
        lambda f: write_stack(f / "lin.tif", values=lambda a: 10 ** (a / 10)),
        r"lin\.tif: read as dB but .* pass --linear .* or pass --units-check off",
    ),
}
SCENE_ODD: dict[str, tuple[Callable[[Path], Path], str]] = {
    "rotated": (
        lambda f: write_stack(f / "rotated.tif", transform=rotation(25, SPAIN_TRANSFORM)),
        r"flagged 1 chip: rotated or skewed pixel grid",
    ),
    "control_chars_in_name": (
        lambda f: write_stack(f / "evil\x1b[2J\u202e.tif"),
        r"flagged 1 chip: scene id made safe for the key",
    ),
}


@pytest.fixture(scope="module")
def scene_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    folder = tmp_path_factory.mktemp("cli-scene")
    settings = _settings(folder)
    inputs = folder / "in"
    inputs.mkdir()
    bad = [make(inputs) for _, make, _ in SCENE_BAD.values()]
    odd = [make(inputs) for make, _ in SCENE_ODD.values()]
    good = write_stack(inputs / "good.tif")
    return run_cli(settings, "scene", *map(str, [*bad, *odd, good]))


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.hostile(v[0])) for n, v in SCENE_BAD.items()]
)
def test_scene_cli_names_each_bad_file_and_goes_on(name: str, scene_run: CliRun) -> None:
    _assert_run_went_on(scene_run, {"scene/good/s1/r0_c0"})
    pattern = SCENE_BAD[name][2]
    line = scene_run.failed_line(pattern.split(":")[0].replace("\\", ""))
    assert re.search(pattern, line), line


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.hostile("flagged")) for n in SCENE_ODD]
)
def test_scene_cli_indexes_and_flags_odd_files(name: str, scene_run: CliRun) -> None:
    _assert_run_went_on(scene_run, {"scene/good/s1/r0_c0"})
    assert re.search(SCENE_ODD[name][1], scene_run.out, re.MULTILINE), scene_run.out
    assert len(scene_run.added) == 3  # good, rotated, the control-character name
    assert all(k.isprintable() and ".." not in k for k in scene_run.added)
    assert "\x1b" not in scene_run.out + scene_run.err  # names are printed escaped


# --- run 2: `scene --linear` on a file that is already dB ----------------------------------
@pytest.mark.hostile("refused")
def test_linear_flag_on_db_data_is_refused(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    good = write_stack(tmp_path / "good_lin.tif", values=lambda a: 10 ** (a / 10))
    db = write_stack(tmp_path / "db.tif")
    run = run_cli(settings, "scene", str(db), str(good), "--linear")
    _assert_run_went_on(run, {"scene/good_lin/s1/r0_c0"})
    line = run.failed_line("db.tif")
    assert re.search(r"read as linear power .* already in dB; drop --linear", line), line


# --- run 3: `bigearthnet` with a good patch and bad ones -----------------------------------
BEN_BAD: dict[str, tuple[str, Callable[[dict[str, object]], None], str]] = {
    "labels_string": (
        "error",
        lambda m: m.update(labels="Pastures"),
        r"labels must be a list of label names, got one string 'Pastures'",
    ),
    "labels_numbers": ("error", lambda m: m.update(labels=[1, 2]), r"label 0 is int 1"),
    "date_1999": (
        "error",
        lambda m: m.update(acquisition_time="1999-12-31T23:59:59"),
        r"1999-12-31T23:59:59\+00:00 is outside the Sentinel era",
    ),
    "coordinates_elsewhere": (
        "error",
        lambda m: m.update(coordinates={"ulx": 0, "uly": 1200, "lrx": 1200, "lry": 0}),
        r"its coordinates place the patch at .* km from its raster grid",
    ),
}


@pytest.fixture(scope="module")
def ben_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    folder = tmp_path_factory.mktemp("cli-ben")
    settings = _settings(folder)
    root = folder / "ben"
    for name, (_, change, _) in BEN_BAD.items():
        patch = copy_patch(BEN_S1, root, f"0bad_{name}")
        meta_file = next(patch.glob("*_labels_metadata.json"))
        meta = json.loads(meta_file.read_text())
        change(meta)
        meta_file.write_text(json.dumps(meta))
    copy_patch(BEN_S1, root)
    return run_cli(settings, "bigearthnet", str(root))


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.hostile(v[0])) for n, v in BEN_BAD.items()]
)
def test_bigearthnet_cli_names_each_bad_patch_and_goes_on(name: str, ben_run: CliRun) -> None:
    _assert_run_went_on(ben_run, {f"bigearthnet/{BEN_S1.name}"})
    assert set(ben_run.added) == {f"bigearthnet/{BEN_S1.name}"}
    line = ben_run.failed_line(f"0bad_{name}")
    assert re.search(BEN_BAD[name][2], line), line


# --- nothing could start: exit 2 before any model loads ------------------------------------
@pytest.mark.hostile("error")
def test_only_unreadable_paths_exit_2(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    run = run_cli(settings, "scene", "/dev/null", str(tmp_path / "nowhere.tif"))
    assert run.code == 2 and "Traceback" not in run.out + run.err
    assert re.search(r"error: /dev/null: not a regular file .*nowhere\.tif: no such file", run.err)
    assert not run.added and run.rest_unchanged and "model:" not in run.err


@pytest.mark.hostile("error")
def test_a_date_before_sentinel_exits_2(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    good = write_stack(tmp_path / "good.tif")
    run = run_cli(settings, "scene", str(good), "--date", "1900-01-01")
    assert run.code == 2 and "Traceback" not in run.out + run.err
    assert "--date 1900-01-01: acquisition time 1900-01-01T00:00:00+00:00 is outside" in run.err
    assert not run.added and run.rest_unchanged


# --- our own bug: exit 3, a short message, the traceback to report -------------------------
def test_a_bug_exits_3_with_a_hint_and_the_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a bad input: a fault injected into the reader stands in for a bug of ours."""

    def broken(self: object) -> list[str]:
        raise RuntimeError("injected fault")

    monkeypatch.setattr("closp_core.data.scene.source.SceneSource.units", broken)
    settings = _settings(tmp_path)
    run = run_cli(settings, "scene", str(write_stack(tmp_path / "good.tif")))
    assert run.code == EXIT_BUG == 3
    assert "internal error: RuntimeError: injected fault" in run.err
    assert "This is a bug in closp-search, not a problem with your input" in run.err
    assert "Traceback" in run.err and not run.added and run.rest_unchanged


def test_help_documents_the_units_options_and_exit_status(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["scene", "--help"])
    scene_help = capsys.readouterr().out
    for option in ("--units-check {on,off}", "--linear", "--db", "S1 is linear power"):
        assert option in scene_help
    assert "3 a bug in this program" in build_parser().format_help()
