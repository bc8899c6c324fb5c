"""The benchmarks are not run by ``make test`` (they print figures, over minutes), but each one
must still import and parse its options: a bench that broke when the code under it moved is
found here, not by the next person who needs its figures."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

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
