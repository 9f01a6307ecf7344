"""The admin page of the background jobs: next due timers, failed jobs, Retry."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from app.auth.decorators import roles_required
from app.auth.roles import Role
from app.errors import Conflict, NotFound
from app.extensions import db
from app.jobs.models import JobFailure
from workflows import clock
from workflows.models import InstanceStatus, ProcessInstance

bp = Blueprint("jobs_admin", __name__, url_prefix="/admin/jobs")


def _configure(state) -> None:  # type: ignore[no-untyped-def]
    from app.jobs import configure

    configure(state.app)


# Registering the blueprint is all the wiring the jobs need: this points Huey at the
# app's storage and connects the failure recorder.
bp.record_once(_configure)

SHOWN = 50


@bp.get("")
@roles_required(Role.ADMIN)
def index():  # type: ignore[no-untyped-def]
    now = clock.now()
    waiting = (ProcessInstance.status == InstanceStatus.RUNNING, ProcessInstance.next_timer_at.is_not(None))
    timers = db.session.execute(
        select(ProcessInstance.id, ProcessInstance.process_id, ProcessInstance.subject_title,
               ProcessInstance.next_timer_at)
        .where(*waiting)
        .order_by(ProcessInstance.next_timer_at, ProcessInstance.id)
        .limit(SHOWN)
    ).all()
    due_count = db.session.scalar(
        select(func.count()).select_from(ProcessInstance).where(*waiting, ProcessInstance.next_timer_at <= now)
    )
    failures = db.session.scalars(select(JobFailure).order_by(JobFailure.failed_at.desc(), JobFailure.id.desc())
                                  .limit(SHOWN)).all()
    return render_template("admin/jobs.html", timers=timers, due_count=due_count, failures=failures, now=now)


@bp.post("/failures/<int:failure_id>/retry")
@roles_required(Role.ADMIN)
def retry(failure_id: int):  # type: ignore[no-untyped-def]
    from app.jobs.failures import retry as retry_job

    try:
        retry_job(failure_id)
    except NotFound:
        db.session.rollback()
        flash(_("That job cannot be retried: it is unknown."), "danger")
    except Conflict:
        db.session.rollback()
        flash(_("That job was already retried."), "warning")
    else:
        flash(_("The job was queued again."), "success")
    return redirect(url_for("jobs_admin.index"))
