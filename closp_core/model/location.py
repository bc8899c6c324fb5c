"""GeoCLOSP's location encoder, SatCLIP style: spherical harmonics -> SIREN MLP.

Parameter names follow the released checkpoints: ``nnet.layers.{i}.weight|bias`` and
``nnet.last_layer.weight|bias`` (the positional encoding has no parameters).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def spherical_harmonics(lonlat: torch.Tensor, degree: int = 10) -> torch.Tensor:
    """Real spherical harmonics of points on the sphere.

    ``lonlat``: ``(N, 2)`` longitude, latitude in degrees. Returns ``(N, degree**2)`` float32:
    Y(l, m) for l = 0..degree-1 and m = -l..l in that order, with phi = radians(lon + 180),
    theta = radians(lat + 90), and associated Legendre functions with the Condon-Shortley phase.
    Computed in float64.
    """
    lonlat = lonlat.to(torch.float64)
    phi = torch.deg2rad(lonlat[:, 0] + 180.0)
    theta = torch.deg2rad(lonlat[:, 1] + 90.0)
    legendre = _associated_legendre(torch.cos(theta), degree)
    features = []
    for l in range(degree):  # noqa: E741 (l is the conventional name of the degree)
        for m in range(-l, l + 1):
            am = abs(m)
            ratio = math.factorial(l - am) / math.factorial(l + am)
            k = math.sqrt((2 * l + 1) * ratio / (4 * math.pi))
            p = legendre[(l, am)]
            if m == 0:
                features.append(k * p)
            elif m > 0:
                features.append(math.sqrt(2) * k * torch.cos(m * phi) * p)
            else:
                features.append(math.sqrt(2) * k * torch.sin(am * phi) * p)
    return torch.stack(features, dim=1).to(torch.float32)


def _associated_legendre(x: torch.Tensor, degree: int) -> dict[tuple[int, int], torch.Tensor]:
    """P(l, m)(x) for 0 <= m <= l < degree, Condon-Shortley phase, by the standard recurrence."""
    somx2 = torch.sqrt(torch.clamp(1.0 - x * x, min=0.0))
    p: dict[tuple[int, int], torch.Tensor] = {}
    pmm = torch.ones_like(x)
    for m in range(degree):
        if m > 0:
            pmm = -pmm * (2 * m - 1) * somx2
        p[(m, m)] = pmm
        if m + 1 < degree:
            p[(m + 1, m)] = x * (2 * m + 1) * pmm
        for l in range(m + 2, degree):  # noqa: E741
            p[(l, m)] = ((2 * l - 1) * x * p[(l - 1, m)] - (l + m - 1) * p[(l - 2, m)]) / (l - m)
    return p


class SirenLayer(nn.Module):
    """``y = sin(w0 * (x W^T + b))``, or the affine map alone for the last layer."""

    def __init__(
        self,
        dim_in: int,
        dim_out: int,
        w0: float = 1.0,
        is_first: bool = False,
        is_last: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.w0 = w0
        self.is_last = is_last
        self.weight = nn.Parameter(torch.empty(dim_out, dim_in))
        self.bias = nn.Parameter(torch.empty(dim_out))
        bound = 1.0 / dim_in if is_first else math.sqrt(6.0 / dim_in) / w0
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = nn.functional.linear(x, self.weight, self.bias)
        if self.is_last:
            return out
        return self.dropout(torch.sin(self.w0 * out))


class SirenNet(nn.Module):
    """``num_layers`` SIREN layers (w0 = 30 on the first, 1 after), then a linear last layer."""

    def __init__(
        self, dim_in: int, dim_hidden: int, dim_out: int, num_layers: int, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            SirenLayer(
                dim_in if i == 0 else dim_hidden,
                dim_hidden,
                w0=30.0 if i == 0 else 1.0,
                is_first=i == 0,
                dropout=dropout,
            )
            for i in range(num_layers)
        )
        self.last_layer = SirenLayer(dim_hidden, dim_out, is_last=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        out: torch.Tensor = self.last_layer(x)
        return out


class LocationEncoder(nn.Module):
    """``(N, 2)`` lon/lat degrees -> ``(N, dim_out)`` location embedding (not normalised)."""

    def __init__(
        self,
        legendre_polys: int = 10,
        dim_hidden: int = 512,
        dim_out: int = 256,
        num_layers: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.legendre_polys = legendre_polys
        self.nnet = SirenNet(legendre_polys**2, dim_hidden, dim_out, num_layers, dropout)

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        features = spherical_harmonics(lonlat, self.legendre_polys)
        out: torch.Tensor = self.nnet(features.to(self.nnet.last_layer.weight.dtype))
        return out
