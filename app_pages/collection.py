"""Collection: what is indexed, where, with which model on which device, how to add more."""

from __future__ import annotations

import streamlit as st

from closp_core.errors import ClospError
from closp_core.model.demo import describe_model, describe_model_id
from ui.resources import AppContext, explain, get_context
from ui.text import md, md_code

GRAPH_WORTH_IT = 10_000  # chips outside the HNSW graph before rebuilding it pays off
COUNTS = (
    ("sensor", "By sensor"),
    ("label", "By label"),
    ("source", "By source"),
    ("month", "By month"),
)
INGEST_HELP = """\
python -m ingest demo                                   # the shipped sample corpus
python -m ingest scene S2_folder/ --date 2023-08-20 --labels "Burned Area"
python -m ingest scene flood_S1.tif --sensor s1 --linear
python -m ingest bigearthnet BigEarthNet-S2/
python -m ingest crisislandmark ~/data/crisislandmark --split corpus
python -m ingest stac items.json
python -m ingest info                                   # what is indexed
"""


def counts(ctx: AppContext) -> None:
    """Counts by sensor, label, source and month, each with a small bar chart."""
    if ctx.store is None:
        return
    columns = st.columns(2)
    for i, (field, title) in enumerate(COUNTS):
        with columns[i % 2]:
            st.markdown(f"**{title}**")
            data = ctx.store.counts_by(field)
            if field == "month":  # chips without an acquisition time have no month
                undated = ctx.store.count() - sum(data.values())
                data = data | ({"undated": undated} if undated > 0 else {})
            if not data:
                st.caption("nothing yet")
                continue
            st.bar_chart(
                {"chips": list(data.values())} | {field: list(data)},
                x=field,
                y="chips",
                horizontal=field != "sensor",  # long names and many months read sideways
                height=max(260, 22 * len(data)),
            )


def page() -> None:
    ctx = get_context()
    st.subheader("What is indexed")
    if ctx.store is not None:
        try:
            info = ctx.store.info()
            left, mid, right = st.columns(3)
            left.metric("Chips", info.points)
            mid.metric(
                "In the search graph",
                info.indexed_vectors,
                help="Chips in the HNSW graph are found by a fast approximate search; the "
                "others (just added, e.g. from Add imagery) are searched exactly: correct, "
                "only slower as they grow. 0 on a small index is normal: below a few "
                "thousand chips an exact search is as fast.",
            )
            outside = info.points - info.indexed_vectors
            right.metric(
                "Index size", f"{info.disk_bytes / 1e6:.1f} MB" if info.disk_bytes else "n/a"
            )
            st.markdown(
                f"**Back end** {md(info.backend)} · **location** {md_code(info.location)} · "
                f"**previews** {md_code(ctx.settings.data_dir / 'previews')}  \n"
                f"**Index built with** {md(describe_model_id(info.model_id))}"
            )
            if outside >= GRAPH_WORTH_IT and info.backend == "edge":
                st.caption(
                    f"{outside} chips are not in the search graph yet: they are searched exactly "
                    "(correct, slower as they grow). The app never builds the graph itself (that "
                    "would pause it); run `python -m ingest optimize` while the app is stopped."
                )
            if not ctx.store.tiled:
                st.caption(
                    "Written by an older version: map filters are exact but slower. "
                    "To speed them up, delete the index and ingest again."
                )
            counts(ctx)
        except ClospError as exc:
            st.error(explain(exc, ctx.settings))
    else:
        st.info("No index yet: open the Search page to build the demo index.")
    st.subheader("Model and device")
    if ctx.embedder is not None:
        device = ctx.embedder.device
        kind = "GPU" if device.type == "cuda" else ("Apple GPU" if device.type == "mps" else "CPU")
        st.markdown(
            f"{md(describe_model(ctx.embedder.model))}  \n**Device** {md_code(device)} ({kind})"
        )
    else:
        st.markdown("No model loaded (see the message at the top).")
    st.subheader("Ingest more")
    st.markdown(
        "From this app: **Add imagery** (in the menu) takes uploaded GeoTIFFs and Sentinel-2 "
        "products, a STAC API search for the map area, or a folder the operator allowed; the "
        "search keeps working while it runs."
    )
    st.page_link(
        "app_pages/add_imagery.py", label="Add imagery", icon=":material/add_photo_alternate:"
    )
    st.markdown(
        "From a shell, for whole corpora: `python -m ingest` (below). The embedded index has "
        "one owning process, so stop the app first, or run a Qdrant server and set "
        "`CLOSP_STORE_URL` to ingest while searching. Settings come from the same `CLOSP_*` "
        "variables (`CLOSP_DATA_DIR` for the index and previews)."
    )
    st.code(INGEST_HELP, language="bash")


page()
