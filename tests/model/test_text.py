"""The text encoder: CLS pooling of MiniLM, max 64 tokens, from the offline package."""

import hashlib
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

from closp_core.embedder import Embedder
from closp_core.model.text import resolve_text_model_dir

QUERIES = ["flooded fields next to a river", "burned forest", "damaged buildings"]


def _reference(pooling: str) -> np.ndarray:
    """Computed independently with transformers from the same MiniLM weights."""
    folder = resolve_text_model_dir("sentence-transformers/all-MiniLM-L6-v2")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    batch = tokenizer(QUERIES, padding=True, truncation=True, max_length=64, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    if pooling == "cls":
        vectors = hidden[:, 0]
    else:
        mask = batch["attention_mask"][..., None].float()
        vectors = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(vectors, dim=-1).numpy()


def test_text_embedding_is_normalised_cls(rn_embedder: Embedder) -> None:
    ours = rn_embedder.encode_text(QUERIES)
    assert ours.shape == (3, 384) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(ours, _reference("cls"), atol=1e-5)
    mean = _reference("mean")
    assert np.abs(ours - mean).max() > 0.05


def test_text_is_truncated_at_64_tokens(rn_embedder: Embedder) -> None:
    long = " ".join(["river"] * 80)
    a, b = rn_embedder.encode_text([long, long + " burned forest and damaged buildings"])
    np.testing.assert_array_equal(a, b)
    short = rn_embedder.encode_text([" ".join(["river"] * 10)])[0]
    assert not np.allclose(a, short)


def test_bundled_minilm_is_the_official_file() -> None:
    weights = Path(resolve_text_model_dir("all-MiniLM-L6-v2")) / "model.safetensors"
    assert hashlib.sha256(weights.read_bytes()).hexdigest().startswith("53aa5117")
