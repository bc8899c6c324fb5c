"""Rebuild ``static/``: offline Leaflet (+ plugins) and the Natural Earth countries basemap.

Run from the repository root with npm on the PATH (it only uses the npm registry):

    python scripts/make_assets.py

It ``npm pack``s pinned packages into a temporary folder, copies their ``dist`` files under
``static/`` and converts ``world-atlas``'s Natural Earth 1:110m countries (TopoJSON) into a
small GeoJSON (coordinates rounded to 0.01 degree). Provenance and licences: ``static/README.md``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "static"
PACKAGES = {
    "jquery@3.7.1": ("jquery", ["dist/jquery.min.js", "LICENSE.txt"]),
    "leaflet@1.9.3": ("leaflet", ["dist/leaflet.js", "dist/leaflet.css", "dist/images", "LICENSE"]),
    "leaflet-draw@1.0.4": (
        "leaflet-draw",
        ["dist/leaflet.draw.js", "dist/leaflet.draw.css", "dist/images"],
    ),
    "leaflet.markercluster@1.5.3": (
        "markercluster",
        [
            "dist/leaflet.markercluster.js",
            "dist/MarkerCluster.css",
            "dist/MarkerCluster.Default.css",
            "MIT-LICENCE.txt",
        ],
    ),
}
SIDE_BY_SIDE = "leaflet-side-by-side@2.2.0"  # ships only CommonJS source: see browser_script
WORLD_ATLAS = "world-atlas@2.0.2"
DECIMALS = 2


def npm_unpack(spec: str, workdir: Path) -> Path:
    """``npm pack`` one package into ``workdir``; return its unpacked ``package/`` folder."""
    out = subprocess.run(
        ["npm", "pack", spec, "--silent"], cwd=workdir, check=True, capture_output=True, text=True
    )
    tgz = workdir / out.stdout.strip().splitlines()[-1]
    target = workdir / tgz.stem
    with tarfile.open(tgz) as archive:
        archive.extractall(target, filter="data")
    return target / "package"


def copy_files(package: Path, dest: Path, files: list[str]) -> None:
    """Copy ``files`` (files or folders, relative to ``package``) flat into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in files:
        src = package / name
        if src.is_dir():
            shutil.copytree(src, dest / src.name, dirs_exist_ok=True)
        elif src.exists():
            shutil.copy2(src, dest / src.name)


def browser_script(package: Path, dest: Path) -> None:
    """leaflet-side-by-side as a plain browser script: its CommonJS ``index.js`` with the
    ``require``s of Leaflet (the page's global ``L``, as its own browserify-shim config says)
    and of its two stylesheets (loaded as files instead) taken out, in a closure."""
    source = (package / "index.js").read_text()
    lines = [
        line
        for line in source.splitlines()
        if not line.startswith(("var L = require(", "require(", "module.exports"))
    ]
    dest.mkdir(parents=True, exist_ok=True)
    body = "\n".join(lines)
    (dest / "leaflet-side-by-side.js").write_text(f"(function (L) {{\n{body}\n}})(window.L);\n")
    copy_files(package, dest, ["layout.css", "range.css", "range-icon.png", "LICENSE"])


def decode_arcs(topo: dict[str, Any]) -> list[list[tuple[float, float]]]:
    """Delta-decoded, de-quantised arcs of a TopoJSON topology (lon, lat)."""
    scale = topo["transform"]["scale"]
    shift = topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            lon = round(x * scale[0] + shift[0], DECIMALS)
            lat = round(y * scale[1] + shift[1], DECIMALS)
            points.append((lon, lat))
        arcs.append(points)
    return arcs


def ring(indices: list[int], arcs: list[list[tuple[float, float]]]) -> list[list[float]]:
    """One closed ring from arc indices (``~i`` = arc ``i`` reversed)."""
    points: list[tuple[float, float]] = []
    for index in indices:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc if not points else arc[1:])
    deduped = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
    return [list(p) for p in deduped]


def topo_to_geojson(topo: dict[str, Any], name: str) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of TopoJSON object ``name`` (Polygon/MultiPolygon only)."""
    arcs = decode_arcs(topo)
    features = []
    for geom in topo["objects"][name]["geometries"]:
        if geom.get("type") == "Polygon":
            polys = [geom["arcs"]]
        elif geom.get("type") == "MultiPolygon":
            polys = geom["arcs"]
        else:
            continue
        rings = [[ring(r, arcs) for r in poly] for poly in polys]
        rings = [[r for r in poly if len(r) >= 4] for poly in rings]
        rings = [poly for poly in rings if poly]
        features.append(
            {
                "type": "Feature",
                "properties": {"name": geom.get("properties", {}).get("name", "")},
                "geometry": {"type": "MultiPolygon", "coordinates": rings},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def write_favicon(path: Path) -> None:
    """A 64 x 64 favicon drawn here (no emoji/icon font fetched from a CDN at run time)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((2, 2, 62, 62), radius=12, fill=(47, 111, 143, 255))
    draw.rectangle((24, 24, 40, 40), fill=(255, 255, 255, 255))  # satellite body
    draw.rectangle((6, 28, 20, 36), fill=(215, 25, 28, 255))  # solar panels
    draw.rectangle((44, 28, 58, 36), fill=(215, 25, 28, 255))
    image.save(path)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for spec, (folder, files) in PACKAGES.items():
            copy_files(npm_unpack(spec, work), STATIC / folder, files)
        browser_script(npm_unpack(SIDE_BY_SIDE, work), STATIC / "leaflet-side-by-side")
        atlas = npm_unpack(WORLD_ATLAS, work)
        topo = json.loads((atlas / "countries-110m.json").read_text())
        geojson = topo_to_geojson(topo, "countries")
        out = STATIC / "basemap" / "countries-110m.geojson"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(geojson, separators=(",", ":")))
        shutil.copy2(atlas / "LICENSE", out.parent / "world-atlas-LICENSE")
        write_favicon(STATIC / "favicon.png")
        print(
            f"wrote {out} ({out.stat().st_size / 1e3:.0f} kB, {len(geojson['features'])} countries)"
        )


if __name__ == "__main__":
    main()
