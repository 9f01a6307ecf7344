"""What the public may read: only published records, never credit classes or personal data."""
from __future__ import annotations

from typing import Any

from app.directory.models import CheckItem
from app.plans import service as plans
from app.plans.models import Plan, SpotCheckTask
from app.plans.rules import ratio_percent


def public_task(task: SpotCheckTask) -> dict[str, Any]:
    """A task as published: no per-class ratios, which would tell entities their odds."""
    return {
        "seq": task.seq,
        "code": task.code,
        "name": task.name,
        "targeted": task.targeted,
        "scope": task.scope,
        "check_items": [{"code": i.code, "category": i.category, "name": i.name} for i in task.check_items],
        "quota": {"kind": "count", "count": task.count}
        if task.quota_kind == "count"
        else {"kind": "ratio", "ratio": task.ratio, "percent": ratio_percent(task.ratio)},
        "window": {"start": task.window_start.isoformat(), "end": task.window_end.isoformat()},
        "lead_department": task.lead_department.name,
        "joint_departments": [d.name for d in task.joint_departments],
        "mode": task.mode,
        "method": task.method,
    }


def public_plan(plan: Plan, *, with_tasks: bool = True) -> dict[str, Any]:
    """A published plan as the public JSON shows it."""
    body: dict[str, Any] = {
        "id": plan.id,
        "code": plan.code,
        "title": plan.title,
        "year": plan.year,
        "department": plan.department.name,
        "published_at": plan.published_at.isoformat() if plan.published_at else None,
        "task_count": len(plan.tasks),
    }
    if with_tasks:
        body["tasks"] = [public_task(t) for t in plan.tasks]
    return body


def published_plans(year: int | None = None) -> list[Plan]:
    return plans.published_plans(year)


def published_plan(plan_id: int) -> Plan:
    return plans.get_published_plan(plan_id)


def public_check_item(item: CheckItem) -> dict[str, Any]:
    """A check item as the public list shows it (the whole list is public: 清单之外无监管)."""
    return {"code": item.code, "category": item.category, "name": item.name, "object_type": item.object_type,
            "kind": item.kind, "method": item.method, "department": item.department.name,
            "legal_basis": item.legal_basis}
