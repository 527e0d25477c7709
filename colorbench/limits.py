"""Limits shared by the data layer and the command line, in a module that imports nothing (so a parser can show
them as defaults without loading torch)."""
from __future__ import annotations

DEFAULT_MAX_PIXELS = 50_000_000
"""Largest photo a reader decodes, in pixels (50 MP); ``--max-pixels`` / the dataset option ``max_pixels`` change it."""
