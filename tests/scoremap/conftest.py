"""Fixtures of the score-map tests: the timeline tests' real Spain flood scene with its
SYNTHETIC pre-flood copy and the BigEarthNet pairs, embedded by the demo model, in a store of
each back end (``tests/timeline/conftest.py``)."""

from __future__ import annotations

from tests.timeline import conftest as timeline_fixtures

demo_embedder = timeline_fixtures.demo_embedder
multidate_records = timeline_fixtures.multidate_records
multidate_store = timeline_fixtures.multidate_store

from tests.app import conftest as app_fixtures  # noqa: E402

index_template = app_fixtures.index_template
multidate_template = app_fixtures.multidate_template
multidate_data = app_fixtures.multidate_data
