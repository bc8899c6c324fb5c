"""Cut a georeferenced scene into model-ready chips: options, band selection, the chip loop.

Shared by the raster-scene reader (``scene.py``), BigEarthNet and STAC. Decisions, in order:

- **Sensor**: ``SceneOptions.sensor`` if given, else from band names (only VV/VH -> S1, only
  B* -> S2; both -> ``DataError`` asking for ``sensor=``).
- **Bands**: S2 needs B1-B9, B8A, B11, B12 (B10 optional, zero-filled when absent); S1 needs VV
  and VH. Anything missing is a ``DataError`` naming the files and the missing bands.
- **Grid**: the finest band's grid, bands resampled onto it by georeference (``raster.py``).
- **Chips**: ``chip_size`` squares every ``stride`` pixels, row by row; with ``cover_edges`` a
  last chip is aligned to the right/bottom edge so no strip is left out. Chips whose no-data share
  (a pixel is no-data when any band is) exceeds ``max_nodata`` are skipped and counted. A scene
  where every chip is skipped yields nothing and is flagged (not an error).
- **No-data**: the file's no-data value, NaN, zeros for S2 digital numbers (``zero_is_nodata``),
  and +/-inf (masked, counted as flagged pixels). Remaining gaps are filled by ``prepare_s2``
  (0) / ``prepare_s1`` (``S1_FILL_DB``).
- **Place**: one pixel of the grid must measure 1-100 m on the ground and every chip corner
  must land on the globe (``geo.check_pixel_size``, ``geo.locate_quads``), else the CRS does not
  match the coordinates: ``DataError``. The footprint is the true quadrilateral of the chip's
  corners; chips of a rotated or skewed grid are flagged.
- **S1 units**: linear power when ``s1_linear=True`` or when metadata says so (band units or
  tags such as ``units=linear``/``power``/``intensity``), converted with ``linear_to_db``;
  dB when ``s1_linear=False`` or nothing says otherwise.
- **Sentinel-2 offset**: each band's ``BandRef.dn_offset`` (from the product metadata or STAC),
  or ``s2_offset`` when given, is removed by the offset rule (``bands.remove_dn_offset``); a
  scene that declares none but looks shifted by +1000 is flagged (``values.offset_not_removed``).
- **Values**: before the first chip, a sample of the scene (up to 3 x 3 chip windows spread
  over it) must look like the sensor's units and physical range, else the scene is refused;
  per chip, pixels outside the physical range are masked and the chip flagged. Thresholds and
  the ``units_check=False`` override: ``values.py``.
- **Time**: ``acquired`` if given, else metadata tags (``timestamps.TIME_KEYS``), else a date in
  the file/folder names (``20160112T160632``, ``2019-09-17``, ``20190917``), else
  ``fallback_acquired`` (the Add imagery form's date), else the file's write time
  (``TIFFTAG_DATETIME``, ``2016:01:12 16:06:32``: often an export's acquisition day, but it
  may be any later day, hence last), else ``None``.
  A given or tagged time outside the Sentinel era is a ``DataError`` (``timestamps.py``); a
  date tag that is no date is flagged.
- **Labels**: ``labels`` for every chip, plus whatever ``chip_labeler(window)`` returns per chip
  (see ``ChipWindow``; ``MaskLabeler`` in ``scene.py`` derives a label from a class mask).
- **Key**: ``scene/<scene_id>/<sensor>/r<row>_c<col>`` with pixel offsets in the reference grid
  (``_s<size>`` appended when ``chip_size`` is not 120): stable across re-reads and strides.
  The ``scene_id`` in the key goes through ``keys.key_part`` (no ``..``, control characters or
  markup; chips whose id had to change are flagged); ``Chip.scene_id`` keeps the original.
- **Area of interest**: with ``aoi_bounds`` (W, S, E, N in WGS84) only the chips of the grid
  above that overlap the box, transformed into the scene's CRS, are read
  (``offsets_in_bounds``): the same keys as a full read, and only those windows are fetched. A
  scene that only touches the box yields nothing (and is not flagged).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import CRSError
from rasterio.warp import transform_bounds

from closp_core.bands import (
    S1_BANDS,
    S2_BANDS,
    S2_BANDS_WITHOUT_B10,
    Sensor,
    linear_to_db,
    prepare_s1,
    prepare_s2,
)
from closp_core.data.base import flag_unmapped, harmonise_labels
from closp_core.data.budget import check_chip_budget
from closp_core.data.chip import Chip, Tally
from closp_core.data.keys import CHIP_SIZE, key_part, payload_text, scene_key
from closp_core.data.raster import BandGrid, BandRef, Grid, display_path
from closp_core.data.timestamps import (
    FILE_TIME_KEYS,
    TIME_KEYS,
    check_acquired,
    first_time,
    is_plausible,
    time_from_metadata,
    time_from_name,
)
from closp_core.data.values import (
    check_sample,
    range_flag,
    sample_pixels,
    screen_chip,
)
from closp_core.errors import BandContractError, ConfigError, DataError, MissingBandsError
from closp_core.geo.crs import WGS84, check_pixel_size, crs_name, locate_quads, pixel_quad
from closp_core.labels import sort_labels
from closp_core.settings import Settings

_LINEAR_WORDS = ("linear", "power", "intensity")
_DB_WORDS = ("db", "decibel")
_UNIT_TAGS = ("units", "unit", "scale", "backscatter", "sar_units", "data_units")


@dataclasses.dataclass(frozen=True)
class ChipWindow:
    """What a ``chip_labeler`` sees for one chip.

    ``transform`` maps chip pixel (col, row) to ``crs`` coordinates; ``pixels`` is the
    model-ready chip (``(13|2, H, W) float32``, see ``Chip``).
    """

    scene_id: str
    row: int
    col: int
    crs: CRS
    transform: Affine
    shape: tuple[int, int]
    pixels: np.ndarray

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in ``crs``."""
        height, width = self.shape
        x0, y0 = self.transform @ (0, 0)
        x1, y1 = self.transform @ (width, height)
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


