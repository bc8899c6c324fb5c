"""The text tower through sentence-transformers: same vectors as ``Embedder.encode_text``."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer

from closp_core.embedder import Embedder
from closp_core.errors import CheckpointMismatchError
from closp_core.model import ClospModel, create_model
from closp_core.model.sentence import save_text_tower, text_tower
from closp_core.model.text import resolve_text_model_dir

TEXTS = [
    "flooded fields next to a river",
    "burned forest",
    "Überschwemmung am Fluss — 洪水, inondation près de la côte 🌊",
    " ".join(["snow and ice on the glacier above the valley"] * 12),  # ~110 tokens
    "",
    "a",
]


@pytest.fixture(scope="module")
def tuned_model() -> ClospModel:
    """A model whose text weights are no longer MiniLM's (as after CLOSP training)."""
    model = create_model("closp-rn", seed=3)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in model.text_model.parameters():
            param.add_(0.02 * torch.randn(param.shape, generator=generator))
    return model


def test_tower_gives_the_embedder_vectors(tuned_model: ClospModel) -> None:
    ours = Embedder(tuned_model, device="cpu", batch_size=4).encode_text(TEXTS)
    tower = text_tower(tuned_model)
    theirs = tower.encode(TEXTS, convert_to_numpy=True, show_progress_bar=False)
    assert theirs.shape == (len(TEXTS), 384)
    assert np.abs(theirs - ours).max() <= 1e-5
    np.testing.assert_allclose(np.linalg.norm(theirs, axis=1), 1.0, atol=1e-5)
    one_by_one = np.stack([tower.encode([t], convert_to_numpy=True)[0] for t in TEXTS])
    assert np.abs(one_by_one - ours).max() <= 1e-5  # padding in a batch changes nothing
    assert tower.max_seq_length == 64
    # the weights are the checkpoint's, not the bundled MiniLM's
    minilm = SentenceTransformer(str(resolve_text_model_dir("all-MiniLM-L6-v2")), device="cpu")
    assert np.abs(minilm.encode(TEXTS[:2]) - ours[:2]).max() > 0.05


def test_tower_truncates_at_64_tokens(tuned_model: ClospModel) -> None:
    tower = text_tower(tuned_model)
    long = " ".join(["river"] * 80)
    a, b = tower.encode([long, long + " burned forest"], convert_to_numpy=True)
    np.testing.assert_array_equal(a, b)


def test_saved_tower_loads_as_a_sentence_transformer(
    tuned_model: ClospModel, tmp_path: Path
) -> None:
    folder = save_text_tower(tuned_model, tmp_path / "tower")
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode"] == "cls"
    loaded = SentenceTransformer(str(folder), device="cpu")
    ours = Embedder(tuned_model, device="cpu").encode_text(TEXTS)
    assert np.abs(loaded.encode(TEXTS, convert_to_numpy=True) - ours).max() <= 1e-5


def test_weights_that_do_not_fit_are_refused(tuned_model: ClospModel, tmp_path: Path) -> None:
    small = tmp_path / "minilm-2-layers"
    shutil.copytree(resolve_text_model_dir("all-MiniLM-L6-v2"), small)
    config = json.loads((small / "config.json").read_text())
    (small / "config.json").write_text(json.dumps(config | {"num_hidden_layers": 2}))
    original = tuned_model.config
    tuned_model.config = dataclasses.replace(original, text_model_name_or_path=str(small))
    try:
        with pytest.raises(CheckpointMismatchError, match="unexpected keys"):
            text_tower(tuned_model)
    finally:
        tuned_model.config = original
