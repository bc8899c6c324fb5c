"""Fixtures of the search tests: the web-app tests' small real index (the shipped Spain and
BigEarthNet samples embedded with the demo model), built once, copied per test, with
``CLOSP_DATA_DIR`` pointing at the copy."""

from __future__ import annotations

from tests.app import conftest as app_fixtures

index_template = app_fixtures.index_template
app_data = app_fixtures.app_data
