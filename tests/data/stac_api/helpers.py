"""Shared by the STAC API tests and the bench: files, a served API, reference chips."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.warp import transform_bounds

from closp_core.data import Chip, ChipSource, SceneSource, Tally
from closp_core.data.stac.aoi import Aoi
from closp_core.data.stac.api import StacQuery
from closp_core.data.stac.remote import RemoteOptions
from tests.data.stac_api import make_data as md
from tests.data.stac_api.server import StacApiServer

# short timeouts and back-off so that failure paths stay quick in tests
LOCAL = ("127.0.0.1",)  # the test servers: listed, as an operator would list a host
FAST = RemoteOptions(
    timeout_s=2.0, connect_timeout_s=1.0, retries=1, retry_delay_s=0.05, hosts=LOCAL
)
WORLD = Aoi.from_bbox("-180,-90,180,90")
ALL_TIME = "2015-01-01/2025-12-31"
S2 = ("sentinel-2-l2a",)
S1 = ("sentinel-1-rtc",)


@contextmanager
def serve(files: Path, items: list[dict[str, Any]], **kw: Any) -> Iterator[StacApiServer]:
    with StacApiServer(files, items, **kw) as server:
        yield server


def query(server: StacApiServer, collections: tuple[str, ...] = S2, **kw: Any) -> StacQuery:
    kw.setdefault("aoi", WORLD)
    kw.setdefault("datetime", ALL_TIME)
    return StacQuery(server.base_url, collections, **kw)


def read_all(source: ChipSource, tally: Tally | None = None) -> list[Chip]:
    tally = tally if tally is not None else Tally()
    return [chip for unit in source.units() for chip in source.read(unit, tally)]


def virginia_reference() -> dict[str, Chip]:
    """The shipped Virginia strip through the scene reader (no offset): ``r<row>_c<col>`` ->
    chip; the STAC layouts must give the same pixels (B10 aside: L2A has none)."""
    chips = read_all(SceneSource(md.VIRGINIA))
    return {chip.key.rsplit("/", 1)[1]: chip for chip in chips}


def same_s2_pixels(a: Chip, b: Chip) -> bool:
    keep = [i for i in range(13) if i != 10]
    return bool(np.allclose(a.pixels[keep], b.pixels[keep], atol=1e-6))


def inner_lonlat_box(path: Path, rows: tuple[int, int], cols: tuple[int, int]) -> Aoi:
    """A WGS84 box inside the pixel box ``rows`` x ``cols`` of the raster at ``path``."""
    with rasterio.open(path) as src:
        x0, y0 = src.transform @ (cols[0], rows[0])
        x1, y1 = src.transform @ (cols[1], rows[1])
        crs = src.crs
    corners = [transform_bounds(crs, "EPSG:4326", x, y, x, y) for x in (x0, x1) for y in (y0, y1)]
    lons = sorted(c[0] for c in corners)
    lats = sorted(c[1] for c in corners)
    return Aoi.from_bbox((lons[1], lats[1], lons[2], lats[2]))
