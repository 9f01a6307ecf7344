"""Referrals over HTTP: a published case with a violation opens a referral in the legal
officers' queue; triage into dispositions; every disposition run to its outcome; the extension
of a lead verification (once, by a leader other than the requester); rectification with its
follow-up inspection (fixed, or escalated to case filing); the timers on a controllable clock;
the referral closes only when every branch has its outcome."""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.auth.models import User
from app.cases.models import InspectionCase
from app.extensions import db
from app.notifications.models import Notification
from app.referrals.models import Referral, ReferralBranch
from tests.test_case_lifecycle import _task_for, confirmed_case, record_and_enter
from tests.test_case_timers import SHANGHAI, at
from tests.test_draw_process import bureau  # noqa: F401
from workflows import clock, engine
from workflows.models import HumanTask, InstanceStatus, ProcessInstance


@pytest.fixture
def controlled_clock() -> Iterator[None]:
    yield
    clock.reset()


def _today() -> date:
    """Today where the bureau works (the machine's own date may be a day behind Shanghai's)."""
    return clock.now().astimezone(SHANGHAI).date()


@dataclass
class Published:
    referral_id: int
    case_id: int
    lead: str  # the lead inspector's username


def published_referral(app, bureau, login_as, make_user, *, inspected_on: date | None = None,  # type: ignore[no-untyped-def]
                       follow_up: str = "refer_case_lead") -> Published:
    """A case inspected, its result with a violation approved and published: its referral is open."""
    for name, roles in (("lo", ("legal_officer",)), ("lo2", ("legal_officer",)), ("chief", ("section_chief",)),
                        ("boss", ("leader",)), ("lolead", ("legal_officer", "leader"))):
        make_user(name, *roles)
    case_id, lead = confirmed_case(app, bureau, login_as)
    record_and_enter(app, login_as, case_id, lead, inspected_on=inspected_on or date.today() - timedelta(days=1),
                     categories=["D"], follow_up=follow_up)
    r = login_as("chief").post(f"/tasks/{_task_for(app, case_id, 'review_results')}/complete",
                               data={"decision": "approve"})
    assert r.status_code == 302, r.get_data(as_text=True)
    with app.app_context():
        referral = db.session.scalar(select(Referral).where(Referral.case_id == case_id))
        assert referral is not None, "publishing a result with a violation opens a referral"
        return Published(referral.id, case_id, lead)


def _task(app, referral_id: int, step: str, branch_id: int | None = None) -> int:  # type: ignore[no-untyped-def]
    """The id of the referral's READY task ``step`` (on ``branch_id`` when several run)."""
    with app.app_context():
        instance_id = db.session.get(Referral, referral_id).process_instance_id
        rows = list(db.session.scalars(select(HumanTask).where(
            HumanTask.instance_id == instance_id, HumanTask.bpmn_id == step, HumanTask.state == "READY")))
        if branch_id is not None:
            rows = [r for r in rows if engine.task_context(r.id).get("branch_id") == branch_id]
        assert len(rows) == 1, f"{len(rows)} READY {step}"
        return rows[0].id


def _ready_steps(app, referral_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    with app.app_context():
        instance_id = db.session.get(Referral, referral_id).process_instance_id
        return sorted(db.session.scalars(select(HumanTask.bpmn_id).where(
            HumanTask.instance_id == instance_id, HumanTask.state == "READY")))


def _post(client, task_id: int, data: dict[str, Any], status: int = 302) -> str:  # type: ignore[no-untyped-def]
    if status == 302:  # the form the user fills in renders, with the task's branch when it has one
        page = client.get(f"/tasks/{task_id}")
        assert page.status_code == 200 and 'data-testid="task-form"' in page.get_data(as_text=True)
    r = client.post(f"/tasks/{task_id}/complete", data=data)
    body = r.get_data(as_text=True)
    errors = re.findall(r'class="(?:invalid-feedback d-block|alert alert-danger[^"]*)">([^<]*)<', body)
    assert r.status_code == status, errors or body[:2000]
    return body


def _branches(app, referral_id: int) -> dict[str, list[ReferralBranch]]:  # type: ignore[no-untyped-def]
    """The referral's branches by disposition (detached snapshots), in the order they were opened."""
    with app.app_context():
        rows = list(db.session.scalars(select(ReferralBranch).where(ReferralBranch.referral_id == referral_id)
                                       .order_by(ReferralBranch.id)))
        db.session.expunge_all()
    found: dict[str, list[ReferralBranch]] = {}
    for row in rows:
        found.setdefault(row.disposition, []).append(row)
    return found


def _referral(app, referral_id: int) -> Referral:  # type: ignore[no-untyped-def]
    with app.app_context():
        referral = db.session.get(Referral, referral_id)
        db.session.expunge(referral)
        return referral


def _audit_actions(app, referral_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.subject_type == "referral", AuditEntry.subject_id == str(referral_id),
            AuditEntry.action.like("referral.%")).order_by(AuditEntry.id)))


