"""Opening referrals and the plain operations on their branches that the process steps share.

A referral is opened by ``bpmn/inspection_case.bpmn`` once a result whose findings need one
(``InspectionCase.needs_referral``) is published; ``bpmn/referral.bpmn`` then runs it. The
functions here take and return records and plain values; the diagram's handlers and form
validators (``app.referrals.process``) decide when they are called. Nothing here commits:
everything happens in the caller's transaction (a process step).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import select

from app.audit import service as audit
from app.auth.models import User, UserRole
from app.auth.roles import Role
from app.cases.models import InspectionCase
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.i18n import lazy_text as _l
from app.notifications.service import N_, notify
from app.referrals.models import BranchStatus, Disposition, Referral, ReferralBranch, ReferralStatus
from app.referrals.vocab import OUTCOMES
from app.workdays import service as workdays
from workflows import clock

PROCESS_ID = "referral"
SUBJECT_TYPE = "referral"

# What a branch's ``due_on`` is the deadline of. The English text is stored in ``due_label``
# (N_ marks it for the catalogue: pages show it through gettext).
DUE_VERIFICATION = N_("Lead verification")
DUE_VERIFICATION_EXTENDED = N_("Lead verification (extended)")
DUE_CASE_DECISION = N_("Decision on the filed case")
DUE_PENALTY_PUBLICATION = N_("Publication of the penalty decision")
DUE_ACKNOWLEDGEMENT = N_("Acknowledgement by the receiving authority")
DUE_AUTHORITY_OUTCOME = N_("Outcome from the receiving authority")
DUE_DISCIPLINE_TRANSFER = N_("Hand-over to discipline inspection")
DUE_RECTIFICATION = N_("Rectification deadline")
DUE_FOLLOW_UP = N_("Follow-up inspection")


def now() -> datetime:
    """The instant steps are stamped with: the engine's clock, which the timers also read."""
    return clock.now()


def today() -> date:
    """The current day where the bureau works (Asia/Shanghai)."""
    return now().astimezone(workdays.SHANGHAI).date()


# --- reading --------------------------------------------------------------------------------


def get_referral(referral_id: int) -> Referral:
    """The referral ``referral_id``; NotFound when there is none."""
    referral = db.session.get(Referral, referral_id)
    if referral is None:
        raise NotFound(f"no referral {referral_id}")
    return referral


def get_branch(branch_id: int, referral_id: int | None = None) -> ReferralBranch:
    """The branch ``branch_id`` (of ``referral_id`` when given); NotFound otherwise."""
    branch = db.session.get(ReferralBranch, branch_id)
    if branch is None or (referral_id is not None and branch.referral_id != referral_id):
        raise NotFound(f"no branch {branch_id} in this referral")
    return branch


def referral_of_case(case_id: int) -> Referral | None:
    """The referral opened for a case, if any."""
    return db.session.scalar(select(Referral).where(Referral.case_id == case_id))


def users_with_role(role: Role) -> list[int]:
    """Ids of the active accounts holding ``role``."""
    return list(db.session.scalars(
        select(User.id).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == role.value, User.is_active_account.is_(True)).order_by(User.id)
    ))


def responsible_officers(referral: Referral) -> list[int]:
    """Who is told about a referral's deadlines: the officer who triaged it, else every legal officer."""
    if referral.triaged_by_id is not None:
        officer = db.session.get(User, referral.triaged_by_id)
        if officer is not None and officer.is_active_account and officer.has_role(Role.LEGAL_OFFICER):
            return [officer.id]
    return users_with_role(Role.LEGAL_OFFICER)


def case_lead_user(case: InspectionCase) -> int | None:
    """The user id of the case's lead inspector (first active member), if that inspector has a login."""
    active = case.active_members
    if not active:
        return None
    return db.session.scalar(select(User.id).where(User.inspector_id == active[0].inspector_id,
                                                   User.is_active_account.is_(True)))


def no_penalty_list() -> dict[str, str]:
    """The bureau's list of minor first violations not penalised: code -> wording (a setting)."""
    return {str(code): str(text) for code, text in current_app.config["NO_PENALTY_LIST"]}


# --- opening --------------------------------------------------------------------------------


def open_referral(case: InspectionCase, *, actor_id: int | None = None) -> Referral:
    """Open the referral of a published case that needs one and start its process; no commit.

    Legal officers are notified: triage waits in their group queue. A case has at most one
    referral (Conflict for a second).
    """
    from workflows import engine

    if referral_of_case(case.id) is not None:
        raise Conflict(f"case {case.code} already has a referral")
    referral = Referral(case_id=case.id, status=ReferralStatus.TRIAGE, opened_at=now())
    db.session.add(referral)
    db.session.flush()
    instance = engine.start_process(
        PROCESS_ID, subject_type=SUBJECT_TYPE, subject_id=referral.id,
        subject_title=f"{case.entity.name} · {case.code}",
        data={"referral_id": referral.id, "case_id": case.id}, user_id=actor_id,
    )
    referral.process_instance_id = instance.id
    audit.record("referral.opened", actor=None, subject_type=SUBJECT_TYPE, subject_id=referral.id,
                 details={"case_id": case.id, "case_code": case.code, "instance_id": instance.id})
    notify(users_with_role(Role.LEGAL_OFFICER), N_("Case %(code)s has a violation to refer: triage it."),
           link=f"/tasks/groups?subject_type={SUBJECT_TYPE}", code=case.code)
    return referral


