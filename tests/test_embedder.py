"""The embedder: routing by sensor, the band contract at its door, determinism, devices."""

import threading

import numpy as np
import pytest
import torch

from closp_core.bands import Sensor, prepare_s1, prepare_s2
from closp_core.embedder import (
    Embedder,
    default_batch_size,
    pick_device,
    threads_for,
    torch_threads,
)
from closp_core.errors import BandContractError, ClospError, ConfigError
from closp_core.model import ClospModel, create_model
from closp_core.settings import Settings
from tests.conftest import random_s1_db, random_s2_dn


def test_outputs_are_unit_vectors(rn_embedder: Embedder) -> None:
    rng = np.random.default_rng(0)
    for vectors in (
        rn_embedder.encode_images(prepare_s2(random_s2_dn(rng, 5)), Sensor.S2),
        rn_embedder.encode_images(prepare_s1(random_s1_db(rng, 5)), "s1"),
        rn_embedder.encode_text(["a", "b", "c", "d", "e"]),
    ):
        assert vectors.shape == (5, 384) and vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert rn_embedder.encode_text([]).shape == (0, 384)


def test_twelve_and_thirteen_band_s2_agree(rn_embedder: Embedder) -> None:
    dn13 = random_s2_dn(np.random.default_rng(1), 3)  # B10 is zero
    dn12 = np.delete(dn13, 10, axis=1)
    a = rn_embedder.encode_images(prepare_s2(dn13), Sensor.S2)
    b = rn_embedder.encode_images(prepare_s2(dn12), Sensor.S2)
    np.testing.assert_array_equal(a, b)


def test_same_input_same_output(rn_model: ClospModel) -> None:
    chips = prepare_s2(random_s2_dn(np.random.default_rng(2), 6))
    a = Embedder(rn_model, "cpu", batch_size=4).encode_images(chips, Sensor.S2)
    b = Embedder(rn_model, "cpu", batch_size=4).encode_images(chips, Sensor.S2)
    np.testing.assert_array_equal(a, b)
    c = Embedder(rn_model, "cpu", batch_size=6).encode_images(chips, Sensor.S2)
    np.testing.assert_allclose(a, c, atol=1e-5)


def test_encoder_is_chosen_by_declared_sensor(rn_embedder: Embedder) -> None:
    calls: list[str] = []
    model = rn_embedder.model
    hooks = [
        model.s1_encoder.register_forward_hook(lambda *_: calls.append("s1")),
        model.s2_encoder.register_forward_hook(lambda *_: calls.append("s2")),
    ]
    try:
        rn_embedder.encode_images(np.zeros((1, 2, 32, 32), np.float32), Sensor.S1)
        rn_embedder.encode_images(np.zeros((1, 13, 32, 32), np.float32), Sensor.S2)
        with pytest.raises(BandContractError, match=r"S1 model input: expected 2 bands"):
            rn_embedder.encode_images(np.zeros((1, 13, 32, 32), np.float32), Sensor.S1)
        with pytest.raises(BandContractError, match=r"S2 model input: expected 13 bands"):
            rn_embedder.encode_images(np.zeros((1, 2, 32, 32), np.float32), Sensor.S2)
    finally:
        for hook in hooks:
            hook.remove()
    assert calls == ["s1", "s2"]


@pytest.mark.parametrize(
    ("images", "sensor", "message"),
    [
        (np.full((1, 13, 8, 8), 3000.0, np.float32), "s2", "digital numbers"),
        (np.full((1, 2, 8, 8), np.nan, np.float32), "s1", "NaN or infinite"),
        (np.ones((1, 13, 8, 8), np.int32), "s2", "expected float pixels"),
        (np.ones((8, 8), np.float32), "s2", r"expected \(bands, H, W\)"),
        (np.ones((1, 2, 8, 8), np.float32), "sar", "unknown sensor 'sar'"),
    ],
)
def test_bad_images_raise_our_error(
    rn_embedder: Embedder, images: np.ndarray, sensor: str, message: str
) -> None:
    with pytest.raises(BandContractError, match=message):
        rn_embedder.encode_images(images, sensor)


def test_bad_text_raises_our_error(rn_embedder: Embedder) -> None:
    with pytest.raises(ClospError, match="list of strings"):
        rn_embedder.encode_text("burned forest")  # type: ignore[arg-type]
    with pytest.raises(ClospError, match="list of strings"):
        rn_embedder.encode_text([None])  # type: ignore[list-item]


