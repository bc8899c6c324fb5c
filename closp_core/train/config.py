"""The training config: a TOML file with ``[model]``, ``[data]``, ``[train]`` and ``[output]``.

``[data]`` (sources and the held-out split) is ``closp_core.rundata``'s, shared with evaluation.

Every key is checked when the file is read (unknown keys, wrong types, impossible values), so a
typo fails in a second instead of after an hour of training. Relative paths are resolved
against the config file's folder. See ``configs/reference.toml`` for every key, commented.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from closp_core.bands import Sensor
from closp_core.errors import ConfigError
from closp_core.model import variant_name
from closp_core.rundata import DataSection, check_data_section, resolve_source_paths
from closp_core.rundata import SourceSection as SourceSection  # train/data.py imports it here
from closp_core.tomltables import build_dataclass, read_toml_file, resolve_path

# Top-level parts of a ClospModel; trainable prefixes must start with one (or be a group).
MODEL_PARTS = (
    "s1_encoder",
    "s2_encoder",
    "text_model",
    "s1_projection",
    "s2_projection",
    "location_encoder",
    "location_projection",
)
TRAINABLE_GROUPS: dict[str, tuple[str, ...]] = {
    "all": MODEL_PARTS,
    "projections": ("s1_projection", "s2_projection", "location_projection"),
    "heads": ("s1_encoder.fc", "s2_encoder.fc", "s1_encoder.head", "s2_encoder.head"),
}
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_ENCODERS = ("s1_encoder", "s2_encoder")
SAVE_MODES = ("full", "delta", "both")


@dataclasses.dataclass(frozen=True)
class ModelSection:
    """Which model to train: a fresh ``variant`` (random image encoders, seeded) or ``init``."""

    variant: str = "closp-rn"
    init: str = ""  # load_model name/path to start from; "" = create_model(variant, seed)
    seed: int = 42  # model init and training


@dataclasses.dataclass(frozen=True)
class TrainSection:
    epochs: int = 30
    max_steps: int = 0  # > 0: stop after this many optimizer steps
    batch_size: int = 64  # per sensor
    grad_accum: int = 1  # micro-batches per optimizer step
    lr: float = 1e-6  # one-cycle peak
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1  # one-cycle warm-up share
    logit_scale: float = 1.0  # similarity multiplier (1 / temperature); fixed
    multi_positive: bool = False  # chips with the same text are positives of each other
    location_weight: float = 1.0  # GeoCLOSP image<->location term weight
    flips: bool = True  # random horizontal / vertical flips
    trainable: tuple[str, ...] = ("all",)  # groups (all, projections, heads) or module prefixes
    freeze_text: bool = False
    frozen_backbone_epochs: int = 0  # warm-up epochs training only the projections
    cache_features: bool = False  # frozen backbones: run them once, train on their outputs
    epoch_length: str = "min"  # min | max: epoch ends with the smaller / larger sensor
    precision: str = "auto"  # auto = bf16 (else fp16) autocast on CUDA, fp32 elsewhere
    device: str = "auto"
    threads: int = 0  # CPU threads (0 = all cores)
    val_every: int = 0  # validate every N optimizer steps (0 = once per epoch)
    progress: bool = True


@dataclasses.dataclass(frozen=True)
class OutputSection:
    dir: str = "runs/closp"
    save: str = "full"  # full: save_model layout; delta: trained tensors on a base; both
    cache_dir: str = ""  # chip cache ("" = <dir>/cache)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    model: ModelSection = dataclasses.field(default_factory=ModelSection)
    data: DataSection = dataclasses.field(default_factory=DataSection)
    train: TrainSection = dataclasses.field(default_factory=TrainSection)
    output: OutputSection = dataclasses.field(default_factory=OutputSection)

    @property
    def sensors(self) -> tuple[Sensor, ...]:
        return self.data.sensor_set

    @property
    def output_dir(self) -> Path:
        return Path(self.output.dir)

    @property
    def cache_dir(self) -> Path:
        return Path(self.output.cache_dir) if self.output.cache_dir else self.output_dir / "cache"

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], base_dir: Path | None = None) -> TrainConfig:
        """Parse and check a config dict (the TOML content); paths resolve against ``base_dir``."""
        config = build_dataclass(cls, raw, "config")
        config = _resolve_paths(config, base_dir or Path.cwd())
        check_config(config)
        return config

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_config(path: str | Path) -> TrainConfig:
    """Read and check a TOML training config; ``ConfigError`` says what is wrong."""
    raw, base = read_toml_file(path, "training config", "configs/reference.toml")
    return TrainConfig.from_mapping(raw, base_dir=base)


def _resolve_paths(config: TrainConfig, base: Path) -> TrainConfig:
    output = dataclasses.replace(
        config.output,
        dir=resolve_path(config.output.dir, base),
        cache_dir=resolve_path(config.output.cache_dir, base),
    )
    model = config.model
    if model.init and not model.init.startswith("random:") and Path(base / model.init).exists():
        model = dataclasses.replace(model, init=resolve_path(model.init, base))
    data = resolve_source_paths(config.data, base)
    return dataclasses.replace(config, data=data, output=output, model=model)


def trainable_prefixes(items: tuple[str, ...]) -> tuple[str, ...]:
    """Groups (``all``, ``projections``, ``heads``) expanded into module-name prefixes."""
    out: list[str] = []
    for item in items:
        out.extend(TRAINABLE_GROUPS.get(item, (item,)))
    return tuple(dict.fromkeys(out))


def check_config(config: TrainConfig) -> None:
    """Every check that needs no data and no model; ``ConfigError`` on the first problem."""
    variant_name(config.model.variant)  # ConfigError for an unknown variant
    check_data_section(config.data)
    _check_train(config.train)
    if config.output.save not in SAVE_MODES:
        raise ConfigError(f"output.save must be one of {SAVE_MODES}, got {config.output.save!r}")


def _check_train(train: TrainSection) -> None:
    positive = {"epochs": train.epochs, "batch_size": train.batch_size}
    positive["grad_accum"] = train.grad_accum
    for name, value in positive.items():
        if value < 1:
            raise ConfigError(f"train.{name} must be >= 1, got {value}")
    if train.batch_size < 2:
        raise ConfigError("train.batch_size must be >= 2: in-batch negatives need two chips")
    if train.lr <= 0 or train.logit_scale <= 0 or train.weight_decay < 0:
        raise ConfigError("train.lr and train.logit_scale must be > 0, weight_decay >= 0")
    if not 0.0 < train.warmup_fraction < 1.0:
        raise ConfigError(f"train.warmup_fraction must be in (0, 1), got {train.warmup_fraction}")
    if train.precision not in PRECISIONS:
        raise ConfigError(f"train.precision must be one of {PRECISIONS}, got {train.precision!r}")
    if train.epoch_length not in ("min", "max"):
        raise ConfigError(f"train.epoch_length must be 'min' or 'max', got {train.epoch_length!r}")
    if train.frozen_backbone_epochs < 0 or train.max_steps < 0 or train.val_every < 0:
        raise ConfigError("train.frozen_backbone_epochs, max_steps and val_every must be >= 0")
    for prefix in trainable_prefixes(train.trainable):
        if prefix.split(".")[0] not in MODEL_PARTS:
            raise ConfigError(
                f"train.trainable: {prefix!r} names no part of the model; use "
                f"{sorted(TRAINABLE_GROUPS)} or prefixes of {list(MODEL_PARTS)}"
            )
    encoders = [p for p in trainable_prefixes(train.trainable) if p.split(".")[0] in _ENCODERS]
    if train.cache_features and encoders:
        raise ConfigError(
            f"train.cache_features needs frozen image backbones, but {encoders} are trainable; "
            "use trainable = ['projections'] (or turn cache_features off)"
        )
    if train.cache_features and (train.flips or train.frozen_backbone_epochs):
        raise ConfigError(
            "train.cache_features runs the frozen backbones once: set flips = false and "
            "frozen_backbone_epochs = 0"
        )
