"""Bad BigEarthNet patches next to a good one: each fails (or is flagged) alone, the run goes on.

Each case copies a real patch folder from ``samples/bigearthnet`` (renamed ``0bad_<case>`` so
it is read *before* the good patch), breaks one thing (metadata, labels, band files, values),
and ingests the folder holding both into a real Qdrant Edge store with baseline chips.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from closp_core.data import BigEarthNetSource, DataError, SceneOptions, Tally
from closp_core.store import ChipRecord
from tests.hostile.harness import BEN_S1, BEN_S2, Bench, copy_patch, rewrite_raster
from tests.hostile.scene_inputs import spiky

GOOD_KEY = f"bigearthnet/{BEN_S1.name}"
META = "_labels_metadata.json"


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    bench = Bench(tmp_path_factory.mktemp("ben-bench"))
    yield bench
    bench.close()


def _meta_file(folder: Path) -> Path:
    return folder / f"{folder.name}{META}"


def _edit_meta(change: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    """Rewrite the patch's metadata JSON with ``change(meta)`` (its return value if not None)."""

    def edit(folder: Path) -> None:
        path = _meta_file(folder)
        meta = json.loads(path.read_text())
        changed = change(meta)
        path.write_text(json.dumps(meta if changed is None else changed))

    return edit


def _replace_meta(content: bytes) -> Callable[[Path], None]:
    return lambda folder: _meta_file(folder).write_bytes(content)


def _meta_fifo(folder: Path) -> None:
    _meta_file(folder).unlink()
    os.mkfifo(_meta_file(folder))


def _meta_folder(folder: Path) -> None:
    _meta_file(folder).unlink()
    _meta_file(folder).mkdir()


def _band(suffix: str, values: Callable[[np.ndarray], np.ndarray], dtype: str | None = None) -> Any:
    def edit(folder: Path) -> None:
        for file in folder.glob(f"*{suffix}.tif"):
            rewrite_raster(file, values, dtype)

    return edit


def _band_fifo(folder: Path) -> None:
    (vh,) = folder.glob("*_VH.tif")
    vh.unlink()
    os.mkfifo(vh)


def _second_vv(folder: Path) -> None:
    (vv,) = folder.glob("*_VV.tif")
    (folder / vv.name.replace("_VV", "_vv")).write_bytes(vv.read_bytes())


def _coords(**changes: Any) -> Callable[[Path], None]:
    return _edit_meta(lambda m: m["coordinates"].update(changes))


@dataclasses.dataclass(frozen=True)
class Case:
    """``edit(folder)`` breaks a copy of the ``kind`` sample patch; the run must fail it with
    ``message`` or, when ``flag`` is set, index it and count ``flag`` (regex) instead."""

    edit: Callable[[Path], None]
    message: str = ""
    kind: str = "s1"
    flag: str = ""


