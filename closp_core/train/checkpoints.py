"""Saving what a run produces: the best model, resumable state, logs and the summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from tqdm.auto import tqdm

from closp_core.errors import ConfigError
from closp_core.model import ClospModel, save_model
from closp_core.model.delta import base_fingerprint, save_delta
from closp_core.train.config import TrainConfig
from closp_core.train.parts import trained_keys
from closp_core.train.runlog import plot_losses, write_csv, write_json
from closp_core.train.state import load_state, resume_view, save_state

if TYPE_CHECKING:
    from closp_core.train.loop import Trainer, TrainResult

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


def trainer_state(trainer: Trainer) -> dict[str, Any]:
    """Everything ``restore`` needs to continue a run exactly: tensors, numbers, strings."""
    state = trainer.model.state_dict()
    return {
        "config": resume_view(trainer.config),
        "trained": {k: state[k].detach().cpu() for k in trainer.saver.keys},
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": trainer.scheduler.state_dict(),
        "scaler": trainer.scaler.state_dict(),
        "step": trainer.step,
        "best_val": trainer.best_val,
        "best_step": trainer.best_step,
        "history": trainer.history,
        "torch_rng": torch.get_rng_state(),
    }


def restore(trainer: Trainer) -> None:
    """Continue the run saved in ``output.dir`` (``ConfigError`` if none, or another config)."""
    state = load_state(trainer.config.output_dir, trainer.config)
    missing = sorted(set(trainer.saver.keys) - set(state["trained"]))
    if missing:
        raise ConfigError(f"resume state lacks tensors {missing[:5]}; start a new run")
    trainer.model.load_state_dict(state["trained"], strict=False)
    trainer.optimizer.load_state_dict(state["optimizer"])
    trainer.scheduler.load_state_dict(state["scheduler"])
    trainer.scaler.load_state_dict(state["scaler"])
    trainer.step = int(state["step"])
    trainer.best_val = float(state["best_val"])
    trainer.best_step = int(state["best_step"])
    trainer.history = list(state["history"])
    torch.set_rng_state(state["torch_rng"])


def run_to_end(trainer: Trainer, stop_after: int | None = None) -> TrainResult:
    """Train with a progress bar; save state at each validation; write logs and summary."""
    from closp_core.train.loop import TrainResult

    config, out = trainer.config, trainer.config.output_dir
    out.mkdir(parents=True, exist_ok=True)
    (out / "train-config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    if config.train.cache_features:
        trainer.compute_features()
    first = trainer.step
    bar = tqdm(
        total=trainer.plan.total_steps,
        initial=trainer.step,
        disable=not config.train.progress,
        desc="train",
        unit="step",
    )
    with bar:
        for row in trainer.iterate():
            bar.update(1)
            bar.set_postfix(loss=f"{row['train_loss']:.4f}", val=row.get("val_loss", "-"))
            if "val_loss" in row:
                save_state(out, trainer_state(trainer))
            if stop_after is not None and trainer.step >= stop_after:
                break
    timed = [float(r["step_s"]) for r in trainer.history[first:] if "step_s" in r]
    summary = run_summary(trainer, timed)
    write_csv(trainer.history, out / "log.csv")
    write_json(trainer.history, summary, out / "log.json")
    if trainer.history:
        plot_losses(trainer.history, out / "loss.png")
    saver = trainer.saver
    return TrainResult(
        out, saver.best_dir, saver.delta_dir, trainer.best_val, trainer.step,
        trainer.history, summary,
    )  # fmt: skip


def run_summary(trainer: Trainer, step_seconds: list[float]) -> dict[str, Any]:
    """Totals and throughput of this session's optimizer steps (validation not included);
    steps/s and chips/s leave out the first (warm-up) step."""
    config = trainer.config
    steady = step_seconds[1:] or step_seconds
    per_step = sum(steady) / len(steady) if steady else float("nan")
    chips_per_step = config.train.batch_size * config.train.grad_accum * len(config.sensors)
    count = trainer.data.count
    return {
        "variant": trainer.model.config.variant,
        "device": str(trainer.device),
        "autocast": str(trainer.amp_dtype) if trainer.amp_dtype else "off",
        "steps": trainer.step,
        "steps_per_epoch": trainer.plan.steps_per_epoch,
        "best_val_loss": trainer.best_val,
        "best_step": trainer.best_step,
        "train_chips": {s.value: count("train", s) for s in config.sensors},
        "val_chips": {s.value: count("val", s) for s in config.sensors},
        "skipped": dict(trainer.data.tally.skipped),
        "trainable_params": sum(
            p.numel() for n, p in trainer.model.named_parameters() if n in set(trainer.names)
        ),
        "seconds_per_step": per_step,
        "steps_per_s": 1.0 / per_step if per_step > 0 else float("nan"),
        "chips_per_s": chips_per_step / per_step if per_step > 0 else float("nan"),
        "best_dir": str(trainer.saver.best_dir) if trainer.saver.best_dir else None,
        "delta_dir": str(trainer.saver.delta_dir) if trainer.saver.delta_dir else None,
    }
