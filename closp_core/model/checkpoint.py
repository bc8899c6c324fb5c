"""Checkpoints in the released layout: ``config.json`` + ``model.safetensors`` in one folder.

State-dict keys pass through ``map_state_dict_keys`` (explicit rules, each tested) and must then
match the model exactly; otherwise ``CheckpointMismatchError`` lists what is missing or extra.
Only safetensors are read: nothing downloaded is ever unpickled or executed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from closp_core.errors import CheckpointMismatchError
from closp_core.model.config import ClospConfig

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

# Rule 1: an outer wrapper prefix carried by *every* key is stripped (DataParallel's "module.",
# a Lightning module's "model.").
WRAPPER_PREFIXES = ("module.", "model.")
# Rule 2: buffers that older `transformers` versions saved but that are not weights.
DROPPED_KEYS = frozenset({"text_model.embeddings.position_ids"})

_HEAD_KEYS = ("fc.weight", "head.weight")  # timm ResNet / ViT classifier
_LAYER_KEY = re.compile(r"^location_encoder\.nnet\.layers\.(\d+)\.weight$")


def map_state_dict_keys(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Released / wrapped checkpoint keys -> our module's keys (rules above)."""
    mapped = dict(state_dict)
    stripped = True
    while stripped and mapped:
        stripped = False
        for prefix in WRAPPER_PREFIXES:
            if all(key.startswith(prefix) for key in mapped):
                mapped = {key[len(prefix) :]: value for key, value in mapped.items()}
                stripped = True
    return {key: value for key, value in mapped.items() if key not in DROPPED_KEYS}


def config_for_state_dict(
    config: ClospConfig, state_dict: Mapping[str, torch.Tensor]
) -> ClospConfig:
    """Take head, projection and location-encoder widths from the tensors' shapes.

    The released ``config.json`` names these widths with keys whose meaning is not documented;
    the shapes are unambiguous, so they win.
    """
    changes: dict[str, Any] = {}
    for sensor in ("s1", "s2"):
        projection = state_dict.get(f"{sensor}_projection.weight")
        if projection is not None:
            changes["projection_dim"] = projection.shape[0]
            changes[f"{sensor}_embedding_dim"] = projection.shape[1]
            heads = [state_dict.get(f"{sensor}_encoder.{key}") for key in _HEAD_KEYS]
            head = next((h for h in heads if h is not None), None)
            changes[f"{sensor}_head_dim"] = 0 if head is None else head.shape[0]
    layers = sorted(int(m.group(1)) for k in state_dict if (m := _LAYER_KEY.match(k)))
    if layers:
        first = state_dict["location_encoder.nnet.layers.0.weight"]
        last = state_dict.get("location_encoder.nnet.last_layer.weight")
        changes["use_location_encoder"] = True
        changes["location_num_layers"] = len(layers)
        changes["location_hidden_dim"] = first.shape[0]
        changes["location_legendre_polys"] = round(first.shape[1] ** 0.5)
        if last is not None:
            changes["location_embedding_dim"] = last.shape[0]
    return dataclasses.replace(config, **changes)


def apply_state_dict(model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Copy every tensor into ``model``; any missing, unexpected or misshapen key is an error."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    misshapen = sorted(
        f"{key}: checkpoint {tuple(state_dict[key].shape)} vs model {tuple(value.shape)}"
        for key, value in expected.items()
        if key in state_dict and state_dict[key].shape != value.shape
    )
    if missing or unexpected or misshapen:
        parts = [
            f"{name} ({len(keys)}): {_preview(keys)}"
            for name, keys in (
                ("missing keys", missing),
                ("unexpected keys", unexpected),
                ("shape mismatches", misshapen),
            )
            if keys
        ]
        raise CheckpointMismatchError(
            "checkpoint does not fit the model; "
            + "; ".join(parts)
            + ". Check that config.json names the right variant."
        )
    model.load_state_dict(dict(state_dict), strict=True)


def _preview(keys: list[str], limit: int = 12) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... and {len(keys) - limit} more" if len(keys) > limit else "")


def read_checkpoint(folder: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """``folder/config.json`` as a dict and ``folder/model.safetensors`` with mapped keys."""
    config_path, weights_path = folder / CONFIG_NAME, folder / WEIGHTS_NAME
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CheckpointMismatchError(f"{config_path} is not valid JSON: {exc}") from None
    try:
        tensors = load_file(weights_path)
    except (SafetensorError, OSError) as exc:
        raise CheckpointMismatchError(
            f"{weights_path} is not a readable safetensors file ({exc}); download it again"
        ) from None
    return config, map_state_dict_keys(tensors)


def file_digest(path: Path) -> str:
    """sha256 of a file, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_checkpoint(
    folder: Path, config: ClospConfig, state_dict: Mapping[str, torch.Tensor]
) -> Path:
    """Write ``config.json`` and ``model.safetensors`` (float tensors as stored, metadata
    ``{"format": "pt"}``), each atomically. Returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {key: value.detach().cpu().contiguous() for key, value in state_dict.items()}
    _atomic_write(folder / WEIGHTS_NAME, lambda tmp: save_file(tensors, tmp, {"format": "pt"}))
    text = json.dumps(config.to_dict(), indent=2) + "\n"
    _atomic_write(folder / CONFIG_NAME, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return folder


def _atomic_write(target: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(prefix=target.name, suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
