"""The case's documents: contexts built from the case, rendered once and kept as stored files.

A document is rendered when its step is reached (in a background worker, after the step's
transaction commits) and kept: the notice an entity received stays the notice, even if the
directory changes later. Asking for one that is not rendered yet renders it then.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from app.cases.models import InspectionCase, PublishedResult
from app.cases.service import get_case
from app.directory.models import Department
from app.documents.labels import FOLLOW_UPS
from app.documents.service import render_pdf
from app.extensions import db
from app.files import service as files
from app.files.models import StoredFile
from app.jobs import enqueue_after_commit, job
from app.workdays.service import SHANGHAI

CASE_OWNER = "inspection_case"
PUBLICATION_OWNER = "published_result"
CASE_DOCUMENTS = ("inspection_notice", "record_form")
FILE_NAMES = {"inspection_notice": "检查通知书", "record_form": "随机抽查情况记录表", "public_notice": "抽查结果公示"}


def _bureau(department: Department) -> Department:
    while department.parent is not None:
        department = department.parent
    return department


def _entity(case: InspectionCase) -> dict[str, Any]:
    e = case.entity
    return {"name": e.name, "uscc": e.uscc, "address": e.address, "legal_representative": e.legal_representative}


def _inspectors(case: InspectionCase) -> list[dict[str, str]]:
    return [{"name": m.inspector.name, "certificate_no": m.certificate_no} for m in case.active_members]


def _today() -> date:
    from app.db import utcnow

    return utcnow().astimezone(SHANGHAI).date()


def notice_context(case: InspectionCase) -> dict[str, Any]:
    """The inspection notice (检查通知书) of a case whose team is confirmed."""
    task = case.spot_check_task
    issued = case.notice_issued_at.astimezone(SHANGHAI).date() if case.notice_issued_at else _today()
    return {
        "bureau": _bureau(task.lead_department).name,
        "department": task.lead_department.name,
        "case_code": case.code,
        "issue_date": issued,
        "entity": _entity(case),
        "task": {"name": task.name, "code": task.code},
        "legal_basis": sorted({r.check_item.legal_basis for r in case.item_results if r.check_item.legal_basis}),
        "items": [{"name": r.check_item.name, "method": r.method, "basis": r.check_item.legal_basis}
                  for r in case.item_results],
        "window": {"start": task.window_start, "end": task.window_end},
        "inspectors": _inspectors(case),
    }


def handling_text(case: InspectionCase) -> str:
    """How violations were handled (违法行为查处情况), from the follow-ups chosen per finding."""
    lines = [f"{r.check_item.name}：{FOLLOW_UPS[r.follow_up]}" for r in case.item_results
             if r.checked and r.follow_up != "none"]
    return "；".join(lines) if lines else "无"


def record_form_context(case: InspectionCase) -> dict[str, Any]:
    """The record form (随机抽查情况记录表): everything recorded and entered, both inspectors."""
    task = case.spot_check_task
    return {
        "bureau": _bureau(task.lead_department).name,
        "department": task.lead_department.name,
        "case_code": case.code,
        "inspection_date": case.inspection_date,
        "entity": _entity(case),
        "task": {"name": task.name, "code": task.code},
        "items": [{"name": r.check_item.name, "method": r.method, "checked": r.checked, "findings": r.findings,
                   "disposal": r.disposal} for r in case.item_results],
        "results": list(case.result_categories or []),
        "follow_ups": sorted({r.follow_up for r in case.item_results if r.checked and r.follow_up != "none"}),
        "follow_up_note": case.result_summary,
        "inspectors": _inspectors(case),
        "on_site_record": case.onsite_record,
    }


# Packages that carry a case's violations on (referrals) tell how they were handled once that
# is public; they register here so that the cases package needs no import of theirs.
HandlingProvider = Callable[[InspectionCase], "dict[str, Any] | None"]
_handling_providers: list[HandlingProvider] = []
HANDLING_KEYS = ("violations_handling", "handling")


def register_handling_provider(provider: HandlingProvider) -> None:
    """Let ``provider(case)`` replace the public handling of violations.

    It returns None (nothing public yet) or a dict with ``violations_handling`` (the text the
    notice prints) and ``handling`` (rows for the page and the JSON); other keys are ignored.
    """
    if provider not in _handling_providers:
        _handling_providers.append(provider)


def public_content(case: InspectionCase, published_on: date) -> dict[str, Any]:
    """What the public site shows of a case's result (frozen into each published version)."""
    task = case.spot_check_task
    content: dict[str, Any] = {
        "bureau": _bureau(task.lead_department).name,
        "department": task.lead_department.name,
        "inspection_date": case.inspection_date.isoformat() if case.inspection_date else None,
        "publish_date": published_on.isoformat(),
        "entity": {"name": case.entity.name, "uscc": case.entity.uscc},
        "task": {"name": task.name, "code": task.code, "plan": task.plan.code},
        "items": [{"name": r.check_item.name, "method": r.method} for r in case.item_results],
        "results": list(case.result_categories or []),
        "violations_handling": handling_text(case),
    }
    for provider in _handling_providers:
        handling = provider(case)
        if handling:
            content.update({key: handling[key] for key in HANDLING_KEYS if key in handling})
            break
    return content