ChipLabeler = Callable[[ChipWindow], Iterable[str]]


@dataclasses.dataclass(frozen=True)
class SceneOptions:
    """How a scene becomes chips (see the module docstring for each decision)."""

    sensor: Sensor | None = None
    labels: tuple[str, ...] = ()  # our label space, applied to every chip
    chip_labeler: ChipLabeler | None = None  # per-chip extra labels
    acquired: dt.datetime | None = None  # overrides metadata / file names (UTC if naive)
    fallback_acquired: dt.datetime | None = None  # when neither tags nor names give a date
    s1_linear: bool | None = None  # True: linear power, False: dB, None: from metadata / dB
    units_check: bool = True  # refuse scenes whose values are in the wrong units (values.py)
    chip_size: int = CHIP_SIZE
    stride: int = CHIP_SIZE
    max_nodata: float = 0.1  # skip chips with a larger share of no-data pixels
    zero_is_nodata: bool | None = None  # None: True for S2 digital numbers, False for S1
    resampling: str = "bilinear"  # GDAL resampling onto the reference grid
    cover_edges: bool = True
    window_chips: int = 16  # chips per read window (memory ~ bands*size*size*window_chips*4 B)
    aoi_bounds: tuple[float, float, float, float] | None = None  # W, S, E, N (WGS84)
    s2_offset: float | None = None  # the +DN offset S2 values carry (1000 from baseline 04.00);
    # None: what the product metadata says (none when it says nothing; the guard may flag it)
    max_file_pixels: int | None = Settings.max_file_pixels  # header budget per file; None: off
    max_scene_chips: int | None = Settings.max_scene_chips  # chips per scene; None: off

    def with_budgets(self, settings: Settings) -> SceneOptions:
        """These options with the local-file budgets of ``settings``."""
        return dataclasses.replace(
            self,
            max_file_pixels=settings.max_file_pixels,
            max_scene_chips=settings.max_scene_chips,
        )

    def __post_init__(self) -> None:
        if self.sensor is not None:
            object.__setattr__(self, "sensor", Sensor.parse(self.sensor))
        if self.chip_size < 1 or self.stride < 1 or self.window_chips < 1:
            raise ConfigError("chip_size, stride and window_chips must be positive")
        if not 0.0 <= self.max_nodata < 1.0:
            raise ConfigError(f"max_nodata must be in [0, 1), got {self.max_nodata}")
        if self.s2_offset is not None and not 0.0 <= self.s2_offset <= 10000.0:
            raise ConfigError(
                f"s2_offset must be between 0 and 10000 DN (1000 for processing baseline >= "
                f"04.00), got {self.s2_offset}"
            )
        if self.resampling not in Resampling.__members__:
            raise ConfigError(f"unknown resampling {self.resampling!r}; e.g. bilinear, nearest")


