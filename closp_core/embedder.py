"""The one object that turns text, images and locations into CLOSP vectors.

Used alike by the app, ingest and training. Picks CUDA, then MPS, then CPU (``device="auto"``),
batches, runs without gradients, keeps image tensors channels-last, and uses bf16/fp16 autocast
on GPUs only (on CPUs without bf16 units it is slower, so CPU runs in float32).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from closp_core.bands import Sensor, check_model_input
from closp_core.errors import ClospError, ConfigError
from closp_core.model import ClospModel
from closp_core.model.demo import load_configured_model
from closp_core.settings import Settings


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


class Embedder:
    """Text, images and locations -> ``(N, 384) float32`` unit vectors (numpy)."""

    def __init__(
        self,
        model: ClospModel,
        device: str = "auto",
        batch_size: int = 64,
        threads: int = 0,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.device = pick_device(device)
        if self.device.type == "cpu":
            torch.set_num_threads(threads or os.cpu_count() or 1)
        self.batch_size = batch_size
        self.model = model.eval().to(self.device)
        for encoder in (self.model.s1_encoder, self.model.s2_encoder):
            encoder.to(memory_format=torch.channels_last)

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        """Load ``settings.model`` (at ``settings.model_revision``; the demo model when those
        hub weights are unreachable, see ``model.demo``) onto ``settings.device``."""
        model = load_configured_model(settings)
        return cls(model, settings.device, settings.batch_size, settings.threads)

    @property
    def dim(self) -> int:
        return self.model.config.projection_dim

    @property
    def model_id(self) -> str:
        return self.model.model_id

    def _autocast(self) -> torch.autocast:
        if self.device.type == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            return torch.autocast("cuda", dtype=dtype)
        return torch.autocast(self.device.type, enabled=False)

    def _empty(self) -> np.ndarray:
        return np.zeros((0, self.dim), dtype=np.float32)

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
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
        with torch.inference_mode(), self._autocast():
            for start in range(0, len(texts), self.batch_size):
                tokens = self.model.tokenize(
                    list(texts[start : start + self.batch_size]), self.device
                )
                out.append(self.model.encode_text(**tokens).cpu().numpy())
        return np.concatenate(out).astype(np.float32)

    def encode_images(self, images: np.ndarray, sensor: Sensor | str) -> np.ndarray:
        """Model input of ``sensor`` -> ``(N, 384)`` unit vectors.

        ``images``: ``(N, 13, H, W)`` reflectance/10000 for S2 or ``(N, 2, H, W)`` dB VV, VH for
        S1 (a single ``(C, H, W)`` chip is accepted); make it with ``bands.prepare_s2/_s1``.
        """
        sensor = Sensor.parse(sensor)
        batch = check_model_input(images, sensor)
        out = []
        with torch.inference_mode(), self._autocast():
            for start in range(0, len(batch), self.batch_size):
                pixels = torch.from_numpy(batch[start : start + self.batch_size]).to(self.device)
                pixels = pixels.contiguous(memory_format=torch.channels_last)
                out.append(self.model.encode_image(pixels, sensor).cpu().numpy())
        return np.concatenate(out).astype(np.float32)

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
