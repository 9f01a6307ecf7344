"""API: annual plans and their spot-check tasks. Approval goes through /api/v1/tasks."""
from __future__ import annotations

from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.auth.roles import STAFF_ROLES, Role
from app.errors import Forbidden
from app.plans import service

blp = Blueprint("plans_api", __name__, url_prefix="/plans", description="Annual spot-check plans")


def _require(*roles: Role) -> None:
    if not current_user.has_role(*roles):
        raise Forbidden("your roles do not allow this")


class DepartmentRef(Schema):
    id = fields.Int()
    code = fields.Str()
    name = fields.Str()


class CheckItemRef(Schema):
    id = fields.Int()
    code = fields.Str()
    category = fields.Str()
    name = fields.Str()
    kind = fields.Str()


class SpotCheckTaskOut(Schema):
    id = fields.Int()
    seq = fields.Int()
    code = fields.Str()
    name = fields.Str()
    targeted = fields.Bool()
    scope = fields.Str()
    entity_filters = fields.Dict()
    quota_kind = fields.Str()
    ratio = fields.Str(allow_none=True)
    count = fields.Int(allow_none=True)
    credit_ratios = fields.Dict(allow_none=True)
    credit_rule = fields.Str()
    window_start = fields.Date()
    window_end = fields.Date()
    lead_department = fields.Nested(DepartmentRef)
    joint_departments = fields.List(fields.Nested(DepartmentRef))
    mode = fields.Str()
    method = fields.Str()
    check_items = fields.List(fields.Nested(CheckItemRef))
    team_size = fields.Int()
    required_qualifications = fields.List(fields.Str())
    cross_station = fields.Bool()
    case_cap = fields.Int()


class SpotCheckTaskIn(Schema):
    code = fields.Str(required=True)
    name = fields.Str(required=True)
    seq = fields.Int()
    targeted = fields.Bool(load_default=True)
    scope = fields.Str(load_default="")
    entity_filters = fields.Dict(keys=fields.Str(), load_default=dict, metadata={"description": "directory field -> value or list of values"})
    quota_kind = fields.Str(load_default="ratio", validate=validate.OneOf(["ratio", "count"]))
    ratio = fields.Str(metadata={"description": 'exact decimal or percentage: "0.03" or "3%"'})
    count = fields.Int()
    credit_ratios = fields.Dict(keys=fields.Str(), values=fields.Str(), allow_none=True)
    credit_rule = fields.Str(load_default="")
    window_start = fields.Date(required=True)
    window_end = fields.Date(required=True)
    lead_department_id = fields.Int(required=True)
    joint_department_ids = fields.List(fields.Int(), load_default=list)
    mode = fields.Str(load_default="city_city")
    method = fields.Str(load_default="")
    check_item_ids = fields.List(fields.Int(), required=True)
    team_size = fields.Int(load_default=2)
    required_qualifications = fields.List(fields.Str(), load_default=list)
    cross_station = fields.Bool(load_default=False)
    case_cap = fields.Int(load_default=20)


class PlanSummaryOut(Schema):
    id = fields.Int()
    code = fields.Str()
    title = fields.Str()
    year = fields.Int()
    status = fields.Str()
    notes = fields.Str()
    department = fields.Nested(DepartmentRef)
    drafter_id = fields.Int()
    process_instance_id = fields.Int(allow_none=True)
    current_task_id = fields.Method("get_current_task_id")
    submitted_at = fields.DateTime(allow_none=True)
    approved_at = fields.DateTime(allow_none=True)
    published_at = fields.DateTime(allow_none=True)

    def get_current_task_id(self, plan):  # type: ignore[no-untyped-def]
        step = service.current_step(plan)
        return step.id if step else None


class PlanOut(PlanSummaryOut):
    tasks = fields.List(fields.Nested(SpotCheckTaskOut))


class PlanIn(Schema):
    code = fields.Str(required=True)
    title = fields.Str(required=True)
    year = fields.Int(required=True)
    department_id = fields.Int(required=True)
    notes = fields.Str(load_default="")


class PlanPatch(Schema):
    title = fields.Str(required=True)
    notes = fields.Str(load_default="")


class PlanListArgs(Schema):
    year = fields.Int()
    status = fields.Str()
    page = fields.Int(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Int(load_default=50, validate=validate.Range(min=1, max=200))


class PlanPageOut(Schema):
    items = fields.List(fields.Nested(PlanSummaryOut))
    total = fields.Int()
    page = fields.Int()
    per_page = fields.Int()


@blp.get("")
@blp.arguments(PlanListArgs, location="query")
@blp.response(200, PlanPageOut)
def list_plans(args: dict):  # type: ignore[no-untyped-def]
    """Plans, filtered by year and status."""
    _require(*STAFF_ROLES)
    return service.list_plans(**args)


@blp.post("")
@blp.arguments(PlanIn)
@blp.response(201, PlanOut)
def create_plan(body: dict):  # type: ignore[no-untyped-def]
    """Create a draft plan; its approval process starts with the drafter's task."""
    _require(Role.DRAFTER)
    return service.create_plan(current_user, **body)


@blp.get("/<int:plan_id>")
@blp.response(200, PlanOut)
def get_plan(plan_id: int):  # type: ignore[no-untyped-def]
    _require(*STAFF_ROLES)
    return service.get_plan(plan_id)


@blp.patch("/<int:plan_id>")
@blp.arguments(PlanPatch)
@blp.response(200, PlanOut)
def update_plan(body: dict, plan_id: int):  # type: ignore[no-untyped-def]
    """Change a draft's title and notes (drafter only, while drafting)."""
    return service.update_plan(plan_id, current_user, **body)


@blp.post("/<int:plan_id>/tasks")
@blp.arguments(SpotCheckTaskIn)
@blp.response(201, SpotCheckTaskOut)
def add_task(body: dict, plan_id: int):  # type: ignore[no-untyped-def]
    """Add a spot-check task to a draft."""
    return service.add_task(plan_id, current_user, body)


@blp.put("/<int:plan_id>/tasks/<int:task_id>")
@blp.arguments(SpotCheckTaskIn)
@blp.response(200, SpotCheckTaskOut)
def update_task(body: dict, plan_id: int, task_id: int):  # type: ignore[no-untyped-def]
    """Replace a spot-check task of a draft."""
    return service.update_task(plan_id, task_id, current_user, body)


@blp.delete("/<int:plan_id>/tasks/<int:task_id>")
@blp.response(204)
def delete_task(plan_id: int, task_id: int):  # type: ignore[no-untyped-def]
    """Remove a spot-check task from a draft."""
    service.delete_task(plan_id, task_id, current_user)
