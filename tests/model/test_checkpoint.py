"""Saving and loading models in the released layout (config.json + model.safetensors)."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from closp_core.bands import prepare_s2
from closp_core.embedder import Embedder
from closp_core.errors import CheckpointMismatchError, ConfigError, WeightsUnavailableError
from closp_core.model import ClospConfig, ClospModel, create_model, load_model, save_model
from closp_core.model.checkpoint import config_for_state_dict, map_state_dict_keys
from tests.conftest import random_s1_db, random_s2_dn

RELEASED_RN_BYTES = 299_001_336  # size of DarthReca/CLOSP-RN's model.safetensors


def _embeddings(model: ClospModel) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    embedder = Embedder(model, device="cpu", batch_size=2)
    size = 32 if model.config.image_size is None else 48  # ViTs resize to 224 anyway
    out = [
        embedder.encode_text(["flooded fields next to a river", "burned forest"]),
        embedder.encode_images(random_s1_db(rng, 2, size), "s1"),
        embedder.encode_images(prepare_s2(random_s2_dn(rng, 2, size)), "s2"),
    ]
    if model.has_location_encoder:
        out.append(embedder.encode_locations(np.array([[12.5, 41.9], [-180.0, -90.0]])))
    return out


@pytest.mark.parametrize(
    "variant",
    ["closp-rn", "closp-vs", pytest.param("closp-vl", marks=pytest.mark.heavy), "geoclosp-rn"],
)
def test_round_trip_gives_identical_embeddings(variant: str, tmp_path: Path) -> None:
    model = create_model(variant, seed=3)
    before = _embeddings(model)
    folder = save_model(model, tmp_path / variant)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    reloaded = load_model(folder)
    assert reloaded.config == model.config
    for a, b in zip(before, _embeddings(reloaded), strict=True):
        np.testing.assert_array_equal(a, b)
    assert reloaded.model_id.startswith(variant + ":")


def test_released_rn_layout(rn_folder: Path) -> None:
    """Bare reference keys, float32, {"format": "pt"}: exactly the released file's size."""
    assert (rn_folder / "model.safetensors").stat().st_size == RELEASED_RN_BYTES
    keys = load_file(rn_folder / "model.safetensors").keys()
    assert len(keys) == 747
    prefixes = {k.split(".")[0] for k in keys}
    assert prefixes == {"s1_encoder", "s2_encoder", "text_model", "s1_projection", "s2_projection"}
    assert "text_model.pooler.dense.weight" in keys and "s1_encoder.fc.weight" in keys


def _copy_with_tensors(src: Path, dst: Path, tensors: dict[str, torch.Tensor]) -> Path:
    dst.mkdir()
    shutil.copy(src / "config.json", dst / "config.json")
    save_file(tensors, dst / "model.safetensors", {"format": "pt"})
    return dst


def test_renamed_key_is_named_in_the_error(rn_folder: Path, tmp_path: Path) -> None:
    tensors = load_file(rn_folder / "model.safetensors")
    tensors["s1_proj.weight"] = tensors.pop("s1_projection.weight")
    broken = _copy_with_tensors(rn_folder, tmp_path / "broken", tensors)
    with pytest.raises(CheckpointMismatchError) as info:
        load_model(broken)
    assert "missing keys (1): s1_projection.weight" in str(info.value)
    assert "unexpected keys (1): s1_proj.weight" in str(info.value)


def test_wrong_shape_is_named(rn_folder: Path, tmp_path: Path) -> None:
    tensors = load_file(rn_folder / "model.safetensors")
    tensors["s2_encoder.conv1.weight"] = torch.zeros(64, 12, 7, 7)
    broken = _copy_with_tensors(rn_folder, tmp_path / "broken", tensors)
    with pytest.raises(
        CheckpointMismatchError, match=r"s2_encoder.conv1.weight: checkpoint \(64, 12"
    ):
        load_model(broken)


def test_wrapped_checkpoint_loads(rn_model: ClospModel, rn_folder: Path, tmp_path: Path) -> None:
    tensors = {
        f"module.model.{k}": v for k, v in load_file(rn_folder / "model.safetensors").items()
    }
    tensors["module.model.text_model.embeddings.position_ids"] = torch.arange(512)[None]
    wrapped = _copy_with_tensors(rn_folder, tmp_path / "wrapped", tensors)
    model = load_model(wrapped)
    text = ["damaged buildings"]
    np.testing.assert_array_equal(
        Embedder(model, "cpu").encode_text(text), Embedder(rn_model, "cpu").encode_text(text)
    )


def test_key_mapping_rules() -> None:
    t = torch.zeros(1)
    assert set(map_state_dict_keys({"module.a.b": t, "module.c": t})) == {"a.b", "c"}
    assert set(map_state_dict_keys({"model.a": t, "model.b": t})) == {"a", "b"}
    # a prefix on only some keys is not a wrapper: left alone, so the mismatch gets reported
    assert set(map_state_dict_keys({"model.a": t, "b": t})) == {"model.a", "b"}
    assert map_state_dict_keys({"text_model.embeddings.position_ids": t, "x": t}) == {"x": t}


