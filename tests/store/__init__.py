"""Tests of the vector store (closp_core/store)."""