def _triage(client, app, referral_id: int, dispositions: list[str], **extra: str) -> None:  # type: ignore[no-untyped-def]
    _post(client, _task(app, referral_id, "triage"), {"dispositions": dispositions, "triage_note": "首次检查发现。", **extra})


def _fire(app, when: datetime) -> list[int]:  # type: ignore[no-untyped-def]
    from app.jobs.timers import fire_due_timers

    clock.set_now(when)
    with app.app_context():
        return fire_due_timers().fired


def _instance_of(app, referral_id: int) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        return db.session.get(Referral, referral_id).process_instance_id


def _next_timer(app, referral_id: int) -> datetime | None:  # type: ignore[no-untyped-def]
    with app.app_context():
        return db.session.get(ProcessInstance, _instance_of(app, referral_id)).next_timer_at


def _notes(app, username: str, contains: str) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.username == username))
        return db.session.scalar(select(func.count()).select_from(Notification).where(
            Notification.user_id == user_id, Notification.message.contains(contains))) or 0


# --- opening and triage ---------------------------------------------------------------------


def test_published_violation_opens_a_referral_that_only_legal_officers_triage(app, bureau, login_as, make_user):
    p = published_referral(app, bureau, login_as, make_user)
    with app.app_context():
        referral = db.session.get(Referral, p.referral_id)
        assert referral.status == "triage" and referral.opened_at is not None and not referral.branches
        instance = db.session.get(ProcessInstance, referral.process_instance_id)
        assert (instance.process_id, instance.subject_type, instance.subject_id) == ("referral", "referral", referral.id)
        triage = db.session.get(HumanTask, _task(app, p.referral_id, "triage"))
        assert triage.role == "legal_officer" and triage.assignee_id is None and triage.due_at is not None
        case = db.session.get(InspectionCase, p.case_id)
        case_instance = db.session.get(ProcessInstance, case.process_instance_id)
        assert case.status == "published" and case_instance.status == InstanceStatus.COMPLETED
    assert _notes(app, "lo", "triage it") == 1 and _notes(app, "lo2", "triage it") == 1
    assert _audit_actions(app, p.referral_id) == ["referral.opened"]

    # Neither the drafter, nor the case's own inspector, nor a reader may triage.
    task_id = _task(app, p.referral_id, "triage")
    for outsider in ("drafter", p.lead, "compliance", "boss"):
        r = login_as(outsider).post(f"/tasks/{task_id}/complete", data={"dispositions": ["no_penalty"]})
        assert r.status_code == 403, outsider

    lo = login_as("lo")
    page = lo.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert 'data-testid="referral-dispositions"' in page and "NP-03" in page
    # Bad triage: each error is named, nothing is stored.
    yesterday = (_today() - timedelta(days=1)).isoformat()
    cases = [
        ({}, "dispositions"),
        ({"dispositions": ["bogus"]}, "dispositions"),
        ({"dispositions": ["case_filing", "no_penalty"], "no_penalty_item": "NP-01", "no_penalty_reason": "x"}, "dispositions"),
        ({"dispositions": ["department_transfer"]}, "department_transfer_authority"),
        ({"dispositions": ["judicial_transfer"], "judicial_transfer_authority": "公安局"}, "suspected_offence"),
        ({"dispositions": ["rectification"], "rectification_requirement": "送检", "rectification_deadline": yesterday},
         "rectification_deadline"),
        ({"dispositions": ["no_penalty"], "no_penalty_item": "NP-99", "no_penalty_reason": "首违"}, "no_penalty_item"),
    ]
    for data, field in cases:
        body = _post(lo, task_id, data, status=422)
        assert f'id="{field}"' in body or field == "dispositions", field
    with app.app_context():
        referral = db.session.get(Referral, p.referral_id)
        assert referral.status == "triage" and referral.triaged_at is None and not referral.branches


