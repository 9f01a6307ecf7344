"""Rule checks over the recorded data: one function per rule, each returning its findings.

The application prevents most of these violations (a drafter cannot approve their own plan,
a draw never matches fewer than 2 inspectors, ...). The checks run on the data anyway: a
clean run proves the prevention held, and a finding shows rows that were changed outside
the application or a gap in it. Each check is one or two set-based queries over all cases
of the year (a city has tens of thousands), fetching only the rows that violate the rule;
only the draw check has costly work, the independent verifier, whose verdict is kept per
round (``app.compliance.draw_verification``).

A rule's year is the year of the plan its subject belongs to, except for repeated checks,
whose period is the calendar year of the inspection (DOMAIN.md: "the same item on the
same entity at most once a year").
"""
from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, case, distinct, extract, func, or_, select
from sqlalchemy.orm import aliased

from app.auth.models import User
from app.cases.models import CaseItemResult, CaseMember, CaseStatus, InspectionCase, MemberState, PublishedResult
from app.cases.vocab import CASE_STATUS_LABELS
from app.compliance import draw_verification
from app.compliance.sql import of_plan_year, shanghai_date
from app.directory.models import CheckItem, Entity, Inspector
from app.draws.models import Draw, DrawDossier, TaskDraw
from app.extensions import db
from app.i18n import lazy_text as _l
from app.plans.models import Plan, SpotCheckTask
from app.workdays import service as workdays
from workflows import clock
from workflows.models import ProcessEvent

HIGH = "high"
WARNING = "warning"
SEVERITY_LABELS = {HIGH: _l("High"), WARNING: _l("Warning")}

PLAN, DRAW, CASE = "plan", "task_draw", "inspection_case"  # trace subject types (app.compliance.subjects)
APPROVAL_STEPS = ("legal_review", "leader_approval")  # bpmn/plan_approval.bpmn's decisions on a plan
ROUND_STATUS_LABELS = {"drawn": _l("awaiting sign-off"), "signed_off": _l("signed off"),
                       "voided": _l("voided for a redraw")}


def trace_path(subject_type: str, subject_id: int) -> str:
    """The path of a subject's trace page (``compliance.trace``)."""
    return f"/compliance/trace/{subject_type}/{subject_id}"


@dataclass(frozen=True)
class Finding:
    """One violation: which rule, how serious, on what subject, and the facts in words."""

    rule: str
    severity: str
    subject_type: str
    subject_id: int
    subject_label: str
    message: Any  # a lazy message (translated where it is shown) naming the facts
    facts: dict[str, Any] = field(default_factory=dict)  # the same facts as plain values
    year: int | None = None

    @property
    def trace_path(self) -> str:
        """Where the subject's trace is (the page of ``compliance.trace``)."""
        return trace_path(self.subject_type, self.subject_id)


@dataclass
class CheckContext:
    """What a run shares between its rules: the day it runs on and the draw verification budget."""

    today: date
    verify_budget_seconds: float | None = None
    force_verify: bool = False
    pending_draws: list[int] = field(default_factory=list)
    draws_checked: int = 0
    draws_verified_now: int = 0


@dataclass(frozen=True)
class Rule:
    code: str
    title: Any
    description: Any
    check: Callable[[int | None, CheckContext], list[Finding]]


@dataclass
class CheckReport:
    """The findings of a run, with per-rule counts and timings."""

    year: int | None
    rules: list[str]
    findings: list[Finding]
    durations_ms: dict[str, int]
    pending_draws: list[int]
    draws_checked: int
    draws_verified_now: int

    def by_rule(self) -> dict[str, list[Finding]]:
        grouped: dict[str, list[Finding]] = {code: [] for code in self.rules}
        for finding in self.findings:
            grouped[finding.rule].append(finding)
        return grouped

    @property
    def counts(self) -> dict[str, int]:
        return {code: len(found) for code, found in self.by_rule().items()}


def today() -> date:
    """Today in Beijing, on the engine's clock (which tests can move)."""
    return clock.now().astimezone(workdays.SHANGHAI).date()


def _local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "" if value is None else value.astimezone(workdays.SHANGHAI).strftime(fmt)


def _local_day(value: datetime) -> date:
    return value.astimezone(workdays.SHANGHAI).date()


