"""Chips for training: read every source once into per-sensor arrays, split, and batch them.

Reading writes each (role, sensor) pool to a raw float32 file in the cache folder and maps it
back with ``np.memmap``, so a corpus larger than memory trains from disk through the page cache.
Text per chip = ``label_text(chip.labels)``; chips without labels are skipped (and counted).
Validation chips are chosen by a hash of the chip key (stable across runs and reader order).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from closp_core.bands import BANDS, Sensor, check_model_input
from closp_core.data.base import ChipSource
from closp_core.data.chip import Chip, Tally
from closp_core.errors import BandContractError, ConfigError
from closp_core.labels import label_text
from closp_core.rundata import is_validation_key
from closp_core.sources import build_source, iter_chips
from closp_core.train.config import DataSection, SourceSection, TrainConfig

ROLES = ("train", "val")


@dataclasses.dataclass
class ChipPool:
    """The chips of one sensor for one role.

    ``pixels``: ``(N, C, S, S) float32`` model input (memmap); ``texts``: N training texts;
    ``lonlat``: ``(N, 2) float32`` chip centres in degrees; ``keys``: N chip keys.
    """

    sensor: Sensor
    pixels: np.ndarray
    texts: list[str]
    lonlat: np.ndarray
    keys: list[str]

    def __len__(self) -> int:
        return len(self.keys)


@dataclasses.dataclass
class TrainData:
    """Pools by role (``train``/``val``) and sensor, and what reading skipped."""

    pools: dict[str, dict[Sensor, ChipPool]]
    tally: Tally

    def pool(self, role: str, sensor: Sensor) -> ChipPool | None:
        return self.pools.get(role, {}).get(sensor)

    def count(self, role: str, sensor: Sensor) -> int:
        pool = self.pool(role, sensor)
        return 0 if pool is None else len(pool)


class _PoolWriter:
    """Appends chips of one (role, sensor) to a raw float32 file, then maps it back."""

    def __init__(self, path: Path, sensor: Sensor, size: int) -> None:
        self.path, self.sensor, self.size = path, sensor, size
        self.file: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed in finish()
        self.texts: list[str] = []
        self.lonlat: list[tuple[float, float]] = []
        self.keys: list[str] = []

    def add(self, pixels: np.ndarray, chip: Chip) -> None:
        self.file.write(np.ascontiguousarray(pixels, dtype=np.float32).tobytes())
        self.texts.append(label_text(chip.labels))
        self.lonlat.append((float(chip.center[0]), float(chip.center[1])))
        self.keys.append(chip.key)

    def finish(self) -> ChipPool:
        self.file.close()
        shape = (len(self.keys), len(BANDS[self.sensor]), self.size, self.size)
        pixels = (
            np.memmap(self.path, dtype=np.float32, mode="r", shape=shape)
            if self.keys
            else np.zeros(shape, dtype=np.float32)
        )
        lonlat = np.asarray(self.lonlat, dtype=np.float32).reshape(-1, 2)
        return ChipPool(self.sensor, pixels, self.texts, lonlat, self.keys)


def fit_chip(pixels: np.ndarray, sensor: Sensor, size: int) -> np.ndarray:
    """Check the band contract and resize ``(C, H, W)`` to ``(C, size, size)`` (bilinear)."""
    arr = check_model_input(pixels, sensor)[0]
    if arr.shape[-2:] == (size, size):
        return arr
    tensor = torch.from_numpy(arr)[None]
    out = torch.nn.functional.interpolate(
        tensor, size=(size, size), mode="bilinear", align_corners=False, antialias=True
    )
    return out[0].numpy()


def _source_chips(
    spec: SourceSection, source: ChipSource, sensors: Sequence[Sensor], tally: Tally
) -> Iterator[Chip]:
    """Labelled chips of the wanted sensors, at most ``spec.limit`` of them."""
    taken = 0
    for chip in iter_chips([source], tally):
        if chip.sensor not in sensors:
            tally.skip(f"sensor {chip.sensor.value} not trained")
            continue
        if not chip.labels:
            tally.skip("no labels")
            continue
        yield chip
        taken += 1
        if spec.limit and taken >= spec.limit:
            return


def read_training_data(
    config: TrainConfig, sources: Iterable[tuple[SourceSection, ChipSource]] | None = None
) -> TrainData:
    """Read every source of ``config`` (or the given ``(spec, source)`` pairs) into pools."""
    data: DataSection = config.data
    sensors = config.sensors
    pairs = list(sources) if sources is not None else [
        (spec, build_source(spec.kind, Path(spec.path), spec.options)) for spec in data.sources
    ]  # fmt: skip
    config.cache_dir.mkdir(parents=True, exist_ok=True)
    writers = {
        (role, s): _PoolWriter(config.cache_dir / f"{role}-{s.value}.f32", s, data.chip_size)
        for role in ROLES
        for s in sensors
    }
    tally = Tally()
    seen: set[str] = set()
    try:
        for spec, source in pairs:
            if spec.role == "test":  # held out from training and model selection alike
                continue
            for chip in _source_chips(spec, source, sensors, tally):
                if chip.key in seen:
                    tally.skip("duplicate key")
                    continue
                try:
                    pixels = fit_chip(chip.pixels, chip.sensor, data.chip_size)
                except BandContractError:
                    tally.skip("pixels break the band contract")
                    continue
                seen.add(chip.key)
                role = spec.role
                if role == "auto":
                    role = "val" if is_validation_key(chip.key, data.val_fraction) else "train"
                writers[(role, chip.sensor)].add(pixels, chip)
    finally:
        pools: dict[str, dict[Sensor, ChipPool]] = {role: {} for role in ROLES}
        for (role, sensor), writer in writers.items():
            pools[role][sensor] = writer.finish()
    return TrainData(pools, tally)


def check_training_data(config: TrainConfig, data: TrainData) -> None:
    """Counts that make training impossible -> ``ConfigError`` (before any model compute)."""
    batch = config.train.batch_size
    for sensor in config.sensors:
        n = data.count("train", sensor)
        if n == 0:
            skipped = dict(data.tally.skipped) or "nothing"
            raise ConfigError(
                f"sensor {sensor.value} has no labelled training chips (skipped: {skipped}); "
                f"add a source with {sensor.value} chips or drop it from data.sensors"
            )
        if batch > n:
            raise ConfigError(
                f"train.batch_size {batch} is larger than the {n} {sensor.value} training "
                f"chips; lower batch_size to at most {n} or add data"
            )
    if not any(data.count("val", s) >= 2 for s in config.sensors):
        raise ConfigError(
            "no validation chips (need >= 2 of a sensor): raise data.val_fraction or add a "
            "source with role = 'val'"
        )


def epoch_batches(n: int, batch: int, seeds: tuple[int, ...]) -> np.ndarray:
    """``(n // batch, batch)`` chip indices: one shuffle seeded by ``seeds`` (seed, epoch, ...),
    the last partial batch dropped."""
    rng = np.random.default_rng(seeds)
    order = rng.permutation(n)
    count = n // batch
    return order[: count * batch].reshape(count, batch)


def flip_batch(pixels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip each ``(B, C, H, W)`` chip horizontally and/or vertically, each with p = 0.5."""
    horizontal = torch.rand(pixels.shape[0], generator=generator) < 0.5
    vertical = torch.rand(pixels.shape[0], generator=generator) < 0.5
    out = torch.where(horizontal[:, None, None, None], pixels.flip(-1), pixels)
    return torch.where(vertical[:, None, None, None], out.flip(-2), out)
