"""The Python API: ``import closp_core`` stays light, ``open_index`` fails clearly without an
index, and ``Index`` takes text with options or a ready request."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import closp_core
from closp_core.errors import IndexNotFoundError, SearchError
from closp_core.feedback import FeedbackError
from closp_core.search import SearchRequest, make_request
from closp_core.settings import Settings
from tests.app.conftest import ROOT

LIGHT = """
import sys, closp_core
heavy = {"torch", "geopandas", "qdrant_edge", "closp_core.search"} & set(sys.modules)
assert not heavy, heavy
assert callable(closp_core.open_index) and "closp_core.search" in sys.modules
assert "geopandas" not in sys.modules
"""


def test_importing_closp_core_loads_nothing_heavy() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LIGHT], cwd=ROOT, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with pytest.raises(AttributeError, match="has no attribute 'open_indx'"):
        closp_core.open_indx  # type: ignore[attr-defined]  # noqa: B018


def test_open_index_without_an_index_creates_nothing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "nothing")
    with pytest.raises(IndexNotFoundError, match=r"no index at .*python -m ingest demo"):
        closp_core.open_index(settings)
    assert not (tmp_path / "nothing").exists()


@pytest.mark.usefixtures("app_data")
def test_index_takes_text_or_a_request(tmp_path: Path) -> None:
    with closp_core.open_index() as idx:
        assert idx.count() == 62
        by_text = idx.search("water", sensor="s1", limit=5)
        by_request = idx.search(make_request("water", sensor="s1", limit=5))
        assert by_text.keys == by_request.keys and len(by_text.keys) == 5
        with pytest.raises(SearchError, match="either a SearchRequest or text with options"):
            idx.search(SearchRequest(text="water"), limit=5)
        with pytest.raises(SearchError, match="cannot read the label file"):
            idx.read_marks(tmp_path / "none.geojson")
        not_labels = tmp_path / "x.geojson"
        not_labels.write_text('{"type": "FeatureCollection", "features": []}')
        with pytest.raises(FeedbackError, match="not a CLOSP label file"):
            idx.read_marks(not_labels)
    with closp_core.open_index() as again:  # closing released the folder
        assert again.count() == 62
