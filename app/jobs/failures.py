"""Failed jobs: recorded in ``job_failure`` (Huey's SIGNAL_ERROR), listed on the admin page, retried."""
from __future__ import annotations

import json
import logging
import traceback as tb
from typing import Any

from huey import signals
from huey.exceptions import HueyException
from sqlalchemy.orm import Session

from app.errors import Conflict, NotFound
from app.extensions import db
from app.jobs.models import JobFailure
from workflows import clock

log = logging.getLogger(__name__)
_connected = False


def connect() -> None:
    """Record final job errors (idempotent)."""
    global _connected
    if _connected:
        return
    from app.jobs import huey

    huey.signal(signals.SIGNAL_ERROR)(_on_error)
    _connected = True


def task_name(task: Any) -> str:
    """Huey's registry name of a task instance or class (what Retry looks up)."""
    from app.jobs import huey

    return huey._registry.task_to_string(task if isinstance(task, type) else type(task))


def _on_error(signal: str, task: Any, exc: BaseException | None = None, *rest: Any) -> None:
    if task.retries:  # Huey will run it again: not a failure yet
        return
    args, kwargs = task.data if task.data else ((), {})
    record_failure(task_name(task), list(args), dict(kwargs), exc, huey_task_id=task.id)


def record_failure(job_name: str, args: list[Any], kwargs: dict[str, Any], exc: BaseException | None,
                   *, huey_task_id: str = "") -> int | None:
    """Write a job_failure row in a transaction and session of its own; returns its id."""
    from app.jobs import worker_app

    error = f"{type(exc).__name__}: {exc}" if exc is not None else "unknown error"
    trace = "".join(tb.format_exception(exc)) if exc is not None else ""
    try:
        with worker_app().app_context(), Session(db.engine) as session:
            row = JobFailure(
                job_name=job_name[:200], args=_jsonable(args), kwargs=_jsonable(kwargs),
                huey_task_id=str(huey_task_id or "")[:64], error=error, traceback=trace, failed_at=clock.now(),
            )
            session.add(row)
            session.commit()
            return row.id
    except Exception:  # noqa: BLE001 - never let bookkeeping hide the original failure
        log.exception("could not record the failure of job %s%r: %s", job_name, args, error)
        return None


def retry(failure_id: int) -> None:
    """Enqueue the failed job again with its arguments; marks the row retried (commits)."""
    from app.jobs import huey

    row = db.session.get(JobFailure, failure_id)
    if row is None:
        raise NotFound(f"no job failure {failure_id}")
    if row.retried_at is not None:
        raise Conflict("this job was already retried")
    try:
        task_class = huey._registry.string_to_task(row.job_name)
    except HueyException:
        raise NotFound(f"no job named {row.job_name!r} is registered") from None
    row.retried_at = clock.now()
    db.session.commit()  # before enqueueing: an inline (immediate) run must not wait for our write lock
    huey.enqueue(task_class(args=tuple(row.args or ()), kwargs=dict(row.kwargs or {})))


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
