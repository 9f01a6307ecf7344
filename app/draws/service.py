"""Draws as the diagram ``bpmn/draw.bpmn`` runs them.

This module gives the diagram its form validators and service-task handlers, and
the read functions the pages use. Every handler runs inside the engine's
transaction for the task completion that reached it: a draw, a redraw and a
sign-off either happen whole or not at all.
"""
from __future__ import annotations

import gzip
import json
import time
from dataclasses import dataclass
from datetime import datetime, time as clock_time, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.auth.models import User
from app.auth.roles import Role
from app.db import insert_rows, utcnow
from app.draws import algorithm, dossier as dossiers, pool as pools
from app.draws.inspectors import snapshot
from app.draws.models import Draw, DrawDossier, DrawSelection, DrawStatus, FrozenPool, TaskDraw, TaskDrawStatus
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.plans.models import Plan, QuotaKind, SpotCheckTask
from workflows import engine
from workflows.models import ProcessInstance
from workflows.registry import service_task, task_form

PROCESS_ID = "draw"
SUBJECT_TYPE = "task_draw"
SHANGHAI = ZoneInfo("Asia/Shanghai")


# --- reading ------------------------------------------------------------------------------


def get_task_draw(task_draw_id: int) -> TaskDraw:
    task_draw = db.session.get(TaskDraw, task_draw_id)
    if task_draw is None:
        raise NotFound(f"no draw {task_draw_id}")
    return task_draw


def get_draw(draw_id: int) -> Draw:
    draw = db.session.get(Draw, draw_id)
    if draw is None:
        raise NotFound(f"no draw round {draw_id}")
    return draw


def runs_in_background(task_draw: TaskDraw) -> bool:
    """Whether the sitting's draw goes to a background worker: large pools do."""
    from flask import current_app

    return (task_draw.pool_size or 0) >= current_app.config["DRAW_BACKGROUND_THRESHOLD"]


def current_round(task_draw: TaskDraw) -> Draw | None:
    return task_draw.rounds[-1] if task_draw.rounds else None


def list_task_draws(*, status: str | None = None) -> list[TaskDraw]:
    query = select(TaskDraw).order_by(TaskDraw.id.desc())
    if status:
        query = query.where(TaskDraw.status == status)
    return list(db.session.scalars(query))


def public_rounds() -> list[Draw]:
    """Every round whose commitment is public, newest first."""
    return list(db.session.scalars(select(Draw).order_by(Draw.id.desc())))


def load_dossier(draw: Draw, *, with_pool: bool = True) -> dict[str, Any]:
    """The dossier of a drawn round; the full one (``with_pool``) is for staff and the witness.

    The pool is stored once, as the frozen pool, not again inside every round's dossier:
    it is put back here, in the dossier's place and format.
    """
    row = db.session.get(DrawDossier, draw.id)
    if row is None:
        raise Conflict("this round has not been drawn yet")
    stored = json.loads(gzip.decompress(row.dossier_gz))
    if not with_pool:
        return stored
    frozen = db.session.get(FrozenPool, draw.task_draw_id)
    table = pools.thaw(frozen.rows_gz).table  # type: ignore[union-attr]
    pool = [{"uscc": u, "credit_class": c, "station": s} for u, c, s in zip(table.usccs, table.classes, table.stations)]
    return {key: (pool if key == "pool" else value) for key, value in stored.items()}


def pool_preview(task: SpotCheckTask) -> pools.PoolResult:
    """The pool as it would be frozen now, for the coordinator's preparation page."""
    return pools.candidate_pool(task, utcnow())


def quota_rule(task: SpotCheckTask) -> algorithm.QuotaRule:
    if task.quota_kind == QuotaKind.COUNT:
        return algorithm.QuotaRule(kind="count", count=task.count)
    ratios = dict(task.credit_ratios) if task.credit_ratios else {s: task.ratio for s in ("A", "B", "C", "D", "U")}
    return algorithm.QuotaRule(kind="ratio", ratios=ratios)


def team_rule(task: SpotCheckTask) -> algorithm.TeamRule:
    return algorithm.TeamRule(
        team_size=max(task.team_size, 2),
        required_qualifications=tuple(task.required_qualifications or ()),
        cross_station=task.cross_station,
        case_cap=task.case_cap,
    )


# --- starting: one draw process per task of a published plan --------------------------------


def window_opens_at(task: SpotCheckTask) -> str:
    """The instant the task's window opens: midnight in Asia/Shanghai, as the timer reads it."""
    return datetime.combine(task.window_start, clock_time(0, 0), tzinfo=SHANGHAI).isoformat()


