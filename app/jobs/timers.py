"""Firing due BPMN timers: one polling pass, safe to run in several workers at once.

SpiffWorkflow fires nothing by itself (SPIFF-NOTES). The engine keeps
``process_instance.next_timer_at`` (the earliest waiting timer's due instant, written in
the same transaction as the state) and ``engine.fire_timers(id)`` loads, refreshes the
timers and saves in one transaction, writing nothing when no timer was due.

A pass claims one due instance at a time and fires it in the transaction that claimed it:

* PostgreSQL: ``SELECT id FROM process_instance WHERE status='running' AND next_timer_at <= :now
  ORDER BY next_timer_at LIMIT 1 FOR UPDATE SKIP LOCKED``. The row lock is held until
  ``fire_timers`` commits (its own ``FOR UPDATE`` on the same row is a no-op), so another
  worker skips this instance and takes the next one. When the firing commits,
  ``next_timer_at`` has moved on (or is NULL), so the row no longer qualifies; the
  re-check of the WHERE clause after a lock wait (READ COMMITTED) sees that too.
* SQLite: the same query without row locks. Two workers may pick the same instance;
  the engine's optimistic version check (``UPDATE ... WHERE version=:v``) lets exactly
  one of them write, the other gets Conflict (or trips over the unique ``spiff_task_id``
  of the task the winner projected) and rolls back everything it did.

A worker killed mid-pass loses only its open transaction (the database rolls it back and
releases the lock): the instance stays due and the next pass fires it. A firing that
raises is rolled back, recorded in ``job_failure`` (Retry enqueues
``fire_instance_timers``) and postponed by ``TIMER_RETRY_SECONDS`` so that it neither
blocks the queue nor fails every pass.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from app.errors import Conflict
from app.extensions import db
from workflows import clock, engine
from workflows.models import InstanceStatus, ProcessInstance

log = logging.getLogger(__name__)


@dataclass
class PassResult:
    """What one polling pass did, by instance id."""

    fired: list[int] = field(default_factory=list)  # fire_timers committed (a no-op if nothing was due)
    conflicts: list[int] = field(default_factory=list)  # another worker fired it first (SQLite)
    failed: list[int] = field(default_factory=list)  # raised: recorded and postponed

    @property
    def claimed(self) -> int:
        return len(self.fired) + len(self.conflicts) + len(self.failed)


def fire_due_timers(limit: int | None = None, *, now: datetime | None = None) -> PassResult:
    """Fire the timers due by ``now`` (default: the clock) of at most ``limit`` instances."""
    limit = limit or current_app.config.get("TIMER_BATCH_SIZE", 200)
    session = db.session()
    result = PassResult()
    tried: list[int] = []
    while result.claimed < limit:
        at = now or clock.now()
        instance_id = claim_next(at, exclude=tried)
        if instance_id is None:
            session.rollback()  # end the claiming read
            break
        tried.append(instance_id)
        try:
            engine.fire_timers(instance_id)  # commits: releases the claim
        except Exception as exc:  # noqa: BLE001 - one bad instance must not stop the pass
            session.rollback()
            # A lost race (SQLite): Conflict from the version check, or the unique
            # spiff_task_id of the task the winner projected. Either way it is fired.
            if isinstance(exc, Conflict) or not _still_due(instance_id, at):
                result.conflicts.append(instance_id)
                continue
            log.exception("firing the timers of process instance %s failed", instance_id)
            _failed(instance_id, exc, at)
            result.failed.append(instance_id)
        else:
            result.fired.append(instance_id)
    return result


def claim_next(now: datetime, *, exclude: list[int] | None = None) -> int | None:
    """The id of the earliest due running instance, locked on PostgreSQL (SKIP LOCKED).

    Opens (or continues) the session's transaction; the caller commits or rolls back.
    """
    session = db.session()
    stmt = (
        select(ProcessInstance.id)
        .where(ProcessInstance.status == InstanceStatus.RUNNING, ProcessInstance.next_timer_at <= now)
        .order_by(ProcessInstance.next_timer_at, ProcessInstance.id)
        .limit(1)
    )
    if exclude:
        stmt = stmt.where(ProcessInstance.id.not_in(exclude))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return session.scalar(stmt)


def _still_due(instance_id: int, now: datetime) -> bool:
    row = db.session.execute(
        select(ProcessInstance.status, ProcessInstance.next_timer_at).where(ProcessInstance.id == instance_id)
    ).one_or_none()
    db.session.rollback()
    return row is not None and row.status == InstanceStatus.RUNNING and row.next_timer_at is not None \
        and row.next_timer_at <= now


def _failed(instance_id: int, exc: BaseException, at: datetime) -> None:
    from app.jobs.failures import record_failure, task_name
    from app.jobs.tasks import fire_instance_timers

    record_failure(task_name(fire_instance_timers.task_class), [instance_id], {}, exc)
    retry_at = at + timedelta(seconds=current_app.config.get("TIMER_RETRY_SECONDS", 300))
    try:
        db.session.execute(
            update(ProcessInstance)
            .where(ProcessInstance.id == instance_id, ProcessInstance.next_timer_at <= at)
            .values(next_timer_at=retry_at),
            execution_options={"synchronize_session": False},
        )
        db.session.commit()
    except Exception:  # noqa: BLE001
        db.session.rollback()
        log.exception("could not postpone the timers of process instance %s", instance_id)
