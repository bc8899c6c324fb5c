"""Share-link size (not a test): bytes of a whole share URL with N labels, per index size.

    python -m bench.sharelink [--labels 50 300 1000] [--index 1200 100000 1000000]

For each index size, random 16-byte ids stand in for the index (point ids are uuid5 hashes:
random-looking); the labels are chips of it, a third of them "not relevant". Prints the
``fb`` value's length in the short form (``closp_core.feedback.sharelink``, version 2) and in
the first form (whole ids), the whole URL
``http://closp.example.org:8501/?q=flooded+fields+next+to+a+river&fb=...`` in bytes, the
prefix length in bits and the encode / decode times.
"""

from __future__ import annotations

import argparse
import time
import uuid
from urllib.parse import urlencode

import numpy as np

from closp_core.feedback import FeedbackLabels, encode_labels
from closp_core.feedback.sharelink import IndexIds, decode_link, encode_link, prefix_bits
from closp_core.store import point_id


def url_bytes(value: str) -> int:
    """Bytes of the whole share URL of a search with labels ``value`` (the app's keys)."""
    params = {"q": "flooded fields next to a river", "fb": value}
    return len(("http://closp.example.org:8501/?" + urlencode(params)).encode())


def measure(n_labels: int, n_index: int, seed: int = 0) -> dict[str, float]:
    """One row: sizes and timings of ``n_labels`` labels on an index of ``n_index`` chips."""
    keys = [f"scene/bench-{seed}/s2/r{i}_c0" for i in range(n_labels)]
    labelled = np.array([uuid.UUID(point_id(k)).bytes for k in keys], dtype="S16")
    others = np.frombuffer(np.random.default_rng(seed).bytes(16 * (n_index - n_labels)), "S16")
    index = IndexIds(np.sort(np.concatenate([others, labelled])))
    labels = FeedbackLabels.of({k: 1 if i % 3 else -1 for i, k in enumerate(keys)})
    start = time.perf_counter()
    value = encode_link(labels, index)
    encoded = time.perf_counter()
    back = decode_link(value, index)
    decoded = time.perf_counter()
    assert back.ids == {point_id(k): v for k, v in labels}
    return {
        "labels": n_labels,
        "index": n_index,
        "bits": prefix_bits([uuid.UUID(point_id(k)).int for k in keys], index),
        "fb_chars": len(value),
        "url_bytes": url_bytes(value),
        "first_form_url_bytes": url_bytes(encode_labels(labels)),
        "encode_ms": 1000 * (encoded - start),
        "decode_ms": 1000 * (decoded - encoded),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, nargs="+", default=[50, 300, 1000])
    parser.add_argument("--index", type=int, nargs="+", default=[1_200, 100_000, 1_000_000])
    args = parser.parse_args()
    print("labels  index      bits  fb chars  URL bytes  (first form)  encode ms  decode ms")
    for n_index in args.index:
        for n_labels in args.labels:
            row = measure(n_labels, n_index)
            print(
                f"{row['labels']:>6}  {row['index']:>9,}  {row['bits']:>4}  {row['fb_chars']:>8,}"
                f"  {row['url_bytes']:>9,}  {row['first_form_url_bytes']:>12,}"
                f"  {row['encode_ms']:>9.1f}  {row['decode_ms']:>9.1f}"
            )


if __name__ == "__main__":
    main()
