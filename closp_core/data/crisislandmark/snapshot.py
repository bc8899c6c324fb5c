"""Datasets on the Hugging Face hub: a repo id -> a local snapshot folder holding the files a
reader needs, through ``huggingface_hub`` (its cache, resumable downloads, ``HF_HUB_OFFLINE``).

``dataset_snapshot(repo_id, patterns, missing)`` (``missing(folder)``: the files a reader needs
that ``folder`` lacks; ``folder`` None: nothing is cached):

1. the cached snapshot of ``revision`` (default ``main``) is used as is, without any network,
   when ``missing(folder)`` finds nothing missing in it;
2. else, unless ``HF_HUB_OFFLINE=1`` or the hub is unreachable (a quick TCP check, so an
   offline machine fails in milliseconds, not after the client's retries), only the files
   matching ``patterns`` are downloaded (``snapshot_download(repo_type="dataset",
   allow_patterns=...)``; an interrupted download resumes where it stopped);
3. else ``DataError`` naming exactly the missing files and the ``hf download`` command that
   fetches them on a connected machine.

Offline, ``snapshot_download`` returns a cached snapshot folder even when files are missing
from it (it can only tell when the tree listing was cached too), so ``missing`` always checks.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import huggingface_hub
from huggingface_hub import constants as hub_constants
from huggingface_hub import errors as hub_errors

from closp_core.errors import DataError
from closp_core.hubnet import hub_reachable

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
MissingFiles = Callable[[Path | None], list[str]]  # None: nothing is cached


def is_hub_id(text: str) -> bool:
    """``owner/name`` that is not an existing local path."""
    return _HUB_ID.fullmatch(text) is not None and not Path(text).expanduser().exists()


def cache_folder(repo_id: str, cache_dir: Path | None = None) -> Path:
    """Where the hub cache keeps dataset ``repo_id``."""
    base = Path(cache_dir) if cache_dir is not None else Path(hub_constants.HF_HUB_CACHE)
    return base / ("datasets--" + repo_id.replace("/", "--"))


def dataset_snapshot(
    repo_id: str,
    patterns: Sequence[str],
    missing: MissingFiles,
    *,
    revision: str | None = None,
    cache_dir: Path | None = None,
) -> Path:
    """A snapshot folder of dataset ``repo_id`` in which ``missing`` finds nothing missing."""
    folder = _cached(repo_id, patterns, revision, cache_dir)
    lacking = missing(folder)
    if folder is not None and not lacking:
        return folder
    offline = hub_constants.HF_HUB_OFFLINE
    if offline or not hub_reachable():
        reason = "HF_HUB_OFFLINE=1 is set" if offline else "the hub cannot be reached"
        raise DataError(_missing_message(repo_id, revision, cache_dir, lacking, reason))
    errors: tuple[type[Exception], ...] = (OSError, ValueError, *_transport_errors())
    try:
        folder = Path(
            huggingface_hub.snapshot_download(
                repo_id,
                repo_type="dataset",
                revision=revision,
                cache_dir=cache_dir,
                allow_patterns=list(patterns),
            )
        )
    except errors as err:
        at = f" at revision {revision!r}" if revision else ""
        raise DataError(
            f"hub dataset {repo_id}{at} could not be downloaded ({type(err).__name__}: {err}); "
            "check the id and revision, the network, and HF_TOKEN for a gated dataset"
        ) from None
    lacking = missing(folder)
    if lacking:
        raise DataError(
            f"hub dataset {repo_id} has no {', '.join(lacking)} (downloaded the rest to "
            f"{folder}); is it the right dataset and revision?"
        )
    return folder


def _cached(
    repo_id: str, patterns: Sequence[str], revision: str | None, cache_dir: Path | None
) -> Path | None:
    """The cached snapshot folder of ``revision``, complete or not; None when there is none."""
    try:
        return Path(
            huggingface_hub.snapshot_download(
                repo_id,
                repo_type="dataset",
                revision=revision,
                cache_dir=cache_dir,
                allow_patterns=list(patterns),
                local_files_only=True,
            )
        )
    except hub_errors.IncompleteSnapshotError as err:  # the cached tree listing knows more
        return Path(err.snapshot_path) if err.snapshot_path else None
    except (OSError, ValueError):  # not cached (LocalEntryNotFoundError), bad id
        return None


def _missing_message(
    repo_id: str, revision: str | None, cache_dir: Path | None, lacking: list[str], reason: str
) -> str:
    at = f" --revision {revision}" if revision else ""
    return (
        f"hub dataset {repo_id} (revision {revision or 'main'}) is not complete in the "
        f"Hugging Face cache {cache_folder(repo_id, cache_dir)} and {reason}: missing "
        f"{', '.join(lacking)}. On a connected machine run `hf download {repo_id} "
        f"--repo-type dataset{at} {' '.join(lacking)}` and copy the cache here (HF_HOME / "
        "HF_HUB_CACHE), or pass a local folder holding these files"
    )


def _transport_errors() -> tuple[type[Exception], ...]:
    """The HTTP client's own errors (``huggingface_hub`` 2.x uses ``httpx2``; older: httpx)."""
    found: list[type[Exception]] = []
    for name in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(name).HTTPError)
        except (ImportError, AttributeError):
            continue
    return tuple(found)
