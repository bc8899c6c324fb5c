"""The hostile-input suite: bad inputs made by the tests themselves, one verdict each.

Every test here feeds one bad input (each parametrised case counts as one) and is marked with
the verdict the product must give — ``@pytest.mark.hostile("error")`` on the test, or
``pytest.param(..., marks=pytest.mark.hostile("flagged"))`` per case:

- ``error``: our own error with one clear sentence naming the input; in a run of several files
  the others are indexed and the exit status is 1.
- ``refused``: refused on purpose because it is unsafe or reads more than it names (a path out
  of its folder, a VRT reading raw files, markup in a key ...), with our own error.
- ``flagged``: indexed, but counted as flagged in the run's summary (never silently).

A test asserts the error type and message, the exit status where a CLI runs, that the good
inputs of the same run were indexed, and that the index is otherwise unchanged
(``harness.index_fingerprint`` before and after). At the end of the session the terminal summary
prints the table the issue asks for: inputs tried, each verdict, and failures (a traceback or
a wrong verdict; 0 is the target). The table's hooks are in ``table.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile.harness import Bench
from tests.hostile.scene_inputs import make_goods


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    """An index with a model, shared by one test module's bad inputs (``harness.Bench``)."""
    bench = Bench(tmp_path_factory.mktemp("bench"))
    yield bench
    bench.close()


@pytest.fixture(scope="module")
def goods(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Good scene files to go into the same runs as the bad ones (``scene_inputs``)."""
    return make_goods(tmp_path_factory.mktemp("good"))
