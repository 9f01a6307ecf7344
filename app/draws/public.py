"""What the public sees of a draw: the commitment first, then everything needed to verify it.

Credit classes never appear: strata are named S1, S2, ... and the pool is given by
its digest and its size per stratum only.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.directory.models import Entity
from app.draws import dossier as dossiers
from app.draws.models import Draw, DrawStatus
from app.draws.service import load_dossier
from app.extensions import db


def public_draw(draw: Draw) -> dict[str, Any]:
    """The public JSON of a round, from preparation on."""
    task = draw.task_draw.spot_check_task
    body: dict[str, Any] = {
        "id": draw.id,
        "round": draw.round_no,
        "status": draw.status,
        "task": {"code": task.code, "name": task.name, "plan": task.plan.title},
        "algorithm": draw.algorithm,
        "commitment": draw.commitment,
        "scheduled_at": draw.scheduled_at.isoformat(),
    }
    if draw.status == DrawStatus.VOIDED:
        body["redraw_reason"] = draw.redraw_reason
    if draw.revealed:
        record = dossiers.public_record(load_dossier(draw, with_pool=False))
        names = dict(
            db.session.execute(select(Entity.uscc, Entity.name).where(Entity.uscc.in_(record["selected"]))).tuples().all()
        )
        body["record"] = record
        body["selected_entities"] = [{"uscc": u, "name": names.get(u, "")} for u in record["selected"]]
        body["drawn_at"] = draw.drawn_at.isoformat() if draw.drawn_at else None
    return body
