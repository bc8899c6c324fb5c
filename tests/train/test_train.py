"""Tiny CPU training runs: outputs, checkpoints, resume, partial unfreezing, GeoCLOSP."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from closp_core.bands import Sensor
from closp_core.errors import CheckpointMismatchError
from closp_core.model import create_model, load_model
from closp_core.model.delta import DELTA_CONFIG
from closp_core.train import TrainResult, load_delta, train
from closp_core.train.__main__ import main
from closp_core.train.parts import clip_loss
from tests.train.conftest import tiny_config


def test_run_writes_logs_and_lowers_validation_loss(trained_run: TrainResult) -> None:
    vals = [r["val_loss"] for r in trained_run.history if "val_loss" in r]
    assert len(vals) == 15 and min(vals) < vals[0] - 0.3
    assert trained_run.best_val_loss == min(vals)
    out = trained_run.output_dir
    for name in ("log.csv", "log.json", "loss.png", "train-config.json", "last/state.pt"):
        assert (out / name).is_file(), name
    assert (out / "cache" / "train-s2.f32").is_file()
    assert json.loads((out / "log.json").read_text())["summary"]["steps"] == 30
    assert trained_run.summary["skipped"] == {"no labels": 4}
    assert trained_run.summary["trainable_params"] == 2 * (1000 * 384 + 384)


def test_best_checkpoint_loads_in_both_layouts(trained_run: TrainResult) -> None:
    assert trained_run.best_dir is not None and trained_run.delta_dir is not None
    full = load_model(trained_run.best_dir)
    delta = load_delta(trained_run.delta_dir)
    assert delta.model_id.startswith("closp-rn:delta-")
    size = sum(p.stat().st_size for p in trained_run.delta_dir.iterdir())
    assert size < 4_000_000
    pixels = torch.randn(2, 13, 32, 32) * 0.1
    with torch.no_grad():
        a = full.encode_image(pixels, Sensor.S2)
        b = delta.encode_image(pixels, Sensor.S2)
    torch.testing.assert_close(a, b)


def test_delta_refuses_another_base(trained_run: TrainResult, tmp_path: Path) -> None:
    assert trained_run.delta_dir is not None
    meta = json.loads((trained_run.delta_dir / DELTA_CONFIG).read_text())
    meta["base_seed"] = 2
    for file in trained_run.delta_dir.iterdir():
        (tmp_path / file.name).write_bytes(file.read_bytes())
    (tmp_path / DELTA_CONFIG).write_text(json.dumps(meta))
    with pytest.raises(CheckpointMismatchError, match="differs from the one"):
        load_delta(tmp_path)


def test_cli_runs_a_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = tmp_path / "tiny.toml"
    toml.write_text(
        '[model]\nvariant = "closp-rn"\nseed = 3\n'
        "[data]\nval_fraction = 0.25\nchip_size = 24\n"
        '[[data.sources]]\nkind = "synthetic"\npath = "."\noptions = { per_set = 4, size = 40 }\n'
        '[train]\nepochs = 1\nbatch_size = 4\ntrainable = ["projections"]\nfreeze_text = true\n'
        'grad_accum = 2\nmulti_positive = true\nepoch_length = "max"\nthreads = 1\n'
        '[output]\ndir = "run"\nsave = "delta"\n'
    )
    assert main(["--config", str(toml), "--device", "cpu", "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 1 and summary["delta_dir"] == str(tmp_path / "run/best-delta")
    assert main(["--config", str(tmp_path / "missing.toml")]) == 2


def test_resume_continues_exactly(tmp_path: Path) -> None:
    sections = {"train": {"epochs": 2, "val_every": 2}, "output": {"save": "delta"}}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    whole = train(tiny_config(tmp_path / "a", **sections))
    part = tiny_config(tmp_path / "b", **sections)
    first = train(part, stop_after=2)
    assert first.steps == 2
    rest = train(part, resume=True)
    assert rest.steps == whole.steps == 4
    np.testing.assert_allclose(
        [r["train_loss"] for r in rest.history], [r["train_loss"] for r in whole.history],
        rtol=1e-5,
    )  # fmt: skip


def test_frozen_warmup_then_partial_unfreeze_geoclosp(tmp_path: Path) -> None:
    config = tiny_config(
        tmp_path,
        model={"variant": "geoclosp-rn"},
        train={"epochs": 2, "frozen_backbone_epochs": 1, "batch_size": 4,
               "trainable": ["projections", "location_encoder", "s2_encoder.layer4.2"]},
        output={"save": "delta"},
    )  # fmt: skip
    result = train(config)
    assert result.steps == 2 * result.summary["steps_per_epoch"]
    assert result.delta_dir is not None
    trained = load_delta(result.delta_dir)
    base = create_model("geoclosp-rn", seed=1)
    name = "s2_encoder.layer4.2.conv1.weight"
    changed = not torch.equal(trained.state_dict()[name], base.state_dict()[name])
    assert changed, "layer4 should train after the warm-up"
    frozen = "s2_encoder.layer4.1.conv1.weight"
    assert torch.equal(trained.state_dict()[frozen], base.state_dict()[frozen])
    assert trained.has_location_encoder


def test_clip_loss_values() -> None:
    eye = torch.eye(3)
    perfect = clip_loss(eye, eye, scale=100.0)
    assert float(perfect) < 1e-6
    same = torch.ones(3, 3)
    assert float(clip_loss(eye, eye, 1.0, same)) == pytest.approx(
        float(-torch.log_softmax(torch.tensor([1.0, 0.0, 0.0]), 0).mean()), abs=1e-6
    )
