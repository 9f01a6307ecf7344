"""Demo draws and inspection cases: one task of the published Jincheng SAMR 2023 plan drawn,
and its cases taken to different stages, every step by the demo user whose role it is.

The steps go through the functions the pages call (``engine.complete_task`` with the
fields the forms post), so the demo holds what a bureau's year would hold: a witnessed,
signed-off draw, published results (one returned once and revised), a case waiting for
its results, one waiting for its on-site record, a recusal with its replacement, and cases
whose teams have not confirmed yet. The event log, traces and figures read these.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from app.auth.models import User
from app.cases.models import CaseStatus, InspectionCase
from app.draws.models import Draw, TaskDraw
from app.extensions import db
from app.plans.models import Plan, SpotCheckTask
from app.referrals.models import Referral
from workflows import clock, engine
from workflows.models import HumanTask, HumanTaskState

DEMO_PLAN = "JC-SAMR-2023"
DEMO_TASK = "JCSJ-2023-23"  # "20户": a fixed count of food retailers, so always 20 cases
WITNESS_ENTROPY = "纪检监察组 现场随机数 40917"


class DemoStepMissing(RuntimeError):
    """The demo expected an open step that is not there: the diagrams and this loader disagree."""


def _user(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise RuntimeError(f"demo user {username} is missing: load the demo users first")
    return user


def _open_task(instance_id: int, step: str, assignee: User | None = None) -> HumanTask:
    query = select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.bpmn_id == step,
                                    HumanTask.state == HumanTaskState.READY)
    if assignee is not None:
        query = query.where(HumanTask.assignee_id == assignee.id)
    task = db.session.scalars(query.order_by(HumanTask.id).limit(1)).first()
    if task is None:
        raise DemoStepMissing(f"instance {instance_id}: no open {step} task")
    return task


def _do(instance_id: int, step: str, data: dict[str, Any], user: User | None = None) -> None:
    """Complete the instance's open ``step`` as ``user`` (default: the task's assignee)."""
    task = _open_task(instance_id, step)
    actor = user if user is not None else db.session.get(User, task.assignee_id)
    if actor is None:
        raise DemoStepMissing(f"instance {instance_id}: {step} has no assignee and no demo user was named")
    engine.complete_task(task.id, actor, data)


def draw_task(task_draw: TaskDraw) -> Draw:
    """Prepare, sit, run and sign off the task's draw as coordinator, witness and leader."""
    coordinator, witness, leader = _user("coordinator"), _user("witness"), _user("leader")
    instance_id = task_draw.process_instance_id
    # The sitting must be in the future when it is fixed; the demo then holds it at once.
    sitting = clock.now() + timedelta(minutes=30)
    _do(instance_id, "prepare_draw", {"scheduled_at": sitting.isoformat(), "witness_id": witness.id}, coordinator)
    _do(instance_id, "enter_entropy", {"witness_entropy": WITNESS_ENTROPY}, witness)
    _do(instance_id, "run_draw", {}, coordinator)
    _do(instance_id, "sign_off", {"decision": "approve", "comments": "抽取过程规范，同意实施检查"}, leader)
    return db.session.scalars(select(Draw).where(Draw.task_draw_id == task_draw.id).order_by(Draw.id.desc())).first()


def _members(case: InspectionCase) -> list[User]:
    """The users of the case's active members, the lead first."""
    ids = [m.inspector_id for m in case.active_members]
    users = {u.inspector_id: u for u in db.session.scalars(select(User).where(User.inspector_id.in_(ids)))}
    return [users[i] for i in ids if i in users]


def _confirm_team(case: InspectionCase) -> None:
    for member in _members(case):
        task = _open_task(case.process_instance_id, "confirm_no_conflict", member)
        engine.complete_task(task.id, member, {"decision": "confirm"})


def _record(case: InspectionCase, inspected_on: date, findings: str) -> None:
    db.session.refresh(case)
    data: dict[str, Any] = {
        "inspection_date": inspected_on.isoformat(), "outcome": "inspected",
        "onsite_record": "检查人员二人出示执法证件，告知被检查人申请回避的权利；现场查验经营许可证、进货查验记录和在售食品。"}
    for item in case.item_results:
        key = f"item_{item.check_item_id}"
        data |= {f"{key}_method": item.method, f"{key}_checked": "1", f"{key}_findings": findings,
                 f"{key}_disposal": "" if findings == "未发现问题。" else "当场责令改正。"}
    _do(case.process_instance_id, "record_inspection", data)


def _results(case: InspectionCase, step: str, categories: list[str], summary: str, follow_up: str = "none") -> None:
    db.session.refresh(case)
    data: dict[str, Any] = {"categories": categories, "summary": summary}
    data |= {f"follow_{item.check_item_id}": follow_up for item in case.item_results}
    _do(case.process_instance_id, step, data)


