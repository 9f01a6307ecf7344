"""API: draw rounds and, for reviewers and witnesses, the full dossier."""
from __future__ import annotations

from flask import request
from flask_login import current_user
from flask_smorest import Blueprint

from app.audit import service as audit
from app.auth.roles import STAFF_ROLES, Role
from app.draws import algorithm, service
from app.draws.public import public_draw
from app.errors import Forbidden, NotFound
from app.extensions import db

blp = Blueprint("draws_api", __name__, url_prefix="/draws", description="Double-random draws")


@blp.get("")
def list_rounds():  # type: ignore[no-untyped-def]
    """Every draw round with its public record."""
    if not current_user.has_role(*STAFF_ROLES):
        raise Forbidden("staff only")
    return {"draws": [public_draw(d) for d in service.public_rounds()]}


@blp.get("/<int:draw_id>")
def get_round(draw_id: int):  # type: ignore[no-untyped-def]
    """One round's public record."""
    if not current_user.has_role(*STAFF_ROLES):
        raise Forbidden("staff only")
    return public_draw(service.get_draw(draw_id))


@blp.get("/<int:draw_id>/dossier")
def dossier(draw_id: int):  # type: ignore[no-untyped-def]
    """The full dossier (pool with classes, inspectors, teams) for compliance reviewers and the witness.

    With ``?uscc=...`` it adds every inspector eligibility decision, with its reason, for that
    selected entity as it stood when the entity was matched.
    """
    if not current_user.has_role(Role.COMPLIANCE_REVIEWER, Role.WITNESS):
        raise Forbidden("compliance reviewers and witnesses only")
    draw = service.get_draw(draw_id)
    task_draw_id = draw.task_draw_id  # read before the commit expires it
    record = service.load_dossier(draw)
    uscc = request.args.get("uscc")
    if uscc:
        if uscc not in record["selected"]:
            raise NotFound("that entity was not selected in this round")
        record["eligibility"] = {uscc: algorithm.explain_from_dossier(record, uscc)}
    # The dossier holds every pooled entity's credit class: who took a copy is on record.
    audit.record("draw.dossier_downloaded", actor=current_user, subject_type="draw", subject_id=draw_id,
                 details={"task_draw_id": task_draw_id, "uscc": uscc or None})
    db.session.commit()
    return record
