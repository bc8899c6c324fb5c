"""The one thing pyproject.toml cannot say: the data the engine reads at run time lives outside
the packages in a checkout (``samples/``, ``models/demo/best-delta/``), and the wheel maps it into
``closp_core/_shipped/`` where ``closp_core.shipped`` finds it once installed.

Everything else (metadata, dependencies, extras, scripts) is in pyproject.toml; packages are found,
so a new sub-package of ``closp_core`` or ``ingest`` ships without editing this file.
"""

from setuptools import find_packages, setup

SHIPPED = {
    "closp_core._shipped.samples": "samples",
    "closp_core._shipped.demo_model": "models/demo/best-delta",
}

CODE = ["closp_core", "closp_core.*", "ingest", "ingest.*"]

setup(
    packages=[*find_packages(include=CODE), *SHIPPED],
    package_dir=SHIPPED,
    package_data={name: ["**/*"] for name in SHIPPED},
    exclude_package_data={name: ["**/__pycache__/*"] for name in SHIPPED},
)
