"""The CLOSP model: S1 and S2 image encoders, the text encoder and, for GeoCLOSP, a location
encoder, all projected into one 384-d space.

Sub-module names follow the reference implementation so released state dicts map onto ours:
``s1_encoder``, ``s2_encoder``, ``text_model``, ``s1_projection``, ``s2_projection``,
``location_encoder``, ``location_projection``.
"""

from __future__ import annotations

from typing import Any

import timm
import torch
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from closp_core.bands import BANDS, Sensor
from closp_core.errors import ClospError
from closp_core.model.config import ClospConfig
from closp_core.model.location import LocationEncoder


def resize_for_encoder(pixels: torch.Tensor, size: int | None) -> torch.Tensor:
    """``(N, C, H, W)`` chips -> ``(N, C, size, size)`` as the ViT weights saw them in training.

    The reference code (and torchgeo's CLOSP transforms) resize 120 -> 224 with kornia's
    ``Resize(224)``: bilinear, ``align_corners=True``, no antialiasing. Any other sampling
    (``align_corners=False`` is half a pixel off) gives the encoder inputs it never saw. ``size``
    None (ResNets: native 120 x 120 chips) or equal to the chips' size returns them unchanged."""
    if not size or tuple(pixels.shape[-2:]) == (size, size):
        return pixels
    return nn.functional.interpolate(
        pixels, size=(size, size), mode="bilinear", align_corners=True, antialias=False
    )


class ClospModel(nn.Module):
    """Text, S1 and S2 (and location) encoders sharing one embedding space.

    ``model_id`` names the exact weights (the vector store refuses to mix vectors of two
    models); ``source`` says where they came from and ``kind`` what they are (``official`` hub
    weights, a ``local`` folder, a trained ``delta``, the shipped ``demo`` model, ``random``).
    """

    def __init__(
        self,
        config: ClospConfig,
        text_model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
    ) -> None:
        super().__init__()
        self.config = config
        self.tokenizer = tokenizer
        self.model_id = f"{config.variant}:unnamed"
        self.source = "built in memory"
        self.kind = "built"  # official | local | delta | demo | random | built
        self.s1_encoder = self._backbone(len(BANDS[Sensor.S1]), config.s1_head_dim)
        self.s2_encoder = self._backbone(len(BANDS[Sensor.S2]), config.s2_head_dim)
        self.text_model = text_model
        self.s1_projection = nn.Linear(config.s1_embedding_dim, config.projection_dim)
        self.s2_projection = nn.Linear(config.s2_embedding_dim, config.projection_dim)
        if config.use_location_encoder:
            self.location_encoder = LocationEncoder(
                legendre_polys=config.location_legendre_polys,
                dim_hidden=config.location_hidden_dim,
                dim_out=config.location_embedding_dim,
                num_layers=config.location_num_layers,
            )
            self.location_projection = nn.Linear(
                config.location_embedding_dim, config.projection_dim
            )

    def _backbone(self, in_chans: int, num_classes: int) -> nn.Module:
        kwargs: dict[str, Any] = {}
        if self.config.image_size:
            kwargs["img_size"] = self.config.image_size
        return timm.create_model(
            self.config.vision_model_key,
            pretrained=False,
            in_chans=in_chans,
            num_classes=num_classes,
            **kwargs,
        )

    @property
    def has_location_encoder(self) -> bool:
        return self.config.use_location_encoder

    def encode_image(self, pixels: torch.Tensor, sensor: Sensor) -> torch.Tensor:
        """``(N, C, H, W)`` model input of ``sensor`` -> ``(N, 384)`` unit vectors.

        The encoder is picked by ``sensor``; ViT variants resize to ``image_size`` first.
        """
        pixels = resize_for_encoder(pixels, self.config.image_size)
        if sensor is Sensor.S1:
            features = self.s1_projection(self.s1_encoder(pixels))
        else:
            features = self.s2_projection(self.s2_encoder(pixels))
        return nn.functional.normalize(features.float(), dim=-1)

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Token ids ``(N, T)`` -> ``(N, 384)`` unit vectors: the CLS token of the last layer."""
        out = self.text_model(input_ids=input_ids, attention_mask=attention_mask)
        return nn.functional.normalize(out.last_hidden_state[:, 0].float(), dim=-1)

    def encode_location(self, lonlat: torch.Tensor) -> torch.Tensor:
        """``(N, 2)`` lon/lat degrees -> ``(N, 384)`` unit vectors (GeoCLOSP only)."""
        if not self.has_location_encoder:
            raise ClospError(
                f"model {self.model_id} has no location encoder; load a GeoCLOSP model"
            )
        features = self.location_projection(self.location_encoder(lonlat))
        return nn.functional.normalize(features.float(), dim=-1)

    def tokenize(self, texts: list[str], device: torch.device) -> dict[str, torch.Tensor]:
        """Pad/truncate to ``text_max_length`` (64) tokens."""
        batch = self.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.config.text_max_length,
            return_tensors="pt",
        )
        return {
            "input_ids": batch["input_ids"].to(device),
            "attention_mask": batch["attention_mask"].to(device),
        }