@service_task("draws.start_for_plan")
def _start_for_plan(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> None:
    plan = db.session.get(Plan, int(data["plan_id"]))
    if plan is None:
        raise NotFound("the plan is gone")
    for task in plan.tasks:
        task_draw = TaskDraw(spot_check_task_id=task.id)
        db.session.add(task_draw)
        db.session.flush()
        started = engine.start_process(
            PROCESS_ID,
            subject_type=SUBJECT_TYPE,
            subject_id=task_draw.id,
            subject_title=f"{plan.code} · {task.code} {task.name}",
            data={"task_draw_id": task_draw.id, "window_opens_at": window_opens_at(task)},
            user_id=None,
        )
        task_draw.process_instance_id = started.id


# --- the steps --------------------------------------------------------------------------------


def _task_draw_of(data: dict[str, Any]) -> TaskDraw:
    return get_task_draw(int(data["task_draw_id"]))


def _round_of(data: dict[str, Any]) -> Draw:
    return get_draw(int(data["draw_id"]))


@service_task("draws.set_status")
def _set_status(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> None:
    _task_draw_of(data).status = TaskDrawStatus(params["status"])


def _parse_local_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:  # a datetime-local field: the bureau's wall clock
        value = value.replace(tzinfo=SHANGHAI)
    return value.astimezone(timezone.utc)


@task_form("draw_prepare")
def _validate_prepare(form: dict[str, Any], task: Any, user: User) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    scheduled: datetime | None = None
    try:
        scheduled = _parse_local_datetime(str(form.get("scheduled_at") or ""))
        if scheduled < utcnow():
            errors["scheduled_at"] = ["the sitting must be in the future"]
    except ValueError:
        errors["scheduled_at"] = ["a date and time like 2023-06-05T09:30"]
    witness = db.session.get(User, int(form.get("witness_id") or 0)) if str(form.get("witness_id") or "").isdigit() else None
    if witness is None or not witness.has_role(Role.WITNESS) or not witness.is_active_account:
        errors["witness_id"] = ["choose a witness from discipline inspection"]
    elif witness.id == user.id:
        errors["witness_id"] = ["the coordinator cannot witness their own draw"]
    if errors:
        raise ValidationFailed(errors)
    assert scheduled is not None and witness is not None
    return {"scheduled_at": scheduled.isoformat(), "witness_id": witness.id, "coordinator_id": user.id}


@service_task("draws.freeze_and_commit")
def _freeze_and_commit(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    task_draw = _task_draw_of(data)
    task = task_draw.spot_check_task
    frozen = db.session.get(FrozenPool, task_draw.id)
    if frozen is None:
        result = pools.candidate_pool(task, utcnow())
        frozen = FrozenPool(task_draw_id=task_draw.id, rows_gz=pools.freeze(result.rows), digest=result.digest)
        db.session.add(frozen)
        task_draw.pool_size, task_draw.pool_counts = result.size, result.counts
        task_draw.excluded_counts, task_draw.pool_frozen_at = result.excluded, utcnow()
    server_seed = algorithm.new_server_seed()
    draw = Draw(
        task_draw_id=task_draw.id,
        round_no=len(task_draw.rounds) + 1,
        algorithm=algorithm.ALGORITHM,
        task_code=task.code,
        scheduled_at=datetime.fromisoformat(data["scheduled_at"]),
        commitment=algorithm.commitment_of(server_seed),
        server_seed=server_seed.hex(),
        pool_digest=frozen.digest,
        quota_rule=quota_rule(task).to_json(),
        team_rule=team_rule(task).to_json(),
    )
    db.session.add(draw)
    task_draw.coordinator_id = data.get("coordinator_id")
    task_draw.status = TaskDrawStatus.POOL_FROZEN
    db.session.flush()
    return {"draw_id": draw.id}


@task_form("draw_witness")
def _validate_witness(form: dict[str, Any], task: Any, user: User) -> dict[str, Any]:
    entropy = str(form.get("witness_entropy") or "")
    if not entropy.strip():
        raise ValidationFailed({"witness_entropy": ["enter any text you choose, for example a number you thought of"]})
    if len(entropy) > 1000:
        raise ValidationFailed({"witness_entropy": ["at most 1000 characters"]})
    return {"witness_entropy": entropy, "witness_user_id": user.id}


@task_form("draw_run")
def _validate_run(form: dict[str, Any], task: Any, user: User) -> dict[str, Any]:
    return {"drawn_by_id": user.id}


@dataclass
class DrawOutcome:
    draw: Draw
    selected: int
    duration_ms: int


def execute_round(draw: Draw, witness_entropy: str, *, witness_id: int | None, drawn_by_id: int | None) -> DrawOutcome:
    """Run suiji-draw-v1 on the frozen pool and store the result, the teams and the dossier."""
    if draw.status != DrawStatus.COMMITTED:
        raise Conflict("this round has already been drawn")
    from app.draws.background import report

    started = time.perf_counter()
    task_draw = draw.task_draw
    task = task_draw.spot_check_task
    report("loading the frozen pool", 5)
    frozen = db.session.get(FrozenPool, task_draw.id)
    pool = pools.thaw(frozen.rows_gz)  # type: ignore[union-attr]
    inspectors = snapshot(task)
    rule_q, rule_t = quota_rule(task), team_rule(task)
    server_seed = bytes.fromhex(draw.server_seed)
    seed = algorithm.derive_seed(server_seed, witness_entropy)
    try:
        report("scoring and selecting entities", 15)
        strata, selected = algorithm.select_entities(seed, draw.task_code, pool.table, rule_q)
        # Only the selected entities as objects, found by bisection in the sorted pool.
        rows = {uscc: pool.row_of(uscc) for uscc in selected}
        table = pool.table
        chosen = {u: algorithm.PoolEntity(u, table.classes[i], table.stations[i]) for u, i in rows.items()}
        report("matching inspectors", 35)
        teams = algorithm.assign_teams(seed, draw.task_code, selected, chosen, inspectors.candidates, rule_t)
    except algorithm.InsufficientInspectors as exc:
        raise ValidationFailed({"inspectors": [str(exc)]}) from exc
    report("saving the result and the dossier", 85)
    scores = dict(zip(selected, algorithm.entity_scores(seed, draw.task_code, selected)))
    ratio_kind = rule_q.kind == "ratio"
    insert_rows(
        db.session,
        DrawSelection.__table__,  # type: ignore[arg-type]
        [
            {
                "draw_id": draw.id,
                "rank": rank,
                "entity_id": pool.entity_ids[rows[uscc]],
                "uscc": uscc,
                "stratum": table.classes[rows[uscc]] if ratio_kind else "ALL",
                "score": scores[uscc],
                "team": teams[uscc],
            }
            for rank, uscc in enumerate(selected, start=1)
        ],
    )
    # The pool goes in as empty: load_dossier puts the frozen pool back (stored once, and a
    # million entries would otherwise be rebuilt and compressed again for every round).
    record = dossiers.build_dossier(
        draw_id=str(draw.id),
        task_code=draw.task_code,
        server_seed=server_seed,
        witness_entropy=witness_entropy,
        pool=(),
        quota_rule=rule_q,
        strata=strata,
        selected=selected,
        team_rule=rule_t,
        inspectors=inspectors.candidates,
        teams=teams,
    )
    record["pool_digest"] = frozen.digest  # type: ignore[union-attr]  (of the same rows, sorted by USCC)
    db.session.add(DrawDossier(draw_id=draw.id, dossier_gz=gzip.compress(json.dumps(record, ensure_ascii=False).encode(), 5)))
    draw.witness_entropy, draw.witness_id, draw.drawn_by_id = witness_entropy, witness_id, drawn_by_id
    draw.strata = [{"name": s.name, "size": s.size, "quota": s.quota} for s in strata]
    draw.selected_count, draw.drawn_at, draw.status = len(selected), utcnow(), DrawStatus.DRAWN
    draw.duration_ms = int((time.perf_counter() - started) * 1000)
    task_draw.status = TaskDrawStatus.DRAWN
    return DrawOutcome(draw, len(selected), draw.duration_ms)


@service_task("draws.execute")
def _execute(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    outcome = execute_round(
        _round_of(data), data["witness_entropy"], witness_id=data.get("witness_user_id"), drawn_by_id=data.get("drawn_by_id")
    )
    return {"selected_count": outcome.selected, "draw_duration_ms": outcome.duration_ms}


@task_form("draw_sign_off")
def _validate_sign_off(form: dict[str, Any], task: Any, user: User) -> dict[str, Any]:
    decision = str(form.get("decision") or "")
    comments = str(form.get("comments") or "").strip()
    if decision not in ("approve", "redraw"):
        raise ValidationFailed({"decision": ["approve or order a redraw"]})
    if decision == "redraw" and not comments:
        raise ValidationFailed({"comments": ["a redraw needs its reasons: they are published"]})
    return {"sign_off_decision": decision, "sign_off_comments": comments[:4000], "signed_off_by_id": user.id}


@service_task("draws.start_cases")
def _start_cases(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    from app.cases.service import start_cases_for_draw

    draw = _round_of(data)
    draw.status, draw.signed_off_at, draw.signed_off_by_id = DrawStatus.SIGNED_OFF, utcnow(), data.get("signed_off_by_id")
    draw.task_draw.status = TaskDrawStatus.SIGNED_OFF
    started = start_cases_for_draw(draw)
    return {"cases_started": started}


@service_task("draws.void_round")
def _void_round(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    draw = _round_of(data)
    draw.status, draw.redraw_reason = DrawStatus.VOIDED, data.get("sign_off_comments") or ""
    draw.task_draw.status = TaskDrawStatus.PREPARING
    return {"draw_id": None, "witness_entropy": None}
