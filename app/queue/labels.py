"""Display labels of workflow values shown on pages: task states, path events, decisions.

The values themselves (``READY``, ``completed``, ``approve``) are stored and sent by the
API as they are; pages show these labels instead. Registered as Jinja globals by
``app.queue.views`` so that imported macros (``_macros.process_path``) see them too.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

TASK_STATE_LABELS = {
    "READY": _l("Open"),
    "COMPLETED": _l("Completed"),
    "CANCELLED": _l("Cancelled"),
}
EVENT_LABELS = {
    "started": _l("started"),
    "completed": _l("completed"),
    "cancelled": _l("cancelled"),
}
# Keys a plan's review steps leave in the process data, and the values of the decisions.
DECISION_FIELD_LABELS = {
    "draft_comments": _l("Drafter's note"),
    "legal_decision": _l("Legality review decision"),
    "legal_comments": _l("Legality review comments"),
    "leader_decision": _l("Leadership decision"),
    "leader_comments": _l("Leadership comments"),
}
DECISION_VALUE_LABELS = {
    "approve": _l("Approved"),
    "return": _l("Returned"),
    "reject": _l("Rejected"),
}

JINJA_GLOBALS = {
    "TASK_STATE_LABELS": TASK_STATE_LABELS,
    "EVENT_LABELS": EVENT_LABELS,
    "DECISION_FIELD_LABELS": DECISION_FIELD_LABELS,
    "DECISION_VALUE_LABELS": DECISION_VALUE_LABELS,
}
