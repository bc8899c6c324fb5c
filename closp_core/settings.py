"""One ``Settings`` object, read from ``CLOSP_*`` environment variables and an optional TOML file.

Precedence: environment > TOML file (``CLOSP_CONFIG`` or the ``toml_path`` argument) > defaults.
Nothing is read at import time; call ``Settings.load()``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from closp_core.errors import ConfigError

ENV_PREFIX = "CLOSP_"
PUBLIC_STAC_APIS = (
    "https://earth-search.aws.element84.com/v1,"
    "https://planetarycomputer.microsoft.com/api/stac/v1,"
    "https://stac.dataspace.copernicus.eu/v1"
)


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "closp"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every knob of the engine, app and ingest CLI. Env var = ``CLOSP_`` + upper-case name."""

    # model
    model: str = "DarthReca/CLOSP-RN"  # hub id, variant name, or local directory
    model_revision: str | None = None  # hub revision (tag, branch or commit) to pin
    demo_fallback: bool = True  # official weights unreachable -> the shipped demo model
    # embedder
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    batch_size: int | None = None  # chips per forward pass; unset = per device (embedder.py)
    threads: int = 0  # CPU threads for torch, every role; 0 = each role's default (below)
    app_threads: int = 0  # torch threads for the app's query encoding; 0 = threads, else 1
    ingest_threads: int = 0  # torch threads for ingest; 0 = threads, else cores - 1
    ingest_workers: int | None = None  # reader processes for ingest; unset = per machine
    # storage
    data_dir: Path = dataclasses.field(default_factory=_default_data_dir)
    store_url: str | None = None  # Qdrant server/cluster URL; unset = embedded Qdrant Edge
    store_api_key: str | None = None
    collection: str = "closp"
    # readers
    stac_allowed_roots: str = ""  # more folders STAC hrefs may point into (comma list; * = any)
    # vector store (fixed when a collection is created; see closp_core/store)
    store_hnsw_m: int = 16  # HNSW graph degree; 0 = no graph (exact search only)
    store_hnsw_ef_construct: int = 100  # HNSW build beam
    store_hnsw_payload_m: int = 0  # links within each payload value (filtered search); 0 = off
    store_hnsw_ef: int = 512  # HNSW search beam (647k bench: recall@10 .86 at 128, 1.0 at 512)
    store_hnsw_full_scan_kb: int = 100_000  # filtered searches under ~66k chips scan exactly
    store_int8: bool = False  # int8 scalar quantisation of vectors (rescored)
    store_on_disk: bool = False  # original vectors on disk (mmap), not loaded into RAM
    store_segment_chips: int = 500_000  # Edge: the most chips one graph segment holds
    store_shards: int = 1  # Qdrant server/cluster only
    store_replication: int = 1  # Qdrant server/cluster only
    store_write_consistency: int = 1  # Qdrant server/cluster only
    # web app: the Add imagery page
    upload_max_mb: int = 200  # largest GeoTIFF one upload may be (also server.maxUploadSize)
    import_dirs: str = ""  # folders the app may ingest from by path (os.pathsep list); "" = none
    # remote STAC (closp_core/data/stac/remote.py, fetch.py): hosts, deadlines and budgets
    stac_apis: str = PUBLIC_STAC_APIS  # the STAC APIs the app offers (comma list of URLs)
    stac_free_entry: bool = False  # the app also takes any STAC API URL typed in
    stac_hosts: str = ""  # hosts fetched besides the public providers' (comma list, *.x ok)
    stac_proxy: str = ""  # http://HOST:PORT for remote STAC ("": none; env proxies never)
    stac_request_deadline_s: float = 30.0  # one whole HTTP request (CLI: --timeout)
    stac_search_deadline_s: float = 300.0  # one whole search or collection listing
    stac_max_document_mb: int = 16  # one remote STAC document, as sent (compressed)
    stac_max_inflated_mb: int = 64  # one remote STAC document, inflated
    stac_max_pages: int = 200  # pages of one search or listing
    # budgets: local files (checked before reading; a refusal names the setting)
    max_file_pixels: int = 2_000_000_000  # width x height x bands of one raster file (header)
    max_scene_chips: int = 20_000  # chips of one scene (a full S2 tile at 10 m: 8,464)
    max_job_chips: int = 100_000  # chips one ingest run or app job may add
    min_free_mb: int = 256  # free disk below the index's folder needed to start writing
    label_file_max_mb: int = 8  # largest label file (GeoJSON) the app reads
    label_file_max_depth: int = 32  # deepest nesting of brackets in a label file
    label_file_max_labels: int = 1_000  # labels in one label file (at most MAX_LABELS, 1,000)
    # score maps
    score_map_max_chips: int = 1_000_000  # the most chips one score map scores
    score_map_max_pixels: int = 2048  # long side of the score raster, pixels
    score_map_cache_areas: int = 4  # areas whose chips (vectors, footprints) stay in memory

    @property
    def index_dir(self) -> Path:
        """Folder of the embedded index."""
        return self.data_dir / "index"

    @property
    def import_paths(self) -> tuple[Path, ...]:
        """``import_dirs`` as resolved folders (the only places a typed path may point into)."""
        parts = (p.strip() for p in self.import_dirs.split(os.pathsep))
        return tuple(Path(p).expanduser().resolve() for p in parts if p)

    @classmethod
    def load(
        cls, environ: Mapping[str, str] | None = None, toml_path: Path | None = None
    ) -> Settings:
        """Defaults, then the TOML file, then ``CLOSP_*`` variables of ``environ``."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        path = toml_path or (Path(env[ENV_PREFIX + "CONFIG"]) if env.get("CLOSP_CONFIG") else None)
        if path is not None:
            values.update(_read_toml(path))
        for field in dataclasses.fields(cls):
            raw = env.get(ENV_PREFIX + field.name.upper())
            if raw is not None:
                values[field.name] = raw
        return cls(**{name: _convert(cls, name, value) for name, value in values.items()})

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (values converted and checked like ``load``)."""
        return dataclasses.replace(
            self, **{name: _convert(type(self), name, v) for name, v in changes.items()}
        )

    def __post_init__(self) -> None:
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError(
                f"batch_size must be >= 1, got {self.batch_size}; leave it unset for the "
                "device's default"
            )
        for name in ("threads", "app_threads", "ingest_threads"):
            if getattr(self, name) < 0:
                raise ConfigError(
                    f"{name} must be >= 0 (0 = the default), got {getattr(self, name)}"
                )
        if self.ingest_workers is not None and self.ingest_workers < 0:
            raise ConfigError(
                f"ingest_workers must be >= 0 (0 = read in a thread), got {self.ingest_workers}"
            )
        if self.upload_max_mb < 1:
            raise ConfigError(f"upload_max_mb must be >= 1, got {self.upload_max_mb}")
        for name in _BUDGETS:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        self._check_stac()

    def _check_stac(self) -> None:
        for name in ("stac_request_deadline_s", "stac_search_deadline_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(
                    f"{name} (env {ENV_PREFIX}{name.upper()}) must be > 0 seconds, got "
                    f"{getattr(self, name)}"
                )
        for name in ("stac_max_document_mb", "stac_max_inflated_mb", "stac_max_pages"):
            if getattr(self, name) < 1:
                raise ConfigError(
                    f"{name} (env {ENV_PREFIX}{name.upper()}) must be >= 1, got "
                    f"{getattr(self, name)}"
                )
        if not self.stac_api_list and not self.stac_free_entry:
            raise ConfigError(
                "stac_apis (env CLOSP_STAC_APIS) is empty and stac_free_entry is off: the app "
                "would offer no STAC API; list one or allow free entry"
            )

    @property
    def stac_api_list(self) -> tuple[str, ...]:
        """``stac_apis`` as a tuple of URLs."""
        return tuple(u.strip() for u in self.stac_apis.split(",") if u.strip())


# budgets: local files
_BUDGETS = ("max_file_pixels", "max_scene_chips", "max_job_chips", "min_free_mb",
            "label_file_max_mb", "label_file_max_depth", "label_file_max_labels")  # fmt: skip


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"settings file {path} does not exist; fix CLOSP_CONFIG") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"settings file {path} is not valid TOML: {exc}") from None
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"settings file {path}: unknown keys {unknown}; known: {sorted(known)}")
    return data


def _convert(cls: type, name: str, value: Any) -> Any:
    hints = typing.get_type_hints(cls)
    if name not in hints:
        raise ConfigError(f"unknown setting {name!r}")
    kind = hints[name]
    optional = isinstance(kind, types.UnionType) and type(None) in typing.get_args(kind)
    if optional:
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
        if value is None or value == "":
            return None
    try:
        if kind is bool:
            return _to_bool(value)
        if kind is Path:
            return Path(value).expanduser()
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"setting {name} (env {ENV_PREFIX}{name.upper()}): {value!r} is not a valid "
            f"{kind.__name__}"
        ) from None


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(value)