def test_config_reads_released_keys_and_ignores_remote_code_keys() -> None:
    released = {
        "architectures": ["CLOSPModel"],
        "auto_map": {"AutoModel": "modeling_closp.CLOSPModel"},
        "vision_model_key": "vit_small_patch16_224",
        "s1_embedding_dim": 384,
        "s2_embedding_dim": 1000,
        "projection_dim": 384,
        "use_location_encoder": False,
        "logit_scale_init_value": 1.0,
        "text_model_name_or_path": "sentence-transformers/all-MiniLM-L6-v2",
    }
    config = ClospConfig.from_dict(released)
    assert config.variant == "closp-vs" and config.image_size == 224
    assert ClospConfig.from_dict({"vision_model_key": "resnet50", "use_location_encoder": True})
    with pytest.raises(ConfigError, match="expected resnet50"):
        ClospConfig.from_dict({"vision_model_key": "swin_t"})


def test_shapes_decide_head_widths() -> None:
    base = ClospConfig.from_dict({"variant": "closp-vs"})
    shapes = {
        "s1_projection.weight": torch.zeros(384, 384),
        "s2_projection.weight": torch.zeros(384, 1000),
        "s2_encoder.head.weight": torch.zeros(1000, 384),
        "location_encoder.nnet.layers.0.weight": torch.zeros(64, 100),
        "location_encoder.nnet.layers.1.weight": torch.zeros(64, 64),
        "location_encoder.nnet.layers.2.weight": torch.zeros(64, 64),
        "location_encoder.nnet.last_layer.weight": torch.zeros(128, 64),
    }
    config = config_for_state_dict(base, shapes)
    assert (config.s1_head_dim, config.s1_embedding_dim) == (0, 384)
    assert (config.s2_head_dim, config.s2_embedding_dim) == (1000, 1000)
    assert config.use_location_encoder and config.location_num_layers == 3
    assert (config.location_hidden_dim, config.location_embedding_dim) == (64, 128)


def test_unknown_model_names_and_incomplete_folders(tmp_path: Path) -> None:
    with pytest.raises(WeightsUnavailableError, match="neither an existing folder nor a hub id"):
        load_model("closp-xl")
    with pytest.raises(WeightsUnavailableError, match="neither an existing folder"):
        load_model(tmp_path / "does-not-exist")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    with pytest.raises(WeightsUnavailableError, match=r"lacks model\.safetensors"):
        load_model(tmp_path / "half")


def test_corrupt_files_are_our_error(rn_folder: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(rn_folder / "config.json", bad / "config.json")
    (bad / "model.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointMismatchError, match="not a readable safetensors file"):
        load_model(bad)
    (bad / "config.json").write_text("{not json")
    with pytest.raises(CheckpointMismatchError, match=r"config\.json is not valid JSON"):
        load_model(bad)


def test_hub_unreachable_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(WeightsUnavailableError, match=r"DarthReca/CLOSP-RN .*hf download"):
        load_model("closp-rn", cache_dir=tmp_path)


def _fake_hub_cache(cache: Path, repo: str, commit: str, source: Path, ref: str) -> None:
    """The folder layout huggingface_hub keeps for a downloaded repository."""
    root = cache / ("models--" + repo.replace("/", "--"))
    snapshot = root / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        (snapshot / name).symlink_to(source / name)
    (root / "refs").mkdir(exist_ok=True)
    (root / "refs" / ref).write_text(commit)


def test_hub_id_resolves_from_cache_with_revision_pinning(rn_folder: Path, tmp_path: Path) -> None:
    geo = save_model(create_model("geoclosp-rn", seed=5), tmp_path / "geo")
    cache = tmp_path / "hub"
    _fake_hub_cache(cache, "DarthReca/CLOSP-RN", "a" * 40, rn_folder, "main")
    _fake_hub_cache(cache, "DarthReca/CLOSP-RN", "b" * 40, geo, "v2")
    assert not load_model("DarthReca/CLOSP-RN", cache_dir=cache).has_location_encoder
    assert load_model("closp-rn", revision="b" * 40, cache_dir=cache).has_location_encoder
    assert load_model("closp-rn", revision="v2", cache_dir=cache).has_location_encoder
    with pytest.raises(WeightsUnavailableError, match=r"at revision 'c{40}'"):
        load_model("closp-rn", revision="c" * 40, cache_dir=cache)


def test_downloaded_code_is_never_executed(rn_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "with-code"
    shutil.copytree(rn_folder, folder)
    marker = tmp_path / "executed"
    (folder / "modeling_closp.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_closp.CLOSPModel"}
    (folder / "config.json").write_text(json.dumps(config))
    load_model(folder)
    assert not marker.exists()


def test_random_model_only_when_asked_explicitly() -> None:
    model = load_model("random:geoclosp-rn")
    assert model.model_id == "geoclosp-rn:random-seed0" and model.has_location_encoder
    with pytest.raises(ConfigError, match="unknown CLOSP variant 'closp-xxl'"):
        load_model("random:closp-xxl")