def test_transfers_discipline_and_no_penalty_each_to_its_outcome_then_the_referral_closes(app, bureau, login_as,
                                                                                          make_user):
    p = published_referral(app, bureau, login_as, make_user, follow_up="notify_department")
    lo = login_as("lo")
    _triage(lo, app, p.referral_id, ["department_transfer", "judicial_transfer", "discipline", "no_penalty"],
            department_transfer_authority="晋城市卫生健康委员会", judicial_transfer_authority="晋城市公安局城区分局",
            suspected_offence="涉嫌销售伪劣产品罪", discipline_authority="市纪委监委驻市场监管局纪检监察组",
            no_penalty_item="NP-03", no_penalty_reason="首次违法，经补检合格，已当场改正。")
    branches = _branches(app, p.referral_id)
    assert set(branches) == {"department_transfer", "judicial_transfer", "discipline", "no_penalty"}
    department, judicial = branches["department_transfer"][0], branches["judicial_transfer"][0]
    discipline, no_penalty = branches["discipline"][0], branches["no_penalty"][0]
    assert department.receiving_authority == "晋城市卫生健康委员会" and judicial.requirement == "涉嫌销售伪劣产品罪"
    # The no-penalty branch is decided at triage and closes at once, with the list item and reason.
    assert (no_penalty.status, no_penalty.outcome) == ("closed", "no_penalty") and no_penalty.closed_at
    assert no_penalty.outcome_note.startswith("NP-03 ") and "已当场改正" in no_penalty.outcome_note
    # The transfers issued their documents (rendered after the step committed) and wait for an acknowledgement.
    for branch in (department, judicial):
        assert branch.status == "open" and branch.document_file_id is not None
        assert branch.due_label == "Acknowledgement by the receiving authority" and branch.due_on > _today()
    assert lo.get(f"/files/{department.document_file_id}").mimetype == "application/pdf"
    assert login_as(p.lead).get(f"/files/{department.document_file_id}").status_code == 403
    assert discipline.due_label == "Hand-over to discipline inspection"
    assert _ready_steps(app, p.referral_id) == ["record_department_ack", "record_discipline_transfer",
                                                "record_judicial_ack"]
    with app.app_context():
        referral = db.session.get(Referral, p.referral_id)
        assert referral.status == "open" and referral.triaged_by_id is not None and referral.triage_note

    ack = _task(app, p.referral_id, "record_department_ack")
    assert login_as(p.lead).post(f"/tasks/{ack}/complete", data={"acknowledged_on": _today().isoformat()}).status_code == 403
    future = (_today() + timedelta(days=2)).isoformat()
    _post(lo, ack, {"acknowledged_on": future}, status=422)
    _post(lo, ack, {"acknowledged_on": _today().isoformat(), "reference": "晋卫收〔2026〕118号"})
    department = _branches(app, p.referral_id)["department_transfer"][0]
    assert department.acknowledged_at is not None and department.due_label == "Outcome from the receiving authority"

    outcome = _task(app, p.referral_id, "record_department_outcome")
    page = lo.get(f"/tasks/{outcome}").get_data(as_text=True)
    assert 'data-testid="referral-branch"' in page and "晋城市卫生健康委员会" in page
    assert 'value="handled"' in page and 'value="returned"' in page and 'value="prosecution_filed"' not in page
    _post(lo, outcome, {"outcome": "prosecution_filed", "note": "x"}, status=422)  # not a department outcome
    _post(lo, outcome, {"outcome": "handled", "note": ""}, status=422)
    _post(login_as("lo2"), outcome, {"outcome": "handled", "note": "卫健委已立案调查并责令整改。",
                                     "decision_number": "晋卫罚〔2026〕21号"})
    _post(lo, _task(app, p.referral_id, "record_judicial_ack"), {"acknowledged_on": _today().isoformat()})
    _post(lo, _task(app, p.referral_id, "record_judicial_outcome"),
          {"outcome": "prosecution_filed", "note": "公安机关已立案侦查。", "decision_number": "晋公立字〔2026〕77号"})
    _post(lo, _task(app, p.referral_id, "record_discipline_transfer"),
          {"acknowledged_on": _today().isoformat(), "reference": "纪移〔2026〕3号"})
    with app.app_context():
        assert db.session.get(Referral, p.referral_id).status == "open"  # one branch is still without an outcome
    _post(lo, _task(app, p.referral_id, "record_discipline_outcome"), {"outcome": "no_misconduct", "note": "经核查，未发现违纪问题。"})

    branches = _branches(app, p.referral_id)
    assert {d: (b[0].status, b[0].outcome) for d, b in branches.items()} == {
        "department_transfer": ("closed", "handled"), "judicial_transfer": ("closed", "prosecution_filed"),
        "discipline": ("closed", "no_misconduct"), "no_penalty": ("closed", "no_penalty")}
    assert all(b[0].decided_at and b[0].decided_by_id and b[0].closed_at and b[0].due_on is None
               for b in branches.values())
    referral = _referral(app, p.referral_id)
    assert referral.status == "closed" and referral.closed_at is not None and referral.handling_published_at is not None
    with app.app_context():
        case = db.session.get(InspectionCase, p.case_id)
        content = case.current_publication.content
        assert len(content["handling"]) == 4 and "晋卫罚〔2026〕21号" in content["violations_handling"]
        assert db.session.get(ProcessInstance, referral.process_instance_id).status == InstanceStatus.COMPLETED
    actions = _audit_actions(app, p.referral_id)
    assert actions.count("referral.branch_closed") == 4 and actions.count("referral.transfer_issued") == 2
    assert actions.index("referral.triaged") < actions.index("referral.branches_opened") < actions.index("referral.closed")
    assert actions.count("referral.transfer_acknowledged") == 3


