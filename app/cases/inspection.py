"""The inspection and the result entry of a case, as ``bpmn/inspection_case.bpmn`` runs them.

Service tasks compute what the diagram's timers read (deadlines in working days, as
ISO instants in task data); form validators check and store what inspectors enter.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l

from app.auth.models import User
from app.cases.models import CaseItemResult, CaseStatus, InspectionCase, InspectionOutcome
from app.cases.service import _users_by_inspector, get_case
from app.cases.vocab import FOLLOW_UP_LABELS, METHOD_LABELS, OUTCOME_CATEGORY, REFERRAL_FOLLOW_UPS, \
    RESULT_CATEGORY_LABELS, default_method
from app.db import utcnow
from app.errors import Forbidden, ValidationFailed
from app.extensions import db
from app.notifications.service import N_, notify
from app.workdays import service as workdays
from workflows import clock
from workflows.models import HumanTask, ProcessInstance
from workflows.registry import service_task, task_form

MAX_TEXT = 10_000
NOTHING_TO_INSPECT_CATEGORIES = frozenset(OUTCOME_CATEGORY.values())


def _case_of(data: dict[str, Any]) -> InspectionCase:
    return get_case(int(data["case_id"]))


def _lead(case: InspectionCase, user: User) -> None:
    """Only the case's lead inspector (first active member) records and enters results."""
    active = case.active_members
    if not active or user.inspector_id != active[0].inspector_id:
        raise Forbidden("only the lead inspector of this case records it")


def calendar_note(*deadlines: workdays.Deadline) -> str:
    """The years without an official calendar that a deadline counted through ("" when none).

    The case page says so in the reader's language: only weekends were skipped there.
    """
    return ", ".join(str(y) for y in sorted({y for d in deadlines for y in d.years_without_calendar}))


def _member_users(case: InspectionCase) -> list[int]:
    """User ids of the active members with a login, the lead first."""
    users = _users_by_inspector({m.inspector_id for m in case.active_members})
    return [users[m.inspector_id] for m in case.active_members if m.inspector_id in users]


