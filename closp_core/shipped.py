"""Where the data shipped with the engine lies: the sample corpus and the offline demo model.

In a checkout they are ``samples/`` and ``models/demo/best-delta/`` at the repository root; an
installed wheel (``pip install .``) carries them inside the package as ``closp_core/_shipped/``
(``setup.py`` maps them there). The installed copy wins when it exists, so an installed package
never reads a folder that merely happens to sit next to ``site-packages``. Nothing here raises:
callers check the folder's content and say what is missing (``load_demo_model``, the readers).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
INSTALLED_DIR = PACKAGE_DIR / "_shipped"
CHECKOUT_DIR = PACKAGE_DIR.parent


def _installed_or_checkout(installed: str, checkout: str) -> Path:
    folder = INSTALLED_DIR / installed
    return folder if folder.is_dir() else CHECKOUT_DIR / checkout


def samples_dir() -> Path:
    """The shipped sample corpus (``samples/README.md`` tells its provenance)."""
    return _installed_or_checkout("samples", "samples")


def demo_model_dir() -> Path:
    """The offline demo model's delta folder (``delta.json`` + ``delta.safetensors``)."""
    return _installed_or_checkout("demo_model", "models/demo/best-delta")
