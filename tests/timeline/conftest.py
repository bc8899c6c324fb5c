"""Fixtures of the timeline tests: the real Spain flood scene with its SYNTHETIC pre-flood copy
(``tests/data/multidate``) and the real BigEarthNet pairs, embedded by the demo model, in a
store of each back end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from closp_core.bands import Sensor
from closp_core.data.chip import Chip, Tally
from closp_core.data.chipping import SceneOptions
from closp_core.data.samples import sample_sources
from closp_core.data.scene.source import SceneSource
from closp_core.embedder import Embedder
from closp_core.evaluate.feedback import records_from_chips
from closp_core.store import ChipRecord, VectorStore
from tests.data.multidate.make_data import PREFLOOD_DATES, make_preflood
from tests.feedback import conftest as feedback_fixtures
from tests.store import conftest as store_fixtures

BACKENDS = store_fixtures.BACKENDS
demo_embedder = feedback_fixtures.demo_embedder
store = store_fixtures.store


def preflood_id(sensor: Sensor) -> str:
    return f"synthetic-preflood-Spain_7370579-{sensor.value}"


@pytest.fixture(scope="session")
def multidate_records(
    demo_embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> list[ChipRecord]:
    """Real Spain S1 + S2 (flooded, September 2019), their synthetic pre-flood copies (August
    2019, labelled Crops only) and the real BigEarthNet pairs (2017-2018)."""
    folder = tmp_path_factory.mktemp("multidate")
    sources = sample_sources()[1:]  # Spain S1, Spain S2, BigEarthNet
    for sensor, path in make_preflood(folder).items():
        options = SceneOptions(sensor=sensor, acquired=PREFLOOD_DATES[sensor], labels=("Crops",))
        sources.append(SceneSource(path, options, scene_id=preflood_id(sensor)))
    tally = Tally()
    chips: list[Chip] = [c for s in sources for u in s.units() for c in s.read(u, tally)]
    return records_from_chips(demo_embedder, chips)


@pytest.fixture(params=BACKENDS, scope="module")
def multidate_store(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    multidate_records: list[ChipRecord],
    demo_embedder: Embedder,
) -> Iterator[VectorStore]:
    folder = tmp_path_factory.mktemp(f"multidate-{request.param}")
    st = store_fixtures.open_backend(request.param, folder, demo_embedder.model_id)
    st.upsert(multidate_records)
    yield st
    st.close()