def public_notice_context(version: PublishedResult) -> dict[str, Any]:
    content = dict(version.content)
    content["inspection_date"] = date.fromisoformat(content["inspection_date"]) if content.get("inspection_date") else None
    content["publish_date"] = version.published_at.astimezone(SHANGHAI).date()
    return content


def _stored(owner_type: str, owner_id: int, kind: str) -> StoredFile | None:
    found = files.files_of(owner_type, owner_id, kind)
    return found[-1] if found else None


def case_document(case: InspectionCase, kind: str) -> StoredFile:
    """The case's notice or record form as a stored PDF, rendered now if it was not yet."""
    if kind not in CASE_DOCUMENTS:
        raise ValueError(f"unknown case document {kind!r}")
    if kind == "record_form" and case.recorded_at is None:
        raise ValueError("the record form exists once the inspection is recorded")
    # The notice is fixed once issued; the record form follows the record and the results
    # (entered, revised), so it is rendered again when they changed after it was made.
    existing = _stored(CASE_OWNER, case.id, kind)
    changed = case.record_changed_at
    if existing is not None and (kind == "inspection_notice" or changed is None or existing.created_at >= changed):
        return existing
    context = notice_context(case) if kind == "inspection_notice" else record_form_context(case)
    data = render_pdf(kind, context)
    return files.store_generated(CASE_OWNER, case.id, kind, f"{case.code}-{FILE_NAMES[kind]}.pdf", data,
                                 "application/pdf")


def public_notice(version: PublishedResult) -> StoredFile:
    """The public notice (抽查结果公示) PDF of a published version, rendered once."""
    existing = _stored(PUBLICATION_OWNER, version.id, "public_notice")
    if existing is not None:
        return existing
    data = render_pdf("public_notice", public_notice_context(version))
    return files.store_generated(PUBLICATION_OWNER, version.id, "public_notice",
                                 f"{version.uscc}-{FILE_NAMES['public_notice']}-v{version.version}.pdf", data,
                                 "application/pdf")


@job(retries=2, retry_delay=30)
def render_case_document(case_id: int, kind: str) -> None:
    """Background rendering of a case document or of a published version's public notice."""
    if kind == "public_notice":
        version = db.session.get(PublishedResult, case_id)
        if version is not None:
            public_notice(version)
    else:
        case_document(get_case(case_id), kind)
    db.session.commit()


def render_in_background(owner_id: int, kind: str) -> None:
    """Render once the current transaction has committed (the rows it reads are then visible)."""
    enqueue_after_commit(render_case_document, owner_id, kind)
