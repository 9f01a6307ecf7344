"""The steps of ``bpmn/referral.bpmn`` (processes ``referral`` and ``case_filing``).

Service task handlers compute deadlines in working days (as ISO instants in task data, which
the diagram's timers and ``dueAtFrom`` read) and keep each branch's running deadline
(``due_on``/``due_label``) in step with the path. Form validators check who acts (the lane's
role is checked by the engine too; these also check the assignment and separation of duty),
validate the input and record the state change with its audit entry.

Each path of the referral's inclusive split keeps its own task data; ``branch_id`` there names
the branch its steps work on, and validators read it from the task's data.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Flask, current_app

from app.audit import service as audit
from app.auth.models import User
from app.auth.roles import Role
from app.cases.service import get_case
from app.errors import Conflict, Forbidden, ValidationFailed
from app.extensions import db
from app.i18n import lazy_text as _l
from app.notifications.service import N_, notify
from app.referrals import service
from app.referrals.follow_up import draw_follow_up_team
from app.referrals.models import BranchStatus, Disposition, Referral, ReferralBranch, ReferralStatus
from app.referrals.vocab import DISPOSITION_LABELS, OUTCOMES
from app.workdays import service as workdays
from workflows import engine
from workflows.models import HumanTask, ProcessInstance
from workflows.registry import service_task, task_form

MAX_TEXT = 4000
# Dispositions handed to another body, which names itself at triage.
HANDED_OVER = (Disposition.DEPARTMENT_TRANSFER, Disposition.JUDICIAL_TRANSFER, Disposition.DISCIPLINE)
FILING_OUTCOMES = ("penalty", "filed_no_penalty")


def init_app(app: Flask) -> None:
    """Make the referral vocabulary available to the task forms (this import registers the steps)."""
    app.jinja_env.globals.update({
        "REFERRAL_DISPOSITION_LABELS": DISPOSITION_LABELS,
        "REFERRAL_OUTCOMES": OUTCOMES,
        "REFERRAL_HANDED_OVER": tuple(d.value for d in HANDED_OVER),
        "referral_branch": _form_branch,
    })


def _form_branch(branch_id: Any) -> ReferralBranch | None:
    """The branch a task form is about (its ``branch_id`` in the task data), for display only."""
    try:
        return db.session.get(ReferralBranch, int(branch_id))
    except (TypeError, ValueError):
        return None


# --- helpers --------------------------------------------------------------------------------


def _settings() -> Any:
    return current_app.config


def _text(form: dict[str, Any], key: str, limit: int = MAX_TEXT) -> str:
    value = form.get(key)
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value or "").strip()[:limit]


def _date(form: dict[str, Any], key: str, errors: dict[str, list[Any]]) -> date | None:
    raw = _text(form, key, 32)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[key] = [_l("Enter a date, like 2026-10-12.")]
        return None


def _past_date(form: dict[str, Any], key: str, errors: dict[str, list[Any]], earliest: date) -> date | None:
    """A date that already happened, not before ``earliest`` (when the step became possible)."""
    day = _date(form, key, errors)
    if day is not None and day > service.today():
        errors[key] = [_l("The date cannot be in the future.")]
    elif day is not None and day < earliest:
        errors[key] = [_l("The date cannot be before %(day)s.", day=earliest.isoformat())]
    return day


def _local_day(instant: datetime) -> date:
    return instant.astimezone(workdays.SHANGHAI).date()


def _instant_of(day: date) -> datetime:
    """The instant to store for something that happened on ``day``: now if today, else that day's start."""
    if day == service.today():
        return service.now()
    return datetime.combine(day, time(0), tzinfo=workdays.SHANGHAI)


def _due(days: int) -> tuple[date, str]:
    """The working day ``days`` working days from today, and the end of it as an ISO instant."""
    day = workdays.add_working_days(service.today(), days).day
    return day, workdays.deadline_instant(day).isoformat()


def _require_legal_officer(user: User) -> None:
    if not user.has_role(Role.LEGAL_OFFICER):
        raise Forbidden("only a legal officer handles referrals")


