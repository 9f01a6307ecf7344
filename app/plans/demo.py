"""Demo plans from the seed notices, driven through the real approval workflow.

The Jincheng SAMR 2023 plan goes all the way to publication, so the public site
has a plan; the Handan 2023 plan waits for leadership, so the demo leader has a
task in the queue. Every step is taken by the demo user of the matching role.
"""
from __future__ import annotations

from sqlalchemy import select

from app.auth.models import User
from app.directory.models import CheckItem, Department
from app.extensions import db
from app.plans import service
from app.plans.models import Plan
from workflows import engine
from workflows.models import HumanTask, HumanTaskState

UNSUPPORTED_FILTERS = ("risk_flags",)  # not yet a directory field: see the plan's credit_rule text


def _user(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise RuntimeError(f"demo user {username} is missing: load the demo users first")
    return user


def _complete(plan: Plan, step: str, user: User, data: dict) -> None:
    task = db.session.scalar(
        select(HumanTask).where(
            HumanTask.instance_id == plan.process_instance_id,
            HumanTask.bpmn_id == step,
            HumanTask.state == HumanTaskState.READY,
        )
    )
    if task is None:
        raise RuntimeError(f"plan {plan.code}: no open {step} task")
    engine.complete_task(task.id, user, data)


def _create(spec: dict, drafter: User) -> Plan:
    departments = dict(db.session.execute(select(Department.code, Department.id)).tuples().all())
    items = dict(db.session.execute(select(CheckItem.code, CheckItem.id)).tuples().all())
    plan = service.create_plan(
        drafter,
        code=spec["code"],
        title=spec["title"],
        year=spec["year"],
        department_id=departments[spec["department_code"]],
        notes=spec["notes"],
    )
    for task in spec["tasks"]:
        filters = {k: v for k, v in task["entity_filters_full"].items() if k not in UNSUPPORTED_FILTERS}
        service.add_task(
            plan.id,
            drafter,
            task
            | {
                "entity_filters": filters,
                "lead_department_id": departments[task["lead_department_code"]],
                "joint_department_ids": [departments[c] for c in task["joint_department_codes"]],
                "check_item_ids": [items[c] for c in task["check_item_codes"]],
            },
        )
    return plan


def load_plans() -> str:
    """Create the two seed plans; the first published, the second awaiting leadership."""
    from app.demo.load import plan_specs

    drafter, legal, leader = _user("drafter"), _user("legal"), _user("leader")
    jincheng, handan = plan_specs()

    published = _create(jincheng, drafter)
    _complete(published, "draft_plan", drafter, {"comments": "按省局要求及本局监管实际制定"})
    _complete(published, "legal_review", legal, {"decision": "approve", "comments": "经合法性审查，符合规定"})
    _complete(published, "leader_approval", leader, {"decision": "approve", "comments": "同意，印发执行"})

    waiting = _create(handan, drafter)
    _complete(waiting, "draft_plan", drafter, {"comments": "报局主要领导同意后实施"})
    _complete(waiting, "legal_review", legal, {"decision": "approve", "comments": "合法"})
    return f"{published.code} published, {waiting.code} awaiting leadership approval"
