"""``python -m ingest``: put imagery into the search index.

Exit status (``EXIT_*``): 0 when everything was indexed, 1 when some files failed (each named
on its own ``FAILED`` line with the reason; the rest is indexed), 2 when nothing could start
(bad arguments, no model weights, index held by another process, no readable input at all),
3 for a bug in this program: any exception that is not one of our own errors. Input problems
never end in a traceback; exit 3 prints a short message saying it is a bug, how to report it,
and the traceback to attach.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from closp_core.argv import attach_values
from closp_core.bands import Sensor
from closp_core.data import (
    ChipSource,
    SceneOptions,
)
from closp_core.data.crisislandmark.source import SOURCES as CLM_SOURCES
from closp_core.data.keys import display_text
from closp_core.data.samples import SAMPLES_DIR
from closp_core.data.stac.hrefs import parse_roots
from closp_core.data.stac.remote import RemoteOptions
from closp_core.data.timestamps import check_acquired
from closp_core.embedder import Embedder, pick_device, threads_for
from closp_core.errors import ClospError, WeightsUnavailableError
from closp_core.labels import LABELS
from closp_core.model.demo import describe_model
from closp_core.scoremap.sidefile import side_file_path
from closp_core.settings import Settings
from closp_core.sources import SOURCE_KINDS, open_source
from closp_core.store import open_store, stored_model_id
from ingest.pipeline import DISK_FULL, Ingestor
from ingest.reading import choose_workers
from ingest.stac_search import add_stac_search_parser, stac_search_source
from ingest.status import describe_index

EXIT_OK, EXIT_SOME_FAILED, EXIT_NOT_STARTED, EXIT_BUG = 0, 1, 2, 3
# CrisisLandMark keys per unit: small enough that reader processes share a corpus evenly
CLM_KEYS_PER_UNIT = 1000

EXAMPLES = """\
examples:
  python -m ingest demo                                  index the shipped sample corpus
  python -m ingest scene S2_folder/ --date 2023-08-20 --labels "Burned Area"
  python -m ingest scene flood_S1.tif --sensor s1 --linear
  python -m ingest scene S2B_MSIL2A_20230112T155941_N0510_R097_T18SVG_20230112T193612.zip
  python -m ingest bigearthnet BigEarthNet-S2/
  python -m ingest crisislandmark ~/data/crisislandmark --split corpus --limit 10000
  python -m ingest crisislandmark DarthReca/crisislandmark --sources mmflood,quakeset
  python -m ingest stac items.json
  python -m ingest stac-search https://earth-search.aws.element84.com/v1 \
      --collections sentinel-2-l2a --bbox=-0.80,38.08,-0.74,38.13 --datetime 2023-06-01/2023-06-30
  python -m ingest info                                  what is indexed, with which model

Settings come from CLOSP_* environment variables (see README); the options below override them.
Re-running a command skips chips already indexed; --force re-embeds them.

Each scene's values are checked before indexing: S1 read as dB must be mostly negative, S1
read as linear power (--linear, or a units tag) must not be; S2 must be digital numbers in
[0, 30000], S1 in [-60, +40] dB. A scene that fails is refused (FAILED line); --units-check off
indexes the values as they are. --linear / --db state the S1 units when tags do not.
Sentinel-2 products from processing baseline 04.00 (January 2022) store reflectance x 10000
+ 1000: the offset is removed (then clipped at 0) wherever the product or STAC item declares
it; band files without their metadata take --s2-offset 1000.