def test_case_filing_extension_once_by_another_leader_then_penalty_published(app, bureau, login_as, make_user):
    p = published_referral(app, bureau, login_as, make_user)
    requester = login_as("lolead")  # a legal officer who is also a leader
    _triage(requester, app, p.referral_id, ["case_filing"])
    filing = _branches(app, p.referral_id)["case_filing"][0]
    assert filing.due_label == "Lead verification" and filing.due_on is not None
    first_due = filing.due_on
    verify = _task(app, p.referral_id, "verify_lead")
    for outsider in ("drafter", p.lead, "boss"):
        assert login_as(outsider).post(f"/tasks/{verify}/complete", data={"result": "file", "reasons": "x"}).status_code == 403
    _post(requester, verify, {"result": "extend", "reasons": ""}, status=422)
    _post(requester, verify, {"result": "extend", "reasons": "需调取当事人进货台账，时间不足。"})
    assert _notes(app, "boss", "extending the verification") == 1 and _notes(app, "lolead", "extending the verification") == 0

    approval = _task(app, p.referral_id, "approve_extension")
    with app.app_context():
        row = db.session.get(HumanTask, approval)
        requester_id = db.session.scalar(select(User.id).where(User.username == "lolead"))
        assert row.role == "leader" and requester_id in row.excluded_user_ids
    # The leader who asked cannot approve; a legal officer who is no leader cannot either.
    assert requester.post(f"/tasks/{approval}/complete", data={"decision": "approve"}).status_code == 403
    assert login_as("lo").post(f"/tasks/{approval}/complete", data={"decision": "approve"}).status_code == 403
    _post(login_as("boss"), approval, {"decision": "refuse", "comments": ""}, status=422)
    _post(login_as("boss"), approval, {"decision": "approve", "comments": "同意延长。"})
    filing = _branches(app, p.referral_id)["case_filing"][0]
    with app.app_context():
        from app.workdays.service import add_working_days

        expected = add_working_days(first_due, 15).day
    assert filing.due_on == expected and filing.due_label == "Lead verification (extended)"
    assert filing.extended_at and filing.extension_approved_by_id and filing.extension_requested_by_id == requester_id

    # A second request is refused with a clear error, and nothing changes.
    verify = _task(app, p.referral_id, "verify_lead")
    body = _post(requester, verify, {"result": "extend", "reasons": "仍需时间。"}, status=422)
    assert "only once" in body or "只能延长一次" in body
    assert _ready_steps(app, p.referral_id) == ["verify_lead"]

    _post(requester, verify, {"result": "file", "reasons": "证据表明当事人使用未经检定的计量器具。"})
    filing = _branches(app, p.referral_id)["case_filing"][0]
    assert filing.due_label == "Decision on the filed case" and filing.status == "open"
    decision = _task(app, p.referral_id, "record_filing_decision")
    _post(requester, decision, {"outcome": "penalty", "note": "依据计量法第二十六条，警告并罚款。"}, status=422)  # number missing
    _post(requester, decision, {"outcome": "penalty", "note": "依据计量法第二十六条，警告并罚款。",
                                "decision_number": "晋市监罚〔2026〕45号"})
    filing = _branches(app, p.referral_id)["case_filing"][0]
    assert (filing.status, filing.outcome, filing.decision_number) == ("open", "penalty", "晋市监罚〔2026〕45号")
    assert filing.penalty_publication_due_on == filing.due_on and filing.due_label == "Publication of the penalty decision"
    assert _referral(app, p.referral_id).status == "open"  # decided, not yet published: not closed
    publication = _task(app, p.referral_id, "publish_penalty_decision")
    _post(requester, publication, {"published_on": _today().isoformat(), "where": ""}, status=422)
    _post(requester, publication, {"published_on": _today().isoformat(),
                                   "where": "https://scjgj.jincheng.gov.cn/xzcf/2026/45"})
    filing = _branches(app, p.referral_id)["case_filing"][0]
    assert filing.status == "closed" and filing.penalty_published_at is not None
    assert _referral(app, p.referral_id).status == "closed"
    actions = _audit_actions(app, p.referral_id)
    for action in ("referral.extension_requested", "referral.extension_approved", "referral.verification_extended",
                   "referral.case_filed", "referral.penalty_decided", "referral.branch_closed", "referral.closed"):
        assert action in actions, action


