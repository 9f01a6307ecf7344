"""Who inspects whether a rectification was carried out: the original lead, or a fresh draw.

By default the follow-up goes to the lead inspector of the case's team. A bureau whose rule
wants fresh eyes sets ``RECTIFICATION_FOLLOW_UP_FRESH_DRAW``: inspectors are then drawn by the
same eligibility rules and scores as the case's own draw (``app.draws.algorithm``:
qualifications, stations, case cap, declared conflicts), excluding everyone who was ever on
the case's team. The scores use the draw's revealed seed with the label
``<task code>/follow-up/<branch id>`` in place of the task code, so anyone holding the
published dossier can recompute who was drawn.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.auth.models import User
from app.cases.models import InspectionCase
from app.draws import algorithm
from app.draws.models import Draw
from app.extensions import db


@dataclass(frozen=True)
class DrawnInspector:
    """One freshly drawn inspector with a login."""

    inspector_id: int
    certificate_no: str
    user_id: int


def draw_label(draw: Draw, branch_id: int) -> str:
    """The label that replaces the task code in the follow-up draw's scores."""
    return f"{draw.task_code}/follow-up/{branch_id}"


def draw_follow_up_team(case: InspectionCase, branch_id: int) -> list[DrawnInspector]:
    """Draw a follow-up team for ``case`` (as large as the task's teams); may come back short or empty.

    Inspectors without an active login are skipped (they could not receive the task).
    """
    from app.draws.inspectors import snapshot
    from app.draws.service import team_rule

    draw = db.session.get(Draw, case.draw_id)
    if draw is None or not draw.server_seed:
        return []
    task = case.spot_check_task
    rule = team_rule(task)
    candidates = snapshot(task)
    entity = case.entity
    pool_entity = algorithm.PoolEntity(uscc=entity.uscc, credit_class=entity.credit_class or "U",
                                       station=entity.station or "")
    seed = algorithm.derive_seed(bytes.fromhex(draw.server_seed), draw.witness_entropy or "")
    loads = {c.certificate_no: c.open_cases for c in candidates.candidates}
    used = {m.certificate_no for m in case.members}  # fresh: nobody who was ever on the team
    team: list[str] = []
    drawn: list[DrawnInspector] = []
    label = draw_label(draw, branch_id)
    while len(drawn) < rule.team_size:
        cert = algorithm.replacement(seed, label, pool_entity, candidates.candidates, rule, used, team, loads)
        if cert is None:
            break
        used.add(cert)
        inspector_id = candidates.ids[cert]
        user_id = db.session.scalar(select(User.id).where(User.inspector_id == inspector_id,
                                                          User.is_active_account.is_(True)))
        if user_id is None:
            continue
        team.append(cert)
        loads[cert] = loads.get(cert, 0) + 1
        drawn.append(DrawnInspector(inspector_id, cert, user_id))
    return drawn
