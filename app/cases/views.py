"""Case pages, documents and attachments, and the case subject shown on task pages."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.auth.roles import Role
from app.cases import access, documents, inspection, publication, service  # noqa: F401  (registers the diagram's handlers)
from app.cases.models import InspectionCase
from app.cases.vocab import CASE_STATUS_LABELS, FOLLOW_UP_LABELS, METHOD_LABELS, OUTCOME_LABELS, RESULT_CATEGORY_LABELS
from app.directory.models import Inspector
from app.errors import Conflict, Forbidden, ValidationFailed
from app.extensions import db
from app.files import service as files
from app.files.models import StoredFile
from app.queue.service import path_view
from app.queue.subjects import SubjectKind, register_subject

bp = Blueprint("cases", __name__, url_prefix="/cases")
VOCAB = {"RESULT_CATEGORY_LABELS": RESULT_CATEGORY_LABELS, "FOLLOW_UP_LABELS": FOLLOW_UP_LABELS,
         "METHOD_LABELS": METHOD_LABELS, "OUTCOME_LABELS": OUTCOME_LABELS,
         # Forms with a row per check item get the page's full width on the task page.
         "WIDE_FORMS": frozenset({"case_inspection", "case_results"}), "CASE_STATUS_LABELS": CASE_STATUS_LABELS}
bp.record_once(lambda state: state.app.jinja_env.globals.update(VOCAB))


def _case_context(case_id: int) -> dict:
    case = service.get_case(case_id)
    on_case = {m.inspector_id for m in case.members}
    available = [i for i in db.session.scalars(select(Inspector).where(Inspector.active.is_(True)).order_by(Inspector.name))
                 if i.id not in on_case]
    return {"case": case, "available_inspectors": available,
            "attachments": files.files_of(documents.CASE_OWNER, case.id, "attachment")}


register_subject(
    service.SUBJECT_TYPE,
    SubjectKind(label="case", template="queue/subjects/inspection_case.html", endpoint="cases.detail",
                url_param="case_id", loader=_case_context),
)


def _case_file_visible(stored: StoredFile, user) -> bool:  # type: ignore[no-untyped-def]
    case = db.session.get(InspectionCase, stored.owner_id)
    return case is not None and access.can_view_case(case, user)


files.register_owner(documents.CASE_OWNER, _case_file_visible)


def _viewable_case(case_id: int) -> InspectionCase:
    case = service.get_case(case_id)
    if not access.can_view_case(case, current_user):
        abort(403)
    return case


@bp.get("/<int:case_id>")
@login_required
def detail(case_id: int):  # type: ignore[no-untyped-def]
    case = _viewable_case(case_id)
    context = _case_context(case_id)
    return render_template("cases/detail.html", **context, path=path_view(case.process_instance_id),
                           can_upload=access.can_add_attachments(case, current_user),
                           can_correct=current_user.has_role(Role.SECTION_CHIEF) and case.current_publication is not None)


@bp.get("/<int:case_id>/documents/<kind>.pdf")
@login_required
def document(case_id: int, kind: str):  # type: ignore[no-untyped-def]
    case = _viewable_case(case_id)
    if kind not in documents.CASE_DOCUMENTS:
        abort(404)
    if kind == "record_form" and case.recorded_at is None or kind == "inspection_notice" and case.notice_issued_at is None:
        abort(404)
    stored = documents.case_document(case, kind)
    db.session.commit()
    return files.send_stored(stored)


@bp.post("/<int:case_id>/attachments")
@login_required
def upload(case_id: int):  # type: ignore[no-untyped-def]
    case = _viewable_case(case_id)
    if not access.can_add_attachments(case, current_user):
        abort(403)
    upload = request.files.get("file")
    if upload is None:
        flash(_("Choose a file to upload."), "danger")
        return redirect(url_for("cases.detail", case_id=case.id))
    try:
        files.store_upload(documents.CASE_OWNER, case.id, upload, user=current_user)
    except ValidationFailed as err:
        db.session.rollback()
        flash("; ".join(str(m) for m in err.errors.get("file", [])), "danger")
        return redirect(url_for("cases.detail", case_id=case.id))
    db.session.commit()
    flash(_("The file is attached to the case."), "success")
    return redirect(url_for("cases.detail", case_id=case.id))


@bp.post("/<int:case_id>/correction")
@login_required
def correct(case_id: int):  # type: ignore[no-untyped-def]
    try:
        publication.correct_publication(case_id, current_user, categories=request.form.getlist("categories"),
                                        summary=request.form.get("summary", ""), reason=request.form.get("reason", ""))
    except Forbidden:
        abort(403)
    except (ValidationFailed, Conflict) as err:
        db.session.rollback()
        message = "; ".join(str(m) for ms in err.errors.values() for m in ms) if isinstance(err, ValidationFailed) else str(err)
        flash(message, "danger")
        return redirect(url_for("cases.detail", case_id=case_id))
    db.session.commit()
    flash(_("The correction is published; the previous version stays on record."), "success")
    return redirect(url_for("cases.detail", case_id=case_id))
