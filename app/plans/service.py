"""Plans: drafting, the approval workflow's hooks, and publication.

The lifecycle itself lives in ``bpmn/plan_approval.bpmn``; this module only
provides what the diagram calls: the validators of its task forms and the
handlers of its service tasks, plus the drafting operations on plan rows.

Every drafting operation is audited under the plan (subject ``plan``, the plan's id),
next to the entries the workflow writes for the same plan; an edit that changes
nothing writes no entry.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select

from app.audit import service as audit
from app.auth.models import User
from app.auth.roles import Role
from app.db import utcnow
from app.directory.models import CheckItem, Department, EntityKind, EntityScale
from app.directory.service import audit_changes, audit_values
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.i18n import lazy_format
from app.i18n import lazy_text as _l
from app.plans import rules
from app.plans.models import InspectionMode, Plan, PlanStatus, QuotaKind, SpotCheckTask
from workflows import engine
from workflows.models import HumanTask, HumanTaskState, ProcessInstance
from workflows.registry import service_task, task_form

PROCESS_ID = "plan_approval"
SUBJECT_TYPE = "plan"
EDITABLE_STATUSES = {PlanStatus.DRAFT, PlanStatus.RETURNED}
# Directory fields a task may filter its entities on. A value is one string or a list of
# strings (any of them); region codes match as prefixes of the administrative hierarchy
# (a city's 140500 covers its counties 1405xx); registered_until is an ISO date.
FILTER_KEYS = ("kind", "industry", "region_code", "scale", "station", "credit_class", "registered_until")
# What an audit entry shows of a plan and of a task: their columns, and the task's
# relationships as sorted ids (see _task_snapshot).
PLAN_AUDIT_FIELDS = ("code", "title", "year", "department_id", "notes")
TASK_AUDIT_COLUMNS = (
    "seq", "code", "name", "targeted", "scope", "entity_filters", "quota_kind", "ratio", "count", "credit_ratios",
    "credit_rule", "window_start", "window_end", "lead_department_id", "mode", "method", "team_size",
    "required_qualifications", "cross_station", "case_cap",
)


@dataclass
class PlanPage:
    items: list[Plan]
    total: int
    page: int
    per_page: int


# --- audit ---------------------------------------------------------------------------------


def _audit(action: str, user: User, plan: Plan, details: dict[str, Any]) -> None:
    """One entry about ``plan`` in the current transaction (the caller commits)."""
    audit.record(f"plan.{action}", actor=user, subject_type=SUBJECT_TYPE, subject_id=plan.id,
                 details={"code": plan.code} | details)


def _task_snapshot(task: SpotCheckTask) -> dict[str, Any]:
    values = {field: getattr(task, field) for field in TASK_AUDIT_COLUMNS}
    values["joint_department_ids"] = sorted(d.id for d in task.joint_departments)
    values["check_item_ids"] = sorted(i.id for i in task.check_items)
    return values


# --- drafting -----------------------------------------------------------------------------


def create_plan(drafter: User, *, code: str, title: str, year: int, department_id: int, notes: str = "") -> Plan:
    """A new draft plan, with its approval process started; commits."""
    if not drafter.has_role(Role.DRAFTER):
        raise Forbidden(_l("only a drafter can create a plan"))
    errors: dict[str, list[str]] = {}
    code, title = code.strip(), title.strip()
    if not code:
        errors["code"] = [_l("required")]
    elif db.session.scalar(select(Plan.id).where(Plan.code == code)):
        errors["code"] = [_l("a plan with code %(code)s exists", code=code)]
    if not title:
        errors["title"] = [_l("required")]
    if not 2000 <= year <= 2100:
        errors["year"] = [_l("not a plausible year")]
    if db.session.get(Department, department_id) is None:
        errors["department_id"] = [_l("no such department")]
    if errors:
        raise ValidationFailed(errors)
    plan = Plan(code=code, title=title, year=year, department_id=department_id, drafter_id=drafter.id, notes=notes)
    db.session.add(plan)
    db.session.flush()
    _audit("created", drafter, plan, {"values": audit_values({f: getattr(plan, f) for f in PLAN_AUDIT_FIELDS})})
    instance = engine.start_process(
        PROCESS_ID,
        subject_type=SUBJECT_TYPE,
        subject_id=plan.id,
        subject_title=f"{plan.code} {plan.title}",
        data={"plan_id": plan.id, "drafter_id": drafter.id},
        user_id=drafter.id,
    )
    plan.process_instance_id = instance.id
    db.session.commit()
    return plan


def get_plan(plan_id: int) -> Plan:
    plan = db.session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(_l("no plan %(id)s", id=plan_id))
    return plan


def list_plans(*, year: int | None = None, status: str | None = None, page: int = 1, per_page: int = 50) -> PlanPage:
    """Plans, newest year first."""
    query = select(Plan)
    if year:
        query = query.where(Plan.year == year)
    if status:
        query = query.where(Plan.status == status)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = db.session.scalars(
        query.order_by(Plan.year.desc(), Plan.code).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return PlanPage(list(items), total, page, per_page)


def _editable_by(plan: Plan, user: User) -> None:
    if plan.drafter_id != user.id:
        raise Forbidden(_l("only the plan's drafter can change it"))
    if plan.status not in EDITABLE_STATUSES:
        raise Conflict(_l("the plan is under review or decided and can no longer be changed"))


def can_edit(plan: Plan, user: User) -> bool:
    return plan.drafter_id == getattr(user, "id", None) and plan.status in EDITABLE_STATUSES


def update_plan(plan_id: int, user: User, *, title: str, notes: str = "") -> Plan:
    """Change a draft's title and notes; commits."""
    plan = get_plan(plan_id)
    _editable_by(plan, user)
    if not title.strip():
        raise ValidationFailed({"title": [_l("required")]})
    before = {"title": plan.title, "notes": plan.notes}
    plan.title, plan.notes = title.strip(), notes
    changes = audit_changes(before, {"title": plan.title, "notes": plan.notes})
    if changes:
        _audit("updated", user, plan, {"changes": changes})
    db.session.commit()
    return plan


