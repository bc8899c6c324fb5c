"""Shared fixtures. The suite is offline: the Hugging Face hub is never contacted."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported anywhere
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path

import numpy as np
import pytest

from closp_core.embedder import Embedder
from closp_core.model import ClospModel, create_model, save_model


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
