"""The score map on the Search page: every chip in view scored (``closp_core.scoremap``), drawn
as one raster overlay with a legend, an opacity and a threshold slider, the area above the
threshold per sensor, and the exports. The map, its threshold and the S1/S2 rule are in the
share link (``ui.state``: ``smap``, ``st``, ``sc``); the change mode draws after − before.
"""

from __future__ import annotations

import dataclasses
import io
import tempfile
import zipfile
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import streamlit as st
from folium.raster_layers import ImageOverlay

from closp_core.errors import ClospError
from closp_core.feedback import FeedbackLabels
from closp_core.scoremap import AreaCache, ScoreKind, ScoreMap, ScoreMapRequest, score_map
from closp_core.scoremap.export import write_area, write_cog, write_exports
from closp_core.scoremap.imagery import ImageryReport
from closp_core.scoremap.sidefile import side_file_path
from closp_core.store import VectorStore
from ui import session
from ui.query import request_for
from ui.resources import AppContext, explain
from ui.state import COMBINES, SearchState

W_THRESHOLD = "w_score_t"
W_OPACITY = "w_score_opacity"
W_IMAGERY = "w_score_imagery"
_MEMO = "s_scoremap_memo"
_PENDING = "s_scoremap_pending"  # (request key, Future) of the map being computed
INLINE_WAIT_S = 0.5  # a map done within this is drawn in the same run
POLL_S = 0.5  # how often the page looks whether a longer one is done
_IMAGERY = "s_scoremap_imagery"  # (request key, zip bytes, ImageryReport) of the last export
COMBINE_LABELS = {
    "either": "either sensor (higher score)",
    "both": "both agree (lower score)",
    "s1": "S1 only",
    "s2": "S2 only",
}


@st.cache_resource(show_spinner=False)
def area_cache(model_id: str, location: str, size: int, side_file: Path) -> AreaCache:
    """The areas' chips of one index and model, kept for the whole app (read from the side
    file when it is there and current)."""
    return AreaCache(size, side_file)


def scoremap_request(state: SearchState, labels: FeedbackLabels) -> ScoreMapRequest:
    """The score map of ``state``: the chips in the map view (and the drawn area), scored by
    the query and the marks; in change mode after − before the event date."""
    in_view = dataclasses.replace(state, in_view=True) if state.bbox else state
    change = state.event_date if state.mode == "change" else None
    return ScoreMapRequest(
        request_for(in_view, labels),
        combine=state.score_combine,  # type: ignore[arg-type]
        change_after=change,
    )


@st.cache_resource(show_spinner=False)
def scoring_pool() -> ThreadPoolExecutor:
    """The app's one score-map worker thread (maps queue: one at a time keeps a core for
    queries and page runs)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="scoremap")


def current_map(ctx: AppContext, state: SearchState, labels: FeedbackLabels) -> ScoreMap | None:
    """The score map of ``state`` (memoised per request and index size), or ``None`` while it
    is computed or after showing why there is none.

    Scoring runs on ``scoring_pool``, never in the page's run: a map done within
    ``INLINE_WAIT_S`` is drawn in this run; a longer one (a 1M-chip area) leaves the page as it
    is (gallery, map, list usable) with a note that polls (``_await_map``) and reruns the page
    when the map is ready."""
    if ctx.store is None or ctx.embedder is None:
        return None
    try:
        request = scoremap_request(state, labels)
    except ClospError as exc:
        st.error(explain(exc, ctx.settings))
        return None
    key = (state.search_key(), state.bbox, state.score_combine, ctx.store.count())
    memo = st.session_state.get(_MEMO)
    if memo is not None and memo[0] == key:
        return memo[1]  # type: ignore[no-any-return]
    pending = st.session_state.get(_PENDING)
    if pending is None or pending[0] != key:
        if pending is not None:
            pending[1].cancel()  # a map no longer asked for: dropped if it has not started
        settings = ctx.settings
        side = side_file_path(settings)
        cache = area_cache(ctx.store.model_id, str(side), settings.score_map_cache_areas, side)
        job = scoring_pool().submit(
            score_map, ctx.store, request, ctx.embedder, settings=settings, cache=cache
        )
        pending = st.session_state[_PENDING] = (key, job)
    futures.wait([pending[1]], timeout=INLINE_WAIT_S)
    if not pending[1].done():
        _await_map(key)
        return None
    del st.session_state[_PENDING]
    try:
        smap = pending[1].result()
    except ClospError as exc:
        st.error(explain(exc, ctx.settings))
        return None
    st.session_state[_MEMO] = (key, smap)
    return smap  # type: ignore[no-any-return]


@st.fragment(run_every=POLL_S)
def _await_map(key: tuple[object, ...]) -> None:
    """A note while the map of ``key`` is computed; reruns the page once it is done."""
    pending = st.session_state.get(_PENDING)
    if pending is None or pending[0] != key or pending[1].done():
        st.rerun()
    st.caption("⏳ Scoring every chip in view… the map, list and gallery stay usable.")


def threshold_of(state: SearchState, smap: ScoreMap) -> float:
    """The threshold in use: the link's, else the suggested one."""
    return smap.suggested if state.score_threshold is None else state.score_threshold


def colours(smap: ScoreMap) -> tuple[str, float, float]:
    """Colour map name and the score range it spans."""
    finite = smap.scores[np.isfinite(smap.scores)]
    if smap.kind is ScoreKind.CHANGE:
        span = float(np.abs(finite).max()) if len(finite) else 1.0
        return "RdBu_r", -span, span
    if smap.kind is ScoreKind.PROBABILITY:
        return "viridis", 0.0, 1.0
    return "viridis", float(finite.min()), float(finite.max())


