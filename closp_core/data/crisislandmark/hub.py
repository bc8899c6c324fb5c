"""CrisisLandMark from a local folder or the hub dataset ``DarthReca/crisislandmark``.

``open_crisislandmark("DarthReca/crisislandmark", sources=["mmflood"])`` fetches (or finds in the
Hugging Face cache) only what those sources need: ``crisislandmark.h5``, ``metadata.parquet``,
the sources' shard files, and ``queries.jsonl`` / ``qrels/*`` when the dataset has them (optional:
ingest does not need them, evaluation does). See ``hub.py`` for cache and offline behaviour.

Shard files per source follow ../shared/docs/CLOSP.md. Whether ``sen12flood.h5`` holds both
``sen1flood`` and ``sen2flood`` is unverified, so either reading is accepted: ``sen12flood.h5``,
or ``sen1flood.h5`` / ``sen2flood.h5``; both are asked for and either one satisfies a source
(missing-file messages name ``sen12flood.h5``). Any other shard ``crisislandmark.h5`` links to
and that is absent is reported by the reader for its keys alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from closp_core.data.crisislandmark.index import ROOT_FILE
from closp_core.data.crisislandmark.sample import SOURCES
from closp_core.data.crisislandmark.snapshot import dataset_snapshot, is_hub_id
from closp_core.data.crisislandmark.source import CrisisLandMarkSource, check_sources
from closp_core.errors import DataError

HUB_DATASET = "DarthReca/crisislandmark"
CORE_FILES = (ROOT_FILE, "metadata.parquet")
OPTIONAL_PATTERNS = ("queries.jsonl", "qrels/*")
_PARTS = range(1, 5)
# source -> alternative sets of shard files (any one complete set satisfies the source)
SHARD_FILES: dict[str, tuple[tuple[str, ...], ...]] = {
    "benv2s1": (tuple(f"benv2s1_part{i}.h5" for i in _PARTS),),
    "benv2s2": (tuple(f"benv2s2_part{i}.h5" for i in _PARTS),),
    "cabuar": (("cabuar.h5",),),
    "sen1flood": (("sen12flood.h5",), ("sen1flood.h5",)),
    "sen2flood": (("sen12flood.h5",), ("sen2flood.h5",)),
    "mmflood": (("mmflood.h5",),),
    "quakeset": (("quakeset.h5",),),
}


def hub_patterns(sources: Iterable[str]) -> list[str]:
    """``allow_patterns`` for the files ``sources`` need (plus the optional evaluation files)."""
    shards = {name for src in sources for files in SHARD_FILES[src] for name in files}
    globs = {f"{src}_part*.h5" for src in sources if src.startswith("benv2")}
    return [*CORE_FILES, *sorted(shards | globs), *OPTIONAL_PATTERNS]


def missing_files(folder: Path | None, sources: Iterable[str]) -> list[str]:
    """The files ``sources`` need that ``folder`` lacks (all of them when ``folder`` is None)."""
    present = set() if folder is None else {p.name for p in folder.iterdir() if p.is_file()}
    lacking = [name for name in CORE_FILES if name not in present]
    for src in sources:
        options = SHARD_FILES[src]
        if not any(all(name in present for name in files) for files in options):
            lacking.extend(name for name in options[0] if name not in present)
    return list(dict.fromkeys(lacking))


def open_crisislandmark(
    root_or_id: str | Path,
    *,
    sources: Iterable[str] | None = None,
    revision: str | None = None,
    cache_dir: Path | None = None,
    **options: Any,
) -> CrisisLandMarkSource:
    """A ``CrisisLandMarkSource`` over a local folder, or over a hub dataset id (``owner/name``,
    fetched as ``hub.dataset_snapshot`` says); ``options`` go to ``CrisisLandMarkSource``."""
    chosen = check_sources(sources)
    text = str(root_or_id)
    if Path(text).expanduser().exists():
        if revision is not None:
            raise DataError(
                f"a dataset revision ({revision!r}) applies to hub ids, not to the local "
                f"folder {text}; drop it or pass a hub id like {HUB_DATASET}"
            )
        return CrisisLandMarkSource(text, sources=chosen, **options)
    if not is_hub_id(text):
        raise DataError(
            f"CrisisLandMark {text!r}: no such folder, and not a hub dataset id like "
            f"{HUB_DATASET}; check the path"
        )
    wanted = sorted(chosen) if chosen is not None else list(SOURCES)
    folder = dataset_snapshot(
        text,
        hub_patterns(wanted),
        lambda found: missing_files(found, wanted),
        revision=revision,
        cache_dir=cache_dir,
    )
    return CrisisLandMarkSource(folder, sources=chosen, **options)
