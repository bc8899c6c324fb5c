"""What an ingest run did (``IngestSummary``): counts, skip reasons, flags, failed inputs."""

from __future__ import annotations

import dataclasses
from collections import Counter

from closp_core.data.keys import display_text
from ingest.reading import UnitReport


@dataclasses.dataclass
class IngestSummary:
    """What a run did: counts, skip reasons, flagged labels and failed files with reasons."""

    indexed: int = 0
    already_indexed: int = 0
    skipped: Counter[str] = dataclasses.field(default_factory=Counter)
    flagged: Counter[str] = dataclasses.field(default_factory=Counter)
    failed: dict[str, str] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    flag_units: dict[str, str] = dataclasses.field(default_factory=dict)  # reason -> "chips" ...
    cancelled: bool = False
    side_file: str = ""  # what the score-map side file refresh did (empty: not asked)

    @property
    def ok(self) -> bool:
        return not self.failed

    def merge(self, other: IngestSummary) -> None:
        """Add another run's figures to this one."""
        self.indexed += other.indexed
        self.already_indexed += other.already_indexed
        self.skipped.update(other.skipped)
        self.flagged.update(other.flagged)
        self.flag_units.update(other.flag_units)
        self.failed.update(other.failed)
        self.seconds += other.seconds
        self.cancelled = self.cancelled or other.cancelled
        self.side_file = other.side_file or self.side_file

    def add_unit(self, report: UnitReport) -> None:
        """Count what a unit's reader skipped and flagged; a failed unit lands in ``failed``."""
        self.skipped.update(report.tally.skipped)
        self.flagged.update(report.tally.flagged)
        self.flag_units.update(report.tally.flag_units)
        if report.error is not None:
            self.failed[report.unit] = report.error
        elif bad := report.tally.bad_items:
            self.failed[report.unit] = (
                f"{len(bad)} bad item(s) skipped, the rest of this unit indexed; first: {bad[0]}"
            )

    def report(self, already_hint: str = "use --force") -> str:
        """A few lines for people; each count names what it counts (chips, pixels, scenes),
        each failed file gets one ``FAILED <file>: <reason>`` line (printable: control
        characters in names are escaped). ``already_hint``: what to say of chips already
        indexed (the CLI's flag; the app says it in its own words)."""
        rate = self.indexed / self.seconds if self.seconds > 0 else 0.0
        lines = [f"indexed {self.indexed} chips in {self.seconds:.1f} s ({rate:.1f} chips/s)"]
        if self.cancelled:
            lines.append("cancelled: stopped after the last acknowledged batch (rerun to go on)")
        if self.already_indexed:
            lines.append(f"skipped {self.already_indexed} chips already indexed ({already_hint})")
        lines += [f"skipped {n} chips: {reason}" for reason, n in sorted(self.skipped.items())]
        lines += [
            f"flagged {n} {_unit(self.flag_units.get(reason, 'chips'), n)}: {reason}"
            for reason, n in sorted(self.flagged.items())
        ]
        lines += [
            f"FAILED {unit}: {reason.removeprefix(f'{unit}: ')}"
            for unit, reason in self.failed.items()
        ]
        if self.side_file:
            lines.append(self.side_file)
        if self.failed:
            lines.append(f"{len(self.failed)} input(s) failed; the others were indexed")
        return "\n".join(display_text(line, newlines=False) for line in lines)


def _unit(noun: str, count: int) -> str:
    """``"chips"`` -> ``"chip"`` for a count of one."""
    return noun[:-1] if count == 1 and noun.endswith("s") else noun
