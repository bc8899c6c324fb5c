"""The benchmarks are not run by ``make test`` (they print figures, over minutes), but each one
must still import and parse its options: a bench that broke when the code under it moved is
found here, not by the next person who needs its figures."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHES = sorted(p.stem for p in (Path(__file__).parents[1] / "bench").glob("*.py"))
WITH_MAIN = [name for name in BENCHES if name not in ("__init__", "corpus", "datasets")]


@pytest.mark.parametrize("name", WITH_MAIN)
def test_bench_imports_and_has_help(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = importlib.import_module(f"bench.{name}")
    monkeypatch.setattr(sys, "argv", [f"bench/{name}.py", "--help"])
    with pytest.raises(SystemExit) as done:
        module.main()
    assert done.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_every_bench_is_listed() -> None:
    assert {"search", "ingest", "feedback", "encode", "stac"} <= set(WITH_MAIN)


@pytest.mark.parametrize("first", [5, 300_000, -100_000])
def test_growing_an_index_that_is_not_a_prefix_of_the_corpus_is_refused(first: int) -> None:
    from bench.corpus import iter_chunks

    with pytest.raises(ValueError, match=f"from chip {first:,} up to 200,000"):
        iter_chunks(0, 200_000, first)  # refused before any chunk is made


def test_the_rest_of_the_corpus_continues_where_the_index_stops() -> None:
    from bench.corpus import CHUNK, iter_chunks, make_chunk

    rest = list(iter_chunks(0, CHUNK + 10, first=CHUNK))
    assert [(c.start, len(c)) for c in rest] == [(CHUNK, 10)]
    np.testing.assert_array_equal(rest[0].vectors, make_chunk(0, 1).vectors[:10])
