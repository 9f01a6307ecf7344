"""The yearly figures the seeds set targets for, overall and per department, plan and task.

Every figure is a count over a count (numerator / denominator, both returned, so a reader can
check the share), with its target and whether it is met. Each function's docstring defines
both counts exactly. "Department" is the lead department of the spot-check task a case,
draw or referral belongs to, except for the check-item list, whose items belong to the
department that inspects them (检查主体). Days are Beijing days (Asia/Shanghai).

Targets are the seeds' (DOMAIN.md, "Ratios, frequencies, figures"); a bureau sets its own
with ``COMPLIANCE_TARGETS`` (e.g. ``{"credit_class_use": "0.6"}`` for 2023's 60%).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from flask import current_app
from sqlalchemy import Select, and_, case, distinct, func, or_, select

from app.cases.models import InspectionCase
from app.compliance.sql import shanghai_date
from app.directory.models import CheckItem, Department, Entity, EntityKind, EntityStatus
from app.draws.models import Draw, DrawStatus, TaskDraw, TaskDrawStatus
from app.extensions import db
from app.i18n import lazy_text as _l
from app.plans.models import Plan, PlanStatus, QuotaKind, SpotCheckTask, task_check_items
from app.referrals.models import BranchStatus, Disposition, Referral, ReferralBranch
from app.workdays.service import SHANGHAI
from workflows import clock

DIMENSIONS = ("department", "plan", "task")
DEFAULT_TARGETS: dict[str, str] = {
    "enterprises_checked": "0.03",  # Jincheng 2023; 企业公示信息抽查办法
    "items_covered": "0.80",  # Jincheng commerce 2024
    "credit_class_use": "0.90",  # Jincheng commerce 2024 (60% in 2023)
    "results_on_time": "1",  # Changchun: within 7 working days, every case
    "results_published": "1",  # every seed: 公示率 100%
    "follow_up_completion": "1",  # Jincheng SAMR §5: 建立工作台帐，限期整改落实
    "rectifications_followed_up": "1",
    "tasks_finished": "1",  # Jincheng SAMR: every task finished by 20 December
}
DEFAULT_FINISH_BY = "12-20"  # month-day by which a year's tasks are finished (Jincheng SAMR)


@dataclass(frozen=True)
class FigureRow:
    """One figure for one group (or the whole year): numerator over denominator."""

    key: str
    label: str
    numerator: int
    denominator: int
    target: Decimal | None = None
    note: str = ""

    @property
    def value(self) -> float | None:
        """The share (0..1), or None when there is nothing to count."""
        return None if not self.denominator else self.numerator / self.denominator

    @property
    def met(self) -> bool | None:
        """Whether the share reaches the target (exactly, in fractions); None without either."""
        if self.target is None or not self.denominator:
            return None
        return Fraction(self.numerator, self.denominator) >= Fraction(self.target)


@dataclass
class Figure:
    """A figure of a year: overall, and per department, plan and task where that makes sense."""

    code: str
    title: Any
    definition: Any
    target: Decimal | None
    total: FigureRow
    breakdowns: dict[str, list[FigureRow]] = field(default_factory=dict)


@dataclass
class FiguresReport:
    year: int
    figures: list[Figure]
    finish_by: date


def targets() -> dict[str, Decimal]:
    """The target per figure: the seeds' defaults, overridden by ``COMPLIANCE_TARGETS``."""
    merged = dict(DEFAULT_TARGETS) | dict(current_app.config.get("COMPLIANCE_TARGETS") or {})
    out = {}
    for code, raw in merged.items():
        try:
            out[code] = Decimal(str(raw))
        except InvalidOperation as exc:
            raise ValueError(f"COMPLIANCE_TARGETS[{code!r}] is not a number: {raw!r}") from exc
    return out


def finish_by(year: int) -> date:
    """The day a year's tasks must be finished by (``COMPLIANCE_FINISH_BY``, month-day, default 12-20)."""
    month, day = (int(p) for p in str(current_app.config.get("COMPLIANCE_FINISH_BY") or DEFAULT_FINISH_BY).split("-"))
    return date(year, month, day)


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    """The year's first and the next year's first instant in Beijing time (aware)."""
    return (datetime.combine(date(year, 1, 1), time(0), tzinfo=SHANGHAI),
            datetime.combine(date(year + 1, 1, 1), time(0), tzinfo=SHANGHAI))