def test_declined_case_filing_closes_with_its_reasons(app, bureau, login_as, make_user):
    p = published_referral(app, bureau, login_as, make_user)
    lo = login_as("lo")
    _triage(lo, app, p.referral_id, ["case_filing"])
    _post(lo, _task(app, p.referral_id, "verify_lead"), {"result": "decline", "reasons": "违法事实不成立。"})
    filing = _branches(app, p.referral_id)["case_filing"][0]
    assert (filing.status, filing.outcome, filing.outcome_note) == ("closed", "declined", "违法事实不成立。")
    assert _referral(app, p.referral_id).status == "closed"


# --- rectification --------------------------------------------------------------------------


def test_rectification_deadline_creates_the_follow_up_for_the_original_lead_who_finds_it_fixed(
        app, bureau, login_as, make_user, controlled_clock):
    clock.set_now(at(2026, 9, 18, 10))
    p = published_referral(app, bureau, login_as, make_user, inspected_on=date(2026, 9, 18),
                           follow_up="order_rectification")
    lo = login_as("lo")
    _triage(lo, app, p.referral_id, ["rectification"], rectification_requirement="7日内将验光仪送法定计量检定机构检定。",
            rectification_deadline="2026-09-30")
    rectification = _branches(app, p.referral_id)["rectification"][0]
    assert (rectification.due_on, rectification.due_label) == (date(2026, 9, 30), "Rectification deadline")
    assert _ready_steps(app, p.referral_id) == []  # waiting for the deadline
    assert _next_timer(app, p.referral_id) == at(2026, 10, 1)  # the end of 09-30
    instance_id = _instance_of(app, p.referral_id)

    assert instance_id not in _fire(app, at(2026, 9, 30, 23, 59, 59))
    assert _ready_steps(app, p.referral_id) == []
    assert instance_id in _fire(app, at(2026, 10, 1, 0, 0, 1))
    follow_up = _task(app, p.referral_id, "follow_up_inspection")
    with app.app_context():
        row = db.session.get(HumanTask, follow_up)
        lead_id = db.session.scalar(select(User.id).where(User.username == p.lead))
        assert row.role == "inspector" and row.assignee_id == lead_id and row.assigned_by_process
        # Five working days from 10-01: the National Day holiday is skipped, make-up Saturday 10-10 counts.
        assert row.due_at == at(2026, 10, 14)
    rectification = _branches(app, p.referral_id)["rectification"][0]
    assert (rectification.due_on, rectification.due_label) == (date(2026, 10, 13), "Follow-up inspection")
    assert _notes(app, p.lead, "inspect whether it was rectified") == 1

    with app.app_context():
        case = db.session.get(InspectionCase, p.case_id)
        other = db.session.scalar(select(User.username).where(User.inspector_id == case.active_members[1].inspector_id))
    for outsider in (other, "lo", "drafter"):
        assert login_as(outsider).post(f"/tasks/{follow_up}/complete", data={"fixed": "yes", "findings": "x"}).status_code == 403
    clock.set_now(at(2026, 10, 9, 10))
    _post(login_as(p.lead), follow_up, {"fixed": "", "findings": ""}, status=422)
    _post(login_as(p.lead), follow_up, {"fixed": "yes", "findings": "验光仪已送检并取得检定证书。"})
    rectification = _branches(app, p.referral_id)["rectification"][0]
    assert (rectification.status, rectification.outcome) == ("closed", "rectified")
    assert rectification.follow_up_finding == "验光仪已送检并取得检定证书。" and rectification.decided_by_id == lead_id
    assert _referral(app, p.referral_id).status == "closed"


