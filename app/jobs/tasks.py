"""The built-in jobs: the timer poll (enqueued every TIMER_POLL_SECONDS by the worker's
scheduler, see ``app.jobs.consumer``) and the firing of one instance's timers (Retry)."""
from __future__ import annotations

from typing import Any

from app.jobs import job


@job()
def poll_timers() -> dict[str, Any]:
    """One polling pass; when the batch was full, another pass is enqueued at once
    so that idle workers share a backlog (30,000 deadlines falling due together)."""
    from app.jobs.timers import fire_due_timers

    result = fire_due_timers()
    summary = {"fired": len(result.fired), "conflicts": len(result.conflicts), "failed": len(result.failed)}
    from flask import current_app

    if result.claimed >= current_app.config.get("TIMER_BATCH_SIZE", 200):
        from app.jobs import huey

        if not huey.immediate:  # inline runs would recurse; the caller loops instead
            poll_timers()
    return summary


@job()
def fire_instance_timers(instance_id: int) -> bool:
    """Fire one instance's due timers (what Retry of a failed firing runs); True if it wrote."""
    from app.extensions import db
    from workflows import engine
    from workflows.models import ProcessInstance

    before = db.session.scalar(db.select(ProcessInstance.version).where(ProcessInstance.id == instance_id))
    instance = engine.fire_timers(instance_id)
    return instance.version != before
