"""Training CLOSP: ``python -m closp_core.train --config CONFIG.toml`` (see ``configs/``).

``train(load_config(path))`` runs a config from Python; ``register_source`` adds a data-source
kind; ``load_delta`` reads a delta checkpoint (trained tensors on top of a base model).
"""

from closp_core.model.delta import is_delta_folder, save_delta
from closp_core.model.factory import load_delta
from closp_core.sources import ChipListSource, register_source
from closp_core.train.config import TrainConfig, load_config
from closp_core.train.session import TrainResult, train

__all__ = [
    "ChipListSource",
    "TrainConfig",
    "TrainResult",
    "is_delta_folder",
    "load_config",
    "load_delta",
    "register_source",
    "save_delta",
    "train",
]
