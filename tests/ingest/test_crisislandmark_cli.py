"""``python -m ingest crisislandmark <hub id>``: the dataset comes from the Hugging Face cache
(laid out by the test as the hub writes it), offline, only the chosen sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from closp_core.data.crisislandmark.hub import HUB_DATASET
from closp_core.settings import Settings
from closp_core.store import open_store
from ingest.cli import main
from tests.data.crisislandmark import make_data as md
from tests.ingest.conftest import cli_args


def test_hub_id_from_the_cache_with_sources_split_and_revision(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    mix = {"cabuar": 1.0, "mmflood": 1.0, "benv2s2": 1.0}
    keys = md.write_corpus(tmp_path / "published", 15, mix=mix)
    cache = tmp_path / "hf" / "hub"
    needed = ["crisislandmark.h5", "metadata.parquet", "cabuar.h5", "mmflood.h5"]
    md.publish_to_hub_cache(tmp_path / "published", cache, HUB_DATASET, "d" * 40, files=needed)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(cache))
    args = ["crisislandmark", HUB_DATASET, "--sources", "cabuar,mmflood", "--split", "corpus"]
    assert main(cli_args(settings, *args, "--dataset-revision", "d" * 40)) == 0
    wanted = [k for i, k in enumerate(keys) if i % 5 and k.startswith(("cabuar", "mmflood"))]
    assert len(wanted) == 8
    assert f"indexed {len(wanted)} chips" in capsys.readouterr().out
    store = open_store(settings, "closp-rn:random-seed0")
    try:
        assert {r.scene_id for r in store.iter_records()} == set(wanted)
    finally:
        store.close()
    assert main(cli_args(settings, *args, "--sources", "quakeset")) == 2
    assert "missing quakeset.h5" in capsys.readouterr().err
