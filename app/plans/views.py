"""Pages for drafting and reading plans. Approval happens in the task queue."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.auth.decorators import roles_required
from app.auth.roles import STAFF_ROLES, Role
from app.errors import ValidationFailed
from app.plans import service
from app.plans.forms import MODE_LABELS, PLAN_STATUS_LABELS, PlanEditForm, PlanForm, SpotCheckTaskForm, department_choices
from app.plans.models import PlanStatus
from app.plans.rules import ratio_percent
from app.queue.service import path_view
from app.queue.subjects import SubjectKind, register_subject

bp = Blueprint("plans", __name__, url_prefix="/plans")
# A global, not a context value: the macros of _macros.html, imported without context, use it.
bp.record_once(lambda state: state.app.jinja_env.globals.update(PLAN_STATUS_LABELS=PLAN_STATUS_LABELS))


def _plan_subject(plan_id: int) -> dict:
    plan = service.get_plan(plan_id)
    return {
        "plan": plan,
        "decisions": service.decisions(plan),
        "notices": {t.id: service.task_notices(t) for t in plan.tasks},
        "ratio_percent": ratio_percent,
        "mode_labels": MODE_LABELS,
    }


register_subject(
    service.SUBJECT_TYPE,
    SubjectKind(
        label="plan", template="queue/subjects/plan.html", endpoint="plans.detail", url_param="plan_id",
        loader=_plan_subject,
    ),
)


def _show_errors(form, err: ValidationFailed) -> None:  # type: ignore[no-untyped-def]
    for field, messages in err.errors.items():
        target = getattr(form, field, None)
        if target is not None and hasattr(target, "errors"):
            target.errors = list(target.errors) + list(messages)
        else:
            # Not a field of the form (entity_filters, credit_ratios, tasks): the messages
            # name what they are about.
            flash("; ".join(str(m) for m in messages), "danger")


@bp.get("")
@roles_required(*STAFF_ROLES)
def index():  # type: ignore[no-untyped-def]
    page = service.list_plans(
        year=request.args.get("year", type=int),
        status=request.args.get("status") or None,
        page=max(request.args.get("page", 1, type=int), 1),
    )
    return render_template("plans/index.html", page=page, statuses=list(PlanStatus))


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.DRAFTER)
def new():  # type: ignore[no-untyped-def]
    form = PlanForm()
    form.department_id.choices = department_choices()
    if form.validate_on_submit():
        try:
            plan = service.create_plan(
                current_user,
                code=form.code.data,
                title=form.title.data,
                year=form.year.data,
                department_id=form.department_id.data,
                notes=form.notes.data or "",
            )
        except ValidationFailed as err:
            _show_errors(form, err)
        else:
            flash(_("Plan created. Add its spot-check tasks, then submit it from your task queue."), "success")
            return redirect(url_for("plans.detail", plan_id=plan.id))
    return render_template("plans/form.html", form=form)


@bp.get("/<int:plan_id>")
@roles_required(*STAFF_ROLES)
def detail(plan_id: int):  # type: ignore[no-untyped-def]
    plan = service.get_plan(plan_id)
    step = service.current_step(plan)
    return render_template(
        "plans/detail.html",
        plan=plan,
        step=step,
        can_edit=service.can_edit(plan, current_user),
        path=path_view(plan.process_instance_id),
        decisions=service.decisions(plan),
        notices={t.id: service.task_notices(t) for t in plan.tasks},
        ratio_percent=ratio_percent,
        mode_labels=MODE_LABELS,
    )


@bp.route("/<int:plan_id>/edit", methods=["GET", "POST"])
@roles_required(Role.DRAFTER)
def edit(plan_id: int):  # type: ignore[no-untyped-def]
    plan = service.get_plan(plan_id)
    form = PlanEditForm(obj=plan)
    if form.validate_on_submit():
        try:
            service.update_plan(plan.id, current_user, title=form.title.data, notes=form.notes.data or "")
        except ValidationFailed as err:
            _show_errors(form, err)
        else:
            return redirect(url_for("plans.detail", plan_id=plan.id))
    return render_template("plans/edit.html", form=form, plan=plan)


@bp.route("/<int:plan_id>/tasks/new", methods=["GET", "POST"])
@roles_required(Role.DRAFTER)
def new_task(plan_id: int):  # type: ignore[no-untyped-def]
    plan = service.get_plan(plan_id)
    form = SpotCheckTaskForm()
    form.fill_choices()
    if request.method == "GET":
        form.window_start.data = form.window_start.data or date(plan.year, 1, 1)
    if form.validate_on_submit():
        try:
            service.add_task(plan.id, current_user, form.to_fields())
        except ValidationFailed as err:
            _show_errors(form, err)
        else:
            flash(_("Task added."), "success")
            return redirect(url_for("plans.detail", plan_id=plan.id))
    return render_template("plans/task_form.html", form=form, plan=plan, task=None)


@bp.route("/<int:plan_id>/tasks/<int:task_id>/edit", methods=["GET", "POST"])
@roles_required(Role.DRAFTER)
def edit_task(plan_id: int, task_id: int):  # type: ignore[no-untyped-def]
    plan = service.get_plan(plan_id)
    task = service.get_task(plan_id, task_id)
    form = SpotCheckTaskForm()
    form.fill_choices()
    if request.method == "GET":
        form.load(task)
    if form.validate_on_submit():
        try:
            service.update_task(plan.id, task.id, current_user, form.to_fields())
        except ValidationFailed as err:
            _show_errors(form, err)
        else:
            flash(_("Task saved."), "success")
            return redirect(url_for("plans.detail", plan_id=plan.id))
    return render_template("plans/task_form.html", form=form, plan=plan, task=task)


@bp.post("/<int:plan_id>/tasks/<int:task_id>/delete")
@roles_required(Role.DRAFTER)
def delete_task(plan_id: int, task_id: int):  # type: ignore[no-untyped-def]
    service.delete_task(plan_id, task_id, current_user)
    flash(_("Task removed."), "success")
    return redirect(url_for("plans.detail", plan_id=plan_id))
