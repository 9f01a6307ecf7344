"""Case pages and the case subject shown on task pages."""
from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from app.auth.decorators import roles_required
from app.auth.roles import STAFF_ROLES
from app.cases import service
from app.directory.models import Inspector
from app.extensions import db
from app.queue.service import path_view
from app.queue.subjects import SubjectKind, register_subject

bp = Blueprint("cases", __name__, url_prefix="/cases")


def _case_context(case_id: int) -> dict:
    case = service.get_case(case_id)
    on_case = {m.inspector_id for m in case.members}
    available = [i for i in db.session.scalars(select(Inspector).where(Inspector.active.is_(True)).order_by(Inspector.name))
                 if i.id not in on_case]
    return {"case": case, "available_inspectors": available}


register_subject(
    service.SUBJECT_TYPE,
    SubjectKind(label="case", template="queue/subjects/inspection_case.html", endpoint="cases.detail",
                url_param="case_id", loader=_case_context),
)


@bp.get("/<int:case_id>")
@roles_required(*STAFF_ROLES)
def detail(case_id: int):  # type: ignore[no-untyped-def]
    case = service.get_case(case_id)
    return render_template("cases/detail.html", case=case, path=path_view(case.process_instance_id))
