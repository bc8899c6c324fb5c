"""Fixtures for the ingest tests: a throwaway data folder and settings pointing at it."""

from __future__ import annotations

from pathlib import Path

import pytest

from closp_core.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Embedded index in ``tmp_path``; random model (explicitly asked for), small batches."""
    return Settings(model="random:closp-rn", data_dir=tmp_path / "data", batch_size=16)


def cli_args(settings: Settings, *extra: str) -> list[str]:
    """Common CLI options for ``settings``; ``extra`` first (the command and its arguments)."""
    return [
        *extra,
        "--model",
        settings.model,
        "--data-dir",
        str(settings.data_dir),
        "--batch-size",
        str(settings.batch_size),
        "--no-progress",
    ]