def _members(case_ids: Iterable[int]) -> dict[int, list[tuple[str, str, str, int, int | None]]]:
    """Per case: (name, certificate, state, member id, replaces id) in draw order."""
    ids = list(case_ids)
    out: dict[int, list[tuple[str, str, str, int, int | None]]] = defaultdict(list)
    if not ids:
        return out
    rows = db.session.execute(
        select(CaseMember.case_id, Inspector.name, CaseMember.certificate_no, CaseMember.state, CaseMember.id,
               CaseMember.replaces_id)
        .join(Inspector, Inspector.id == CaseMember.inspector_id)
        .where(CaseMember.case_id.in_(ids)).order_by(CaseMember.case_id, CaseMember.position)
    ).tuples()
    for case_id, name, cert, state, member_id, replaces_id in rows:
        out[case_id].append((name, cert, state, member_id, replaces_id))
    return out


def _status(status: str) -> Any:
    """A case status as the interface words it."""
    return CASE_STATUS_LABELS.get(status, status)


def _people(members: Iterable[tuple[str, str, Any, Any, Any]]) -> str:
    return "、".join(f"{name}（{cert}）" for name, cert, *_ in members) or "—"


# --- 1. fewer than 2 inspectors ---------------------------------------------------------------


def check_team_below_two(year: int | None, ctx: CheckContext) -> list[Finding]:
    """Cases past team confirmation with fewer than 2 active (not recused) inspectors.

    Handan: "每次行政检查抽取的检查人员不得少于2人" (and 行政处罚法 Art. 42). A case still
    confirming its team may be short for a moment while a replacement is found; that is
    the recusal rule's business, so only cases that went on to inspection count here.
    """
    active = func.coalesce(func.sum(case((CaseMember.state != MemberState.RECUSED, 1), else_=0)), 0)
    query = of_plan_year(
        select(InspectionCase.id, InspectionCase.code, InspectionCase.status, Plan.year, active.label("active"))
        .select_from(InspectionCase).outerjoin(CaseMember, CaseMember.case_id == InspectionCase.id), year,
    ).where(InspectionCase.status != CaseStatus.RECUSAL).group_by(
        InspectionCase.id, InspectionCase.code, InspectionCase.status, Plan.year).having(active < 2)
    rows = db.session.execute(query).all()
    members = _members(r.id for r in rows)
    findings = []
    for r in rows:
        team = [m for m in members[r.id] if m[2] != MemberState.RECUSED]
        facts = {"case": r.code, "status": r.status, "active": int(r.active), "inspectors": [m[1] for m in team]}
        findings.append(Finding(
            "team_below_two", HIGH, CASE, r.id, r.code,
            _l("Case %(case)s (%(status)s) has %(count)s active inspector(s): %(inspectors)s. At least 2 are required.",
               case=r.code, status=_status(r.status), count=int(r.active), inspectors=_people(team)),
            facts, r.year))
    return findings


# --- 2. a recusal not replaced ----------------------------------------------------------------


