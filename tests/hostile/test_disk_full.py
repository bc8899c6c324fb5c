"""A full disk under ``python -m ingest`` and the app, on a small tmpfs the test mounts
(skipped with the reason where it cannot). Before: ingest onto a full disk exited 3 "this is a
bug" or died with SIGBUS, and afterwards ``ingest info`` and the app died with SIGBUS even with
10 MB freed (Qdrant Edge maps its write-ahead log, see ``closp_core/store/space.py``)."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from closp_core.settings import Settings
from closp_core.store import ChipRecord, open_store
from closp_core.store.edge import EdgeStore
from ingest.cli import main
from tests.hostile.harness import write_stack
from tests.hostile.test_cli import MODEL_ID, _settings, run_cli
from tests.ingest.conftest import cli_args
from tests.small_disk import fill, free_space, small_disk

ROOT = Path(__file__).resolve().parents[2]
DISK_MB = 400


@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("CLOSP_MIN_FREE_MB", "1")
    with small_disk(tmp_path / "disk", DISK_MB) as mounted:
        yield mounted


def _inputs(folder: Path, n: int) -> list[str]:
    return [str(write_stack(folder / f"f{i:02d}.tif")) for i in range(n)]


def _info(settings: Settings) -> subprocess.CompletedProcess[str]:
    """``python -m ingest info`` in a child (a SIGBUS there is a signal, not a dead test run)."""
    argv = [sys.executable, "-m", "ingest", "info", "--data-dir", str(settings.data_dir)]
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)


@pytest.mark.hostile("refused")
def test_ingest_refuses_to_start_below_the_free_space_margin(
    disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(disk)
    monkeypatch.setenv("CLOSP_MIN_FREE_MB", str(DISK_MB))
    run = run_cli(settings, "scene", *_inputs(tmp_path / "in", 1))
    assert run.code == 2 and "Traceback" not in run.out + run.err
    message = r"disk full: [\d.]+ MB free .* adding imagery \(setting min_free_mb\) needs at least"
    assert re.search(message + r" 400\.0 MB; nothing was written", run.err), run.err
    assert not run.added and run.rest_unchanged


@pytest.mark.hostile("error")
def test_a_disk_that_fills_mid_run_stops_cleanly_and_the_index_comes_back(
    disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(disk)
    inputs = _inputs(tmp_path / "in", 48)  # 48 one-chip files, batches of 16
    upsert = EdgeStore.upsert
    calls = [0]

    def filling(self: EdgeStore, records: Sequence[ChipRecord], batch_size: int = 256) -> int:
        calls[0] += 1
        if calls[0] == 2:  # another writer fills the disk after the first acknowledged batch
            fill(disk)
        return upsert(self, records, batch_size=batch_size)

    monkeypatch.setattr(EdgeStore, "upsert", filling)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(cli_args(settings, "scene", *inputs, "--no-optimize"))
    assert code == 1 and "Traceback" not in out.getvalue() + err.getvalue(), err.getvalue()
    (line,) = [x for x in out.getvalue().splitlines() if x.startswith("FAILED disk full")]
    found = re.search(r"FAILED disk full: stopped; kept the (\d+) chips", line)
    assert found is not None, line
    kept = int(found[1])
    assert kept == 16 and "free space, then run the same input again" in line
    assert "disk full" in _info(settings).stderr  # refused while full: no SIGBUS
    free_space(disk)
    info = _info(settings)
    assert info.returncode == 0 and f"chips     {kept + 6} " in info.stdout, info.stdout
    monkeypatch.setattr(EdgeStore, "upsert", upsert)
    rerun = run_cli(settings, "scene", *inputs)
    assert rerun.code == 0 and f"skipped {kept} chips already indexed" in rerun.out
    with open_store(settings, MODEL_ID) as store:
        assert store.count() == 48 + 6


@pytest.mark.hostile("error")
def test_ingest_info_on_a_full_disk_says_disk_full(disk: Path) -> None:
    settings = _settings(disk)
    fill(disk, 10 * 2**20)  # 10 MB free: the mapped log would take 2 x 32 MB
    info = _info(settings)
    assert info.returncode == 2, (info.returncode, info.stderr[-1000:])
    found = re.search(r"disk full: ([\d.]+) MB free on the disk of the index", info.stderr)
    assert found is not None and 9.0 <= float(found[1]) <= 11.0, info.stderr  # tmpfs rounds
    assert "Traceback" not in info.stderr


@pytest.mark.hostile("error")
def test_the_app_on_a_full_disk_says_disk_full(disk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.app.test_pages import new_app, texts

    monkeypatch.setenv("CLOSP_DATA_DIR", str(disk / "data"))
    monkeypatch.setenv("CLOSP_DEVICE", "cpu")
    fill(disk, 10 * 2**20)
    at = new_app().run()
    assert not at.exception
    assert any("Disk full: the disk of the index" in e.value for e in at.error), texts(at)