def _task_branch(task: HumanTask, *dispositions: Disposition) -> ReferralBranch:
    """The branch a human task works on (``branch_id`` of its path's data), still open."""
    data = engine.task_context(task.id)
    branch = service.get_branch(int(data["branch_id"]), task.subject_id)
    if dispositions and branch.disposition not in dispositions:
        raise Conflict(f"task {task.id} does not belong to a {'/'.join(dispositions)} branch")
    service.check_open(branch)
    return branch


def _data_branch(data: dict[str, Any]) -> ReferralBranch:
    return service.get_branch(int(data["branch_id"]), int(data["referral_id"]))


def _chosen_branch(data: dict[str, Any], disposition: Disposition) -> ReferralBranch:
    return service.get_branch(int(data["branch_ids"][disposition.value]), int(data["referral_id"]))


def _case_code(branch: ReferralBranch) -> str:
    return branch.referral.case.code


def _link(referral_id: int) -> str:
    return f"/referrals/{referral_id}"


# --- triage ---------------------------------------------------------------------------------


@task_form("referral_triage")
def _validate_triage(form: dict[str, Any], task: HumanTask, user: User) -> dict[str, Any]:
    """One or more dispositions, each with its inputs, and a note; the referral is triaged."""
    _require_legal_officer(user)
    referral = service.get_referral(task.subject_id)
    if referral.status != ReferralStatus.TRIAGE:
        raise Conflict("this referral has already been triaged")
    raw = form.get("dispositions") or []
    picked = {str(v) for v in (raw if isinstance(raw, list) else [raw]) if str(v)}
    errors: dict[str, list[Any]] = {}
    known = {d.value for d in Disposition}
    if not picked or picked - known:
        errors["dispositions"] = [_l("Choose at least one disposition from the list.")]
    chosen = [d.value for d in Disposition if d.value in picked]  # one order whatever the form sent
    if Disposition.CASE_FILING in chosen and Disposition.NO_PENALTY in chosen:
        errors["dispositions"] = [_l("A case is either filed or not penalised as a minor first violation, not both.")]
    choices: dict[str, dict[str, Any]] = {}
    for disposition in chosen:
        inputs: dict[str, Any] = {}
        if disposition in HANDED_OVER:
            authority = _text(form, f"{disposition}_authority", 256)
            if not authority:
                errors[f"{disposition}_authority"] = [_l("Name the authority that receives the case.")]
            inputs["receiving_authority"] = authority
        if disposition == Disposition.JUDICIAL_TRANSFER:
            # What the judicial organs are asked to examine: the transfer form prints it.
            offence = _text(form, "suspected_offence")
            if not offence:
                errors["suspected_offence"] = [_l("Describe the suspected offence the judicial organs are to examine.")]
            inputs["requirement"] = offence
        if disposition == Disposition.RECTIFICATION:
            requirement = _text(form, "rectification_requirement")
            if not requirement:
                errors["rectification_requirement"] = [_l("Say what must be rectified.")]
            deadline = _date(form, "rectification_deadline", errors)
            if deadline is not None and deadline <= service.today():
                errors["rectification_deadline"] = [_l("The rectification deadline must be after today.")]
            elif deadline is not None and deadline > service.today() + timedelta(days=366):
                errors["rectification_deadline"] = [_l("The rectification deadline must be within a year.")]
            inputs.update(requirement=requirement, deadline=deadline.isoformat() if deadline else None)
        if disposition == Disposition.NO_PENALTY:
            item = _text(form, "no_penalty_item", 32)
            if item not in service.no_penalty_list():
                errors["no_penalty_item"] = [_l("Choose the violation from the bureau's no-penalty list.")]
            reason = _text(form, "no_penalty_reason")
            if not reason:
                errors["no_penalty_reason"] = [_l("Give the reason: first violation, minor, corrected in time.")]
            inputs.update(item=item, reason=reason)
        choices[disposition] = inputs
    if errors:
        raise ValidationFailed(errors)
    note = _text(form, "triage_note")
    referral.triaged_at, referral.triaged_by_id, referral.triage_note = service.now(), user.id, note
    audit.record("referral.triaged", actor=user, subject_type=service.SUBJECT_TYPE, subject_id=referral.id,
                 details={"dispositions": chosen, "choices": choices, "note": note})
    return {"dispositions": chosen, "triage_choices": choices}


