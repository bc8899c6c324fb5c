"""The reading stage of ingest: every unit of every source -> batches of one sensor's chips.

Batches span units (scenes, patch folders, key ranges) and sources: a BigEarthNet folder of
one-chip patches fills a batch of 64 like one scene does, so every forward pass is a full one.
Each unit is read by one reader, start to end; when it ends the reader reports it
(``UnitReport``: its tally and, if it failed, why). A unit that fails half-way keeps the chips
it yielded before the error: they are valid chips and go into batches like any other (a rerun
skips them as already indexed and reports the unit again).

Two ways to run it (``open_reader``):

- ``workers == 0``: one reader thread in this process, working ahead of the embedder (at most
  ``AHEAD`` batches waiting). rasterio/h5py release the GIL in their I/O, the Python chip
  cutting does not; on 2 cores the encoder needs both cores anyway, so a thread costs least.
- ``workers > 0``: that many worker processes (a ``torch.utils.data.DataLoader`` over the
  units), each claiming the next unit from a shared counter. They are *spawned*: a fork would
  hand them the index lock and the store's threads, and a fork server's children outlive a
  killed parent (the loader's watchdog only notices the death of its direct parent); spawned
  workers start in a few seconds and exit within 5 s of a SIGKILLed parent. Workers also
  render the previews (the main process only embeds and upserts), pixels travel in shared
  memory, and batches are pinned for CUDA by the loader's pin thread. Files are opened inside
  the workers.

``choose_workers`` picks the number per machine (see its docstring for the measurements).
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import pickle
import queue
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset

from closp_core.bands import Sensor
from closp_core.data import ChipSource
from closp_core.data.chip import Chip, Tally
from closp_core.errors import ConfigError, DataError
from ingest.previews import write_chip_previews

AHEAD = 2  # batches the reader thread may have waiting
NO_PIXELS = np.zeros((0, 0, 0), np.float32)  # a stripped chip's pixels: they travel stacked
Unit = tuple[int, str]  # (index of the source, unit of that source)


class CancelFlag(Protocol):
    """Set when a run should stop (``threading.Event``, or a job's cancel pipe)."""

    def is_set(self) -> bool: ...


@dataclasses.dataclass
class ChipBatch:
    """Chips of one sensor; ``pixels[i]`` ``(C, H, W) float32`` belongs to ``chips[i]`` (whose
    own ``pixels`` are ``NO_PIXELS``). ``previews``: paths already written (worker processes),
    else ``None``. ``expected``: chip counts the readers announced for units read since the last
    batch (progress)."""

    sensor: Sensor
    chips: list[Chip]
    pixels: np.ndarray | torch.Tensor
    previews: list[dict[str, str]] | None = None
    expected: dict[str, int] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.chips)

    def array(self) -> np.ndarray:
        """``pixels`` as ``(N, C, H, W) float32`` numpy (a view, no copy)."""
        pixels = self.pixels
        return pixels.numpy() if isinstance(pixels, torch.Tensor) else pixels

    def pin_memory(self) -> ChipBatch:
        """A copy whose pixels are in pinned memory (called by the loader's pin thread)."""
        return dataclasses.replace(self, pixels=torch.as_tensor(self.pixels).pin_memory())

    def select(self, rows: list[int]) -> ChipBatch:
        """The batch restricted to ``rows``."""
        return dataclasses.replace(
            self,
            chips=[self.chips[i] for i in rows],
            pixels=self.array()[rows],
            previews=None if self.previews is None else [self.previews[i] for i in rows],
        )

    def head(self, count: int) -> ChipBatch:
        return self.select(list(range(min(count, len(self)))))


@dataclasses.dataclass
class UnitReport:
    """A unit was read to its end (``error`` None) or failed with ``error``."""

    unit: str
    tally: Tally
    error: str | None = None


ReadEvent = ChipBatch | UnitReport


