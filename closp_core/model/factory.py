"""Build, load and save CLOSP models.

``load_model(name)`` accepts a local folder (``config.json`` + ``model.safetensors``, or a
delta checkpoint: ``delta.json`` + ``delta.safetensors``, see ``delta.py``), a hub id
(``"DarthReca/CLOSP-RN"``), a variant name (``"closp-rn"``), or ``"random:<variant>"`` for an
explicitly requested, randomly initialised model (meaningless embeddings; tests and plumbing).
Hub ids resolve through ``huggingface_hub``: its cache, ``HF_HUB_OFFLINE=1`` and revision
pinning all apply; only the two files above are ever fetched (never the repository's remote
code).
"""

from __future__ import annotations

from pathlib import Path

import huggingface_hub
import torch
from huggingface_hub import constants as hub_constants
from huggingface_hub import errors as hub_errors

from closp_core.errors import ConfigError, WeightsUnavailableError
from closp_core.hubnet import hub_reachable
from closp_core.model.checkpoint import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    apply_state_dict,
    config_for_state_dict,
    file_digest,
    read_checkpoint,
    save_checkpoint,
)
from closp_core.model.closp import ClospModel
from closp_core.model.config import VARIANTS, ClospConfig, variant_name
from closp_core.model.delta import apply_delta, is_delta_folder, read_delta
from closp_core.model.text import load_text_backbone

RANDOM_PREFIX = "random:"


def build_model(config: ClospConfig) -> ClospModel:
    """A model of ``config``: random image encoders, pretrained text backbone, in eval mode."""
    text_model, tokenizer = load_text_backbone(config.text_model_name_or_path)
    return ClospModel(config, text_model, tokenizer).eval()


def create_model(variant: str, seed: int = 0) -> ClospModel:
    """A *randomly initialised* model of ``variant`` (for tests and training from scratch).

    Its image embeddings mean nothing until trained; ``model_id`` says so.
    """
    config = VARIANTS[variant_name(variant)].config
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(config)
    model.model_id = f"{config.variant}:random-seed{seed}"
    model.source = f"randomly initialised {config.variant} (seed {seed})"
    model.kind = "random"
    return model


def load_model(
    name_or_path: str | Path,
    revision: str | None = None,
    cache_dir: Path | None = None,
) -> ClospModel:
    """Load released or saved weights; see the module docstring for what ``name_or_path`` is.

    Raises ``WeightsUnavailableError`` when the weights cannot be found or fetched, and
    ``CheckpointMismatchError`` when they do not fit the model their config describes.
    """
    if str(name_or_path).startswith(RANDOM_PREFIX):
        return create_model(str(name_or_path)[len(RANDOM_PREFIX) :])
    if is_delta_folder(name_or_path):
        return load_delta(name_or_path)
    folder = resolve_model_dir(name_or_path, revision, cache_dir)
    raw_config, state_dict = read_checkpoint(folder)
    config = config_for_state_dict(ClospConfig.from_dict(raw_config), state_dict)
    model = build_model(config)
    apply_state_dict(model, state_dict)
    model.model_id = f"{config.variant}:{file_digest(folder / WEIGHTS_NAME)[:16]}"
    model.source = str(name_or_path) + (f"@{revision}" if revision else "")
    model.kind = "local" if Path(name_or_path).expanduser().is_dir() else "official"
    return model


def load_base(base_model: str, base_seed: int = 0) -> ClospModel:
    """The base of a delta: a seeded random model (``random:<variant>``) or a ``load_model``
    name."""
    if base_model.startswith(RANDOM_PREFIX):
        return create_model(base_model[len(RANDOM_PREFIX) :], seed=base_seed)
    return load_model(base_model)


def load_delta(folder: str | Path) -> ClospModel:
    """Rebuild the base named in ``delta.json``, check its fingerprint, apply the tensors."""
    delta = read_delta(folder)
    return apply_delta(load_base(delta.base_model, delta.base_seed), delta)


def save_model(model: ClospModel, folder: Path) -> Path:
    """Write ``model`` in the released layout, loadable with ``load_model(folder)``."""
    return save_checkpoint(Path(folder), model.config, model.state_dict())


def resolve_model_dir(
    name_or_path: str | Path, revision: str | None = None, cache_dir: Path | None = None
) -> Path:
    """A local folder holding ``config.json`` and ``model.safetensors`` for ``name_or_path``."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        missing = [n for n in (CONFIG_NAME, WEIGHTS_NAME) if not (path / n).is_file()]
        if missing:
            raise WeightsUnavailableError(
                f"model folder {path} lacks {', '.join(missing)}; it needs {CONFIG_NAME} and "
                f"{WEIGHTS_NAME} (the layout save_model writes and the hub repositories hold)"
            )
        return path
    name = str(name_or_path)
    try:
        repo_id = VARIANTS[variant_name(name)].hub_id
    except ConfigError:
        repo_id = name
    if repo_id.count("/") != 1 or path.is_absolute() or name.startswith((".", "~")):
        raise WeightsUnavailableError(
            f"model {name!r} is neither an existing folder nor a hub id like "
            f"'DarthReca/CLOSP-RN'; known variants: {', '.join(VARIANTS)}"
        )
    return _download(repo_id, revision, cache_dir)


def _fetch(repo_id: str, revision: str | None, cache_dir: Path | None, offline: bool) -> Path:
    files = [
        huggingface_hub.hf_hub_download(
            repo_id, name, revision=revision, cache_dir=cache_dir, local_files_only=offline
        )
        for name in (CONFIG_NAME, WEIGHTS_NAME)
    ]
    return Path(files[0]).parent


def _download(repo_id: str, revision: str | None, cache_dir: Path | None) -> Path:
    """The cached snapshot if there is one (no network), else a download from the hub."""
    try:
        return _fetch(repo_id, revision, cache_dir, offline=True)
    except hub_errors.LocalEntryNotFoundError:
        pass
    try:
        if hub_constants.HF_HUB_OFFLINE or not hub_reachable():
            raise hub_errors.LocalEntryNotFoundError("not cached, and the hub is unreachable")
        return _fetch(repo_id, revision, cache_dir, offline=False)
    except (hub_errors.HfHubHTTPError, hub_errors.LocalEntryNotFoundError, OSError) as exc:
        at = f" at revision {revision!r}" if revision else ""
        raise WeightsUnavailableError(
            f"CLOSP weights {repo_id}{at} are not in the Hugging Face cache and the hub could "
            f"not be reached ({type(exc).__name__}). On a connected machine run "
            f"`hf download {repo_id} {CONFIG_NAME} {WEIGHTS_NAME}` (then copy the cache, or "
            f"point CLOSP_MODEL at a folder with those two files)."
        ) from None
