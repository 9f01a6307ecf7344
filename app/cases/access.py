"""Who may see a case, its documents and its attachments."""
from __future__ import annotations

from app.auth.models import User
from app.auth.roles import Role
from app.cases.models import InspectionCase

# Roles that oversee every case: the section chief reviews, leadership and legal staff act
# on results, compliance reads every trace, the administrator runs the system.
OVERSEEING_ROLES = (Role.SECTION_CHIEF, Role.LEADER, Role.LEGAL_OFFICER, Role.COMPLIANCE_REVIEWER, Role.ADMIN)


def is_member(case: InspectionCase, user: User) -> bool:
    """Whether the user's inspector record is on the case's team (recused members included)."""
    return user.inspector_id is not None and any(m.inspector_id == user.inspector_id for m in case.members)


def can_view_case(case: InspectionCase, user: User | None) -> bool:
    """Team members and overseeing roles see a case; other inspectors and staff do not."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return user.has_role(*OVERSEEING_ROLES) or is_member(case, user)


def can_add_attachments(case: InspectionCase, user: User) -> bool:
    """Active team members add photos and scans while the case is being inspected or entered."""
    from app.cases.models import CaseStatus

    active = user.inspector_id is not None and any(m.inspector_id == user.inspector_id for m in case.active_members)
    return active and case.status in (CaseStatus.INSPECTING, CaseStatus.RESULT_ENTRY, CaseStatus.REVIEW)