def test_unrectified_violation_escalates_to_a_case_filing_branch_that_closes(app, bureau, login_as, make_user,
                                                                           controlled_clock):
    clock.set_now(at(2026, 9, 18, 10))
    p = published_referral(app, bureau, login_as, make_user, inspected_on=date(2026, 9, 18),
                           follow_up="order_rectification")
    lo = login_as("lo")
    _triage(lo, app, p.referral_id, ["rectification", "no_penalty"], rectification_requirement="限期送检。",
            rectification_deadline="2026-09-24", no_penalty_item="NP-03", no_penalty_reason="首次违法。")
    _fire(app, at(2026, 9, 25, 8))
    clock.set_now(at(2026, 9, 28, 10))
    _post(login_as(p.lead), _task(app, p.referral_id, "follow_up_inspection"),
          {"fixed": "no", "findings": "验光仪仍未送检，继续使用。"})
    branches = _branches(app, p.referral_id)
    rectification, filing = branches["rectification"][0], branches["case_filing"][0]
    assert (rectification.status, rectification.outcome) == ("escalated", "escalated")
    assert rectification.escalated_to_id == filing.id and rectification.closed_at is not None
    assert filing.status == "open" and filing.due_label == "Lead verification"
    # 15 working days from Monday 09-28: 09-29, 09-30, the National Day week is skipped, 10-08, 10-09,
    # make-up Saturday 10-10, 10-12..16, 10-19..23.
    assert filing.due_on == date(2026, 10, 23)
    assert _referral(app, p.referral_id).status == "open"
    verify = _task(app, p.referral_id, "verify_lead")
    assert engine_branch(app, verify) == filing.id
    _post(lo, verify, {"result": "file", "reasons": "责令整改逾期未改正。"})
    _post(lo, _task(app, p.referral_id, "record_filing_decision"),
          {"outcome": "filed_no_penalty", "note": "当事人已停止使用，依法不予行政处罚。"})
    filing = _branches(app, p.referral_id)["case_filing"][0]
    assert (filing.status, filing.outcome) == ("closed", "filed_no_penalty")
    assert _referral(app, p.referral_id).status == "closed"
    assert "referral.branch_closed" in _audit_actions(app, p.referral_id)


def engine_branch(app, task_id: int) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        return engine.task_context(task_id)["branch_id"]


