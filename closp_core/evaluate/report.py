"""Evaluation reports: ``metrics.json``, ``metrics.md`` (Markdown tables) and ``metrics.png``."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from closp_core.metrics import metric_columns

JSON_NAME = "metrics.json"
MARKDOWN_NAME = "metrics.md"
PLOT_NAME = "metrics.png"


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * float(value):.2f}"


def markdown_report(result: Mapping[str, Any], ks: Sequence[int]) -> str:
    """Tables in percent: one row per scope, then per query (label) for each scope."""
    cols = metric_columns(ks)
    head = "| {} | " + " | ".join(cols) + " |\n|---|" + "---:|" * len(cols) + "\n"
    lines = [f"# Text→image retrieval: {result.get('model', '?')}\n"]
    lines.append(f"Metrics in percent; {result.get('query_kind', '')} queries.\n")
    lines.append(head.format("scope").rstrip("\n"))
    for scope, means in result["scopes"].items():
        chips = result["chips"][scope]
        values = " | ".join(_fmt(means.get(c)) for c in cols)
        lines.append(f"| {scope} ({chips} chips, {int(means['queries'])} queries) | {values} |")
    for scope, per_query in result["per_query"].items():
        lines.append(f"\n## Per query, {scope}\n")
        lines.append(head.format("query (relevant chips)").rstrip("\n"))
        for qid, values in per_query.items():
            n = result["relevant"][scope][qid]
            cells = " | ".join(_fmt(values.get(c)) for c in cols)
            lines.append(f"| {qid} ({n}) | {cells} |")
    return "\n".join(lines) + "\n"


def plot_report(result: Mapping[str, Any], metric: str, path: Path) -> Path:
    """Grouped bars of ``metric`` per query, one bar per scope (queries with no relevant chip
    in a scope have no bar)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scopes = list(result["per_query"])
    qids = list(next(iter(result["per_query"].values())))
    width = 0.8 / max(1, len(scopes))
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(qids) + 2), 4), dpi=100)
    for i, scope in enumerate(scopes):
        values = [result["per_query"][scope][q].get(metric) for q in qids]
        xs = [j + i * width for j, v in enumerate(values) if v is not None]
        ys = [100 * v for v in values if v is not None]
        mean = result["scopes"][scope].get(metric)
        ax.bar(xs, ys, width, label=f"{scope} (mean {_fmt(mean)})")
    ax.set_xticks([j + width * (len(scopes) - 1) / 2 for j in range(len(qids))])
    ax.set_xticklabels(qids, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(f"{metric} (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_report(result: Mapping[str, Any], ks: Sequence[int], folder: Path) -> list[Path]:
    """Write JSON, Markdown and the bar chart of nDCG at the largest ``k``; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / JSON_NAME, folder / MARKDOWN_NAME, folder / PLOT_NAME]
    paths[0].write_text(json.dumps(_clean(result), indent=1) + "\n", encoding="utf-8")
    paths[1].write_text(markdown_report(result, ks), encoding="utf-8")
    plot_report(result, f"ndcg@{max(ks)}", paths[2])
    return paths


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
