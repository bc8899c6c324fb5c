"""Add imagery: upload GeoTIFFs, fetch a STAC API search for an area and dates, or read a folder
allowed by settings — ingested by the app's one background job while everyone keeps searching."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from closp_core.bands import Sensor
from closp_core.data import SceneOptions
from closp_core.errors import ClospError
from closp_core.labels import EVENT_LABELS, LAND_COVER_LABELS
from closp_core.settings import Settings
from ingest.job_process import SourceSpec
from ingest.jobs import GRACE_S, INTERRUPTED, JobStatus
from ui.dates import sentinel_date
from ui.imports import (
    UPLOAD_TYPES,
    ImportRefusedError,
    allowed_import_path,
    save_uploads,
    upload_name,
)
from ui.resources import AppContext, explain, get_context, job_runner, start_ingest_job
from ui.stac_tab import stac_tab
from ui.text import md, md_code

SENSOR_CHOICES = {"auto": "From the bands", "s1": "Sentinel-1 (SAR)", "s2": "Sentinel-2 (optical)"}
S1_UNITS = {
    "auto": "As the file says (dB unless tagged linear)",
    "db": "dB",
    "linear": "Linear power",
}


_SEEN = "s_job_seen"  # (title, state, chips done) of the job as this session last drew it
_FULL_RUN = "s_job_full_run"  # True while the whole page runs (the panel is drawn with it)
_FOLLOW = "s_job_follow"  # the panel drew news on its own: the page reruns at the next tick


@st.fragment(run_every=1.0)
def job_panel() -> None:
    """The job, live for every session: progress, rate, ETA, cancel, the last run's summary.
    Whenever a batch lands or the job ends, the panel shows it at once and the whole page
    reruns a tick later, so the status line's chip count and the forms (enabled again)
    follow."""
    full = bool(st.session_state.get(_FULL_RUN))
    if not full and st.session_state.get(_FOLLOW):
        st.session_state[_FOLLOW] = False
        st.rerun()  # the news drawn at the last tick: now the whole page follows
    st.session_state[_FOLLOW] = False
    runner = job_runner()
    status = runner.status()
    seen = (status.title, status.state, status.done)
    previous = st.session_state.get(_SEEN)
    st.session_state[_SEEN] = seen
    # News seen by this panel's own run (a tick, a click on Cancel) is drawn here at once,
    # the cheapest run there is; the page follows at the next tick.
    st.session_state[_FOLLOW] = not full and previous is not None and previous != seen
    if status.state == "idle":
        st.caption("No imagery is being added right now.")
        return
    if status.active:
        share = status.done / status.expected if status.expected else 0.0
        eta = f", about {status.eta_s:.0f} s left" if status.eta_s is not None else ""
        st.progress(
            min(share, 1.0),
            text=f"{md(status.title)}: {status.done} of {status.expected or '?'} chips "
            f"({status.rate:.1f} chips/s{eta}). New chips are searchable as they arrive.",
        )
        if status.state == "running":
            st.button("Cancel", key="job_cancel", on_click=cancel_job)
        else:
            st.caption("Cancelling: nothing more is added; the job stops within a second or two…")
        return
    finished(status)


def cancel_job() -> None:
    """Cancel the job and wait for its end (at most the grace period and a second), so the
    page that reruns after the click already says what became of it."""
    runner = job_runner()
    runner.cancel()
    runner.wait(timeout=GRACE_S + 1.0)


def finished(status: JobStatus) -> None:
    """What the last job did (its summary is shown as plain text)."""
    if status.state == INTERRUPTED:
        st.error(f"{md(status.title)}: interrupted — the app stopped while it ran.")
    else:
        what = {"done": st.success, "cancelled": st.warning, "failed": st.error}[status.state]
        what(f"{md(status.title)}: {status.state} after {status.seconds:.0f} s.")
    st.code(status.report or "(nothing to report)", language=None)


def scene_options(prefix: str, settings: Settings) -> SceneOptions:
    """Sensor, date and labels for every chip of the imagery (widgets keyed by ``prefix``)."""
    left, mid = st.columns(2)
    sensor = left.selectbox(
        "Sensor", list(SENSOR_CHOICES), format_func=SENSOR_CHOICES.__getitem__, key=f"{prefix}_s"
    )
    when = "Acquired (when not in the file)"
    day = sentinel_date(when, key=f"{prefix}_d", container=mid, value=None)
    units = st.columns(2)
    s1_units = units[0].selectbox(
        "Sentinel-1 values",
        list(S1_UNITS),
        format_func=S1_UNITS.__getitem__,
        key=f"{prefix}_u",
    )
    as_they_are = units[1].checkbox(
        "Index the values as they are (skip the units check)",
        key=f"{prefix}_k",
        help="Scenes whose values do not look like the sensor's units are refused unless this "
        "is ticked.",
    )
    event = st.selectbox(
        "Event these images show (optional)",
        [None, *EVENT_LABELS],
        format_func=lambda e: "None" if e is None else e,
        key=f"{prefix}_e",
        help="Stored with every chip as its event label, as the CrisisLandMark corpus labels "
        "its chips; the sidebar's event filter finds them by it.",
    )
    land = st.multiselect(
        "Land cover in every chip (optional)", LAND_COVER_LABELS, key=f"{prefix}_l"
    )
    shifted = st.checkbox(
        "Sentinel-2 values carry the +1000 offset (band files of products from 2022 on, "
        "without their metadata; chips already added are replaced)",
        key=f"{prefix}_o",
        help="A .SAFE product or its .zip says so itself. Checked: 1000 is removed from every "
        "digital number, then values below 0 become 0 (dark water stays data).",
    )
    return SceneOptions(
        sensor=None if sensor == "auto" else Sensor.parse(sensor),
        labels=tuple([event, *land] if event else land),
        fallback_acquired=dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) if day else None,
        s2_offset=1000.0 if shifted else None,
        s1_linear={"auto": None, "db": False, "linear": True}[s1_units],
        units_check=not as_they_are,
    ).with_budgets(settings)


def upload_tab(ctx: AppContext, busy: bool) -> None:
    files = st.file_uploader(
        f"GeoTIFF / COG files (band stacks, or one file per band), JPEG2000 band files (.jp2) "
        f"or a zipped Sentinel-2 product (.SAFE.zip); at most {ctx.settings.upload_max_mb} MB "
        "each. A scene is named after its file; its date comes from the file (date tags, or a "
        "Sentinel name such as T31TCF_20160412T105022_B04.jp2), else from the field below.",
        type=list(UPLOAD_TYPES),
        accept_multiple_files=True,
        key="upload_files",
    )
    options = scene_options("up", ctx.settings)
    if st.button("Add these files", disabled=busy or not files, type="primary", key="up_go"):
        try:
            saved = save_uploads(
                [(f.name, f.getvalue()) for f in files or []],
                ctx.settings.data_dir,
                ctx.settings.upload_max_mb,
            )
            spec = {"options": options, "names": saved.names}
            start_ingest_job(
                ctx,
                upload_title([f.name for f in files or []]),
                [SourceSpec("scene", saved.folder, spec)],
                force=options.s2_offset is not None,
                notes=saved.notes(),
            )
        except ImportRefusedError as exc:  # the files themselves: plain words
            st.error(md(str(exc)))
            return
        except ClospError as exc:
            st.error(explain(exc, ctx.settings))
            return
        st.rerun()


def upload_title(names: list[str]) -> str:
    """The job's title: the uploaded names (escaped where shown), the first three."""
    shown = ", ".join(upload_name(n) for n in names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def folder_tab(ctx: AppContext, busy: bool) -> None:
    roots = ctx.settings.import_paths
    if not roots:
        st.info(
            "The app reads no folders by path. To allow some, start it with `CLOSP_IMPORT_DIRS` "
            "set to them (separated by `:`)."
        )
        return
    st.caption("Allowed: " + ", ".join(md_code(r) for r in roots))
    text = st.text_input("A scene file or folder inside them", key="dir_path")
    options = scene_options("dir", ctx.settings)
    if st.button("Add this folder", disabled=busy or not text, type="primary", key="dir_go"):
        try:
            path = allowed_import_path(text, ctx.settings)
            start_ingest_job(
                ctx,
                f"folder {path.name}",
                [SourceSpec("scene", path, {"options": options, "allowed_roots": roots})],
                force=options.s2_offset is not None,
            )
        except ClospError as exc:
            st.error(explain(exc, ctx.settings))
            return
        st.rerun()


def page() -> None:
    ctx = get_context()
    st.subheader("Add imagery")
    panel = st.container()  # the job's panel goes here, but is drawn last (below)
    try:
        forms(ctx)
    finally:
        # The panel refreshes itself every second (a fragment): drawn last, its timer can never
        # cut the page's own run short before the forms are there (a slow first run was cut
        # off after the panel, leaving the page without its tabs).
        with panel:
            st.session_state[_FULL_RUN] = True
            try:
                job_panel()
            finally:
                st.session_state[_FULL_RUN] = False


def forms(ctx: AppContext) -> None:
    """The three ways to add imagery, or why there are none."""
    if ctx.store is None or ctx.embedder is None:
        return  # app.py has shown what is missing
    if not ctx.store.writable:
        st.warning("The index is read-only: searching works, adding imagery does not.")
        return
    busy = job_runner().status().active
    upload, stac, folder = st.tabs(
        ["Upload files", "Fetch from a STAC API", "Folder on the server"]
    )
    with upload:
        upload_tab(ctx, busy)
    with stac:
        stac_tab(ctx, busy, lambda: scene_options("stac", ctx.settings))
    with folder:
        folder_tab(ctx, busy)


page()