def check_recusal_not_replaced(year: int | None, ctx: CheckContext) -> list[Finding]:
    """Cases with a recusal whose active team is smaller than the team the draw matched.

    A recusal brings in the draw's next eligible inspector (``replaces_id`` names whom they
    replace) or, when none is left, one the section chief assigns (no link): either way the
    active team is back at the drawn size. Counting rather than following the links catches
    both. A case still confirming its team is a warning (the section chief's assignment may
    be pending); a case that went on to inspection with the gap is a violation.
    """
    recused = func.coalesce(func.sum(case((CaseMember.state == MemberState.RECUSED, 1), else_=0)), 0)
    total = func.count(CaseMember.id)
    drawn = case((SpotCheckTask.team_size < 2, 2), else_=SpotCheckTask.team_size)
    query = of_plan_year(
        select(InspectionCase.id, InspectionCase.code, InspectionCase.status, Plan.year, drawn.label("drawn"),
               recused.label("recused"), total.label("total"))
        .select_from(InspectionCase).join(CaseMember, CaseMember.case_id == InspectionCase.id), year,
    ).group_by(InspectionCase.id, InspectionCase.code, InspectionCase.status, Plan.year, SpotCheckTask.team_size
               ).having(recused > 0, total - recused < drawn)
    rows = db.session.execute(query).all()
    members = _members(r.id for r in rows)
    findings = []
    for r in rows:
        team = members[r.id]
        replaced = {m[4] for m in team if m[4] is not None}
        unlinked = [m for m in team if m[2] == MemberState.RECUSED and m[3] not in replaced]
        active = int(r.total) - int(r.recused)
        missing = int(r.drawn) - active
        facts = {"case": r.code, "status": r.status, "recused": [m[1] for m in team if m[2] == MemberState.RECUSED],
                 "not_replaced": [m[1] for m in unlinked], "active": active, "drawn": int(r.drawn)}
        severity = WARNING if r.status == CaseStatus.RECUSAL else HIGH
        findings.append(Finding(
            "recusal_not_replaced", severity, CASE, r.id, r.code,
            _l("Case %(case)s (%(status)s): %(missing)s recusal(s) not replaced. Recused without a replacement: "
               "%(recused)s; active team %(active)s of the %(drawn)s drawn.",
               case=r.code, status=_status(r.status), missing=missing, recused=_people(unlinked), active=active,
               drawn=int(r.drawn)),
            facts, r.year))
    return findings


# --- 3. a drafter approving their own plan ----------------------------------------------------


def check_drafter_approved_own_plan(year: int | None, ctx: CheckContext) -> list[Finding]:
    """Plans whose legality review or leadership approval was completed by the plan's drafter,
    or whose recorded approver is the drafter (four eyes: draft, review and approval by others)."""
    steps = select(Plan.id, Plan.code, Plan.year, Plan.drafter_id, ProcessEvent.element_name, ProcessEvent.at,
                   ProcessEvent.data).join(ProcessEvent, ProcessEvent.instance_id == Plan.process_instance_id).where(
        ProcessEvent.event == "completed", ProcessEvent.bpmn_id.in_(APPROVAL_STEPS),
        ProcessEvent.user_id == Plan.drafter_id).order_by(Plan.id, ProcessEvent.id)
    approvers = select(Plan.id, Plan.code, Plan.year, Plan.drafter_id).where(Plan.approved_by_id == Plan.drafter_id)
    if year is not None:
        steps, approvers = steps.where(Plan.year == year), approvers.where(Plan.year == year)
    by_plan: dict[int, dict[str, Any]] = {}
    for r in db.session.execute(steps):
        entry = by_plan.setdefault(r.id, {"code": r.code, "year": r.year, "drafter_id": r.drafter_id, "steps": [],
                                          "approver": False})
        data = r.data or {}
        decision = data.get("legal_decision") or data.get("leader_decision") or ""
        entry["steps"].append((r.element_name, _local(r.at), decision))
    for r in db.session.execute(approvers):
        by_plan.setdefault(r.id, {"code": r.code, "year": r.year, "drafter_id": r.drafter_id, "steps": [],
                                  "approver": False})["approver"] = True
    names = dict(db.session.execute(select(User.id, User.display_name).where(
        User.id.in_({e["drafter_id"] for e in by_plan.values()}))).tuples().all()) if by_plan else {}
    findings = []
    for plan_id, e in sorted(by_plan.items()):
        done = "; ".join(f"{name} {at}" + (f" ({decision})" if decision else "") for name, at, decision in e["steps"])
        drafter = names.get(e["drafter_id"], str(e["drafter_id"]))
        message = (_l("Plan %(plan)s was drafted by %(drafter)s, who also completed its approval steps: %(steps)s.",
                      plan=e["code"], drafter=drafter, steps=done) if e["steps"] else
                   _l("Plan %(plan)s was drafted by %(drafter)s, who is also recorded as its approver.",
                      plan=e["code"], drafter=drafter))
        facts = {"plan": e["code"], "drafter": drafter, "steps": [s[0] for s in e["steps"]],
                 "recorded_approver": e["approver"]}
        findings.append(Finding("drafter_approved_own_plan", HIGH, PLAN, plan_id, e["code"], message, facts, e["year"]))
    return findings


# --- 4. results entered late ------------------------------------------------------------------


