"""Relevance feedback measured with a simulated user: P@10 against the number of labels.

Protocol (``simulate_case``), for one text query and its target label:

1. Text-only ranking: the store's top ``depth`` chips for the query vector.
2. For each ``k``: the simulated user marks the first ``k`` chips of that ranking that carry
   the target label as relevant and the first ``k`` that do not as not relevant (the chips'
   own labels are the truth), so ``2k`` labels (fewer when the corpus runs out).
3. ``rerank`` with those labels and ``hide_labelled=True``; P@10 = share of the first 10
   results carrying the target label (missing ranks count as misses).
4. Baseline: the text-only ranking with the same labelled chips removed. Both lists exclude
   the labelled chips (the "residual collection" of feedback evaluation), so the gain is not
   the labelled positives floating to the top.

``evaluate_feedback`` runs every case, averages the curves and writes ``feedback.json``,
``feedback.md`` and ``feedback.png`` (P@10 vs number of labels, feedback and text only).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from closp_core.bands import Sensor
from closp_core.data.chip import Chip, chip_record
from closp_core.embedder import Embedder
from closp_core.errors import ConfigError
from closp_core.feedback import FeedbackLabels, RankMethod, rerank
from closp_core.store import ChipRecord, SearchFilters, VectorStore

DEFAULT_KS: tuple[int, ...] = (0, 1, 2, 3, 5, 8, 12)
P_AT = 10
DEPTH = 1000
# (query text, target label): every label of the shipped samples with enough relevant chips,
# under its own name and under a synonym the demo model was not trained on
DEFAULT_CASES: tuple[tuple[str, str], ...] = (
    ("flooded area", "Flooded Area"),
    ("flood", "Flooded Area"),
    ("water", "Flooded Area"),
    ("flooded vegetation", "Flooded Vegetation"),
    ("marsh", "Flooded Vegetation"),
    ("water", "Water"),
    ("lagoon", "Water"),
    ("trees", "Trees"),
    ("forest", "Trees"),
    ("bare", "Bare"),
)
_SHORT = {m.value: s for m, s in zip(RankMethod, ("query", "R", "LR", "LR/sensor"), strict=True)}
JSON_NAME, MARKDOWN_NAME, PLOT_NAME = "feedback.json", "feedback.md", "feedback.png"


@dataclasses.dataclass(frozen=True)
class CurvePoint:
    """One ``k`` of one case: labels given, method used, P@10 with feedback and text only."""

    k: int
    labels: int
    method: str
    p_feedback: float
    p_text: float


def _precision(keys: Sequence[str], relevant: set[str], at: int = P_AT) -> float:
    return sum(k in relevant for k in keys[:at]) / at


def simulate_case(
    store: VectorStore,
    query_vector: np.ndarray,
    label: str,
    ks: Sequence[int] = DEFAULT_KS,
    filters: SearchFilters | None = None,
    depth: int = DEPTH,
) -> list[CurvePoint]:
    """The P@10 curve of one ``(384,)`` query vector for ``label`` (protocol: module doc)."""
    ranking = store.search(query_vector, limit=depth, filters=filters)
    relevant = {h.key for h in ranking if label in h.record.labels}
    keys = [h.key for h in ranking]
    points = []
    for k in ks:
        pos = [key for key in keys if key in relevant][:k]
        neg = [key for key in keys if key not in relevant][:k]
        labels = FeedbackLabels.of({**dict.fromkeys(pos, 1), **dict.fromkeys(neg, -1)})
        result = rerank(
            store, labels, query_vector, filters=filters, limit=P_AT, candidates=depth,
            hide_labelled=True,
        )  # fmt: skip
        baseline = [key for key in keys if key not in labels]
        points.append(
            CurvePoint(
                k=k,
                labels=len(labels),
                method=result.method.value,
                p_feedback=_precision([h.key for h in result.hits], relevant),
                p_text=_precision(baseline, relevant),
            )
        )
    return points


def records_from_chips(embedder: Embedder, chips: Iterable[Chip]) -> list[ChipRecord]:
    """Embed chips into store records (no previews), for a throw-away ``":memory:"`` store."""
    chips = list(chips)
    records = []
    for sensor in Sensor:
        group = [c for c in chips if c.sensor is sensor]
        if not group:
            continue
        vectors = embedder.encode_images(np.stack([c.pixels for c in group]), sensor)
        records += [chip_record(c, v) for c, v in zip(group, vectors, strict=True)]
    if not records:
        raise ConfigError("the evaluation corpus is empty; check the data source")
    return records


def evaluate_feedback(
    store: VectorStore,
    embedder: Embedder,
    cases: Sequence[tuple[str, str]] = DEFAULT_CASES,
    ks: Sequence[int] = DEFAULT_KS,
    out: Path | None = None,
) -> dict[str, Any]:
    """Curves per case and their mean; cases whose label no chip carries are skipped."""
    present = set(store.counts_by("label"))
    kept = [(text, label) for text, label in cases if label in present]
    if not kept:
        raise ConfigError(f"no chip carries any of the target labels of {list(cases)}")
    vectors = embedder.encode_text([text for text, _ in kept])
    curves = {
        f"{text} -> {label}": simulate_case(store, vectors[i], label, ks)
        for i, (text, label) in enumerate(kept)
    }
    mean = [
        {
            "k": k,
            "labels": float(np.mean([c[j].labels for c in curves.values()])),
            "p_feedback": float(np.mean([c[j].p_feedback for c in curves.values()])),
            "p_text": float(np.mean([c[j].p_text for c in curves.values()])),
        }
        for j, k in enumerate(ks)
    ]
    result: dict[str, Any] = {
        "model": embedder.model_id,
        "chips": store.count(),
        "mean": mean,
        "cases": {name: [dataclasses.asdict(p) for p in c] for name, c in curves.items()},
    }
    if out is not None:
        result["files"] = [str(p) for p in write_feedback_report(result, out)]
    return result


def feedback_table(result: dict[str, Any]) -> str:
    """Markdown: the mean curve, then one row per case (P@10 feedback / text only per k)."""
    ks = [row["k"] for row in result["mean"]]
    lines = [
        f"# Relevance feedback: P@{P_AT} vs labels ({result['model']}, {result['chips']} chips)",
        "",
        "Simulated user: first k relevant + first k not relevant chips of the text ranking; "
        "labelled chips hidden from both lists. Cells: P@10 with feedback / text only "
        "(method: R = Rocchio, LR = logistic regression).",
        "",
        "| k | labels (mean) | P@10 feedback | P@10 text only | gain |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in result["mean"]:
        gain = row["p_feedback"] - row["p_text"]
        lines.append(
            f"| {row['k']} | {row['labels']:.1f} | {row['p_feedback']:.3f} | "
            f"{row['p_text']:.3f} | {gain:+.3f} |"
        )
    lines += ["", "| case | " + " | ".join(f"k={k}" for k in ks) + " |"]
    lines.append("|---|" + "---:|" * len(ks))
    for name, curve in result["cases"].items():
        cells = [
            f"{p['p_feedback']:.1f} / {p['p_text']:.1f} ({_SHORT[p['method']]})" for p in curve
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_feedback(result: dict[str, Any], path: Path) -> Path:
    """P@10 (mean over cases) against the mean number of labels: feedback vs text only."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [row["labels"] for row in result["mean"]]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.plot(xs, [row["p_feedback"] for row in result["mean"]], "o-", label="with feedback")
    ax.plot(xs, [row["p_text"] for row in result["mean"]], "s--", label="text only")
    ax.set_xlabel("labels given (relevant + not relevant)")
    ax.set_ylabel(f"P@{P_AT} (labelled chips hidden)")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{len(result['cases'])} queries, {result['chips']} chips", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_feedback_report(result: dict[str, Any], folder: Path) -> list[Path]:
    """``feedback.json``, ``feedback.md`` and ``feedback.png`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / JSON_NAME, folder / MARKDOWN_NAME, folder / PLOT_NAME]
    paths[0].write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    paths[1].write_text(feedback_table(result), encoding="utf-8")
    plot_feedback(result, paths[2])
    return paths
