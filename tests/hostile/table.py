"""The hostile-input table printed at the end of a run (``tests/hostile/conftest.py`` says
what each verdict means), loaded by the root ``tests/conftest.py`` as a plugin.

It works the same with and without pytest-xdist (``make test`` runs two workers): collection
happens in the workers, so each hostile test carries its verdict in the report's
``user_properties``, and the reports (which every worker sends to the controller) are counted
where the terminal summary is written.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

VERDICTS = ("error", "refused", "flagged")
_PROPERTY = "hostile verdict"
_outcomes: Counter[tuple[str, str]] = Counter()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("hostile")
        if marker is None:
            continue
        verdict = marker.args[0] if marker.args else ""
        if verdict not in VERDICTS:
            raise pytest.UsageError(f"{item.nodeid}: hostile verdict must be one of {VERDICTS}")
        item.user_properties.append((_PROPERTY, verdict))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    verdict = dict(report.user_properties).get(_PROPERTY)
    if verdict is None:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _outcomes[(str(verdict), report.outcome)] += 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _outcomes:
        return
    tried = sum(_outcomes.values())
    passed = {v: _outcomes[(v, "passed")] for v in VERDICTS}
    failed = sum(n for (_, outcome), n in _outcomes.items() if outcome == "failed")
    skipped = sum(n for (_, outcome), n in _outcomes.items() if outcome == "skipped")
    terminalreporter.write_sep("-", "hostile inputs")
    terminalreporter.write_line(
        f"inputs tried {tried} · clear errors {passed['error']} · refused {passed['refused']} · "
        f"flagged {passed['flagged']} · skipped {skipped} · "
        f"tracebacks or wrong verdicts {failed}"
    )