def check_results_late(year: int | None, ctx: CheckContext) -> list[Finding]:
    """Cases whose results were entered after the end of their due day (7 working days after the
    inspection, Changchun), are overdue and still not entered, or are recorded as late."""
    entered_day = shanghai_date(InspectionCase.results_entered_at)
    late = or_(
        InspectionCase.results_on_time.is_(False),
        InspectionCase.marked_late_at.is_not(None),
        and_(InspectionCase.results_entered_at.is_not(None), entered_day > InspectionCase.results_due_on),
        and_(InspectionCase.results_entered_at.is_(None), InspectionCase.results_due_on < ctx.today),
    )
    query = of_plan_year(select(
        InspectionCase.id, InspectionCase.code, InspectionCase.inspection_date, InspectionCase.results_due_on,
        InspectionCase.results_entered_at, InspectionCase.marked_late_at, Plan.year,
    ).select_from(InspectionCase), year).where(InspectionCase.results_due_on.is_not(None), late).order_by(
        InspectionCase.id)
    findings = []
    for r in db.session.execute(query):
        facts: dict[str, Any] = {"case": r.code, "inspected_on": r.inspection_date, "due_on": r.results_due_on,
                                 "entered_at": r.results_entered_at, "marked_late_at": r.marked_late_at}
        if r.results_entered_at is None:
            days = (ctx.today - r.results_due_on).days
            severity, message = HIGH, _l(
                "Case %(case)s: inspected on %(inspected)s, results due on %(due)s and still not entered "
                "(%(days)s day(s) overdue on %(today)s).",
                case=r.code, inspected=r.inspection_date, due=r.results_due_on, days=days, today=ctx.today)
        elif _local_day(r.results_entered_at) > r.results_due_on:
            days = (_local_day(r.results_entered_at) - r.results_due_on).days
            severity, message = HIGH, _l(
                "Case %(case)s: inspected on %(inspected)s, results due on %(due)s, entered on %(entered)s "
                "(%(days)s day(s) late).",
                case=r.code, inspected=r.inspection_date, due=r.results_due_on, entered=_local(r.results_entered_at),
                days=days)
        else:
            days = 0
            severity, message = WARNING, _l(
                "Case %(case)s: results entered on %(entered)s, within their due day %(due)s, but the case is "
                "recorded as late (marked late: %(marked)s).",
                case=r.code, entered=_local(r.results_entered_at), due=r.results_due_on,
                marked=_local(r.marked_late_at) or "—")
        facts["days_late"] = days
        findings.append(Finding("results_late", severity, CASE, r.id, r.code, message, facts, r.year))
    return findings


# --- 5. publication late ----------------------------------------------------------------------


def check_publication_late(year: int | None, ctx: CheckContext) -> list[Finding]:
    """Cases published after their publication due day, or still unpublished after it.

    The due day is 20 working days after the results were entered (企业信息公示暂行条例
    Art. 6; ``PUBLICATION_WORKING_DAYS``). Publication records it on the case; for a case
    not (yet) published, or published without it, it is computed here from the entry day.
    """
    period = int(current_app.config.get("PUBLICATION_WORKING_DAYS", 20))
    published_day = shanghai_date(InspectionCase.published_at)
    # 20 working days are at least 20 calendar days: entries more recent than that cannot be late yet.
    horizon = datetime.combine(ctx.today - timedelta(days=period), datetime.min.time(), tzinfo=workdays.SHANGHAI)
    candidates = or_(
        and_(InspectionCase.published_at.is_not(None), InspectionCase.publication_due_on.is_not(None),
             published_day > InspectionCase.publication_due_on),
        and_(InspectionCase.published_at.is_not(None), InspectionCase.publication_due_on.is_(None),
             InspectionCase.results_entered_at.is_not(None)),
        and_(InspectionCase.published_at.is_(None), InspectionCase.results_entered_at.is_not(None),
             InspectionCase.results_entered_at < horizon),
    )
    query = of_plan_year(select(
        InspectionCase.id, InspectionCase.code, InspectionCase.results_entered_at, InspectionCase.publication_due_on,
        InspectionCase.published_at, Plan.year,
    ).select_from(InspectionCase), year).where(candidates).order_by(InspectionCase.id)
    due_cache: dict[date, date] = {}

    def due_after(entered: datetime) -> date:
        day = _local_day(entered)
        if day not in due_cache:
            due_cache[day] = workdays.add_working_days(day, period).day
        return due_cache[day]

    findings = []
    for r in db.session.execute(query):
        due = r.publication_due_on or due_after(r.results_entered_at)
        facts = {"case": r.code, "entered_at": r.results_entered_at, "due_on": due, "published_at": r.published_at}
        if r.published_at is not None:
            days = (_local_day(r.published_at) - due).days
            if days <= 0:
                continue
            message = _l("Case %(case)s: results entered on %(entered)s, publication due on %(due)s, published on "
                         "%(published)s (%(days)s day(s) late).", case=r.code, entered=_local(r.results_entered_at),
                         due=due, published=_local(r.published_at), days=days)
        else:
            days = (ctx.today - due).days
            if days <= 0:
                continue
            message = _l("Case %(case)s: results entered on %(entered)s, publication due on %(due)s and still not "
                         "published (%(days)s day(s) overdue on %(today)s).", case=r.code,
                         entered=_local(r.results_entered_at), due=due, days=days, today=ctx.today)
        facts["days_late"] = days
        findings.append(Finding("publication_late", HIGH, CASE, r.id, r.code, message, facts, r.year))
    return findings


