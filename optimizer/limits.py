"""Bounds of a study that modules with few imports need too (the early worker start)."""

from __future__ import annotations

__all__ = ["DEFAULT_WORKERS", "MAX_WORKERS"]

#: Worker processes when a study file names none.
DEFAULT_WORKERS = 1

#: The most worker processes a study may ask for: more than any one machine has cores,
#: and a bound that keeps a typo (``workers: 1000000``) from starting a process storm.
MAX_WORKERS = 256