def _review(case: InspectionCase, decision: str, comments: str = "") -> None:
    _do(case.process_instance_id, "review_results", {"decision": decision, "comments": comments}, _user("chief"))


def load_cases() -> str:
    """Draw the demo task and take its cases to their stages; returns what was done."""
    task_draw = db.session.scalar(
        select(TaskDraw).join(SpotCheckTask, SpotCheckTask.id == TaskDraw.spot_check_task_id)
        .join(Plan, Plan.id == SpotCheckTask.plan_id)
        .where(Plan.code == DEMO_PLAN, SpotCheckTask.code == DEMO_TASK)
    )
    if task_draw is None:
        raise RuntimeError(f"{DEMO_PLAN} {DEMO_TASK} has no draw: load the demo plans first")
    draw = draw_task(task_draw)
    cases = list(db.session.scalars(
        select(InspectionCase).where(InspectionCase.draw_id == draw.id).order_by(InspectionCase.code)))
    if len(cases) < 7:
        return f"draw {draw.id}: {len(cases)} cases, too few to take through the stages"
    today = clock.now().date()

    # Published: nothing found (three), a problem corrected on the spot (one).
    for n, case in enumerate(cases[:4]):
        _confirm_team(case)
        if n == 3:
            _record(case, today - timedelta(days=6), "部分食品未按规定标示生产日期，已当场下架。")
            _results(case, "enter_results", ["E"], "发现问题经责令已改正。")
        else:
            _record(case, today - timedelta(days=8 - n), "未发现问题。")
            _results(case, "enter_results", ["1"], "未发现问题。")
        _review(case, "approve")
    # Returned once for a fuller summary, revised, then approved and published.
    returned = cases[4]
    _confirm_team(returned)
    _record(returned, today - timedelta(days=5), "未发现问题。")
    _results(returned, "enter_results", ["1"], "")
    _review(returned, "return", "请补充检查结果说明（检查了哪些票据和记录）。")
    _results(returned, "revise_results", ["1"], "查验进货查验记录12份、在售食品30批次，未发现问题。")
    _review(returned, "approve")
    # Inspected two days ago; the lead still has to enter the results.
    entering = cases[5]
    _confirm_team(entering)
    _record(entering, today - timedelta(days=2), "未发现问题。")
    # Team confirmed: the notice is issued, the inspection is still to be done.
    _confirm_team(cases[6])
    # A recusal: the first member declares an interest, the draw's next eligible inspector
    # replaces them and has yet to confirm.
    recusing = cases[7] if len(cases) > 7 else None
    if recusing is not None:
        first, second = _members(recusing)[:2]
        task = _open_task(recusing.process_instance_id, "confirm_no_conflict", first)
        engine.complete_task(task.id, first, {"decision": "recuse", "reason": "本人配偶在该店持有股份。"})
        task = _open_task(recusing.process_instance_id, "confirm_no_conflict", second)
        engine.complete_task(task.id, second, {"decision": "confirm"})
    referrals = _referred_cases(cases[8:10], today)
    published = sum(1 for c in cases if db.session.get(InspectionCase, c.id).status == CaseStatus.PUBLISHED)
    return (f"draw of {DEMO_PLAN} {DEMO_TASK} signed off: {len(cases)} cases, {published} published "
            f"({referrals} with a referral), 1 in result entry, 1 inspecting, the others confirming their teams")


def _referred_cases(cases: list[InspectionCase], today: date) -> int:
    """Violations handed on to legal staff: publication opens a referral for each (the ledger).

    The first is triaged by the legal officer (rectification within 15 days, a branch with
    a deadline on the ledger); the second waits for triage.
    """
    for n, case in enumerate(cases):
        _confirm_team(case)
        if n == 0:
            _record(case, today - timedelta(days=4), "冷藏柜内3批次熟食超过保质期仍在销售。")
            _results(case, "enter_results", ["D"], "销售超过保质期的食品，已责令限期整改。", "order_rectification")
        else:
            _record(case, today - timedelta(days=3), "未能提供2批次进口食品的入境货物检验检疫证明。")
            _results(case, "enter_results", ["A"], "涉嫌经营无合法来源进口食品，作为案件线索移交。", "refer_case_lead")
        _review(case, "approve")
    referrals = list(db.session.scalars(
        select(Referral).where(Referral.case_id.in_([c.id for c in cases])).order_by(Referral.case_id)))
    if referrals:
        _do(referrals[0].process_instance_id, "triage", {
            "dispositions": ["rectification"], "rectification_requirement": "立即下架过期食品，建立临期食品检查制度并报送整改报告。",
            "rectification_deadline": (today + timedelta(days=15)).isoformat(),
            "triage_note": "首次发现，责令限期整改，到期复查。"}, _user("legal_officer"))
    return len(referrals)