def test_locations_need_geoclosp_and_valid_points(rn_embedder: Embedder) -> None:
    with pytest.raises(ClospError, match="no location encoder"):
        rn_embedder.encode_locations(np.array([[0.0, 0.0]]))
    geo = Embedder(create_model("geoclosp-rn", seed=1), "cpu")
    edges = np.array([[180.0, 90.0], [-180.0, -90.0], [179.999, 0.0], [-179.999, 0.0]])
    vectors = geo.encode_locations(edges)
    assert vectors.shape == (4, 384) and np.isfinite(vectors).all()
    with pytest.raises(ClospError, match="latitude in"):
        geo.encode_locations(np.array([[0.0, 91.0]]))
    with pytest.raises(ClospError, match=r"finite \(N, 2\)"):
        geo.encode_locations(np.array([0.0, 1.0]))


def test_device_choice() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and torch.backends.mps.is_available():
        expected = "mps"
    assert pick_device("auto").type == expected
    assert pick_device("CPU").type == "cpu"
    with pytest.raises(ConfigError, match="not a torch device"):
        pick_device("quantum")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU is visible"):
            pick_device("cuda")
    with pytest.raises(ConfigError, match="batch_size must be >= 1"):
        Embedder.__new__(Embedder).__init__(create_model("closp-rn"), "cpu", batch_size=0)


@pytest.mark.gpu
def test_gpu_autocast_matches_cpu(rn_model: ClospModel) -> None:
    chips = prepare_s2(random_s2_dn(np.random.default_rng(3), 8))
    cpu = Embedder(create_model("closp-rn", seed=0), "cpu").encode_images(chips, Sensor.S2)
    gpu = Embedder(create_model("closp-rn", seed=0), "cuda").encode_images(chips, Sensor.S2)
    assert (cpu * gpu).sum(axis=1).min() > 0.99


def test_thread_policy_per_role() -> None:
    plain = Settings()
    assert threads_for("app", plain, cores=8) == 1  # queries never wait on a busy pool
    assert threads_for("ingest", plain, cores=8) == 7  # one core for reading, previews, app
    assert threads_for("ingest", plain, cores=16, workers=14) == 1  # readers take the cores
    assert threads_for("background", plain, cores=8) == 7  # leaves queries a core
    assert threads_for("background", plain, cores=1) == 1
    assert threads_for("app", Settings(threads=3), cores=8) == 3
    tuned = Settings(threads=3, app_threads=2, ingest_threads=5)
    assert [threads_for(r, tuned, cores=8) for r in ("app", "ingest", "background")] == [2, 5, 5]
    with pytest.raises(ConfigError, match="app_threads must be >= 0"):
        Settings(app_threads=-1)


def test_thread_count_is_per_calling_thread(rn_model: ClospModel) -> None:
    before = torch.get_num_threads()
    entered, release, seen = threading.Event(), threading.Event(), []

    def other() -> None:
        with torch_threads(1):
            seen.append(torch.get_num_threads())
            entered.set()
            release.wait()

    worker = threading.Thread(target=other)
    worker.start()
    entered.wait()
    assert torch.get_num_threads() == before  # this thread keeps its own count meanwhile
    release.set()
    worker.join()
    assert seen == [1] and torch.get_num_threads() == before
    embedder = Embedder(rn_model, "cpu", threads=before)
    inside: list[int] = []
    hook = rn_model.text_model.register_forward_hook(
        lambda *_: inside.append(torch.get_num_threads())
    )
    try:
        embedder.encode_text(["burned forest"], threads=1)
        embedder.encode_text(["burned forest"])
    finally:
        hook.remove()
    assert inside == [1, before] and torch.get_num_threads() == before


def test_batch_size_per_device(rn_model: ClospModel) -> None:
    assert default_batch_size(torch.device("cpu")) == 64
    assert default_batch_size(torch.device("cuda")) == 512
    assert Embedder(rn_model, "cpu").batch_size == 64
    assert Embedder(rn_model, "cpu", batch_size=8).batch_size == 8
    with pytest.raises(ConfigError, match="precision 'fp64'"):
        Embedder(rn_model, "cpu", precision="fp64")  # type: ignore[arg-type]
    assert Embedder(rn_model, "cpu").autocast_dtype is None  # float32 on CPUs


@pytest.mark.gpu
def test_gpu_pinned_batches_and_checks_on_the_device(rn_model: ClospModel) -> None:
    chips = prepare_s2(random_s2_dn(np.random.default_rng(4), 9))
    cpu = Embedder(create_model("closp-rn", seed=0), "cpu").encode_images(chips, Sensor.S2)
    gpu = Embedder(create_model("closp-rn", seed=0), "cuda", batch_size=4)
    pinned = torch.from_numpy(chips).pin_memory().numpy()
    assert (cpu * gpu.encode_images(pinned, Sensor.S2)).sum(axis=1).min() > 0.99
    broken = chips.copy()
    broken[7, 3, 5, 5] = np.nan  # not in the first chip: found on the device
    with pytest.raises(BandContractError, match="NaN or infinite"):
        gpu.encode_images(broken, Sensor.S2)
    with pytest.raises(BandContractError, match="digital numbers"):
        gpu.encode_images(np.concatenate([chips, chips * 10000]), Sensor.S2)
