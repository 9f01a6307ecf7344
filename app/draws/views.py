"""Staff pages for draws, and the public draw records."""
from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.auth.decorators import roles_required
from app.auth.models import User, UserRole
from app.auth.roles import STAFF_ROLES, Role
from app.directory.models import Entity, Inspector
from app.draws import background, service
from app.draws.models import Draw, DrawStatus, TaskDrawStatus
from app.draws.public import public_draw
from app.errors import Conflict, ValidationFailed
from app.extensions import db
from app.queue.service import path_view
from workflows import engine
from workflows.models import HumanTask, HumanTaskState
from app.queue.subjects import SubjectKind, register_subject

bp = Blueprint("draws", __name__)


def _selection_rows(draw: Draw) -> list[dict]:
    """Selected entities with names and their teams' names, in score order."""
    if draw is None or not draw.revealed:
        return []
    selections = draw.selections
    names = dict(
        db.session.execute(select(Entity.id, Entity.name).where(Entity.id.in_([s.entity_id for s in selections]))).tuples().all()
    )
    certs = {c for s in selections for c in s.team}
    inspectors = dict(
        db.session.execute(select(Inspector.certificate_no, Inspector.name).where(Inspector.certificate_no.in_(certs))).tuples().all()
    )
    return [
        {"rank": s.rank, "uscc": s.uscc, "name": names.get(s.entity_id, ""), "stratum": s.stratum,
         "team": [(c, inspectors.get(c, "")) for c in s.team]}
        for s in selections
    ]


def _task_draw_context(task_draw_id: int) -> dict:
    task_draw = service.get_task_draw(task_draw_id)
    current = service.current_round(task_draw)
    preview = None
    if task_draw.status in (TaskDrawStatus.WAITING, TaskDrawStatus.PREPARING):
        preview = service.pool_preview(task_draw.spot_check_task)
    witnesses = db.session.scalars(
        select(User).join(UserRole).where(UserRole.role == Role.WITNESS, User.is_active_account.is_(True))
        .order_by(User.display_name)
    ).all()
    return {
        "task_draw": task_draw,
        "task": task_draw.spot_check_task,
        "current": current,
        "preview": preview,
        "witnesses": witnesses,
        "selections": _selection_rows(current) if current else [],
    }


register_subject(
    service.SUBJECT_TYPE,
    SubjectKind(label="draw", template="queue/subjects/task_draw.html", endpoint="draws.detail",
                url_param="task_draw_id", loader=_task_draw_context),
)


@bp.get("/draws")
@roles_required(*STAFF_ROLES)
def index():  # type: ignore[no-untyped-def]
    return render_template("draws/index.html", task_draws=service.list_task_draws())


@bp.get("/draws/<int:task_draw_id>")
@roles_required(*STAFF_ROLES)
def detail(task_draw_id: int):  # type: ignore[no-untyped-def]
    context = _task_draw_context(task_draw_id)
    context["path"] = path_view(context["task_draw"].process_instance_id)
    context["progress"] = background.get_progress(task_draw_id)
    return render_template("draws/detail.html", **context)


@bp.post("/draws/<int:task_draw_id>/run")
@roles_required(Role.COORDINATOR)
def run(task_draw_id: int):  # type: ignore[no-untyped-def]
    """The coordinator runs the sitting's draw: at once, or by a worker for a large pool."""
    task_draw = service.get_task_draw(task_draw_id)
    step = db.session.scalar(
        select(HumanTask).where(
            HumanTask.instance_id == task_draw.process_instance_id,
            HumanTask.bpmn_id == "run_draw",
            HumanTask.state == HumanTaskState.READY,
        )
    )
    if step is None:
        flash(_("There is no draw waiting to be run."), "warning")
        return redirect(url_for("draws.detail", task_draw_id=task_draw_id))
    if not engine.can_act(step, current_user):
        abort(403)
    if service.runs_in_background(task_draw):
        background.set_progress(task_draw_id, "queued", 0, "queued")
        background.run_draw_in_background(step.id, current_user.id, task_draw_id)
        flash(_("The draw is running in the background; this page shows its progress."), "info")
        return redirect(url_for("draws.detail", task_draw_id=task_draw_id))
    try:
        engine.complete_task(step.id, current_user, {})
    except (ValidationFailed, Conflict) as err:
        db.session.rollback()
        flash(err.message, "danger")
        return redirect(url_for("queue.task_page", task_id=step.id))
    flash(_("The draw is done."), "success")
    return redirect(url_for("draws.detail", task_draw_id=task_draw_id))


@bp.get("/draws/<int:task_draw_id>/progress.json")
@roles_required(*STAFF_ROLES)
def progress(task_draw_id: int):  # type: ignore[no-untyped-def]
    service.get_task_draw(task_draw_id)
    return jsonify(background.get_progress(task_draw_id) or {"state": "none", "percent": 0})


@bp.get("/public/draws")
def public_index():  # type: ignore[no-untyped-def]
    return render_template("publication/draws.html", draws=service.public_rounds())


@bp.get("/public/draws/<int:draw_id>")
def public_page(draw_id: int):  # type: ignore[no-untyped-def]
    return render_template("publication/draw.html", draw=public_draw(service.get_draw(draw_id)),
                           DrawStatus=DrawStatus)


@bp.get("/public/draws/<int:draw_id>.json")
def public_json(draw_id: int):  # type: ignore[no-untyped-def]
    return jsonify(public_draw(service.get_draw(draw_id)))
