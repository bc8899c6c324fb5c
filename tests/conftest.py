"""Shared fixtures. The suite is offline: the Hugging Face hub is never contacted."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported anywhere
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from closp_core.embedder import Embedder
from closp_core.model import ClospModel, create_model, save_model

pytest_plugins = ("tests.hostile.table",)  # the hostile-input table, with or without xdist

SERVER_URL_ENV = "CLOSP_TEST_QDRANT_URL"
_SERVER_ITEMS = pytest.StashKey[dict[str, int]]()


def _server_items(config: pytest.Config) -> dict[str, int]:
    return config.stash.setdefault(_SERVER_ITEMS, {"selected": 0, "deselected": 0})


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        counts = _server_items(items[0].config)
        counts["deselected"] += sum(1 for i in items if i.get_closest_marker("server"))


def pytest_collection_finish(session: pytest.Session) -> None:
    counts = _server_items(session.config)
    counts["selected"] = sum(1 for i in session.items if i.get_closest_marker("server"))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In a pytest-xdist worker: hand the counts to the controller (which collects nothing)."""
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["server_items"] = _server_items(session.config)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """In the pytest-xdist controller: every worker collects the same items; keep one's counts."""
    counts = getattr(node, "workeroutput", {}).get("server_items")
    if counts:
        _server_items(node.config).update(counts)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """One line on the store's server suite: run against which URL, skipped or not selected."""
    counts = _server_items(config)
    if not counts["selected"] and not counts["deselected"]:
        return  # no store tests in this run
    url = os.environ.get(SERVER_URL_ENV, "").strip()
    if not counts["selected"]:
        why = (
            f"{SERVER_URL_ENV} is set: run pytest -m server"
            if url
            else (f"they need a Qdrant server and {SERVER_URL_ENV}; see deploy/README.md")
        )
        line = f"server suite: not selected ({counts['deselected']} tests; {why})"
    elif not url:
        line = (
            f"server suite: {counts['selected']} tests SKIPPED, {SERVER_URL_ENV} is not set "
            "(start Qdrant as in deploy/README.md and set it)"
        )
    else:
        line = f"server suite: {counts['selected']} tests against {url}"
    terminalreporter.write_sep("-", line)


@pytest.fixture(scope="session")
def rn_model() -> ClospModel:
    """A seeded, randomly initialised CLOSP-RN (shared; do not modify)."""
    return create_model("closp-rn", seed=0)


@pytest.fixture(scope="session")
def rn_embedder(rn_model: ClospModel) -> Embedder:
    return Embedder(rn_model, device="cpu", batch_size=4)


@pytest.fixture(scope="session")
def rn_folder(rn_model: ClospModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``rn_model`` saved in the released layout."""
    return save_model(rn_model, tmp_path_factory.mktemp("closp-rn"))


def random_s2_dn(rng: np.random.Generator, n: int = 2, size: int = 120) -> np.ndarray:
    """``(n, 13, size, size)`` uint16 digital numbers, B10 zero (like L2A products)."""
    dn = rng.integers(0, 6000, size=(n, 13, size, size)).astype(np.uint16)
    dn[:, 10] = 0
    return dn


def random_s1_db(rng: np.random.Generator, n: int = 2, size: int = 120) -> np.ndarray:
    """``(n, 2, size, size)`` float32 backscatter in dB (VV brighter than VH)."""
    vv = rng.normal(-12.0, 3.0, size=(n, 1, size, size))
    vh = rng.normal(-19.0, 3.0, size=(n, 1, size, size))
    return np.concatenate([vv, vh], axis=1).astype(np.float32)
