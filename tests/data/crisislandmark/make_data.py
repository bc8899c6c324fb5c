"""Write a tiny CrisisLandMark in the published layout (seeded; run to regenerate).

``python -m tests.data.crisislandmark.make_data`` writes into ``root/``:

- ``shard_s2.h5`` (Blosc/Zstd via hdf5plugin, like the published files): ``benv2s2_000``,
  ``cabuar_000`` — ``image (12, 120, 120) float32`` digital numbers, ``coords (2, 120, 120)``
  UTM pixel centres, attrs ``crs`` (EPSG int), ``timestamp``, ``labels``.
- ``shard_s1.h5`` (gzip): ``benv2s1_000`` (channels stored VH, VV as the reference loader
  assumes), ``quakeset_000`` (4 channels: pre VV, VH, post VV, VH), ``mmflood_000`` (EPSG:4326
  coords, one NaN quarter).
- ``crisislandmark.h5``: one external link per key into the shards.
- ``metadata.parquet`` (key, labels, split), ``queries.jsonl``, ``qrels/test.tsv``.

``write_corpus(root, n)`` writes a corpus of ``n`` chips in the published layout, quickly (a few
thousand chips/s): the published shard names (``benv2s1_part1..4.h5``, ..., ``sen12flood.h5``
holding both ``sen1flood`` and ``sen2flood``), one external link per key in
``crisislandmark.h5``, Blosc/Zstd chunks of one chip, a ``metadata.parquet`` with an 80/20
``corpus``/``training`` split. Benchmarks (``bench/crisislandmark.py``) and the hub tests use it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import h5py
import hdf5plugin
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
ROOT = HERE / "root"
METADATA = [
    ("benv2s2_000", ["Coniferous forest", "Water bodies"], "train"),
    ("cabuar_000", ["Burned Area"], "corpus"),
    ("benv2s1_000", ["Pastures"], "corpus"),
    ("quakeset_000", ["Earthquake Damage", "built"], "corpus"),
    ("mmflood_000", ["Flooded Area", "Moon dust"], "corpus"),
]


def utm_coords(x0: float, y0: float) -> np.ndarray:
    """``(2, 120, 120) float64`` pixel-centre x, y of a 10 m north-up grid at (x0, y0)."""
    cols, rows = np.meshgrid(np.arange(120), np.arange(120))
    return np.stack([x0 + 10 * cols + 5, y0 - 10 * rows - 5]).astype(np.float64)


def s2_image(seed: int) -> np.ndarray:
    """``(12, 120, 120) float32`` digital numbers, band i = 1000 + 100 i (+ seed)."""
    base = 1000 + 100 * np.arange(12, dtype=np.float32) + seed
    return np.broadcast_to(base[:, None, None], (12, 120, 120)).astype(np.float32)


def write_sample(
    shard: h5py.File,
    key: str,
    image: np.ndarray,
    coords: np.ndarray,
    crs: object,
    labels: list[str],
    timestamp: object,
    **compression: object,
) -> None:
    group = shard.create_group(key)
    group.create_dataset("image", data=image, chunks=image.shape, **compression)
    group.create_dataset("coords", data=coords, chunks=coords.shape, **compression)
    group.attrs["crs"] = crs
    group.attrs["labels"] = labels
    if timestamp is not None:
        group.attrs["timestamp"] = timestamp


def write_root(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    blosc = dict(hdf5plugin.Blosc(cname="zstd", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE))
    labels = {key: names for key, names, _ in METADATA}
    with h5py.File(root / "shard_s2.h5", "w") as shard:
        write_sample(
            shard,
            "benv2s2_000",
            s2_image(0),
            utm_coords(682800, 6971220),
            32635,
            labels["benv2s2_000"],
            "2017-09-24T09:30:20",
            **blosc,
        )
        write_sample(
            shard,
            "cabuar_000",
            s2_image(7),
            utm_coords(500000, 4200000),
            "EPSG:32610",
            labels["cabuar_000"],
            None,
            **blosc,
        )
    vh_vv = np.stack([np.full((120, 120), -18.0), np.full((120, 120), -11.0)]).astype(np.float32)
    quake = np.stack([np.full((120, 120), v) for v in (-9.0, -16.0, -7.0, -14.0)])
    flood = np.stack([np.full((120, 120), -20.0), np.full((120, 120), -25.0)]).astype(np.float32)
    flood[:, :30, :30] = np.nan  # 6.25 % no-data
    lon, lat = np.meshgrid(
        12.0 + 9e-5 * (np.arange(120) + 0.5), 45.0 - 9e-5 * (np.arange(120) + 0.5)
    )
    gzip = {"compression": "gzip", "shuffle": True}
    with h5py.File(root / "shard_s1.h5", "w") as shard:
        write_sample(
            shard,
            "benv2s1_000",
            vh_vv,
            utm_coords(682800, 6971220),
            32635,
            labels["benv2s1_000"],
            1506313976,
            **gzip,
        )
        write_sample(
            shard,
            "quakeset_000",
            quake.astype(np.float32),
            utm_coords(300000, 4000000),
            32638,
            labels["quakeset_000"],
            "2023-02-07",
            **gzip,
        )
        write_sample(
            shard,
            "mmflood_000",
            flood,
            np.stack([lon, lat]),
            4326,
            labels["mmflood_000"],
            None,
            **gzip,
        )
    with h5py.File(root / "crisislandmark.h5", "w") as index:
        for key, _, _ in METADATA:
            shard_name = "shard_s2.h5" if key in ("benv2s2_000", "cabuar_000") else "shard_s1.h5"
            index[key] = h5py.ExternalLink(shard_name, f"/{key}")
    table = pa.table(
        {
            "key": [k for k, _, _ in METADATA],
            "labels": [names for _, names, _ in METADATA],
            "split": [s for _, _, s in METADATA],
        }
    )
    pq.write_table(table, root / "metadata.parquet")
    queries = [{"query_id": "q1", "text": "burned forest"}, {"query_id": "q2", "text": "flood"}]
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (root / "qrels").mkdir(exist_ok=True)
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tcabuar_000\t1\n")
    return root


# Share of each source in a generated corpus (roughly that of the published one: about half
# S1, BigEarthNet the bulk) and the shard files that hold it.
CORPUS_MIX: dict[str, float] = {
    "benv2s1": 0.44,
    "benv2s2": 0.40,
    "cabuar": 0.03,
    "sen1flood": 0.03,
    "sen2flood": 0.03,
    "mmflood": 0.04,
    "quakeset": 0.03,
}
CORPUS_SHARDS: dict[str, tuple[str, ...]] = {
    "benv2s1": tuple(f"benv2s1_part{i}.h5" for i in range(1, 5)),
    "benv2s2": tuple(f"benv2s2_part{i}.h5" for i in range(1, 5)),
    "cabuar": ("cabuar.h5",),
    "sen1flood": ("sen12flood.h5",),
    "sen2flood": ("sen12flood.h5",),
    "mmflood": ("mmflood.h5",),
    "quakeset": ("quakeset.h5",),
}
_BANDS = {"benv2s1": 2, "sen1flood": 2, "mmflood": 2, "quakeset": 4}  # others: 12 (S2)
CORPUS_LABELS = ("Trees", "Crops", "Water", "Built", "Grass", "Flooded Area", "Burned Area")


def corpus_keys(n: int, mix: dict[str, float] | None = None) -> list[str]:
    """``n`` sample keys ``<source>_<number>``, split between sources by ``mix``."""
    mix = mix or CORPUS_MIX
    total = sum(mix.values())
    counts = {src: int(n * share / total) for src, share in mix.items()}
    first = next(iter(counts))
    counts[first] += n - sum(counts.values())
    return [f"{src}_{i:07d}" for src, count in counts.items() for i in range(count)]


def _textures(rng: np.random.Generator, bands: int, count: int = 16) -> list[np.ndarray]:
    """Smooth fields plus noise, ``(bands, 120, 120) float32``: S2 integer digital numbers,
    S1 dB (full float noise, which compresses like real backscatter: hardly)."""
    out = []
    for _ in range(count):
        coarse = rng.normal(size=(bands, 8, 8))
        field = np.kron(coarse, np.ones((15, 15)))
        if bands == 12:
            dn = 1500 + 600 * field + rng.normal(0, 40, (bands, 120, 120))
            out.append(np.round(np.clip(dn, 1, 12000)).astype(np.float32))
        else:
            out.append((-14 + 3 * field + rng.normal(0, 1.5, (bands, 120, 120))).astype(np.float32))
    return out


def write_corpus(
    root: Path, n: int, *, seed: int = 0, mix: dict[str, float] | None = None
) -> list[str]:
    """Write ``n`` chips in the published layout into ``root``; returns the sample keys."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    keys = corpus_keys(n, mix)
    pools = {bands: _textures(rng, bands) for bands in (2, 4, 12)}
    grid = utm_coords(0.0, 0.0)
    blosc = dict(hdf5plugin.Blosc(cname="zstd", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE))
    by_shard: dict[str, list[str]] = {}
    for src in dict.fromkeys(k.rsplit("_", 1)[0] for k in keys):
        members = [k for k in keys if k.startswith(src + "_")]
        shards = CORPUS_SHARDS[src]
        size = -(-len(members) // len(shards))
        for i, shard in enumerate(shards):
            by_shard.setdefault(shard, []).extend(members[i * size : (i + 1) * size])
    labels = {k: [CORPUS_LABELS[int(i)] for i in rng.choice(7, 2, replace=False)] for k in keys}
    for shard, members in by_shard.items():
        with h5py.File(root / shard, "w") as handle:
            for number, key in enumerate(members):
                src = key.rsplit("_", 1)[0]
                image = pools[_BANDS.get(src, 12)][number % 16]
                x0, y0 = 300000 + 1200.0 * (number % 300), 5000000 - 1200.0 * (number // 300)
                coords = grid + np.array([x0, y0])[:, None, None]
                stamp = "2020-06-01T10:00:00" if number % 2 else 1590000000 + number
                write_sample(handle, key, image, coords, 32632, labels[key], stamp, **blosc)
    with h5py.File(root / "crisislandmark.h5", "w") as index:
        for shard, members in by_shard.items():
            for key in members:
                index[key] = h5py.ExternalLink(shard, f"/{key}")
    split = ["training" if i % 5 == 0 else "corpus" for i in range(len(keys))]
    table = pa.table({"key": keys, "labels": [labels[k] for k in keys], "split": split})
    pq.write_table(table, root / "metadata.parquet")
    (root / "queries.jsonl").write_text(json.dumps({"query_id": "q1", "text": "flood"}) + "\n")
    (root / "qrels").mkdir(exist_ok=True)
    (root / "qrels" / "test.tsv").write_text(f"query-id\tcorpus-id\tscore\nq1\t{keys[0]}\t1\n")
    return keys


def publish_to_hub_cache(
    folder: Path,
    cache: Path,
    repo_id: str,
    commit: str,
    *,
    ref: str = "main",
    files: list[str] | None = None,
) -> Path:
    """Lay ``files`` of ``folder`` (default: all) out as ``huggingface_hub`` keeps a downloaded
    dataset: ``blobs/<sha256>``, ``snapshots/<commit>/<file>`` symlinks into ``blobs/``, and
    ``refs/<ref>`` holding ``commit``. Returns the snapshot folder."""
    repo = cache / ("datasets--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    names = files or sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    for name in names:
        data = (folder / name).read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / ref).write_text(commit)
    return snapshot


if __name__ == "__main__":
    write_root(ROOT)