def choose_workers(cores: int | None = None, device: str = "cpu") -> int:
    """Reader processes when ``CLOSP_INGEST_WORKERS`` is unset.

    - 2 cores or fewer: 0 (a thread). The encoder keeps both cores busy; a process pool adds
      pickling and a second copy of every chip and cannot add CPU (bench/ingest.py --workers).
    - CUDA: every core but two (the main thread feeds the GPU and upserts; the loader's pin
      thread copies), so reading, chip cutting and previews keep up with the device.
    - CPU with more cores: a quarter of them; the encoder gets every core, and readers run
      where its threads leave gaps (one reader thread falls behind from ~8 cores on).
    """
    cores = cores or os.cpu_count() or 1
    if cores <= 2:
        return 0
    if device.startswith("cuda"):
        return cores - 2
    return max(1, cores // 4)


def read_events(
    sources: Sequence[ChipSource],
    units: Sequence[Unit],
    claim: Callable[[], int | None],
    batch_size: int,
    preview_dir: Path | None = None,
    cancel: CancelFlag | None = None,
) -> Generator[ReadEvent, None, None]:
    """Read the units ``claim()`` hands out (indices into ``units``; None: no more) and yield
    full batches as they fill, one ``UnitReport`` per unit, then the partial batches.
    With ``preview_dir`` the previews of each batch are written here, by this reader.
    ``cancel``: checked before every chip (one window of reading); once set, reading ends at
    once and nothing more is yielded."""
    pending: dict[tuple[Sensor, tuple[int, ...]], list[Chip]] = {}  # same sensor and shape
    expected: dict[str, int] = {}
    while (index := claim()) is not None:
        source, unit = units[index]
        tally = Tally()
        error = None
        chips: Iterator[Chip] | None = None
        try:
            chips = sources[source].read(unit, tally)
            for chip in chips:
                if cancel is not None and cancel.is_set():
                    return
                expected[unit] = tally.expected
                kind = (chip.sensor, chip.pixels.shape)
                bucket = pending.setdefault(kind, [])
                bucket.append(chip)
                if len(bucket) >= batch_size:
                    yield _stack(chip.sensor, pending.pop(kind), expected, preview_dir)
                    expected = {}
        except DataError as exc:
            error = str(exc)
        finally:
            if isinstance(chips, Generator):
                chips.close()  # a reader stopped early releases its files at once
        yield UnitReport(unit, tally, error)
    if cancel is not None and cancel.is_set():
        return
    for (sensor, _), bucket in pending.items():
        yield _stack(sensor, bucket, expected, preview_dir)
        expected = {}


def _stack(
    sensor: Sensor, chips: list[Chip], expected: dict[str, int], preview_dir: Path | None
) -> ChipBatch:
    pixels = np.stack([chip.pixels for chip in chips])
    previews = None
    if preview_dir is not None:
        previews = [write_chip_previews(c.key, c.sensor, c.pixels, preview_dir) for c in chips]
    stripped = [dataclasses.replace(chip, pixels=NO_PIXELS) for chip in chips]
    return ChipBatch(sensor, stripped, pixels, previews, dict(expected))


@contextlib.contextmanager
def open_reader(
    sources: Sequence[ChipSource],
    units: Sequence[Unit],
    batch_size: int,
    workers: int,
    preview_dir: Path,
    pin: bool = False,
    cancel: CancelFlag | None = None,
) -> Iterator[Iterator[ReadEvent]]:
    """The events of reading ``units``, on a thread (``workers == 0``) or worker processes;
    leaving the block stops the readers and closes their files, whether or not all was read.
    ``cancel`` (the thread only; worker processes stop when the block is left) ends reading
    between two chips."""
    if workers <= 0:
        with _ThreadReader(sources, units, batch_size, cancel) as events:
            yield events
        return
    loader = _process_loader(sources, units, batch_size, workers, preview_dir, pin)
    try:
        events = iter(loader)  # starts the workers: the sources travel to them pickled
    except (pickle.PicklingError, AttributeError, TypeError) as err:
        raise ConfigError(
            f"ingest workers cannot take these sources ({err}); use workers=0 "
            "(CLOSP_INGEST_WORKERS=0, --workers 0) or give the sources picklable parts"
        ) from None
    try:
        yield events
    finally:
        shutdown = getattr(events, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()


class _ThreadReader:
    """``read_events`` on one thread, created, advanced and closed there (GDAL handles are
    thread-bound); its exceptions are raised in the consumer."""

    def __init__(
        self,
        sources: Sequence[ChipSource],
        units: Sequence[Unit],
        size: int,
        cancel: CancelFlag | None = None,
    ) -> None:
        counter = iter(range(len(units)))
        claim = lambda: next(counter, None)  # noqa: E731
        self._events = read_events(sources, units, claim, size, cancel=cancel)
        self._queue: queue.Queue[ReadEvent | BaseException | None] = queue.Queue()
        self._room = threading.Semaphore(AHEAD)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="ingest-reader", daemon=True)

    def __enter__(self) -> Iterator[ReadEvent]:
        self._thread.start()
        return self._consume()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._room.release()  # wake a reader waiting for room
        self._thread.join()

    def _work(self) -> None:
        try:
            for event in self._events:
                if isinstance(event, ChipBatch):
                    while not self._room.acquire(timeout=0.1):
                        if self._stop.is_set():
                            return
                if self._stop.is_set():
                    return
                self._queue.put(event)
            self._queue.put(None)
        except BaseException as exc:  # handed to the consumer, which raises it
            self._queue.put(exc)
        finally:
            self._events.close()

    def _consume(self) -> Iterator[ReadEvent]:
        while (event := self._queue.get()) is not None:
            if isinstance(event, BaseException):
                raise event
            if isinstance(event, ChipBatch):
                self._room.release()
            yield event


class _UnitDataset(IterableDataset[ReadEvent]):
    """Worker side: claim units from a shared counter until none is left."""

    def __init__(
        self,
        sources: Sequence[ChipSource],
        units: Sequence[Unit],
        batch_size: int,
        preview_dir: Path,
        counter: Synchronized[int],
    ) -> None:
        self.sources, self.units, self.batch_size = list(sources), list(units), batch_size
        self.preview_dir, self.counter = preview_dir, counter

    def _claim(self) -> int | None:
        with self.counter.get_lock():
            index = self.counter.value
            if index >= len(self.units):
                return None
            self.counter.value = index + 1
        return index

    def __iter__(self) -> Iterator[ReadEvent]:
        events = read_events(
            self.sources, self.units, self._claim, self.batch_size, self.preview_dir
        )
        for event in events:
            if isinstance(event, ChipBatch):  # shared memory instead of the pipe
                event = dataclasses.replace(event, pixels=torch.from_numpy(event.array()))
            yield event


def _as_is(event: Any) -> Any:
    return event


def _process_loader(
    sources: Sequence[ChipSource],
    units: Sequence[Unit],
    batch_size: int,
    workers: int,
    preview_dir: Path,
    pin: bool,
) -> DataLoader[ReadEvent]:
    context = multiprocessing.get_context("spawn")
    counter: Synchronized[int] = context.Value("q", 0)
    dataset = _UnitDataset(sources, units, batch_size, preview_dir, counter)
    return DataLoader(
        dataset,
        batch_size=None,
        num_workers=workers,
        collate_fn=_as_is,
        pin_memory=pin,
        multiprocessing_context=context,
        prefetch_factor=AHEAD,
        in_order=False,
    )
