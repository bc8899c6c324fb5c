"""Cached resources (settings, model, store), the status line and the empty/failure states.

The embedded index is owned by one process: the app opens the store once per process
(``st.cache_resource``) and keeps it; the "build the demo index" button therefore ingests
in-process through that same handle (a ``python -m ingest`` subprocess could not open it).

Only our own errors (``ClospError``) are caught; each is shown with what to check next.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
import streamlit as st

from closp_core.data import ChipSource
from closp_core.data.samples import sample_sources
from closp_core.embedder import Embedder, threads_for
from closp_core.errors import ClospError, ConfigError, WeightsUnavailableError
from closp_core.model.demo import describe_model, describe_model_id
from closp_core.scoremap.sidefile import side_file_path
from closp_core.settings import Settings
from closp_core.store import (
    StoreDiskFullError,
    StoreError,
    StoreLockedError,
    StoreUnavailableError,
    VectorStore,
    open_store,
    stored_model_id,
)
from ingest.job_process import JobSpec, SourceSpec
from ingest.jobs import JobRunner
from ingest.pipeline import Ingestor, IngestSummary
from ui.text import md, md_code

# The chip sources of the "build the demo index" button (tests swap in a smaller list).
demo_sources: Callable[[], list[ChipSource]] = sample_sources


@dataclasses.dataclass
class AppContext:
    """What every page needs. ``embedder``/``store`` are ``None`` when they could not load;
    ``problems`` then holds the errors to show."""

    settings: Settings
    embedder: Embedder | None
    store: VectorStore | None
    problems: list[ClospError]

    @property
    def has_location_encoder(self) -> bool:
        """Whether "Near here" is possible (a GeoCLOSP model is loaded)."""
        return self.embedder is not None and self.embedder.model.has_location_encoder


@st.cache_resource(show_spinner="Loading the CLOSP model…")
def load_embedder(_settings: Settings, key: str) -> Embedder:
    """The embedder of ``settings`` (one per process and model configuration), warmed up so
    the first query is as fast as the next ones."""
    embedder = Embedder.from_settings(_settings, role="app")  # 1 thread: see embedder.py
    embedder.encode_text(["warm-up"])
    return embedder


@st.cache_resource(show_spinner="Opening the index…")
def open_index(_settings: Settings, key: str, model_id: str) -> VectorStore:
    """The store, opened once per process (it owns the embedded index folder)."""
    return open_store(_settings, model_id)


def _model_key(settings: Settings) -> str:
    return repr(
        (
            settings.model,
            settings.model_revision,
            settings.demo_fallback,
            settings.device,
            settings.batch_size,
            settings.threads,
            settings.app_threads,
        )
    )


def _store_key(settings: Settings) -> str:
    return repr((str(settings.data_dir), settings.store_url, settings.collection))


def get_context() -> AppContext:
    """Settings, model and store for this run; problems collected, never raised."""
    try:
        settings = Settings.load()
    except ConfigError as exc:
        st.error(f"The settings are invalid: {md(exc)}")
        st.stop()
    problems: list[ClospError] = []
    embedder = store = None
    try:
        embedder = load_embedder(settings, _model_key(settings))
    except ClospError as exc:
        problems.append(exc)
    try:
        model_id = embedder.model_id if embedder else stored_model_id(settings)
        if model_id is not None:
            store = _available_index(settings, model_id)
    except ClospError as exc:
        problems.append(exc)
    return AppContext(settings, embedder, store, problems)


def _available_index(settings: Settings, model_id: str) -> VectorStore:
    """The cached store, checked: a folder that was replaced since it was opened (an index
    deleted and built again, a disk swapped) is reopened; one that has gone raises
    ``StoreUnavailableError`` until it is back (the cached handle is kept for that)."""
    store = open_index(settings, _store_key(settings), model_id)
    try:
        store.check_available()
    except StoreUnavailableError as exc:
        if not exc.replaced:
            raise
        store.close()
        open_index.clear()
        store = open_index(settings, _store_key(settings), model_id)
    return store


@st.cache_data(max_entries=512, show_spinner=False)
def encode_query(_embedder: Embedder, model_id: str, text: str) -> np.ndarray:
    """The text's CLOSP vector ``(384,) float32`` (cached per model and text)."""
    return _embedder.encode_text([text])[0]


