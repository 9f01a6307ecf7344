"""The task queue pages: lists, the task page, claim, unclaim and completion."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.errors import Conflict, Forbidden, ValidationFailed
from app.extensions import db
from app.queue import service
from app.queue.labels import JINJA_GLOBALS
from app.queue.subjects import subject_kind
from workflows import engine
from workflows.models import HumanTask

bp = Blueprint("queue", __name__, url_prefix="/tasks")
bp.record_once(lambda state: state.app.jinja_env.globals.update(JINJA_GLOBALS))


def filters_from_request() -> service.QueueFilters:
    """Queue filters from query-string arguments (pages and API share this)."""
    sort = request.args.get("sort", "due")
    return service.QueueFilters(
        role=request.args.get("role") or None,
        bpmn_id=request.args.get("step") or None,
        subject_type=request.args.get("subject_type") or None,
        overdue=request.args.get("overdue") in ("1", "true", "on"),
        q=(request.args.get("q") or "").strip()[:100] or None,
        sort=sort if sort in service.SORTS else "due",
    )


def _list(scope: str):  # type: ignore[no-untyped-def]
    page_no = max(request.args.get("page", 1, type=int), 1)
    finder = service.my_tasks if scope == "mine" else service.group_tasks
    page = finder(current_user, filters_from_request(), page=page_no)
    return render_template("queue/list.html", page=page, scope=scope, subject_kind=subject_kind)


@bp.get("")
@login_required
def my_tasks():  # type: ignore[no-untyped-def]
    return _list("mine")


@bp.get("/groups")
@login_required
def group_tasks():  # type: ignore[no-untyped-def]
    return _list("groups")


def _task_or_404(task_id: int) -> HumanTask:
    task = db.session.get(HumanTask, task_id)
    if task is None:
        abort(404)
    return task


@bp.get("/<int:task_id>")
@login_required
def task_page(task_id: int, errors: dict | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    task = _task_or_404(task_id)
    if not engine.can_view(task, current_user):
        abort(403)
    kind = subject_kind(task.subject_type)
    return (
        render_template(
            "queue/task.html",
            task=task,
            kind=kind,
            subject=kind.loader(task.subject_id) if kind else {},
            can_act=engine.can_act(task, current_user),
            context=engine.task_context(task.id),
            path=service.path_view(task.instance_id),
            errors=errors or {},
            form_values=request.form if request.method == "POST" else {},
        ),
        status,
    )


def _form_data() -> dict:
    data = {k: v for k, v in request.form.items() if k != "csrf_token"}
    for key in request.form:
        values = request.form.getlist(key)
        if len(values) > 1:
            data[key] = values
    return data


@bp.post("/<int:task_id>/complete")
@login_required
def complete(task_id: int):  # type: ignore[no-untyped-def]
    task = _task_or_404(task_id)
    try:
        engine.complete_task(task.id, current_user, _form_data())
    except ValidationFailed as err:
        db.session.rollback()
        flash(_("Please correct the form."), "danger")
        return task_page(task_id, errors=err.errors, status=422)
    except Conflict:
        db.session.rollback()
        flash(_("This task was already done by someone else; nothing you entered was applied."), "warning")
        return redirect(url_for("queue.my_tasks"))
    except Forbidden:
        db.session.rollback()
        abort(403)
    flash(_("Done: %(title)s", title=_(task.title)), "success")  # titles are BPMN names, extracted for translation
    return redirect(url_for("queue.my_tasks"))


@bp.post("/<int:task_id>/claim")
@login_required
def claim(task_id: int):  # type: ignore[no-untyped-def]
    try:
        engine.claim_task(task_id, current_user)
    except Conflict:
        flash(_("Someone else has already taken this task."), "warning")
        return redirect(url_for("queue.group_tasks"))
    flash(_("The task is yours now."), "success")
    return redirect(url_for("queue.task_page", task_id=task_id))


@bp.post("/<int:task_id>/unclaim")
@login_required
def unclaim(task_id: int):  # type: ignore[no-untyped-def]
    engine.unclaim_task(task_id, current_user)
    flash(_("The task is back in the group queue."), "success")
    return redirect(url_for("queue.group_tasks"))
