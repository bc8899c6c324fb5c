"""``python -m closp_core.search``: one search from the command line, through the same
``SearchRequest`` and ``search()`` as the app and the Python API.

    python -m closp_core.search "flooded fields" [--bbox W,S,E,N | --intersects AREA.geojson]
        [--labels LABELS.geojson] [--sensor s1|s2|both] [--event NAME]... [--cover NAME]...
        [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--near LON,LAT] [--limit N] [--data-dir DIR]
        [--out results.geojson|results.csv | --json]
        [--score-map MAP.tif] [--area AREA.gpkg|AREA.geojson] [--stac ITEMS.json]
        [--imagery FOLDER] [--threshold T] [--combine s1|s2|either|both] [--change-after YYYY-MM-DD]

``--score-map`` / ``--area`` / ``--stac`` / ``--imagery`` score every chip of the area instead
of listing the top hits (``closp_core.scoremap``): the same files as the app and
``Index.score_map``; their ``--bbox`` may cross the antimeridian (west > east:
``closp_core.scoremap.wrap``). ``--imagery``: the top chips' imagery read again from their
sources, one COG each, and ``report.json`` (chips that could not be exported are also named on
stderr).

The index and model are those of the ``CLOSP_*`` settings (``--data-dir`` overrides
``CLOSP_DATA_DIR``). ``--labels``: 👍 / 👎 marks exported by the app (they re-rank). Negative
coordinates work with or without ``=``. Without ``--out`` / ``--json`` a table is printed.
Exit status: 0 done, 2 bad input or nothing to search (the reason on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from closp_core.argv import attach_values
from closp_core.errors import ClospError, SearchError
from closp_core.search.build import make_request
from closp_core.search.index import Index, open_index
from closp_core.search.outcome import SearchOutcome
from closp_core.search.request import DEFAULT_LIMIT, SearchRequest
from closp_core.settings import Settings

EXIT_OK = 0
EXIT_BAD_INPUT = 2
OUT_FORMATS = {".geojson": "geojson", ".json": "geojson", ".csv": "csv"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m closp_core.search",
        description="Search the index of the CLOSP_* settings with text, an area and filters.",
    )
    parser.add_argument("text", nargs="?", default="", help="what to look for")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--bbox", metavar="W,S,E,N", help="chips whose centre is in this box")
    where.add_argument("--intersects", type=Path, metavar="AREA.geojson", help="a polygon")
    parser.add_argument("--labels", type=Path, metavar="FILE", help="👍/👎 label file (app)")
    parser.add_argument("--sensor", choices=["s1", "s2", "both"], default="both")
    parser.add_argument(
        "--event",
        action="append",
        default=[],
        metavar="NAME",
        help="event label, e.g. 'Flooded Area' (repeat: any of them)",
    )
    parser.add_argument(
        "--cover",
        action="append",
        default=[],
        metavar="NAME",
        help="land-cover label, e.g. Water (repeat: any of them)",
    )
    parser.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD")
    parser.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD")
    parser.add_argument("--near", metavar="LON,LAT", help="near this place (GeoCLOSP models)")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="hits (50)")
    parser.add_argument("--data-dir", type=Path, help="index folder (overrides CLOSP_DATA_DIR)")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--out", type=Path, metavar="FILE", help="results.geojson or results.csv")
    out.add_argument("--json", action="store_true", help="the outcome as JSON on stdout")
    _score_map_options(parser)
    return parser  # fmt: skip


def _score_map_options(parser: argparse.ArgumentParser) -> None:
    maps = parser.add_argument_group("score map (every chip of the area)")
    maps.add_argument("--score-map", type=Path, metavar="MAP.tif", help="scores as a COG")
    maps.add_argument("--area", type=Path, metavar="AREA.gpkg", help="area >= threshold")
    maps.add_argument("--stac", type=Path, metavar="ITEMS.json", help="STAC of the files")
    maps.add_argument("--imagery", type=Path, metavar="FOLDER", help="top chips' imagery, COGs")
    maps.add_argument("--threshold", type=float, help="score threshold (default: suggested)")
    maps.add_argument("--combine", choices=["s1", "s2", "either", "both"], default="either")
    maps.add_argument("--change-after", metavar="YYYY-MM-DD", help="change map: after - before")


def _write_score_map(args: argparse.Namespace, index: Index) -> int:
    from closp_core.scoremap.export import write_exports
    from closp_core.scoremap.wrap import crossing_box

    crossing = crossing_box(args.bbox)  # west > east: an area across ±180°
    if crossing is not None:
        args = argparse.Namespace(**{**vars(args), "bbox": None})
    smap = index.score_map(
        request_of(args, index),
        combine=args.combine,
        threshold=args.threshold,
        change_after=args.change_after,
        antimeridian_box=crossing,
    )
    written = write_exports(
        smap,
        score_map=args.score_map,
        area=args.area,
        stac=args.stac,
        imagery=args.imagery,
        store=index.store,
    )
    figures = smap.figures()
    summary = ", ".join(f"{s} {f.km2:.3f} km2 / {f.chips} chips" for s, f in figures.items())
    print(
        f"{len(smap.table)} chips scored ({smap.kind.value}), >= {smap.threshold:g}: {summary}",
        file=sys.stderr,
    )
    for path in written.values():
        print(f"-> {path}", file=sys.stderr)
    if written.imagery is not None:
        report = written.imagery
        print(f"imagery: {len(report.written)} of {len(report.chips)} chips", file=sys.stderr)
        for chip in report.missing:
            print(f"  {chip.key}: not exported: {chip.reason}", file=sys.stderr)
    return EXIT_OK


def out_format(path: Path) -> str:
    """``"geojson"`` or ``"csv"`` from the file name, else ``SearchError``."""
    kind = OUT_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise SearchError(f"--out {path}: name a .geojson or .csv file")
    if not path.parent.is_dir():
        raise SearchError(f"--out {path}: the folder {path.parent} does not exist")
    return kind


def request_of(args: argparse.Namespace, index: Index) -> SearchRequest:
    """The ``SearchRequest`` of a parsed command line (a label file is read through
    ``index``; its chips no longer in the index are reported on stderr)."""
    marks = None
    if args.labels is not None:
        resolved = index.read_marks(args.labels)
        marks = resolved.labels
        if resolved.missing:
            print(f"{len(resolved.missing)} labelled chips are not in this index", file=sys.stderr)
    return make_request(
        args.text,
        bbox=args.bbox,
        intersects=args.intersects,
        labels=[*args.event, *args.cover],
        sensor=args.sensor,
        date_from=args.date_from,
        date_to=args.date_to,
        near=args.near,
        marks=marks,
        limit=args.limit,
    )


def outcome_json(outcome: SearchOutcome) -> str:
    """The outcome for ``--json``: title, method, notes, timings and the hits' properties."""
    body = {
        "title": outcome.title,
        "method": outcome.method.value,
        "notes": list(outcome.notes),
        "encode_ms": round(outcome.encode_ms, 3),
        "search_ms": round(outcome.search_ms, 3),
        "hits": outcome.to_records(),
    }
    return json.dumps(body, indent=1, ensure_ascii=False)


