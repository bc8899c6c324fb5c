"""``python -m ingest ... --engine ray``: the same ingest, with units spread over a Ray cluster.

Units (scenes, patch folders, key ranges, STAC items) become Ray tasks that read on CPU workers
on any machine; encoder actors load the model once (one per GPU with ``num_gpus=1`` where the
cluster has GPUs, else CPU actors; batch size per device as in the plain run); the store is
written by one actor (the embedded index) or by every encoder (a server); ``ray_units`` and
``ray_encoder`` and ``ray_writer`` have the parts that run in the cluster. Same keys, vectors,
payloads and previews as the plain run: point ids derive from chip keys, so reruns and retried
units never duplicate a chip, and chips already indexed are skipped before embedding.

- **Where the index is, who writes**: a Qdrant server or cluster (``--store-url``) takes
  writes from every machine: each encoder actor writes the batches it embeds, so the upsert
  rate grows with the machines; one ledger actor keeps the counts and the keys each unit in
  flight had acknowledged (``ray_writer``). The embedded index (Qdrant Edge) is a folder with
  one writing process: the ledger actor is its one writer and runs on this machine, and a
  cluster of several machines is refused (the other machines could neither open that folder
  nor share its lock), as is a ``ray://`` address of another host.
- **Failures**: a unit whose worker process died is run again (``UNIT_RETRIES`` times, by
  Ray); a unit that still fails, or whose reader raised ``DataError``, lands in
  ``summary.failed`` and the others go on (exit status 1, as in the plain run).
- **Previews** are written by the reading tasks under ``data_dir`` of the machine they run
  on: on several machines, give ``--data-dir`` a folder they share (deploy/README.md).
- **Address**: ``None`` starts a private Ray instance on this machine (stopped at the end);
  ``auto`` joins the cluster this machine belongs to; ``ray://HOST:PORT`` connects a Ray client.

Ray is an optional extra (``pip install '.[ray]'``) imported only here, only when used.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import ipaddress
import os
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from tqdm import tqdm

from closp_core.data import ChipSource
from closp_core.data.chip import Tally
from closp_core.errors import ConfigError
from closp_core.settings import Settings
from ingest.pipeline import IngestSummary
from ingest.ray_encoder import ChipEncoder
from ingest.ray_units import UnitEnd, UnitJob, read_unit
from ingest.ray_writer import RunFigures, StoreOpener, UnitWriter
from ingest.reading import UnitReport

UNIT_RETRIES = 3  # runs of a unit after its worker died
POLL_S = 0.5  # progress refresh while units run
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
RESTART = {"max_restarts": 3, "max_task_retries": 3}  # an encoder that died comes back


@dataclasses.dataclass(frozen=True)
class RayOptions:
    """``address``: see the module docstring; ``encoders``: encoder actors (``None``: one per
    GPU, else one per 4 CPUs, at least one); ``in_flight``: units running at once (``None``:
    the cluster's CPUs not held by encoders)."""

    address: str | None = None
    encoders: int | None = None
    in_flight: int | None = None


def import_ray() -> ModuleType:
    """The ``ray`` module, or ``ConfigError`` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--engine ray needs Ray, an optional extra: pip install 'closp-search[ray]' "
            "(from a checkout: pip install '.[ray]'), or use the default --engine plain"
        ) from None
    return ray


def check_address(address: str | None, embedded: bool) -> None:
    """Refuse a ``ray://`` address of another machine for the embedded index, and addresses
    that are neither ``auto`` nor ``ray://HOST:PORT``."""
    if address is None or address == "auto":
        return
    parts = urlsplit(address)
    if parts.scheme != "ray" or not parts.hostname:
        raise ConfigError(f"--address {address!r}: use auto or ray://HOST:PORT (port 10001)")
    if embedded and not _is_local(parts.hostname):
        raise ConfigError(_ONE_MACHINE.format(what=f"--address {address} is another machine"))


_ONE_MACHINE = (
    "{what}, but the index is the embedded one (Qdrant Edge): a folder that one process on one "
    "machine writes, so --engine ray runs it on this machine only. To index from several "
    "machines, run a Qdrant server or cluster (deploy/) and pass --store-url (CLOSP_STORE_URL); "
    "or drop --address to use this machine's cores."
)


def _is_local(host: str) -> bool:
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def connect(ray: ModuleType, address: str | None, embedded: bool) -> bool:
    """Join or start Ray; True when this call started it (and must stop it). A multi-machine
    cluster with the embedded index is refused (``ConfigError``, Ray left as it was)."""
    check_address(address, embedded)
    if ray.is_initialized():
        started = False
    else:
        ray.init(address=address, **(_private_ray() if address is None else {}))
        started = True
    machines = sum(1 for node in ray.nodes() if node.get("Alive"))
    if embedded and machines > 1:
        if started:
            ray.shutdown()
        raise ConfigError(_ONE_MACHINE.format(what=f"the Ray cluster has {machines} machines"))
    return started


def _private_ray() -> dict[str, Any]:
    """``ray.init`` options of a Ray on this machine only: 127.0.0.1, no dashboard, no usage
    reports; workers import closp_core and ingest from here (a checkout works too)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    root = str(Path(__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    env = {"PYTHONPATH": path, "RAY_USAGE_STATS_ENABLED": "0"}
    return {
        "include_dashboard": False,
        "_node_ip_address": "127.0.0.1",
        "runtime_env": {"env_vars": env},
        "logging_level": "WARNING",
    }


def run_on_ray(
    sources: Sequence[ChipSource],
    settings: Settings,
    opener: StoreOpener,
    *,
    force: bool = False,
    limit: int | None = None,
    progress: bool = True,
    build: bool = True,
    options: RayOptions | None = None,
) -> IngestSummary:
    """Ingest every unit of ``sources`` on Ray into the store ``opener`` opens (in the writer
    actor), as ``Ingestor.run_many`` does in one process; ``build``: build the search graph when
    due and at the end. ``ConfigError`` when Ray is missing or the address is refused."""
    options = options or RayOptions()
    ray = import_ray()
    embedded = not settings.store_url
    started = connect(ray, options.address, embedded)
    try:
        return _Run(ray, sources, settings, opener, force, limit, progress, build, options).go()
    finally:
        if started:
            ray.shutdown()


def encoder_count(resources: dict[str, float], asked: int | None) -> int:
    """Encoder actors for a cluster of ``resources``: ``asked``, else one per GPU, else one per
    4 CPUs (at least one). ``ConfigError`` when they would hold every CPU (each holds one), so
    that no unit could be read."""
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
    count = asked or (gpus or max(1, cpus // 4))
    if count >= cpus:
        raise ConfigError(
            f"--encoders {count}: each encoder holds a CPU and the Ray cluster has {cpus}, so "
            "no unit could be read; use fewer encoders or a cluster with more CPUs"
        )
    return count


class _Run:
    """One run on a connected Ray: the actors, the unit tasks, progress, the summary."""

    def __init__(
        self,
        ray: ModuleType,
        sources: Sequence[ChipSource],
        settings: Settings,
        opener: StoreOpener,
        force: bool,
        limit: int | None,
        progress: bool,
        build: bool,
        options: RayOptions,
    ) -> None:
        self.ray, self.settings, self.force, self.build = ray, settings, force, build
        self.units = [(i, unit) for i, source in enumerate(sources) for unit in source.units()]
        self.sources_ref = ray.put(list(sources))
        self.shared = opener.shared
        count = encoder_count(ray.cluster_resources(), options.encoders)  # refused: no actor yet
        self.encoders = self._start_encoders(count, opener)  # they load the model meanwhile
        try:
            self.writer = self._start_writer(opener, limit)
        except BaseException:
            for encoder in self.encoders:
                ray.kill(encoder)
            raise
        cpus = int(ray.cluster_resources().get("CPU", 1)) - self.encoder_cpus
        # no more units than free CPUs: a unit task waiting on an actor frees its CPU, and a
        # queued task would then start a new worker process (seconds: it imports torch)
        self.in_flight = options.in_flight or max(1, cpus)
        self.read = ray.remote(read_unit).options(num_cpus=1, max_retries=UNIT_RETRIES)
        self.summary = IngestSummary()
        self.bar = tqdm(total=len(self.units), unit="unit", disable=not progress)

    def _start_writer(self, opener: StoreOpener, limit: int | None) -> Any:
        """The ledger actor; for the embedded index also its writer, on this machine (its
        folder is here). It opens the store before any unit runs: the encoders of a shared
        store, which open it at their first batch, find the collection made."""
        ray = self.ray
        placement: dict[str, Any] = {"num_cpus": 0}
        if not self.shared:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            here = ray.get_runtime_context().get_node_id()
            placement["scheduling_strategy"] = NodeAffinitySchedulingStrategy(here, soft=False)
        writer = ray.remote(UnitWriter).options(**placement).remote(opener, limit, self.build)
        ray.get(writer.figures.remote())  # the store's errors (locked, model mismatch) now
        return writer

    def _start_encoders(self, count: int, opener: StoreOpener) -> list[Any]:
        """``count`` actors, on GPUs (``num_gpus=1``) where the cluster has GPUs, else on CPUs;
        each writes what it embeds when the store is shared. Not waited for: the model loads
        while the ledger starts."""
        gpus = int(self.ray.cluster_resources().get("GPU", 0))
        settings = self.settings
        if gpus:
            actor = self.ray.remote(ChipEncoder).options(num_gpus=1, num_cpus=1, **RESTART)
            settings = settings.replace(device="cuda")
        else:
            actor = self.ray.remote(ChipEncoder).options(num_cpus=1, **RESTART)
            settings = settings.replace(device="cpu")
        threads = settings.ingest_threads or 1
        store = opener if self.shared else None
        encoders = [actor.remote(settings, threads, store) for _ in range(count)]
        self.encoder_cpus = count
        self.batch_size = settings.batch_size or (512 if gpus else 64)
        return encoders

    def go(self) -> IngestSummary:
        """Run every unit; the writer closes the store at the end, or first thing on an error
        (a ``KeyboardInterrupt`` too: acknowledged chips stay indexed), and the actors end."""
        start = time.perf_counter()
        try:
            self._run_units(start)
            figures = self.ray.get(self.writer.close.remote(self.build))
        except BaseException:
            with contextlib.suppress(self.ray.exceptions.RayError):  # the writer may be dead
                self.ray.get(self.writer.close.remote(False))  # frees the embedded index's lock
            raise
        finally:
            if self.shared:  # each encoder wrote through its own connection
                with contextlib.suppress(self.ray.exceptions.RayError):
                    self.ray.get([encoder.close.remote() for encoder in self.encoders])
            for actor in (self.writer, *self.encoders):
                self.ray.kill(actor)
        self.summary.indexed = figures.indexed
        self.summary.already_indexed = figures.already_indexed
        self.summary.seconds = time.perf_counter() - start
        return self.summary

    def _run_units(self, start: float) -> None:
        running: dict[Any, tuple[int, str]] = {}
        queue = collections.deque(enumerate(self.units))
        with self.bar:
            while queue or running:
                figures = self._refresh(start)
                while queue and len(running) < self.in_flight and not figures.exhausted:
                    number, (source, unit) = queue.popleft()
                    running[self._submit(number, source, unit)] = (source, unit)
                if figures.exhausted and not running:
                    break
                done, _ = self.ray.wait(list(running), num_returns=1, timeout=POLL_S)
                for ref in done:
                    self._note(ref, running.pop(ref))

    def _submit(self, number: int, source: int, unit: str) -> Any:
        data_dir, force = self.settings.data_dir, self.force
        job = UnitJob(source, unit, self.batch_size, data_dir, force, encoders_write=self.shared)
        encoder = self.encoders[number % len(self.encoders)]
        return self.read.remote(self.sources_ref, job, self.writer, encoder)

    def _note(self, ref: Any, unit: tuple[int, str]) -> None:
        """A unit ended: its report, or the failure of its last run."""
        exceptions = self.ray.exceptions
        try:
            end: UnitEnd = self.ray.get(ref)
            report = UnitReport(end.unit, end.tally, end.error)
        except (
            exceptions.WorkerCrashedError,
            exceptions.NodeDiedError,
            exceptions.OutOfMemoryError,
        ) as exc:
            report = UnitReport(
                unit[1], Tally(), f"its Ray worker died {UNIT_RETRIES + 1} times: {exc}"
            )
        self.summary.add_unit(report)
        self.bar.update(1)

    def _refresh(self, start: float) -> RunFigures:
        figures: RunFigures = self.ray.get(self.writer.figures.remote())
        elapsed = max(time.perf_counter() - start, 1e-9)
        self.bar.set_postfix_str(
            f"{figures.indexed} chips indexed, {figures.indexed / elapsed:.1f} chips/s, "
            f"{figures.already_indexed} already there",
            refresh=False,
        )
        return figures
