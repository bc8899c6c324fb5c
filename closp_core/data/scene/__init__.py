"""Raster scenes: band files, stacks (``source``) and Sentinel products as they ship (``safe``)."""

from closp_core.data.scene.source import MaskLabeler, SceneSource

__all__ = ["MaskLabeler", "SceneSource"]
