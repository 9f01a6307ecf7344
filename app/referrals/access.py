"""Who may see referrals, their ledger, their documents and their confidential parts."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from app.auth.roles import Role
from app.extensions import db

if TYPE_CHECKING:
    from app.auth.models import User
    from app.referrals.models import Referral

# Referrals are the legal officers' work; leadership approves their steps, compliance reads
# every trace, administrators run the system. Inspectors are left out on purpose: a discipline
# referral may concern the very officials who inspected.
REFERRAL_ROLES = (Role.LEGAL_OFFICER, Role.LEADER, Role.COMPLIANCE_REVIEWER, Role.ADMIN)


def _authenticated(user: User | None) -> bool:
    return user is not None and bool(getattr(user, "is_authenticated", False))


def can_use_ledger(user: User | None) -> bool:
    """The ledger (工作台帐) and every referral page are open to the referral roles."""
    return _authenticated(user) and user.has_role(*REFERRAL_ROLES)  # type: ignore[union-attr]


def can_see_confidential(user: User | None) -> bool:
    """Discipline-inspection notes and transfer documents: the referral roles only."""
    return can_use_ledger(user)


def can_view_referral(referral: Referral, user: User | None) -> bool:
    """Referral roles, and whoever may see one of the referral's tasks (e.g. the follow-up
    inspection's section chief), see the referral's page."""
    if can_use_ledger(user):
        return True
    if not _authenticated(user) or referral.process_instance_id is None:
        return False
    from workflows import engine
    from workflows.models import HumanTask

    tasks = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == referral.process_instance_id))
    return any(engine.can_view(task, user) for task in tasks)
