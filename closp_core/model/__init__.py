"""CLOSP models: variants, building, loading and saving."""

from closp_core.model.closp import ClospModel
from closp_core.model.config import VARIANTS, ClospConfig, variant_name
from closp_core.model.factory import build_model, create_model, load_model, save_model

__all__ = [
    "VARIANTS",
    "ClospConfig",
    "ClospModel",
    "build_model",
    "create_model",
    "load_model",
    "save_model",
    "variant_name",
]
