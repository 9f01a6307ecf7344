"""Pages of the queue package."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("queue", __name__)


@bp.get("/tasks")
def my_tasks():  # type: ignore[no-untyped-def]
    return "todo"


@bp.get("/tasks/groups")
def group_tasks():  # type: ignore[no-untyped-def]
    return "todo"
