"""Display labels of the trace pages: kinds of subject and process instance states."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.compliance.subjects import CASE, DRAW, PLAN, REFERRAL

SUBJECT_LABELS = {
    PLAN: _l("Plan"),
    DRAW: _l("Draw"),
    CASE: _l("Inspection case"),
    REFERRAL: _l("Referral"),
}
INSTANCE_STATUS_LABELS = {
    "running": _l("running"),
    "completed": _l("completed"),
    "error": _l("error"),
}
