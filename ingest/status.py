"""``python -m ingest info``: what an index holds, without creating one."""

from __future__ import annotations

from closp_core.model.demo import describe_model_id
from closp_core.settings import Settings
from closp_core.store import open_store, stored_model_id


def describe_index(settings: Settings) -> str:
    """A few lines for people: where the index is, its model, size and counts."""
    where = settings.store_url or str(settings.index_dir / settings.collection)
    model_id = stored_model_id(settings)
    if model_id is None:
        return f"no index at {where} yet; build one with: python -m ingest demo"
    store = open_store(settings, model_id)
    try:
        info = store.info()
        lines = [
            f"index     {info.location} ({info.backend})",
            f"model     {describe_model_id(info.model_id)}",
            f"chips     {info.points} ({info.indexed_vectors} in the HNSW graph)",
        ]
        if info.disk_bytes is not None:
            lines.append(f"disk      {info.disk_bytes / 1e6:.1f} MB (without previews)")
        if not store.tiled:
            lines.append(
                "note      written by an older version: map filters are exact but slower; "
                "to speed them up, delete the index and ingest again"
            )
        for field in ("sensor", "source", "label"):
            counts = store.counts_by(field)
            shown = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
            lines.append(f"{field:9} {shown or '-'}")
    finally:
        store.close()
    return "\n".join(lines)
