import pytest

from closp_core.errors import LabelError
from closp_core.labels import LABELS, canonical_label, label_text, map_corine, sort_labels


def test_label_space() -> None:
    assert len(LABELS) == 12 and len(set(LABELS)) == 12
    assert {"Flooded Area", "Earthquake Damage", "Burned Area", "Snow and Ice"} <= set(LABELS)


def test_canonical_label_is_case_and_space_insensitive() -> None:
    assert canonical_label("  flooded   AREA ") == "Flooded Area"


def test_unknown_label_lists_known_ones() -> None:
    with pytest.raises(LabelError, match=r"unknown label 'Lava'.*Burned Area.*Snow and Ice"):
        canonical_label("Lava")


def test_map_corine_v1_and_v2_names() -> None:
    mapped, unmapped = map_corine(
        [
            "Discontinuous urban fabric",
            "Non-irrigated arable land",
            "Burnt areas",
            "Sea and ocean",
            "Coniferous forest",
            "Marine waters",
            "Transitional woodland, shrub",
            "Something else",
        ]
    )
    assert mapped == ["Burned Area", "Trees", "Crops", "Shrub and Scrub", "Water", "Built"]
    assert unmapped == ["Something else"]


def test_label_text_is_the_training_text() -> None:
    assert label_text(["water", "Trees", "Trees"]) == "trees. water"
    assert sort_labels(["Bare", "Flooded Area"]) == ["Flooded Area", "Bare"]