def select_bands(
    found: Mapping[str, BandRef], sensor: Sensor | None, where: str
) -> tuple[Sensor, dict[str, BandRef]]:
    """Pick the sensor's bands, in contract order, from those found; ``DataError`` if short."""
    s1 = sorted(b for b in found if b in S1_BANDS)
    s2 = [b for b in S2_BANDS if b in found]
    if sensor is None:
        if s1 and s2:
            raise DataError(f"{where}: holds S1 bands {s1} and S2 bands {s2}; pass sensor=s1|s2")
        if not s1 and not s2:
            raise DataError(
                f"{where}: no Sentinel band names found (expected B01..B12, B8A, VV, VH in band "
                "descriptions or file names); name the bands or pass band_names="
            )
        sensor = Sensor.S1 if s1 else Sensor.S2
    if sensor is Sensor.S1:
        wanted: Sequence[str] = S1_BANDS
    else:
        wanted = S2_BANDS if "B10" in found else S2_BANDS_WITHOUT_B10
    missing = [b for b in wanted if b not in found]
    if missing and sensor is Sensor.S1:
        raise MissingBandsError(f"{where}: S1 needs both polarisations VV and VH; found only {s1}")
    if missing:
        raise MissingBandsError(
            f"{where}: missing S2 bands {missing} (found {s2}); CLOSP needs all 13 bands "
            "(B10 may be absent)"
        )
    return sensor, {b: found[b] for b in wanted}


def tags_say_linear(grid: BandGrid) -> bool | None:
    """True/False when band units or tags say linear power / dB, else None."""
    for ref in grid.refs.values():
        dataset = grid.datasets[ref.path]
        texts = [dataset.units[ref.index - 1] or ""]
        for tags in (dataset.tags(), dataset.tags(ref.index)):
            texts += [str(v) for k, v in tags.items() if k.lower() in _UNIT_TAGS]
        for text in (t.strip().lower() for t in texts):
            if any(word == text or text.startswith(word) for word in _DB_WORDS):
                return False
            if any(word in text for word in _LINEAR_WORDS):
                return True
    return None


def scene_time(
    grid: BandGrid, options: SceneOptions, name_hints: Sequence[str], tally: Tally, what: str
) -> dt.datetime | None:
    """Acquisition time: explicit option, date tags, names, the fallback option, then the
    file's own write time (see module docstring); ``DataError`` for a given or tagged time
    outside the Sentinel era."""
    if options.acquired is not None:
        return check_acquired(options.acquired, what)
    tags = [d.tags() for d in grid.datasets.values()]
    tagged = first_time(time_from_metadata(t) for t in tags)
    if tagged is not None:
        return check_acquired(tagged, f"{what} (date tag)")
    if any(k.lower() in TIME_KEYS for t in tags for k in t):
        tally.flag("a date tag that is no date (time from the name, or none)", 1, "scenes")
    named = first_time(time_from_name(n) for n in name_hints)
    if named is not None or options.fallback_acquired is not None:
        return named or check_acquired(options.fallback_acquired, what)
    written = first_time(time_from_metadata(t, FILE_TIME_KEYS) for t in tags)
    return written if written is not None and is_plausible(written) else None  # weak: no error