@service_task("referrals.open_branches")
def _open_branches(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """One tracked branch per chosen disposition; the split's paths find theirs in ``branch_ids``."""
    referral = service.get_referral(int(data["referral_id"]))
    return {"branch_ids": service.open_branches(referral, data["triage_choices"])}


@service_task("referrals.take_up_branch")
def _take_up_branch(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """The path's branch becomes ``branch_id``; a hand-over to discipline inspection gets its deadline."""
    branch = _chosen_branch(data, Disposition(params["disposition"]))
    out: dict[str, Any] = {"branch_id": branch.id}
    if branch.disposition == Disposition.DISCIPLINE:
        day, instant = _due(_settings()["TRANSFER_REMINDER_WORKING_DAYS"])
        service.set_due(branch, day, service.DUE_DISCIPLINE_TRANSFER)
        out["ack_due_at"] = instant
    return out


# --- transfers: department, judicial organs, discipline inspection --------------------------


@service_task("referrals.issue_transfer")
def _issue_transfer(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Issue the transfer document (rendered once the step commits); the acknowledgement is awaited."""
    from app.referrals.documents import issue_transfer_document

    branch = _chosen_branch(data, Disposition(params["disposition"]))
    issue_transfer_document(branch)
    day, instant = _due(_settings()["TRANSFER_REMINDER_WORKING_DAYS"])
    service.set_due(branch, day, service.DUE_ACKNOWLEDGEMENT)
    audit.record("referral.transfer_issued", actor=None, subject_type=service.SUBJECT_TYPE,
                 subject_id=branch.referral_id,
                 details={"branch_id": branch.id, "disposition": branch.disposition,
                          "receiving_authority": branch.receiving_authority})
    return {"branch_id": branch.id, "ack_due_at": instant}


@task_form("referral_transfer_ack")
def _validate_acknowledgement(form: dict[str, Any], task: HumanTask, user: User) -> dict[str, Any]:
    """The receiving authority acknowledged the transfer (discipline inspection: took it over) on a date."""
    _require_legal_officer(user)
    branch = _task_branch(task, *HANDED_OVER)
    errors: dict[str, list[Any]] = {}
    day = _past_date(form, "acknowledged_on", errors, _local_day(branch.opened_at))
    reference = _text(form, "reference", 128)
    if errors:
        raise ValidationFailed(errors)
    assert day is not None
    branch.acknowledged_at = _instant_of(day)
    due_day, instant = _due(_settings()["TRANSFER_REMINDER_WORKING_DAYS"])
    service.set_due(branch, due_day, service.DUE_AUTHORITY_OUTCOME)
    audit.record("referral.transfer_acknowledged", actor=user, subject_type=service.SUBJECT_TYPE,
                 subject_id=branch.referral_id,
                 details={"branch_id": branch.id, "disposition": branch.disposition,
                          "acknowledged_on": day.isoformat(), "reference": reference})
    return {"acknowledged_on": day.isoformat(), "acknowledgement_reference": reference, "outcome_due_at": instant}


@task_form("referral_transfer_outcome")
def _validate_authority_outcome(form: dict[str, Any], task: HumanTask, user: User) -> dict[str, Any]:
    """The receiving authority's outcome closes the branch."""
    _require_legal_officer(user)
    branch = _task_branch(task, *HANDED_OVER)
    outcome = _text(form, "outcome", 32)
    note = _text(form, "note")
    errors: dict[str, list[Any]] = {}
    if outcome not in OUTCOMES[branch.disposition]:
        errors["outcome"] = [_l("Choose the outcome the receiving authority reported.")]
    if not note:
        errors["note"] = [_l("Summarise the receiving authority's answer.")]
    if errors:
        raise ValidationFailed(errors)
    service.decide(branch, outcome, note=note, decided_by_id=user.id, decision_number=_text(form, "decision_number", 128))
    service.close_branch(branch, actor=user)
    return {"authority_outcome": outcome}


@service_task("referrals.remind")
def _remind(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> None:
    """A waiting step is slow: the responsible legal officer is told (acknowledgement and outcome: overdue)."""
    branch = _data_branch(data)
    if branch.status != BranchStatus.OPEN:
        return
    reminder = params["reminder"]
    officers = service.responsible_officers(branch.referral)
    code, day = _case_code(branch), str(branch.due_on or "")
    if reminder == "penalty_publication":
        notify(officers, N_("Case %(code)s: publish the penalty decision %(number)s by the end of %(day)s."),
               link=_link(branch.referral_id), code=code, number=branch.decision_number,
               day=str(branch.penalty_publication_due_on or ""))
        return
    _mark_overdue_now(branch)
    if reminder == "acknowledgement":
        message = N_("Case %(code)s: %(authority)s has not acknowledged the transfer due by %(day)s; chase it.")
    else:
        message = N_("Case %(code)s: no outcome yet from %(authority)s (expected by %(day)s); follow it up.")
    notify(officers, message, link=_link(branch.referral_id), code=code, authority=branch.receiving_authority,
           day=day)


def _mark_overdue_now(branch: ReferralBranch) -> None:
    branch.overdue_at = service.now()
    audit.record("referral.branch_overdue", actor=None, subject_type=service.SUBJECT_TYPE,
                 subject_id=branch.referral_id,
                 details={"branch_id": branch.id, "due_on": str(branch.due_on or ""), "due_label": branch.due_label})


# --- no penalty -----------------------------------------------------------------------------


@service_task("referrals.close_no_penalty")
def _close_no_penalty(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Triage found a minor first violation on the bureau's list: the branch closes at once."""
    branch = _chosen_branch(data, Disposition.NO_PENALTY)
    inputs = data["triage_choices"][Disposition.NO_PENALTY.value]
    wording = service.no_penalty_list().get(inputs["item"], "")
    triager = db.session.get(User, branch.referral.triaged_by_id) if branch.referral.triaged_by_id else None
    service.decide(branch, "no_penalty", note=f"{inputs['item']} {wording}\n{inputs['reason']}".strip(),
                   decided_by_id=triager.id if triager else None)
    service.close_branch(branch, actor=triager, details={"no_penalty_item": inputs["item"]})
    return {"branch_id": branch.id}


# --- rectification --------------------------------------------------------------------------


@service_task("referrals.schedule_rectification")
def _schedule_rectification(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """The deadline triage set runs; a timer waits for its end."""
    branch = _chosen_branch(data, Disposition.RECTIFICATION)
    deadline = date.fromisoformat(data["triage_choices"][Disposition.RECTIFICATION.value]["deadline"])
    service.set_due(branch, deadline, service.DUE_RECTIFICATION)
    return {"branch_id": branch.id, "rectification_due_at": workdays.deadline_instant(deadline).isoformat()}


@service_task("referrals.prepare_follow_up")
def _prepare_follow_up(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """The deadline passed: the follow-up inspection goes to the original lead or to freshly drawn inspectors."""
    branch = _data_branch(data)
    case = branch.referral.case
    settings = _settings()
    fresh = bool(settings["RECTIFICATION_FOLLOW_UP_FRESH_DRAW"])
    team = draw_follow_up_team(case, branch.id) if fresh else []
    if team:
        assignee: int | None = team[0].user_id
        notified = [m.user_id for m in team]
    else:
        # No fresh draw (or nobody eligible was left): the original team's lead goes back.
        assignee = service.case_lead_user(case)
        notified = [assignee] if assignee else []
    day, instant = _due(settings["RECTIFICATION_FOLLOW_UP_WORKING_DAYS"])
    service.set_due(branch, day, service.DUE_FOLLOW_UP)
    audit.record("referral.follow_up_assigned", actor=None, subject_type=service.SUBJECT_TYPE,
                 subject_id=branch.referral_id,
                 details={"branch_id": branch.id, "assignee_id": assignee, "fresh_draw": fresh,
                          "drawn": [m.certificate_no for m in team], "due_on": day.isoformat()})
    if notified:
        notify(notified, N_("Case %(code)s: the rectification deadline has passed; inspect whether it was "
                            "rectified by %(day)s."), link="/tasks", code=case.code, day=day.isoformat())
    else:  # nobody to assign: the task waits in the inspectors' queue; the legal officers should know
        notify(service.responsible_officers(branch.referral),
               N_("Case %(code)s: nobody could be assigned the follow-up inspection; it waits in the "
                  "inspectors' queue."), link=_link(branch.referral_id), code=case.code)
    return {"follow_up_user_id": assignee, "follow_up_team": [m.certificate_no for m in team],
            "follow_up_due_at": instant}


@task_form("referral_follow_up")
def _validate_follow_up(form: dict[str, Any], task: HumanTask, user: User) -> dict[str, Any]:
    """The follow-up inspection's finding: fixed closes the branch as rectified; not fixed escalates it."""
    if not user.has_role(Role.INSPECTOR) or (task.assignee_id is not None and task.assignee_id != user.id):
        raise Forbidden("only the inspector assigned to the follow-up records it")
    branch = _task_branch(task, Disposition.RECTIFICATION)
    fixed = _text(form, "fixed", 8)
    findings = _text(form, "findings")
    errors: dict[str, list[Any]] = {}
    if fixed not in ("yes", "no"):
        errors["fixed"] = [_l("Say whether the violation has been rectified.")]
    if not findings:
        errors["findings"] = [_l("Write what the follow-up inspection found.")]
    if errors:
        raise ValidationFailed(errors)
    branch.follow_up_finding = findings
    audit.record("referral.follow_up_recorded", actor=user, subject_type=service.SUBJECT_TYPE,
                 subject_id=branch.referral_id, details={"branch_id": branch.id, "fixed": fixed == "yes"})
    if fixed == "yes":
        service.decide(branch, "rectified", note=findings, decided_by_id=user.id)
        service.close_branch(branch, actor=user)
    return {"follow_up_fixed": fixed == "yes", "follow_up_by": user.id}


@service_task("referrals.escalate_rectification")
def _escalate(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Not rectified: the branch is ESCALATED and a new case-filing branch carries the violation on."""
    branch = _data_branch(data)
    referral: Referral = branch.referral
    filing = ReferralBranch(disposition=Disposition.CASE_FILING.value, status=BranchStatus.OPEN,
                            opened_at=service.now(), requirement=branch.requirement)
    referral.branches.append(filing)
    db.session.flush()
    branch.escalated_to_id = filing.id
    inspector = db.session.get(User, data["follow_up_by"]) if data.get("follow_up_by") else None
    service.decide(branch, "escalated", note=branch.follow_up_finding, decided_by_id=inspector.id if inspector else None)
    service.close_branch(branch, actor=inspector, status=BranchStatus.ESCALATED,
                         details={"escalated_to_id": filing.id})
    notify(service.responsible_officers(referral),
           N_("Case %(code)s was not rectified: it goes to case filing."), link=_link(referral.id),
           code=referral.case.code)
    return {"branch_id": filing.id}


# --- case filing ----------------------------------------------------------------------------


@service_task("referrals.schedule_verification")
def _schedule_verification(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """The lead is to be verified within 15 working days (a setting)."""
    branch = _data_branch(data)
    service.check_open(branch)
    day, instant = _due(_settings()["LEAD_VERIFICATION_WORKING_DAYS"])
    service.set_due(branch, day, service.DUE_VERIFICATION)
    return {"verification_due_at": instant}


@service_task("referrals.mark_overdue")
def _mark_verification_overdue(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> None:
    """The verification deadline passed: the branch is marked overdue and the officer told."""
    branch = _data_branch(data)
    if branch.status != BranchStatus.OPEN:
        return
    _mark_overdue_now(branch)
    notify(service.responsible_officers(branch.referral),
           N_("Case %(code)s: the verification of the case lead was due by %(day)s and is overdue."),
           link=_link(branch.referral_id), code=_case_code(branch), day=str(branch.due_on or ""))


@task_form("referral_verify_lead")
def _validate_verification(form: dict[str, Any], task: HumanTask, user: User) -> dict[str, Any]:
    """File the case, decline to (closes the branch), or ask once for an extension; always with reasons."""
    _require_legal_officer(user)
    branch = _task_branch(task, Disposition.CASE_FILING)
    result = _text(form, "result", 16)
    reasons = _text(form, "reasons")
    errors: dict[str, list[Any]] = {}
    if result not in ("file", "decline", "extend"):
        errors["result"] = [_l("File the case, decline to file it, or ask for more time.")]
    if not reasons:
        errors["reasons"] = [_l("Give your reasons.")]
    if result == "extend" and branch.extension_requested_at is not None:
        errors["result"] = [_l("The verification may be extended only once, and an extension was already "
                               "requested on %(day)s.", day=_local_day(branch.extension_requested_at).isoformat())]
    if errors:
        raise ValidationFailed(errors)
    details: dict[str, Any] = {"branch_id": branch.id, "reasons": reasons}
    out: dict[str, Any] = {"verification_result": result, "verification_reasons": reasons}
    if result == "extend":
        branch.extension_requested_at, branch.extension_requested_by_id = service.now(), user.id
        audit.record("referral.extension_requested", actor=user, subject_type=service.SUBJECT_TYPE,
                     subject_id=branch.referral_id, details=details)
        notify([uid for uid in service.users_with_role(Role.LEADER) if uid != user.id],
               N_("Case %(code)s: approve or refuse extending the verification of its case lead."),
               link="/tasks/groups", code=_case_code(branch))
        out["extension_requested_by"] = user.id
    elif result == "file":
        day = service.today() + timedelta(days=_settings()["CASE_DECISION_DAYS"])
        service.set_due(branch, day, service.DUE_CASE_DECISION)
        audit.record("referral.case_filed", actor=user, subject_type=service.SUBJECT_TYPE,
                     subject_id=branch.referral_id, details=details)
        out["decision_due_at"] = workdays.deadline_instant(day).isoformat()
    else:
        service.decide(branch, "declined", note=reasons, decided_by_id=user.id)
        service.close_branch(branch, actor=user)
    return out


@task_form("referral_extension_approval")
def _validate_extension(form: dict[str, Any], task: HumanTask, user: User) -> dict[str, Any]:
    """A leader who did not ask for it approves the extension or refuses it with reasons."""
    if not user.has_role(Role.LEADER):
        raise Forbidden("only a leader approves an extension")
    branch = _task_branch(task, Disposition.CASE_FILING)
    if user.id == branch.extension_requested_by_id:
        raise Forbidden("the leader who approves an extension cannot be the one who asked for it")
    decision = _text(form, "decision", 16)
    comments = _text(form, "comments")
    if decision not in ("approve", "refuse"):
        raise ValidationFailed({"decision": [_l("Approve the extension or refuse it.")]})
    if decision == "refuse" and not comments:
        raise ValidationFailed({"comments": [_l("Give the reason for refusing.")]})
    if decision == "approve":
        branch.extension_approved_by_id = user.id
    audit.record("referral.extension_approved" if decision == "approve" else "referral.extension_refused",
                 actor=user, subject_type=service.SUBJECT_TYPE, subject_id=branch.referral_id,
                 details={"branch_id": branch.id, "comments": comments})
    if branch.extension_requested_by_id is not None:
        notify([branch.extension_requested_by_id],
               N_("Case %(code)s: the extension of the verification was approved.") if decision == "approve"
               else N_("Case %(code)s: the extension of the verification was refused."),
               link=_link(branch.referral_id), code=_case_code(branch))
    return {"extension_answer": decision, "extension_note": comments}


@service_task("referrals.extend_verification")
def _extend_verification(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """An approved extension: 15 more working days after the current deadline (clears the overdue mark)."""
    branch = _data_branch(data)
    service.check_open(branch)
    if branch.extended_at is not None:  # the validator refuses a second request; this is the last guard
        raise Conflict(f"branch {branch.id} was already extended")
    start = branch.due_on or service.today()
    day = workdays.add_working_days(start, _settings()["LEAD_VERIFICATION_EXTENSION_WORKING_DAYS"]).day
    branch.extended_at = service.now()
    service.set_due(branch, day, service.DUE_VERIFICATION_EXTENDED)
    audit.record("referral.verification_extended", actor=None, subject_type=service.SUBJECT_TYPE,
                 subject_id=branch.referral_id, details={"branch_id": branch.id, "due_on": day.isoformat()})
    return {"verification_due_at": workdays.deadline_instant(day).isoformat()}


@task_form("referral_filing_decision")
def _validate_filing_decision(form: dict[str, Any], task: HumanTask, user: User) -> dict[str, Any]:
    """The decision on a filed case: a penalty (with its decision number) or none."""
    _require_legal_officer(user)
    branch = _task_branch(task, Disposition.CASE_FILING)
    outcome = _text(form, "outcome", 32)
    note = _text(form, "note")
    number = _text(form, "decision_number", 128)
    errors: dict[str, list[Any]] = {}
    if outcome not in FILING_OUTCOMES:
        errors["outcome"] = [_l("Choose the decision: a penalty, or no penalty.")]
    if outcome == "penalty" and not number:
        errors["decision_number"] = [_l("Enter the number of the penalty decision.")]
    if not note:
        errors["note"] = [_l("Summarise the decision and its legal basis.")]
    if errors:
        raise ValidationFailed(errors)
    service.decide(branch, outcome, note=note, decided_by_id=user.id, decision_number=number)
    if outcome == "penalty":  # closes once the decision is published
        audit.record("referral.penalty_decided", actor=user, subject_type=service.SUBJECT_TYPE,
                     subject_id=branch.referral_id, details={"branch_id": branch.id, "decision_number": number})
    else:
        service.close_branch(branch, actor=user)
    return {"filing_outcome": outcome}


@service_task("referrals.schedule_penalty_publication")
def _schedule_penalty_publication(instance: ProcessInstance, params: dict[str, Any],
                                  data: dict[str, Any]) -> dict[str, Any]:
    """A penalty decision is published within 7 working days (a setting); a reminder on the last morning."""
    branch = _data_branch(data)
    day, instant = _due(_settings()["PENALTY_PUBLICATION_WORKING_DAYS"])
    branch.penalty_publication_due_on = day
    service.set_due(branch, day, service.DUE_PENALTY_PUBLICATION)
    return {"penalty_publication_due_at": instant,
            "penalty_publication_reminder_at": workdays.morning_of(day).isoformat()}


@task_form("referral_penalty_publication")
def _validate_penalty_publication(form: dict[str, Any], task: HumanTask, user: User) -> dict[str, Any]:
    """Where and when the penalty decision was published; the branch closes."""
    _require_legal_officer(user)
    branch = _task_branch(task, Disposition.CASE_FILING)
    errors: dict[str, list[Any]] = {}
    decided_on = _local_day(branch.decided_at) if branch.decided_at else _local_day(branch.opened_at)
    day = _past_date(form, "published_on", errors, decided_on)
    where = _text(form, "where", 512)
    if not where:
        errors["where"] = [_l("Say where the decision was published (the web address or the notice board).")]
    if errors:
        raise ValidationFailed(errors)
    assert day is not None
    branch.penalty_published_at = _instant_of(day)
    service.close_branch(branch, actor=user, details={"published_on": day.isoformat(), "where": where,
                                                      "on_time": bool(branch.penalty_publication_due_on
                                                                      and day <= branch.penalty_publication_due_on)})
    return {"penalty_published_on": day.isoformat()}


# --- closing and the start ------------------------------------------------------------------


@service_task("referrals.close_referral")
def _close_referral(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> None:
    """Every branch has its outcome: the referral closes and its handling is published."""
    service.close_referral(service.get_referral(int(data["referral_id"])))


@service_task("referrals.open_referral")
def _open_referral(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Called by the inspection case once its result is published with a violation to refer."""
    referral = service.open_referral(get_case(int(data["case_id"])))
    return {"referral_id": referral.id}
