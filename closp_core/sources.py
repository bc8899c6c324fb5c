"""Data-source registry: a config ``kind`` string -> a ``ChipSource`` constructor (training
and evaluation share it, so it sits below both).

Built-in kinds map to the readers in ``closp_core.data`` and are imported only when used, so
training works with whichever readers are installed. A built-in reader is constructed as
``Reader(path, **kwargs)``: option keys that are constructor parameters pass straight through;
the rest fill the reader's options dataclass (its ``options`` parameter), e.g. ``SceneOptions``.
Other kinds (tests, a team's own format) register a factory with ``register_source``.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from closp_core.data.base import ChipSource
from closp_core.data.chip import Chip, Tally
from closp_core.errors import ConfigError

SourceFactory = Callable[[Path, Mapping[str, Any]], ChipSource]

# kind -> (module, class) of the readers in closp_core.data
BUILTIN_READERS: dict[str, tuple[str, str]] = {
    "bigearthnet": ("closp_core.data.bigearthnet", "BigEarthNetSource"),
    "scene": ("closp_core.data.scene", "SceneSource"),
    "crisislandmark": ("closp_core.data.crisislandmark", "CrisisLandMarkSource"),
    "stac": ("closp_core.data.stac", "StacSource"),
}

_REGISTRY: dict[str, SourceFactory] = {}


def register_source(kind: str, factory: SourceFactory) -> None:
    """Make ``kind`` usable in ``[[data.sources]]``; ``factory(path, options)`` -> ChipSource."""
    _REGISTRY[kind] = factory


def known_kinds() -> list[str]:
    return sorted({*BUILTIN_READERS, "samples", *_REGISTRY})


def build_source(kind: str, path: Path, options: Mapping[str, Any]) -> ChipSource:
    """The ``ChipSource`` for one ``[[data.sources]]`` entry; ``ConfigError`` if it can't be."""
    if kind == "samples" and kind not in _REGISTRY:
        return SamplesSource(path, **options)
    if kind in _REGISTRY:
        return _REGISTRY[kind](path, options)
    if kind not in BUILTIN_READERS:
        raise ConfigError(f"unknown data source kind {kind!r}; known kinds: {known_kinds()}")
    module_name, class_name = BUILTIN_READERS[kind]
    try:
        reader = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise ConfigError(
            f"data source kind {kind!r} needs {module_name}.{class_name}, which is not "
            "available in this installation"
        ) from None
    return _construct(reader, kind, path, options)


def _construct(reader: type, kind: str, path: Path, options: Mapping[str, Any]) -> ChipSource:
    params = inspect.signature(reader).parameters
    direct = {k: v for k, v in options.items() if k in params and k != "options"}
    rest = {k: v for k, v in options.items() if k not in direct}
    if rest:
        hints = typing.get_type_hints(reader.__init__)  # type: ignore[misc]
        option_type = next(
            (a for a in typing.get_args(hints.get("options")) if dataclasses.is_dataclass(a)),
            hints.get("options"),
        )
        if not (isinstance(option_type, type) and dataclasses.is_dataclass(option_type)):
            raise ConfigError(f"data source {kind!r} takes no options {sorted(rest)}")
        try:
            direct["options"] = option_type(**rest)
        except TypeError as exc:
            known = [f.name for f in dataclasses.fields(option_type)]
            raise ConfigError(
                f"data source {kind!r}: bad options ({exc}); known: {known}, "
                f"{[p for p in params if p not in ('self', 'options')]}"
            ) from None
    try:
        return typing.cast(ChipSource, reader(path, **direct))
    except TypeError as exc:
        raise ConfigError(f"data source {kind!r}: {exc}") from None


class ChipListSource:
    """A ``ChipSource`` over chips already in memory (one unit); for tests and notebooks."""

    name = "chips"

    def __init__(self, chips: Sequence[Chip], name: str = "chips") -> None:
        self.chips = list(chips)
        self.name = name

    def units(self) -> list[str]:
        return [self.name]

    def read(self, unit: str, tally: Tally) -> Iterator[Chip]:
        yield from self.chips


class SamplesSource:
    """The shipped sample corpus (``closp_core.data.samples``) as one source; ``split`` keeps
    the chips of its documented split: ``train``, ``heldout`` or ``all``."""

    name = "samples"

    def __init__(self, root: Path, split: str = "all") -> None:
        from closp_core.data import samples

        if split not in ("train", "heldout", "all"):
            raise ConfigError(f"samples: split must be train, heldout or all, got {split!r}")
        self.split = split
        self._split_of = samples.sample_split
        self.sources = samples.sample_sources(Path(root))

    def units(self) -> list[str]:
        return [f"{i}:{unit}" for i, s in enumerate(self.sources) for unit in s.units()]

    def read(self, unit: str, tally: Tally) -> Iterator[Chip]:
        index, _, inner = unit.partition(":")
        for chip in self.sources[int(index)].read(inner, tally):
            if self.split in ("all", self._split_of(chip)):
                yield chip
