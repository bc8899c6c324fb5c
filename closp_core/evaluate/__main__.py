"""``python -m closp_core.evaluate --model M (--config TRAIN.toml | --source KIND=PATH | --index)``.

Writes ``metrics.json``, ``metrics.md`` and ``metrics.png`` into ``--out`` and prints a summary.
With ``--feedback``: the relevance-feedback simulation instead (``evaluate/feedback.py``),
writing ``feedback.json``, ``feedback.md`` (P@10 vs number of labels) and ``feedback.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from closp_core.data.chip import Chip, Tally
from closp_core.embedder import Embedder
from closp_core.errors import ClospError, ConfigError
from closp_core.evaluate import feedback
from closp_core.evaluate.retrieval import corpus_from_store
from closp_core.evaluate.run import (
    evaluate_chips,
    evaluate_corpus,
    find_judgements,
    summary_lines,
)
from closp_core.model import load_model
from closp_core.rundata import load_data_section, role_chips
from closp_core.settings import Settings
from closp_core.sources import build_source, iter_chips


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m closp_core.evaluate",
        description="Text->image retrieval metrics (nDCG, mAP, Recall at k; P@5).",
    )
    parser.add_argument("--model", help="model name, folder or delta folder (default: settings)")
    corpus = parser.add_mutually_exclusive_group(required=True)
    corpus.add_argument("--config", help="training config: evaluate its held-out chips")
    corpus.add_argument(
        "--source", action="append", metavar="KIND=PATH", help="a reader and its path (repeat)"
    )
    corpus.add_argument("--index", action="store_true", help="the index of the settings")
    parser.add_argument("--role", default="val", choices=["test", "val", "train", "all"],
                        help="with --config: which split (default: the held-out part)")  # fmt: skip
    parser.add_argument("--queries", type=Path, help="queries.jsonl (with --qrels)")
    parser.add_argument("--qrels", type=Path, help="qrels file or folder (with --queries)")
    parser.add_argument("--combinations", action="store_true", help="add multi-label queries")
    parser.add_argument("--ks", default="10,100,1000", help="cut-offs, comma-separated")
    parser.add_argument("--out", type=Path, default=Path("eval"), help="report folder")
    parser.add_argument("--device", help="override the device (auto, cpu, cuda, mps)")
    parser.add_argument("--batch-size", type=int, help="override the embedding batch size")
    parser.add_argument("--feedback", action="store_true",
                        help="simulate relevance feedback: P@10 vs number of labels")  # fmt: skip
    parser.add_argument("--feedback-case", action="append", metavar="TEXT=LABEL",
                        help="with --feedback: a query and its target label (repeat; default: "
                        "the built-in cases)")  # fmt: skip
    parser.add_argument("--feedback-ks", default=",".join(map(str, feedback.DEFAULT_KS)),
                        help="with --feedback: labels of each kind per step (0,3,5)")  # fmt: skip
    return parser.parse_args(argv)


def _source_chips(specs: Sequence[str]) -> tuple[Iterator[Chip], list[Path]]:
    pairs = []
    for spec in specs:
        kind, sep, path = spec.partition("=")
        if not sep or not Path(path).exists():
            raise ConfigError(f"--source {spec!r}: expected KIND=PATH with an existing path")
        pairs.append((build_source(kind, Path(path), {}), Path(path)))

    return iter_chips([source for source, _ in pairs], Tally()), [p for _, p in pairs]


def _feedback_cases(specs: Sequence[str] | None) -> tuple[tuple[str, str], ...]:
    if not specs:
        return feedback.DEFAULT_CASES
    cases = []
    for spec in specs:
        text, sep, label = spec.rpartition("=")
        if not sep or not text.strip() or not label.strip():
            raise ConfigError(f"--feedback-case {spec!r}: expected TEXT=LABEL")
        cases.append((text.strip(), label.strip()))
    return tuple(cases)


def run_feedback(args: argparse.Namespace, settings: Settings, embedder: Embedder) -> dict:
    """The feedback simulation on the index (``--index``) or on chips put in a memory store."""
    from closp_core.store import open_store
    from closp_core.store.remote import RemoteStore

    cases = _feedback_cases(args.feedback_case)
    ks = [int(k) for k in args.feedback_ks.split(",") if k.strip()]
    if args.index:
        with open_store(settings, embedder.model_id) as store:
            return feedback.evaluate_feedback(store, embedder, cases, ks, args.out)
    if args.config:
        chips: Iterator[Chip] = role_chips(load_data_section(args.config), args.role)
    else:
        chips = _source_chips(args.source)[0]
    with RemoteStore(embedder.model_id, url=":memory:") as store:
        store.upsert(feedback.records_from_chips(embedder, chips))
        return feedback.evaluate_feedback(store, embedder, cases, ks, args.out)


def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings.load()
    overrides = {k: v for k, v in (("device", args.device), ("batch_size", args.batch_size)) if v}
    settings = dataclasses.replace(settings, **overrides)
    ks = [int(k) for k in args.ks.split(",") if k.strip()]
    if (args.queries is None) != (args.qrels is None):
        raise ConfigError("--queries and --qrels go together")
    judgements = (args.queries, args.qrels) if args.queries else None
    model = load_model(args.model or settings.model)
    embedder = Embedder(model, settings.device, settings.batch_size, settings.threads)
    if args.feedback:
        return run_feedback(args, settings, embedder)
    if args.index:
        from closp_core.store import open_store

        with open_store(settings, model.model_id) as store:
            corpus = corpus_from_store(store)
        return evaluate_corpus(embedder, corpus, args.out, judgements, ks, args.combinations)
    if args.config:
        data = load_data_section(args.config)
        chips = role_chips(data, args.role)
        paths = [Path(s.path) for s in data.sources]
    else:
        chips, paths = _source_chips(args.source)
    judgements = judgements or find_judgements(paths)
    return evaluate_chips(embedder, chips, args.out, judgements, ks, args.combinations)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = run(args)
    except ClospError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.feedback:
        print(feedback.feedback_table(result), end="")
    else:
        print("\n".join(summary_lines(result)))
    files = result.get("files", [])
    print("reports:", ", ".join(str(p) for p in files) if isinstance(files, list) else "none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