class _Labels:
    """Names of the departments, plans and tasks that appear in a breakdown, fetched once."""

    def __init__(self) -> None:
        self.departments = dict(db.session.execute(select(Department.id, Department.name)).tuples().all())
        self._plans: dict[int, str] = {}
        self._tasks: dict[int, str] = {}

    def load(self, plan_ids: Iterable[int] = (), task_ids: Iterable[int] = ()) -> None:
        wanted_plans = set(plan_ids) - set(self._plans)
        if wanted_plans:
            for pid, code, title in db.session.execute(select(Plan.id, Plan.code, Plan.title).where(
                    Plan.id.in_(wanted_plans))):
                self._plans[pid] = f"{code} {title}"
        wanted_tasks = set(task_ids) - set(self._tasks)
        if wanted_tasks:
            for tid, code, name, plan_code in db.session.execute(
                    select(SpotCheckTask.id, SpotCheckTask.code, SpotCheckTask.name, Plan.code)
                    .join(Plan, Plan.id == SpotCheckTask.plan_id).where(SpotCheckTask.id.in_(wanted_tasks))):
                self._tasks[tid] = f"{plan_code}/{code} {name}"

    def of(self, dimension: str, key: int) -> str:
        table = {"department": self.departments, "plan": self._plans, "task": self._tasks}[dimension]
        return table.get(key, str(key))


def _rows(dimension: str, counts: dict[int, tuple[int, int]], labels: _Labels, target: Decimal | None,
          notes: dict[int, str] | None = None) -> list[FigureRow]:
    """Rows of a breakdown from {group id: (numerator, denominator)}, sorted by label."""
    if dimension == "plan":
        labels.load(plan_ids=counts)
    elif dimension == "task":
        labels.load(task_ids=counts)
    rows = [FigureRow(str(key), labels.of(dimension, key), num, den, target, (notes or {}).get(key, ""))
            for key, (num, den) in counts.items()]
    return sorted(rows, key=lambda r: r.label)


def _group_column(dimension: str) -> Any:
    return {"department": SpotCheckTask.lead_department_id, "plan": Plan.id, "task": SpotCheckTask.id}[dimension]


def _published_tasks_of(year: int) -> Select:
    """Spot-check tasks of ``year``'s published plans (joined to their plan)."""
    return (select(SpotCheckTask.id).join(Plan, Plan.id == SpotCheckTask.plan_id)
            .where(Plan.year == year, Plan.status == PlanStatus.PUBLISHED))


def _cases_of(year: int, *columns: Any) -> Select:
    """``columns`` over the cases of ``year``'s published plans, joined to task and plan."""
    return (select(*columns).select_from(InspectionCase)
            .join(SpotCheckTask, SpotCheckTask.id == InspectionCase.spot_check_task_id)
            .join(Plan, Plan.id == SpotCheckTask.plan_id)
            .where(Plan.year == year, Plan.status == PlanStatus.PUBLISHED))


def _case_counts(year: int, numerator: Any, denominator: Any, dimensions: Iterable[str]) -> tuple[
        tuple[int, int], dict[str, dict[int, tuple[int, int]]]]:
    """(numerator, denominator) over the year's cases, overall and per dimension, by conditional sums."""
    num = func.coalesce(func.sum(case((and_(numerator, denominator), 1), else_=0)), 0)
    den = func.coalesce(func.sum(case((denominator, 1), else_=0)), 0)
    total = db.session.execute(_cases_of(year, num, den)).one()
    groups: dict[str, dict[int, tuple[int, int]]] = {}
    for dimension in dimensions:
        column = _group_column(dimension)
        groups[dimension] = {
            key: (int(n), int(d)) for key, n, d in db.session.execute(
                _cases_of(year, column, num, den).group_by(column)).tuples() if int(d)
        }
    return (int(total[0]), int(total[1])), groups



def _case_figure(code: str, title: Any, definition: Any, year: int, labels: _Labels, target: Decimal | None,
                 numerator: Any, denominator: Any, breakdowns: bool) -> Figure:
    """A figure counted over the year's cases by ``_case_counts``, with its breakdowns."""
    (num, den), groups = _case_counts(year, numerator, denominator, DIMENSIONS if breakdowns else ())
    figure = Figure(code, title, definition, target, FigureRow("total", str(year), num, den, target))
    for dimension, counts in groups.items():
        figure.breakdowns[dimension] = _rows(dimension, counts, labels, target)
    return figure