# --- 6. a draw whose verifier fails -----------------------------------------------------------


def check_draw_verification(year: int | None, ctx: CheckContext) -> list[Finding]:
    """Drawn rounds (signed off, awaiting sign-off or voided) that ``tools/verify_draw.py`` rejects,
    or whose selections, teams or seeds differ from their dossier.

    Rounds whose verdict is not cached and would not fit in ``ctx.verify_budget_seconds``
    are left in ``ctx.pending_draws`` (no finding either way until they are verified).
    """
    query = (select(Draw.id).join(DrawDossier, DrawDossier.draw_id == Draw.id)
             .join(TaskDraw, TaskDraw.id == Draw.task_draw_id)
             .join(SpotCheckTask, SpotCheckTask.id == TaskDraw.spot_check_task_id)
             .join(Plan, Plan.id == SpotCheckTask.plan_id))
    if year is not None:
        query = query.where(Plan.year == year)
    draw_ids = list(db.session.scalars(query.order_by(Draw.id)))
    run = draw_verification.verify_rounds(draw_ids, budget_seconds=ctx.verify_budget_seconds, force=ctx.force_verify)
    ctx.pending_draws.extend(run.pending)
    ctx.draws_checked += len(run.verdicts)
    ctx.draws_verified_now += run.verified_now
    failed = {v.draw_id: v for v in run.verdicts if not v.ok}
    if not failed:
        return []
    rows = db.session.execute(
        select(Draw.id, Draw.round_no, Draw.status, Draw.task_draw_id, Draw.drawn_at, SpotCheckTask.code,
               SpotCheckTask.name, Plan.code.label("plan_code"), Plan.year)
        .join(TaskDraw, TaskDraw.id == Draw.task_draw_id)
        .join(SpotCheckTask, SpotCheckTask.id == TaskDraw.spot_check_task_id)
        .join(Plan, Plan.id == SpotCheckTask.plan_id).where(Draw.id.in_(failed))
    ).all()
    findings = []
    for r in sorted(rows, key=lambda r: r.id):
        problems = failed[r.id].problems
        label = f"{r.plan_code} / {r.code} #{r.round_no}"
        shown = "; ".join(problems[:3]) + (f" (+{len(problems) - 3})" if len(problems) > 3 else "")
        findings.append(Finding(
            "draw_not_verified", HIGH, DRAW, r.task_draw_id, label,
            _l("Round %(round)s of task %(task)s (%(status)s, drawn %(drawn)s) does not verify: %(problems)s",
               round=r.round_no, task=f"{r.code} {r.name}", status=ROUND_STATUS_LABELS.get(r.status, r.status),
               drawn=_local(r.drawn_at), problems=shown),
            {"draw_id": r.id, "round": r.round_no, "status": r.status, "problems": problems}, r.year))
    return findings


# --- 7. the same item on the same entity twice in a year --------------------------------------


