"""Retrieval evaluation: hand-made corpora, query/qrels files, a trained model, the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from closp_core.bands import Sensor
from closp_core.embedder import Embedder
from closp_core.errors import ConfigError
from closp_core.evaluate import (
    Corpus,
    Query,
    corpus_from_store,
    evaluate_chips,
    evaluate_retrieval,
    label_queries,
    read_qrels,
    read_queries_jsonl,
)
from closp_core.evaluate.__main__ import main
from closp_core.evaluate.queries import label_gains
from closp_core.model import create_model, load_model
from closp_core.train import TrainResult
from tests.train.conftest import synthetic_chips

E = np.eye(4, dtype=np.float32)


def _corpus() -> Corpus:
    labels = [("Water",), ("Crops",), ("Water", "Crops"), ()]
    return Corpus(["a", "b", "c", "d"], [Sensor.S1, Sensor.S2, Sensor.S2, Sensor.S1], labels, E)


def test_hand_made_corpus() -> None:
    queries = [Query("water", "water", ("Water",))]
    vector = np.array([[0.1, 0.0, 0.9, 0.0]], dtype=np.float32)  # ranks c, a, b, d
    result = evaluate_retrieval(_corpus(), queries, vector, ks=[1, 2])
    combined = result["scopes"]["combined"]
    assert combined["precision@1"] == 1.0 and combined["recall@2"] == 1.0
    assert result["relevant"]["s1"]["water"] == 1 and result["chips"]["s2"] == 2
    # S2 alone ranks c (water) then b (not): AP@2 = 1, P@5 = 1/5
    assert result["scopes"]["s2"]["map@2"] == 1.0
    assert result["scopes"]["s2"]["precision@5"] == pytest.approx(0.2)


def test_graded_label_gains_and_combinations() -> None:
    corpus = _corpus()
    queries = label_queries(corpus.labels, combinations=True)
    assert queries[-1] == Query("Crops + Water", "crops. water", ("Crops", "Water"))
    gains = label_gains(queries[-1:], corpus.labels)
    assert gains.tolist() == [[1.0, 1.0, 2.0, 0.0]]
    assert next(q for q in queries if q.qid == "Flooded Area").text == "flooded area"


def test_query_and_qrels_files(tmp_path: Path) -> None:
    (tmp_path / "queries.jsonl").write_text('{"_id": "q1", "text": "flooded fields"}\n\n')
    qrels = tmp_path / "qrels"
    qrels.mkdir()
    (qrels / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\ta\t2\n")
    (qrels / "trec.txt").write_text("q1 0 c 1\n")
    assert read_queries_jsonl(tmp_path / "queries.jsonl") == [Query("q1", "flooded fields")]
    judged = read_qrels(qrels)
    assert judged == {"q1": {"a": 2.0, "c": 1.0}}
    vector = np.array([[1.0, 0.0, 0.5, 0.0]], dtype=np.float32)
    result = evaluate_retrieval(_corpus(), [Query("q1", "x")], vector, judged, ks=[2])
    assert result["scopes"]["combined"]["ndcg@2"] == pytest.approx(1.0)
    (tmp_path / "bad.jsonl").write_text('{"text": "no id"}\n')
    with pytest.raises(ConfigError, match="expected a JSON object with an id"):
        read_queries_jsonl(tmp_path / "bad.jsonl")
    (qrels / "broken.txt").write_text("q1 a\n")
    with pytest.raises(ConfigError, match="expected 'qid docid gain'"):
        read_qrels(qrels)


def test_corpus_from_a_store() -> None:
    records = [
        SimpleNamespace(key=k, sensor=s, labels=lab, vector=v)
        for k, s, lab, v in zip("ab", ["s1", "s2"], [("Water",), ()], E[:2], strict=True)
    ]
    store = SimpleNamespace(
        iter_records=lambda: iter(records),
        get=lambda keys, with_vectors: [r for r in records if r.key in keys],
    )
    corpus = corpus_from_store(store)
    assert corpus.keys == ["a", "b"] and corpus.sensors == [Sensor.S1, Sensor.S2]
    np.testing.assert_array_equal(corpus.vectors, E[:2])


def test_trained_model_beats_random(trained_run: TrainResult, tmp_path: Path) -> None:
    held_out = synthetic_chips(per_set=4, size=32, seed=9)
    assert trained_run.delta_dir is not None
    trained = Embedder(load_model(str(trained_run.delta_dir)), "cpu", 16, threads=1)
    random = Embedder(create_model("closp-rn", seed=1), "cpu", 16, threads=1)
    ours = evaluate_chips(trained, held_out, tmp_path / "ours", ks=[10, 100])
    base = evaluate_chips(random, held_out, None, ks=[10, 100])
    assert ours["scopes"]["combined"]["ndcg@10"] > base["scopes"]["combined"]["ndcg@10"] + 0.1
    assert ours["scopes"]["combined"]["queries"] == 4  # labels present in the corpus
    for name in ("metrics.json", "metrics.md", "metrics.png"):
        assert (tmp_path / "ours" / name).is_file()
    table = (tmp_path / "ours" / "metrics.md").read_text()
    assert "| combined (" in table and "| Water (" in table


def test_cli_on_a_training_config(
    trained_run: TrainResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOSP_THREADS", "1")
    monkeypatch.setenv("CLOSP_DEVICE", "cpu")
    config = json.loads((trained_run.output_dir / "train-config.json").read_text())
    toml = tmp_path / "eval.toml"
    source = config["data"]["sources"][0]
    toml.write_text(
        f'[data]\nval_fraction = 0.25\nchip_size = 32\n[[data.sources]]\nkind = "synthetic"\n'
        f'path = "{source["path"]}"\noptions = {{ per_set = 8 }}\n'
    )
    out = tmp_path / "report"
    args = ["--model", str(trained_run.delta_dir), "--config", str(toml), "--out", str(out)]
    assert main(args) == 0
    report = json.loads((out / "metrics.json").read_text())
    assert set(report["scopes"]) == {"combined", "s1", "s2"}
    assert main(["--model", "random:closp-rn", "--source", "synthetic=/no/such"]) == 2
