"""What every reader shares: the ``ChipSource`` protocol, label harmonisation, path checks.

A reader turns one source format into ``Chip`` records. The ingest pipeline treats them alike:
``units()`` lists independently readable pieces (a scene, a patch folder, a key range ...),
``read(unit, tally)`` streams that piece's chips and counts what it skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from closp_core.data.chip import Chip, Tally
from closp_core.errors import DataError, LabelError
from closp_core.labels import canonical_label, map_corine, sort_labels

RASTER_SUFFIXES: frozenset[str] = frozenset({".tif", ".tiff", ".jp2", ".vrt"})


@runtime_checkable
class ChipSource(Protocol):
    """A source of chips: list its units, then read each one independently."""

    name: str  # "scene", "bigearthnet", "crisislandmark", "stac"

    def units(self) -> list[str]:
        """Independently readable units as display strings; ``DataError`` if there is nothing."""
        ...

    def read(self, unit: str, tally: Tally) -> Iterator[Chip]:
        """Stream the chips of ``unit``; ``DataError`` names the file and what is wrong."""
        ...


def harmonise_labels(names: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Source label names -> (our labels, names with no mapping).

    Names already in our label space (any case) pass through ``canonical_label``; CORINE /
    BigEarthNet names go through ``map_corine``; anything else is returned as unmapped (callers
    keep it among the original labels and flag it).
    """
    ours: set[str] = set()
    unmapped: list[str] = []
    for raw in names:
        name = str(raw).strip()
        if not name:
            continue
        try:
            ours.add(canonical_label(name))
            continue
        except LabelError:
            pass
        mapped, missing = map_corine([name])
        ours.update(mapped)
        if missing:
            unmapped.append(name)
    return tuple(sort_labels(ours)), tuple(unmapped)


def check_labels(names: Iterable[str], what: str) -> tuple[str, ...]:
    """Labels a user gave explicitly: a list of strings, each in our label space, else
    ``DataError``."""
    source_label_list(names, what)
    try:
        return tuple(sort_labels(names))
    except LabelError as err:
        raise DataError(f"{what}: {err}") from None


def source_label_list(value: object, what: str) -> list[str]:
    """A source's label field -> its labels; ``DataError`` unless it is a list (or tuple) of
    strings (a bare string would otherwise be read letter by letter)."""
    if isinstance(value, str):
        raise DataError(
            f"{what}: labels must be a list of label names, got one string {value!r}; "
            f"write [{value!r}]"
        )
    if not isinstance(value, list | tuple):
        raise DataError(
            f"{what}: labels must be a list of label names, got {type(value).__name__} {value!r}"
        )
    for i, name in enumerate(value):
        if not isinstance(name, str):
            raise DataError(
                f"{what}: label {i} is {type(name).__name__} {name!r}, not a label name (string)"
            )
    return list(value)


def flag_unmapped(tally: Tally, unmapped: Iterable[str]) -> None:
    """Count each label that has no mapping into our label space."""
    for name in unmapped:
        tally.flag(f"label outside the label space: {name!r}")


def existing_path(path: str | Path, what: str) -> Path:
    """``path`` as a ``Path`` if it exists, else a ``DataError`` saying so."""
    resolved = Path(path).expanduser()
    if not resolved.exists():
        if resolved.is_symlink():
            raise DataError(
                f"{what} {resolved}: a symbolic link to nothing (broken or looping); check it"
            )
        raise DataError(f"{what} {resolved}: no such file or folder; check the path")
    return resolved


def is_raster_file(path: Path) -> bool:
    """A plain file whose suffix is a raster format we open (GeoTIFF/COG, JPEG2000, VRT)."""
    return path.is_file() and path.suffix.lower() in RASTER_SUFFIXES
