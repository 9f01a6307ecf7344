"""Pages of the publication package."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("publication", __name__)


@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    return "todo"


@bp.get("/public/plans")
def plans():  # type: ignore[no-untyped-def]
    return "todo"
