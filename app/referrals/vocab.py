"""Dispositions, outcomes and statuses of referrals as the interface shows them.

The outcome codes are what a branch's ``outcome`` holds; each disposition allows only
its own. English msgids, translated into the bureau's wording by the zh_CN catalogue.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.referrals.models import BranchStatus, Disposition, ReferralStatus

DISPOSITION_LABELS = {
    Disposition.CASE_FILING: _l("Case filing"),
    Disposition.DEPARTMENT_TRANSFER: _l("Transfer to another department"),
    Disposition.JUDICIAL_TRANSFER: _l("Transfer to judicial organs (suspected crime)"),
    Disposition.DISCIPLINE: _l("Transfer to discipline inspection"),
    Disposition.RECTIFICATION: _l("Order rectification within a deadline"),
    Disposition.NO_PENALTY: _l("No penalty (minor first violation)"),
}

# Per disposition, the outcomes that close its branch.
OUTCOMES: dict[str, dict[str, object]] = {
    Disposition.CASE_FILING: {
        "penalty": _l("Filed; administrative penalty decided"),
        "filed_no_penalty": _l("Filed; no administrative penalty"),
        "declined": _l("Not filed"),
    },
    Disposition.DEPARTMENT_TRANSFER: {
        "handled": _l("Handled by the receiving department"),
        "returned": _l("Returned by the receiving department"),
    },
    Disposition.JUDICIAL_TRANSFER: {
        "prosecution_filed": _l("Criminal case filed"),
        "returned": _l("Not filed; returned to the bureau"),
    },
    Disposition.DISCIPLINE: {
        "handled": _l("Handled by discipline inspection"),
        "no_misconduct": _l("No misconduct found"),
    },
    Disposition.RECTIFICATION: {
        "rectified": _l("Rectified: the follow-up inspection found it fixed"),
        "escalated": _l("Not rectified: escalated to case filing"),
    },
    Disposition.NO_PENALTY: {
        "no_penalty": _l("No penalty: minor first violation"),
    },
}

REFERRAL_STATUS_LABELS = {
    ReferralStatus.TRIAGE: _l("Awaiting triage"),
    ReferralStatus.OPEN: _l("Being handled"),
    ReferralStatus.CLOSED: _l("Closed"),
}

BRANCH_STATUS_LABELS = {
    BranchStatus.OPEN: _l("Open"),
    BranchStatus.CLOSED: _l("Closed"),
    BranchStatus.ESCALATED: _l("Escalated"),
}


def outcome_label(disposition: str, outcome: str) -> object:
    """The label of ``outcome`` for a branch of ``disposition`` ("" when it has none yet)."""
    return OUTCOMES.get(disposition, {}).get(outcome, outcome)
