"""The source registry: every kind of imagery we read -> its reader, what it reads, a line for
people. The ingest CLI, training, evaluation and Add imagery all open sources here, so adding a
reader is one ``SourceKind`` entry plus its module.

``open_source(kind, target, options)`` imports the reader only when used and constructs it as
``reader(target, **options)``: option keys that are parameters of the reader pass straight
through; the rest fill the reader's options dataclass (its ``options`` parameter, e.g.
``SceneOptions``), or a ready one is passed as ``options``. Other kinds (tests, a team's own
format) register a factory with ``register_source``. ``iter_chips`` is the one loop over every
chip of some sources.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from closp_core.data.base import ChipSource
from closp_core.data.chip import Chip, Tally
from closp_core.errors import ConfigError

SourceFactory = Callable[[Path, Mapping[str, Any]], ChipSource]


@dataclasses.dataclass(frozen=True)
class SourceKind:
    """One kind of source: ``reader`` is ``"module:callable"`` taking ``target`` first."""

    kind: str
    reader: str
    target: str  # what the first argument is, for help texts
    description: str


SOURCE_KINDS: dict[str, SourceKind] = {
    k.kind: k
    for k in (
        SourceKind(
            "scene",
            "closp_core.data.scene.source:SceneSource",
            "PATH...",
            "GeoTIFF/COG/JP2 scenes (band files or stacks, any CRS) and Sentinel-2 products "
            "(.SAFE folder or .zip)",
        ),
        SourceKind(
            "bigearthnet",
            "closp_core.data.bigearthnet.source:BigEarthNetSource",
            "ROOT",
            "BigEarthNet patch folders",
        ),
        SourceKind(
            "crisislandmark",
            "closp_core.data.crisislandmark.hub:open_crisislandmark",
            "ROOT_OR_HUB_ID",
            "the CrisisLandMark corpus: a local folder or the hub dataset",
        ),
        SourceKind(
            "stac",
            "closp_core.data.stac.static:StacSource",
            "HREF",
            "STAC Item/ItemCollection/Catalog",
        ),
        SourceKind(
            "stac-search",
            "closp_core.data.stac.api:StacSearchSource",
            "QUERY",
            "a STAC API search: the chips of an area, read from remote COGs in windows",
        ),
        SourceKind(
            "samples",
            "closp_core.sources:SamplesSource",
            "ROOT",
            "the real sample corpus shipped in samples/",
        ),
    )
}

_REGISTRY: dict[str, SourceFactory] = {}


def register_source(kind: str, factory: SourceFactory) -> None:
    """Make ``kind`` usable in ``[[data.sources]]``; ``factory(path, options)`` -> ChipSource."""
    _REGISTRY[kind] = factory


def known_kinds() -> list[str]:
    return sorted({*SOURCE_KINDS, *_REGISTRY})


def open_source(kind: str, target: Any, options: Mapping[str, Any] | None = None) -> ChipSource:
    """The ``ChipSource`` of ``kind`` over ``target`` (a path, href, hub id or query, as the
    kind says); ``ConfigError`` for an unknown kind or options the reader does not take."""
    options = options or {}
    if kind in _REGISTRY:
        return _REGISTRY[kind](target, options)
    if kind not in SOURCE_KINDS:
        raise ConfigError(f"unknown data source kind {kind!r}; known kinds: {known_kinds()}")
    module_name, _, name = SOURCE_KINDS[kind].reader.partition(":")
    try:
        reader = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        raise ConfigError(
            f"data source kind {kind!r} needs {module_name}.{name}, which is not "
            "available in this installation"
        ) from None
    return _construct(reader, kind, target, options)


def build_source(kind: str, path: Path, options: Mapping[str, Any]) -> ChipSource:
    """One ``[[data.sources]]`` entry of a training or evaluation config: ``open_source``."""
    return open_source(kind, path, options)


def iter_chips(sources: Iterable[ChipSource], tally: Tally) -> Iterator[Chip]:
    """Every chip of ``sources``, unit by unit, in their order; skips and flags go to ``tally``."""
    for source in sources:
        for unit in source.units():
            yield from source.read(unit, tally)


def _construct(
    reader: Callable[..., Any], kind: str, target: Any, options: Mapping[str, Any]
) -> ChipSource:
    params = inspect.signature(reader).parameters
    ready = options.get("options")
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    direct = {k: v for k, v in options.items() if (k in params or takes_any) and k != "options"}
    if ready is not None and dataclasses.is_dataclass(ready):
        direct["options"] = ready
    rest = {k: v for k, v in options.items() if k not in direct and k != "options"}
    if rest:
        init: Any = getattr(reader, "__init__", reader) if isinstance(reader, type) else reader
        hints = typing.get_type_hints(init)
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
        return typing.cast(ChipSource, reader(target, **direct))
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