def _as_date(value: Any, field: str, errors: dict[str, list[str]]) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except (TypeError, ValueError):
        errors.setdefault(field, []).append(_l("a date like 2023-06-01 is required"))
        return None


def clean_task_fields(plan: Plan, raw: dict[str, Any], task_id: int | None = None) -> dict[str, Any]:
    """Validate a spot-check task's fields as given by a form or the API; returns model values."""
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    for field in ("code", "name"):
        value = str(raw.get(field) or "").strip()
        if not value:
            errors[field] = [_l("required")]
        out[field] = value
    clash = select(SpotCheckTask.id).where(SpotCheckTask.plan_id == plan.id, SpotCheckTask.code == out["code"])
    if task_id:
        clash = clash.where(SpotCheckTask.id != task_id)
    if out["code"] and db.session.scalar(clash):
        errors["code"] = [_l("task code %(code)s is used in this plan", code=out["code"])]
    out["targeted"] = bool(raw.get("targeted", True))
    out["scope"] = str(raw.get("scope") or "")
    out["credit_rule"] = str(raw.get("credit_rule") or "")
    out["method"] = str(raw.get("method") or "")

    out["entity_filters"] = _clean_filters(raw.get("entity_filters") or {}, errors)

    quota_kind = raw.get("quota_kind") or QuotaKind.RATIO
    if quota_kind not in {q.value for q in QuotaKind}:
        errors["quota_kind"] = [_l("ratio or count")]
    out["quota_kind"] = quota_kind
    out["ratio"] = out["count"] = out["credit_ratios"] = None
    if quota_kind == QuotaKind.RATIO:
        try:
            out["ratio"] = rules.ratio_str(rules.parse_ratio(raw.get("ratio")))
        except ValueError as exc:
            errors["ratio"] = [exc.args[0]]  # a lazy message: stays translatable
        credit = raw.get("credit_ratios") or {}
        cleaned: dict[str, str] = {}
        for stratum, value in credit.items():
            if stratum not in rules.CREDIT_STRATA:
                errors.setdefault("credit_ratios", []).append(_l("unknown credit class %(cls)s", cls=stratum))
                continue
            if value in (None, ""):
                continue
            try:
                cleaned[stratum] = rules.ratio_str(rules.parse_ratio(value))
            except ValueError as exc:
                errors.setdefault("credit_ratios", []).append(lazy_format("%(cls)s: %(error)s", cls=stratum, error=exc.args[0]))
        out["credit_ratios"] = cleaned or None
    else:
        try:
            count = int(raw.get("count"))  # type: ignore[arg-type]
            if count < 1:
                raise ValueError
            out["count"] = count
        except (TypeError, ValueError):
            errors["count"] = [_l("a whole number of entities, at least 1")]

    start = _as_date(raw.get("window_start"), "window_start", errors)
    end = _as_date(raw.get("window_end"), "window_end", errors)
    if start and end:
        problem = rules.window_error(start, end, plan.year)
        if problem:
            errors["window_end"] = [problem]
    out["window_start"], out["window_end"] = start, end

    lead = db.session.get(Department, int(raw.get("lead_department_id") or 0))
    if lead is None:
        errors["lead_department_id"] = [_l("choose the lead department")]
    out["lead_department_id"] = lead.id if lead else None
    joint_ids = {int(i) for i in raw.get("joint_department_ids") or []}
    joint = list(db.session.scalars(select(Department).where(Department.id.in_(joint_ids)))) if joint_ids else []
    if len(joint) != len(joint_ids):
        errors["joint_department_ids"] = [_l("unknown department")]
    out["joint_departments"] = [d for d in joint if not lead or d.id != lead.id]

    mode = raw.get("mode") or InspectionMode.CITY_CITY
    if mode not in {m.value for m in InspectionMode}:
        errors["mode"] = [_l("unknown mode")]
    out["mode"] = mode

    item_ids = {int(i) for i in raw.get("check_item_ids") or []}
    items = list(db.session.scalars(select(CheckItem).where(CheckItem.id.in_(item_ids)))) if item_ids else []
    if not item_ids:
        errors["check_item_ids"] = [_l("a task checks at least one item of the check-item list (nothing outside the list is inspected)")]
    elif len(items) != len(item_ids):
        errors["check_item_ids"] = [_l("unknown check item")]
    elif any(not item.active for item in items):
        errors["check_item_ids"] = [_l("an inactive check item cannot be planned")]
    out["check_items"] = items

    for field, default, low in (("team_size", 2, 2), ("case_cap", 20, 1)):
        try:
            value = int(raw.get(field) if raw.get(field) not in (None, "") else default)
            if value < low:
                raise ValueError
            out[field] = value
        except (TypeError, ValueError):
            errors[field] = [_l("a whole number, at least %(min)d", min=low)]
    quals = raw.get("required_qualifications") or []
    if isinstance(quals, str):
        quals = [q for q in quals.replace("、", ",").replace(";", ",").split(",")]
    out["required_qualifications"] = [q.strip() for q in quals if q and q.strip()]
    out["cross_station"] = bool(raw.get("cross_station", False))
    if errors:
        raise ValidationFailed(errors)
    return out


