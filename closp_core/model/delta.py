"""Delta checkpoints: only the tensors training changed, on top of a base model.

A delta folder holds ``delta.json`` and ``delta.safetensors``. ``delta.json`` names the base
(``base_model``: a ``load_model`` name, or ``"random:<variant>"`` with ``base_seed`` for a seeded
``create_model``), the base's ``fingerprint`` (sha256 over every tensor the delta does *not*
replace, so a base that cannot be rebuilt bit-for-bit is refused instead of silently giving wrong
vectors) and the model ``config``. The projections of CLOSP-RN are ~3 MB, so a model trained on
frozen backbones ships in a few MB. This module reads and applies the format; building the
base is ``factory.load_delta``'s part (``load_model(folder)`` reads delta folders too).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from closp_core.errors import CheckpointMismatchError, WeightsUnavailableError
from closp_core.model.checkpoint import file_digest
from closp_core.model.closp import ClospModel

DELTA_CONFIG = "delta.json"
DELTA_WEIGHTS = "delta.safetensors"


def base_fingerprint(model: ClospModel, replaced: Iterable[str]) -> str:
    """sha256 (hex) over names, shapes and bytes of the state-dict tensors not in ``replaced``."""
    skip = set(replaced)
    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        if key in skip:
            continue
        tensor = value.detach().cpu().contiguous()
        digest.update(f"{key}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_delta(
    model: ClospModel,
    keys: Iterable[str],
    folder: Path,
    base_model: str,
    base_seed: int = 0,
    fingerprint: str | None = None,
) -> Path:
    """Write ``model``'s tensors under ``keys`` plus ``delta.json`` into ``folder``.

    ``fingerprint`` must be ``base_fingerprint`` of the *base* model (before training); it is
    computed from ``model`` when omitted, which is right only if nothing outside ``keys``
    changed.
    """
    keys = list(keys)
    state = model.state_dict()
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: state[k].detach().cpu().contiguous() for k in keys}
    save_file(tensors, str(folder / DELTA_WEIGHTS), {"format": "pt"})
    (folder / DELTA_WEIGHTS).chmod(0o644)  # safetensors writes 0600; a shipped model is public
    meta: dict[str, Any] = {
        "format": "closp-delta/1",
        "base_model": base_model,
        "base_seed": base_seed,
        "fingerprint": fingerprint or base_fingerprint(model, keys),
        "config": model.config.to_dict(),
    }
    (folder / DELTA_CONFIG).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return folder


def is_delta_folder(path: str | Path) -> bool:
    return (Path(path) / DELTA_CONFIG).is_file()


@dataclasses.dataclass(frozen=True)
class Delta:
    """A delta folder as read: its base, the base's fingerprint and the trained tensors."""

    folder: Path
    base_model: str  # a load_model name, or "random:<variant>" (seeded with base_seed)
    base_seed: int
    fingerprint: str  # base_fingerprint of the base, over every tensor not in ``tensors``
    tensors: dict[str, torch.Tensor]


def read_delta(folder: str | Path) -> Delta:
    """``delta.json`` and ``delta.safetensors`` of ``folder`` (``WeightsUnavailableError`` if
    either is missing or unreadable). ``factory.load_model(folder)`` builds the model."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / DELTA_CONFIG).read_text(encoding="utf-8"))
        tensors = load_file(str(folder / DELTA_WEIGHTS))
    except (OSError, json.JSONDecodeError, SafetensorError) as exc:
        raise WeightsUnavailableError(
            f"delta checkpoint {folder} is unreadable ({exc}); it needs {DELTA_CONFIG} and "
            f"{DELTA_WEIGHTS} as written by save_delta"
        ) from None
    return Delta(
        folder, str(meta["base_model"]), int(meta.get("base_seed", 0)), meta["fingerprint"], tensors
    )


def apply_delta(model: ClospModel, delta: Delta) -> ClospModel:
    """Check that ``model`` is the base ``delta`` was trained on, then load its tensors.

    Raises ``CheckpointMismatchError`` when the tensors do not fit or the base differs (its
    fingerprint); returns ``model`` in eval mode, named after the delta.
    """
    state = model.state_dict()
    tensors, where = delta.tensors, delta.folder
    unknown = sorted(set(tensors) - set(state))
    misshapen = sorted(k for k in tensors if k in state and state[k].shape != tensors[k].shape)
    if unknown or misshapen:
        raise CheckpointMismatchError(
            f"delta {where} does not fit its base {delta.base_model}: unknown keys "
            f"{unknown[:8]}, shape mismatches {misshapen[:8]}"
        )
    if base_fingerprint(model, tensors) != delta.fingerprint:
        raise CheckpointMismatchError(
            f"the base model {delta.base_model} (seed {delta.base_seed}) rebuilt "
            f"here differs from the one {where} was trained on (other torch/timm version?); "
            "retrain the delta with this installation or ship the full checkpoint"
        )
    model.load_state_dict(tensors, strict=False)
    digest = file_digest(where / DELTA_WEIGHTS)[:16]
    model.model_id = f"{model.config.variant}:delta-{digest}"
    model.source = f"{where} (delta on {delta.base_model})"
    model.kind = "delta"
    return model.eval()
