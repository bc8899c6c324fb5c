"""A long ingest builds the graph in bounded segments (``IndexParams.segment_chips``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from closp_core.errors import ConfigError
from closp_core.settings import Settings
from closp_core.store import IndexParams, StoreInputError, index_params
from tests.store.conftest import SERVER, make_records, open_backend

SEGMENT = 10_000  # the smallest allowed: Edge gives smaller segments no graph


def test_edge_builds_a_segment_each_time_segment_chips_wait(tmp_path: Path) -> None:
    records = make_records(25_000, seed=4)
    params = IndexParams(m=8, ef_construct=32, int8=True, on_disk=True, segment_chips=SEGMENT)
    with open_backend("edge", tmp_path, params=params) as st:
        built = []
        for start in range(0, 25_000, 5_000):
            st.upsert(records[start : start + 5_000])
            built.append(st.optimize_if_due())
        assert built == [False, True, False, True, False]
        info = st.info()
        assert (info.points, info.indexed_vectors) == (25_000, 20_000)
        # two graphs of 10,000, not merged into one past segment_chips
        config = json.loads((tmp_path / "index" / "edge_config.json").read_text())
        assert config["optimizers"]["max_segment_size"] == params.segment_kb == 15_000
        segments = [p for p in (tmp_path / "index" / "segments").iterdir() if p.is_dir()]
        assert len(segments) >= 3  # two built, the 5,000 still being appended to
        rng = np.random.default_rng(0)
        for i in rng.choice(25_000, 12, replace=False):
            q = records[i].vector
            hits = [h.key for h in st.search(q, limit=10)]
            assert hits[0] == records[i].key  # found in whichever segment holds it
            assert hits == [h.key for h in st.search(q, limit=10, exact=True)]
    with open_backend("edge", tmp_path) as again:
        assert again.params.segment_chips == SEGMENT  # fixed at creation


@pytest.mark.parametrize("kind", ["memory", SERVER])
def test_a_server_builds_on_its_own(kind: str, tmp_path: Path) -> None:
    with open_backend(kind, tmp_path, params=IndexParams(segment_chips=SEGMENT)) as st:
        st.upsert(make_records(300))
        assert st.optimize_if_due() is False
        assert st.count() == 300


def test_segment_size_setting_and_bad_values() -> None:
    settings = Settings.load({"CLOSP_STORE_SEGMENT_CHIPS": "250000"})
    assert index_params(settings).segment_chips == 250_000
    assert IndexParams().segment_chips == 500_000
    with pytest.raises(ConfigError, match="segment_chips must be an integer >= 10,000"):
        index_params(settings.replace(store_segment_chips=500))
    with pytest.raises(ConfigError, match="CLOSP_STORE_SEGMENT_CHIPS"):
        Settings.load({"CLOSP_STORE_SEGMENT_CHIPS": "half a million"})
    with pytest.raises(StoreInputError, match="segment_chips"):
        IndexParams(segment_chips=True)
