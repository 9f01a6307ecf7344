"""The roles a user may hold. A user may hold several."""
from __future__ import annotations

from enum import StrEnum

from flask_babel import lazy_gettext as _l


class Role(StrEnum):
    ADMIN = "admin"
    DRAFTER = "drafter"
    LEGAL_REVIEWER = "legal_reviewer"
    LEADER = "leader"
    COORDINATOR = "coordinator"
    SECTION_CHIEF = "section_chief"
    INSPECTOR = "inspector"
    WITNESS = "witness"
    LEGAL_OFFICER = "legal_officer"
    COMPLIANCE_REVIEWER = "compliance_reviewer"


ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.DRAFTER: _l("Plan drafter"),
    Role.LEGAL_REVIEWER: _l("Legal reviewer"),
    Role.LEADER: _l("Leadership"),
    Role.COORDINATOR: _l("Draw coordinator"),
    Role.SECTION_CHIEF: _l("Section chief"),
    Role.INSPECTOR: _l("Inspector"),
    Role.WITNESS: _l("Witness (discipline inspection)"),
    Role.LEGAL_OFFICER: _l("Legal officer"),
    Role.COMPLIANCE_REVIEWER: _l("Compliance reviewer"),
}

# Every role is staff: pages behind login are open to any of them unless a view says otherwise.
STAFF_ROLES = tuple(Role)
