"""Property tests (hypothesis) of the STAC parsers that read remote JSON: any document shape
gives a ``pystac.Item`` / a page, or our ``DataError``; never another exception (issue 17)."""

from __future__ import annotations

import functools
from typing import Any

import pystac
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from closp_core.data.chipping import SceneOptions
from closp_core.data.stac.api import parse_page
from closp_core.data.stac.bands import item_bands
from closp_core.data.stac.fetch import HostPolicy, HostRefusedError
from closp_core.data.stac.hrefs import HrefPolicy
from closp_core.data.stac.io import NotStacError, checked_page, next_link
from closp_core.data.stac.item import make_item
from closp_core.data.stac.static import StacRead, group_scenes, scene_options
from closp_core.errors import DataError

URL = "http://127.0.0.1:9"
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
dates = st.one_of(
    scalars,
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.sampled_from(["2023-01-12T15:55:09Z", "99999-01-01T00:00:00Z", "2023-13-45", "", "Z"]),
)


def _asset() -> st.SearchStrategy[Any]:
    return st.one_of(
        json_values,
        st.fixed_dictionaries({"href": st.one_of(st.text(max_size=20), scalars)},
                              optional={"eo:bands": json_values, "roles": json_values}),
    )  # fmt: skip


items = st.fixed_dictionaries(
    {"type": st.sampled_from(["Feature", "Feature", "Collection", 5])},
    optional={
        "id": st.one_of(st.text(max_size=10), scalars),
        "properties": st.one_of(
            json_values,
            st.fixed_dictionaries({"datetime": dates},
                                  optional={"start_datetime": dates, "end_datetime": dates,
                                            "platform": json_values}),
        ),
        "assets": st.one_of(
            json_values, st.dictionaries(st.text(max_size=4), _asset(), max_size=3)
        ),
        "geometry": json_values,
        "bbox": st.one_of(json_values, st.lists(st.floats(), min_size=4, max_size=4)),
        "links": st.one_of(json_values, st.lists(st.fixed_dictionaries(
            {"rel": json_values, "href": json_values}), max_size=2)),
        "collection": json_values,
        "stac_version": json_values,
        "stac_extensions": json_values,
    },
)  # fmt: skip

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(doc=st.one_of(items, json_values))
def test_make_item_gives_an_item_or_our_error(doc: Any) -> None:
    try:
        made = make_item(doc, URL + "/search")
    except DataError:
        return
    assert isinstance(made, pystac.Item) and isinstance(made.id, str) and made.id
    read = StacRead(HrefPolicy(None), hosts=HostPolicy(("127.0.0.1", "x")))
    try:  # what the reader then asks of the item: our errors or answers only
        item_bands(made, functools.partial(read.resolve, base=URL + "/search"))
        scene_options(made, SceneOptions(), read)
        group_scenes([(made, URL)])
    except DataError:
        pass


@SETTINGS
@given(doc=st.one_of(json_values, st.fixed_dictionaries(
    {"features": st.one_of(json_values, st.lists(st.one_of(items, json_values), max_size=3))},
    optional={"links": st.one_of(json_values, st.lists(json_values, max_size=3))})))  # fmt: skip
def test_page_parsers_give_a_page_or_our_error(doc: Any) -> None:
    try:
        checked = checked_page(doc, URL)
        next_link(checked, URL)
        result = parse_page(checked, 1, URL)
    except NotStacError:
        return
    features = checked.get("features") or []
    assert len(result.items) + len(result.failures) == len(features)


def test_a_valid_item_passes() -> None:
    doc = {"type": "Feature", "stac_version": "1.0.0", "id": "a", "geometry": None,
           "properties": {"datetime": "2023-01-12T15:55:09Z"}, "links": [],
           "assets": {"B02": {"href": "http://x/B02.tif"}}}  # fmt: skip
    assert make_item(doc, URL).id == "a"
    with pytest.raises(DataError, match=r"datetime is null without start_datetime"):
        make_item({**doc, "properties": {"datetime": None}}, URL)


@SETTINGS
@given(
    url=st.one_of(st.text(max_size=40), st.builds("http://{}/a.tif".format, st.text(max_size=20)))
)
def test_host_policy_gives_an_answer_or_our_refusal(url: str) -> None:
    """Any URL text: allowed (listed) or ``HostRefusedError``; no name is looked up here."""
    try:
        HostPolicy(("127.0.0.1", "*.example.org")).check(url)
    except HostRefusedError:
        return
    assert url.lower().startswith(("http://", "https://"))