# --- the figures --------------------------------------------------------------------------------


def enterprises_checked(year: int, labels: _Labels, target: Decimal | None, breakdowns: bool = True) -> Figure:
    """Share of enterprises checked in the year (target 3%).

    Numerator: distinct entities of kind 企业 (enterprise) with at least one inspection case
    whose inspection date falls in the year, whatever its plan's year and outcome (a visit
    that found the address unreachable is a check: its result, category 6, is published).
    Denominator: enterprises in the directory registered by 31 December of the year (or with no
    registration date) that are active (存续), plus the checked ones that are no longer active,
    so the numerator is always part of the denominator.

    Why enterprises only: the seeds' target is "抽查企业占比 / 企业覆盖率 3%"; individual
    businesses (个体工商户) and cooperatives are counted under their own tasks and would
    change the base the 3% refers to. Department and plan rows show each one's contribution
    over the same denominator, with no target of their own (the 3% is bureau-wide).
    """
    first, last = date(year, 1, 1), date(year, 12, 31)
    in_year = and_(InspectionCase.inspection_date >= first, InspectionCase.inspection_date <= last)
    enterprise = Entity.kind == EntityKind.ENTERPRISE
    checked = (select(InspectionCase.entity_id).join(Entity, Entity.id == InspectionCase.entity_id)
               .where(in_year, enterprise))
    checked_rows = checked.subquery()
    numerator = db.session.scalar(select(func.count(distinct(checked_rows.c.entity_id)))) or 0
    denominator = db.session.scalar(select(func.count(Entity.id)).where(
        enterprise, or_(Entity.registered_on.is_(None), Entity.registered_on <= last),
        or_(Entity.status == EntityStatus.ACTIVE, Entity.id.in_(checked)))) or 0
    figure = Figure("enterprises_checked", _l("Enterprises checked"),
                    _l("Distinct enterprises inspected in the year / enterprises in the directory"), target,
                    FigureRow("total", str(year), numerator, denominator, target))
    if breakdowns:
        for dimension in ("department", "plan"):
            column = _group_column(dimension)
            counts = {key: (int(n), denominator) for key, n in db.session.execute(
                select(column, func.count(distinct(InspectionCase.entity_id)))
                .select_from(InspectionCase).join(Entity, Entity.id == InspectionCase.entity_id)
                .join(SpotCheckTask, SpotCheckTask.id == InspectionCase.spot_check_task_id)
                .join(Plan, Plan.id == SpotCheckTask.plan_id)
                .where(in_year, enterprise).group_by(column)).tuples()}
            figure.breakdowns[dimension] = _rows(dimension, counts, labels, None)
    return figure


def items_covered(year: int, labels: _Labels, target: Decimal | None, breakdowns: bool = True) -> Figure:
    """Share of the check-item list covered by the year's plans (target 80%).

    Numerator: active check items that at least one spot-check task of the year's published
    plans checks. Denominator: all active check items (清单之外无监管: the list is what may be
    checked, so a plan should cover most of it). Per department: the department's own items
    (检查主体), against the same 80%; per plan: the items that plan covers, over the whole list.
    """
    covered = (select(task_check_items.c.check_item_id)
               .join(SpotCheckTask, SpotCheckTask.id == task_check_items.c.task_id)
               .join(Plan, Plan.id == SpotCheckTask.plan_id)
               .where(Plan.year == year, Plan.status == PlanStatus.PUBLISHED))
    is_covered = CheckItem.id.in_(covered)
    num = func.coalesce(func.sum(case((is_covered, 1), else_=0)), 0)
    total = db.session.execute(select(num, func.count(CheckItem.id)).where(CheckItem.active.is_(True))).one()
    figure = Figure("items_covered", _l("Check items covered by plans"),
                    _l("Active check items in a task of the year's published plans / active check items"), target,
                    FigureRow("total", str(year), int(total[0]), int(total[1]), target))
    if breakdowns:
        per_department = {key: (int(n), int(d)) for key, n, d in db.session.execute(
            select(CheckItem.department_id, num, func.count(CheckItem.id))
            .where(CheckItem.active.is_(True)).group_by(CheckItem.department_id)).tuples()}
        figure.breakdowns["department"] = _rows("department", per_department, labels, target)
        per_plan = {key: (int(n), int(total[1])) for key, n in db.session.execute(
            select(Plan.id, func.count(distinct(task_check_items.c.check_item_id)))
            .select_from(task_check_items)
            .join(CheckItem, CheckItem.id == task_check_items.c.check_item_id)
            .join(SpotCheckTask, SpotCheckTask.id == task_check_items.c.task_id)
            .join(Plan, Plan.id == SpotCheckTask.plan_id)
            .where(Plan.year == year, Plan.status == PlanStatus.PUBLISHED, CheckItem.active.is_(True))
            .group_by(Plan.id)).tuples()}
        figure.breakdowns["plan"] = _rows("plan", per_plan, labels, None)
    return figure


