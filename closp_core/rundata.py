"""The data a run reads: a training config's ``[data]`` table, its sources and the held-out split.

Training (``closp_core.train``) and evaluation (``closp_core.evaluate``) both read it, so it
sits below both: a chip evaluation calls held out is exactly one training held out.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from closp_core.bands import Sensor
from closp_core.data.base import ChipSource
from closp_core.data.chip import Chip, Tally
from closp_core.errors import ConfigError
from closp_core.sources import build_source, iter_chips
from closp_core.tomltables import build_dataclass, read_toml_file, resolve_path

ROLES = ("auto", "train", "val", "test")  # test: never read by training; for evaluate
CHIP_ROLES = ("train", "val", "test", "all")  # what ``role_chips`` can be asked for


@dataclasses.dataclass(frozen=True)
class SourceSection:
    """One data source: a reader ``kind``, its ``path`` and reader ``options``."""

    kind: str
    path: str
    role: str = "auto"  # auto: split by val_fraction; train/val: all chips there; test: unused
    limit: int = 0  # at most this many labelled chips (0 = all)
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class DataSection:
    sources: tuple[SourceSection, ...] = ()
    val_fraction: float = 0.1  # of chips of "auto" sources, split by a hash of the chip key
    chip_size: int = 120  # chips of another size are resized (bilinear) to this
    sensors: tuple[str, ...] = ("s1", "s2")  # each needs chips; each step takes one batch of each

    @property
    def sensor_set(self) -> tuple[Sensor, ...]:
        """``sensors`` as ``Sensor`` members (checked by ``check_data_section``)."""
        return tuple(Sensor(s) for s in self.sensors)


def is_validation_key(key: str, fraction: float) -> bool:
    """Deterministic split: the first 32 bits of sha1(key) as a fraction of 2**32."""
    digest = int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16)
    return digest / 2**32 < fraction


def chip_role(spec: SourceSection, key: str, val_fraction: float) -> str:
    """``train``, ``val`` or ``test``: the source's role, or for ``auto`` the split of ``key``."""
    if spec.role != "auto":
        return spec.role
    return "val" if is_validation_key(key, val_fraction) else "train"


def build_sources(data: DataSection) -> list[tuple[SourceSection, ChipSource]]:
    """One ``ChipSource`` per ``[[data.sources]]`` entry (``ConfigError`` for bad kinds)."""
    return [(s, build_source(s.kind, Path(s.path), s.options)) for s in data.sources]


def role_chips(data: DataSection, role: str = "val") -> Iterator[Chip]:
    """The chips of ``data``'s sensors in ``role`` (``train``, ``val``, ``test`` or ``all``),
    split exactly as training splits them; unlabelled chips stay in (as distractors)."""
    if role not in CHIP_ROLES:
        raise ConfigError(f"role must be one of {CHIP_ROLES}, got {role!r}")
    tally = Tally()
    sensors = data.sensor_set
    for spec, source in build_sources(data):
        for chip in iter_chips([source], tally):
            if chip.sensor in sensors and role in (
                "all",
                chip_role(spec, chip.key, data.val_fraction),
            ):
                yield chip


def resolve_source_paths(data: DataSection, base: Path) -> DataSection:
    """``data`` with each source's relative ``path`` made absolute against ``base``."""
    sources = tuple(dataclasses.replace(s, path=resolve_path(s.path, base)) for s in data.sources)
    return dataclasses.replace(data, sources=sources)


def check_data_section(data: DataSection) -> None:
    """Every check of ``[data]`` that needs no reading; ``ConfigError`` on the first problem."""
    if not data.sources:
        raise ConfigError("data.sources is empty; add a [[data.sources]] table (kind, path)")
    for i, source in enumerate(data.sources):
        if source.role not in ROLES:
            raise ConfigError(f"data.sources[{i}].role must be one of {ROLES}, got {source.role!r}")
        if source.limit < 0:
            raise ConfigError(f"data.sources[{i}].limit must be >= 0, got {source.limit}")
        if not source.path or not Path(source.path).exists():
            raise ConfigError(
                f"data.sources[{i}] ({source.kind}): path {source.path!r} does not exist; "
                "check the path (relative paths are relative to the config file)"
            )
    if not 0.0 <= data.val_fraction < 1.0:
        raise ConfigError(f"data.val_fraction must be in [0, 1), got {data.val_fraction}")
    if data.chip_size < 8:
        raise ConfigError(f"data.chip_size must be >= 8 pixels, got {data.chip_size}")
    if not data.sensors:
        raise ConfigError("data.sensors is empty; use ['s1', 's2'] or one of them")
    for sensor in data.sensors:
        if sensor not in {s.value for s in Sensor}:
            raise ConfigError(f"data.sensors: unknown sensor {sensor!r}; use 's1' and/or 's2'")


def load_data_section(path: str | Path) -> DataSection:
    """The checked ``[data]`` table of a training config (the other tables are not read)."""
    raw, base = read_toml_file(path, "training config", "configs/reference.toml")
    data = build_dataclass(DataSection, raw.get("data", {}), "config.data")
    data = resolve_source_paths(data, base)
    check_data_section(data)
    return data
