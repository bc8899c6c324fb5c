"""``python -m ingest stac-search``: the subcommand's options and its chip source.

    python -m ingest stac-search API_URL --collections C[,C...]
        (--bbox=W,S,E,N | --intersects AOI.geojson) --datetime START/END
        [--max-items N] [--filter CQL2 | --query EXPR...] [--sensor s1|s2] [--labels ...]
        [--sign planetary-computer|module:function] [--timeout S] [--retries N]

Hosts, the search deadline and the byte and page budgets come from the settings
(``CLOSP_STAC_HOSTS``, ``CLOSP_STAC_SEARCH_DEADLINE_S`` ...: ``closp_core/settings.py``);
``--timeout`` is the deadline of one whole request.

The engine is ``closp_core.data.stac.api`` (search, AOI, harmonisation) and
``closp_core.data.stac.remote`` (GDAL's HTTP options, signing).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from closp_core.bands import Sensor
from closp_core.data.chipping import SceneOptions
from closp_core.data.stac.aoi import Aoi
from closp_core.data.stac.api import StacQuery, StacSearchSource
from closp_core.data.stac.remote import RemoteOptions, load_signer
from closp_core.errors import ConfigError
from closp_core.labels import LABELS
from closp_core.settings import Settings


def add_stac_search_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """The ``stac-search`` subparser (``commands``: argparse's subparsers action)."""
    cmd = commands.add_parser(
        "stac-search",
        parents=parents,
        help="search a STAC API (pystac-client); index the chips of an area",
        description="Search a STAC API and index the chips where the items meet the area. "
        "Remote COGs are read in windows: only the tiles under the area are fetched.",
    )
    cmd.add_argument("url", metavar="API_URL", help="STAC API root, e.g. https://.../v1")
    cmd.add_argument("--collections", required=True, metavar="C[,C...]")
    where = cmd.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--bbox", metavar="W,S,E,N", help="degrees, e.g. --bbox -75.7,37.6,-75.6,37.7"
    )
    where.add_argument("--intersects", type=Path, metavar="AOI.geojson", help="a polygon")
    cmd.add_argument("--datetime", required=True, metavar="START/END", help="e.g. 2023-06-01/..")
    cmd.add_argument("--max-items", type=int, help="stop after this many items")
    how = cmd.add_mutually_exclusive_group()
    how.add_argument("--filter", metavar="CQL2", help="CQL2 text, or CQL2 JSON ({...})")
    how.add_argument("--query", nargs="+", metavar="EXPR", help="e.g. eo:cloud_cover<20")
    cmd.add_argument("--sensor", choices=[s.value for s in Sensor], help="default: from items")
    cmd.add_argument(
        "--labels", nargs="+", metavar="LABEL", help=f"labels for every chip: {', '.join(LABELS)}"
    )
    cmd.add_argument(
        "--sign",
        metavar="SIGNER",
        help="sign asset URLs: planetary-computer (optional package) or module:function",
    )
    cmd.add_argument(
        "--timeout",
        type=float,
        help="seconds for one whole request, retries included (default: setting "
        "stac_request_deadline_s, 30)",
    )
    cmd.add_argument("--retries", type=int, default=3, help="retries per request (3)")
    cmd.add_argument("--page-size", type=int, default=100, help="items per page (100)")
    cmd.add_argument("--stride", type=int, default=120, help="pixels between chips (120)")
    cmd.add_argument("--max-nodata", type=float, default=0.1, help="skip chips above this")


def stac_search_source(args: argparse.Namespace) -> StacSearchSource:
    """The chip source of a parsed ``stac-search`` command line."""
    aoi = Aoi.from_bbox(args.bbox) if args.bbox else Aoi.from_geojson(args.intersects)
    query = StacQuery(
        url=args.url,
        collections=tuple(c.strip() for c in args.collections.split(",") if c.strip()),
        aoi=aoi,
        datetime=args.datetime,
        max_items=args.max_items,
        filter=args.filter,
        query=tuple(args.query or ()),
        page_size=args.page_size,
    )
    options = SceneOptions(
        sensor=Sensor.parse(args.sensor) if args.sensor else None,
        labels=tuple(args.labels or ()),
        stride=args.stride,
        max_nodata=args.max_nodata,
    )
    changes: dict[str, Any] = {"retries": args.retries, "cli": True}
    if args.timeout is not None:
        if not args.timeout > 0:
            raise ConfigError(f"--timeout {args.timeout}: give a positive number of seconds")
        changes |= {"timeout_s": args.timeout, "connect_timeout_s": min(args.timeout, 10.0)}
    remote = RemoteOptions.from_settings(Settings.load(), **changes)
    signer = load_signer(args.sign) if args.sign else None
    return StacSearchSource(
        query, options, signer=signer, remote=remote, progress=not args.no_progress
    )
