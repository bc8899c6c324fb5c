"""CLOSP engine: models, band contracts, embedder, readers, vector store (no UI code here)."""

__version__ = "0.1.0"
