"""The one object that turns text, images and locations into CLOSP vectors.

Used alike by the app, ingest and training. Picks CUDA, then MPS, then CPU (``device="auto"``),
batches (``default_batch_size``: 64 chips on CPU, 512 on CUDA), runs without gradients, keeps
image tensors channels-last, and uses bf16 (else fp16) autocast on GPUs only (on CPUs it is not
worth it, so CPU runs in float32). On CUDA, batches go through pinned host memory with
non-blocking copies, and the value checks of the band contract run on the device.

**Threads** (CPU). torch's intra-op pool spins on every core and its threads wait for each
other, so anything running next to something else needs a deliberate thread count.
``threads_for(role, settings)`` is the policy, measured with ``bench/contention.py``:

- ``"app"`` (query encoding): 1 thread — one MiniLM query takes ~10-30 ms on one thread and
  stays near that while other work runs; on every core it stalls behind any busy neighbour
  (0.2-1.1 s measured on 2 cores).
- ``"ingest"`` (``python -m ingest``): every core but one, less one per reader process: the
  reader, preview and upsert threads (and the app, if it runs) need a core, and a pool that
  loses a core to them waits at every barrier. On the shared 2-core machines, 1 thread ingested
  faster than 2 (scene: 12.6-13.0 vs 8.9-11.5 chips/s) and kept queries at 49 instead of 83 ms.
- ``"background"`` (an ingest inside the app's own process): every core but one.

``CLOSP_THREADS`` overrides every role; ``CLOSP_APP_THREADS`` / ``CLOSP_INGEST_THREADS`` one.
The count is per calling thread (torch's OpenMP pool takes it from the thread that calls
``torch.set_num_threads``), so one process can encode queries on 1 thread while another of its
threads ingests on several: every ``encode_*`` call takes ``threads=`` (default: the
embedder's own count) and applies it to the calling thread.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Sequence
from typing import Literal

import numpy as np
import torch

from closp_core.bands import _MAX_PLAUSIBLE_REFLECTANCE, Sensor, check_model_input
from closp_core.errors import ClospError, ConfigError
from closp_core.model import ClospModel
from closp_core.model.demo import load_configured_model
from closp_core.settings import Settings

ThreadRole = Literal["app", "ingest", "background"]
Precision = Literal["auto", "fp32", "bf16", "fp16"]
BATCH_SIZES: dict[str, int] = {"cpu": 64, "cuda": 512, "mps": 128}


def pick_device(preference: str = "auto") -> torch.device:
    """``"auto"`` -> CUDA if present, else MPS, else CPU; otherwise the named device, checked."""
    choice = preference.strip().lower()
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(choice)
    except RuntimeError:
        raise ConfigError(
            f"device {preference!r} is not a torch device; use auto, cpu, cuda or mps"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {preference!r} asked for, but no CUDA GPU is visible; use auto")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {preference!r} asked for, but MPS is not available; use auto")
    return device


def default_batch_size(device: torch.device) -> int:
    """Chips per forward pass when ``CLOSP_BATCH_SIZE`` is unset: 64 on CPU (larger buys
    nothing there), 512 on CUDA (a ResNet-50 on 120x120 chips needs a few GB at 512; see
    ``bench/encode.py --device cuda``), 128 on MPS."""
    return BATCH_SIZES.get(device.type, BATCH_SIZES["cpu"])


def threads_for(
    role: ThreadRole, settings: Settings, cores: int | None = None, workers: int = 0
) -> int:
    """Torch CPU threads for ``role`` (see the module docstring): the role's own setting, else
    ``settings.threads``, else 1 for the app, and for ingest every core but one (reading,
    previews and upserts run beside the forward passes, and so may the app) and but one per
    reader process (``workers``)."""
    own = settings.app_threads if role == "app" else settings.ingest_threads
    if own or settings.threads:
        return own or settings.threads
    cores = cores or os.cpu_count() or 1
    if role == "app":
        return 1
    return max(1, cores - 1 - (workers if role == "ingest" else 0))


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` torch intra-op threads in the calling thread (restored
    afterwards). Other threads that already ran torch code keep their own count."""
    before = torch.get_num_threads()
    if count != before:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