def _table(outcome: SearchOutcome) -> str:
    lines = [f"{len(outcome.hits)} results for {outcome.title} ({outcome.method.value})"]
    for rank, hit in enumerate(outcome.hits, start=1):
        rec = hit.record
        day = rec.acquired.date().isoformat() if rec.acquired else "?"
        lines.append(f"{rank:4d}  {hit.score:.4f}  {rec.sensor.value}  {day}  {rec.key}")
    return "\n".join([*lines, *outcome.notes])


def run(args: argparse.Namespace) -> int:
    """Search once and write the outcome where ``args`` say."""
    kind = out_format(args.out) if args.out is not None else None
    settings = Settings.load()
    if args.data_dir is not None:
        settings = settings.replace(data_dir=args.data_dir)
    with open_index(settings) as index:
        if args.score_map or args.area or args.stac or args.imagery:
            return _write_score_map(args, index)
        outcome = index.search(request_of(args, index))
    if args.json:
        print(outcome_json(outcome))
    elif args.out is not None:
        text = outcome.to_geojson() if kind == "geojson" else outcome.to_csv()
        args.out.write_text(text, encoding="utf-8")
        print(f"{len(outcome.hits)} results for {outcome.title} -> {args.out}", file=sys.stderr)
    else:
        print(_table(outcome))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); the exit status."""
    args = build_parser().parse_args(attach_values(argv))
    try:
        return run(args)
    except ClospError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
