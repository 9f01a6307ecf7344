"""Pages of the plans package."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("plans", __name__)


@bp.get("/plans")
def index():  # type: ignore[no-untyped-def]
    return "todo"
