"""The label space: 9 Dynamic World land-cover classes plus 3 crisis labels, and mappings.

Every chip carries labels from ``LABELS`` (plus its source's original labels, kept apart).
CORINE land cover (BigEarthNet) maps onto it with ``map_corine``.
"""

from __future__ import annotations

from collections.abc import Iterable

from closp_core.errors import LabelError

LAND_COVER_LABELS: tuple[str, ...] = (
    "Trees",
    "Crops",
    "Shrub and Scrub",
    "Water",
    "Grass",
    "Built",
    "Flooded Vegetation",
    "Bare",
    "Snow and Ice",
)
EVENT_LABELS: tuple[str, ...] = ("Flooded Area", "Earthquake Damage", "Burned Area")
LABELS: tuple[str, ...] = EVENT_LABELS + LAND_COVER_LABELS

_BY_LOWER = {label.lower(): label for label in LABELS}

# CORINE Land Cover level-3 names (BigEarthNet v1, 43 classes) and the BigEarthNet 19-class
# nomenclature (v2), lower-cased, -> our label.
_CORINE: dict[str, str] = {
    # artificial surfaces
    "continuous urban fabric": "Built",
    "discontinuous urban fabric": "Built",
    "urban fabric": "Built",
    "industrial or commercial units": "Built",
    "road and rail networks and associated land": "Built",
    "port areas": "Built",
    "airports": "Built",
    "mineral extraction sites": "Bare",
    "dump sites": "Bare",
    "construction sites": "Bare",
    "green urban areas": "Grass",
    "sport and leisure facilities": "Grass",
    # agriculture
    "non-irrigated arable land": "Crops",
    "permanently irrigated land": "Crops",
    "arable land": "Crops",
    "rice fields": "Flooded Vegetation",
    "vineyards": "Crops",
    "fruit trees and berry plantations": "Crops",
    "olive groves": "Crops",
    "permanent crops": "Crops",
    "pastures": "Grass",
    "annual crops associated with permanent crops": "Crops",
    "complex cultivation patterns": "Crops",
    "land principally occupied by agriculture, with significant areas of natural vegetation": (
        "Crops"
    ),
    "agro-forestry areas": "Trees",
    # forests and semi-natural areas
    "broad-leaved forest": "Trees",
    "coniferous forest": "Trees",
    "mixed forest": "Trees",
    "natural grassland": "Grass",
    "natural grassland and sparsely vegetated areas": "Grass",
    "moors and heathland": "Shrub and Scrub",
    "sclerophyllous vegetation": "Shrub and Scrub",
    "moors, heathland and sclerophyllous vegetation": "Shrub and Scrub",
    "transitional woodland/shrub": "Shrub and Scrub",
    "transitional woodland, shrub": "Shrub and Scrub",
    "beaches, dunes, sands": "Bare",
    "bare rock": "Bare",
    "sparsely vegetated areas": "Bare",
    "burnt areas": "Burned Area",
    "glaciers and perpetual snow": "Snow and Ice",
    # wetlands
    "inland marshes": "Flooded Vegetation",
    "peat bogs": "Flooded Vegetation",
    "peatbogs": "Flooded Vegetation",  # BigEarthNet v1 spelling
    "inland wetlands": "Flooded Vegetation",
    "salt marshes": "Flooded Vegetation",
    "coastal wetlands": "Flooded Vegetation",
    "salines": "Bare",
    "intertidal flats": "Bare",
    # water
    "water courses": "Water",
    "water bodies": "Water",
    "inland waters": "Water",
    "coastal lagoons": "Water",
    "estuaries": "Water",
    "sea and ocean": "Water",
    "marine waters": "Water",
}


def canonical_label(name: str) -> str:
    """Case- and space-insensitive lookup in ``LABELS``; unknown names are a ``LabelError``."""
    label = _BY_LOWER.get(" ".join(str(name).split()).lower())
    if label is None:
        raise LabelError(f"unknown label {name!r}; known labels: {', '.join(LABELS)}")
    return label


def sort_labels(labels: Iterable[str]) -> list[str]:
    """Unique canonical labels in the order of ``LABELS``."""
    wanted = {canonical_label(label) for label in labels}
    return [label for label in LABELS if label in wanted]


def map_corine(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """CORINE / BigEarthNet label names -> (our labels, names that have no mapping)."""
    mapped: set[str] = set()
    unmapped: list[str] = []
    for name in names:
        label = _CORINE.get(" ".join(name.split()).lower())
        if label is None:
            unmapped.append(name)
        else:
            mapped.add(label)
    return sort_labels(mapped), unmapped


def label_text(labels: Iterable[str]) -> str:
    """Training / query text for a chip: labels lower-cased, joined with ". "."""
    return ". ".join(label.lower() for label in sort_labels(labels))
