"""The built-in jobs: the timer poll (enqueued every TIMER_POLL_SECONDS by the worker's
scheduler, see ``app.jobs.consumer``) and the firing of one instance's timers (Retry)."""
from __future__ import annotations

import logging

from app.jobs import job

log = logging.getLogger(__name__)


@job()
def poll_timers() -> None:
    """One polling pass; when the batch was full, another pass is enqueued at once
    so that idle workers share a backlog (30,000 deadlines falling due together).

    Returns nothing: Huey keeps a returned value until someone reads it, and nobody
    reads the result of a poll that runs every TIMER_POLL_SECONDS.
    """
    from flask import current_app

    from app.jobs import huey
    from app.jobs.timers import fire_due_timers

    result = fire_due_timers()
    if result.claimed:
        log.info("timer pass: %d fired, %d fired by another worker, %d failed",
                 len(result.fired), len(result.conflicts), len(result.failed))
    if result.claimed >= current_app.config.get("TIMER_BATCH_SIZE", 200) and not huey.immediate:
        poll_timers()  # inline (immediate) runs would recurse; `flask jobs fire-timers --all` loops instead


@job()
def fire_instance_timers(instance_id: int) -> bool:
    """Fire one instance's due timers (what Retry of a failed firing runs); True if it wrote."""
    from app.extensions import db
    from workflows import engine
    from workflows.models import ProcessInstance

    before = db.session.scalar(db.select(ProcessInstance.version).where(ProcessInstance.id == instance_id))
    instance = engine.fire_timers(instance_id)
    return instance.version != before
