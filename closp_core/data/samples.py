"""The real sample corpus shipped in ``samples/`` as chip sources, with documented labels.

Used by ``python -m ingest demo`` (the newcomer's first index) and by training and evaluation
of the offline demo model. Provenance and licences: ``samples/README.md``.

Label rules (all chips 120 x 120 px at 10 m):
- Virginia S2 L1C strip: labels by visual interpretation of the true- and false-colour
  composites, one line per chip in ``samples/virginia-s2-l1c/chip_labels.csv`` (row, col = the
  chip's pixel offset in the strip).
- Sen1Floods11 Spain (S1 and S2): every chip ``Crops`` (irrigated farmland of the Vega Baja
  del Segura, visible field parcels); ``Flooded Area`` too when at least 15 % of the chip's
  labelled pixels are water in the hand-labelled mask.
- BigEarthNet: CORINE labels mapped to our label space.

Split for the demo model: chips whose pixel row offset is >= 360 (Virginia: the southern chip
row) or whose pixel column offset is >= 360 (Spain: the eastern columns, where most of the
flood is) are ``heldout``; everything else is ``train``.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path

from closp_core.bands import Sensor
from closp_core.data.base import ChipSource
from closp_core.data.bigearthnet.source import BigEarthNetSource
from closp_core.data.chip import Chip
from closp_core.data.chipping import ChipWindow, SceneOptions
from closp_core.data.scene.source import MaskLabeler, SceneSource
from closp_core.errors import DataError
from closp_core.shipped import samples_dir

SAMPLES_DIR = samples_dir()
FLOOD_MIN_SHARE = 0.15
HELDOUT_OFFSET = 360
_OFFSETS = re.compile(r"/r(\d+)_c(\d+)")


class TableLabeler:
    """A ``chip_labeler`` reading per-chip labels from a CSV with columns row, col, labels
    (labels separated by ``;``); chips missing from the table get no labels."""

    def __init__(self, path: Path) -> None:
        try:
            with open(path, newline="", encoding="utf-8") as fh:
                self.table = {
                    (int(row["row"]), int(row["col"])): row["labels"].split(";")
                    for row in csv.DictReader(fh)
                }
        except (OSError, KeyError, ValueError) as err:
            raise DataError(f"{path}: cannot read the chip label table ({err})") from None

    def __call__(self, window: ChipWindow) -> list[str]:
        return self.table.get((window.row, window.col), [])


def sample_sources(root: Path = SAMPLES_DIR) -> list[ChipSource]:
    """The shipped corpus: Virginia S2, Spain flood S1 + S2, BigEarthNet pairs."""
    virginia = root / "virginia-s2-l1c"
    spain = root / "sen1floods11-spain"
    flood = MaskLabeler(
        spain / "Spain_7370579_LabelHand.tif", "Flooded Area", min_share=FLOOD_MIN_SHARE
    )
    return [
        SceneSource(
            virginia,
            SceneOptions(
                sensor=Sensor.S2,
                acquired=dt.datetime(2016, 1, 12, 15, 56, tzinfo=dt.UTC),
                chip_labeler=TableLabeler(virginia / "chip_labels.csv"),
            ),
            scene_id="virginia-T18SVG-20160112",
        ),
        *(
            SceneSource(
                spain / f"Spain_7370579_{sensor.name}Hand.tif",
                SceneOptions(
                    sensor=sensor,
                    acquired=dt.datetime(2019, 9, day, tzinfo=dt.UTC),
                    labels=("Crops",),
                    chip_labeler=flood,
                ),
                scene_id=f"sen1floods11-Spain_7370579-{sensor.value}",
            )
            for sensor, day in ((Sensor.S1, 17), (Sensor.S2, 18))  # S1 and S2 acquisition days
        ),
        BigEarthNetSource(root / "bigearthnet"),
    ]


def sample_split(chip: Chip) -> str:
    """``"heldout"`` or ``"train"`` for a chip of ``sample_sources`` (rule in the docstring)."""
    match = _OFFSETS.search(chip.key)
    if match is None:
        return "train"
    row, col = int(match.group(1)), int(match.group(2))
    if "virginia" in chip.scene_id:
        return "heldout" if row >= HELDOUT_OFFSET else "train"
    if "sen1floods11" in chip.scene_id:
        return "heldout" if col >= HELDOUT_OFFSET else "train"
    return "train"
