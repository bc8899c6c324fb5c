"""``pip install .``: every module the code imports is declared in pyproject.toml, the pins agree
with requirements*.txt, and the wheel holds the packages and the data read at run time."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from tests.project.importgraph import ROOT, ImportLine, project_imports, third_party

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
WHEEL_PACKAGES = ("closp_core", "ingest")
# folders of the checkout that the wheel carries inside closp_core/_shipped/ (setup.py)
SHIPPED = {"samples": ROOT / "samples", "demo_model": ROOT / "models" / "demo" / "best-delta"}


def normalise(name: str) -> str:
    """PEP 503 name: ``Scikit_Learn`` -> ``scikit-learn``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    return normalise(re.split(r"[\s<>=~!;\[]", spec.strip(), maxsplit=1)[0])


def pins(path: Path) -> dict[str, str]:
    """``name -> version`` of the ``name==version`` lines of a requirements file."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==([^\s#;]+)", line.strip())
        if match:
            found[normalise(match[1])] = match[2]
    return found


def undeclared(
    lines: Iterable[ImportLine],
    declared: set[str],
    optional: set[str],
    distributions: Mapping[str, list[str]],
) -> list[str]:
    """One message per third-party module imported but not declared. A module-level import needs
    a distribution in ``declared``; an import inside a function may also be ``optional``."""
    problems = []
    for module, where in sorted(third_party(lines).items()):
        names = {normalise(d) for d in distributions.get(module, [])}
        if not names:
            first = where[0]
            problems.append(
                f"{module}: imported at {first.path.name}:{first.line} but no installed "
                "distribution provides it"
            )
            continue
        allowed = declared if any(not w.nested for w in where) else declared | optional
        if not names & allowed:
            first = where[0]
            problems.append(
                f"{module} (distribution {sorted(names)}) is imported by "
                f"{first.importer}:{first.line} but not declared in pyproject.toml"
            )
    return problems


def _declared(*extras: str) -> set[str]:
    project = PYPROJECT["project"]
    specs = list(project["dependencies"])
    for extra in extras:
        specs += project["optional-dependencies"][extra]
    return {requirement_name(s) for s in specs}


def _all_extras() -> set[str]:
    return _declared(*PYPROJECT["project"]["optional-dependencies"])


def test_engine_and_ingest_imports_are_declared() -> None:
    lines = project_imports(WHEEL_PACKAGES)
    found = undeclared(
        lines, _declared(), _all_extras(), importlib.metadata.packages_distributions()
    )
    assert not found, "\n".join(found)


def test_app_imports_are_declared_with_the_app_extra() -> None:
    lines = project_imports(("ui", "app_pages", "app"))
    found = undeclared(
        lines, _declared("app"), _all_extras(), importlib.metadata.packages_distributions()
    )
    assert not found, "\n".join(found)


def test_an_undeclared_import_is_caught(tmp_path: Path) -> None:
    (tmp_path / "closp_core").mkdir()
    (tmp_path / "closp_core" / "uses.py").write_text(
        "import requests\nimport numpy\n\ndef lazy():\n    import pytest\n"
    )
    lines = project_imports(["closp_core"], tmp_path)
    dists = importlib.metadata.packages_distributions()
    assert undeclared(lines, {"numpy"}, {"pytest"}, dists) == [
        "requests (distribution ['requests']) is imported by closp_core.uses:1 but not "
        "declared in pyproject.toml"
    ]
    assert undeclared(lines, {"numpy", "requests"}, set(), dists)[0].startswith("pytest ")
    (tmp_path / "closp_core" / "ghost.py").write_text("import no_such_module_here\n")
    ghost = undeclared(project_imports(["closp_core"], tmp_path), {"numpy"}, set(), dists)
    assert any(p.startswith("no_such_module_here: imported at ghost.py:1") for p in ghost)


@pytest.mark.parametrize(
    ("requirements", "extras"),
    [("requirements.txt", ("app",)), ("requirements-dev.txt", ("dev", "ray"))],
)
def test_pyproject_ranges_hold_the_exact_pins(requirements: str, extras: tuple[str, ...]) -> None:
    """``name~=X.Y.Z`` in pyproject.toml for each ``name==X.Y.Z`` that make run/test install."""
    pinned = pins(ROOT / requirements)
    project = PYPROJECT["project"]
    specs = project["dependencies"] if requirements == "requirements.txt" else []
    specs = [*specs, *(s for e in extras for s in project["optional-dependencies"][e])]
    for spec in specs:
        name = requirement_name(spec)
        assert name in pinned, f"{spec}: no {name}==... pin in {requirements}"
        assert spec.strip().endswith(f"~={pinned[name]}"), f"{spec} vs {name}=={pinned[name]}"


def test_console_scripts_name_real_entry_points() -> None:
    scripts = PYPROJECT["project"]["scripts"]
    assert scripts["closp-ingest"] == "ingest.cli:main"
    for target in scripts.values():
        module, _, function = target.partition(":")
        path = ROOT / (module.replace(".", "/") + ".py")
        assert re.search(rf"^def {function}\(", path.read_text(encoding="utf-8"), re.M), target


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel ``pip install .`` installs, built from a copy of the checkout's sources."""
    src = tmp_path_factory.mktemp("src")
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for name in WHEEL_PACKAGES:
        shutil.copytree(ROOT / name, src / name, ignore=skip)
    for folder in SHIPPED.values():
        shutil.copytree(folder, src / folder.relative_to(ROOT), ignore=skip)
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*command, "-w", str(out), str(src)], check=True, timeout=300)
    (built,) = out.glob("closp_search-*.whl")
    return built


