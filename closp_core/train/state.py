"""Resumable training state (``<output>/last/state.pt``) and the step plan.

The state file holds tensors, numbers and strings only and is read with
``torch.load(weights_only=True)``: loading it never runs pickled code.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from closp_core.errors import ConfigError
from closp_core.train.config import TrainConfig
from closp_core.train.data import TrainData

STATE_DIR = "last"
STATE_NAME = "state.pt"
# Keys that may change between a run and its resumption.
RESUME_FREE_KEYS = frozenset({"progress", "device", "threads"})


@dataclasses.dataclass(frozen=True)
class StepPlan:
    """How many optimizer steps a run makes: per epoch, in total, and frozen at the start."""

    steps_per_epoch: int
    total_steps: int
    frozen_steps: int
    batches: dict[str, int]  # sensor -> full batches in one pass over its training chips


def plan_steps(config: TrainConfig, data: TrainData) -> StepPlan:
    """Epoch = one pass over the smaller (``epoch_length = "min"``) or larger sensor's chips."""
    train = config.train
    batches = {s.value: data.count("train", s) // train.batch_size for s in config.sensors}
    pick = min if train.epoch_length == "min" else max
    per_epoch = pick(batches.values()) // train.grad_accum
    if per_epoch < 1:
        raise ConfigError(
            f"batch_size {train.batch_size} x grad_accum {train.grad_accum} needs more chips "
            f"than one epoch has (full batches per sensor: {batches}); lower them or add data"
        )
    total = per_epoch * train.epochs
    if train.max_steps:
        total = min(total, train.max_steps)
    return StepPlan(per_epoch, total, per_epoch * train.frozen_backbone_epochs, batches)


def one_cycle(total_steps: int, warmup_fraction: float) -> Callable[[int], float]:
    """LR factor per step, as ``torch``'s ``OneCycleLR`` (cosine): from 1/25 of the peak up to
    the peak over the warm-up share, then down to 1/(25 * 10^4) of it. Works for any length."""
    warm = max(1, math.ceil(total_steps * warmup_fraction))
    start, end = 1.0 / 25.0, 1.0 / 25.0 / 1e4

    def factor(step: int) -> float:
        if step < warm:
            return start + (1.0 - start) * step / warm
        rest = max(1, total_steps - warm)
        t = min(1.0, (step - warm) / rest)
        return end + (1.0 - end) * 0.5 * (1.0 + math.cos(math.pi * t))

    return factor


def resume_view(config: TrainConfig) -> dict[str, Any]:
    """The config as compared on resume: everything but keys that may change."""
    data = config.to_dict()
    data["train"] = {k: v for k, v in data["train"].items() if k not in RESUME_FREE_KEYS}
    return data


def save_state(folder: Path, state: dict[str, Any]) -> Path:
    """Atomically write ``state`` to ``folder/last/state.pt``."""
    target_dir = folder / STATE_DIR
    target_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=STATE_NAME, suffix=".tmp", dir=target_dir)
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, target_dir / STATE_NAME)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target_dir / STATE_NAME


def load_state(folder: Path, config: TrainConfig) -> dict[str, Any]:
    """The saved state of a run in ``folder``; ``ConfigError`` if absent or from another config."""
    path = folder / STATE_DIR / STATE_NAME
    if not path.is_file():
        raise ConfigError(f"nothing to resume: {path} does not exist; start without --resume")
    state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("config") != resume_view(config):
        raise ConfigError(
            f"{path} was written by a different training config; resume with the same config "
            "(only train.progress, device and threads may change) or use a new output.dir"
        )
    return state