def explain(problem: ClospError, settings: Settings) -> str:
    """A message for people: the error and what to check next."""
    where = md_code(settings.store_url or settings.index_dir / settings.collection)
    if isinstance(problem, WeightsUnavailableError):
        hint = (
            "No model weights. Fetch them on a connected machine (`hf download "
            "DarthReca/CLOSP-RN config.json model.safetensors`) and copy the Hugging Face "
            "cache here, or set `CLOSP_MODEL` to a folder with those two files; "
            "`CLOSP_DEMO_FALLBACK=1` uses the shipped demo model instead."
        )
    elif isinstance(problem, StoreUnavailableError):
        hint = (
            f"The index at {where} has gone: deleted, moved, or its disk unmounted. Nothing "
            "is written while it is away; put it back and reload this page (or restart the app "
            "to start a new, empty index there)."
        )
    elif isinstance(problem, StoreDiskFullError):
        hint = (
            f"Disk full: the disk of the index at {where} has too little free space. Nothing "
            "was lost and searching resumes once space is freed there; ask the operator to "
            "free some, then reload this page."
        )
    elif isinstance(problem, StoreLockedError):
        hint = (
            f"The index at {where} is held by another process (is `python -m ingest` "
            "running?). Wait for it to finish, then reload this page; to search while "
            "ingesting, run a Qdrant server and set `CLOSP_STORE_URL`."
        )
    elif isinstance(problem, StoreError):
        hint = (
            f"The index at {where} cannot be used. Check `CLOSP_DATA_DIR` / "
            "`CLOSP_STORE_URL` (is the Qdrant server running and reachable?), "
            "`CLOSP_COLLECTION` and `CLOSP_STORE_API_KEY`."
        )
    else:
        hint = "Check the `CLOSP_*` settings (see README)."
    return f"{hint}\n\n`{type(problem).__name__}`: {md(problem)}"


def show_problems(ctx: AppContext) -> None:
    """One ``st.error`` per problem, with what to check."""
    for problem in ctx.problems:
        st.error(explain(problem, ctx.settings))


def status_line(ctx: AppContext) -> None:
    """Model (official / demo / random, by name), device and chip count."""
    parts = []
    if ctx.embedder is not None:
        parts.append(f"**Model** {md(describe_model(ctx.embedder.model))}")
        parts.append(f"**device** {md(ctx.embedder.device)}")
    else:
        parts.append("**Model** not loaded")
    if ctx.store is not None:
        try:
            parts.append(f"**{ctx.store.count()} chips** indexed")
        except ClospError as exc:
            parts.append(f"index unavailable ({type(exc).__name__})")
        if not ctx.store.writable:
            parts.append("index read-only (search works, adding imagery does not)")
        if ctx.embedder is None:
            parts.append(f"index built with {md(describe_model_id(ctx.store.stored_model_id))}")
    else:
        parts.append("no index")
    st.caption(" · ".join(parts))


def chip_count(ctx: AppContext) -> int:
    """Chips in the index (0 when there is no store)."""
    return ctx.store.count() if ctx.store is not None else 0


def build_demo_index(ctx: AppContext) -> IngestSummary:
    """Index the shipped samples in-process with the app's own store handle."""
    if ctx.embedder is None or ctx.store is None:
        raise ClospError("the model or the index is not available; see the messages above")
    ctx.store.check_writable()
    bar = st.progress(0.0, text="Indexing the shipped samples…")

    def on_batch(done: int, expected: int) -> None:
        bar.progress(min(done / max(expected, 1), 1.0), text=f"Indexed {done} chips…")

    ingestor = Ingestor(
        ctx.embedder,
        ctx.store,
        ctx.settings.data_dir,
        batch_size=ctx.settings.batch_size,
        progress=False,
        threads=threads_for("background", ctx.settings),  # queries keep a core
        on_batch=on_batch,
        side_file=side_file_path(ctx.settings),
    )
    summary = ingestor.run_many(demo_sources())
    ctx.store.optimize()  # 126 chips: instant (a large index is never optimised by the app)
    ctx.store.flush()
    return summary


def empty_index_prompt(ctx: AppContext) -> None:
    """No chips yet: say so and offer the button that builds the demo index."""
    where = md_code(ctx.settings.store_url or ctx.settings.index_dir / ctx.settings.collection)
    st.info(
        f"The index at {where} is empty. Build the demo index from the real Sentinel-1/-2 "
        "samples shipped with the project (126 chips, about a minute on a laptop CPU), or "
        "ingest your own imagery with `python -m ingest` (see the Collection page)."
    )
    if st.button("Build the demo index", type="primary", key="build_demo"):
        try:
            summary = build_demo_index(ctx)
        except ClospError as exc:
            st.error(explain(exc, ctx.settings))
            return
        st.success(md(summary.report()))
        st.rerun()


JOB_STATE_FILE = "app-job.json"  # under the data folder: what became of the last job


@st.cache_resource
def job_runner() -> JobRunner:
    """The process's one background ingest job (shared by every session); its state is kept
    in ``<data dir>/app-job.json`` so a restarted app tells what became of a job it lost."""
    try:
        return JobRunner(Settings.load().data_dir / JOB_STATE_FILE)
    except ConfigError:  # get_context shows the invalid settings
        return JobRunner()


def start_ingest_job(
    ctx: AppContext,
    title: str,
    sources: Sequence[SourceSpec],
    *,
    force: bool = False,
    notes: Sequence[str] = (),
) -> None:
    """Start the job ingesting ``sources`` into the app's own store, in a child process of
    its own (``ingest.jobs``); ``force`` re-embeds chips already indexed. ``JobBusyError`` when
    one is running, ``StoreError`` when the index cannot take writes."""
    if ctx.embedder is None or ctx.store is None:
        raise ClospError("the model or the index is not available; see the messages above")
    ctx.store.check_writable()
    spec = JobSpec(title, tuple(sources), ctx.settings, ctx.embedder.model_id, force,
                   tuple(notes))  # fmt: skip
    job_runner().start(spec, ctx.store)
