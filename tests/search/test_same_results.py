"""The app, the CLI and the Python API return the same top 10 for the same request.

Each case is written three ways: the app's share link (``streamlit.testing.v1.AppTest`` runs
``app.py``, and the page searches through ``closp_core.search``), the command line
(``python -m closp_core.search ... --json``) and the three-line Python API. The index is the
app tests' small real index (Spain + BigEarthNet samples, demo model).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

import closp_core
from closp_core.feedback import FeedbackLabels, encode_labels, export_labels
from closp_core.search.cli import main
from closp_core.settings import Settings
from tests.app.conftest import APP

QUERY = "flooded fields next to a river"
EAST = ((-0.765, 38.08), (-0.73, 38.08), (-0.73, 38.13), (-0.76, 38.13), (-0.765, 38.08))
SPAIN_WEST = (-0.79, 38.07, -0.75, 38.14)  # 3 of the 4 chip columns of the Spain scene


def app_top(params: dict[str, str]) -> list[tuple[str, float]]:
    """Open the app at the share link with ``params``; its hits (key, score). The app keeps
    the index open for the rest of the process (``st.cache_resource``): call it last."""
    at = AppTest.from_file(str(APP), default_timeout=120)
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    outcome = at.session_state["s_search_memo"][1]
    return [(hit.key, hit.score) for hit in outcome.hits]


def cli_top(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[tuple[str, float]]:
    assert main([*argv, "--json"]) == 0, capsys.readouterr().err
    hits = json.loads(capsys.readouterr().out)["hits"]
    return [(hit["key"], hit["score"]) for hit in hits]


def api_top(text: str, **options: Any) -> list[tuple[str, float]]:
    idx = closp_core.open_index()
    try:
        out = idx.search(text, **options)
        frame = out.to_geodataframe()
    finally:
        idx.close()
    assert list(frame["key"]) == out.keys
    return [(hit.key, hit.score) for hit in out.hits]


def assert_same(*tops: list[tuple[str, float]]) -> None:
    first = tops[0]
    assert len(first) == 10
    for other in tops[1:]:
        assert [k for k, _ in other] == [k for k, _ in first]
        assert [s for _, s in other] == pytest.approx([s for _, s in first], abs=1e-5)


@pytest.mark.usefixtures("app_data")
def test_text_label_sensor_and_map_view(capsys: pytest.CaptureFixture[str]) -> None:
    box = ",".join(str(v) for v in SPAIN_WEST)
    cli = cli_top(
        [QUERY, "--bbox", box, "--cover", "Crops", "--sensor", "s2", "--limit", "10"], capsys
    )
    api = api_top(QUERY, bbox=SPAIN_WEST, labels=["Crops"], sensor="s2", limit=10)
    anywhere = api_top(QUERY, labels=["Crops"], sensor="s2", limit=10)
    assert [k for k, _ in anywhere] != [k for k, _ in api]  # the box changed the answer
    app = app_top({"q": QUERY, "cover": "Crops", "sensor": "s2", "inview": "1", "bbox": box,
                   "n": "10"})  # fmt: skip
    assert_same(app, cli, api)


@pytest.mark.usefixtures("app_data")
def test_text_and_drawn_area(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    area = tmp_path / "area.geojson"
    area.write_text(json.dumps({"type": "Polygon", "coordinates": [[list(p) for p in EAST]]}))
    cli = cli_top(["water", "--intersects", str(area), "--limit", "10"], capsys)
    api = api_top("water", intersects=area, limit=10)
    everywhere = api_top("water", limit=10)
    app = app_top({"q": "water", "area": ";".join(f"{x},{y}" for x, y in EAST), "n": "10"})
    assert_same(app, cli, api)
    assert [k for k, _ in everywhere] != [k for k, _ in app]  # the area changed the answer


@pytest.mark.usefixtures("app_data")
def test_feedback_marks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = api_top(QUERY, limit=10)
    marks = FeedbackLabels.of({plain[6][0]: 1, plain[8][0]: 1, plain[0][0]: -1})
    settings = Settings.load()
    with closp_core.open_index(settings) as idx:
        label_file = tmp_path / "labels.geojson"
        label_file.write_text(export_labels(idx.store, marks, settings.collection))
    cli = cli_top([QUERY, "--labels", str(label_file), "--limit", "10"], capsys)
    api = api_top(QUERY, relevant=marks.positive, not_relevant=marks.negative, limit=10)
    app = app_top({"q": QUERY, "fb": encode_labels(marks), "n": "10"})
    assert_same(app, cli, api)
    assert [k for k, _ in api] != [k for k, _ in plain]  # the marks re-ranked
