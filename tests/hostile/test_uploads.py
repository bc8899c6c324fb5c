"""Uploads, import folders and the app's job state (``ui/imports.py``, ``ingest/jobs.py``), with
real files and a real index. Before: two different uploads both named ``scene.tif`` shared
their chip keys (the second added nothing), the same file twice in one upload was indexed
twice, a link inside an allowed folder led out of it, a 1.46 MB file was "1 MB, more than the
1 MB allowed", and a restarted app said nothing of the job it lost."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from closp_core.data import DataError, SceneSource
from closp_core.settings import Settings
from ingest.jobs import INTERRUPTED, JobRunner
from tests.data.conftest import read_all
from tests.hostile.harness import Bench, write_stack
from ui.imports import ImportRefusedError, allowed_import_path, save_uploads

ROOT = Path(__file__).resolve().parents[2]


def shifted(a: np.ndarray) -> np.ndarray:
    return a - 1.0  # another image of the same place: other bytes, same shape


def test_two_different_uploads_named_alike_are_both_indexed(bench: Bench, tmp_path: Path) -> None:
    first = write_stack(tmp_path / "a" / "scene.tif").read_bytes()
    second = write_stack(tmp_path / "b" / "scene.tif", values=shifted).read_bytes()
    saved = [save_uploads([("scene.tif", data)], tmp_path / "data", 10) for data in (first, second)]
    assert saved[0].folder != saved[1].folder
    outcomes = [bench.run(SceneSource(s.folder)) for s in saved]
    keys = [set(o.added) for o in outcomes]
    assert all(len(k) == 1 for k in keys) and keys[0] != keys[1], keys
    assert all(o.summary.indexed == 1 and o.rest_unchanged for o in outcomes)
    again = save_uploads([("renamed.tif", first)], tmp_path / "data", 10)  # same content
    assert again.folder == saved[0].folder  # its identity: the same chips, not new ones


@pytest.mark.parametrize(
    "names",
    [
        pytest.param(("a.tif", "b.tif"), marks=pytest.mark.hostile("flagged"), id="two_names"),
        pytest.param(("x.tif",) * 3, marks=pytest.mark.hostile("flagged"), id="same_name_3x"),
        pytest.param(("s_VV.tif", "t_VV.tif"), marks=pytest.mark.hostile("flagged"), id="band"),
    ],
)
def test_the_same_content_twice_in_one_upload_is_indexed_once_and_said(
    names: tuple[str, ...], bench: Bench, tmp_path: Path
) -> None:
    data = write_stack(tmp_path / "src.tif").read_bytes()
    saved = save_uploads([(n, data) for n in names], tmp_path / "data", 10)
    assert len(saved.files) == 1 and len(saved.duplicates) == len(names) - 1
    assert saved.notes()[0] == (
        f"left out {names[1]}: the same content as {names[0]} in this upload (indexed once)"
    )
    if "VV" not in names[0]:
        outcome = bench.run(SceneSource(saved.folder))
        assert outcome.summary.indexed == 1 == len(outcome.added)


@pytest.mark.parametrize(
    ("size", "text"),
    [
        pytest.param(1_530_000, "1.46 MB (1,530,000 bytes)", id="1.46_mb"),
        pytest.param(2**20 + 1, "1.01 MB (1,048,577 bytes)", id="one_byte_over"),
    ],
)
@pytest.mark.hostile("refused")
def test_an_upload_over_the_limit_says_its_true_size(size: int, text: str, tmp_path: Path) -> None:
    message = rf"'big\.tif' is {re.escape(text)}, more than the 1 MB allowed per file; upload a"
    with pytest.raises(ImportRefusedError, match=message) as caught:
        save_uploads([("big.tif", bytes(size))], tmp_path, 1)
    assert "--" not in str(caught.value)
    assert not (tmp_path / "imports").exists()


@pytest.mark.hostile("error")
def test_an_empty_uploaded_band_file_is_empty_not_missing_bands(
    bench: Bench, tmp_path: Path
) -> None:
    vv = write_stack(tmp_path / "src_VV.tif").read_bytes()
    saved = save_uploads([("s_VV.tif", vv), ("s_VH.tif", b"")], tmp_path / "data", 10)
    outcome = bench.run(SceneSource(saved.folder))
    (reason,) = outcome.summary.failed.values()
    assert "s_VH.tif: is empty (0 bytes)" in reason and "missing" not in reason
    assert not outcome.added and outcome.rest_unchanged


def _allowed(tmp_path: Path) -> tuple[Path, Path, Settings]:
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    write_stack(outside / "secret.tif")
    write_stack(allowed / "scene" / "good.tif")
    return allowed, outside, Settings(import_dirs=str(allowed))


def _file_link(allowed: Path, outside: Path) -> Path:
    (allowed / "scene" / "leak.tif").symlink_to(outside / "secret.tif")
    return allowed / "scene"


def _relative_link(allowed: Path, outside: Path) -> Path:
    (allowed / "scene" / "rel.tif").symlink_to(Path("../../outside/secret.tif"))
    return allowed / "scene"


def _folder_link(allowed: Path, outside: Path) -> Path:
    (allowed / "scene" / "more").symlink_to(outside)
    return allowed / "scene"


def _chain(allowed: Path, outside: Path) -> Path:
    (allowed / "hop.tif").symlink_to(outside / "secret.tif")
    (allowed / "scene" / "chain.tif").symlink_to(allowed / "hop.tif")
    return allowed / "scene"


def _deep_link(allowed: Path, outside: Path) -> Path:
    (allowed / "scene" / "a" / "b").mkdir(parents=True)
    (allowed / "scene" / "a" / "b" / "x.tif").symlink_to(outside / "secret.tif")
    return allowed / "scene"


LINKS = {
    "file_link": _file_link,
    "relative_link": _relative_link,
    "folder_link": _folder_link,
    "link_chain": _chain,
    "deep_link": _deep_link,
}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.hostile("refused")) for n in LINKS]
)
def test_a_link_out_of_an_allowed_folder_is_refused(name: str, tmp_path: Path) -> None:
    allowed, outside, settings = _allowed(tmp_path)
    folder = LINKS[name](allowed, outside)
    with pytest.raises(ImportRefusedError, match=r"holds 1 link\(s\) to files outside the "
                       r"folders the app may read .* -> .*outside"):  # fmt: skip
        allowed_import_path(str(folder), settings)


@pytest.mark.hostile("refused")
def test_a_link_made_after_the_check_is_refused_when_read(bench: Bench, tmp_path: Path) -> None:
    allowed, outside, settings = _allowed(tmp_path)
    folder = allowed_import_path(str(allowed / "scene"), settings)
    _file_link(allowed, outside)  # between the page's check and the job's read
    source = SceneSource(folder, allowed_roots=settings.import_paths)
    with pytest.raises(DataError, match=r"leak\.tif: refused: its real path .*secret\.tif lies "
                       r"outside the folders allowed"):  # fmt: skip
        read_all(SceneSource(folder / "leak.tif", allowed_roots=settings.import_paths))
    outcome = bench.run(source)
    assert "refused: its real path" in outcome.failed_for("leak.tif")
    assert set(outcome.added) == {"scene/good/s1/r0_c0"} and outcome.rest_unchanged


def test_links_that_stay_inside_are_read(tmp_path: Path) -> None:
    allowed, _, settings = _allowed(tmp_path)
    (allowed / "scene" / "alias.tif").symlink_to(allowed / "scene" / "good.tif")
    folder = allowed_import_path(str(allowed / "scene"), settings)
    chips = read_all(SceneSource(folder, allowed_roots=settings.import_paths))
    assert len(chips) == 2


KILLED_JOB = textwrap.dedent(
    """
    import sys, threading, time
    from pathlib import Path
    from ingest.job_link import ThreadWorker
    from ingest.job_process import JobSpec
    from ingest.jobs import JobRunner

    def child(conn, cancel_fd):  # says 7 chips are done (recorded), then works on
        def work():
            conn.recv()
            conn.send(("progress", 7, 25))
            time.sleep(600)
        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        return ThreadWorker(thread)

    runner = JobRunner(Path(sys.argv[1]), launcher=child)
    runner.start(JobSpec("2 uploaded file(s)", (), None, "m"), store=None)
    while runner.status().done < 7:
        time.sleep(0.01)
    print("running", flush=True)
    time.sleep(600)
    """
)


@pytest.mark.hostile("flagged")
def test_after_a_sigkill_mid_job_the_restarted_app_says_what_became_of_it(tmp_path: Path) -> None:
    state = tmp_path / "app-job.json"
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [sys.executable, "-c", KILLED_JOB, str(state)], stdout=subprocess.PIPE, text=True, env=env
    ) as proc:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "running"
        proc.send_signal(signal.SIGKILL)
    status = JobRunner(state).status()
    assert status.state == INTERRUPTED and status.title == "2 uploaded file(s)"
    assert "The app stopped while this job was running" in status.report
    assert "7 chips had been added and are in the index" in status.report
    assert "add the same imagery again" in status.report and "--" not in status.report
    assert JobRunner(state).status().state == INTERRUPTED  # until a new job starts


@pytest.mark.parametrize("name", ["notes.txt", "scene.vrt", "x.tif.exe", "archive.tar"])
@pytest.mark.hostile("refused")
def test_a_file_the_uploader_does_not_take_is_refused_by_name(name: str, tmp_path: Path) -> None:
    with pytest.raises(ImportRefusedError, match=r"is not a file this page takes: upload GeoTIFF"):
        save_uploads([(name, b"data")], tmp_path, 1)
    assert not (tmp_path / "imports").exists()


def test_jp2_and_zip_uploads_are_taken_and_named_by_content(tmp_path: Path) -> None:
    saved = save_uploads([("T31TCF_20160412T105022_B04.jp2", b"a"), ("Valencia flood.zip", b"b"),
                          ("Valencia flood.tif", b"c")], tmp_path, 1)  # fmt: skip
    assert saved.names["T31TCF_20160412T105022_B04.jp2"] == "T31TCF_20160412T105022_B04.jp2"
    assert sorted(saved.names.values())[1:] == ["Valencia flood.tif", "Valencia flood.zip"]
    again = save_uploads([("renamed.tif", b"c"), ("T31TCF_20160412T105022_B04.jp2", b"a"),
                          ("other.zip", b"b")], tmp_path, 1)  # fmt: skip
    assert again.folder == saved.folder and sorted(again.names.values())[1:] == [
        "other.zip", "renamed.tif"]  # fmt: skip


def test_an_upload_named_with_markup_keeps_its_name_shown_escaped(tmp_path: Path) -> None:
    """The name people gave a file names its scene (``scene_id``) as given; keys come from
    the saved, sanitised file; every place that shows the name escapes it."""
    from closp_core.data.chip import chip_record
    from ui.maps import popup_html

    data = write_stack(tmp_path / "src.tif").read_bytes()
    name = "<img src=x onerror=alert(1)> flood.tif"
    saved = save_uploads([(name, data)], tmp_path / "data", 10)
    chips = read_all(SceneSource(saved.folder, names=saved.names))
    assert chips and {c.scene_id for c in chips} == {"<img src=x onerror=alert(1)> flood"}
    assert all("<" not in c.key and c.key.startswith("scene/_img_src_x_") for c in chips)
    shown = popup_html(chip_record(chips[0], np.ones(384, np.float32)))
    assert "scene: &lt;img src=x onerror=alert(1)&gt; flood" in shown and "<img" not in shown
