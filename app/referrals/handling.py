"""How a referral's violations were handled (违法行为查处情况): rows for staff pages, and the
public part, published onto the case's result as a new version when the referral closes.

The public part is a whitelist: disposition, outcome, penalty decision number and date, and
the outcome note where the public may read it. Discipline-inspection branches concern officials
and show only that they were handled; criminal transfers show their outcome without notes.
Nothing else of the referral (credit class, inspectors, requirements) reaches the public site.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask_babel import force_locale
from sqlalchemy import select

from app.auth.models import User
from app.cases.documents import register_handling_provider
from app.cases.models import InspectionCase
from app.db import utcnow
from app.errors import Conflict
from app.extensions import db
from app.i18n import lazy_text as _l
from app.referrals.models import BranchStatus, Disposition, Referral, ReferralBranch
from app.referrals.vocab import BRANCH_STATUS_LABELS, DISPOSITION_LABELS, outcome_label
from app.workdays.service import SHANGHAI

# The correction reason of the version that publishes the handling (frozen public data: Chinese).
HANDLING_REASON = "违法行为查处情况"
HANDLED_LABEL = _l("Handled")
BEING_HANDLED_LABEL = _l("Being handled")
# Branches whose notes stay inside the bureau.
NOTES_NOT_PUBLIC = (Disposition.DISCIPLINE, Disposition.JUDICIAL_TRANSFER)


def _day(value: datetime | None) -> date | None:
    return value.astimezone(SHANGHAI).date() if value is not None else None


def local_today() -> date:
    """Today in the bureau's time zone (deadlines are local dates)."""
    return utcnow().astimezone(SHANGHAI).date()


def is_overdue(branch: ReferralBranch, today: date | None = None) -> bool:
    """An open branch whose running deadline has passed (the deadline day itself is still on time)."""
    return branch.status == BranchStatus.OPEN and branch.due_on is not None and branch.due_on < (today or local_today())


def handling_rows(referral: Referral, *, confidential: bool = True) -> list[dict[str, Any]]:
    """One plain dict per branch, in the order they were opened, for staff pages.

    Labels are lazy (shown in the reader's language). With ``confidential=False`` (readers
    outside the referral roles) a discipline branch keeps only its disposition, status and
    dates: no outcome, note, decision number or receiving authority.
    """
    today = local_today()
    rows = []
    for branch in referral.branches:
        hidden = not confidential and branch.disposition == Disposition.DISCIPLINE
        rows.append({
            "id": branch.id,
            "disposition": branch.disposition,
            "disposition_label": DISPOSITION_LABELS.get(branch.disposition, branch.disposition),
            "status": branch.status,
            "status_label": BRANCH_STATUS_LABELS.get(branch.status, branch.status),
            "outcome": "" if hidden else branch.outcome,
            "outcome_label": (HANDLED_LABEL if branch.outcome else "") if hidden
            else (outcome_label(branch.disposition, branch.outcome) if branch.outcome else ""),
            "outcome_note": "" if hidden else branch.outcome_note,
            "decision_number": "" if hidden else branch.decision_number,
            "receiving_authority": "" if hidden else branch.receiving_authority,
            "requirement": "" if hidden else branch.requirement,
            "opened_on": _day(branch.opened_at),
            "due_on": branch.due_on if branch.status == BranchStatus.OPEN else None,
            "due_label": branch.due_label if branch.status == BranchStatus.OPEN else "",
            "overdue": is_overdue(branch, today),
            "decided_on": _day(branch.decided_at),
            "closed_on": _day(branch.closed_at),
            "escalated_to_id": branch.escalated_to_id,
            "document_file_id": None if hidden else branch.document_file_id,
        })
    return rows


def _public_row(branch: ReferralBranch) -> dict[str, Any]:
    # Called under force_locale("zh_CN"): the labels become the bureau's Chinese wording.
    discipline = branch.disposition == Disposition.DISCIPLINE
    if not branch.outcome:
        outcome = str(BEING_HANDLED_LABEL)
    elif discipline:
        outcome = str(HANDLED_LABEL)
    else:
        outcome = str(outcome_label(branch.disposition, branch.outcome))
    row: dict[str, Any] = {"disposition": str(DISPOSITION_LABELS.get(branch.disposition, branch.disposition)),
                           "outcome": outcome}
    if not discipline:
        decided = _day(branch.decided_at)
        row["decision_number"] = branch.decision_number
        row["decided_on"] = decided.isoformat() if decided else None
    if branch.disposition not in NOTES_NOT_PUBLIC:
        row["note"] = branch.outcome_note
    if branch.disposition in (Disposition.DEPARTMENT_TRANSFER, Disposition.JUDICIAL_TRANSFER):
        row["authority"] = branch.receiving_authority
    return row


def _public_text(rows: list[dict[str, Any]]) -> str:
    lines = []
    for row in rows:
        line = f"{row['disposition']}：{row['outcome']}"
        if row.get("authority"):
            line += f"（{row['authority']}）"
        if row.get("decision_number"):
            line += f"，决定书文号{row['decision_number']}"
        if row.get("decided_on"):
            d = date.fromisoformat(row["decided_on"])
            line += f"，{d.year}年{d.month}月{d.day}日"
        if row.get("note"):
            line += f"。{row['note'].strip()}"
        lines.append(line.rstrip("。") + "。")
    return "\n".join(lines)


def public_handling(case: InspectionCase) -> dict[str, Any] | None:
    """The public handling of the case's referral once published, else None (the case's
    follow-up summary stays). Registered with the cases package's public content."""
    referral = db.session.scalar(select(Referral).where(Referral.case_id == case.id))
    if referral is None or referral.handling_published_at is None:
        return None
    with force_locale("zh_CN"):
        rows = [_public_row(b) for b in referral.branches]
    return {"violations_handling": _public_text(rows) or "无", "handling": rows}


register_handling_provider(public_handling)


def publish_handling(referral: Referral, *, actor: User | None = None) -> None:
    """Publish how the referral's violations were handled, as a new version of the case's public
    result (the previous one kept for reviewers); sets ``handling_published_at``; audited.

    Runs in the caller's transaction. Raises Conflict when the case's result is not published
    (there is nothing to add the handling to) and does nothing when the public handling is
    already what the current version shows.
    """
    from app.audit.service import record
    from app.cases.publication import _add_version

    case = referral.case
    current = case.current_publication
    if current is None:
        raise Conflict(_l("The case's result is not published: the handling of its violations cannot be added."))
    previous_at = referral.handling_published_at
    referral.handling_published_at = utcnow()
    handling = public_handling(case) or {}
    if previous_at is not None and all(current.content.get(k) == v for k, v in handling.items()):
        referral.handling_published_at = previous_at
        return
    version = _add_version(case, published_by_id=actor.id if actor is not None else None, reason=HANDLING_REASON)
    record("referral.handling_published", actor=actor, subject_type="referral", subject_id=referral.id,
           details={"case_id": case.id, "from_version": current.version, "to_version": version.version,
                    "handling": handling["handling"]})
