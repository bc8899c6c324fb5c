"""One CrisisLandMark sample group -> checked pixels and corners (``SampleReader.read``), then a
batch of them -> ``Chip`` records with one WGS84 transform per CRS (``SampleReader.locate``).

Every problem with one sample is a ``DataError`` naming ``<shard>:<object path>``; the reader
catches it per sample (``report_bad_sample``) so a bad sample loses only itself.

Checks, in order: the sample group and its ``image``/``coords`` are hard links stored in the
shard itself (no external link, external raw storage or virtual dataset: refused); ``image`` is
``(bands, 120, 120)`` numbers with the band count of its source; ``coords`` is
``(2, 120, 120)`` with finite corners; ``crs`` parses and puts the chip on the globe; the model
input passes the band contract (infinite pixels are no-data, flagged; absurd values refused).
A ``timestamp`` that cannot be read or lies outside the Sentinel era is flagged and dropped.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from h5py import h5d, h5g, h5l, h5s
from rasterio.crs import CRS

from closp_core.bands import (
    S1_BANDS,
    S2_BANDS,
    S2_BANDS_WITHOUT_B10,
    Sensor,
    check_model_input,
    prepare_s1,
    prepare_s2,
)
from closp_core.data.base import flag_unmapped, harmonise_labels
from closp_core.data.chip import Chip, Tally
from closp_core.data.keys import corpus_key
from closp_core.data.timestamps import parse_time
from closp_core.errors import BandContractError, DataError
from closp_core.geo.crs import Quad, crs_name, locate_quads, parse_crs
from closp_core.records import ChipOrigin, OriginBand

SOURCES: dict[str, Sensor] = {
    "benv2s2": Sensor.S2,
    "cabuar": Sensor.S2,
    "sen2flood": Sensor.S2,
    "benv2s1": Sensor.S1,
    "mmflood": Sensor.S1,
    "sen1flood": Sensor.S1,
    "quakeset": Sensor.S1,
}
REVERSED_S1_SOURCES: frozenset[str] = frozenset({"benv2s1", "sen1flood"})
CHIP_SIZE = 120
MAX_ABS_DB = 200.0  # |dB| beyond this is no backscatter
EARLIEST = dt.datetime(2014, 4, 3, tzinfo=dt.UTC)  # Sentinel-1A's first image
BAD_SAMPLE = "bad sample: "
BAD_SAMPLES_LISTED = 10
_BANDS = {Sensor.S2: (12, 13), Sensor.S1: (2,)}
_DAY = dt.timedelta(days=1)
_READ_ERRORS = (OSError, KeyError, ValueError, RuntimeError, TypeError)


def key_source(key: str) -> str | None:
    """The source prefix of a sample key (``"benv2s2_123"`` -> ``"benv2s2"``), or None."""
    return next((p for p in sorted(SOURCES, key=len, reverse=True) if key.startswith(p)), None)


@dataclasses.dataclass(frozen=True)
class SampleOptions:
    """Per-source channel conventions (see ``crisislandmark.py``) and the no-data limit."""

    reverse_s1_channels: bool = True
    quakeset_post_event: bool = True
    max_nodata: float = 0.1


@dataclasses.dataclass(frozen=True, eq=False)
class RawSample:
    """A read, checked sample before geolocation; ``pixels`` is model input."""

    key: str
    where: str
    prefix: str
    pixels: np.ndarray
    quad: Quad
    crs: CRS
    acquired: dt.datetime | None
    names: tuple[str, ...]
    origin: ChipOrigin | None = None


def report_bad_sample(tally: Tally, err: DataError) -> None:
    """Count a sample that could not be read; the first few are listed with their message."""
    tally.bad_item(str(err))
    listed = sum(1 for reason in tally.skipped if reason.startswith(BAD_SAMPLE))
    if listed < BAD_SAMPLES_LISTED:
        tally.skip(f"{BAD_SAMPLE}{err}")
    else:
        tally.skip(f"more bad samples (the first {BAD_SAMPLES_LISTED} are listed)")


class SampleReader:
    """Reads the samples of one open shard file; caches parsed CRSs."""

    def __init__(self, shard: h5py.File, options: SampleOptions, tally: Tally) -> None:
        self.shard = shard
        self.options = options
        self.tally = tally
        self._crs: dict[object, CRS] = {}

    def read(self, key: str, path: str, names: tuple[str, ...]) -> RawSample | None:
        """The sample at ``path``; None when skipped (counted); ``DataError`` when bad.
        ``names``: its labels from the metadata (empty: read the ``labels`` attribute)."""
        where = f"{self.shard.filename}:{path}"
        prefix = key_source(key)
        if prefix is None:
            self.tally.skip("unknown CrisisLandMark key prefix")
            return None
        try:
            group = _hard_group(self.shard, path, where)
            image = self._image(group, prefix, where)
            planes = int(_stored(group, "image", where).shape[0])
            quad = _coords_quad(_stored(group, "coords", where), where)
            attrs = h5py.Group(group).attrs
            crs, stamp = (_attr(attrs, name) for name in ("crs", "timestamp"))
            names = names or self._attr_labels(_attr(attrs, "labels"))
        except _READ_ERRORS as err:
            raise DataError(f"{where}: cannot read ({type(err).__name__}: {err})") from None
        pixels = self._pixels(image, SOURCES[prefix], where)
        if pixels is None:
            return None
        crs_value = self._parse_crs(crs, where)
        origin = self._origin(path, prefix, planes, quad, crs_value)
        return RawSample(
            key, where, prefix, pixels, quad, crs_value, self._acquired(stamp), names, origin
        )

    def _origin(self, path: str, prefix: str, planes: int, quad: Quad, crs: CRS) -> ChipOrigin:
        """Where the sample's pixels are: its ``image`` dataset, the plane of each band
        (conventions applied, as ``_image``), its grid from the corner ``quad``."""
        sensor = SOURCES[prefix]
        if sensor is Sensor.S2:
            names = S2_BANDS if planes == len(S2_BANDS) else S2_BANDS_WITHOUT_B10
            indices = list(range(1, len(names) + 1))
        else:
            names = S1_BANDS
            quake_post = prefix == "quakeset" and planes == 4 and self.options.quakeset_post_event
            indices = [3, 4] if quake_post else [1, 2]
            if prefix in REVERSED_S1_SOURCES and self.options.reverse_s1_channels:
                indices = indices[::-1]
        (x0, y0), (xb, yb), _, (xd, yd) = quad
        transform = ((xd - x0) / CHIP_SIZE, (xb - x0) / CHIP_SIZE, x0,
                     (yd - y0) / CHIP_SIZE, (yb - y0) / CHIP_SIZE, y0)  # fmt: skip
        href = str(Path(self.shard.filename).resolve())
        return ChipOrigin(
            tuple(OriginBand(n, href, i) for n, i in zip(names, indices, strict=True)),
            0, 0, CHIP_SIZE, crs_name(crs), transform,
            dataset=f"/{path.strip('/')}/image",
        )  # fmt: skip

    def _pixels(self, image: np.ndarray, sensor: Sensor, where: str) -> np.ndarray | None:
        """Model input, or None when the no-data share is above the limit (counted)."""
        if not np.isfinite(image).all():
            infinite = np.isinf(image)
            if infinite.any():
                self.tally.flag("infinite pixels treated as no-data", int(infinite.sum()))
                image = np.where(infinite, np.float32(np.nan), image)
            if float(np.isnan(image).any(axis=0).mean()) > self.options.max_nodata:
                self.tally.skip(f"no-data share above {self.options.max_nodata:.0%}")
                return None
        try:
            pixels = prepare_s1(image) if sensor is Sensor.S1 else prepare_s2(image)
            check_model_input(pixels[None], sensor)
        except BandContractError as err:
            raise DataError(f"{where}: {err}") from None
        if sensor is Sensor.S1 and float(np.abs(pixels).max()) > MAX_ABS_DB:
            raise DataError(
                f"{where}: S1 values up to {float(np.abs(pixels).max()):.3g} are not backscatter "
                f"in dB (expected within +/-{MAX_ABS_DB:.0f})"
            )
        return pixels

    def locate(self, samples: list[RawSample]) -> list[Chip]:
        """Chips for ``samples`` (same order), one transform per CRS; a sample that does not
        transform is reported alone."""
        located: dict[int, tuple[Any, Any]] = {}
        by_crs: dict[int, list[int]] = {}
        for i, sample in enumerate(samples):
            by_crs.setdefault(id(sample.crs), []).append(i)
        for rows in by_crs.values():
            try:
                located.update(zip(rows, locate_samples([samples[i] for i in rows]), strict=True))
                continue
            except DataError as err:
                if len(rows) == 1:
                    report_bad_sample(self.tally, err)
                    continue
            for i in rows:  # find the culprit(s); the others keep their place
                try:
                    located[i] = locate_samples([samples[i]])[0]
                except DataError as err:
                    report_bad_sample(self.tally, err)
        return [self._chip(s, *located[i]) for i, s in enumerate(samples) if i in located]

    def _chip(self, sample: RawSample, center: Any, ring: Any) -> Chip:
        labels, unmapped = harmonise_labels(sample.names)
        flag_unmapped(self.tally, unmapped)
        return Chip(
            key=corpus_key(sample.key),
            sensor=SOURCES[sample.prefix],
            pixels=sample.pixels,
            center=center,
            footprint=ring,
            crs=crs_name(sample.crs),
            source=f"crisislandmark/{sample.prefix}",
            scene_id=sample.key,
            acquired=sample.acquired,
            labels=labels,
            original_labels=sample.names,
            unmapped_labels=unmapped,
            origin=sample.origin,
        )

    def _image(self, group: h5py.h5g.GroupID, prefix: str, where: str) -> np.ndarray:
        """``(bands, 120, 120) float32`` in VV, VH / SSL4EO order (conventions applied)."""
        data = _stored(group, "image", where)
        bands = _BANDS[SOURCES[prefix]] + ((4,) if prefix == "quakeset" else ())
        if len(data.shape) != 3 or data.shape[1:] != (CHIP_SIZE, CHIP_SIZE):
            raise DataError(
                f"{where}: image must be (bands, {CHIP_SIZE}, {CHIP_SIZE}), got {data.shape}"
            )
        if data.shape[0] not in bands:
            raise DataError(
                f"{where}: image has {data.shape[0]} bands; {prefix} chips have "
                + " or ".join(map(str, bands))
            )
        if data.dtype.kind not in "fiu":
            raise DataError(f"{where}: image holds {data.dtype}, not pixel values")
        image = np.empty(data.shape, np.float32)
        data.read(h5s.ALL, h5s.ALL, image)  # HDF5 converts integer pixels
        if prefix == "quakeset" and image.shape[0] == 4:
            image = image[2:] if self.options.quakeset_post_event else image[:2]
        if prefix in REVERSED_S1_SOURCES and self.options.reverse_s1_channels:
            image = image[::-1]
        return np.ascontiguousarray(image)

    def _parse_crs(self, value: Any, where: str) -> CRS:
        value = value.item() if isinstance(value, np.generic) else value
        if not isinstance(value, int | str | bytes):
            return parse_crs(value, where)
        if value not in self._crs:
            self._crs[value] = parse_crs(value, where)
        return self._crs[value]

    def _acquired(self, value: Any) -> dt.datetime | None:
        """The ``timestamp`` attribute as UTC. Unset (absent, 0, NaN, empty) is None; a value
        that cannot be read or lies outside the Sentinel era is flagged and dropped."""
        if hasattr(value, "item"):  # numpy scalar
            value = value.item()
        if _unset(value):
            return None
        try:
            when = parse_time(value)
        except (ValueError, OverflowError, OSError):
            when = None
        if when is not None and EARLIEST <= when <= dt.datetime.now(dt.UTC) + _DAY:
            return when
        self.tally.flag(f"timestamp unreadable or outside {EARLIEST:%Y}..today: ignored")
        return None

    def _attr_labels(self, value: Any) -> tuple[str, ...]:
        names, note = attr_labels(value)
        if note:
            self.tally.flag(note)
        return names


def attr_labels(value: Any) -> tuple[tuple[str, ...], str | None]:
    """A ``labels`` value (array of strings/bytes, JSON list text, ``;``/``,`` separated text)
    -> (names, a note to flag when values that are not text were dropped)."""
    if value is None:
        return (), None
    if isinstance(value, bytes | np.bytes_):
        value = bytes(value).decode("utf-8", "replace")
    if isinstance(value, str):
        return text_labels(value)
    return _names(list(np.ravel(value)) if isinstance(value, np.ndarray) else [value])


def text_labels(text: str) -> tuple[tuple[str, ...], str | None]:
    """Labels written as one text: a JSON list, else names separated by ``;`` or ``,``."""
    text = text.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list):
            return _names(parsed)
    return tuple(p.strip() for p in re.split(r"[;,]", text) if p.strip()), None


def _names(items: list[Any]) -> tuple[tuple[str, ...], str | None]:
    """The text items (bytes decoded) and a note naming the type of the first other item."""
    decoded = [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in items]
    kept = tuple(x.strip() for x in decoded if isinstance(x, str) and x.strip())
    dropped = [x for x in decoded if not isinstance(x, str)]
    note = f"labels that are not text ignored ({type(dropped[0]).__name__})" if dropped else None
    return kept, note


def _hard_group(shard: h5py.File, path: str, where: str) -> h5py.h5g.GroupID:
    """The group at ``path``, reached through hard links only (HDF5 never leaves the file)."""
    parts = [p for p in path.split("/") if p]
    for depth in range(1, len(parts) + 1):
        link = "/" + "/".join(parts[:depth])
        try:
            kind = shard.id.links.get_info(link.encode()).type
        except (KeyError, RuntimeError):
            raise DataError(f"{where}: no such sample group in this shard") from None
        if kind != h5l.TYPE_HARD:
            raise DataError(f"refused: {where}: {link} is a link to elsewhere, not a sample group")
    try:
        return h5g.open(shard.id, ("/" + "/".join(parts)).encode())
    except ValueError:
        raise DataError(f"{where}: not a sample group (a dataset)") from None


def _stored(group: h5py.h5g.GroupID, name: str, where: str) -> h5d.DatasetID:
    """Dataset ``name`` of a sample group, refused unless its data is stored in this file."""
    try:
        kind = group.links.get_info(name.encode()).type
    except (KeyError, RuntimeError):
        raise DataError(f"{where}: sample group needs datasets 'image' and 'coords'") from None
    if kind != h5l.TYPE_HARD:
        raise DataError(f"refused: {where}/{name} is a link to another file or path")
    try:
        data = h5d.open(group, name.encode())
    except KeyError:
        raise DataError(f"{where}/{name}: expected a dataset, found a group") from None
    plist = data.get_create_plist()
    if plist.get_layout() == h5d.VIRTUAL or plist.get_external_count() > 0:
        raise DataError(
            f"refused: {where}/{name} keeps its data in other files (virtual or external "
            "storage); CrisisLandMark samples hold their own pixels"
        )
    return data


def _attr(attrs: h5py.AttributeManager, name: str) -> Any:
    try:
        return attrs[name]
    except KeyError:
        return None


def _coords_quad(data: h5d.DatasetID, where: str) -> Quad:
    """Corner quad (outer pixel edges) from per-pixel-centre coordinates ``(2, H, W)``."""
    if data.shape != (2, CHIP_SIZE, CHIP_SIZE) or data.dtype.kind not in "fiu":
        raise DataError(
            f"{where}: coords must be (2, {CHIP_SIZE}, {CHIP_SIZE}) numbers, "
            f"got {data.shape} {data.dtype}"
        )
    coords = np.empty(data.shape, np.float64)
    data.read(h5s.ALL, h5s.ALL, coords)
    corners = coords[:, :: CHIP_SIZE - 1, :: CHIP_SIZE - 1]
    if not np.isfinite(corners).all():
        raise DataError(f"{where}: coords corners are not finite")
    p00, p0w, ph0 = corners[:, 0, 0], corners[:, 0, 1], corners[:, 1, 0]
    step_col = (p0w - p00) / (CHIP_SIZE - 1)
    step_row = (ph0 - p00) / (CHIP_SIZE - 1)
    origin = p00 - 0.5 * step_col - 0.5 * step_row
    rows, cols = CHIP_SIZE * step_row, CHIP_SIZE * step_col
    a, b, c, d = (
        (float(p[0]), float(p[1]))
        for p in (origin, origin + rows, origin + rows + cols, origin + cols)
    )
    return a, b, c, d


def locate_samples(samples: list[RawSample]) -> list[tuple[Any, Any]]:
    """(centre, ring) in WGS84 of samples sharing one CRS, in one transform; ``DataError`` if
    the transform fails or a chip lands off the globe (``geo.crs.locate_quads`` checks both)."""
    return locate_quads(samples[0].crs, [s.quad for s in samples], samples[0].where)


def _unset(value: Any) -> bool:
    """A ``timestamp`` attribute that says "unknown": absent, 0, NaN or empty text."""
    if value is None:
        return True
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value == 0 or value != value
    return isinstance(value, str | bytes) and not value.strip()
