"""Every import statement of the project's own code, read from the source (no import executed).

Each ``import`` / ``from ... import`` anywhere in a file counts: at module level, inside a
function, under ``if TYPE_CHECKING:``. A function-level import still couples two modules (it
only moves the failure to call time), so the layer and circle checks see them all.
"""

from __future__ import annotations

import ast
import dataclasses
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# first-party top-level names: packages (folders) and the app's entry script
FIRST_PARTY_PACKAGES = ("closp_core", "ingest", "ui", "app_pages", "bench")
FIRST_PARTY_SCRIPTS = ("app",)
FIRST_PARTY = (*FIRST_PARTY_PACKAGES, *FIRST_PARTY_SCRIPTS)


@dataclasses.dataclass(frozen=True)
class ImportLine:
    """One imported name: the importing module, the imported module, where, and how deep."""

    importer: str  # dotted module name, e.g. "closp_core.train.loop"
    imported: str  # dotted module name (the longest prefix that is a module we know, if ours)
    path: Path
    line: int
    nested: bool  # inside a function, class or ``if`` (not a plain module-level statement)


def module_name(path: Path, root: Path = ROOT) -> str:
    """``closp_core/train/loop.py`` -> ``closp_core.train.loop``; ``__init__.py`` -> package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(tops: Iterable[str], root: Path = ROOT) -> list[Path]:
    """The ``.py`` files of the top-level packages or scripts ``tops`` under ``root``."""
    files: list[Path] = []
    for top in tops:
        script = root / f"{top}.py"
        if script.is_file():
            files.append(script)
        elif (root / top).is_dir():
            files.extend(
                p for p in sorted((root / top).rglob("*.py")) if "__pycache__" not in p.parts
            )
    return files


def _absolute(module: str | None, level: int, importer: str, is_package: bool) -> str:
    """The absolute module of ``from <level dots><module> import ...`` written in ``importer``."""
    if level == 0:
        return module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _statements(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, id(node) not in top


def imports_of(path: Path, known: set[str], root: Path = ROOT) -> list[ImportLine]:
    """Every module ``path`` imports. ``from pkg import name`` names module ``pkg.name`` when that
    is in ``known`` (a submodule), else ``pkg`` (a name defined in the package)."""
    importer = module_name(path, root)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[ImportLine] = []
    for node, nested in _statements(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = _absolute(node.module, node.level, importer, is_package)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        found.extend(ImportLine(importer, t, path, node.lineno, nested) for t in targets)
    return found


def project_imports(tops: Iterable[str] = FIRST_PARTY, root: Path = ROOT) -> list[ImportLine]:
    """All import lines of the first-party code (``tops``) under ``root``."""
    files = source_files(tops, root)
    known = {module_name(p, root) for p in files}
    return [line for path in files for line in imports_of(path, known, root)]


def top_name(module: str) -> str:
    return module.split(".")[0]


def third_party(lines: Iterable[ImportLine]) -> dict[str, list[ImportLine]]:
    """Top-level names imported that are neither the standard library nor first-party."""
    out: dict[str, list[ImportLine]] = {}
    for line in lines:
        top = top_name(line.imported)
        if top and top not in sys.stdlib_module_names and top not in FIRST_PARTY:
            out.setdefault(top, []).append(line)
    return out
