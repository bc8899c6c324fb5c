"""Model configuration: the four released CLOSP variants and the ``config.json`` keys they use."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from closp_core.errors import ConfigError

TEXT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


@dataclasses.dataclass(frozen=True)
class ClospConfig:
    """Everything needed to build a CLOSP model (the keys of the released ``config.json``).

    ``s{1,2}_head_dim`` is the timm classifier width kept on a backbone (0 = no head);
    ``s{1,2}_embedding_dim`` is the backbone's output width, i.e. the projection's input.
    """

    variant: str
    vision_model_key: str
    s1_head_dim: int
    s2_head_dim: int
    s1_embedding_dim: int
    s2_embedding_dim: int
    projection_dim: int = 384
    image_size: int | None = None  # None: native 120x120 chips; ViTs take 224x224
    use_location_encoder: bool = False
    location_embedding_dim: int = 256
    location_hidden_dim: int = 512
    location_num_layers: int = 2
    location_legendre_polys: int = 10
    logit_scale_init_value: float = 1.0
    text_model_name_or_path: str = TEXT_MODEL_NAME
    text_max_length: int = 64

    def to_dict(self) -> dict[str, Any]:
        """The ``config.json`` content written next to ``model.safetensors``."""
        return {"model_type": "closp", **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClospConfig:
        """Read a released or our own ``config.json``; unknown keys (``auto_map``...) are ignored.

        The variant comes from our ``variant`` key, else from ``vision_model_key`` and
        ``use_location_encoder``; keys present in ``data`` override the variant's defaults.
        """
        variant = data.get("variant") or _infer_variant(data)
        base = VARIANTS[variant_name(variant)].config
        known = {f.name for f in dataclasses.fields(cls)}
        overrides = {k: v for k, v in data.items() if k in known and k != "variant"}
        try:
            return dataclasses.replace(base, **overrides)
        except TypeError as exc:
            raise ConfigError(f"model config is invalid: {exc}") from None


@dataclasses.dataclass(frozen=True)
class Variant:
    """A released model: its hub repository and default config."""

    hub_id: str
    config: ClospConfig


def _resnet(variant: str, location: bool = False) -> ClospConfig:
    return ClospConfig(
        variant=variant,
        vision_model_key="resnet50",
        s1_head_dim=1000,
        s2_head_dim=1000,
        s1_embedding_dim=1000,
        s2_embedding_dim=1000,
        use_location_encoder=location,
    )


VARIANTS: dict[str, Variant] = {
    "closp-rn": Variant("DarthReca/CLOSP-RN", _resnet("closp-rn")),
    "closp-vs": Variant(
        "DarthReca/CLOSP-VS",
        ClospConfig(
            variant="closp-vs",
            vision_model_key="vit_small_patch16_224",
            s1_head_dim=0,
            s2_head_dim=1000,
            s1_embedding_dim=384,
            s2_embedding_dim=1000,
            image_size=224,
        ),
    ),
    "closp-vl": Variant(
        "DarthReca/CLOSP-VL",
        ClospConfig(
            variant="closp-vl",
            vision_model_key="vit_large_patch16_224",
            s1_head_dim=0,
            s2_head_dim=0,
            s1_embedding_dim=1024,
            s2_embedding_dim=1024,
            image_size=224,
        ),
    ),
    "geoclosp-rn": Variant("DarthReca/GeoCLOSP-RN", _resnet("geoclosp-rn", location=True)),
}


def variant_name(name: str) -> str:
    """``"CLOSP-RN"``, ``"closp_rn"`` or the hub id ``"DarthReca/CLOSP-RN"`` -> ``"closp-rn"``."""
    key = name.strip().lower().replace("_", "-")
    for variant, spec in VARIANTS.items():
        if key in (variant, spec.hub_id.lower()):
            return variant
    raise ConfigError(f"unknown CLOSP variant {name!r}; known variants: {', '.join(VARIANTS)}")


def _infer_variant(data: Mapping[str, Any]) -> str:
    key = str(data.get("vision_model_key", ""))
    if key.startswith("resnet50"):
        return "geoclosp-rn" if data.get("use_location_encoder") else "closp-rn"
    if key.startswith("vit_small"):
        return "closp-vs"
    if key.startswith("vit_large"):
        return "closp-vl"
    raise ConfigError(
        f"model config names vision_model_key={key!r}; expected resnet50, "
        "vit_small_patch16_224 or vit_large_patch16_224"
    )