def _files(folder: Path) -> set[str]:
    return {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def test_wheel_holds_the_packages_and_no_other(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in WHEEL_PACKAGES:
        sources = {f"{package}/{f}" for f in _files(ROOT / package) if f.endswith(".py")}
        assert sources and not sources - names, sorted(sources - names)[:5]
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == set(WHEEL_PACKAGES)


def test_wheel_holds_the_shipped_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for name, folder in SHIPPED.items():
        wanted = {f"closp_core/_shipped/{name}/{f}" for f in _files(folder)}
        assert wanted and not wanted - names, sorted(wanted - names)[:5]
    assert "closp_core/_shipped/demo_model/delta.safetensors" in names


def test_wheel_metadata_declares_dependencies_and_scripts(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    info = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
    requires = {
        requirement_name(line.split(":", 1)[1])
        for line in archive.read(info).decode().splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    }
    assert {"requests", "urllib3", "affine", "torch", "qdrant-edge-py"} <= requires
    entry_points = archive.read(info.replace("METADATA", "entry_points.txt")).decode()
    assert "closp-ingest = ingest.cli:main" in entry_points


def _installed_python(wheel: Path, tmp_path: Path, code: str) -> str:
    """Run ``code`` with the wheel's files (unpacked) first on the path, outside the checkout."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    done = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(site)!r}); {code}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def test_an_install_finds_its_shipped_data(wheel: Path, tmp_path: Path) -> None:
    code = "import closp_core.shipped as s; print(s.samples_dir()); print(s.demo_model_dir())"
    samples, demo = _installed_python(wheel, tmp_path, code).splitlines()
    assert Path(samples) == tmp_path / "site" / "closp_core" / "_shipped" / "samples"
    assert (Path(samples) / "README.md").is_file()
    assert (Path(demo) / "delta.safetensors").is_file()


def test_an_install_reads_the_samples_from_its_shipped_data(wheel: Path, tmp_path: Path) -> None:
    code = "from closp_core.data.samples import SAMPLES_DIR; print(SAMPLES_DIR)"
    samples = Path(_installed_python(wheel, tmp_path, code))
    assert samples == tmp_path / "site" / "closp_core" / "_shipped" / "samples"


def test_shipped_data_in_a_checkout() -> None:
    from closp_core.shipped import demo_model_dir, samples_dir

    assert samples_dir() == ROOT / "samples"
    assert demo_model_dir() == ROOT / "models" / "demo" / "best-delta"