def uses_credit_classes(quota_kind: str, credit_ratios: dict[str, Any] | None) -> bool:
    """Whether a task's quota applies the credit-risk classes: a ratio per class, not all equal."""
    if quota_kind != QuotaKind.RATIO or not credit_ratios:
        return False
    try:
        return len({Decimal(str(v)) for v in credit_ratios.values()}) > 1
    except InvalidOperation:
        return False


def credit_class_use(year: int, labels: _Labels, target: Decimal | None, breakdowns: bool = True) -> Figure:
    """Share of the year's draws that apply the credit-risk classes (target 90%).

    Unit: signed-off draw rounds of tasks of the year's published plans (a voided round took
    no effect; a redraw's signed-off round stands for its task). Numerator: those whose task
    sets a ratio per credit class with at least two different ratios (a count quota, one
    ratio for all, or the same ratio for every class does not apply the classes).
    """
    rows = db.session.execute(
        select(Draw.id, SpotCheckTask.id, SpotCheckTask.lead_department_id, Plan.id, SpotCheckTask.quota_kind,
               SpotCheckTask.credit_ratios)
        .join(TaskDraw, TaskDraw.id == Draw.task_draw_id)
        .join(SpotCheckTask, SpotCheckTask.id == TaskDraw.spot_check_task_id)
        .join(Plan, Plan.id == SpotCheckTask.plan_id)
        .where(Plan.year == year, Plan.status == PlanStatus.PUBLISHED, Draw.status == DrawStatus.SIGNED_OFF)
    ).tuples().all()
    counts: dict[str, dict[int, list[int]]] = {d: defaultdict(lambda: [0, 0]) for d in DIMENSIONS}
    used_total = 0
    for _draw_id, task_id, department_id, plan_id, quota_kind, ratios in rows:
        used = uses_credit_classes(quota_kind, ratios)
        used_total += used
        for dimension, key in (("department", department_id), ("plan", plan_id), ("task", task_id)):
            counts[dimension][key][0] += used
            counts[dimension][key][1] += 1
    figure = Figure("credit_class_use", _l("Credit classes applied in draws"),
                    _l("Signed-off draws whose task sets a ratio per credit class / signed-off draws"), target,
                    FigureRow("total", str(year), used_total, len(rows), target))
    if breakdowns:
        for dimension in DIMENSIONS:
            figure.breakdowns[dimension] = _rows(
                dimension, {k: (v[0], v[1]) for k, v in counts[dimension].items()}, labels, target)
    return figure


def results_on_time(year: int, labels: _Labels, target: Decimal | None, breakdowns: bool = True) -> Figure:
    """Share of results entered on time (target 100%).

    Cases of the year's published plans. Denominator: cases whose results were entered, plus
    cases whose results are overdue and still missing (past their due day, or marked late):
    leaving those out would flatter the figure with exactly the cases that are the latest.
    Numerator: cases entered on time (``results_on_time``: before the end of the 7th working
    day after the inspection, and never marked late).
    """
    today = clock.now().astimezone(SHANGHAI).date()
    denominator = or_(InspectionCase.results_entered_at.is_not(None), InspectionCase.marked_late_at.is_not(None),
                      InspectionCase.results_due_on < today)
    numerator = and_(InspectionCase.results_entered_at.is_not(None), InspectionCase.results_on_time.is_(True))
    return _case_figure("results_on_time", _l("Results entered on time"),
                        _l("Cases entered within 7 working days / cases entered or overdue"),
                        year, labels, target, numerator, denominator, breakdowns)


