"""The offline demo model, and how every model names itself to people.

``models/demo/best-delta`` is trained by ``python -m closp_core.train --config configs/demo.toml``
on the shipped samples (see that config). ``load_configured_model`` uses it when the configured
hub weights cannot be reached, so the app and ingest work on a machine with no network; it is
named as a demo model wherever a model is shown.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from closp_core.errors import WeightsUnavailableError
from closp_core.model.checkpoint import file_digest
from closp_core.model.closp import ClospModel
from closp_core.model.delta import DELTA_WEIGHTS
from closp_core.model.factory import RANDOM_PREFIX, load_delta, load_model
from closp_core.settings import Settings
from closp_core.shipped import demo_model_dir

DEMO_MODEL_DIR = demo_model_dir()
log = logging.getLogger(__name__)


def load_demo_model(folder: Path = DEMO_MODEL_DIR) -> ClospModel:
    """The shipped demo model (``kind == "demo"``)."""
    if not (folder / DELTA_WEIGHTS).is_file():
        raise WeightsUnavailableError(
            f"the demo model is missing at {folder}; rebuild it with "
            "`python -m closp_core.train --config configs/demo.toml`"
        )
    model = load_delta(folder)
    model.kind = "demo"
    model.source = "demo model trained on the shipped samples (not the official CLOSP weights)"
    return model


def load_configured_model(settings: Settings) -> ClospModel:
    """``settings.model``; when it names hub weights that cannot be reached (no cache, no
    network) and ``settings.demo_fallback`` is on, the demo model instead (with a warning).
    Local folders and ``random:`` names never fall back: a typo there is an error."""
    name = settings.model
    try:
        return load_model(name, revision=settings.model_revision)
    except WeightsUnavailableError as exc:
        hub_name = not name.startswith(RANDOM_PREFIX) and not Path(name).expanduser().exists()
        if not (settings.demo_fallback and hub_name):
            raise
        log.warning("%s\nUsing the offline DEMO model instead.", exc)
        return load_demo_model()


@cache
def demo_model_id(folder: Path = DEMO_MODEL_DIR) -> str | None:
    """The ``model_id`` the demo model has (``None`` if it is not shipped)."""
    weights = folder / DELTA_WEIGHTS
    return f"closp-rn:delta-{file_digest(weights)[:16]}" if weights.is_file() else None


def describe_model_id(model_id: str | None) -> str:
    """A model id as people should read it: the demo and random models say so."""
    if model_id is None:
        return "unknown model"
    if model_id == demo_model_id():
        return f"{model_id} (DEMO model trained on the shipped samples, not the official weights)"
    if ":random-seed" in model_id:
        return f"{model_id} (RANDOM, untrained: search results are meaningless)"
    return model_id


def describe_model(model: ClospModel) -> str:
    """One line for status bars: what the loaded model is and where it came from."""
    variant = model.config.variant.upper()
    if model.kind == "demo":
        return f"DEMO {variant} model ({model.model_id}), trained on the shipped samples only"
    if model.kind == "random":
        return f"RANDOM {variant} ({model.model_id}): untrained, results are meaningless"
    if model.kind == "official":
        return f"{variant} official weights {model.source} ({model.model_id})"
    return f"{variant} from {model.source} ({model.model_id})"