def check_repeat_check(year: int | None, ctx: CheckContext) -> list[Finding]:
    """An entity with more than one case checking the same item within one calendar year.

    A case counts for an item when the item was checked, or when the case has not been
    inspected yet (a repeat already planned). Its year is the year of the inspection, or of
    its plan before the inspection. One finding per entity, item and year, on the latest case.
    """
    period = func.coalesce(extract("year", InspectionCase.inspection_date), Plan.year)
    counted = or_(CaseItemResult.checked.is_(True), InspectionCase.inspection_date.is_(None))
    groups = of_plan_year(
        select(InspectionCase.entity_id, CaseItemResult.check_item_id, period.label("period"))
        .select_from(CaseItemResult).join(InspectionCase, InspectionCase.id == CaseItemResult.case_id), None,
    ).where(counted).group_by(InspectionCase.entity_id, CaseItemResult.check_item_id, period).having(
        func.count(distinct(InspectionCase.id)) > 1)
    if year is not None:
        groups = groups.where(period == year)
    flagged = {(r.entity_id, r.check_item_id, int(r.period)) for r in db.session.execute(groups)}
    if not flagged:
        return []
    entity_ids = {e for e, _, _ in flagged}
    details = of_plan_year(select(
        InspectionCase.id, InspectionCase.code, InspectionCase.entity_id, InspectionCase.inspection_date,
        CaseItemResult.check_item_id, CaseItemResult.checked, period.label("period"),
    ).select_from(CaseItemResult).join(InspectionCase, InspectionCase.id == CaseItemResult.case_id), None).where(
        counted, InspectionCase.entity_id.in_(entity_ids))
    cases: dict[tuple[int, int, int], list[Any]] = defaultdict(list)
    for r in db.session.execute(details):
        key = (r.entity_id, r.check_item_id, int(r.period))
        if key in flagged:
            cases[key].append(r)
    names = dict(db.session.execute(select(Entity.id, Entity.name).where(Entity.id.in_(entity_ids))).tuples().all())
    items = {i.id: i for i in db.session.scalars(select(CheckItem).where(
        CheckItem.id.in_({i for _, i, _ in flagged})))}
    findings = []
    for (entity_id, item_id, period_year), rows in sorted(cases.items()):
        rows.sort(key=lambda r: (r.inspection_date or date.max, r.id))
        latest = rows[-1]
        listed = "; ".join(f"{r.code} ({r.inspection_date or '—'})" for r in rows)
        inspected = sum(1 for r in rows if r.checked)
        item = items[item_id]
        findings.append(Finding(
            "repeat_check", HIGH if inspected > 1 else WARNING, CASE, latest.id, latest.code,
            _l("%(entity)s: item %(item)s is checked %(count)s times in %(year)s (at most once a year): %(cases)s.",
               entity=names.get(entity_id, str(entity_id)), item=f"{item.code} {item.name}", count=len(rows),
               year=period_year, cases=listed),
            {"entity_id": entity_id, "check_item": item.code, "cases": [r.code for r in rows], "inspected": inspected},
            period_year))
    return findings


# --- 8. a published result without review -----------------------------------------------------