def test_fresh_draw_follow_up_goes_to_an_inspector_outside_the_team(app, bureau, login_as, make_user,
                                                                   controlled_clock, monkeypatch):
    from app.draws import algorithm
    from app.draws.inspectors import snapshot
    from app.draws.models import Draw
    from app.draws.service import team_rule

    monkeypatch.setitem(app.config, "RECTIFICATION_FOLLOW_UP_FRESH_DRAW", True)
    clock.set_now(at(2026, 9, 18, 10))
    p = published_referral(app, bureau, login_as, make_user, inspected_on=date(2026, 9, 18),
                           follow_up="order_rectification")
    _triage(login_as("lo"), app, p.referral_id, ["rectification"], rectification_requirement="限期送检。",
            rectification_deadline="2026-09-22")
    _fire(app, at(2026, 9, 23, 1))
    follow_up = _task(app, p.referral_id, "follow_up_inspection")
    rectification = _branches(app, p.referral_id)["rectification"][0]
    with app.app_context():
        case = db.session.get(InspectionCase, p.case_id)
        assignee = db.session.get(User, db.session.get(HumanTask, follow_up).assignee_id)
        team = {m.inspector_id for m in case.members}
        assert assignee.inspector_id is not None and assignee.inspector_id not in team
        # Anyone can recompute the pick from the draw's revealed seed and the published label.
        draw = db.session.get(Draw, case.draw_id)
        seed = algorithm.derive_seed(bytes.fromhex(draw.server_seed), draw.witness_entropy)
        entity = algorithm.PoolEntity(case.entity.uscc, case.entity.credit_class or "U", case.entity.station)
        candidates = snapshot(case.spot_check_task)
        expected = algorithm.replacement(seed, f"{draw.task_code}/follow-up/{rectification.id}", entity,
                                         candidates.candidates, team_rule(case.spot_check_task),
                                         {m.certificate_no for m in case.members}, [],
                                         {c.certificate_no: c.open_cases for c in candidates.candidates})
        assert assignee.inspector.certificate_no == expected
        lead_username = assignee.username
    assert login_as(p.lead).post(f"/tasks/{follow_up}/complete", data={"fixed": "yes", "findings": "x"}).status_code == 403
    _post(login_as(lead_username), follow_up, {"fixed": "yes", "findings": "已送检合格。"})
    assert _referral(app, p.referral_id).status == "closed"


# --- timers ---------------------------------------------------------------------------------


def test_verification_deadline_marks_the_branch_overdue_and_an_extension_clears_it(app, bureau, login_as, make_user,
                                                                                    controlled_clock):
    clock.set_now(at(2026, 9, 18, 10))
    p = published_referral(app, bureau, login_as, make_user, inspected_on=date(2026, 9, 18))
    lo = login_as("lo")
    clock.set_now(at(2026, 9, 18, 16))
    _triage(lo, app, p.referral_id, ["case_filing"])
    # 15 working days from Friday 09-18: make-up Sunday 09-20 counts, Mid-Autumn (09-25..27) and
    # National Day (10-01..07) do not, make-up Saturday 10-10 does: Thursday 10-15.
    filing = _branches(app, p.referral_id)["case_filing"][0]
    assert filing.due_on == date(2026, 10, 15)
    assert _next_timer(app, p.referral_id) == at(2026, 10, 16)
    with app.app_context():
        assert db.session.get(HumanTask, _task(app, p.referral_id, "verify_lead")).due_at == at(2026, 10, 16)
    instance_id = _instance_of(app, p.referral_id)
    assert instance_id not in _fire(app, at(2026, 10, 15, 23, 59))
    assert _branches(app, p.referral_id)["case_filing"][0].overdue_at is None
    assert instance_id in _fire(app, at(2026, 10, 16, 0, 0, 1))
    filing = _branches(app, p.referral_id)["case_filing"][0]
    assert filing.overdue_at is not None and filing.status == "open"
    assert _notes(app, "lo", "is overdue") == 1  # the officer who triaged
    assert _ready_steps(app, p.referral_id) == ["verify_lead"]  # non-interrupting
    assert "referral.branch_overdue" in _audit_actions(app, p.referral_id)

    _post(lo, _task(app, p.referral_id, "verify_lead"), {"result": "extend", "reasons": "需要补充证据。"})
    _post(login_as("boss"), _task(app, p.referral_id, "approve_extension"), {"decision": "approve"})
    filing = _branches(app, p.referral_id)["case_filing"][0]
    # 15 more working days after 10-15: 10-16, 10-19..23, 10-26..30, 11-02..05.
    assert filing.due_on == date(2026, 11, 5) and filing.overdue_at is None
    assert _next_timer(app, p.referral_id) == at(2026, 11, 6)
    assert instance_id not in _fire(app, at(2026, 11, 5, 12))
    assert _notes(app, "lo", "is overdue") == 1


