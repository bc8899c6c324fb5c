"""The training loop: each optimizer step takes one batch per sensor, computes the symmetric
contrastive loss within each sensor's batch (in-batch negatives), averages, and backpropagates
once (per micro-batch with gradient accumulation). AdamW, one-cycle LR, random flips.

``Trainer`` holds one run's model, optimizer, schedule and data and yields one log row per step;
``session.train(config)`` reads the data, checks it, builds the model and runs it to the end.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from closp_core.bands import Sensor
from closp_core.embedder import pick_device
from closp_core.model import ClospModel
from closp_core.model.closp import resize_for_encoder
from closp_core.train.checkpoints import BestSaver
from closp_core.train.config import TrainConfig
from closp_core.train.data import TrainData, epoch_batches, flip_batch
from closp_core.train.parts import clip_loss, same_text_matrix, set_phase, set_train_mode
from closp_core.train.state import StepPlan, one_cycle, plan_steps


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype: only on CUDA (on CPU, bf16 is slower than fp32 here)."""
    if device.type != "cuda" or precision == "fp32":
        return None
    if precision == "fp16" or (precision == "auto" and not torch.cuda.is_bf16_supported()):
        return torch.float16
    return torch.bfloat16


class Trainer:
    """One run: model, optimizer, schedule and data; ``run()`` trains to the end."""

    def __init__(
        self, config: TrainConfig, model: ClospModel, names: list[str], data: TrainData
    ) -> None:
        self.config, self.data, self.names = config, data, names
        self.plan: StepPlan = plan_steps(config, data)
        self.device = pick_device(config.train.device)
        if self.device.type == "cpu":
            torch.set_num_threads(config.train.threads or os.cpu_count() or 1)
        self.amp_dtype = autocast_dtype(config.train.precision, self.device)
        self.saver = BestSaver(config, model, names)
        self.model = model.to(self.device)
        for encoder in (model.s1_encoder, model.s2_encoder):
            encoder.to(memory_format=torch.channels_last)
        wanted = set(names)
        params = [p for n, p in model.named_parameters() if n in wanted]
        self.optimizer = torch.optim.AdamW(
            params, lr=config.train.lr, weight_decay=config.train.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, one_cycle(self.plan.total_steps, config.train.warmup_fraction)
        )
        self.scaler = torch.amp.GradScaler(
            self.device.type, enabled=self.amp_dtype == torch.float16
        )
        self.generator = torch.Generator()
        self.text_cache: dict[str, torch.Tensor] = {}
        self.features: dict[tuple[str, Sensor], torch.Tensor] = {}
        self.step, self.best_val, self.best_step = 0, math.inf, 0
        self.history: list[dict[str, Any]] = []
        self._batch_cache: dict[tuple[int, ...], np.ndarray] = {}

    # ----- inputs ---------------------------------------------------------------------------
    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _micro_indices(self, sensor_index: int, sensor: Sensor, micro: int) -> np.ndarray:
        """Chip indices of micro-batch ``micro`` of the current step for one sensor."""
        spe, accum = self.plan.steps_per_epoch, self.config.train.grad_accum
        epoch, j = divmod(self.step, spe)
        j = j * accum + micro
        n_batches = self.plan.batches[sensor.value]
        cycle, row = divmod(j, n_batches)  # the smaller sensor cycles with epoch_length = max
        key = (epoch, cycle, sensor_index)
        if key not in self._batch_cache:
            if len(self._batch_cache) > 8:
                self._batch_cache.clear()
            n = self.data.count("train", sensor)
            seeds = (self.config.model.seed, epoch, cycle, sensor_index)
            self._batch_cache[key] = epoch_batches(n, self.config.train.batch_size, seeds)
        return self._batch_cache[key][row]

    def _image_vectors(
        self, role: str, sensor: Sensor, idx: np.ndarray, flip: bool
    ) -> torch.Tensor:
        """``(B, 384)`` unit image vectors of chips ``idx`` of a pool."""
        if self.config.train.cache_features:
            feats = self.features[(role, sensor)][torch.from_numpy(idx).to(self.device)]
            proj = self.model.s1_projection if sensor is Sensor.S1 else self.model.s2_projection
            return torch.nn.functional.normalize(proj(feats).float(), dim=-1)
        pool = self.data.pools[role][sensor]
        pixels = torch.from_numpy(np.ascontiguousarray(pool.pixels[idx]))
        if flip and self.config.train.flips:
            pixels = flip_batch(pixels, self.generator)
        if self.device.type == "cuda":
            pixels = pixels.pin_memory()
        pixels = pixels.to(self.device, non_blocking=True)
        return self.model.encode_image(pixels.contiguous(memory_format=torch.channels_last), sensor)

    def _text_vectors(self, texts: list[str]) -> torch.Tensor:
        """``(B, 384)`` unit text vectors; cached per text while the text model is frozen."""
        frozen = not any(p.requires_grad for p in self.model.text_model.parameters())
        if not frozen:
            return self.model.encode_text(**self.model.tokenize(texts, self.device))
        missing = [t for t in dict.fromkeys(texts) if t not in self.text_cache]
        if missing:
            with torch.no_grad():
                vectors = self.model.encode_text(**self.model.tokenize(missing, self.device))
            self.text_cache.update(zip(missing, vectors, strict=True))
        return torch.stack([self.text_cache[t] for t in texts])

    def batch_loss(self, role: str, sensor: Sensor, idx: np.ndarray, flip: bool) -> torch.Tensor:
        """Contrastive loss of one sensor's batch (+ image<->location terms for GeoCLOSP)."""
        pool = self.data.pools[role][sensor]
        texts = [pool.texts[i] for i in idx]
        image = self._image_vectors(role, sensor, idx, flip)
        text = self._text_vectors(texts)
        train = self.config.train
        same = same_text_matrix(texts, self.device) if train.multi_positive else None
        loss = clip_loss(image, text, train.logit_scale, same)
        if self.model.has_location_encoder and train.location_weight > 0:
            lonlat = torch.from_numpy(pool.lonlat[idx]).double().to(self.device)
            location = self.model.encode_location(lonlat)
            loss = loss + train.location_weight * clip_loss(image, location, train.logit_scale)
        return loss

    def compute_features(self) -> None:
        """Run the frozen backbones once over every pool (``cache_features``)."""
        self.model.eval()
        batch = self.config.train.batch_size
        for role, pools in self.data.pools.items():
            for sensor, pool in pools.items():
                encoder = self.model.s1_encoder if sensor is Sensor.S1 else self.model.s2_encoder
                chunks = []
                for start in range(0, len(pool), batch):
                    pixels = torch.from_numpy(np.array(pool.pixels[start : start + batch]))
                    chunks.append(self._backbone(encoder, pixels))
                dim = self.model.s1_projection.in_features
                empty = torch.zeros((0, dim), device=self.device)
                self.features[(role, sensor)] = torch.cat(chunks) if chunks else empty

    def _backbone(self, encoder: torch.nn.Module, pixels: torch.Tensor) -> torch.Tensor:
        pixels = pixels.to(self.device).contiguous(memory_format=torch.channels_last)
        pixels = resize_for_encoder(pixels, self.model.config.image_size)
        with torch.no_grad(), self._autocast():
            out: torch.Tensor = encoder(pixels).float()
        return out

    # ----- steps ----------------------------------------------------------------------------
    def optimizer_step(self) -> dict[str, float]:
        """One optimizer step over ``grad_accum`` micro-batches per sensor; losses per sensor."""
        accum = self.config.train.grad_accum
        self.generator.manual_seed(self.config.model.seed * 1_000_003 + self.step)
        set_phase(self.model, self.names, warmup=self.step < self.plan.frozen_steps)
        set_train_mode(self.model)
        self.optimizer.zero_grad(set_to_none=True)
        parts = {s.value: 0.0 for s in self.config.sensors}
        for micro in range(accum):
            losses = []
            for i, sensor in enumerate(self.config.sensors):
                with self._autocast():
                    loss = self.batch_loss(
                        "train", sensor, self._micro_indices(i, sensor, micro), True
                    )
                losses.append(loss)
                parts[sensor.value] += float(loss.detach()) / accum
            self.scaler.scale(torch.stack(losses).mean() / accum).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return parts

    def validate(self) -> dict[str, float]:
        """Mean validation loss per sensor (no flips, fixed batches, eval mode)."""
        self.model.eval()
        out: dict[str, float] = {}
        with torch.no_grad(), self._autocast():
            for sensor in self.config.sensors:
                n = self.data.count("val", sensor)
                size = min(self.config.train.batch_size, n)
                if size < 2:
                    continue
                losses = [
                    float(
                        self.batch_loss("val", sensor, np.arange(k * size, (k + 1) * size), False)
                    )
                    for k in range(n // size)
                ]
                out[sensor.value] = float(np.mean(losses))
        return out

    def _validation_due(self) -> bool:
        every = self.config.train.val_every or self.plan.steps_per_epoch
        return self.step % every == 0 or self.step == self.plan.total_steps

    def iterate(self) -> Iterator[dict[str, Any]]:
        """Train to the end, yielding one log row per optimizer step (and validation)."""
        start = time.perf_counter()
        while self.step < self.plan.total_steps:
            began = time.perf_counter()
            parts = self.optimizer_step()
            step_s = time.perf_counter() - began
            self.step += 1
            row: dict[str, Any] = {
                "step": self.step,
                "epoch": (self.step - 1) // self.plan.steps_per_epoch + 1,
                "lr": self.scheduler.get_last_lr()[0],
                "train_loss": float(np.mean(list(parts.values()))),
                **{f"train_loss_{s}": v for s, v in parts.items()},
                "elapsed_s": time.perf_counter() - start,
                "step_s": step_s,
            }
            if self._validation_due():
                val = self.validate()
                row["val_loss"] = float(np.mean(list(val.values())))
                row.update({f"val_loss_{s}": v for s, v in val.items()})
                if row["val_loss"] < self.best_val:
                    self.best_val, self.best_step = row["val_loss"], self.step
                    self.saver.save_best(self.model)
            self.history.append(row)
            yield row