exit status: 0 all indexed, 1 some files failed (the others are indexed), 2 nothing could
start (bad arguments, no weights, index busy), 3 a bug in this program (please report it).
"""


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("index and model (override CLOSP_* settings)")
    group.add_argument("--model", help="hub id, variant, local folder or random:<variant>")
    group.add_argument("--revision", help="hub revision (tag, branch, commit) of --model")
    group.add_argument("--data-dir", type=Path, help="folder of the index and previews")
    group.add_argument("--store-url", help="Qdrant server/cluster URL instead of the folder")
    group.add_argument("--collection", help="collection name")
    group.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    group.add_argument("--batch-size", type=int, help="chips per forward pass (default: device)")
    group.add_argument("--threads", type=int, help="torch CPU threads (default: cores - 1)")
    group.add_argument(
        "--workers", type=int, help="reader processes (0: a thread; default: per machine)"
    )
    run = common.add_argument_group("run")
    run.add_argument(
        "--engine",
        choices=["plain", "ray"],
        default="plain",
        help="plain (default): this process; ray: units as Ray tasks on a cluster (pip install "
        "'.[ray]'; the embedded index: this machine only, see --store-url)",
    )
    run.add_argument(
        "--address",
        metavar="auto|ray://HOST:PORT",
        help="with --engine ray: join this cluster (default: a private Ray on this machine)",
    )
    run.add_argument(
        "--encoders", type=int, help="with --engine ray: encoder actors (default: one per GPU)"
    )
    run.add_argument("--force", action="store_true", help="re-embed chips already indexed")
    run.add_argument("--limit", type=int, help="stop after this many chips")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument(
        "--no-optimize",
        action="store_true",
        help="do not build the search index (at the end, nor every CLOSP_STORE_SEGMENT_CHIPS)",
    )
    return common


def _scene_options(args: argparse.Namespace) -> SceneOptions:
    acquired = None
    if args.date:
        try:
            acquired = dt.datetime.fromisoformat(args.date)
        except ValueError:
            raise ClospError(f"--date {args.date!r} is not a date like 2023-08-20") from None
        check_acquired(acquired, f"--date {args.date}")
    return SceneOptions(
        sensor=Sensor.parse(args.sensor) if args.sensor else None,
        labels=tuple(args.labels or ()),
        acquired=acquired,
        s1_linear=args.s1_linear,
        units_check=args.units_check == "on",
        stride=args.stride,
        max_nodata=args.max_nodata,
        s2_offset=args.s2_offset,
    ).with_budgets(Settings.load())


def _add_units_options(parser: argparse.ArgumentParser, s1_units: bool) -> None:
    """--units-check (and, for scenes, --linear / --db)."""
    parser.add_argument(
        "--units-check",
        choices=["on", "off"],
        default="on",
        help="on (default): refuse scenes whose values are not in the sensor's units or "
        "physical range (S2 digital numbers 0..30000, S1 dB -60..+40, S1 dB mostly negative); "
        "off: index the values as they are (chips outside the range are still flagged)",
    )
    if not s1_units:
        return
    units = parser.add_mutually_exclusive_group()
    units.add_argument(
        "--linear",
        dest="s1_linear",
        action="store_const",
        const=True,
        help="S1 is linear power, not dB (converted with 10*log10); refused if it looks like "
        "dB unless --units-check off",
    )
    units.add_argument(
        "--db",
        dest="s1_linear",
        action="store_const",
        const=False,
        help="S1 is in dB whatever its tags say (default: from tags, else dB)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ingest",
        description="Cut imagery into chips, embed them with CLOSP and index them for search.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = [_common_options()]
    scene = commands.add_parser("scene", parents=common, help=SOURCE_KINDS["scene"].description)
    scene.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    scene.add_argument("--sensor", choices=[s.value for s in Sensor], help="default: from bands")
    scene.add_argument(
        "--labels", nargs="+", metavar="LABEL", help=f"labels for every chip: {', '.join(LABELS)}"
    )
    scene.add_argument("--date", help="acquisition date/time (ISO), if not in metadata or name")
    _add_units_options(scene, s1_units=True)
    scene.add_argument("--stride", type=int, default=120, help="pixels between chips (120)")
    scene.add_argument("--max-nodata", type=float, default=0.1, help="skip chips above this")
    scene.add_argument(
        "--s2-offset",
        type=float,
        metavar="DN",
        help="the DN offset S2 band files carry: 1000 for processing baseline >= 04.00 (from "
        "January 2022) when read without their product metadata, 0 for none; default: from the "
        "product (.SAFE folder or .zip), else none (a scene that looks shifted is flagged)",
    )
    clm = commands.add_parser(
        "crisislandmark",
        parents=common,
        help=SOURCE_KINDS["crisislandmark"].description,
        description="Index CrisisLandMark from a folder (crisislandmark.h5, its shards, "
        "metadata.parquet) or a Hugging Face dataset id (DarthReca/crisislandmark): only the "
        "files the chosen sources need are fetched into the Hugging Face cache (resumable); "
        "with HF_HUB_OFFLINE=1 or no network the cache is used, and missing files are named.",
    )
    clm.add_argument("root", help="folder, or hub dataset id like DarthReca/crisislandmark")
    clm.add_argument("--split", choices=["training", "corpus"], help="default: all keys")
    clm.add_argument(
        "--sources",
        type=lambda text: [s.strip() for s in text.split(",") if s.strip()],
        metavar="A,B",
        help=f"only these sources ({', '.join(CLM_SOURCES)}); default: all",
    )
    clm.add_argument("--dataset-revision", help="hub revision (tag, branch, commit) of the dataset")
    clm.add_argument(
        "--raw-channels",
        action="store_true",
        help="do not apply the reference loader's channel fixes (benv2s1/sen1flood/quakeset)",
    )
    stac = commands.add_parser("stac", parents=common, help=SOURCE_KINDS["stac"].description)
    stac.add_argument("href", help="local JSON file or URL")
    add_stac_search_parser(commands, common)
    ben = commands.add_parser(
        "bigearthnet", parents=common, help=SOURCE_KINDS["bigearthnet"].description
    )
    ben.add_argument("root", type=Path)
    _add_units_options(ben, s1_units=False)
    commands.add_parser("demo", parents=common, help=SOURCE_KINDS["samples"].description)
    commands.add_parser("info", parents=common, help="what is indexed, with which model")
    commands.add_parser(
        "optimize",
        parents=common,
        help="build the search graph over chips added since (the app adds without it)",
    )
    return parser


def make_sources(args: argparse.Namespace) -> list[ChipSource]:
    """The chip sources a command names, opened through the source registry."""
    if args.command == "scene":
        return [open_source("scene", args.paths, {"options": _scene_options(args)})]
    if args.command == "crisislandmark":
        raw = args.raw_channels
        options = {
            "split": args.split,
            "sources": args.sources,
            "revision": args.dataset_revision,
            "keys_per_unit": CLM_KEYS_PER_UNIT,
            "reverse_s1_channels": not raw,
            "quakeset_post_event": not raw,
        }
        return [open_source("crisislandmark", args.root, options)]
    if args.command == "stac":
        settings = Settings.load()
        roots = parse_roots(settings.stac_allowed_roots)
        remote = RemoteOptions.from_settings(settings, cli=True)
        return [open_source("stac", args.href, {"allowed_roots": roots, "remote": remote})]
    if args.command == "stac-search":
        return [stac_search_source(args)]
    if args.command == "bigearthnet":
        checked = SceneOptions(units_check=args.units_check == "on")
        return [
            open_source(
                "bigearthnet", args.root, {"options": checked.with_budgets(Settings.load())}
            )
        ]
    return [open_source("samples", SAMPLES_DIR)]


def settings_from(args: argparse.Namespace) -> Settings:
    names = ("model", "data_dir", "store_url", "collection", "device", "batch_size")
    overrides = {name: value for name in names if (value := getattr(args, name, None)) is not None}
    for option, name in (("threads", "ingest_threads"), ("workers", "ingest_workers")):
        if (value := getattr(args, option, None)) is not None:
            overrides[name] = value
    if args.revision:
        overrides["model_revision"] = args.revision
    return Settings.load().replace(**overrides)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if args.command == "info":
        print(describe_index(settings))
        return 0
    if args.command == "optimize":
        return optimize_index(settings)
    sources = make_sources(args)
    for source in sources:
        source.units()  # a missing path or empty folder stops here, before any model loads
    if args.engine == "ray":
        return run_ray(args, settings, sources)
    if args.address is not None or args.encoders is not None:
        raise ClospError("--address and --encoders go with --engine ray")
    workers = settings.ingest_workers
    if workers is None:
        workers = choose_workers(device=pick_device(settings.device).type)
    embedder = _load_embedder(settings, threads_for("ingest", settings, workers=workers))
    print(
        f"model: {describe_model(embedder.model)} on {embedder.device} "
        f"(batches of {embedder.batch_size}, {embedder.threads} threads, "
        f"{workers or 'no'} reader processes)",
        file=sys.stderr,
    )
    store = open_store(settings, embedder.model_id)
    try:
        store.check_writable()
        ingestor = Ingestor(
            embedder,
            store,
            settings.data_dir,
            force=args.force,
            progress=not args.no_progress,
            workers=workers,
            build=not args.no_optimize,
            max_chips=settings.max_job_chips,
            side_file=side_file_path(settings),
        )
        summary = ingestor.run_many(sources, limit=args.limit)
        if not args.no_optimize and DISK_FULL not in summary.failed:
            store.optimize()
    finally:
        store.close()
    print(summary.report())
    return EXIT_OK if summary.ok else EXIT_SOME_FAILED


def run_ray(args: argparse.Namespace, settings: Settings, sources: list[ChipSource]) -> int:
    """``--engine ray`` (``ingest.ray_engine``; Ray is imported only here)."""
    from ingest.ray_engine import RayOptions, run_on_ray
    from ingest.ray_writer import StoreSettingsOpener

    if args.encoders is not None and args.encoders < 1:
        raise ClospError(f"--encoders {args.encoders}: give at least 1")
    model_id = _load_embedder(settings, threads=1).model_id  # weights checked before Ray starts
    print(f"model: {model_id}; engine: ray ({args.address or 'this machine'})", file=sys.stderr)
    summary = run_on_ray(
        sources,
        settings,
        StoreSettingsOpener(settings, model_id),
        force=args.force,
        limit=args.limit,
        progress=not args.no_progress,
        build=not args.no_optimize,
        options=RayOptions(address=args.address, encoders=args.encoders),
    )
    summary.side_file = _rebuild_side_file(settings, model_id)
    print(summary.report())
    return EXIT_OK if summary.ok else EXIT_SOME_FAILED


def _rebuild_side_file(settings: Settings, model_id: str) -> str:
    """After a Ray run (whose writers do not report keys): refresh the score-map side file,
    which rebuilds it from the index when the run added chips."""
    from closp_core.scoremap.sidefile import refresh_after_run

    try:
        store = open_store(settings, model_id)
    except ClospError as err:
        return f"score-map side file not refreshed ({err}); score maps read the index"
    try:
        return refresh_after_run(store, side_file_path(settings), [])
    finally:
        store.close()


def _load_embedder(settings: Settings, threads: int) -> Embedder:
    try:
        return Embedder.from_settings(settings, threads=threads)
    except WeightsUnavailableError as exc:
        raise WeightsUnavailableError(
            f"{exc}\nTo try the pipeline without weights, pass --model random:closp-rn "
            "(random embeddings: search results are meaningless)."
        ) from None


def optimize_index(settings: Settings) -> int:
    """Build the HNSW graph of the configured index (blocking; minutes per 100k new chips on
    2 cores). The app never does this itself: run it while the app is stopped (embedded
    index) or any time (a server optimises on its own as well)."""
    model_id = stored_model_id(settings)
    if model_id is None:
        raise ClospError("there is no index to optimise yet; ingest something first")
    store = open_store(settings, model_id)
    try:
        before = store.info()
        start = time.perf_counter()
        store.optimize()
        after = store.info()
    finally:
        store.close()
    print(
        f"search graph: {after.indexed_vectors} of {after.points} chips "
        f"(was {before.indexed_vectors}) in {time.perf_counter() - start:.1f} s"
    )
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv``; returns the exit status (module docstring)."""
    args = build_parser().parse_args(attach_values(argv))  # --bbox -75.7,... too
    try:
        return run(args)
    except ClospError as exc:
        print(f"error: {display_text(exc)}", file=sys.stderr)
        return EXIT_NOT_STARTED
    except KeyboardInterrupt:
        print("interrupted: batches already acknowledged stay indexed", file=sys.stderr)
        return 130
    except Exception as exc:  # the one place that catches everything: a bug, never input
        print(
            f"internal error: {type(exc).__name__}: {display_text(exc)}\n"
            "This is a bug in closp-search, not a problem with your input. Please report it "
            "with the command you ran and the traceback below.",
            file=sys.stderr,
        )
        traceback.print_exc(file=sys.stderr)
        return EXIT_BUG
