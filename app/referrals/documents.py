"""The transfer documents of a referral branch, rendered after commit and kept as stored files.

A department transfer issues a 案件移送函 (``transfer_letter``), a transfer to judicial organs a
涉嫌犯罪案件移送书 (``crime_transfer``). The referral process calls ``issue_transfer_document``
inside the step's transaction; a background job renders the PDF once that commits (the rows
are then visible to the worker), stores it for the branch and sets ``document_file_id``. The
issued document stays as issued: a later request returns the stored copy.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from app.auth.models import User
from app.cases.documents import CASE_OWNER, record_form_context
from app.cases.models import InspectionCase
from app.documents.service import render_pdf
from app.extensions import db
from app.files import service as files
from app.files.models import StoredFile
from app.jobs import enqueue_after_commit, job
from app.referrals.access import can_see_confidential
from app.referrals.models import Disposition, ReferralBranch
from app.workdays.service import SHANGHAI

BRANCH_OWNER = "referral_branch"
# Disposition -> (document kind, number infix, download name).
TRANSFER_DOCUMENTS: dict[str, tuple[str, str, str]] = {
    Disposition.DEPARTMENT_TRANSFER: ("transfer_letter", "YS", "案件移送函"),
    Disposition.JUDICIAL_TRANSFER: ("crime_transfer", "XS", "涉嫌犯罪案件移送书"),
}


def _spec(branch: ReferralBranch) -> tuple[str, str, str]:
    try:
        return TRANSFER_DOCUMENTS[branch.disposition]
    except KeyError:
        raise ValueError(f"referral branch {branch.id}: a {branch.disposition} branch has no transfer document") from None


def document_kind(branch: ReferralBranch) -> str | None:
    """The document kind a branch of this disposition issues, or None."""
    spec = TRANSFER_DOCUMENTS.get(branch.disposition)
    return spec[0] if spec else None


def document_number(branch: ReferralBranch) -> str:
    """The document's number: the case code, the kind's infix and the branch id (unique, traceable)."""
    return f"{branch.referral.case.code}-{_spec(branch)[1]}-{branch.id}"


def suspected_offence(branch: ReferralBranch) -> str:
    """The suspected offence of a judicial transfer: the branch's ``requirement`` (what the
    receiving authority is asked to examine), else the referral's triage note."""
    return (branch.requirement or "").strip() or (branch.referral.triage_note or "").strip()


def _materials(case: InspectionCase) -> list[str]:
    # Only what the file really holds: a list of enclosures the bureau cannot produce would be false.
    materials = []
    if case.notice_issued_at is not None:
        materials.append(f"检查通知书（编号：{case.code}）")
    if case.recorded_at is not None:
        materials.append("随机抽查情况记录表（含现场检查笔录）")
    materials += [f"{f.original_name}（现场照片、扫描件等证据材料）"
                  for f in files.files_of(CASE_OWNER, case.id, "attachment")]
    return materials


def transfer_context(branch: ReferralBranch) -> dict[str, Any]:
    """The document context of a department or judicial transfer branch."""
    kind = _spec(branch)[0]
    referral = branch.referral
    case = referral.case
    base = record_form_context(case)
    issued: date = branch.opened_at.astimezone(SHANGHAI).date()
    context: dict[str, Any] = {
        "bureau": base["bureau"],
        "department": base["department"],
        "document_number": document_number(branch),
        "issue_date": issued,
        "receiving_authority": branch.receiving_authority,
        "entity": base["entity"],
        "case_code": case.code,
        "task": base["task"],
        "inspection_date": case.inspection_date,
        "inspectors": base["inspectors"],
        "facts": [{"item": i["name"], "findings": i["findings"], "disposal": i["disposal"]}
                  for i in base["items"] if i["checked"] and (i["findings"] or "").strip()],
        "summary": case.result_summary,
        "legal_basis": sorted({r.check_item.legal_basis for r in case.item_results if r.check_item.legal_basis}),
        "reason": (referral.triage_note or "").strip() if kind == "transfer_letter" else "",
        "materials": _materials(case),
    }
    if kind == "crime_transfer":
        context["suspected_offence"] = suspected_offence(branch)
    return context


def _check_issuable(branch: ReferralBranch) -> None:
    _spec(branch)
    if not (branch.receiving_authority or "").strip():
        raise ValueError(f"referral branch {branch.id}: a transfer needs its receiving authority")
    if branch.disposition == Disposition.JUDICIAL_TRANSFER and not suspected_offence(branch):
        raise ValueError(f"referral branch {branch.id}: a judicial transfer needs the suspected offence "
                         "(the branch's requirement or the triage note)")


def transfer_document(branch: ReferralBranch) -> StoredFile:
    """The branch's transfer document as a stored PDF, rendered now if it was not yet; sets
    ``branch.document_file_id``. Flushes; the caller commits."""
    kind, _, title = _spec(branch)
    if branch.document_file_id is not None:
        stored = files.get_file(branch.document_file_id)
        if stored is not None:
            return stored
    _check_issuable(branch)
    data = render_pdf(kind, transfer_context(branch))
    stored = files.store_generated(BRANCH_OWNER, branch.id, kind, f"{document_number(branch)}-{title}.pdf", data,
                                   "application/pdf")
    branch.document_file_id = stored.id
    db.session.flush()
    return stored


@job(retries=2, retry_delay=30)
def render_transfer_document(branch_id: int) -> None:
    """Background rendering of a branch's transfer document."""
    branch = db.session.get(ReferralBranch, branch_id)
    if branch is not None:
        transfer_document(branch)
        db.session.commit()


def issue_transfer_document(branch: ReferralBranch) -> None:
    """Have the branch's transfer document rendered and stored once the current transaction commits.

    Raises ValueError now, inside the caller's transaction, for a branch that issues no
    document, lacks its receiving authority or (judicial transfers) its suspected offence.
    """
    if branch.id is None:
        db.session.flush()
    _check_issuable(branch)
    enqueue_after_commit(render_transfer_document, branch.id)


def _branch_file_visible(stored: StoredFile, user: User) -> bool:
    return can_see_confidential(user)


files.register_owner(BRANCH_OWNER, _branch_file_visible)
