"""GeoCLOSP's location encoder: spherical harmonics + SIREN."""

import numpy as np
import pytest
import scipy.special
import torch

from closp_core.model.location import LocationEncoder, _associated_legendre, spherical_harmonics


def test_legendre_matches_scipy() -> None:
    x = torch.linspace(-1, 1, 41, dtype=torch.float64)
    ours = _associated_legendre(x, 10)
    for (l, m), values in ours.items():  # noqa: E741
        expected = scipy.special.lpmv(m, l, x.numpy())  # includes the Condon-Shortley phase
        scale = max(1.0, float(np.abs(expected).max()))
        np.testing.assert_allclose(values.numpy(), expected, rtol=1e-9, atol=1e-12 * scale)


def test_harmonics_are_orthonormal_on_the_sphere() -> None:
    """Gauss-Legendre in cos(theta) x uniform phi integrates degree < 20 products exactly."""
    nodes, weights = np.polynomial.legendre.leggauss(20)
    phis = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    cos_t, phi = np.meshgrid(nodes, phis, indexing="ij")
    lat = np.degrees(np.arccos(cos_t)) - 90.0
    lon = np.degrees(phi) - 180.0
    points = torch.tensor(np.stack([lon.ravel(), lat.ravel()], axis=1))
    y = spherical_harmonics(points, 10).double().numpy()
    w = (weights[:, None] * np.full_like(phi, 2 * np.pi / len(phis))).ravel()
    gram = (y * w[:, None]).T @ y
    np.testing.assert_allclose(gram, np.eye(100), atol=1e-5)


def test_poles_and_antimeridian_are_finite_and_periodic() -> None:
    points = torch.tensor([[0.0, 90.0], [0.0, -90.0], [180.0, 10.0], [-180.0, 10.0]])
    features = spherical_harmonics(points, 10)
    assert features.shape == (4, 100) and torch.isfinite(features).all()
    torch.testing.assert_close(features[2], features[3], atol=1e-6, rtol=0)
    encoder = LocationEncoder()
    out = encoder(points)
    assert out.shape == (4, 256) and torch.isfinite(out).all()


def test_parameter_names_follow_the_released_checkpoints() -> None:
    names = set(LocationEncoder(num_layers=2).state_dict())
    assert names == {
        "nnet.layers.0.weight",
        "nnet.layers.0.bias",
        "nnet.layers.1.weight",
        "nnet.layers.1.bias",
        "nnet.last_layer.weight",
        "nnet.last_layer.bias",
    }


@pytest.mark.parametrize("w0_first", [30.0])
def test_first_layer_uses_w0(w0_first: float) -> None:
    encoder = LocationEncoder()
    first = encoder.nnet.layers[0]
    x = torch.randn(3, 100)
    expected = torch.sin(w0_first * torch.nn.functional.linear(x, first.weight, first.bias))
    torch.testing.assert_close(first(x), expected)
