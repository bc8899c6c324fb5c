"""Hostile CrisisLandMark inputs: bad samples, bad shards, unsafe links, bad metadata, hub ids
that are not cached offline. Each case is made here from the tiny committed layout
(``tests/data/crisislandmark``); the index starts with one unrelated chip and must end with it
unchanged, plus exactly the good samples of the run."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from closp_core.bands import Sensor
from closp_core.data import CrisisLandMarkSource, DataError, Tally
from closp_core.data.crisislandmark.hub import HUB_DATASET
from closp_core.data.crisislandmark.sample import SampleOptions, SampleReader, locate_samples
from closp_core.embedder import Embedder
from closp_core.settings import Settings
from closp_core.store import ChipRecord, GeoPolygon, VectorStore, open_store
from ingest.cli import main
from ingest.pipeline import Ingestor, IngestSummary
from tests.data.crisislandmark import make_data as md
from tests.hostile.harness import index_fingerprint
from tests.ingest.conftest import cli_args

KEYS = sorted(k for k, _, _ in md.METADATA)
S2_SHARD = {"benv2s2_000", "cabuar_000"}
Mutate = Callable[[Path], None]


def case(*values: object, name: str, verdict: str = "error") -> Any:
    """One hostile input: a parametrised case with its id and verdict."""
    return pytest.param(*values, id=name, marks=pytest.mark.hostile(verdict))


def flagged(*values: object, name: str) -> Any:
    return case(*values, name=name, verdict="flagged")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return md.write_root(tmp_path / "clm")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(model="random:closp-rn", data_dir=tmp_path / "data", batch_size=4)


def _baseline(settings: Settings, model_id: str) -> VectorStore:
    """The store with one unrelated chip in it."""
    store = open_store(settings, model_id)
    ring = ((1.0, 1.0), (1.0, 0.0), (2.0, 0.0), (2.0, 1.0), (1.0, 1.0))
    vector = np.zeros(384, np.float32)
    vector[0] = 1.0
    store.upsert([ChipRecord("other/1", vector, Sensor.S2, "other", footprint=GeoPolygon(ring))])
    return store


@pytest.fixture
def store(settings: Settings, rn_embedder: Embedder) -> Iterator[VectorStore]:
    store = _baseline(settings, rn_embedder.model_id)
    yield store
    store.close()


def ingest(store: VectorStore, embedder: Embedder, root: Path, data_dir: Path) -> IngestSummary:
    ingestor = Ingestor(embedder, store, data_dir, batch_size=4, progress=False)
    return ingestor.run(CrisisLandMarkSource(root))


def check_index(store: VectorStore, before: tuple[int, str], keys: set[str]) -> None:
    """The run added exactly ``keys``; everything else is as ``before``."""
    records = [r for r in store.iter_records() if r.source.startswith("crisislandmark/")]
    assert {r.scene_id for r in records} == keys
    for source in {r.source for r in records}:
        store.delete_source(source)
    assert index_fingerprint(store) == before


def _shard(root: Path, key: str) -> Path:
    return root / ("shard_s2.h5" if key in S2_SHARD else "shard_s1.h5")


def _dataset(key: str, name: str, data: object = None, **kwargs: object) -> Mutate:
    """Replace (``data`` None and no kwargs: delete) dataset ``name`` of sample ``key``."""

    def mutate(root: Path) -> None:
        with h5py.File(_shard(root, key), "a") as shard:
            del shard[key][name]
            if data is not None or kwargs:
                shard[key].create_dataset(name, data=data, **kwargs)

    return mutate


def _attr(key: str, name: str, value: object) -> Mutate:
    def mutate(root: Path) -> None:
        with h5py.File(_shard(root, key), "a") as shard:
            if value is None:
                del shard[key].attrs[name]
            else:
                shard[key].attrs[name] = value

    return mutate


def _link(key: str, name: str | None, target: str) -> Mutate:
    """Make sample ``key`` (or its dataset ``name``) an external link to ``target``."""

    def mutate(root: Path) -> None:
        with h5py.File(_shard(root, key), "a") as shard:
            group = shard[key] if name else shard
            del group[name or key]
            group[name or key] = h5py.ExternalLink(target, "/image")

    return mutate


def _virtual_image(root: Path) -> None:
    outside = root.parent / "outside.h5"
    with h5py.File(outside, "w") as handle:
        handle["image"] = md.s2_image(3)
    layout = h5py.VirtualLayout(shape=(12, 120, 120), dtype="f4")
    layout[:] = h5py.VirtualSource(str(outside), "image", shape=(12, 120, 120))
    with h5py.File(_shard(root, "benv2s2_000"), "a") as shard:
        del shard["benv2s2_000"]["image"]
        shard["benv2s2_000"].create_virtual_dataset("image", layout)


def _corrupt_chunk(root: Path) -> None:
    with h5py.File(_shard(root, "cabuar_000"), "r") as shard:
        chunk = shard["cabuar_000"]["image"].id.get_chunk_info(0)
    with open(_shard(root, "cabuar_000"), "r+b") as handle:
        handle.seek(chunk.byte_offset + 16)
        handle.write(os.urandom(min(4096, chunk.size - 16)))


UTM = md.utm_coords(682800, 6971220)
SAMPLE_ERRORS = [
    case(_dataset("benv2s2_000", "image", np.ones((5, 120, 120), "f4")), "benv2s2_000",
                 r"image has 5 bands; benv2s2 chips have 12 or 13", name="wrong-band-count"),
    case(_dataset("mmflood_000", "image", np.ones((2, 60, 60), "f4")), "mmflood_000",
                 r"image must be \(bands, 120, 120\), got \(2, 60, 60\)", name="wrong-shape"),
    case(_dataset("cabuar_000", "image", np.full((12, 120, 120), b"x")), "cabuar_000",
                 r"image holds \|S1, not pixel values", name="image-of-text"),
    case(_dataset("benv2s2_000", "image", np.full((12, 120, 120), 1e12, "f4")),
                 "benv2s2_000", r"values look like digital numbers", name="absurd-s2-values"),
    case(_dataset("mmflood_000", "image", np.full((2, 120, 120), 1e9, "f4")),
                 "mmflood_000", r"not backscatter in dB", name="absurd-s1-values"),
    case(_dataset("quakeset_000", "coords"), "quakeset_000",
                 r"quakeset_000: sample group needs datasets 'image' and 'coords'",
                 name="missing-coords"),
    case(_dataset("cabuar_000", "coords", np.full((2, 120, 120), np.nan)), "cabuar_000",
                 r"coords corners are not finite", name="nan-coords"),
    case(_attr("benv2s1_000", "crs", "EPSG:999999"), "benv2s1_000",
                 r"cannot understand CRS 'EPSG:999999'", name="bad-crs"),
    case(_attr("benv2s1_000", "crs", None), "benv2s1_000", r"no CRS given",
                 name="missing-crs"),
    case(_attr("benv2s2_000", "crs", 4326), "benv2s2_000",
                 r"outside the globe .* the CRS does not match", name="crs-not-fitting-coords"),
    case(_corrupt_chunk, "cabuar_000", r"cabuar_000: cannot read \(OSError",
                 name="corrupt-chunk"),
    case(_link("benv2s2_000", None, "/etc/passwd"), "benv2s2_000",
                 r"refused: .*/benv2s2_000 is a link to elsewhere", name="sample-links-to-etc",
                 verdict="refused"),
    case(_link("cabuar_000", "image", "../outside.h5"), "cabuar_000",
                 r"refused: .*cabuar_000/image is a link to another file",
                 name="image-links-outside", verdict="refused"),
    case(_dataset("benv2s2_000", "image", shape=(12, 120, 120), dtype="f4",
                          external=[("/etc/passwd", 0, h5py.h5f.UNLIMITED)]),
                 "benv2s2_000", r"refused: .*image keeps its data in other files",
                 name="image-raw-data-in-etc", verdict="refused"),
    case(_virtual_image, "benv2s2_000",
                 r"refused: .*image keeps its data in other files \(virtual",
                 name="image-virtual-outside", verdict="refused"),
]  # fmt: skip


@pytest.mark.parametrize(("mutate", "key", "message"), SAMPLE_ERRORS)
def test_a_bad_sample_loses_only_itself(
    mutate: Mutate, key: str, message: str, corpus: Path, store: VectorStore,
    rn_embedder: Embedder, settings: Settings,
) -> None:  # fmt: skip
    mutate(corpus)
    with h5py.File(_shard(corpus, key), "r") as shard, pytest.raises(DataError, match=message):
        sample = SampleReader(shard, SampleOptions(), Tally()).read(key, f"/{key}", ("Water",))
        locate_samples([sample] if sample else [])
    before = index_fingerprint(store)
    summary = ingest(store, rn_embedder, corpus, settings.data_dir)
    (reason,) = summary.skipped
    assert reason.startswith("bad sample: ") and re.search(message, reason)
    assert summary.indexed == len(KEYS) - 1  # its batch-mates went in
    (failed,) = summary.failed.values()  # its unit is reported (exit status 1), not lost
    assert failed.startswith("1 bad item(s) skipped, the rest of this unit indexed")
    check_index(store, before, set(KEYS) - {key})


def _labels(root: Path, column: object) -> None:
    pq.write_table(
        pa.table({"key": KEYS, "labels": column, "split": ["corpus"] * len(KEYS)}),
        root / "metadata.parquet",
    )


def _attr_labels_only(value: object) -> Mutate:
    def mutate(root: Path) -> None:
        _labels(root, pa.array([[]] * len(KEYS), pa.list_(pa.string())))
        _attr("mmflood_000", "labels", value)(root)

    return mutate


FLAGGED = [
    flagged(_dataset("mmflood_000", "image", np.where(np.eye(120) > 0, np.inf, -20.0)
                          * np.ones((2, 1, 1), "f4")),
                 "infinite pixels treated as no-data", name="inf-pixels"),
    flagged(_attr("mmflood_000", "timestamp", 10**18),
                 "timestamp unreadable or outside 2014..today: ignored", name="timestamp-1e18"),
    flagged(_attr("mmflood_000", "timestamp", "9999-12-31"),
                 "timestamp unreadable or outside 2014..today: ignored", name="timestamp-9999"),
    flagged(_attr_labels_only(np.array([3, 7])), "labels that are not text ignored (int64)",
                 name="label-attr-ints"),
    flagged(_attr_labels_only('[["Water"], "Trees"]'),
                 "labels that are not text ignored (list)", name="label-attr-nested"),
    flagged(lambda root: _labels(root, ["Water; Trees"] * len(KEYS)),
                 "labels in metadata.parquet given as text, not lists: split on ';' or ','",
                 name="label-column-of-text"),
]  # fmt: skip


@pytest.mark.parametrize(("mutate", "flag"), FLAGGED)
def test_an_odd_sample_is_indexed_and_flagged(
    mutate: Mutate, flag: str, corpus: Path, store: VectorStore, rn_embedder: Embedder,
    settings: Settings,
) -> None:  # fmt: skip
    mutate(corpus)
    before = index_fingerprint(store)
    summary = ingest(store, rn_embedder, corpus, settings.data_dir)
    assert summary.ok and summary.flagged[flag] >= 1
    (record,) = store.get(["crisislandmark/mmflood_000"])
    assert record.acquired is None
    assert all(len(name) > 1 for name in record.source_labels)  # never split into letters
    check_index(store, before, set(KEYS))


def _outside_shard(root: Path) -> None:
    """A valid shard next to (not in) the corpus folder, linked with '../'."""
    md.write_root(root.parent / "elsewhere")
    with h5py.File(root / "crisislandmark.h5", "a") as index:
        del index["benv2s2_000"]
        index["benv2s2_000"] = h5py.ExternalLink("../elsewhere/shard_s2.h5", "/benv2s2_000")


def _etc_link(root: Path) -> None:
    with h5py.File(root / "crisislandmark.h5", "a") as index:
        del index["cabuar_000"]
        index["cabuar_000"] = h5py.ExternalLink("/etc/passwd", "/cabuar_000")


def _overwrite(head: bytes | None) -> Mutate:
    """Overwrite the start of ``shard_s2.h5`` with ``head``, or (None) cut off its second half."""

    def mutate(root: Path) -> None:
        path = root / "shard_s2.h5"
        if head is None:
            os.truncate(path, path.stat().st_size // 2)
            return
        with open(path, "r+b") as handle:
            handle.write(head)

    return mutate


SHARD_CASES = [
    case(_overwrite(os.urandom(4096)), {"benv2s2_000", "cabuar_000"},
                 r"shard_s2\.h5: not a readable HDF5 file", name="corrupt-shard"),
    case(_overwrite(None), {"benv2s2_000", "cabuar_000"},
                 r"shard_s2\.h5: not a readable HDF5 file", name="truncated-shard"),
    case(lambda root: (root / "shard_s2.h5").unlink(), {"benv2s2_000", "cabuar_000"},
         r"links to shard 'shard_s2\.h5' \(2 keys\), which is missing", name="missing-shard"),
    case(_etc_link, {"cabuar_000"},
                 r"refused: .*links to '/etc/passwd', outside the corpus folder",
                 name="root-links-to-etc", verdict="refused"),
    case(_outside_shard, {"benv2s2_000"},
                 r"refused: .*links to '\.\./elsewhere/shard_s2\.h5', outside the corpus folder",
                 name="root-links-outside-root", verdict="refused"),
]  # fmt: skip


@pytest.mark.parametrize(("mutate", "lost", "message"), SHARD_CASES)
def test_a_bad_shard_fails_alone(
    mutate: Mutate, lost: set[str], message: str, corpus: Path, store: VectorStore,
    rn_embedder: Embedder, settings: Settings,
) -> None:  # fmt: skip
    mutate(corpus)
    source = CrisisLandMarkSource(corpus)
    read: set[str] = set()
    bad: list[str] = []
    for unit in source.units():
        try:
            read |= {chip.scene_id for chip in source.read(unit, Tally())}
        except DataError:
            bad.append(unit)
    assert read == set(KEYS) - lost and len(bad) == 1
    with pytest.raises(DataError, match=message):
        list(source.read(bad[0], Tally()))
    before = index_fingerprint(store)
    summary = ingest(store, rn_embedder, corpus, settings.data_dir)
    assert list(summary.failed) == bad and re.search(message, summary.failed[bad[0]])
    check_index(store, before, set(KEYS) - lost)


@pytest.mark.hostile("error")
def test_a_corrupt_shard_through_the_cli_exits_1(
    corpus: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    _overwrite(os.urandom(4096))(corpus)
    _baseline(settings, "closp-rn:random-seed0").close()
    assert main(cli_args(settings, "crisislandmark", str(corpus))) == 1
    out = capsys.readouterr().out
    assert "indexed 3 chips" in out and re.search(r"FAILED .*shard_s2\.h5: not a readable", out)
    store = open_store(settings, "closp-rn:random-seed0")
    try:
        assert store.count() == 4
    finally:
        store.close()


def _hub_cache(files: list[str] | None, *extra: str) -> Callable[[Path], list[str]]:
    """CLI arguments for the hub id, with ``files`` of the corpus in the hub cache (None: not
    cached at all)."""

    def setup(root: Path) -> list[str]:
        if files is not None:
            md.publish_to_hub_cache(root, root.parent / "hub", HUB_DATASET, "c" * 40, files=files)
        return [HUB_DATASET, *extra]

    return setup


def _columns(root: Path) -> list[str]:
    pq.write_table(pa.table({"key": KEYS, "tags": [["Water"]] * 5}), root / "metadata.parquet")
    return [str(root)]


def _root_args(mutate: Mutate, *extra: str) -> Callable[[Path], list[str]]:
    def setup(root: Path) -> list[str]:
        mutate(root)
        return [str(root), *extra]

    return setup


RUN_CASES = [
    case(_columns, r"metadata\.parquet: missing columns \['labels', 'split'\]",
                 name="metadata-wrong-columns"),
    case(_root_args(lambda r: _labels(r, [[1, 2]] * 5)),
                 r"refused: .*column 'labels' holds list<.*int64>", name="labels-of-ints",
                 verdict="refused"),
    case(_root_args(lambda r: _labels(r, [[["Water"]]] * 5)),
                 r"refused: .*column 'labels' holds list<.*list<.*string>>",
                 name="labels-nested-lists", verdict="refused"),
    case(_root_args(lambda r: (r / "crisislandmark.h5").write_text("no hdf5")),
                 r"crisislandmark\.h5: not a readable HDF5 file", name="root-not-hdf5"),
    case(_root_args(lambda r: None, "--sources", "mmflood,lava"),
                 r"unknown CrisisLandMark source\(s\) \['lava'\]; valid: ", name="unknown-source"),
    case(_hub_cache(None),
                 r"DarthReca/crisislandmark .* HF_HUB_OFFLINE=1 is set: missing "
                 r"crisislandmark\.h5, metadata\.parquet, benv2s2_part1\.h5.*"
                 r"`hf download DarthReca/crisislandmark "
                 r"--repo-type dataset crisislandmark\.h5 ", name="hub-id-not-cached-offline"),
    case(_hub_cache(["crisislandmark.h5", "metadata.parquet", "shard_s2.h5"],
                            "--sources", "cabuar"),
                 r"missing cabuar\.h5\. .*`hf download DarthReca/crisislandmark --repo-type "
                 r"dataset cabuar\.h5`", name="hub-shard-not-cached-offline"),
]  # fmt: skip


@pytest.mark.parametrize(("setup", "message"), RUN_CASES)
def test_a_run_that_cannot_start_leaves_the_index_alone(
    setup: Callable[[Path], list[str]], message: str, corpus: Path, settings: Settings,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(corpus.parent / "hub"))
    store = _baseline(settings, "closp-rn:random-seed0")
    before = index_fingerprint(store)
    store.close()
    assert main(cli_args(settings, "crisislandmark", *setup(corpus))) == 2
    assert re.search(message, capsys.readouterr().err)
    store = open_store(settings, "closp-rn:random-seed0")
    try:
        assert index_fingerprint(store) == before
    finally:
        store.close()


def _rows(extra: list[tuple[str, list[str], str]], double: bool = False) -> Mutate:
    """``metadata.parquet`` with ``extra`` rows appended (``double``: every row twice)."""

    def mutate(root: Path) -> None:
        rows = [*md.METADATA, *(md.METADATA if double else []), *extra]
        keys, labels, splits = (list(column) for column in zip(*rows, strict=True))
        pq.write_table(pa.table({"key": keys, "labels": labels, "split": splits}),
                       root / "metadata.parquet")  # fmt: skip

    return mutate


REPEATED = "key repeated in metadata.parquet with the same labels and split: read once"
CONFLICTING = "key repeated in metadata.parquet with other labels or split: left out"
ROW_CASES = [
    case(_rows([("mmflood_000", ["Flooded Area", "Moon dust"], "corpus")]), set(KEYS),
         {REPEATED: 1}, {}, name="row-repeated", verdict="flagged"),
    case(_rows([], double=True), set(KEYS), {REPEATED: len(KEYS)}, {},
         name="every-row-twice", verdict="flagged"),
    case(_rows([("cabuar_000", ["Flooded Area"], "corpus")]), set(KEYS) - {"cabuar_000"}, {},
         {CONFLICTING: 1}, name="row-with-other-labels", verdict="refused"),
    case(_rows([("benv2s1_000", ["Pastures"], "test")]), set(KEYS) - {"benv2s1_000"}, {},
         {CONFLICTING: 1}, name="key-in-two-splits", verdict="refused"),
]  # fmt: skip


@pytest.mark.parametrize(("mutate", "kept", "flags", "skips"), ROW_CASES)
def test_repeated_metadata_rows_follow_the_rule_and_are_counted(
    mutate: Mutate, kept: set[str], flags: dict[str, int], skips: dict[str, int],
    corpus: Path, store: VectorStore, rn_embedder: Embedder, settings: Settings,
) -> None:  # fmt: skip
    mutate(corpus)
    before = index_fingerprint(store)
    summary = ingest(store, rn_embedder, corpus, settings.data_dir)
    assert summary.ok and summary.indexed == len(kept)
    assert {r: n for r, n in summary.flagged.items() if "metadata.parquet" in r} == flags
    assert {r: n for r, n in summary.skipped.items() if "repeated" in r} == skips
    for reason, n in {**flags, **skips}.items():
        assert reason in summary.report() and f" {n} chip" in summary.report()
    check_index(store, before, kept)