class Embedder:
    """Text, images and locations -> ``(N, 384) float32`` unit vectors (numpy).

    ``batch_size`` ``None``: ``default_batch_size(device)``; ``threads`` 0: every core (CPU);
    ``precision`` ``"auto"``: bf16 (else fp16) autocast on CUDA, float32 elsewhere.
    """

    def __init__(
        self,
        model: ClospModel,
        device: str = "auto",
        batch_size: int | None = None,
        threads: int = 0,
        precision: Precision = "auto",
    ) -> None:
        if batch_size is not None and batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if precision not in ("auto", "fp32", "bf16", "fp16"):
            raise ConfigError(f"precision {precision!r}: use auto, fp32, bf16 or fp16")
        self.device = pick_device(device)
        self.threads = threads or os.cpu_count() or 1
        if self.device.type == "cpu":
            torch.set_num_threads(self.threads)  # this thread, and threads started from now on
        self.batch_size = batch_size or default_batch_size(self.device)
        self.precision: Precision = precision
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed chip shapes: pick the fastest kernels
        self.model = model.eval().to(self.device)
        for encoder in (self.model.s1_encoder, self.model.s2_encoder):
            encoder.to(memory_format=torch.channels_last)

    @classmethod
    def from_settings(
        cls, settings: Settings, role: ThreadRole = "ingest", threads: int | None = None
    ) -> Embedder:
        """Load ``settings.model`` (at ``settings.model_revision``; the demo model when those
        hub weights are unreachable, see ``model.demo``) onto ``settings.device``, with
        ``threads`` (default: the thread count of ``role``)."""
        model = load_configured_model(settings)
        threads = threads or threads_for(role, settings)
        return cls(model, settings.device, settings.batch_size, threads)

    @property
    def dim(self) -> int:
        return self.model.config.projection_dim

    @property
    def model_id(self) -> str:
        return self.model.model_id

    @property
    def has_location_encoder(self) -> bool:
        """Whether ``encode_locations`` works (GeoCLOSP models: "near here" searches)."""
        return bool(self.model.has_location_encoder)

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The autocast dtype forward passes run in (``None``: float32)."""
        wanted = self.precision
        if wanted == "fp32" or (wanted == "auto" and self.device.type != "cuda"):
            return None
        if wanted == "auto":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16 if wanted == "bf16" else torch.float16

    def _autocast(self) -> torch.autocast:
        dtype = self.autocast_dtype
        return torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None)

    @contextlib.contextmanager
    def _running(self, threads: int | None) -> Iterator[None]:
        """No gradients, autocast, and ``threads`` (default: the embedder's) in this thread."""
        count = threads or self.threads
        with torch_threads(count), torch.inference_mode(), self._autocast():
            yield

    def _empty(self) -> np.ndarray:
        return np.zeros((0, self.dim), dtype=np.float32)

    def encode_text(self, texts: Sequence[str], *, threads: int | None = None) -> np.ndarray:
        """Texts -> ``(N, 384)`` unit vectors (CLS token, at most 64 tokens each)."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise ClospError("encode_text takes a list of strings, e.g. ['burned forest']")
        for text in texts:
            if not text.isascii() and any("\ud800" <= c <= "\udfff" for c in text):
                raise ClospError(
                    f"query text {text.encode('utf-8', 'backslashreplace').decode()!r} holds a "
                    "lone surrogate (not a character: broken UTF-16 or an undecodable byte); "
                    "send valid Unicode text"
                )
        if not texts:
            return self._empty()
        out = []
        with self._running(threads):
            for start in range(0, len(texts), self.batch_size):
                tokens = self.model.tokenize(
                    list(texts[start : start + self.batch_size]), self.device
                )
                out.append(self.model.encode_text(**tokens).cpu().numpy())
        return np.concatenate(out).astype(np.float32)

    def encode_images(
        self, images: np.ndarray, sensor: Sensor | str, *, threads: int | None = None
    ) -> np.ndarray:
        """Model input of ``sensor`` -> ``(N, 384)`` unit vectors.

        ``images``: ``(N, 13, H, W)`` reflectance/10000 for S2 or ``(N, 2, H, W)`` dB VV, VH for
        S1 (a single ``(C, H, W)`` chip is accepted); make it with ``bands.prepare_s2/_s1``.
        ``threads``: torch CPU threads for this call in the calling thread.
        """
        sensor = Sensor.parse(sensor)
        if self.device.type == "cuda":
            return self._encode_images_cuda(images, sensor, threads)
        batch = check_model_input(images, sensor)
        out = []
        with self._running(threads):
            for start in range(0, len(batch), self.batch_size):
                pixels = torch.from_numpy(batch[start : start + self.batch_size]).to(self.device)
                pixels = pixels.contiguous(memory_format=torch.channels_last)
                out.append(self.model.encode_image(pixels, sensor).cpu().numpy())
        return np.concatenate(out).astype(np.float32)

    def _encode_images_cuda(
        self, images: np.ndarray, sensor: Sensor, threads: int | None
    ) -> np.ndarray:
        """Pinned host memory, non-blocking copies, one synchronisation at the end; the band
        contract's shape/dtype checks on the host (first chip), its value checks on the GPU."""
        check_model_input(images[:1] if np.ndim(images) == 4 else images, sensor)
        host = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
        host = host.unsqueeze(0) if host.ndim == 3 else host
        if not host.is_pinned():
            host = host.pin_memory()
        outputs, largest = [], []
        with self._running(threads):
            for start in range(0, len(host), self.batch_size):
                pixels = host[start : start + self.batch_size].to(self.device, non_blocking=True)
                largest.append(pixels.abs().amax())  # NaN propagates, inf stays inf
                pixels = pixels.contiguous(memory_format=torch.channels_last)
                outputs.append(self.model.encode_image(pixels, sensor))
            vectors = torch.cat(outputs).float().cpu().numpy()
            peak = float(torch.stack(largest).amax())
        limit = _MAX_PLAUSIBLE_REFLECTANCE if sensor is Sensor.S2 else float("inf")
        if not (math.isfinite(peak) and peak <= limit):  # the host check names the problem
            check_model_input(images, sensor)
            raise ClospError(f"{sensor.name} model input: values up to {peak}; see bands.py")
        return vectors

    def encode_locations(self, lonlat: np.ndarray) -> np.ndarray:
        """``(N, 2)`` lon, lat degrees -> ``(N, 384)`` unit vectors (GeoCLOSP models only)."""
        points = np.asarray(lonlat, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2 or not np.isfinite(points).all():
            raise ClospError(f"locations must be finite (N, 2) lon/lat degrees, got {points.shape}")
        if (np.abs(points[:, 0]) > 180).any() or (np.abs(points[:, 1]) > 90).any():
            raise ClospError(
                "locations out of range: longitude in [-180, 180], latitude in [-90, 90]"
            )
        with torch.inference_mode():
            vectors = self.model.encode_location(torch.from_numpy(points).to(self.device))
        return vectors.cpu().numpy().astype(np.float32)
