"""Referral pages: the ledger (工作台帐), a referral's page, its transfer documents, the
referral subject on task pages and the handling section of the case page."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.auth.decorators import roles_required
from app.cases.models import InspectionCase
from app.extensions import db
from app.files import service as files
from app.queue.subjects import SubjectKind, register_subject
from app.referrals import access, documents, handling, ledger as ledger_service
from app.referrals.models import Disposition, Referral, ReferralBranch
from app.referrals.vocab import BRANCH_STATUS_LABELS, DISPOSITION_LABELS, REFERRAL_STATUS_LABELS
from workflows.models import HumanTask, HumanTaskState

bp = Blueprint("referrals", __name__, url_prefix="/referrals")
SUBJECT_TYPE = "referral"


def get_referral(referral_id: int) -> Referral:
    """The referral with this id, or 404."""
    referral = db.session.get(Referral, referral_id)
    if referral is None:
        abort(404)
    return referral


def _ready_tasks(referral: Referral) -> list[HumanTask]:
    if referral.process_instance_id is None:
        return []
    return list(db.session.scalars(select(HumanTask).where(
        HumanTask.instance_id == referral.process_instance_id, HumanTask.state == HumanTaskState.READY)
        .order_by(HumanTask.due_at, HumanTask.id)))


def _referral_context(referral_id: int) -> dict[str, Any]:
    """What the referral page and the task-page panel show; confidential parts per the reader."""
    referral = get_referral(referral_id)
    confidential = access.can_see_confidential(current_user)
    return {"referral": referral, "case": referral.case, "rows": handling.handling_rows(referral, confidential=confidential),
            "confidential": confidential, "ready_tasks": _ready_tasks(referral)}


def case_handling(case: InspectionCase) -> dict[str, Any] | None:
    """The case page's handling section (违法行为查处情况): the case's referral, if any, with its rows."""
    referral = db.session.scalar(select(Referral).where(Referral.case_id == case.id))
    if referral is None:
        return None
    return {"referral": referral, "rows": handling.handling_rows(referral, confidential=access.can_see_confidential(current_user)),
            "can_open": access.can_view_referral(referral, current_user)}


register_subject(SUBJECT_TYPE, SubjectKind(label="referral", template="queue/subjects/referral.html",
                                           endpoint="referrals.detail", url_param="referral_id", loader=_referral_context))
bp.record_once(lambda state: state.app.jinja_env.globals.update(
    DISPOSITION_LABELS=DISPOSITION_LABELS, BRANCH_STATUS_LABELS=BRANCH_STATUS_LABELS,
    REFERRAL_STATUS_LABELS=REFERRAL_STATUS_LABELS, REFERRAL_HANDLING_REASON=handling.HANDLING_REASON,
    referral_handling=case_handling))


@bp.get("/ledger")
@roles_required(*access.REFERRAL_ROLES)
def ledger():  # type: ignore[no-untyped-def]
    """The ledger of open branches, overdue first; filters: disposition, overdue only."""
    try:
        disposition = ledger_service.parse_disposition(request.args.get("disposition"))
    except ValueError:
        flash(_("Unknown disposition: the ledger shows every disposition."), "warning")
        disposition = None
    filters = ledger_service.LedgerFilters(disposition=disposition, overdue=request.args.get("overdue") == "1")
    page = ledger_service.ledger(filters, max(request.args.get("page", 1, type=int), 1))
    triage, triage_total = ledger_service.awaiting_triage()
    return render_template("referrals/ledger.html", page=page, filters=filters, today=handling.local_today(),
                           triage=triage, triage_total=triage_total, overdue_total=ledger_service.overdue_count(),
                           dispositions=list(Disposition))


@bp.get("/<int:referral_id>")
@login_required
def detail(referral_id: int):  # type: ignore[no-untyped-def]
    """A referral: its case and entity, its branches with deadlines and outcomes, documents, open tasks."""
    referral = get_referral(referral_id)
    if not access.can_view_referral(referral, current_user):
        abort(403)
    return render_template("referrals/detail.html", **_referral_context(referral_id))


@bp.get("/branches/<int:branch_id>/document.pdf")
@login_required
def branch_document(branch_id: int):  # type: ignore[no-untyped-def]
    """A branch's transfer document; rendered now if the background job has not yet done it."""
    branch = db.session.get(ReferralBranch, branch_id)
    if branch is None or documents.document_kind(branch) is None:
        abort(404)
    if not access.can_see_confidential(current_user):
        abort(403)
    try:
        stored = documents.transfer_document(branch)
    except ValueError:  # not issuable yet: no receiving authority (or suspected offence)
        db.session.rollback()
        abort(404)
    db.session.commit()
    return files.send_stored(stored)
