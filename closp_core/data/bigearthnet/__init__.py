"""BigEarthNet patch folders (``source``)."""

from closp_core.data.bigearthnet.source import BigEarthNetSource

__all__ = ["BigEarthNetSource"]
