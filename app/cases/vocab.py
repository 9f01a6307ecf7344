"""Result categories, follow-ups, methods and outcomes as the interface shows them.

The codes (and the Chinese wording the official documents print) are defined once in
``app.documents.labels``; here each code gets an English msgid, translated back into the
same Chinese wording by the zh_CN catalogue, so that the English interface reads English.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.cases.models import CaseStatus, InspectionOutcome

CASE_STATUS_LABELS = {
    CaseStatus.RECUSAL: _l("Confirming the team"),
    CaseStatus.INSPECTING: _l("Inspecting"),
    CaseStatus.RESULT_ENTRY: _l("Entering results"),
    CaseStatus.REVIEW: _l("In review"),
    CaseStatus.PUBLISHED: _l("Published"),
    CaseStatus.CLOSED: _l("Closed"),
}

RESULT_CATEGORY_LABELS = {
    "1": _l("No problem found"),
    "A": _l("Problem found, follow-up pending"),
    "B": _l("Information that must be published was not published"),
    "C": _l("Published information concealed the truth or was falsified"),
    "D": _l("Other regulatory provisions violated"),
    "E": _l("Problem found and corrected when ordered"),
    "F": _l("No business activity covered by this check was found"),
    "6": _l("Cannot be reached at the registered address"),
    "7": _l("Closed, suspended or in liquidation"),
    "8": _l("Seriously refused to cooperate with the inspection"),
    "9": _l("Deregistered"),
    "10": _l("Business licence revoked"),
    "11": _l("Registration cancelled"),
    "12": _l("Moved out of the jurisdiction"),
}
FOLLOW_UP_LABELS = {
    "none": _l("No follow-up needed"),
    "report_daily_supervision": _l("Stop and hand over to daily supervision"),
    "order_rectification": _l("Order rectification within a deadline"),
    "refer_case_lead": _l("Refer as a case lead"),
    "notify_department": _l("Notify the competent department"),
}
METHOD_LABELS = {
    "on_site": _l("On-site inspection"),
    "documents": _l("Document review"),
    "online": _l("Online monitoring"),
    "commissioned": _l("Commissioned lab test or expert review"),
}
OUTCOME_LABELS = {
    InspectionOutcome.INSPECTED: _l("Inspected"),
    InspectionOutcome.UNREACHABLE: _l("Address unreachable"),
    InspectionOutcome.CLOSED: _l("Closed or in liquidation"),
    InspectionOutcome.DEREGISTERED: _l("Deregistered"),
}
# The category each "nothing to inspect" outcome implies.
OUTCOME_CATEGORY = {
    InspectionOutcome.UNREACHABLE: "6",
    InspectionOutcome.CLOSED: "7",
    InspectionOutcome.DEREGISTERED: "9",
}
# Follow-ups that hand a finding on to legal staff (the referral process).
REFERRAL_FOLLOW_UPS = frozenset({"order_rectification", "refer_case_lead", "notify_department"})


def default_method(check_item_method: str) -> str:
    """The method code a check item's own wording (检查方式) suggests; on-site when unclear."""
    text = check_item_method or ""
    for words, code in ((("网络", "网上", "在线"), "online"), (("检验", "检测", "专家", "委托"), "commissioned"),
                        (("书面", "材料", "资料"), "documents")):
        if any(w in text for w in words):
            return code
    return "on_site"