def overlay(smap: ScoreMap, threshold: float, opacity: float) -> ImageOverlay:
    """The combined grid as one RGBA image over its bounds: coloured where ≥ ``threshold``,
    faint below it, clear where no chip (places seen on one date only: grey, change mode)."""
    from matplotlib import colormaps

    name, low, high = colours(smap)
    values = smap.grid.values
    scaled = np.clip((values - low) / max(high - low, 1e-9), 0, 1)
    rgba = colormaps[name](np.nan_to_num(scaled))
    with np.errstate(invalid="ignore"):
        above = values >= threshold
    rgba[..., 3] = np.where(np.isnan(values), 0.0, np.where(above, opacity, 0.15 * opacity))
    if smap.side is not None:
        one_side = np.isfinite(smap.side.values) & np.isnan(values)
        rgba[one_side] = (0.5, 0.5, 0.5, 0.5 * opacity)
    west, south, east, north = smap.grid.bounds
    image = (rgba * 255).astype(np.uint8)
    return ImageOverlay(image, [[south, west], [north, east]], interactive=False, zindex=2)


def legend(smap: ScoreMap, threshold: float) -> None:
    """A colour bar with its range and the threshold."""
    from matplotlib import colormaps

    name, low, high = colours(smap)
    bar = (colormaps[name](np.linspace(0, 1, 256))[None, :, :3] * 255).astype(np.uint8)
    st.image(np.repeat(bar, 12, axis=0), width="stretch")
    st.caption(
        f"{smap.kind.value}: {low:.3f} … {high:.3f} · coloured where ≥ {threshold:.3f}, faint "
        "below, clear where no chip" + (" · grey: seen on one date only" if smap.side else "")
    )


def _set_threshold() -> None:
    session.update(score_threshold=round(float(st.session_state[W_THRESHOLD]), 4))


def controls(smap: ScoreMap, state: SearchState) -> float:
    """Threshold, opacity and S1/S2 rule, the legend and the area figures; the opacity."""
    _, low, high = colours(smap)
    t = min(max(threshold_of(state, smap), low), high)
    st.session_state[W_THRESHOLD] = t
    step = max((high - low) / 200, 1e-4)
    st.slider("Threshold: where score ≥ t", low, high, key=W_THRESHOLD, step=step,
              on_change=_set_threshold, format="%.3f")  # fmt: skip
    opacity = st.slider("Opacity", 0.0, 1.0, 0.7, 0.05, key=W_OPACITY)
    st.radio("S1 and S2", COMBINES, key=session.W_SCORE_COMBINE, horizontal=True,
             format_func=COMBINE_LABELS.__getitem__)  # fmt: skip
    legend(smap, t)
    figures(smap, t)
    return float(opacity)


def figures(smap: ScoreMap, threshold: float) -> None:
    """km² and chips ≥ t per sensor, with the dates used."""
    per = smap.figures(threshold)
    cols = st.columns(3)
    cols[0].metric("Area ≥ t (map)", f"{smap.km2(threshold):,.2f} km²")
    for col, (name, fig) in zip(cols[1:], per.items(), strict=True):
        chips = f"{fig.chips} of {fig.scored} chips"
        col.metric(f"{name.upper()} ≥ t", f"{fig.km2:,.2f} km²", chips, delta_color="off")
    dates = sorted({d for f in per.values() for d in f.dates})
    st.caption(
        f"{len(smap.table):,} chips scored in {sum(smap.timings.values()):.0f} ms · "
        f"dates ≥ t: {', '.join(dates) or 'none'}"
    )


def downloads(smap: ScoreMap, threshold: float, store: VectorStore | None = None) -> None:
    """The score map (COG) and the area ≥ t (GeoJSON, GeoPackage) as downloads; with a
    ``store``, a button that exports the top chips' imagery (``imagery_export``)."""
    smap = dataclasses.replace(smap, threshold=threshold)
    with tempfile.TemporaryDirectory() as folder:
        files = {
            "score-map.tif": write_cog(smap, Path(folder) / "score-map.tif"),
            "area.geojson": write_area(smap, Path(folder) / "area.geojson"),
            "area.gpkg": write_area(smap, Path(folder) / "area.gpkg"),
        }
        data = {name: path.read_bytes() for name, path in files.items()}
    cols = st.columns(len(data))
    for col, (name, body) in zip(cols, data.items(), strict=True):
        col.download_button(name, body, file_name=name, key=f"dl_scoremap_{name}")
    if store is not None:
        imagery_export(smap, store)


def imagery_export(smap: ScoreMap, store: VectorStore) -> None:
    """ "Export imagery": the top chips read again from their sources as COGs, zipped with the
    score map, ``report.json`` and the STAC ItemCollection; chips not exported are named."""
    memo = st.session_state.get(_IMAGERY)
    key = (smap.request.cache_key(), tuple(smap.top_keys))
    if st.button(f"Export imagery of the top {len(smap.top)} chips", key=W_IMAGERY):
        with st.spinner("Reading the chips' sources…"):
            memo = (key, *_imagery_zip(smap, store))
        st.session_state[_IMAGERY] = memo
    if memo is None or memo[0] != key:
        return
    _, body, report = memo
    st.download_button("imagery.zip", body, file_name="imagery.zip", key="dl_scoremap_imagery")
    st.caption(f"{len(report.written)} of {len(report.chips)} chips exported")
    for line in report.missing[:20]:
        st.warning(f"{line.key}: not exported: {line.reason}")


def _imagery_zip(smap: ScoreMap, store: VectorStore) -> tuple[bytes, ImageryReport]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        written = write_exports(
            smap,
            score_map=root / "score-map.tif",
            stac=root / "stac.json",
            imagery=root / "imagery",
            store=store,
        )
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    zipped.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue(), written.imagery or ImageryReport(())