CASES: dict[str, tuple[str, Case]] = {
    "labels_string": (
        "error",
        Case(_edit_meta(lambda m: m.update(labels="Pastures")), r"got one string 'Pastures'"),
    ),
    "labels_number": (
        "error",
        Case(_edit_meta(lambda m: m.update(labels=["Pastures", 7])), r"label 1 is int 7"),
    ),
    "labels_null_item": (
        "error",
        Case(_edit_meta(lambda m: m.update(labels=[None])), r"label 0 is NoneType None"),
    ),
    "labels_object": (
        "error",
        Case(_edit_meta(lambda m: m.update(labels={"a": 1})), r"got dict \{'a': 1\}"),
    ),
    "not_json": ("error", Case(_replace_meta(b'{"labels": ['), r"not readable JSON")),
    "json_array": ("error", Case(_replace_meta(b"[1, 2]"), r"expected a JSON object")),
    "json_nested_deep": (
        "error",
        Case(_replace_meta(b"[" * 200_000 + b"]" * 200_000), r"nested too deeply|not readable"),
    ),
    "json_huge": (
        "error",
        Case(_replace_meta(b'{"x": "' + b"a" * (2 << 20) + b'"}'), r"too large for patch"),
    ),
    "json_not_utf8": ("error", Case(_replace_meta(b'{"labels": ["\xff"]}'), r"not readable JSON")),
    "metadata_fifo": ("error", Case(_meta_fifo, r"is not a regular file \(a FIFO")),
    "metadata_folder": ("error", Case(_meta_folder, r"is a folder; point at a JSON metadata")),
    "two_metadata_files": (
        "error",
        Case(lambda f: (f / f"extra{META}").write_text("{}"), r"expected one \*_labels_meta"),
    ),
    "date_9999": (
        "error",
        Case(
            _edit_meta(lambda m: m.update(acquisition_time="9999-12-31T00:00:00")),
            r"acquisition time 9999-12-31T00:00:00\+00:00 is outside the Sentinel era",
        ),
    ),
    "date_2000": (
        "error",
        Case(_edit_meta(lambda m: m.update(acquisition_time="2000-01-01")), r"2000-01-01.*era"),
    ),
    "coords_50km_off": (
        "error",
        Case(_coords(ulx=454400, lrx=455600), r"place the patch at .*5.* km from its raster grid"),
    ),
    "coords_other_zone": (
        "error",
        Case(
            _edit_meta(lambda m: m.update(projection="EPSG:32635")),
            r"km from its raster grid .*do the projection and coordinates match",
        ),
    ),
    "projection_garbage": (
        "error",
        Case(_edit_meta(lambda m: m.update(projection="PROJCS[nonsense")), r"cannot understand"),
    ),
    "coords_not_numbers": ("error", Case(_coords(ulx="west"), r"coordinates need ulx, uly")),
    "coords_infinite": (
        "error",
        Case(_coords(lrx=float("inf")), r"(do not transform|cannot be transformed|outside)"),
    ),
    "two_files_for_vv": (
        "error",
        Case(_second_vv, r"two files for band VV: .*_VV\.tif, .*_vv\.tif"),
    ),
    "band_fifo": ("error", Case(_band_fifo, r"_VH\.tif: is not a regular file \(a FIFO")),
    "band_not_tiff": (
        "error",
        Case(lambda f: next(f.glob("*_VV.tif")).write_text("nope"), r"not a readable raster"),
    ),
    "s1_linear_values": (
        "refused",
        Case(_band("_V?", lambda a: 10 ** (a / 10)), r"read as dB but only 0\.0%"),
    ),
    "s1_complex": ("refused", Case(_band("_VV", lambda a: a, "complex64"), r"complex pixels")),
    "s2_reflectance": (
        "refused",
        Case(_band("_B??", lambda a: a / 10000, "float32"), "already divided by 10000", "s2"),
    ),
    "s2_saturated": (
        "refused",
        Case(_band("_B??", lambda a: np.full(a.shape, 65535.0), "uint16"), r"\[0, 30000\]", "s2"),
    ),
    "no_labels": (
        "flagged",
        Case(_edit_meta(lambda m: m.pop("labels") and None), flag=r"patch without labels"),
    ),
    "date_not_a_date": (
        "flagged",
        Case(_edit_meta(lambda m: m.update(acquisition_time=1e30)), flag=r"date field that is no"),
    ),
    "label_outside_space": (
        "flagged",
        Case(
            _edit_meta(lambda m: m.update(labels=["Pastures", "Moon cheese"])),
            flag=r"label outside the label space: 'Moon cheese'",
        ),
    ),
    "s1_few_bright_pixels": (
        "flagged",
        Case(_band("_VV", spiky(80.0)), flag=r"outside the physical range of S1 dB .*masked"),
    ),
    "markup_in_folder_name": ("flagged", Case(lambda f: None, flag=r"scene id made safe")),
}
NAMES = {"markup_in_folder_name": "0bad_<img src=x onerror=alert(1)>&..\x07"}


def _make(name: str, tmp_path: Path) -> tuple[Path, Path]:
    """(root holding the bad and the good patch, the bad patch folder)."""
    case = CASES[name][1]
    root = tmp_path / "ben"
    src = BEN_S1 if case.kind == "s1" else BEN_S2
    bad = copy_patch(src, root, NAMES.get(name, f"0bad_{name}"))
    case.edit(bad)
    copy_patch(BEN_S1, root)
    return root, bad


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.hostile(verdict))
        for name, (verdict, case) in CASES.items()
        if not case.flag
    ],
)
def test_a_bad_patch_fails_alone(name: str, bench: Bench, tmp_path: Path) -> None:
    root, bad = _make(name, tmp_path)
    message = CASES[name][1].message
    with pytest.raises(DataError, match=message):
        list(BigEarthNetSource(bad).read(str(bad), Tally()))

    outcome = bench.run(BigEarthNetSource(root))
    reason = outcome.failed_for(bad)
    assert re.search(message, reason) and "Traceback" not in reason, reason
    assert outcome.summary.indexed == 1 and GOOD_KEY in bench.keys
    assert set(outcome.added) <= {GOOD_KEY}
    assert outcome.rest_unchanged


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.hostile(verdict))
        for name, (verdict, case) in CASES.items()
        if case.flag
    ],
)
def test_an_odd_patch_is_indexed_and_flagged(name: str, bench: Bench, tmp_path: Path) -> None:
    root, bad = _make(name, tmp_path)
    outcome = bench.run(BigEarthNetSource(root))
    assert not outcome.summary.failed
    reasons = [r for r in outcome.summary.flagged if re.search(CASES[name][1].flag, r)]
    assert len(reasons) == 1 and outcome.summary.flagged[reasons[0]] == 1, reasons
    assert f"flagged 1 chip: {reasons[0]}" in outcome.summary.report().splitlines()
    chips: list[ChipRecord] = [r for k, r in outcome.added.items() if k != GOOD_KEY]
    assert len(chips) == 1 and GOOD_KEY in bench.keys
    assert outcome.summary.indexed == 2 and outcome.rest_unchanged
    (chip,) = chips
    assert chip.scene_id == bad.name  # the original name stays in the payload
    assert ".." not in chip.key and chip.key.isprintable() and "<" not in chip.key


def test_units_check_off_indexes_linear_values_as_they_are(tmp_path: Path) -> None:
    """Not a verdict: the override the refusal message offers does what it says."""
    _, bad = _make("s1_linear_values", tmp_path)
    tally = Tally()
    (chip,) = BigEarthNetSource(bad, SceneOptions(units_check=False)).read(str(bad), tally)
    assert float(chip.pixels.min()) >= 0 and float(chip.pixels.max()) < 40
