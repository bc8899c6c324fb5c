"""CrisisLandMark: root file with external links into shards, metadata, options, bad input."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from closp_core.bands import Sensor
from closp_core.data import CrisisLandMarkSource, DataError, Tally
from closp_core.data.crisislandmark.hub import (
    CORE_FILES,
    HUB_DATASET,
    hub_patterns,
    missing_files,
    open_crisislandmark,
)
from closp_core.data.crisislandmark.source import SOURCES
from tests.data.conftest import read_all, ring_contains
from tests.data.crisislandmark import make_data as md


def by_key(source: CrisisLandMarkSource, tally: Tally | None = None) -> dict[str, object]:
    return {c.scene_id: c for c in read_all(source, tally)}


def test_reads_every_source_through_external_links() -> None:
    tally = Tally()
    chips = by_key(CrisisLandMarkSource(md.ROOT), tally)
    assert sorted(chips) == sorted(k for k, _, _ in md.METADATA)
    s2 = chips["benv2s2_000"]
    assert s2.key == "crisislandmark/benv2s2_000" and s2.source == "crisislandmark/benv2s2"
    assert s2.sensor is Sensor.S2 and s2.pixels.shape == (13, 120, 120)
    assert s2.pixels[10].max() == 0 and s2.pixels[11, 0, 0] == pytest.approx(0.2)  # B11
    assert s2.labels == ("Trees", "Water") and s2.crs == "EPSG:32635"
    assert s2.acquired == dt.datetime(2017, 9, 24, 9, 30, 20, tzinfo=dt.UTC)
    assert ring_contains(s2.footprint, s2.center) and 30 < s2.center[0] < 31
    s1 = chips["benv2s1_000"]
    assert s1.center == pytest.approx(s2.center)
    assert np.allclose(s1.pixels[0], -11.0) and np.allclose(s1.pixels[1], -18.0)  # reversed
    assert s1.acquired == dt.datetime.fromtimestamp(1506313976, tz=dt.UTC)
    quake = chips["quakeset_000"]
    assert np.allclose(quake.pixels[0], -7.0) and quake.labels == ("Earthquake Damage", "Built")
    flood = chips["mmflood_000"]
    assert flood.center == pytest.approx((12.0054, 44.9946))
    assert flood.unmapped_labels == ("Moon dust",) and flood.labels == ("Flooded Area",)
    assert tally.flagged == {"label outside the label space: 'Moon dust'": 1}
    assert chips["cabuar_000"].acquired is None


def test_channel_conventions_are_options() -> None:
    source = CrisisLandMarkSource(md.ROOT, reverse_s1_channels=False, quakeset_post_event=False)
    chips = by_key(source)
    assert np.allclose(chips["benv2s1_000"].pixels[0], -18.0)
    assert np.allclose(chips["quakeset_000"].pixels[0], -9.0)


def test_split_limit_units_and_queries() -> None:
    source = CrisisLandMarkSource(md.ROOT, split="corpus", limit=3, keys_per_unit=2)
    assert [u.rsplit("/", 1)[1] for u in source.units()] == [
        "crisislandmark.h5[0:2]",
        "crisislandmark.h5[2:3]",
    ]
    assert sorted(by_key(source)) == ["benv2s1_000", "cabuar_000", "mmflood_000"]
    assert source.load_queries() == {"q1": "burned forest", "q2": "flood"}
    assert source.qrels_dir == md.ROOT / "qrels"


def test_nodata_share_skips(tmp_path: Path) -> None:
    source = CrisisLandMarkSource(md.ROOT, max_nodata=0.05)
    tally = Tally()
    assert "mmflood_000" not in by_key(source, tally)
    assert tally.skipped == {"no-data share above 5%": 1}


def test_missing_metadata_parquet(tmp_path: Path) -> None:
    root = md.write_root(tmp_path / "clm")
    (root / "metadata.parquet").unlink()
    with pytest.raises(DataError, match=r"metadata\.parquet: missing"):
        CrisisLandMarkSource(root).units()


def test_key_without_image_loses_only_itself(tmp_path: Path) -> None:
    root = md.write_root(tmp_path / "clm")
    with h5py.File(root / "shard_s1.h5", "a") as shard:
        del shard["mmflood_000"]["image"]
    tally = Tally()
    chips = by_key(CrisisLandMarkSource(root), tally)
    assert sorted(chips) == ["benv2s1_000", "benv2s2_000", "cabuar_000", "quakeset_000"]
    (reason,) = tally.skipped
    assert re.fullmatch(r"bad sample: .*shard_s1\.h5:/mmflood_000: .*'image'.*", reason)


def test_missing_shard_and_unknown_keys(tmp_path: Path) -> None:
    root = tmp_path / "clm"
    shutil.copytree(md.ROOT, root)
    table = pq.read_table(root / "metadata.parquet")
    extra = pa.table({"key": ["sen1flood_404"], "labels": [["Water"]], "split": ["corpus"]})
    pq.write_table(pa.concat_tables([table, extra]), root / "metadata.parquet")
    tally = Tally()
    assert len(read_all(CrisisLandMarkSource(root), tally)) == 5
    assert tally.skipped == {"key in metadata.parquet but not in the HDF5 files": 1}
    (root / "shard_s2.h5").unlink()
    with pytest.raises(DataError, match=r"links to shard 'shard_s2\.h5'"):
        read_all(CrisisLandMarkSource(root))


def test_units_keep_to_one_shard_in_storage_order() -> None:
    source = CrisisLandMarkSource(md.ROOT, keys_per_unit=2)
    units = source.units()
    assert [u.rsplit("/", 1)[1] for u in units] == [
        "crisislandmark.h5[0:2]",
        "crisislandmark.h5[2:3]",
        "crisislandmark.h5[3:5]",
    ]
    order = [chip.scene_id for unit in units for chip in source.read(unit, Tally())]
    # shard_s1.h5 stores benv2s1, quakeset, mmflood in that order (not by name)
    assert order == ["benv2s1_000", "quakeset_000", "mmflood_000", "benv2s2_000", "cabuar_000"]
    with pytest.raises(DataError, match=r"unknown CrisisLandMark unit .*\[1:4\]"):
        list(source.read(f"{source.root_file}[1:4]", Tally()))  # spans two shards


def test_root_linking_shard_level_groups(tmp_path: Path) -> None:
    root = tmp_path / "clm"
    shutil.copytree(md.ROOT, root)
    with h5py.File(root / "crisislandmark.h5", "w") as index:
        index["s1"] = h5py.ExternalLink("shard_s1.h5", "/")
        index["s2"] = h5py.ExternalLink("shard_s2.h5", "/")
    assert sorted(by_key(CrisisLandMarkSource(root))) == sorted(k for k, _, _ in md.METADATA)


def test_sources_filter_keys_by_prefix() -> None:
    source = CrisisLandMarkSource(md.ROOT, sources=["mmflood", "cabuar"])
    assert sorted(by_key(source)) == ["cabuar_000", "mmflood_000"]
    with pytest.raises(DataError, match=r"source\(s\) \['moon'\]; valid: benv2s2, cabuar, "):
        CrisisLandMarkSource(md.ROOT, sources=["moon", "cabuar"])


def test_generated_corpus_in_the_published_layout(tmp_path: Path) -> None:
    keys = md.write_corpus(tmp_path / "clm", 40)
    assert {k.rsplit("_", 1)[0] for k in keys} == set(SOURCES)
    tally = Tally()
    source = CrisisLandMarkSource(tmp_path / "clm", keys_per_unit=7, read_batch=3)
    chips = by_key(source, tally)
    assert sorted(chips) == sorted(keys) and not tally.skipped and not tally.flagged
    assert {c.pixels.shape[0] for c in chips.values()} == {2, 13}  # quakeset: post-event pair
    corpus = CrisisLandMarkSource(tmp_path / "clm", split="corpus", sources=["benv2s2"])
    assert len(by_key(corpus)) == sum(1 for i, k in enumerate(keys) if i % 5 and "s2_" in k)


def test_hub_dataset_from_the_cache_offline(tmp_path: Path) -> None:
    md.write_corpus(tmp_path / "published", 40)
    cache = tmp_path / "hub"
    snapshot = md.publish_to_hub_cache(
        tmp_path / "published", cache, HUB_DATASET, "a" * 40,
        files=["crisislandmark.h5", "metadata.parquet", "cabuar.h5", "sen12flood.h5"],
    )  # fmt: skip
    assert (snapshot / "cabuar.h5").is_symlink()  # as the hub writes them: links into blobs/
    source = open_crisislandmark(HUB_DATASET, sources=["cabuar", "sen2flood"], cache_dir=cache)
    assert source.root == snapshot
    assert sorted(by_key(source)) == ["cabuar_0000000", "sen2flood_0000000"]


def test_hub_dataset_revision_pinning(tmp_path: Path) -> None:
    md.write_corpus(tmp_path / "v1", 40)
    md.write_corpus(tmp_path / "v2", 40, seed=1)
    cache = tmp_path / "hub"
    md.publish_to_hub_cache(tmp_path / "v1", cache, HUB_DATASET, "a" * 40)
    v2 = md.publish_to_hub_cache(tmp_path / "v2", cache, HUB_DATASET, "b" * 40, ref="v2")
    for revision in ("v2", "b" * 40):
        source = open_crisislandmark(HUB_DATASET, revision=revision, cache_dir=cache)
        assert source.root == v2
    with pytest.raises(DataError, match=r"revision \('v2'\) applies to hub ids"):
        open_crisislandmark(md.ROOT, revision="v2")


def test_files_each_source_needs(tmp_path: Path) -> None:
    patterns = hub_patterns(["benv2s1", "sen1flood"])
    assert patterns[:2] == ["crisislandmark.h5", "metadata.parquet"]
    assert {"benv2s1_part1.h5", "benv2s1_part*.h5", "sen12flood.h5", "sen1flood.h5"} <= set(
        patterns
    )
    assert patterns[-2:] == ["queries.jsonl", "qrels/*"]
    for name in ("crisislandmark.h5", "metadata.parquet", "sen1flood.h5"):
        (tmp_path / name).write_bytes(b"")
    assert missing_files(tmp_path, ["sen1flood"]) == []  # the separate-file reading
    assert missing_files(tmp_path, ["sen2flood", "cabuar"]) == ["sen12flood.h5", "cabuar.h5"]
    assert missing_files(None, ["quakeset"]) == [*CORE_FILES, "quakeset.h5"]
