"""ViT inputs are resized as the reference resizes them: kornia's ``Resize(224)`` (bilinear,
``align_corners=True``), in inference and in training."""

from __future__ import annotations

import kornia.augmentation as K
import numpy as np
import torch

from closp_core.bands import Sensor, prepare_s2
from closp_core.model import create_model
from closp_core.model.closp import resize_for_encoder
from tests.conftest import random_s2_dn


def _chips(n: int = 2) -> torch.Tensor:
    return torch.from_numpy(prepare_s2(random_s2_dn(np.random.default_rng(5), n, 120)))


def test_resize_matches_kornias_resize() -> None:
    chips = _chips()
    ours = resize_for_encoder(chips, 224)
    reference = K.Resize(224)(chips)
    assert ours.shape == (2, 13, 224, 224)
    torch.testing.assert_close(ours, reference, atol=1e-6, rtol=0)
    half_pixel_off = torch.nn.functional.interpolate(chips, size=(224, 224), mode="bilinear")
    assert float((half_pixel_off - reference).abs().max()) > 1e-3  # the old input differed


def test_resnets_take_chips_as_they_are() -> None:
    chips = _chips(1)
    assert resize_for_encoder(chips, None) is chips


def test_the_vit_encoder_sees_the_reference_resize() -> None:
    """What reaches the S2 ViT through ``encode_image`` (inference, and training's trainable
    path) equals kornia's resize of the chips; training's frozen-backbone path calls the same
    ``resize_for_encoder``."""
    model = create_model("closp-vs", seed=0).eval()
    seen: list[torch.Tensor] = []
    model.s2_encoder.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach()))
    chips = _chips()
    with torch.no_grad():
        model.encode_image(chips, Sensor.S2)
    torch.testing.assert_close(seen[0], K.Resize(224)(chips), atol=1e-6, rtol=0)
