"""A training session end to end: read and check the data, build the model, resume if asked,
run the ``Trainer`` to the end, then write the resumable state, logs and summary.

``train(config)`` is the entry point; every bad-config path raises ``ConfigError`` before the
first forward pass.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from closp_core.data.base import ChipSource
from closp_core.errors import ConfigError
from closp_core.rundata import SourceSection, build_sources
from closp_core.train.config import TrainConfig
from closp_core.train.data import check_training_data, read_training_data
from closp_core.train.loop import Trainer
from closp_core.train.parts import build_training_model, trainable_names
from closp_core.train.runlog import plot_losses, write_csv, write_json
from closp_core.train.state import load_state, resume_view, save_state


@dataclasses.dataclass
class TrainResult:
    """Where a run wrote its outputs and how it went."""

    output_dir: Path
    best_dir: Path | None  # save_model layout (output.save = full | both)
    delta_dir: Path | None  # delta layout (output.save = delta | both)
    best_val_loss: float
    steps: int
    history: list[dict[str, Any]]
    summary: dict[str, Any]


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


def train(
    config: TrainConfig,
    sources: Sequence[tuple[SourceSection, ChipSource]] | None = None,
    resume: bool = False,
    stop_after: int | None = None,
) -> TrainResult:
    """Run a training config end to end; see the module docstring.

    ``stop_after``: end this session after that optimizer step (a time budget; continue later
    with ``resume=True``, which picks up from the last validation).
    """
    built = list(sources) if sources is not None else build_sources(config.data)
    if config.train.cache_features and config.train.frozen_backbone_epochs:
        raise ConfigError("train.cache_features cannot be combined with frozen_backbone_epochs")
    torch.manual_seed(config.model.seed)
    model = build_training_model(config)
    names = trainable_names(model, config)
    data = read_training_data(config, built)
    check_training_data(config, data)
    trainer = Trainer(config, model, names, data)
    if resume:
        restore(trainer)
    return run_to_end(trainer, stop_after)