def check_published_without_review(year: int | None, ctx: CheckContext) -> list[Finding]:
    """Published results with no recorded review, a review after the first publication, or a
    review by a member of the case's own team (the section chief approves, not the inspectors)."""
    # Joins, not correlated subqueries: one pass over the year's cases (about 10x faster at 30,000).
    first = (select(PublishedResult.case_id, func.min(PublishedResult.published_at).label("at"))
             .group_by(PublishedResult.case_id).subquery())
    reviewer = aliased(User)
    member = aliased(CaseMember)
    published_at = func.coalesce(first.c.at, InspectionCase.published_at)
    on_team = member.id.is_not(None)
    query = of_plan_year(select(
        InspectionCase.id, InspectionCase.code, InspectionCase.reviewed_at, InspectionCase.reviewed_by_id,
        published_at.label("published_at"), on_team.label("on_team"), Plan.year,
    ).select_from(InspectionCase)
        .outerjoin(first, first.c.case_id == InspectionCase.id)
        .outerjoin(reviewer, reviewer.id == InspectionCase.reviewed_by_id)
        .outerjoin(member, and_(member.case_id == InspectionCase.id, member.inspector_id == reviewer.inspector_id)),
        year).where(published_at.is_not(None), or_(
            InspectionCase.reviewed_at.is_(None), InspectionCase.reviewed_by_id.is_(None),
            InspectionCase.reviewed_at > published_at, on_team)).order_by(InspectionCase.id)
    rows = db.session.execute(query).all()
    reviewers = dict(db.session.execute(select(User.id, User.display_name).where(
        User.id.in_({r.reviewed_by_id for r in rows if r.reviewed_by_id}))).tuples().all()) if rows else {}
    findings = []
    for r in rows:
        published = _local(r.published_at)
        reviewer = reviewers.get(r.reviewed_by_id, "")
        if r.reviewed_at is None or r.reviewed_by_id is None:
            reason = "no_review"
            message = _l("Case %(case)s: the result was published on %(published)s without a recorded review.",
                         case=r.code, published=published)
        elif r.reviewed_at > r.published_at:
            reason = "review_after_publication"
            message = _l("Case %(case)s: the result was published on %(published)s, before its review by "
                         "%(reviewer)s on %(reviewed)s.", case=r.code, published=published, reviewer=reviewer,
                         reviewed=_local(r.reviewed_at))
        else:
            reason = "reviewer_on_team"
            message = _l("Case %(case)s: the result published on %(published)s was reviewed by %(reviewer)s, a member "
                         "of the case's own team.", case=r.code, published=published, reviewer=reviewer)
        findings.append(Finding("published_without_review", HIGH, CASE, r.id, r.code, message,
                                {"case": r.code, "reason": reason, "published_at": r.published_at,
                                 "reviewed_at": r.reviewed_at, "reviewer": reviewer}, r.year))
    return findings


RULES: dict[str, Rule] = {rule.code: rule for rule in (
    Rule("team_below_two", _l("Fewer than 2 inspectors"),
         _l("A case inspected by fewer than 2 active inspectors."), check_team_below_two),
    Rule("recusal_not_replaced", _l("Recusal not replaced"),
         _l("An inspector recused and the team was not brought back to its drawn size."), check_recusal_not_replaced),
    Rule("drafter_approved_own_plan", _l("Drafter approved their own plan"),
         _l("The drafter of a plan completed its legality review or leadership approval."),
         check_drafter_approved_own_plan),
    Rule("results_late", _l("Results entered late"),
         _l("Results entered after the 7th working day after the inspection, or still missing."), check_results_late),
    Rule("publication_late", _l("Publication late"),
         _l("A result published more than 20 working days after it was entered, or still unpublished."),
         check_publication_late),
    Rule("draw_not_verified", _l("Draw fails verification"),
         _l("The independent verifier rejects a round, or its rows differ from its dossier."), check_draw_verification),
    Rule("repeat_check", _l("Same item checked twice in a year"),
         _l("An entity checked for the same item more than once in a calendar year."), check_repeat_check),
    Rule("published_without_review", _l("Published without review"),
         _l("A result published without the section chief's review, or reviewed by its own team."),
         check_published_without_review),
)}


def run_checks(year: int | None = None, rules: Iterable[str] | None = None, *,
               verify_budget_seconds: float | None = None, force_verify: bool = False) -> CheckReport:
    """Run the named rules (all when None) over ``year`` (all years when None).

    ``verify_budget_seconds`` bounds the time spent running the draw verifier on rounds
    without a current verdict (None: no bound); ``force_verify`` ignores kept verdicts.
    New verdicts are flushed, not committed: the caller commits to keep them.
    """
    codes = list(RULES) if rules is None else [code for code in RULES if code in set(rules)]
    unknown = set(rules or ()) - set(RULES)
    if unknown:
        raise ValueError(f"unknown rules: {', '.join(sorted(unknown))}")
    ctx = CheckContext(today=today(), verify_budget_seconds=verify_budget_seconds, force_verify=force_verify)
    findings: list[Finding] = []
    durations: dict[str, int] = {}
    for code in codes:
        started = time.perf_counter()
        findings.extend(RULES[code].check(year, ctx))
        durations[code] = int((time.perf_counter() - started) * 1000)
    return CheckReport(year, codes, findings, durations, ctx.pending_draws, ctx.draws_checked, ctx.draws_verified_now)
