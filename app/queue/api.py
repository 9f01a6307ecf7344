"""API: the task queues, a task with its context, claim, unclaim, complete."""
from __future__ import annotations

from flask import abort
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.db import utcnow
from app.extensions import db
from app.queue import service
from workflows import engine
from workflows.models import HumanTask

blp = Blueprint("queue_api", __name__, url_prefix="/tasks", description="Human tasks created by the workflows")


class QueueArgs(Schema):
    scope = fields.Str(load_default="mine", validate=validate.OneOf(["mine", "groups"]))
    role = fields.Str()
    step = fields.Str(metadata={"description": "BPMN element id of the task"})
    subject_type = fields.Str()
    overdue = fields.Bool(load_default=False)
    q = fields.Str(validate=validate.Length(max=100))
    sort = fields.Str(load_default="due", validate=validate.OneOf(service.SORTS))
    page = fields.Int(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Int(load_default=50, validate=validate.Range(min=1, max=200))


class TaskSchema(Schema):
    id = fields.Int()
    title = fields.Str()
    step = fields.Str(attribute="bpmn_id")
    role = fields.Str()
    form_key = fields.Str()
    state = fields.Str()
    assignee_id = fields.Int(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    subject_type = fields.Str()
    subject_id = fields.Int()
    subject_title = fields.Str()
    instance_id = fields.Int()


class QueueRowSchema(Schema):
    task = fields.Nested(TaskSchema)
    can_act = fields.Bool()


class QueuePageSchema(Schema):
    rows = fields.List(fields.Nested(QueueRowSchema))
    total = fields.Int()
    total_capped = fields.Bool()
    page = fields.Int()
    per_page = fields.Int()


class PathStepSchema(Schema):
    at = fields.DateTime()
    bpmn_id = fields.Str()
    element_type = fields.Str()
    element_name = fields.Str()
    event = fields.Str()
    user_name = fields.Str(allow_none=True)
    data = fields.Dict()


class TaskDetailSchema(Schema):
    task = fields.Nested(TaskSchema)
    can_act = fields.Bool()
    overdue = fields.Bool()
    context = fields.Dict()
    path = fields.List(fields.Nested(PathStepSchema))


class CompleteSchema(Schema):
    data = fields.Dict(load_default=dict, metadata={"description": "the task form's fields, e.g. decision and comments"})


def _task(task_id: int) -> HumanTask:
    task = db.session.get(HumanTask, task_id)
    if task is None:
        abort(404)
    return task


@blp.get("")
@blp.arguments(QueueArgs, location="query")
@blp.response(200, QueuePageSchema)
def list_tasks(args: dict):  # type: ignore[no-untyped-def]
    """My tasks (scope=mine) or my groups' unclaimed tasks (scope=groups)."""
    filters = service.QueueFilters(
        role=args.get("role"),
        bpmn_id=args.get("step"),
        subject_type=args.get("subject_type"),
        overdue=args["overdue"],
        q=args.get("q"),
        sort=args["sort"],
    )
    finder = service.my_tasks if args["scope"] == "mine" else service.group_tasks
    return finder(current_user, filters, page=args["page"], per_page=args["per_page"])


def _detail(task: HumanTask) -> dict:
    return {
        "task": task,
        "can_act": engine.can_act(task, current_user),
        "overdue": bool(task.due_at and task.due_at < utcnow()),
        "context": engine.task_context(task.id),
        "path": service.path_view(task.instance_id),
    }


@blp.get("/<int:task_id>")
@blp.response(200, TaskDetailSchema)
def get_task(task_id: int):  # type: ignore[no-untyped-def]
    """A task with its data and the path its instance has taken."""
    task = _task(task_id)
    if not engine.can_view(task, current_user):
        abort(403)
    return _detail(task)


@blp.post("/<int:task_id>/complete")
@blp.arguments(CompleteSchema)
@blp.response(200, TaskDetailSchema)
def complete(body: dict, task_id: int):  # type: ignore[no-untyped-def]
    """Complete a task with its form; 409 when someone else already did."""
    engine.complete_task(task_id, current_user, body["data"])
    return _detail(_task(task_id))


@blp.post("/<int:task_id>/claim")
@blp.response(200, TaskSchema)
def claim(task_id: int):  # type: ignore[no-untyped-def]
    """Take an unclaimed task from the group queue."""
    engine.claim_task(task_id, current_user)
    return _task(task_id)


@blp.post("/<int:task_id>/unclaim")
@blp.response(200, TaskSchema)
def unclaim(task_id: int):  # type: ignore[no-untyped-def]
    """Give a claimed task back to the group queue."""
    engine.unclaim_task(task_id, current_user)
    return _task(task_id)
