"""The CLOSP text tower as a ``sentence-transformers`` model (the package the design names).

``text_tower(model)`` builds ``SentenceTransformer(modules=[Transformer, Pooling, Normalize])``:
the MiniLM architecture and tokenizer (at most ``text_max_length`` = 64 tokens), **CLS pooling**
of the last hidden state (CLOSP's text embedding; MiniLM's own ``modules.json`` says mean
pooling, which would be wrong here), then L2 normalisation. Its BERT weights are copied from
``model.text_model`` — the checkpoint's ``text_model.*`` tensors — through the same strict key
check as every checkpoint. It gives the vectors of ``Embedder.encode_text`` to within 1e-5
(tested, long and non-Latin texts included).

``save_text_tower(model, folder)`` writes it as a self-contained sentence-transformers folder,
which ``SentenceTransformer(folder)`` loads — also with ``backend="onnx"`` or ``"openvino"``
where Optimum is installed (not a dependency of this project; see ``bench/text.py`` and the
README for the measured latencies and why the app keeps the plain torch path).
"""

from __future__ import annotations

from pathlib import Path

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer import modules as st_modules

from closp_core.model.checkpoint import apply_state_dict
from closp_core.model.closp import ClospModel
from closp_core.model.text import quiet_weight_loading, resolve_text_model_dir


def text_tower(model: ClospModel, device: str | torch.device = "cpu") -> SentenceTransformer:
    """``model``'s text encoder as a ``SentenceTransformer`` (CLS pooling, 64 tokens, unit
    vectors); its weights are a copy of ``model.text_model``'s, on ``device``.

    Raises ``CheckpointMismatchError`` when the text weights do not fit the architecture named
    by ``model.config.text_model_name_or_path``.
    """
    folder = resolve_text_model_dir(model.config.text_model_name_or_path)
    with quiet_weight_loading():
        transformer = st_modules.Transformer(
            str(folder), max_seq_length=model.config.text_max_length
        )
    apply_state_dict(transformer.auto_model, model.text_model.state_dict())
    pooling = st_modules.Pooling(transformer.get_embedding_dimension(), pooling_mode="cls")
    tower = SentenceTransformer(
        modules=[transformer, pooling, st_modules.Normalize()],
        device=str(device),
        similarity_fn_name="cosine",
    )
    return tower.eval()


def save_text_tower(model: ClospModel, folder: Path) -> Path:
    """Write ``text_tower(model)`` as a sentence-transformers folder; returns ``folder``."""
    tower = text_tower(model)
    with quiet_weight_loading():
        tower.save(str(folder))
    return Path(folder)
