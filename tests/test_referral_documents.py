"""Referral transfer documents: the 案件移送函 and the 涉嫌犯罪案件移送书 as PDFs, rendered after
commit for a branch, stored and shown only to the referral roles."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest

from app.cases.models import InspectionCase
from app.documents import example_context, render_html, render_pdf
from app.extensions import db
from app.referrals.models import BranchStatus, Disposition, Referral, ReferralBranch, ReferralStatus
from tests.test_case_lifecycle import _task_for, confirmed_case, pdf_text, record_and_enter
from tests.test_draw_process import bureau  # noqa: F401


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def published_case(app, bureau, login_as, make_user) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """A case with a violation (category D, referred as a case lead), approved and published."""
    make_user("chief", "section_chief")
    case_id, lead = confirmed_case(app, bureau, login_as)
    record_and_enter(app, login_as, case_id, lead, inspected_on=date.today() - timedelta(days=1), categories=["D"],
                     follow_up="refer_case_lead")
    assert login_as("chief").post(f"/tasks/{_task_for(app, case_id, 'review_results')}/complete",
                                  data={"decision": "approve"}).status_code == 302
    return case_id, lead


def add_referral(case_id: int, *branches: dict, status: str = ReferralStatus.OPEN, note: str = "") -> int:
    """The case's referral, in ``status``, with the given branches (dicts of ReferralBranch fields);
    returns its id. A referral the case's process opened already is taken as it is (a case has one).

    Call inside an app context; commits.
    """
    from sqlalchemy import select

    now = datetime.now(timezone.utc)
    referral = db.session.scalar(select(Referral).where(Referral.case_id == case_id))
    if referral is None:
        referral = Referral(case_id=case_id, opened_at=now - timedelta(days=3))
        db.session.add(referral)
    referral.status, referral.triage_note = status, note
    referral.triaged_at = now - timedelta(days=2) if status != ReferralStatus.TRIAGE else None
    for fields in branches:
        referral.branches.append(ReferralBranch(**{"opened_at": now - timedelta(days=2), **fields}))
    db.session.commit()
    return referral.id


# --- the documents themselves ----------------------------------------------------------------------


def test_transfer_letter_text() -> None:
    text = pdf_text(render_pdf("transfer_letter", example_context("transfer_letter")))
    flat = _flat(text)
    for expected in (
        "案件移送函", "文号：JCSW-2023-03-0042-YS-1", "晋城市市场监督管理局：", "晋城市泽州县金村镇宏达商店",
        "92140525MA0K1234X2", "王宏达", "山西省晋城市泽州县金村镇府城村中街18号", "JCSW-2023-03-0042",
        "对商品零售企业的监督检查", "2023年7月5日", "李建国", "14050019000101", "张晓燕", "14050019000217",
        "检查发现的问题", "未在开展单用途卡业务之日起30日内办理备案", "《零售商促销行为管理办法》第五条",
        "移送材料", "随机抽查情况记录表（含现场检查笔录）", "现场照片.jpg", "请你单位依法处理，并将处理结果函告本机关",
        "晋城市商务局", "（印章）", "2023年7月20日", "受移送机关签收",
    ):
        assert _flat(expected) in flat, expected
    assert "涉嫌犯罪" not in flat


def test_crime_transfer_text() -> None:
    flat = _flat(pdf_text(render_pdf("crime_transfer", example_context("crime_transfer"))))
    for expected in (
        "涉嫌犯罪案件移送书", "文号：JCSW-2023-03-0042-XS-2", "晋城市公安局：", "晋城市泽州县金村镇宏达商店",
        "92140525MA0K1234X2", "涉嫌非法吸收公众存款罪", "涉嫌罪名", "涉嫌犯罪的事实", "预收资金逾120万元",
        "《中华人民共和国行政处罚法》第二十七条", "《行政执法机关移送涉嫌犯罪案件的规定》第三条",
        "自接受移送之日起3日内依法审查", "决定不予立案的，请说明理由", "随案移送材料", "14050019000217",
        "抄送：同级人民检察院", "2023年7月21日", "（印章）",
    ):
        assert expected in flat, expected


def test_transfer_contexts_are_checked() -> None:
    context = example_context("crime_transfer")
    del context["suspected_offence"]
    with pytest.raises(ValueError, match="missing suspected_offence"):
        render_pdf("crime_transfer", context)
    context = example_context("transfer_letter")
    context["receiving_authority"] = ""
    with pytest.raises(ValueError, match="missing receiving_authority"):
        render_pdf("transfer_letter", context)
    context = example_context("transfer_letter")
    context["facts"], context["summary"] = [], ""
    with pytest.raises(ValueError, match="facts or summary"):
        render_pdf("transfer_letter", context)
    context = example_context("crime_transfer")
    context["reply_days"] = 0
    with pytest.raises(ValueError, match="reply_days"):
        render_pdf("crime_transfer", context)
    context = example_context("transfer_letter")
    context["receiving_authority"] = "<b>公安局</b>"
    assert "&lt;b&gt;公安局&lt;/b&gt;" in render_html("transfer_letter", context)


# --- issued for a branch ---------------------------------------------------------------------------


def test_branch_documents_rendered_after_commit_and_shown_to_referral_roles(app, bureau, login_as, make_user):
    from app.referrals.documents import issue_transfer_document

    case_id, lead = published_case(app, bureau, login_as, make_user)
    make_user("lofficer", "legal_officer")
    with app.app_context():
        case = db.session.get(InspectionCase, case_id)
        entity, uscc, code = case.entity.name, case.entity.uscc, case.code
        certs = [m.certificate_no for m in case.active_members]
        referral_id = add_referral(case_id, note="价格违法属市场监管部门职责")
        referral = db.session.get(Referral, referral_id)
        letter = ReferralBranch(disposition=Disposition.DEPARTMENT_TRANSFER, opened_at=referral.opened_at,
                                receiving_authority="晋城市城区市场监督管理局", due_on=date.today() + timedelta(days=10))
        crime = ReferralBranch(disposition=Disposition.JUDICIAL_TRANSFER, opened_at=referral.opened_at,
                               receiving_authority="晋城市公安局城区分局", requirement="生产、销售伪劣产品罪")
        referral.branches += [letter, crime]
        issue_transfer_document(letter)
        issue_transfer_document(crime)
        assert letter.document_file_id is None  # nothing before the commit
        db.session.commit()
        letter_id, crime_id = letter.id, crime.id
    with app.app_context():
        letter, crime = db.session.get(ReferralBranch, letter_id), db.session.get(ReferralBranch, crime_id)
        assert letter.document_file_id and crime.document_file_id
        letter_file, crime_file = letter.document_file_id, crime.document_file_id

    officer = login_as("lofficer")
    response = officer.get(f"/files/{letter_file}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    flat = _flat(pdf_text(response.data))
    for expected in ("案件移送函", f"{code}-YS-{letter_id}", "晋城市城区市场监督管理局：", entity, uscc, code,
                     "一台验光仪未按期检定", "责令停止使用", "价格违法属市场监管部门职责", "检查通知书", *certs):
        assert expected in flat, expected
    flat = _flat(pdf_text(officer.get(f"/files/{crime_file}").data))
    for expected in ("涉嫌犯罪案件移送书", f"{code}-XS-{crime_id}", "晋城市公安局城区分局：", "涉嫌生产、销售伪劣产品罪",
                     entity, uscc, "一台验光仪未按期检定", "3日内依法审查", *certs):
        assert expected in flat, expected
    # Inspectors, even the case's own lead, do not get the transfer documents.
    assert login_as(lead).get(f"/files/{letter_file}").status_code == 403


def test_issue_refuses_branches_without_a_document_or_their_particulars(app, bureau, login_as, make_user):
    from app.referrals.documents import issue_transfer_document

    case_id, _ = published_case(app, bureau, login_as, make_user)
    with app.app_context():
        referral = db.session.get(Referral, add_referral(case_id))
        now = referral.opened_at
        for disposition, fields, message in (
            (Disposition.RECTIFICATION, {}, "has no transfer document"),
            (Disposition.DEPARTMENT_TRANSFER, {}, "receiving authority"),
            (Disposition.JUDICIAL_TRANSFER, {"receiving_authority": "晋城市公安局"}, "suspected offence"),
        ):
            branch = ReferralBranch(disposition=disposition, opened_at=now, **fields)
            referral.branches.append(branch)
            with pytest.raises(ValueError, match=message):
                issue_transfer_document(branch)
        db.session.rollback()
        # A transaction that rolls back issues nothing.
        referral = db.session.get(Referral, referral.id)
        branch = ReferralBranch(disposition=Disposition.DEPARTMENT_TRANSFER, opened_at=now,
                                receiving_authority="晋城市卫生健康委员会", status=BranchStatus.OPEN)
        referral.branches.append(branch)
        issue_transfer_document(branch)
        db.session.rollback()
        from app.files.models import StoredFile
        from sqlalchemy import func, select

        assert db.session.scalar(select(func.count()).select_from(StoredFile).where(
            StoredFile.owner_type == "referral_branch")) == 0
