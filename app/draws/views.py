"""Staff pages for draws, and the public draw records."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from sqlalchemy import select

from app.auth.decorators import roles_required
from app.auth.models import User, UserRole
from app.auth.roles import STAFF_ROLES, Role
from app.directory.models import Entity, Inspector
from app.draws import service
from app.draws.models import Draw, DrawStatus, TaskDrawStatus
from app.draws.public import public_draw
from app.extensions import db
from app.queue.service import path_view
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
    return render_template("draws/detail.html", **context)


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
