"""Review, publication and correction of a case's result, and the abnormal-list step.

Publication follows the section chief's approval at once (a service task of the diagram);
the 20-working-day period is recorded as the case's publication deadline so that a late
publication (a failed or delayed step) shows in the figures and rule checks. A published
result changes only through ``correct_publication``: a new version, the old one kept.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_

from app.auth.models import User
from app.auth.roles import Role
from app.cases.access import is_member
from app.cases.documents import public_content, render_in_background
from app.cases.models import CaseStatus, InspectionCase, InspectionOutcome, PublishedResult
from app.cases.service import get_case
from app.cases.vocab import RESULT_CATEGORY_LABELS
from app.db import utcnow
from app.directory.service import Page, paginate
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.workdays import service as workdays
from workflows.models import HumanTask, ProcessInstance
from workflows.registry import service_task, task_form


def _local_day(value: Any) -> date:
    return value.astimezone(workdays.SHANGHAI).date()


@task_form("case_review")
def _validate_review(form: dict[str, Any], task: HumanTask, user: User) -> dict[str, Any]:
    """The section chief approves the results or returns them to the inspectors with reasons."""
    case = get_case(task.subject_id)
    if is_member(case, user):
        raise Forbidden("a member of the team cannot review its own results")
    decision = str(form.get("decision") or "")
    comments = str(form.get("comments") or "").strip()[:4000]
    if decision not in ("approve", "return"):
        raise ValidationFailed({"decision": [str(_l("Approve the results or return them."))]})
    if decision == "return" and not comments:
        raise ValidationFailed({"comments": [str(_l("Say what must change: the inspectors see your reasons."))]})
    case.reviewed_at, case.reviewed_by_id, case.review_comments = utcnow(), user.id, comments
    case.status = CaseStatus.REVIEW if decision == "approve" else CaseStatus.RESULT_ENTRY
    return {"review_decision": decision, "review_comments": comments}


@service_task("cases.publish")
def _publish(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Approved results go public now, as version 1; an unreachable address gets its listing deadline."""
    case = get_case(int(data["case_id"]))
    settings = current_app.config
    now = utcnow()
    entered_on = _local_day(case.results_entered_at or now)
    case.publication_due_on = workdays.add_working_days(entered_on, settings["PUBLICATION_WORKING_DAYS"]).day
    version = _add_version(case, published_by_id=case.reviewed_by_id, reason="")
    case.status, case.published_at = CaseStatus.PUBLISHED, now
    out: dict[str, Any] = {"published_version_id": version.id}
    if case.outcome == InspectionOutcome.UNREACHABLE:
        listing = workdays.add_working_days(entered_on, settings["ABNORMAL_LISTING_WORKING_DAYS"])
        case.abnormal_listing_due_on = listing.day
        out["abnormal_due_at"] = workdays.deadline_instant(listing.day).isoformat()
    return out


def _add_version(case: InspectionCase, *, published_by_id: int | None, reason: str) -> PublishedResult:
    now = utcnow()
    previous = case.current_publication
    if previous is not None:
        previous.superseded_at = now
    version = PublishedResult(
        case_id=case.id, version=(previous.version + 1) if previous else 1, published_at=now,
        published_by_id=published_by_id, entity_name=case.entity.name, uscc=case.entity.uscc,
        content=public_content(case, _local_day(now)), correction_reason=reason,
    )
    case.published_versions.append(version)
    db.session.flush()
    render_in_background(version.id, "public_notice")
    return version


def correct_publication(case_id: int, user: User, *, categories: list[str], summary: str, reason: str) -> PublishedResult:
    """Correct a published result: a new public version with the reason; the old one stays for reviewers."""
    from app.audit.service import record

    if not user.has_role(Role.SECTION_CHIEF):
        raise Forbidden("only a section chief corrects a published result")
    case = get_case(case_id)
    if case.current_publication is None:
        raise Conflict("this result is not published")
    errors: dict[str, list[str]] = {}
    if not reason.strip():
        errors["reason"] = [str(_l("A correction needs its reason: it is kept with the old version."))]
    if not categories or any(c not in RESULT_CATEGORY_LABELS for c in categories) or ("1" in categories and len(categories) > 1):
        errors["categories"] = [str(_l("Choose valid result categories (\"No problem found\" stands alone)."))]
    if errors:
        raise ValidationFailed(errors)
    old = case.current_publication
    case.result_categories, case.result_summary = categories, summary.strip()[:4000]
    case.record_changed_at = utcnow()
    version = _add_version(case, published_by_id=user.id, reason=reason.strip()[:4000])
    record("case.result_corrected", actor=user, subject_type="inspection_case", subject_id=case.id,
           details={"from_version": old.version, "to_version": version.version, "reason": version.correction_reason,
                    "old_results": old.content.get("results"), "new_results": categories})
    return version


@task_form("case_abnormal_listing")
def _validate_listing(form: dict[str, Any], task: HumanTask, user: User) -> dict[str, Any]:
    """The decision listing the entity on the abnormal operations list (经营异常名录)."""
    case = get_case(task.subject_id)
    reference = str(form.get("reference") or "").strip()[:128]
    if not reference:
        raise ValidationFailed({"reference": [str(_l("Enter the number of the listing decision."))]})
    case.abnormal_listing_ref, case.abnormal_listed_at = reference, utcnow()
    return {"abnormal_listing_ref": reference}


# --- the public site ----------------------------------------------------------------------------


def public_results(q: str | None, page: int = 1, per_page: int = 20) -> Page[PublishedResult]:
    """Current published results, newest first, searched by entity name or USCC."""
    conditions = [PublishedResult.superseded_at.is_(None)]
    if q and q.strip():
        term = q.strip()
        conditions.append(or_(PublishedResult.uscc == term.upper(),
                              PublishedResult.entity_name.contains(term, autoescape=True)))
    return paginate(PublishedResult, conditions, (PublishedResult.published_at.desc(), PublishedResult.id.desc()),
                    page, per_page)


def public_result(version_id: int) -> PublishedResult:
    """A current published result (superseded versions are for reviewers only)."""
    version = db.session.get(PublishedResult, version_id)
    if version is None or version.superseded_at is not None:
        raise NotFound("no such published result")
    return version


def public_json(version: PublishedResult) -> dict[str, Any]:
    """The JSON form of a public result: only what the public notice prints."""
    return {"id": version.id, "version": version.version, "published_at": version.published_at.isoformat(),
            **{k: v for k, v in version.content.items()}}
