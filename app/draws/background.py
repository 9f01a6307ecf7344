"""Large draws run by a background worker, reporting their progress.

The draw itself stays one engine completion (one transaction): the worker just
performs the coordinator's "run the draw" step for them. Progress cannot be
written to the database meanwhile, since the draw's transaction holds its rows (and,
on SQLite, the whole file) until it commits, so it goes to the job queue's own
key-value store (SQLite file or Redis), which the page polls.
"""
from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any, Callable

from app.auth.models import User
from app.errors import DomainError
from app.extensions import db
from app.jobs import huey, job
from workflows import engine

ProgressFn = Callable[[str, int], None]
current_progress: ContextVar[ProgressFn | None] = ContextVar("draw_progress", default=None)


def _key(task_draw_id: int) -> str:
    return f"suiji:draw-run:{task_draw_id}"


def set_progress(task_draw_id: int, state: str, percent: int, stage: str = "", message: str = "") -> None:
    """Record where a background draw is: queued, running, done or failed."""
    huey.put(_key(task_draw_id), {"state": state, "percent": percent, "stage": stage, "message": message,
                                 "at": time.time()})


def get_progress(task_draw_id: int) -> dict[str, Any] | None:
    """The last recorded progress of a background draw, or None."""
    return huey.get(_key(task_draw_id), peek=True)


def report(stage: str, percent: int) -> None:
    """Called by the draw at its stages; a no-op unless a background run listens."""
    listener = current_progress.get()
    if listener is not None:
        listener(stage, percent)


@job()
def run_draw_in_background(human_task_id: int, user_id: int, task_draw_id: int) -> None:
    """Complete the coordinator's "run the draw" task in a worker."""
    set_progress(task_draw_id, "running", 1, "starting")
    token = current_progress.set(lambda stage, percent: set_progress(task_draw_id, "running", percent, stage))
    try:
        user = db.session.get(User, user_id)
        engine.complete_task(human_task_id, user, {})
    except DomainError as exc:
        db.session.rollback()
        set_progress(task_draw_id, "failed", 0, "failed", exc.message)
        return
    except Exception as exc:  # noqa: BLE001 - the page must learn of any failure; the job failure log keeps the trace
        db.session.rollback()
        set_progress(task_draw_id, "failed", 0, "failed", str(exc)[:500])
        raise
    finally:
        current_progress.reset(token)
    set_progress(task_draw_id, "done", 100, "done")
