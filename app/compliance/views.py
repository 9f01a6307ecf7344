"""Imports every compliance view module so that their routes are on the blueprint."""
from __future__ import annotations

from app.compliance import trace_views  # noqa: F401  (trace pages)
from app.compliance import rules_views  # noqa: F401  (rule checks)
from app.compliance import figures_views  # noqa: F401  (figures, charts, XLSX)
from app.compliance import eventlog_views  # noqa: F401  (event log: XES and CSV)
from app.compliance.blueprint import bp

__all__ = ["bp"]
