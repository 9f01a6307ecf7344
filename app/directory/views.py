"""Pages of the directory package."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("directory", __name__)


@bp.get("/directory/check-items")
def check_items():  # type: ignore[no-untyped-def]
    return "todo"


@bp.get("/directory/entities")
def entities():  # type: ignore[no-untyped-def]
    return "todo"


@bp.get("/directory/inspectors")
def inspectors():  # type: ignore[no-untyped-def]
    return "todo"


@bp.get("/directory/departments")
def departments():  # type: ignore[no-untyped-def]
    return "todo"