def results_published(year: int, labels: _Labels, target: Decimal | None, breakdowns: bool = True) -> Figure:
    """Share of results published (target 100%: 谁检查、谁录入、谁公开).

    Cases of the year's published plans whose results were entered (the check is done and
    its result exists). Numerator: those published. A result waiting in review, or returned
    for revision, counts as not (yet) published: publication follows approval at once, so a
    denominator of reviewed cases only would hide results stuck before publication.
    """
    denominator = InspectionCase.results_entered_at.is_not(None)
    numerator = InspectionCase.published_at.is_not(None)
    return _case_figure("results_published", _l("Results published"),
                        _l("Cases published / cases with results entered"),
                        year, labels, target, numerator, denominator, breakdowns)


def _branches_from(year: int) -> list[Any]:
    """Referral branches opened from the year's first day on, with their case's task grouping."""
    first, _ = _year_bounds(year)
    return db.session.execute(
        select(ReferralBranch.id, ReferralBranch.disposition, ReferralBranch.status, ReferralBranch.escalated_to_id,
               ReferralBranch.opened_at, SpotCheckTask.id.label("task_id"),
               SpotCheckTask.lead_department_id.label("department_id"), SpotCheckTask.plan_id.label("plan_id"))
        .join(Referral, Referral.id == ReferralBranch.referral_id)
        .join(InspectionCase, InspectionCase.id == Referral.case_id)
        .join(SpotCheckTask, SpotCheckTask.id == InspectionCase.spot_check_task_id)
        .where(ReferralBranch.opened_at >= first)
    ).all()


def _branch_figure(code: str, title: Any, definition: Any, target: Decimal | None, year: int, labels: _Labels,
                   units: list[tuple[Any, bool]], breakdowns: bool) -> Figure:
    counts: dict[str, dict[int, list[int]]] = {d: defaultdict(lambda: [0, 0]) for d in DIMENSIONS}
    done_total = 0
    for row, done in units:
        done_total += done
        for dimension, key in (("department", row.department_id), ("plan", row.plan_id), ("task", row.task_id)):
            counts[dimension][key][0] += done
            counts[dimension][key][1] += 1
    figure = Figure(code, title, definition, target, FigureRow("total", str(year), done_total, len(units), target))
    if breakdowns:
        for dimension in DIMENSIONS:
            figure.breakdowns[dimension] = _rows(
                dimension, {k: (v[0], v[1]) for k, v in counts[dimension].items()}, labels, target)
    return figure


def follow_up_completion(year: int, labels: _Labels, target: Decimal | None, breakdowns: bool = True,
                         branches: list[Any] | None = None) -> Figure:
    """Share of referral follow-ups completed (target 100%: 限期整改落实).

    Unit: a chain of referral branches that starts in the year, i.e. a branch opened in the
    year that no other branch escalated into, followed through ``escalated_to_id`` (a
    rectification not done is carried on by a case-filing branch: one follow-up, not two).
    Numerator: chains whose last branch is closed with its outcome.
    """
    rows = _branches_from(year) if branches is None else branches
    _, end = _year_bounds(year)
    by_id = {r.id: r for r in rows}
    successors = {r.escalated_to_id for r in rows if r.escalated_to_id}
    units = []
    for row in rows:
        if row.id in successors or row.opened_at >= end:
            continue
        last, seen = row, {row.id}
        while last.escalated_to_id and last.escalated_to_id in by_id and last.escalated_to_id not in seen:
            last = by_id[last.escalated_to_id]
            seen.add(last.id)
        units.append((row, last.status == BranchStatus.CLOSED))
    return _branch_figure("follow_up_completion", _l("Follow-up completed"),
                          _l("Referral follow-ups opened in the year and closed / follow-ups opened in the year"),
                          target, year, labels, units, breakdowns)


def rectifications_followed_up(year: int, labels: _Labels, target: Decimal | None, breakdowns: bool = True,
                               branches: list[Any] | None = None) -> Figure:
    """Share of rectification orders followed up (target 100%).

    Unit: rectification branches (责令限期整改) opened in the year. Numerator: those whose
    follow-up inspection is recorded: closed as rectified, or escalated to case filing
    because it was not (both mean someone went back and looked).
    """
    rows = _branches_from(year) if branches is None else branches
    _, end = _year_bounds(year)
    units = [(r, r.status in (BranchStatus.CLOSED, BranchStatus.ESCALATED)) for r in rows
             if r.disposition == Disposition.RECTIFICATION and r.opened_at < end]
    return _branch_figure("rectifications_followed_up", _l("Rectifications followed up"),
                          _l("Rectification orders of the year with the follow-up recorded / rectification orders "
                             "of the year"), target, year, labels, units, breakdowns)


