"""Referral pages: the ledger (order, filters, paging, access), a referral's page, the task-page
panel, the case page's handling section, and the handling published onto the public result."""
from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from flask_login import login_user
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.auth.models import User
from app.cases.models import InspectionCase
from app.directory.models import Entity
from app.errors import Conflict
from app.extensions import db
from app.referrals.handling import local_today
from app.referrals.models import BranchStatus, Disposition, Referral, ReferralBranch, ReferralStatus
from tests.test_case_lifecycle import pdf_text
from tests.test_draw_process import bureau  # noqa: F401
from tests.test_referral_documents import add_referral, published_case
from workflows.models import HumanTask

NOW = datetime.now(timezone.utc)


def _other_case(case_id: int, n: int, status: str = "published") -> int:
    """Another case of the same draw and task, on another entity (a referral is one per case)."""
    case = db.session.get(InspectionCase, case_id)
    taken = set(db.session.scalars(select(InspectionCase.entity_id).where(InspectionCase.draw_id == case.draw_id)))
    entity = db.session.scalars(select(Entity).where(Entity.id.not_in(taken)).order_by(Entity.id)).first()
    other = InspectionCase(code=f"{case.code}-R{n}", draw_id=case.draw_id, spot_check_task_id=case.spot_check_task_id,
                           entity_id=entity.id, status=status, inspection_date=case.inspection_date,
                           result_categories=["D"])
    db.session.add(other)
    db.session.commit()
    return other.id