@service_task("cases.prepare_inspection")
def _prepare_inspection(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Team confirmed: one item row per check item of the task, the notice issued, the window timer set."""
    from app.cases.documents import render_in_background

    case = _case_of(data)
    task = case.spot_check_task
    if not case.item_results:
        for position, item in enumerate(task.check_items, start=1):
            case.item_results.append(CaseItemResult(check_item_id=item.id, position=position,
                                                    method=default_method(item.method)))
    case.status, case.notice_issued_at = CaseStatus.INSPECTING, utcnow()
    member_users = _member_users(case)
    warning_day = workdays.working_days_before(task.window_end, current_app.config["WINDOW_WARNING_WORKING_DAYS"])
    db.session.flush()
    render_in_background(case.id, "inspection_notice")
    return {
        "lead_user_id": member_users[0] if member_users else None,
        "member_user_ids": member_users,
        "window_closes_at": workdays.deadline_instant(task.window_end).isoformat(),
        "window_warning_at": workdays.morning_of(warning_day.day).isoformat(),
    }


def _text(form: dict[str, Any], key: str, limit: int = MAX_TEXT) -> str:
    return str(form.get(key) or "").strip()[:limit]


@task_form("case_inspection")
def _validate_inspection(form: dict[str, Any], task: HumanTask, user: User) -> dict[str, Any]:
    """The on-site record: inspection date, outcome, record text and, per item, what was done."""
    case = get_case(task.subject_id)
    _lead(case, user)
    errors: dict[str, list[str]] = {}
    inspected_on: date | None = None
    try:
        inspected_on = date.fromisoformat(str(form.get("inspection_date") or "").strip())
        if inspected_on > clock.now().astimezone(workdays.SHANGHAI).date():
            errors["inspection_date"] = [str(_l("The inspection date cannot be in the future."))]
        elif inspected_on < case.spot_check_task.window_start:
            errors["inspection_date"] = [str(_l("The inspection date is before the task's inspection window."))]
    except ValueError:
        errors["inspection_date"] = [str(_l("Enter the inspection date, like 2024-09-27."))]
    outcome = str(form.get("outcome") or "")
    if outcome not in set(InspectionOutcome):
        errors["outcome"] = [str(_l("Choose whether the entity could be inspected."))]
    record = _text(form, "onsite_record")
    if not record:
        errors["onsite_record"] = [str(_l("Write the on-site record: what was seen, who was present, what was done."))]
    items: list[tuple[CaseItemResult, str, bool, str, str]] = []
    for row in case.item_results:
        key = f"item_{row.check_item_id}"
        method = str(form.get(f"{key}_method") or row.method)
        if method not in METHOD_LABELS:
            errors[f"{key}_method"] = [str(_l("Choose a method."))]
        checked = str(form.get(f"{key}_checked") or "") in ("1", "on", "true", "yes")
        findings, disposal = _text(form, f"{key}_findings"), _text(form, f"{key}_disposal")
        if checked and not findings:
            errors[f"{key}_findings"] = [str(_l("Write the findings of every item you checked (\"none\" if nothing was found)."))]
        items.append((row, method, checked, findings, disposal))
    if outcome == InspectionOutcome.INSPECTED and items and not any(checked for _, _, checked, _, _ in items):
        errors["items"] = [str(_l("An inspected entity has at least one checked item."))]
    if errors:
        raise ValidationFailed(errors)
    for row, method, checked, findings, disposal in items:
        row.method, row.checked = method, checked and outcome == InspectionOutcome.INSPECTED
        row.findings, row.disposal = (findings, disposal) if row.checked else ("", "")
    case.inspection_date, case.outcome, case.onsite_record, case.recorded_at = inspected_on, outcome, record, utcnow()
    case.record_changed_at = case.recorded_at
    return {"inspection_outcome": outcome, "inspection_date": inspected_on.isoformat() if inspected_on else None}


@service_task("cases.schedule_results")
def _schedule_results(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Results are due at the end of the 7th working day after the inspection; the reminder 2 before."""
    case = _case_of(data)
    settings = current_app.config
    due = workdays.add_working_days(case.inspection_date, settings["RESULT_ENTRY_WORKING_DAYS"])  # type: ignore[arg-type]
    remind = workdays.working_days_before(due.day, settings["RESULT_REMINDER_WORKING_DAYS"])
    case.results_due_on, case.calendar_note = due.day, calendar_note(due, remind)
    case.status = CaseStatus.RESULT_ENTRY
    return {
        "results_due_at": workdays.deadline_instant(due.day).isoformat(),
        "results_reminder_at": workdays.morning_of(remind.day).isoformat(),
    }


@task_form("case_results")
def _validate_results(form: dict[str, Any], task: HumanTask, user: User) -> dict[str, Any]:
    """Result categories (multi-select) and a follow-up per finding, consistent with the outcome."""
    case = get_case(task.subject_id)
    _lead(case, user)
    raw = form.get("categories") or []
    categories = [str(c) for c in (raw if isinstance(raw, list) else [raw]) if str(c)]
    errors: dict[str, list[str]] = {}
    unknown = [c for c in categories if c not in RESULT_CATEGORY_LABELS]
    if not categories or unknown:
        errors["categories"] = [str(_l("Choose at least one result category from the list."))]
    elif "1" in categories and len(categories) > 1:
        errors["categories"] = [str(_l("\"No problem found\" cannot be combined with other categories."))]
    implied = OUTCOME_CATEGORY.get(case.outcome)  # type: ignore[call-overload]
    if implied and implied not in categories:
        errors["categories"] = [str(_l("The inspection found nothing to inspect: the result must include \"%(label)s\".",
                                       label=RESULT_CATEGORY_LABELS[implied]))]
    if case.outcome == InspectionOutcome.INSPECTED and NOTHING_TO_INSPECT_CATEGORIES & set(categories):
        errors["categories"] = [str(_l("The entity was inspected: categories 6, 7 and 9 do not apply."))]
    follow_ups: dict[int, str] = {}
    for row in case.item_results:
        if not row.checked:
            continue
        choice = str(form.get(f"follow_{row.check_item_id}") or "none")
        if choice not in FOLLOW_UP_LABELS:
            errors[f"follow_{row.check_item_id}"] = [str(_l("Choose a follow-up."))]
        follow_ups[row.id] = choice
    if "1" in categories and any(v != "none" for v in follow_ups.values()):
        errors["categories"] = [str(_l("A follow-up was chosen for a finding: \"No problem found\" does not fit."))]
    if errors:
        raise ValidationFailed(errors)
    for row in case.item_results:
        row.follow_up = follow_ups.get(row.id, "none")
    case.result_categories, case.result_summary = categories, _text(form, "summary", 4000)
    case.record_changed_at = utcnow()
    if task.bpmn_id == "revise_results":
        case.status = CaseStatus.REVIEW  # back to the section chief
    case.needs_referral = any(v in REFERRAL_FOLLOW_UPS for v in follow_ups.values())
    return {"result_categories": categories, "needs_referral": case.needs_referral}


@service_task("cases.remind_results")
def _remind_results(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> None:
    """Two working days before the deadline: a notification to every active member."""
    case = _case_of(data)
    notify(_member_users(case), N_("Results of case %(code)s are due on %(day)s."),
           link=f"/cases/{case.id}", code=case.code, day=str(case.results_due_on))


@service_task("cases.mark_late")
def _mark_late(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> None:
    """The deadline passed without results: the case is late for good (the figures count it)."""
    case = _case_of(data)
    case.marked_late_at, case.results_on_time = utcnow(), False
    notify(_member_users(case), N_("Results of case %(code)s are late: they were due on %(day)s."),
           link=f"/cases/{case.id}", code=case.code, day=str(case.results_due_on))


@service_task("cases.results_entered")
def _results_entered(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> None:
    """Results are in: on time unless the deadline passed first; the case goes to review."""
    case = _case_of(data)
    now = clock.now()  # the clock the timers read: on time means before the deadline timer's instant
    case.results_entered_at = now
    due = datetime.fromisoformat(data["results_due_at"])
    case.results_on_time = case.marked_late_at is None and now <= due
    case.status = CaseStatus.REVIEW


@task_form("case_window_escalation")
@task_form("case_late_escalation")
def _validate_escalation(form: dict[str, Any], task: HumanTask, user: User) -> dict[str, Any]:
    """The section chief records what was done about a closing window or late results."""
    comments = _text(form, "comments", 4000)
    if not comments:
        raise ValidationFailed({"comments": [str(_l("Record what you did about it."))]})
    return {f"{task.bpmn_id}_comments": comments, f"{task.bpmn_id}_by": user.id}