def tasks_finished(year: int, labels: _Labels, target: Decimal | None, breakdowns: bool = True) -> Figure:
    """Share of the year's tasks finished by 20 December (target 100%, Jincheng SAMR).

    Unit: spot-check tasks of the year's published plans. Numerator: tasks whose draw was
    signed off and every case of which was published by the end of 20 December (Beijing
    time) of the year; a task never drawn, or with a case unpublished or published later,
    is not finished.
    """
    deadline = finish_by(year)
    published_in_time = and_(InspectionCase.published_at.is_not(None),
                             shanghai_date(InspectionCase.published_at) <= deadline)
    cases = func.count(InspectionCase.id)
    on_time = func.coalesce(func.sum(case((published_in_time, 1), else_=0)), 0)
    rows = db.session.execute(
        select(SpotCheckTask.id, SpotCheckTask.lead_department_id, Plan.id, TaskDraw.status, cases, on_time)
        .select_from(SpotCheckTask).join(Plan, Plan.id == SpotCheckTask.plan_id)
        .outerjoin(TaskDraw, TaskDraw.spot_check_task_id == SpotCheckTask.id)
        .outerjoin(InspectionCase, InspectionCase.spot_check_task_id == SpotCheckTask.id)
        .where(Plan.year == year, Plan.status == PlanStatus.PUBLISHED)
        .group_by(SpotCheckTask.id, SpotCheckTask.lead_department_id, Plan.id, TaskDraw.status)
    ).tuples().all()
    counts: dict[str, dict[int, list[int]]] = {d: defaultdict(lambda: [0, 0]) for d in DIMENSIONS}
    notes: dict[int, str] = {}
    finished_total = 0
    for task_id, department_id, plan_id, draw_status, n_cases, n_on_time in rows:
        finished = draw_status == TaskDrawStatus.SIGNED_OFF and int(n_on_time) == int(n_cases)
        finished_total += finished
        notes[task_id] = f"{int(n_on_time)}/{int(n_cases)}"
        for dimension, key in (("department", department_id), ("plan", plan_id), ("task", task_id)):
            counts[dimension][key][0] += finished
            counts[dimension][key][1] += 1
    figure = Figure("tasks_finished", _l("Tasks finished by the deadline"),
                    _l("Tasks drawn and with every case published by %(day)s / tasks of the year's published plans",
                       day=deadline.isoformat()), target,
                    FigureRow("total", str(year), finished_total, len(rows), target))
    if breakdowns:
        for dimension in DIMENSIONS:
            figure.breakdowns[dimension] = _rows(
                dimension, {k: (v[0], v[1]) for k, v in counts[dimension].items()}, labels, target,
                notes if dimension == "task" else None)
    return figure


FIGURES: tuple[Callable[..., Figure], ...] = (
    enterprises_checked, items_covered, credit_class_use, results_on_time, results_published,
    follow_up_completion, rectifications_followed_up, tasks_finished,
)


def compute(year: int, *, breakdowns: bool = True) -> FiguresReport:
    """Every figure of ``year``, with its breakdowns unless ``breakdowns`` is False."""
    labels = _Labels()
    goal = targets()
    branches = _branches_from(year)
    figures = []
    for function in FIGURES:
        code = function.__name__
        extra = {"branches": branches} if function in (follow_up_completion, rectifications_followed_up) else {}
        figures.append(function(year, labels, goal.get(code), breakdowns, **extra))
    return FiguresReport(year, figures, finish_by(year))


def available_years() -> list[int]:
    """Years with a published plan, and the current year, newest first."""
    years = set(db.session.scalars(select(distinct(Plan.year)).where(Plan.status == PlanStatus.PUBLISHED)))
    years.add(clock.now().astimezone(SHANGHAI).year)
    return sorted(years, reverse=True)


def trend(years: Iterable[int]) -> dict[str, list[tuple[int, FigureRow]]]:
    """Per figure, its overall row for each of ``years`` (oldest first)."""
    out: dict[str, list[tuple[int, FigureRow]]] = defaultdict(list)
    for year in sorted(years):
        for figure in compute(year, breakdowns=False).figures:
            out[figure.code].append((year, figure.total))
    return dict(out)
