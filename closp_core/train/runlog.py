"""What a training run writes for people: ``log.csv``, ``log.json`` and ``loss.png``."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

COLUMNS = (
    "step",
    "epoch",
    "lr",
    "train_loss",
    "train_loss_s1",
    "train_loss_s2",
    "val_loss",
    "val_loss_s1",
    "val_loss_s2",
    "elapsed_s",
)


def write_csv(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    """One row per logged optimizer step or validation; empty cells where a value is absent."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k)) for k in COLUMNS})


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else value


def write_json(rows: Sequence[Mapping[str, Any]], summary: Mapping[str, Any], path: Path) -> None:
    """``{"summary": ..., "rows": [...]}``, NaN written as null."""
    clean = [{k: _json_value(v) for k, v in row.items()} for row in rows]
    data = {"summary": {k: _json_value(v) for k, v in summary.items()}, "rows": clean}
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def plot_losses(rows: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """Training loss per step (and per sensor) with validation loss as markers; a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for key, style in (("train_loss", "-"), ("train_loss_s1", ":"), ("train_loss_s2", "--")):
        points = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, style, label=key.replace("_", " "), linewidth=1)
    val = [(r["step"], r["val_loss"]) for r in rows if r.get("val_loss") is not None]
    if val:
        xs, ys = zip(*val, strict=True)
        ax.plot(xs, ys, "o-", label="val loss", color="black")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("contrastive loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