def open_branches(referral: Referral, choices: dict[str, dict[str, Any]]) -> dict[str, int]:
    """One open branch per chosen disposition, with the triage's inputs; returns their ids.

    ``choices`` maps a disposition to its inputs (``receiving_authority``, ``requirement``).
    """
    if referral.branches:
        raise Conflict("the referral's branches are already open")
    opened = now()
    for disposition, inputs in choices.items():
        referral.branches.append(ReferralBranch(
            disposition=Disposition(disposition).value, status=BranchStatus.OPEN, opened_at=opened,
            receiving_authority=str(inputs.get("receiving_authority") or "")[:256],
            requirement=str(inputs.get("requirement") or ""),
        ))
    referral.status = ReferralStatus.OPEN
    db.session.flush()
    ids = {b.disposition: b.id for b in referral.branches}
    audit.record("referral.branches_opened", actor=None, subject_type=SUBJECT_TYPE, subject_id=referral.id,
                 details={"branches": ids})
    return ids


# --- deadlines and outcomes -----------------------------------------------------------------


def set_due(branch: ReferralBranch, day: date | None, label: str) -> None:
    """Make ``day`` the branch's running deadline (what the ledger sorts by); clears the overdue mark."""
    branch.due_on, branch.due_label, branch.overdue_at = day, label if day else "", None


def check_open(branch: ReferralBranch) -> None:
    """Refuse to change a branch that already has its outcome."""
    if branch.status != BranchStatus.OPEN:
        raise Conflict(f"branch {branch.id} is {branch.status}, not open")


def decide(branch: ReferralBranch, outcome: str, *, note: str, decided_by_id: int | None,
           decision_number: str = "") -> None:
    """Record the branch's outcome (one of its disposition's OUTCOMES) without closing it yet.

    A penalty decision is recorded here and closes only once it is published.
    """
    check_open(branch)
    if outcome not in OUTCOMES.get(branch.disposition, {}):
        raise ValidationFailed({"outcome": [_l("This outcome does not apply to the branch.")]})
    branch.outcome, branch.outcome_note = outcome, note
    branch.decision_number = decision_number[:128]
    branch.decided_at, branch.decided_by_id = now(), decided_by_id


def close_branch(branch: ReferralBranch, *, actor: User | None, status: BranchStatus = BranchStatus.CLOSED,
                 details: dict[str, Any] | None = None) -> None:
    """Close a branch whose outcome is recorded (``decide``), or mark it ESCALATED; audited.

    Its deadline stops running; the audit entry ``referral.branch_closed`` names the outcome.
    """
    check_open(branch)
    if not branch.outcome or branch.decided_at is None:
        raise Conflict(f"branch {branch.id} has no outcome yet")
    branch.status, branch.closed_at = status, now()
    set_due(branch, None, "")
    audit.record("referral.branch_closed", actor=actor, subject_type=SUBJECT_TYPE, subject_id=branch.referral_id,
                 details={"branch_id": branch.id, "disposition": branch.disposition, "outcome": branch.outcome,
                          "status": str(status), "decision_number": branch.decision_number, **(details or {})})


def all_decided(referral: Referral) -> bool:
    """Whether every branch has its outcome (and none is still open): the referral may close."""
    return bool(referral.branches) and all(
        b.outcome and b.status in (BranchStatus.CLOSED, BranchStatus.ESCALATED) for b in referral.branches
    )


def close_referral(referral: Referral) -> None:
    """Close a referral whose branches all have their outcome and publish its handling; audited."""
    from app.referrals.handling import publish_handling

    if referral.status == ReferralStatus.CLOSED:
        raise Conflict(f"referral {referral.id} is already closed")
    if not all_decided(referral):
        undecided = [b.id for b in referral.branches if not b.outcome or b.status == BranchStatus.OPEN]
        raise Conflict(f"referral {referral.id} still has branches without an outcome: {undecided}")
    referral.status, referral.closed_at = ReferralStatus.CLOSED, now()
    db.session.flush()
    publish_handling(referral)
    audit.record("referral.closed", actor=None, subject_type=SUBJECT_TYPE, subject_id=referral.id,
                 details={"case_id": referral.case_id,
                          "branches": {str(b.id): [b.disposition, b.outcome] for b in referral.branches}})