def test_transfer_reminder_when_the_receiving_authority_is_slow(app, bureau, login_as, make_user, controlled_clock):
    clock.set_now(at(2026, 9, 18, 10))
    p = published_referral(app, bureau, login_as, make_user, inspected_on=date(2026, 9, 18),
                           follow_up="notify_department")
    lo = login_as("lo")
    _triage(lo, app, p.referral_id, ["department_transfer"], department_transfer_authority="晋城市卫生健康委员会")
    # 10 working days from 09-18: 09-20, 21..24, 28..30, 10-08, 10-09.
    department = _branches(app, p.referral_id)["department_transfer"][0]
    assert department.due_on == date(2026, 10, 9)
    assert _next_timer(app, p.referral_id) == at(2026, 10, 10)
    instance_id = _instance_of(app, p.referral_id)
    assert instance_id not in _fire(app, at(2026, 10, 9, 23))
    assert _notes(app, "lo", "has not acknowledged") == 0
    assert instance_id in _fire(app, at(2026, 10, 10, 0, 0, 1))
    assert _notes(app, "lo", "has not acknowledged") == 1 and _notes(app, "lo2", "has not acknowledged") == 0
    assert _branches(app, p.referral_id)["department_transfer"][0].overdue_at is not None
    assert _ready_steps(app, p.referral_id) == ["record_department_ack"]
    assert instance_id not in _fire(app, at(2026, 10, 12, 9))  # once
    assert _notes(app, "lo", "has not acknowledged") == 1

    clock.set_now(at(2026, 10, 12, 10))
    _post(lo, _task(app, p.referral_id, "record_department_ack"), {"acknowledged_on": "2026-10-12"})
    department = _branches(app, p.referral_id)["department_transfer"][0]
    assert department.overdue_at is None and department.due_label == "Outcome from the receiving authority"
    assert department.acknowledged_at.astimezone(SHANGHAI).date() == date(2026, 10, 12)
    # 10 working days from 10-12: 10-13..16, 10-19..23, 10-26.
    assert department.due_on == date(2026, 10, 26) and _next_timer(app, p.referral_id) == at(2026, 10, 27)
    assert instance_id in _fire(app, at(2026, 10, 27, 0, 0, 1))
    assert _notes(app, "lo", "no outcome yet") == 1
    _post(lo, _task(app, p.referral_id, "record_department_outcome"), {"outcome": "returned", "note": "不属于本部门职责。"})
    assert _referral(app, p.referral_id).status == "closed"


def test_penalty_publication_reminder_on_its_last_morning(app, bureau, login_as, make_user, controlled_clock):
    clock.set_now(at(2026, 10, 12, 10))
    p = published_referral(app, bureau, login_as, make_user, inspected_on=date(2026, 10, 12))
    lo = login_as("lo")
    _triage(lo, app, p.referral_id, ["case_filing"])
    _post(lo, _task(app, p.referral_id, "verify_lead"), {"result": "file", "reasons": "事实清楚。"})
    _post(lo, _task(app, p.referral_id, "record_filing_decision"),
          {"outcome": "penalty", "note": "警告。", "decision_number": "晋市监罚〔2026〕46号"})
    filing = _branches(app, p.referral_id)["case_filing"][0]
    # 7 working days from Monday 10-12: 10-13..16, 10-19..21.
    assert filing.penalty_publication_due_on == date(2026, 10, 21)
    assert _next_timer(app, p.referral_id) == at(2026, 10, 21, 9)
    instance_id = _instance_of(app, p.referral_id)
    assert instance_id not in _fire(app, at(2026, 10, 21, 8, 59))
    assert instance_id in _fire(app, at(2026, 10, 21, 9, 0, 1))
    assert _notes(app, "lo", "publish the penalty decision") == 1
    _post(lo, _task(app, p.referral_id, "publish_penalty_decision"),
          {"published_on": "2026-10-21", "where": "局门户网站行政处罚公示专栏"})
    assert _referral(app, p.referral_id).status == "closed"
