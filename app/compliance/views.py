"""Imports every compliance view module so that their routes are on the blueprint."""
from __future__ import annotations

from app.compliance import trace_views  # noqa: F401  (trace pages)
from app.compliance import eventlog_views  # noqa: F401  (event log: XES and CSV)
from app.compliance.blueprint import bp

__all__ = ["bp"]
