"""Folium maps of results and of the collection, and reading clicks back (Streamlit-free maths).

A map is drawn once (``search_base_map``: basemap, panes, draw tool) and its results come as one
layer group that ``ui.mapview.show_map`` hands to ``st_folium(feature_group_to_add=...)``: a new
result list, a filter change or a re-rank replaces that group inside the map already in the
page (no new iframe, no reloaded Leaflet or basemap), and ``FitBoundsOnce`` frames each new
result list once.

Results layers: each chip's preview as an ``ImageOverlay`` at its footprint's bounds (in the
``previews`` pane, above the basemap), its footprint outline on top coloured by score (blue =
lowest of this list, red = highest), a popup with score, sensor, date, labels and source, the
drawn search area dashed, and folium's Draw tool (rectangle/polygon) whose shapes come back
through ``st_folium``. Clicks come back as a point; ``hit_at`` finds the chip under it.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import folium
import folium.plugins
from branca.element import Element, MacroElement
from folium.elements import ElementAddToElement
from folium.map import Layer
from folium.raster_layers import ImageOverlay
from jinja2 import Template

from closp_core import geo
from closp_core.bands import Sensor
from closp_core.feedback import FeedbackLabels
from closp_core.labels import EVENT_LABELS
from closp_core.store import ChipRecord, Hit
from ui.offline import PREVIEW_PANE, base_map, offline
from ui.previews import composite_for, preview_data_url
from ui.state import LonLat, SearchState
from ui.text import html_text

DOT_MAX_ZOOM = 11  # chip centre dots are hidden from this zoom on (the previews are visible)
SCORE_COLOURS = ("#2c7bb6", "#00a6ca", "#90eb9d", "#f9d057", "#f29e2e", "#d7191c")
OPENED_COLOUR = "#ff00ff"  # the opened chip's outline: unlike any score colour
Bounds = list[list[float]]


def score_colour(score: float, low: float, high: float) -> str:
    """Colour of ``score`` on a blue (``low``) to red (``high``) ramp."""
    share = 1.0 if high <= low else (score - low) / (high - low)
    index = round(min(max(share, 0.0), 1.0) * (len(SCORE_COLOURS) - 1))
    return SCORE_COLOURS[index]


def leaflet_bounds(box: geo.Bounds | None) -> Bounds | None:
    """``(west, south, east, north)`` -> ``[[south, west], [north, east]]`` (Leaflet order)."""
    if box is None:
        return None
    west, south, east, north = box
    return [[south, west], [north, east]]


def footprint_bounds(record: ChipRecord) -> Bounds | None:
    """``[[south, west], [north, east]]`` of the chip footprint (Leaflet order)."""
    return leaflet_bounds(record.footprint.bounds if record.footprint is not None else None)


def union_bounds(bounds: Sequence[Bounds]) -> Bounds | None:
    """The box around several Leaflet boxes (``None`` for none)."""
    boxes = [(b[0][1], b[0][0], b[1][1], b[1][0]) for b in bounds]
    return leaflet_bounds(geo.union_bounds(boxes))


MARKS = ((1, "✓ relevant", "relevant"), (-1, "✗ not relevant", "not relevant"))


def popup_html(
    record: ChipRecord,
    score: float | None = None,
    rank: int | None = None,
    label: int | None = None,
    markable: bool = False,
) -> str:
    """Popup text of a chip (every value escaped with ``ui.text.html_text``); ``markable``
    adds 👍 / 👎 buttons (``MarkButtons`` sends their clicks back), ``label`` the current mark."""
    kind = "SAR" if record.sensor is Sensor.S1 else "optical"
    date = record.acquired.date().isoformat() if record.acquired else "unknown date"
    rows = [
        f"{record.sensor.name} ({kind}), {date}",
        *([f"scene: {record.scene_id}"] if record.scene_id else []),
        "labels: " + (", ".join(record.labels) or "none"),
        f"source: {record.source}",
        record.key,
    ]
    head = f"<b>#{rank}</b> score {score:.3f}<br>" if rank is not None and score is not None else ""
    body = head + "<br>".join(html_text(row) for row in rows)
    if not markable:
        return body
    key = html_text(record.key)
    buttons = "".join(
        f'<button class="closp-mark{" on" if label == value else ""}" data-key="{key}" '
        f'data-value="{value}" title="mark as {word}">{sign}</button>'
        for value, sign, word in MARKS
    )
    return f"{body}<br>{buttons}"


class MarkButtons(MacroElement):
    """Sends a click on a popup's 👍 / 👎 button back to Streamlit as ``closp_mark``
    (``{key, value, n}``, ``n`` unique per click) with the map's view, through the component
    API that streamlit-folium exposes as ``window.Streamlit``. The key is read from the
    button's ``data-key`` attribute (never evaluated)."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>
        button.closp-mark { font-size: 12px; margin: 4px 6px 0 0; padding: 1px 8px;
                            border: 1px solid #b8c2c8; border-radius: 6px; background: #fff; }
        button.closp-mark.on { background: #2f6f8f; border-color: #2f6f8f; color: #fff; }
        </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function (map) {
            var clicks = 0;
            document.addEventListener("click", function (event) {
                var target = event.target;
                var button = target.closest ? target.closest("button.closp-mark") : null;
                if (!button || !window.Streamlit) return;
                clicks += 1;
                var centre = map.getCenter(), bounds = map.getBounds();
                window.Streamlit.setComponentValue({
                    center: {lat: centre.lat, lng: centre.lng},
                    zoom: map.getZoom(),
                    bounds: {_southWest: bounds.getSouthWest(), _northEast: bounds.getNorthEast()},
                    closp_mark: {key: button.dataset.key, value: Number(button.dataset.value),
                                 n: clicks + ":" + Date.now()}
                });
            });
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "MarkButtons"


class ZoomClass(MacroElement):
    """Adds the class ``zoomed-in`` to the map container at zoom >= ``DOT_MAX_ZOOM``, so CSS can
    hide the chip centre dots once the previews themselves are large enough to see."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>.zoomed-in .chip-dot { display: none; }</style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function (map) {
            function update() {
                map.getContainer().classList.toggle("zoomed-in", map.getZoom() >= {{ this.zoom }});
            }
            map.on("zoomend", update);
            map.whenReady(update);
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, zoom: int = DOT_MAX_ZOOM) -> None:
        super().__init__()
        self._name = "ZoomClass"
        self.zoom = zoom


def add_chip_dot(
    parent: folium.Map | folium.FeatureGroup,
    record: ChipRecord,
    colour: str,
    tooltip: str,
    popup: str | None = None,
) -> None:
    """A dot at the chip centre, so results are visible when zoomed out (clickable, with the
    footprint's popup)."""
    if record.center is not None:
        folium.CircleMarker(
            (record.center[1], record.center[0]),
            radius=5,
            color="#ffffff",
            weight=1,
            fill=True,
            fill_color=colour,
            fill_opacity=0.95,
            className="chip-dot",
            tooltip=tooltip,
            popup=folium.Popup(popup, max_width=320) if popup is not None else None,
        ).add_to(parent)


def add_area(parent: folium.Map | folium.FeatureGroup, area: Sequence[LonLat] | None) -> None:
    """The drawn search area as a dashed outline (it survives the map being redrawn)."""
    if area:
        folium.Polygon(
            [(lat, lon) for lon, lat in area],
            color="#333333",
            weight=2,
            dash_array="6 4",
            fill=False,
            interactive=False,
        ).add_to(parent)


def add_draw_tool(fmap: folium.Map) -> None:
    """Rectangle and polygon drawing (read back as ``all_drawings`` by ``st_folium``)."""
    offline(
        folium.plugins.Draw(
            export=False,
            draw_options={
                "polyline": False,
                "circle": False,
                "marker": False,
                "circlemarker": False,
                "polygon": True,
                "rectangle": True,
            },
            edit_options={"edit": False, "remove": True},
        )
    ).add_to(fmap)


class FitBoundsOnce(MacroElement):
    """Fits the map to ``bounds`` the first time a layer group with this ``key`` is drawn in
    this ``slot``, so a new result list is framed once and a redraw of the same list (another
    composite, a re-rank) leaves the view where the user put it. Slots are independent: the
    results frame (``"results"``) and an opened chip (``"chip"``, at most ``max_zoom``)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        window.__clospFitted = window.__clospFitted || {};
        if (window.__clospFitted[{{ this.slot|tojson }}] !== {{ this.key|tojson }}) {
            window.__clospFitted[{{ this.slot|tojson }}] = {{ this.key|tojson }};
            window.map.fitBounds({{ this.bounds|tojson }},
                                 {padding: [20, 20], maxZoom: {{ this.max_zoom|tojson }}});
        }
        {% endmacro %}
        """
    )

    def __init__(self, bounds: Bounds, key: str, slot: str = "results", max_zoom: int = 18):
        super().__init__()
        self._name = "FitBoundsOnce"
        self.bounds = bounds
        self.key = key
        self.slot = slot
        self.max_zoom = max_zoom


class ClearDrawings(MacroElement):
    """Removes the shapes drawn on the map (Leaflet.draw's layer, which streamlit-folium keeps
    as ``window.drawnItems``) once each time ``count`` changes: the sidebar's "Clear the drawn
    area" clears the map too, so the filter and the shape never disagree."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        if (window.__clospCleared === undefined) { window.__clospCleared = {{ this.count }}; }
        if (window.__clospCleared !== {{ this.count }}) {
            window.__clospCleared = {{ this.count }};
            if (window.drawnItems) { window.drawnItems.clearLayers(); }
        }
        {% endmacro %}
        """
    )

    def __init__(self, count: int) -> None:
        super().__init__()
        self._name = "ClearDrawings"
        self.count = int(count)


class Layers(folium.FeatureGroup):
    """The layer group a page hands to ``st_folium`` (``ui.mapview.show_map``).

    ``st_folium`` calls ``render()`` on it and then builds the browser's script by calling each
    element's ``script`` macro itself; of what ``render()`` does, it only needs the
    ``.addTo(parent)`` statements that layers add to themselves. The rest — every rendered
    piece compiled again as a Jinja template, then thrown away — took 150 of 170 ms at 50
    results (the previews' base64 text is long). With ``scripts_only`` set, ``render()`` adds
    just those statements; the script is the same to the byte (tested)."""

    scripts_only = False

    def render(self, **kwargs: object) -> None:
        if not self.scripts_only:
            super().render(**kwargs)
            return

        def attach(element: Element) -> None:
            name = element.get_name() + "_add"
            if isinstance(element, Layer) and element.show and name not in element._children:
                parent = element._parent.get_name()  # type: ignore[union-attr]
                element.add_child(ElementAddToElement(element.get_name(), parent), name=name)
            for child in list(element._children.values()):
                attach(child)

        attach(self)


E = TypeVar("E", bound=Element)


def stable_ids(root: E) -> E:
    """Number every element under ``root`` by its place (folium draws random ids, popups'
    content included), so the same results make the same script: the browser then leaves
    the layers alone instead of redrawing them on every rerun (which closed open popups)."""
    counter = itertools.count()

    def walk(element: Element) -> None:
        element._id = f"{next(counter):032x}"
        children = list(element._children.values())
        for child in children:
            walk(child)
        # templates name children by their key here (a popup's content, for one): re-key
        element._children = OrderedDict((child.get_name(), child) for child in children)
        for part in ("html", "header", "script"):  # a Popup keeps its content here
            inner = getattr(element, part, None)
            if isinstance(inner, Element) and inner is not element:
                walk(inner)

    walk(root)
    return root


def search_base_map(state: SearchState) -> folium.Map:
    """The part of the Search and Explore maps that never changes with results: basemap,
    panes, the draw tool, the zoom-dependent dot style, and (unused, so its scripts load with
    the map) a marker cluster. Results come as a layer group (``results_layers``,
    ``collection_layers``) that the browser swaps in the map already shown."""
    fmap = base_map(state.basemap)
    offline(folium.plugins.MarkerCluster(name="assets")).add_to(fmap)
    ZoomClass().add_to(fmap)
    MarkButtons().add_to(fmap)
    add_draw_tool(fmap)
    return fmap


def results_layers(
    hits: Sequence[Hit],
    data_dir: Path,
    state: SearchState,
    *,
    fit_key: str | None = None,
    labels: FeedbackLabels | None = None,
    cleared: int = 0,
    opened: str | None = None,
    overlay: ImageOverlay | None = None,
) -> Layers:
    """The results as one layer group: previews at their footprints, outlines coloured by
    score, popups (with 👍 / 👎 when ``labels`` are given), centre dots, the drawn area;
    framed once per ``fit_key`` (None: never), the drawn area kept in the frame; ``cleared``:
    how often the sidebar cleared the area (the map's drawings follow, ``ClearDrawings``);
    ``opened``: a chip opened from the gallery or the table (outlined, brought into view);
    ``overlay``: the score map's raster, on top (numbered with the rest: a random id broke the
    map's first draw)."""
    layers = Layers(name="results")
    scores = [h.score for h in hits]
    low, high = (min(scores), max(scores)) if scores else (0.0, 1.0)
    boxes: list[Bounds] = []
    for rank, hit in reversed(list(enumerate(hits, start=1))):  # the best ends up on top
        rec = hit.record
        box = footprint_bounds(rec)
        if box is None or rec.footprint is None:
            continue
        boxes.append(box)
        url = preview_data_url(data_dir, rec.previews.get(composite_for(rec, state.composite)))
        if url is not None:
            ImageOverlay(url, box, pane=PREVIEW_PANE, interactive=False).add_to(layers)
        colour = score_colour(hit.score, low, high)
        tooltip = html_text(f"#{rank} · {hit.score:.3f} · {rec.sensor.name}")
        popup = popup_html(
            rec,
            hit.score,
            rank,
            label=labels.get(rec.key) if labels is not None else None,
            markable=labels is not None,
        )
        folium.Polygon(
            [(lat, lon) for lon, lat in rec.footprint.exterior],
            color=colour,
            weight=2,
            fill=True,
            fill_opacity=0.0,
            popup=folium.Popup(popup, max_width=320),
            tooltip=tooltip,
        ).add_to(layers)
        add_chip_dot(layers, rec, colour, tooltip, popup)
    add_area(layers, state.area)
    ClearDrawings(cleared).add_to(layers)
    area_box = leaflet_bounds(geo.ring_bounds(state.area)) if state.area else None
    everything = union_bounds([*boxes, *([area_box] if area_box else [])])  # keep the area in view
    if fit_key is not None and everything is not None:
        FitBoundsOnce(everything, fit_key).add_to(layers)
    chip = next((h.record for h in hits if opened is not None and h.key == opened), None)
    if chip is not None:
        add_opened_chip(layers, chip)
    if overlay is not None:
        overlay.add_to(layers)
    return stable_ids(layers)


def add_opened_chip(layers: Layers, record: ChipRecord) -> None:
    """Outline the opened chip (thick, on top) and bring it into view once per opening."""
    box = footprint_bounds(record)
    if box is None or record.footprint is None:
        return
    folium.Polygon(
        [(lat, lon) for lon, lat in record.footprint.exterior],
        color=OPENED_COLOUR,
        weight=4,
        fill=False,
        tooltip=html_text(f"opened: {record.key}"),
        class_name="closp-opened",
    ).add_to(layers)
    FitBoundsOnce(box, f"open:{record.key}", slot="chip", max_zoom=13).add_to(layers)


def collection_layers(
    records: Sequence[ChipRecord],
    state: SearchState,
    selected: ChipRecord | None,
    data_dir: Path,
    *,
    fit_key: str | None = None,
) -> Layers:
    """Chip centres as clustered markers, the selected chip's preview and footprint, the
    drawn area; framed once per ``fit_key`` (None: never)."""
    layers = Layers(name="collection")
    cluster = offline(folium.plugins.MarkerCluster(name="chips")).add_to(layers)
    points: list[LonLat] = []
    for rec in records:
        if rec.center is None:
            continue
        lon, lat = rec.center
        points.append(rec.center)
        folium.CircleMarker(
            (lat, lon),
            radius=6,
            color="#d7191c" if set(rec.labels) & set(EVENT_LABELS) else "#2c7bb6",
            fill=True,
            fill_opacity=0.8,
            tooltip=html_text(f"{rec.sensor.name} · {', '.join(rec.labels) or 'no labels'}"),
        ).add_to(cluster)
    if selected is not None and selected.footprint is not None:
        box = footprint_bounds(selected)
        url = preview_data_url(
            data_dir, selected.previews.get(composite_for(selected, state.composite))
        )
        if url is not None and box is not None:
            ImageOverlay(url, box, pane=PREVIEW_PANE, interactive=False).add_to(layers)
        folium.Polygon(
            [(la, lo) for lo, la in selected.footprint.exterior],
            color="#d7191c",
            weight=3,
            fill=False,
        ).add_to(layers)
    add_area(layers, state.area)
    bounds = leaflet_bounds(geo.points_bounds(points))
    if fit_key is not None and bounds is not None:
        FitBoundsOnce(bounds, fit_key).add_to(layers)
    return stable_ids(layers)


def hits_at(hits: Sequence[Hit], lon: float, lat: float) -> list[str]:
    """Keys of every hit whose footprint contains the point, best score first (where S1 and
    S2 footprints overlap, a click is on all of them)."""
    return [
        hit.key
        for hit in sorted(hits, key=lambda h: -h.score)
        if hit.record.footprint is not None
        and geo.covers_point(hit.record.footprint.exterior, lon, lat)
    ]


def hit_at(hits: Sequence[Hit], lon: float, lat: float) -> str | None:
    """Key of the best-scoring hit whose footprint contains the point (else ``None``)."""
    found = hits_at(hits, lon, lat)
    return found[0] if found else None


def nearest_record(
    records: Sequence[ChipRecord], lon: float, lat: float, max_deg: float = 0.05
) -> str | None:
    """Key of the chip whose centre is nearest the point, within ``max_deg`` degrees."""
    placed = [rec for rec in records if rec.center is not None]
    index = geo.nearest_point([rec.center for rec in placed if rec.center], (lon, lat), max_deg)
    return None if index is None else placed[index].key