def _clean_filters(filters: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, str | list[str]]:
    allowed_values = {
        "kind": {k.value for k in EntityKind},
        "scale": {s.value for s in EntityScale},
        "credit_class": set(rules.CREDIT_STRATA),
    }
    cleaned: dict[str, str | list[str]] = {}
    problems: list[Any] = []
    for key, value in filters.items():
        if key not in FILTER_KEYS:
            problems.append(_l("unknown filter: %(key)s", key=key))
            continue
        values = [str(v).strip() for v in (value if isinstance(value, list | tuple) else [value])]
        values = [v for v in values if v]
        if not values:
            continue
        bad = [v for v in values if key in allowed_values and v not in allowed_values[key]]
        if bad:
            problems.append(_l("%(key)s: unknown value %(values)s", key=key, values=", ".join(bad)))
        if key == "registered_until":
            try:
                date.fromisoformat(values[0])
            except ValueError:
                problems.append(_l("registered_until: a date like 2023-01-31"))
            values = values[:1]
        cleaned[key] = values[0] if len(values) == 1 else values
    if problems:
        errors["entity_filters"] = problems
    return cleaned


def add_task(plan_id: int, user: User, raw: dict[str, Any]) -> SpotCheckTask:
    """Add a spot-check task to a draft; commits."""
    plan = get_plan(plan_id)
    _editable_by(plan, user)
    values = clean_task_fields(plan, raw)
    seq = (db.session.scalar(select(func.max(SpotCheckTask.seq)).where(SpotCheckTask.plan_id == plan.id)) or 0) + 1
    task = SpotCheckTask(plan_id=plan.id, seq=int(raw.get("seq") or seq), **values)
    db.session.add(task)
    db.session.flush()
    _audit("task_added", user, plan, {"task_id": task.id, "task_code": task.code,
                                       "values": audit_values(_task_snapshot(task))})
    db.session.commit()
    return task


def get_task(plan_id: int, task_id: int) -> SpotCheckTask:
    task = db.session.get(SpotCheckTask, task_id)
    if task is None or task.plan_id != plan_id:
        raise NotFound(_l("no task %(task)s in plan %(plan)s", task=task_id, plan=plan_id))
    return task


def update_task(plan_id: int, task_id: int, user: User, raw: dict[str, Any]) -> SpotCheckTask:
    """Change a task of a draft; commits."""
    plan = get_plan(plan_id)
    _editable_by(plan, user)
    task = get_task(plan_id, task_id)
    values = clean_task_fields(plan, raw, task_id=task.id)
    before = _task_snapshot(task)
    for key, value in values.items():
        setattr(task, key, value)
    changes = audit_changes(before, _task_snapshot(task))
    if changes:
        _audit("task_updated", user, plan, {"task_id": task.id, "task_code": task.code, "changes": changes})
    db.session.commit()
    return task


def delete_task(plan_id: int, task_id: int, user: User) -> None:
    """Remove a task from a draft; commits."""
    plan = get_plan(plan_id)
    _editable_by(plan, user)
    task = get_task(plan_id, task_id)
    # What was removed, since the row itself is gone afterwards.
    _audit("task_deleted", user, plan, {"task_id": task.id, "task_code": task.code,
                                       "values": audit_values(_task_snapshot(task))})
    db.session.delete(task)
    db.session.commit()


