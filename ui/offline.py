"""Maps that work with no internet: Leaflet and plugins from ``static/``, an offline basemap.

Streamlit serves ``static/`` at ``/app/static/`` (``server.enableStaticServing``); folium
elements list the scripts and stylesheets they need in ``default_js`` / ``default_css``, which
``streamlit-folium`` loads inside its iframe one after another (a single unreachable CDN link
stops the whole map). ``offline(element)`` points an element at the local copies. jQuery is kept
(folium's popups are built with ``$(...)``); Bootstrap and the awesome-markers icons are dropped
(nothing here uses them).

Basemaps: the Natural Earth countries layer (``static/basemap``) is drawn from the local file in
its own pane below the chip previews, so footprints and previews always have context. The online
tile layers (OpenStreetMap, Esri World Imagery) are optional: chosen in the sidebar, they load
when the network is there and simply stay blank when it is not.
"""

from __future__ import annotations

from typing import TypeVar

import folium
import folium.plugins
from branca.element import MacroElement
from jinja2 import Template

STATIC_URL = "/app/static"
COUNTRIES_URL = f"{STATIC_URL}/basemap/countries-110m.geojson"
_ASSETS: dict[type, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {
    folium.Map: (
        [
            ("leaflet", f"{STATIC_URL}/leaflet/leaflet.js"),
            ("jquery", f"{STATIC_URL}/jquery/jquery.min.js"),
        ],
        [("leaflet_css", f"{STATIC_URL}/leaflet/leaflet.css")],
    ),
    folium.plugins.Draw: (
        [("leaflet_draw_js", f"{STATIC_URL}/leaflet-draw/leaflet.draw.js")],
        [("leaflet_draw_css", f"{STATIC_URL}/leaflet-draw/leaflet.draw.css")],
    ),
    folium.plugins.SideBySideLayers: (
        [("leaflet.sidebyside", f"{STATIC_URL}/leaflet-side-by-side/leaflet-side-by-side.js")],
        [
            ("leaflet.sidebyside.layout", f"{STATIC_URL}/leaflet-side-by-side/layout.css"),
            ("leaflet.sidebyside.range", f"{STATIC_URL}/leaflet-side-by-side/range.css"),
        ],
    ),
    folium.plugins.MarkerCluster: (
        [("markerclusterjs", f"{STATIC_URL}/markercluster/leaflet.markercluster.js")],
        [
            ("markerclustercss", f"{STATIC_URL}/markercluster/MarkerCluster.css"),
            ("markerclusterdefaultcss", f"{STATIC_URL}/markercluster/MarkerCluster.Default.css"),
        ],
    ),
}
TILES = {
    "osm": (
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "&copy; OpenStreetMap contributors",
        "OpenStreetMap (online)",
    ),
    "esri": (
        "https://server.arcgisonline.com/ArcGIS/rest/services/World_Imagery/MapServer/tile/{z}/{y}/{x}",
        "Tiles &copy; Esri, Maxar, Earthstar Geographics, and the GIS User Community",
        "Esri World Imagery (online)",
    ),
}
BASEMAP_PANE = "basemap"  # z 250: above tiles (200), below previews and footprints
PREVIEW_PANE = "previews"  # z 350: below the footprint outlines in overlayPane (400)
E = TypeVar("E", bound=MacroElement)


def offline(element: E) -> E:
    """Point ``element``'s scripts and stylesheets at ``static/`` (Map, Draw, MarkerCluster)."""
    for kind, (js, css) in _ASSETS.items():
        if isinstance(element, kind):
            element.default_js = js  # type: ignore[attr-defined]
            element.default_css = css  # type: ignore[attr-defined]
            return element
    raise TypeError(f"no offline assets for {type(element).__name__}; add them to ui/offline.py")


class CountriesLayer(MacroElement):
    """Natural Earth country outlines fetched from ``static/`` at run time (not inlined, so
    every map stays small), in their own pane, not clickable."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        fetch({{ this.url|tojson }})
            .then(function (response) { return response.json(); })
            .then(function (data) {
                L.geoJSON(data, {
                    pane: {{ this.pane|tojson }},
                    interactive: false,
                    style: {color: "#8a94a6", weight: 0.8, fillColor: "#eef0e6",
                            fillOpacity: {{ this.fill_opacity }}}
                }).addTo({{ this._parent.get_name() }});
            });
        {% endmacro %}
        """
    )

    def __init__(self, url: str = COUNTRIES_URL, pane: str = BASEMAP_PANE, filled: bool = True):
        super().__init__()
        self._name = "CountriesLayer"
        self.url = url
        self.pane = pane
        self.fill_opacity = 1.0 if filled else 0.0


def base_map(basemap: str = "offline", height_hint: int = 2) -> folium.Map:
    """An offline-capable map: no default tiles, the countries layer, panes for previews, and
    the online tile layer ``basemap`` ("osm" | "esri") when asked for."""
    fmap = offline(
        folium.Map(
            location=(20.0, 0.0),
            zoom_start=height_hint,
            tiles=None,
            control_scale=True,
            maxZoom=19,  # Leaflet option (folium's max_zoom only reaches tile layers)
        )
    )
    fmap.get_root().header.add_child(  # type: ignore[attr-defined]  # sea colour
        folium.Element("<style>.leaflet-container{background:#dbe7f0;}</style>")
    )
    folium.map.CustomPane(BASEMAP_PANE, z_index=250, pointer_events=False).add_to(fmap)
    folium.map.CustomPane(PREVIEW_PANE, z_index=350, pointer_events=False).add_to(fmap)
    if basemap in TILES:
        url, attribution, name = TILES[basemap]
        folium.TileLayer(url, attr=attribution, name=name, max_zoom=19).add_to(fmap)
    CountriesLayer(filled=basemap not in TILES).add_to(fmap)
    return fmap