def chip_offsets(start: int, length: int, size: int, stride: int, cover_edges: bool) -> list[int]:
    """Top/left offsets of chips along one axis of ``length`` pixels beginning at ``start``."""
    offsets = list(range(0, length - size + 1, stride))
    if cover_edges and offsets and offsets[-1] != length - size:
        offsets.append(length - size)
    return [start + o for o in offsets]


def kept_offsets(g: Grid, options: SceneOptions, what: str) -> tuple[list[int], list[int]]:
    """The row and column offsets of the chips a read of ``g`` keeps (within
    ``options.aoi_bounds``), after the checks made before its first pixel: the common area
    holds a chip, the pixel size, the scene's chip budget. Empty: ``g`` only touches the area
    of interest. Reading and counting (``stac/count.py``) both call it, so they agree."""
    size, stride = options.chip_size, options.stride
    if g.height < size or g.width < size:
        raise DataError(
            f"{what}: the bands' common area is {g.width}x{g.height} px, smaller than one "
            f"{size}x{size} chip"
        )
    check_pixel_size(g.crs, g.transform, g.row0 + g.height // 2, g.col0 + g.width // 2, what)
    rows = chip_offsets(g.row0, g.height, size, stride, options.cover_edges)
    cols = chip_offsets(g.col0, g.width, size, stride, options.cover_edges)
    if options.aoi_bounds is not None:
        rows, cols = offsets_in_bounds(g, rows, cols, size, options.aoi_bounds, what)
        if not rows or not cols:
            return [], []
    check_chip_budget(len(rows) * len(cols), options.max_scene_chips, what)
    return rows, cols


def offsets_in_bounds(
    grid: Grid,
    rows: list[int],
    cols: list[int],
    size: int,
    bounds: tuple[float, float, float, float],
    what: str,
) -> tuple[list[int], list[int]]:
    """The chip offsets whose ``size`` x ``size`` chip overlaps ``bounds`` (W, S, E, N in
    WGS84) transformed into the grid's CRS (densified edges: the box there holds all of it)."""
    try:
        box = transform_bounds(WGS84, grid.crs, *bounds, densify_pts=21)
    except CRSError as err:
        raise DataError(f"{what}: cannot place the area of interest in its CRS ({err})") from None
    inv = ~grid.transform
    xs, ys = zip(*(inv @ (x, y) for x in (box[0], box[2]) for y in (box[1], box[3])), strict=True)
    eps = 1e-6  # a chip that only touches the box is out
    col0, col1, row0, row1 = min(xs) + eps, max(xs) - eps, min(ys) + eps, max(ys) - eps
    return (
        [r for r in rows if r < row1 and r + size > row0],
        [c for c in cols if c < col1 and c + size > col0],
    )


@dataclasses.dataclass(frozen=True)
class _Scene:
    scene_id: str
    key_id: str  # scene_id made safe for keys
    sensor: Sensor
    source: str
    acquired: dt.datetime | None
    linear: bool
    units_check: bool
    crs: CRS
    what: str


def iter_grid_chips(
    grid: BandGrid,
    scene_id: str,
    sensor: Sensor,
    options: SceneOptions,
    tally: Tally,
    *,
    name_hints: Sequence[str] = (),
    source: str = "scene",
    name: str | None = None,
) -> Iterator[Chip]:
    """All chips of an open ``BandGrid``, read one window (a run of chips in a row) at a time;
    ``name``: the scene's name for people (its chips' ``scene_id``), when not ``scene_id``."""
    g = grid.grid
    size = options.chip_size
    what = ", ".join(display_path(f) for f in grid.files)
    rows, cols = kept_offsets(g, options, what)
    if not rows or not cols:
        return  # the scene only touches the area of interest: nothing to read
    linear = options.s1_linear if options.s1_linear is not None else tags_say_linear(grid)
    linear = bool(linear) and sensor is Sensor.S1
    acquired = scene_time(grid, options, name_hints, tally, what)
    check_sample(
        sample_pixels(grid, rows, cols, size), grid, sensor, linear, options.units_check, tally
    )
    scene = _Scene(payload_text(name or scene_id), key_part(scene_id), sensor, source, acquired,
                   linear, options.units_check, g.crs, what)  # fmt: skip
    tally.expect(len(rows) * len(cols))
    produced = 0
    for row in rows:
        for i in range(0, len(cols), options.window_chips):
            block = cols[i : i + options.window_chips]
            data = grid.read(row, block[0], size, block[-1] - block[0] + size)
            for chip in _block_chips(data, row, block, grid, scene, options, tally):
                produced += 1
                yield chip
    if grid.inf_pixels:
        tally.flag("infinite pixels treated as no-data", grid.inf_pixels, "pixels")
    if produced == 0:
        tally.flag(f"scene without a usable chip: {scene_id}", 1, "scenes")
    elif scene.key_id != payload_text(scene_id):
        tally.flag("scene id made safe for the key (scene_id keeps the original)", produced)
    if produced and not g.transform.is_rectilinear:
        tally.flag("rotated or skewed pixel grid (footprint: its true corners)", produced)


def _block_chips(
    data: np.ndarray,
    row: int,
    block: list[int],
    grid: BandGrid,
    scene: _Scene,
    options: SceneOptions,
    tally: Tally,
) -> Iterator[Chip]:
    """Chips of one read window ``data`` (bands, size, width) whose chip columns are ``block``."""
    size, g, names = options.chip_size, grid.grid, grid.names
    kept: list[tuple[int, np.ndarray]] = []
    for col in block:
        arr, outside = screen_chip(
            data[:, :, col - block[0] : col - block[0] + size],
            scene.sensor,
            scene.linear,
            mask=scene.units_check,
        )
        if outside:
            tally.flag(range_flag(scene.sensor, scene.linear, masked=scene.units_check))
        if float(np.isnan(arr).any(axis=0).mean()) > options.max_nodata:
            tally.skip(f"no-data share above {options.max_nodata:.0%}")
            continue
        kept.append((col, arr))
    transforms = [g.window_transform(row, col) for col, _ in kept]
    places = locate_quads(g.crs, [pixel_quad(t, size, size) for t in transforms], scene.what)
    for (col, arr), transform, (center, ring) in zip(kept, transforms, places, strict=True):
        pixels = prepare_chip(arr, scene.sensor, names, scene.linear, scene.what)
        labels, original, unmapped = _chip_labels(
            ChipWindow(scene.scene_id, row, col, g.crs, transform, (size, size), pixels), options
        )
        flag_unmapped(tally, unmapped)
        yield Chip(
            key=scene_key(scene.source, scene.key_id, scene.sensor.value, row, col, size),
            sensor=scene.sensor,
            pixels=pixels,
            center=center,
            footprint=ring,
            crs=crs_name(g.crs),
            source=scene.source,
            scene_id=scene.scene_id,
            acquired=scene.acquired,
            labels=labels,
            original_labels=original,
            unmapped_labels=unmapped,
            origin=grid.origin(row, col, size, s1_linear=scene.linear),
        )


def prepare_chip(
    arr: np.ndarray, sensor: Sensor, names: Sequence[str], linear: bool, what: str
) -> np.ndarray:
    """Raw ``(bands, H, W)`` window (NaN no-data; S2 digital numbers, S1 dB or linear power if
    ``linear``) -> model input in the band contract of ``sensor``; ``DataError`` naming ``what``."""
    try:
        if sensor is Sensor.S1:
            return prepare_s1(linear_to_db(arr) if linear else arr, names)
        return prepare_s2(arr, names)
    except BandContractError as err:
        raise DataError(f"{what}: {err}") from None


def _chip_labels(
    window: ChipWindow, options: SceneOptions
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(labels, original labels, unmapped) from the scene labels and the per-chip hook."""
    extra = [str(x) for x in options.chip_labeler(window)] if options.chip_labeler else []
    ours, unmapped = harmonise_labels(extra)
    labels = tuple(sort_labels([*options.labels, *ours]))
    original = tuple(dict.fromkeys([*options.labels, *extra]))
    return labels, original, unmapped
