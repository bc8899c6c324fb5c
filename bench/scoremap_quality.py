"""Score-map quality on the shipped Sen1Floods11 Spain chip with its hand label (not a test).

    python -m bench.scoremap_quality [--query "flooded area"] [--out models/demo/eval]

Indexes the real Spain S1 + S2 scenes (September 2019) and their SYNTHETIC pre-flood copies
(``tests/data/multidate``: the flood painted out with dry-field pixels, dated a month earlier)
in an in-memory Qdrant with the model of the settings (offline: the demo model), scores the
scene, and reports per chip its flooded-pixel share (``Spain_7370579_LabelHand.tif``, water = 1
over the chip's footprint; −1 no-data pixels left out) against its score:

- ROC AUC of the score for "chip ≥ 20 % flooded", per sensor, for the score map (September
  chips) and the change map (after − before);
- precision / recall of "score ≥ t" at the threshold the page suggests.

Writes ``scoremap.png`` (score map beside the label) and ``scoremap.md`` under ``--out``. One
512 x 512 scene: 16 chips a sensor and date. Small data: the figures say little.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import from_bounds

from closp_core.data.chip import Tally
from closp_core.data.chipping import SceneOptions
from closp_core.data.samples import SAMPLES_DIR, sample_sources
from closp_core.data.scene.source import SceneSource
from closp_core.embedder import Embedder
from closp_core.evaluate.feedback import records_from_chips
from closp_core.scoremap import Combine, ScoreMap, ScoreMapRequest, score_map
from closp_core.search import SearchRequest
from closp_core.settings import Settings
from closp_core.store import BBox
from closp_core.store.remote import RemoteStore
from tests.data.multidate.make_data import PREFLOOD_DATES, make_preflood

LABEL = SAMPLES_DIR / "sen1floods11-spain" / "Spain_7370579_LabelHand.tif"
SPAIN = BBox(-0.79, 38.08, -0.73, 38.13)
EVENT = dt.date(2019, 9, 1)
FLOODED = 0.20


def flooded_share(smap: ScoreMap) -> np.ndarray:
    """``(N,)`` share of water pixels (of the labelled ones) under each chip's footprint."""
    out = np.full(len(smap.table), np.nan)
    with rasterio.open(LABEL) as src:
        for i, quad in enumerate(smap.table.quads):
            lon, lat = quad[:, 0], quad[:, 1]
            window = from_bounds(lon.min(), lat.min(), lon.max(), lat.max(), src.transform)
            label = src.read(1, window=window.round_offsets().round_lengths(), boundless=True,
                             fill_value=-1)  # fmt: skip
            known = label >= 0
            if known.any():
                out[i] = float((label[known] == 1).mean())
    return out


def figures(smap: ScoreMap, share: np.ndarray, name: str) -> list[str]:
    from sklearn.metrics import roc_auc_score

    lines = []
    t = smap.suggested
    for code, sensor in enumerate(("S1", "S2")):
        rows = (smap.table.sensors == code) & np.isfinite(smap.scores) & np.isfinite(share)
        y, s = share[rows] >= FLOODED, smap.scores[rows]
        auc = roc_auc_score(y, s) if 0 < y.sum() < len(y) else float("nan")
        hit = s >= t
        precision = (hit & y).sum() / max(hit.sum(), 1)
        recall = (hit & y).sum() / max(y.sum(), 1)
        lines.append(
            f"| {name} | {sensor} | {rows.sum()} | {y.sum()} | {auc:.3f} | {t:.3f} | "
            f"{precision:.2f} | {recall:.2f} |"
        )
    return lines


def picture(smap: ScoreMap, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with rasterio.open(LABEL) as src:
        label, lb = src.read(1).astype(float), src.bounds
    label[label < 0] = np.nan
    west, south, east, north = smap.grid.bounds
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    im = axes[0].imshow(smap.grid.values, extent=(west, east, south, north), cmap="viridis")
    axes[0].set_title(f"score map: {smap.title} ({smap.kind.value}, S1|S2 max)")
    fig.colorbar(im, ax=axes[0], shrink=0.8)
    axes[1].imshow(label, extent=(lb.left, lb.right, lb.bottom, lb.top), cmap="Blues")
    axes[1].set_title("Sen1Floods11 hand label (water = dark)")
    for ax in axes:
        ax.set_xlim(west, east)
        ax.set_ylim(south, north)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--query", default="flooded area")
    parser.add_argument("--out", type=Path, default=Path("models/demo/eval"))
    args = parser.parse_args()
    embedder = Embedder.from_settings(Settings.load())
    sources = sample_sources()[1:3]  # the real Spain S1 and S2 scenes
    for sensor, path in make_preflood(Path(tempfile.mkdtemp())).items():
        options = SceneOptions(sensor=sensor, acquired=PREFLOOD_DATES[sensor], labels=("Crops",))
        sources.append(SceneSource(path, options, scene_id=f"synthetic-preflood-{sensor.value}"))
    tally = Tally()
    chips = [c for s in sources for u in s.units() for c in s.read(u, tally)]
    store = RemoteStore(embedder.model_id, url=":memory:")
    store.upsert(records_from_chips(embedder, chips))
    september = SearchRequest(text=args.query, bbox=SPAIN, date_from=EVENT)
    plain = score_map(store, ScoreMapRequest(september, Combine.EITHER), embedder)
    change_request = SearchRequest(text=args.query, bbox=SPAIN)
    change = score_map(store, ScoreMapRequest(change_request, change_after=EVENT), embedder)
    head = [
        f"Model {embedder.model_id}, query “{args.query}”, Spain_7370579 (Sen1Floods11), "
        f"flooded = ≥ {FLOODED:.0%} of a chip's labelled pixels are water.",
        "",
        "| map | sensor | chips | flooded | ROC AUC | t (suggested) | precision | recall |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines = [
        *head,
        *figures(plain, flooded_share(plain), "score"),
        *figures(change, flooded_share(change), "change"),
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    picture(plain, args.out / "scoremap.png")
    (args.out / "scoremap.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"-> {args.out / 'scoremap.md'}, {args.out / 'scoremap.png'}")


if __name__ == "__main__":
    main()
