"""STAC Items, ItemCollections and static Catalogs -> band assets -> the raster-scene reader.

``StacSource(href, options)`` takes a local JSON file or an http(s) URL of a STAC Item
(``"type": "Feature"``), an ItemCollection (``"FeatureCollection"``) or a Catalog/Collection
(``child`` and ``item`` links are followed, at most ``MAX_DEPTH`` catalogues deep;
``stac_walk.py``). The STAC
API search (``stac_api.py``) reads its items the same way.

- **Confinement** (``hrefs.py``): every link and asset href must resolve inside the
  catalogue's folder or to http(s); anything else is refused (``HrefRefusedError``), unless
  ``allowed_roots`` (setting ``CLOSP_STAC_ALLOWED_ROOTS``) allows more folders.
- **Bad documents**: a child or item document that cannot be read (unreachable, not JSON, not
  STAC, a link back to a catalogue already read, refused) becomes a unit of its own that fails
  with one sentence naming it; the other items are read. Only an unreadable top document stops
  everything (``DataError`` from ``units()``).
- **Bands and values** (``stac_bands.py``): bands from ``eo:bands``/``bands`` names and common
  names, else asset keys; Sentinel-2 products of processing baseline >= 04.00 carry a +1000 DN
  offset that is removed, so the DN are what the band contract expects (reflectance x 10000,
  no offset, like the 2017-2018 training corpus). SAR in linear power (collection
  ``sentinel-1-rtc`` of Planetary Computer, gamma0, or a band ``unit`` saying so) -> dB.
- **Scenes**: items of the same product (same collection and ``s2:product_uri``: one tile's
  bands split over several items) are read as one scene, bands from all of them (the finest
  asset of a band wins, first item by id on ties); any other item is a scene of its own. Items
  with the same id (e.g. repeated across pages) are read once. Two items of one datatake cut at
  a tile edge are two scenes (two grids): where tiles overlap, both give chips.
- **Keys**: ``stac/<id>/<sensor>/r<row>_c<col>``, ``<id>`` the scene's (smallest) item id made
  safe (``safe_key_id``: only ``A-Z a-z 0-9 . _ -``, no ``..``; a changed id gets a hash
  suffix and the scene is flagged); chips keep the original id as ``scene_id``. The keys do
  not depend on the AOI or on paging, so re-running a search adds nothing twice.
- **Sensor / time**: ``options.sensor``, else the item's ``constellation``/``platform``, else
  the band names; ``options.acquired``, else ``datetime`` (or ``start_datetime``).
- **AOI** (``StacRead.aoi``): only chips of the grid that overlap it are read (``chipping``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pystac

from closp_core.bands import Sensor
from closp_core.data.base import check_labels
from closp_core.data.chip import Chip, Tally
from closp_core.data.chipping import SceneOptions
from closp_core.data.raster import BandRef
from closp_core.data.scene.source import SceneSpec, read_scene
from closp_core.data.stac.aoi import Aoi
from closp_core.data.stac.bands import check_signed, item_bands, says_linear
from closp_core.data.stac.fetch import HostPolicy, HostRefusedError, resolve_redirects
from closp_core.data.stac.gdal_gate import GdalGate
from closp_core.data.stac.hrefs import HrefPolicy, is_http
from closp_core.data.stac.remote import (
    RASTER_SUFFIXES,
    RemoteOptions,
    Signer,
    explain_read_error,
    remote_env,
)
from closp_core.data.stac.walk import walk_stac
from closp_core.data.timestamps import parse_time
from closp_core.errors import DataError, HrefRefusedError, MissingBandsError

LINEAR_S1_COLLECTIONS = frozenset({"sentinel-1-rtc"})  # Planetary Computer: linear gamma0
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@contextlib.contextmanager
def gated_read(paths: Iterable[str], remote: RemoteOptions, policy: HostPolicy) -> Iterator[None]:
    """GDAL's settings for reading ``paths`` on this thread (``remote_env``); with a URL among
    them, every hop GDAL makes passes ``policy`` through a ``GdalGate`` (local files: no gate,
    and no refusal of NO_PROXY). Every GDAL read of remote files goes through it (STAC reads,
    the STAC tab's count, the imagery export). A read that fails after the gate refused a hop
    raises that refusal instead."""
    gate = None
    if any(is_http(path) for path in paths):
        gate = GdalGate(policy, remote.connect_timeout_s, remote.timeout_s, remote.proxy)
    proxy = gate.gdal_options() if gate is not None else None
    with gate or contextlib.nullcontext(), remote_env(remote, proxy):
        try:
            yield
        except DataError:
            if gate is not None and gate.refused:
                raise HostRefusedError(
                    f"GDAL was sent on to a refused host: {gate.refused[0]}"
                ) from None
            raise


@dataclasses.dataclass(frozen=True)
class StacRead:
    """How item assets are read: where hrefs may point (local folders, remote hosts), signing,
    remote options, AOI. ``hosts``: ``None`` -> ``remote.hosts`` only."""

    policy: HrefPolicy
    signer: Signer | None = None
    remote: RemoteOptions = dataclasses.field(default_factory=RemoteOptions)
    aoi: Aoi | None = None
    hosts: HostPolicy | None = None

    def resolve(self, href: str, base: str) -> str:
        """The URL or path for ``href``: remote ones on an allowed host, signed."""
        target = self.policy.resolve(href, base)
        if not is_http(target):
            return target
        self.host_policy().check(target)
        if self.signer is not None:
            return check_signed(target, self.signer(target))
        return target

    def host_policy(self) -> HostPolicy:
        return self.hosts or HostPolicy(self.remote.hosts)

    def gdal_env(self, bands: Mapping[str, BandRef]) -> contextlib.AbstractContextManager[None]:
        """GDAL's settings and gate for reading ``bands`` on this thread (``gated_read``)."""
        return gated_read([ref.path for ref in bands.values()], self.remote, self.host_policy())

    def landed(self, bands: dict[str, BandRef]) -> dict[str, BandRef]:
        """``bands`` with each URL replaced by the one it redirects to (each hop checked;
        see ``remote.py``): GDAL, which follows redirects unchecked, gets the final URL."""
        final: dict[str, str] = {}
        for ref in bands.values():
            if is_http(ref.path) and ref.path not in final:
                url = resolve_redirects(ref.path, self.remote, self.host_policy())
                if url != ref.path and not urlsplit(url).path.lower().endswith(RASTER_SUFFIXES):
                    raise HrefRefusedError(
                        f"STAC asset {ref.path} redirects to {url}, which is not a raster file "
                        f"({', '.join(RASTER_SUFFIXES)}); refused"
                    )
                final[ref.path] = url
        return {b: dataclasses.replace(r, path=final.get(r.path, r.path)) for b, r in bands.items()}


@dataclasses.dataclass(frozen=True)
class SceneItems:
    """The items of one scene, each with the href of the document it came from."""

    items: tuple[tuple[pystac.Item, str], ...]

    @property
    def original_id(self) -> str:
        return self.items[0][0].id

    @property
    def key_id(self) -> str:
        return safe_key_id(self.original_id)


def safe_key_id(item_id: str) -> str:
    """An item id as it may appear in a key (see the module docstring)."""
    clean = re.sub(r"\.{2,}", "_", _UNSAFE.sub("_", item_id)).strip("._-")[:120]
    if clean == item_id:
        return clean
    return f"{clean or 'item'}-{hashlib.sha1(item_id.encode()).hexdigest()[:8]}"


def group_scenes(found: Iterable[tuple[pystac.Item, str]]) -> list[SceneItems]:
    """Items (with their document hrefs) -> scenes: same id once, same product together."""
    groups: dict[tuple[str, str], list[tuple[pystac.Item, str]]] = {}
    seen: set[str] = set()
    for item, base in found:
        if item.id in seen:
            continue
        seen.add(item.id)
        product = item.properties.get("s2:product_uri")
        key = (item.collection_id or "", str(product)) if product else ("", f"id:{item.id}")
        groups.setdefault(key, []).append((item, base))
    return [SceneItems(tuple(sorted(g, key=lambda pair: pair[0].id))) for g in groups.values()]


def item_sensor(item: pystac.Item) -> Sensor | None:
    """Sensor from ``constellation`` / ``platform`` properties, when they say Sentinel-1/-2."""
    text = " ".join(str(item.properties.get(k, "")) for k in ("constellation", "platform"))
    text = text.lower().replace("_", "-").replace(" ", "-")
    if "sentinel-1" in text:
        return Sensor.S1
    if "sentinel-2" in text:
        return Sensor.S2
    return None


def scene_bands(scene: SceneItems, read: StacRead) -> tuple[dict[str, BandRef], list[str]]:
    """The scene's bands (first item by id wins) and why assets were dropped."""
    bands: dict[str, BandRef] = {}
    dropped: list[str] = []
    for item, base in scene.items:
        found, why = item_bands(item, functools.partial(read.resolve, base=base))
        dropped += why
        for band, ref in found.items():
            bands.setdefault(band, ref)
    return bands, dropped


def scene_options(item: pystac.Item, options: SceneOptions, read: StacRead) -> SceneOptions:
    """``options`` completed from the item's metadata (sensor, time, SAR units, AOI)."""
    changes: dict[str, Any] = {}
    if options.sensor is None and (sensor := item_sensor(item)) is not None:
        changes["sensor"] = sensor
    when = item.datetime or parse_time(item.properties.get("start_datetime"))
    if options.acquired is None and when is not None:
        changes["acquired"] = when
    if options.s1_linear is None:
        changes["s1_linear"] = says_linear(item, LINEAR_S1_COLLECTIONS)
    if read.aoi is not None and options.aoi_bounds is None:
        changes["aoi_bounds"] = read.aoi.bounds
    return dataclasses.replace(options, **changes)


def read_scene_items(
    scene: SceneItems, options: SceneOptions, read: StacRead, tally: Tally
) -> Iterator[Chip]:
    """The chips of one scene (a generator: remote reads run under ``remote_env``)."""
    bands, dropped = scene_bands(scene, read)
    first, base = scene.items[0]
    if not bands:
        assets = ", ".join(first.assets)
        raise _error(dropped)(
            f"STAC {base}: item {scene.key_id!r} has no usable band assets (name them in "
            f"eo:bands or with keys like B02, B8A, vv, vh); assets: {assets}" + _why(dropped)
        )
    bands = read.landed(bands)
    if scene.key_id != scene.original_id:
        tally.flag("STAC item id made safe for keys (original kept as scene_id)")
    spec = SceneSpec(scene.key_id, f"STAC item {scene.key_id!r}", bands=bands,
                     name_hints=(scene.key_id,))  # fmt: skip
    return _stream(spec, scene_options(first, options, read), read, tally, scene, dropped)


def read_unit(
    unit: str,
    scenes: dict[str, SceneItems],
    failures: dict[str, DataError],
    options: SceneOptions,
    read: StacRead,
    tally: Tally,
    kind: str = "STAC",
) -> Iterator[Chip]:
    """The chips of the scene ``unit`` names (a STAC source's ``read``); a unit that stands for
    a failed document or search page raises its ``DataError``."""
    if unit in failures:
        raise failures[unit]
    if unit not in scenes:
        raise DataError(f"unknown {kind} unit {unit!r}; use one from units()")
    return read_scene_items(scenes[unit], options, read, tally)


def _stream(
    spec: SceneSpec,
    options: SceneOptions,
    read: StacRead,
    tally: Tally,
    scene: SceneItems,
    dropped: list[str],
) -> Iterator[Chip]:
    with read.gdal_env(spec.bands or {}):
        try:
            for chip in read_scene(spec, options, tally, source="stac"):
                if read.aoi is not None and not read.aoi.meets(chip.footprint):
                    tally.skip("outside the AOI")  # in its box in the scene's CRS only
                    continue
                if scene.original_id != chip.scene_id:
                    chip = dataclasses.replace(chip, scene_id=scene.original_id)
                yield chip
        except MissingBandsError as err:
            why = explain_read_error(str(err), read.remote) + _why(dropped)
            raise _error(dropped)(why) from None
        except DataError as err:
            raise DataError(explain_read_error(str(err), read.remote)) from None


def _why(dropped: list[str]) -> str:
    return ("; dropped " + "; ".join(dropped)) if dropped else ""


def _error(dropped: list[str]) -> type[DataError]:
    """Bands missing while assets were dropped: every dropped asset is one whose href the
    confinement rule refused (``bands.item_bands``), so the refusal is the verdict."""
    return HrefRefusedError if dropped else DataError


class StacSource:
    """``ChipSource`` for static STAC: ``StacSource(href, options=None, *, allowed_roots=(),
    signer=None, remote=None, aoi=None)``; one unit per scene, one per failed document."""

    name = "stac"

    def __init__(
        self,
        href: str | Path,
        options: SceneOptions | None = None,
        *,
        allowed_roots: tuple[str, ...] = (),
        signer: Signer | None = None,
        remote: RemoteOptions | None = None,
        aoi: Aoi | None = None,
    ) -> None:
        self.href = str(href)
        self.options = options or SceneOptions()
        check_labels(self.options.labels, "STAC labels")
        policy = HrefPolicy.for_document(self.href, tuple(allowed_roots))
        remote = remote or RemoteOptions()
        hosts = HostPolicy.for_url(self.href if is_http(self.href) else None, remote)
        self.read_with = StacRead(policy, signer, remote, aoi, hosts)
        self._scenes: dict[str, SceneItems] | None = None
        self._failures: dict[str, DataError] = {}

    def units(self) -> list[str]:
        """``<href>#<item id>`` per scene, then the documents that could not be read."""
        if self._scenes is None:
            found = walk_stac(self.href, self.read_with.policy, self.read_with)
            scenes = group_scenes(found.items)
            self._scenes = {f"{self.href}#{s.key_id}": s for s in scenes}
            self._failures = found.failures
        return [*self._scenes, *self._failures]

    def read(self, unit: str, tally: Tally) -> Iterator[Chip]:
        """The chips of one scene; a failed document's unit raises its ``DataError``."""
        self.units()
        assert self._scenes is not None
        return read_unit(unit, self._scenes, self._failures, self.options, self.read_with, tally)
