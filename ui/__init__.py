"""Streamlit glue of the web app (``app.py`` + ``app_pages/``): cached resources, search state and
URL, sidebar, maps, results. ``closp_core`` never imports this (nor Streamlit)."""
