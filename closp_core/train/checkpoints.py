"""Saving the best model a run has produced so far (``BestSaver``); ``session.py`` saves the
resumable state, logs and summary."""

from __future__ import annotations

from pathlib import Path

from closp_core.model import ClospModel, save_model
from closp_core.model.delta import base_fingerprint, save_delta
from closp_core.train.config import TrainConfig
from closp_core.train.parts import trained_keys

BEST_DIR = "best"
DELTA_DIR = "best-delta"


class BestSaver:
    """Writes the best model so far: ``best/`` (``save_model`` layout, ``load_model`` reads it)
    and/or ``best-delta/`` (only the trained tensors; see ``delta.py``)."""

    def __init__(self, config: TrainConfig, model: ClospModel, names: list[str]) -> None:
        self.config = config
        self.keys = trained_keys(model, names)
        self.full = config.output.save in ("full", "both")
        self.delta = config.output.save in ("delta", "both")
        init = config.model.init
        self.base_model = init or f"random:{model.config.variant}"
        self.base_seed = 0 if init else config.model.seed
        self.fingerprint = base_fingerprint(model, self.keys) if self.delta else None

    @property
    def best_dir(self) -> Path | None:
        return self.config.output_dir / BEST_DIR if self.full else None

    @property
    def delta_dir(self) -> Path | None:
        return self.config.output_dir / DELTA_DIR if self.delta else None

    def save_best(self, model: ClospModel) -> None:
        if self.full:
            save_model(model, self.config.output_dir / BEST_DIR)
        if self.delta:
            save_delta(
                model,
                self.keys,
                self.config.output_dir / DELTA_DIR,
                self.base_model,
                self.base_seed,
                self.fingerprint,
            )
