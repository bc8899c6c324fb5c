"""The import graph's rules: arrows point down only (app_pages/ui -> ingest -> closp_core), and
no two modules import each other, directly or around a circle.

An AST test of our own rather than import-linter contracts: it needs no extra tool, counts every
import statement (function-level and ``TYPE_CHECKING`` ones too: a function-level import only
hides a circle, it does not break it), and a failure names the file and line of each arrow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from tests.project.importgraph import ImportLine, project_imports, source_files, top_name

# (importer, imported, why): a module under `importer` may not import one under `imported`
FORBIDDEN = [
    *[
        ("closp_core", up, "the engine never imports the app, ingest or bench")
        for up in ("ui", "app_pages", "app", "ingest", "bench")
    ],
    *[("ingest", up, "ingest sits below the app") for up in ("ui", "app_pages", "app", "bench")],
    ("ui", "app_pages", "ui is the pages' glue, below them"),
    ("bench", "ui", "benchmarks measure the engine and ingest, not Streamlit glue"),
    ("bench", "app_pages", "benchmarks measure the engine and ingest, not Streamlit glue"),
    ("closp_core.evaluate", "closp_core.train", "evaluation is independent of the training loop"),
]


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def forbidden_arrows(
    lines: Iterable[ImportLine], rules: Iterable[tuple[str, str, str]] = FORBIDDEN
) -> list[str]:
    """One message per import line that breaks a rule."""
    rules = list(rules)
    return [
        f"{line.path.name}:{line.line} {line.importer} imports {line.imported} ({why})"
        for line in lines
        for low, up, why in rules
        if _under(line.importer, low) and _under(line.imported, up)
    ]


def import_graph(lines: Iterable[ImportLine], modules: set[str]) -> dict[str, set[str]]:
    """module -> the first-party modules it imports (itself excluded)."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for line in lines:
        if line.imported in modules and line.imported != line.importer:
            graph[line.importer].add(line.imported)
    return graph


def circles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def describe_circle(component: list[str], lines: Iterable[ImportLine]) -> str:
    """The arrows inside one circle, with file and line, for the failure message."""
    members = set(component)
    arrows = sorted(
        f"    {line.importer} -> {line.imported} ({line.path.name}:{line.line}"
        f"{', inside a function or if' if line.nested else ''})"
        for line in lines
        if line.importer in members and line.imported in members
    )
    return " <-> ".join(component) + "\n" + "\n".join(dict.fromkeys(arrows))


@pytest.fixture(scope="module")
def lines() -> list[ImportLine]:
    return project_imports()


def test_the_scan_sees_every_kind_of_import(lines: list[ImportLine]) -> None:
    """Guards the guard: a scan that missed function-level or relative imports would pass."""
    tops = {top_name(line.importer) for line in lines}
    assert {"closp_core", "ingest", "ui", "app_pages", "bench", "app"} <= tops
    assert any(line.nested for line in lines if line.importer.startswith("closp_core"))
    assert len(source_files(["closp_core"])) > 50


def test_arrows_point_down(lines: list[ImportLine]) -> None:
    bad = forbidden_arrows(lines)
    assert not bad, "upward or forbidden imports:\n" + "\n".join(bad)


def test_no_import_circles(lines: list[ImportLine]) -> None:
    modules = {line.importer for line in lines}
    found = circles(import_graph(lines, modules))
    assert not found, "import circles:\n" + "\n".join(describe_circle(c, lines) for c in found)


def test_the_checks_catch_what_they_guard(tmp_path: Path) -> None:
    """Files with a circle held open by a function-level import, a ``TYPE_CHECKING`` import
    and a relative one, plus an upward arrow: each is reported."""
    files = {
        "closp_core/__init__.py": "",
        "closp_core/model/__init__.py": "",
        "closp_core/model/delta.py": "def load():\n    from closp_core.model.factory import f\n",
        "closp_core/model/factory.py": "from .delta import load\n",
        "closp_core/evaluate/__init__.py": "",
        "closp_core/evaluate/run.py": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from closp_core.train import loop\n"
        ),
        "closp_core/train/__init__.py": "",
        "closp_core/train/loop.py": "import ui.jobs\n",
        "ui/__init__.py": "",
        "ui/jobs.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    lines = project_imports(["closp_core", "ui"], tmp_path)
    graph = import_graph(lines, {line.importer for line in lines})
    assert circles(graph) == [["closp_core.model.delta", "closp_core.model.factory"]]
    assert "inside a function" in describe_circle(circles(graph)[0], lines)
    assert forbidden_arrows(lines) == [
        "run.py:3 closp_core.evaluate.run imports closp_core.train.loop "
        "(evaluation is independent of the training loop)",
        "loop.py:1 closp_core.train.loop imports ui.jobs "
        "(the engine never imports the app, ingest or bench)",
    ]
    assert circles({"a": {"b"}, "b": set()}) == []