def _users(make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("lofficer", "legal_officer")
    make_user("radmin", "admin")


def _ledger_ids(response) -> list[int]:  # type: ignore[no-untyped-def]
    html = response.get_data(as_text=True)
    return [int(part.split('"', 1)[0]) for part in html.split('data-branch="')[1:]]


@pytest.fixture
def ledger_setup(app, bureau, login_as, make_user):  # type: ignore[no-untyped-def]
    """Four open branches on two open referrals, closed ones elsewhere, and one referral awaiting triage."""
    case_id, lead = published_case(app, bureau, login_as, make_user)
    _users(make_user)
    today = local_today()
    with app.app_context():
        second, third, fourth = (_other_case(case_id, n) for n in (1, 2, 3))
        first_ref = add_referral(
            case_id,
            {"disposition": Disposition.RECTIFICATION, "due_on": today - timedelta(days=5), "due_label": "Rectification",
             "requirement": "限期送检在用验光仪"},
            {"disposition": Disposition.CASE_FILING, "due_on": today + timedelta(days=3)},
            {"disposition": Disposition.DISCIPLINE, "status": BranchStatus.CLOSED, "outcome": "handled",
             "due_on": today - timedelta(days=30), "closed_at": NOW},
        )
        add_referral(
            second,
            {"disposition": Disposition.DEPARTMENT_TRANSFER, "due_on": today - timedelta(days=1),
             "receiving_authority": "晋城市卫生健康委员会"},
            {"disposition": Disposition.NO_PENALTY, "due_on": None},
            {"disposition": Disposition.CASE_FILING, "due_on": today, "status": BranchStatus.OPEN},
        )
        add_referral(third, {"disposition": Disposition.CASE_FILING, "due_on": today - timedelta(days=40),
                             "status": BranchStatus.CLOSED, "outcome": "declined", "closed_at": NOW},
                     status=ReferralStatus.CLOSED)
        add_referral(fourth, status=ReferralStatus.TRIAGE)
        branches = {(b.referral.case_id, b.disposition): b.id for b in db.session.scalars(select(ReferralBranch))}
    return {"case_id": case_id, "lead": lead, "second": second, "fourth": fourth, "first_ref": first_ref,
            "b": branches}


def test_ledger_lists_open_branches_overdue_first_then_by_deadline(app, ledger_setup, login_as):
    s, b = ledger_setup, ledger_setup["b"]
    officer = login_as("lofficer")
    response = officer.get("/referrals/ledger")
    assert response.status_code == 200
    expected = [b[(s["case_id"], "rectification")], b[(s["second"], "department_transfer")],
                b[(s["second"], "case_filing")], b[(s["case_id"], "case_filing")], b[(s["second"], "no_penalty")]]
    assert _ledger_ids(response) == expected
    html = response.get_data(as_text=True)
    assert html.count("table-danger") == 2  # the due-today branch is not overdue yet
    assert 'data-testid="triage-total">1<' in html
    with app.app_context():
        fourth_code = db.session.get(InspectionCase, s["fourth"]).code
    assert fourth_code in html.split('data-testid="triage"')[1]

    assert _ledger_ids(officer.get("/referrals/ledger?overdue=1")) == expected[:2]
    assert _ledger_ids(officer.get("/referrals/ledger?disposition=case_filing")) == [expected[2], expected[3]]
    assert _ledger_ids(officer.get("/referrals/ledger?disposition=case_filing&overdue=1")) == []
    bad = officer.get("/referrals/ledger?disposition=arrest", follow_redirects=True)
    assert bad.status_code == 200 and _ledger_ids(bad) == expected and "alert-warning" in bad.get_data(as_text=True)

    with app.app_context():
        from app.referrals.ledger import LedgerFilters, ledger

        page = ledger(LedgerFilters(), page=2, per_page=2)
        assert page.total == 5 and [r.id for r in page.items] == expected[2:4]
    assert _ledger_ids(officer.get("/referrals/ledger?page=3")) == []  # past the end: an empty page, not an error


def test_ledger_is_for_the_referral_roles_only(app, ledger_setup, login_as, make_user, client):
    make_user("chief2", "section_chief")
    for username in ("lofficer", "leader", "compliance", "radmin"):
        response = login_as(username).get("/referrals/ledger")
        assert response.status_code == 200, username
        assert 'data-testid="nav-referrals"' in response.get_data(as_text=True)
    for username in (ledger_setup["lead"], "chief2", "drafter"):
        assert login_as(username).get("/referrals/ledger").status_code == 403, username
        assert 'data-testid="nav-referrals"' not in login_as(username).get("/tasks").get_data(as_text=True)
    assert client.get("/referrals/ledger").status_code in (302, 401)
    assert client.get(f"/referrals/{ledger_setup['first_ref']}").status_code in (302, 401)


def test_referral_page_shows_case_branches_documents_and_ready_tasks(app, bureau, login_as, make_user):
    from app.referrals.documents import issue_transfer_document

    case_id, lead = published_case(app, bureau, login_as, make_user)
    _users(make_user)
    today = local_today()
    with app.app_context():
        case = db.session.get(InspectionCase, case_id)
        entity, code = case.entity.name, case.entity.uscc
        referral_id = add_referral(
            case_id,
            {"disposition": Disposition.DEPARTMENT_TRANSFER, "receiving_authority": "晋城市卫生健康委员会",
             "due_on": today - timedelta(days=2)},
            {"disposition": Disposition.DISCIPLINE, "status": BranchStatus.CLOSED, "outcome": "handled",
             "outcome_note": "对检查员王某诫勉谈话", "closed_at": NOW},
            note="转卫健部门处理",
        )
        referral = db.session.get(Referral, referral_id)
        issue_transfer_document(referral.branches[0])
        lead_user = db.session.scalar(select(User).where(User.username == lead))
        # A READY task of the referral's process for the case's lead inspector (a follow-up inspection).
        referral.process_instance_id = referral.process_instance_id or case.process_instance_id
        task = HumanTask(
            spiff_task_id=str(uuid.uuid4()), instance_id=referral.process_instance_id, bpmn_id="follow_up_inspection",
            title="Follow-up inspection", lane="Inspector", role="inspector", assignee_id=lead_user.id,
            subject_type="referral", subject_id=referral_id, subject_title=entity, state="READY")
        db.session.add(task)
        db.session.commit()
        task_id, branch_id = task.id, referral.branches[0].id
        assert referral.branches[0].document_file_id is not None
        members = [m.inspector_id for m in case.members]

    officer = login_as("lofficer")
    html = officer.get(f"/referrals/{referral_id}").get_data(as_text=True)
    for expected in (entity, code, "晋城市卫生健康委员会", "对检查员王某诫勉谈话", "转卫健部门处理",
                     f'href="/tasks/{task_id}"', f'href="/referrals/branches/{branch_id}/document.pdf"',
                     'data-testid="overdue"', f'href="/cases/{case_id}"'):
        assert expected in html, expected
    pdf = officer.get(f"/referrals/branches/{branch_id}/document.pdf")
    assert pdf.status_code == 200 and "案件移送函" in pdf_text(pdf.data)

    # The inspector doing the follow-up sees the referral, without the discipline details or documents.
    inspector = login_as(lead)
    response = inspector.get(f"/referrals/{referral_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert entity in html and "诫勉谈话" not in html and "转卫健部门处理" not in html and "document.pdf" not in html
    assert inspector.get(f"/referrals/branches/{branch_id}/document.pdf").status_code == 403
    # Another inspector, with no task on it, does not.
    with app.app_context():
        outsider = db.session.scalar(select(User.username).where(
            User.inspector_id.is_not(None), User.inspector_id.not_in(members)))
    assert login_as(outsider).get(f"/referrals/{referral_id}").status_code == 403
    assert officer.get("/referrals/999999").status_code == 404

    # The task-page panel: the loader registered for subject_type "referral", rendered for both readers.
    from flask import render_template

    from app.queue.subjects import subject_kind

    kind = subject_kind("referral")
    assert kind is not None and kind.endpoint == "referrals.detail"
    for username, sees_note in (("lofficer", True), (lead, False)):
        with app.test_request_context():
            login_user(db.session.scalar(select(User).where(User.username == username)))
            panel = render_template(kind.template, subject=kind.loader(referral_id))
            assert entity in panel and "晋城市卫生健康委员会" in panel
            assert ("诫勉谈话" in panel) is sees_note


def test_case_page_has_the_handling_section(app, bureau, login_as, make_user):
    case_id, lead = published_case(app, bureau, login_as, make_user)
    _users(make_user)
    with app.app_context():
        without = _other_case(case_id, 5)
        referral_id = add_referral(
            case_id,
            {"disposition": Disposition.CASE_FILING, "status": BranchStatus.CLOSED, "outcome": "penalty",
             "decision_number": "晋市监罚〔2026〕12号", "outcome_note": "罚款五千元", "decided_at": NOW, "closed_at": NOW},
            {"disposition": Disposition.DISCIPLINE, "status": BranchStatus.CLOSED, "outcome": "handled",
             "outcome_note": "对检查员王某诫勉谈话", "decision_number": "纪2026-3", "closed_at": NOW},
        )
    html = login_as(lead).get(f"/cases/{case_id}").get_data(as_text=True)
    section = html.split('data-testid="case-referral"')[1].split("</table>")[0]
    assert "晋市监罚〔2026〕12号" in section and "罚款五千元" in section
    assert "诫勉谈话" not in section and "纪2026-3" not in section
    assert f"/referrals/{referral_id}" not in section  # the inspector may not open the referral page
    officer = login_as("lofficer")
    section = officer.get(f"/cases/{case_id}").get_data(as_text=True).split('data-testid="case-referral"')[1]
    assert "诫勉谈话" in section and f"/referrals/{referral_id}" in section
    page = officer.get(f"/cases/{without}")
    assert page.status_code == 200 and 'data-testid="case-referral"' not in page.get_data(as_text=True)


def test_publish_handling_adds_a_public_version_without_confidential_details(app, bureau, login_as, make_user):
    from app.referrals.handling import HANDLING_REASON, handling_rows, publish_handling

    case_id, lead = published_case(app, bureau, login_as, make_user)
    _users(make_user)
    decided = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)
    with app.app_context():
        case = db.session.get(InspectionCase, case_id)
        certs = [m.certificate_no for m in case.active_members]
        names = [m.inspector.name for m in case.active_members]
        first_version = case.current_publication.id
        referral_id = add_referral(
            case_id,
            {"disposition": Disposition.CASE_FILING, "status": BranchStatus.CLOSED, "outcome": "penalty",
             "decision_number": "晋市监罚〔2026〕12号", "outcome_note": "罚款五千元", "decided_at": decided,
             "closed_at": decided},
            {"disposition": Disposition.RECTIFICATION, "status": BranchStatus.CLOSED, "outcome": "rectified",
             "outcome_note": "复查时验光仪已检定合格", "requirement": "限期送检", "closed_at": decided},
            {"disposition": Disposition.DISCIPLINE, "status": BranchStatus.CLOSED, "outcome": "no_misconduct",
             "outcome_note": "对检查员王某诫勉谈话", "decision_number": "纪2026-3", "closed_at": decided},
            {"disposition": Disposition.JUDICIAL_TRANSFER, "status": BranchStatus.CLOSED, "outcome": "returned",
             "outcome_note": "嫌疑人张某某不构成犯罪", "receiving_authority": "晋城市公安局", "closed_at": decided},
            status=ReferralStatus.CLOSED,
        )
        referral = db.session.get(Referral, referral_id)
        rows = handling_rows(referral)
        assert [r["disposition"] for r in rows] == ["case_filing", "rectification", "discipline", "judicial_transfer"]
        assert rows[0]["decision_number"] == "晋市监罚〔2026〕12号" and rows[0]["decided_on"] == date(2026, 3, 2)
        assert rows[2]["outcome_note"] == "对检查员王某诫勉谈话"
        assert handling_rows(referral, confidential=False)[2]["outcome_note"] == ""
        officer = db.session.scalar(select(User).where(User.username == "lofficer"))
        publish_handling(referral, actor=officer)
        db.session.commit()
        case = db.session.get(InspectionCase, case_id)
        assert [v.version for v in case.published_versions] == [1, 2]
        version = case.current_publication
        assert version.correction_reason == HANDLING_REASON and case.published_versions[0].superseded_at is not None
        assert db.session.get(Referral, referral_id).handling_published_at is not None
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "referral.handling_published"))
        assert entry is not None and entry.subject_id == str(referral_id) and entry.actor_user_id == officer.id
        version_id = version.id
        # Publishing again with nothing new adds no version.
        publish_handling(db.session.get(Referral, referral_id), actor=officer)
        db.session.commit()
        assert len(db.session.get(InspectionCase, case_id).published_versions) == 2

    public = app.test_client()
    assert public.get(f"/public/results/{first_version}").status_code == 404
    record = public.get(f"/public/results/{version_id}.json").get_json()
    assert [h["disposition"] for h in record["handling"]] == ["立案查处", "责令限期整改", "移送纪检监察", "涉嫌犯罪移送司法机关"]
    assert record["handling"][0]["decision_number"] == "晋市监罚〔2026〕12号"
    assert record["handling"][0]["decided_on"] == "2026-03-02"
    assert record["handling"][2] == {"disposition": "移送纪检监察", "outcome": "已办结"}
    assert "晋市监罚〔2026〕12号" in record["violations_handling"] and "复查时验光仪已检定合格" in record["violations_handling"]
    body = json.dumps(record, ensure_ascii=False)
    page = public.get(f"/public/results/{version_id}").get_data(as_text=True)
    text = pdf_text(public.get(f"/public/results/{version_id}.pdf").data).replace("\n", "")
    for shown in (body, page, text):
        assert "晋市监罚〔2026〕12号" in shown and "立案查处" in shown
        for hidden in ("诫勉谈话", "纪2026-3", "张某某", "限期送检", "credit", *certs, *names):
            assert hidden not in shown, hidden
    assert "罚款五千元" in page and 'data-testid="public-handling"' in page

    # A later correction keeps the published handling.
    chief = login_as("chief")
    assert chief.post(f"/cases/{case_id}/correction",
                      data={"categories": ["D", "E"], "summary": "已整改", "reason": "补充结果类别"}).status_code == 302
    with app.app_context():
        latest = db.session.get(InspectionCase, case_id).current_publication
        assert latest.version == 3 and latest.content["handling"] == record["handling"]


def test_publish_handling_needs_a_published_result(app, bureau, login_as, make_user):
    from app.referrals.handling import publish_handling

    case_id, _ = published_case(app, bureau, login_as, make_user)
    with app.app_context():
        unpublished = _other_case(case_id, 9, status="review")
        referral = db.session.get(Referral, add_referral(unpublished, {"disposition": Disposition.NO_PENALTY,
                                                                       "status": BranchStatus.CLOSED,
                                                                       "outcome": "no_penalty"}))
        with pytest.raises(Conflict):
            publish_handling(referral)
        db.session.rollback()
        assert db.session.get(Referral, referral.id).handling_published_at is None
