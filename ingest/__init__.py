"""The indexing pipeline: chips -> embeddings -> vector store, with previews.

Run it as ``python -m ingest`` (see ``ingest/cli.py``).
"""
