"""The released weights from the Hugging Face hub (``pytest -m slow``; needs network or cache)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from closp_core.data import SceneOptions, SceneSource, Tally
from closp_core.data.samples import SAMPLES_DIR
from closp_core.embedder import Embedder
from closp_core.model import load_model

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _online(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite runs offline (tests/conftest.py); these tests may use the hub's cache or net."""
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    os.environ.pop("HF_HUB_OFFLINE", None)


@pytest.mark.parametrize("name", ["DarthReca/CLOSP-RN", "DarthReca/GeoCLOSP-RN"])
def test_released_checkpoint_maps_onto_our_model(name: str) -> None:
    model = load_model(name)  # CheckpointMismatchError would name any key that does not fit
    assert model.kind == "official"
    assert model.has_location_encoder == name.endswith("GeoCLOSP-RN")


def test_released_rn_ranks_ocean_above_farmland_for_sea_water() -> None:
    embedder = Embedder(load_model("DarthReca/CLOSP-RN"), "cpu")
    source = SceneSource(SAMPLES_DIR / "virginia-s2-l1c", SceneOptions(sensor="s2"))
    chips = {c.key.rsplit("/", 1)[1]: c for u in source.units() for c in source.read(u, Tally())}
    ocean, farmland = chips["r0_c1800"], chips["r0_c120"]  # Atlantic / fields (chip_labels.csv)
    vectors = embedder.encode_images(np.stack([ocean.pixels, farmland.pixels]), "s2")
    query = embedder.encode_text(["water"])[0]
    assert vectors[0] @ query > vectors[1] @ query