def task_notices(task: SpotCheckTask) -> list[rules.RuleNotice]:
    """Deviations from the local ratio rules, for reviewers."""
    return rules.ratio_notices(task.ratio, {item.kind for item in task.check_items})


def current_step(plan: Plan) -> HumanTask | None:
    """The plan's open human task, if any."""
    if plan.process_instance_id is None:
        return None
    return db.session.scalar(
        select(HumanTask)
        .where(HumanTask.instance_id == plan.process_instance_id, HumanTask.state == HumanTaskState.READY)
        .order_by(HumanTask.id.desc())
    )


def decisions(plan: Plan) -> dict[str, Any]:
    """The latest review comments, shown to the drafter when a plan comes back."""
    if plan.process_instance_id is None:
        return {}
    instance = db.session.get(ProcessInstance, plan.process_instance_id)
    path = engine.instance_path(instance.id) if instance else []
    latest: dict[str, Any] = {}
    for event in path:
        for key in ("legal_decision", "legal_comments", "leader_decision", "leader_comments"):
            if key in (event.data or {}):
                latest[key] = event.data[key]
    return latest


def published_plans(year: int | None = None) -> list[Plan]:
    """Plans open to the public."""
    query = select(Plan).where(Plan.status == PlanStatus.PUBLISHED)
    if year:
        query = query.where(Plan.year == year)
    return list(db.session.scalars(query.order_by(Plan.year.desc(), Plan.published_at.desc())))


def get_published_plan(plan_id: int) -> Plan:
    plan = db.session.get(Plan, plan_id)
    if plan is None or plan.status != PlanStatus.PUBLISHED:
        raise NotFound(_l("no such published plan"))
    return plan


# --- what the diagram calls ----------------------------------------------------------------


def _plan_of(data: dict[str, Any]) -> Plan:
    return get_plan(int(data["plan_id"]))


@service_task("plans.set_status")
def _set_status(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> None:
    plan = _plan_of(data)
    status = PlanStatus(params["status"])
    plan.status = status
    if status == PlanStatus.LEGAL_REVIEW:
        plan.submitted_at = utcnow()


@service_task("plans.publish")
def _publish(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    plan = _plan_of(data)
    now = utcnow()
    plan.status = PlanStatus.PUBLISHED
    plan.approved_at = plan.approved_at or now
    plan.approved_by_id = data.get("approved_by_id")
    plan.published_at = now
    return {"published_at": now.isoformat()}


def _decision(form: dict[str, Any], prefix: str, allowed: tuple[str, ...], needs_reason: tuple[str, ...]) -> dict[str, Any]:
    decision = str(form.get("decision") or "").strip()
    comments = str(form.get("comments") or "").strip()
    errors: dict[str, list[str]] = {}
    if decision not in allowed:
        errors["decision"] = [_l("one of: %(choices)s", choices=", ".join(allowed))]
    if decision in needs_reason and not comments:
        errors["comments"] = [_l("give the reasons")]
    if len(comments) > 4000:
        errors["comments"] = [_l("at most %(n)d characters", n=4000)]
    if errors:
        raise ValidationFailed(errors)
    return {f"{prefix}_decision": decision, f"{prefix}_comments": comments}


@task_form("plan_submit")
def _validate_submit(form: dict[str, Any], task: HumanTask, user: User) -> dict[str, Any]:
    plan = get_plan(task.subject_id)
    if plan.drafter_id != user.id:
        raise Forbidden(_l("only the plan's drafter submits it"))
    if not plan.tasks:
        raise ValidationFailed({"tasks": [_l("a plan needs at least one spot-check task")]})
    return {"submitted_by_id": user.id, "draft_comments": str(form.get("comments") or "").strip()[:4000]}


@task_form("plan_legal_review")
def _validate_legal_review(form: dict[str, Any], task: HumanTask, user: User) -> dict[str, Any]:
    if get_plan(task.subject_id).drafter_id == user.id:
        raise Forbidden(_l("the drafter of a plan cannot review it"))
    return _decision(form, "legal", ("approve", "return"), ("return",)) | {"legal_reviewer_id": user.id}


@task_form("plan_leader_approval")
def _validate_leader_approval(form: dict[str, Any], task: HumanTask, user: User) -> dict[str, Any]:
    if get_plan(task.subject_id).drafter_id == user.id:
        raise Forbidden(_l("the drafter of a plan cannot approve it"))
    cleaned = _decision(form, "leader", ("approve", "return", "reject"), ("return", "reject"))
    return cleaned | {"approved_by_id": user.id if cleaned["leader_decision"] == "approve" else None}
