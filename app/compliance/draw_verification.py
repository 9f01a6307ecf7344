"""Re-running the independent draw verifier over stored rounds, its verdict kept per content hash.

``tools/verify_draw.py`` re-does a whole draw from its dossier with the standard library
alone: a million-entity pool with 30,000 selected and 2,000 inspectors costs minutes. A
round's stored bytes do not change after the sitting, so its verdict is kept in
``draw_verification`` with the SHA-256 of the dossier and of the frozen pool; a later
check hashes both blobs (milliseconds) and re-uses the verdict while they match.

On top of the verifier, every check compares the dossier with the rows the application
acts on (the round's seeds and commitment, the selections and their teams): the
verifier proves the dossier is a correct draw; this proves the cases were started
from that draw and not from rows changed afterwards. That comparison is cheap and is
never cached, since it depends on rows outside the two hashed blobs.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import json
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from sqlalchemy import select

from app.compliance.models import DrawVerification
from app.db import utcnow
from app.draws import pool as pools
from app.draws.models import Draw, DrawDossier, DrawSelection, FrozenPool, TaskDraw
from app.extensions import db
from app.jobs import job

# Rough cost of one pure-Python HMAC in the verifier (measured: about 2 µs on the project's
# machine), used only to decide whether a round still fits in a page's time budget.
SECONDS_PER_HMAC = 2.5e-6
# Columns of the round that the dossier repeats; a mismatch means one of them was changed.
ROW_FIELDS = ("task_code", "commitment", "server_seed", "witness_entropy", "pool_digest")


@functools.cache
def verifier() -> ModuleType:
    """tools/verify_draw.py as a module (loaded once per process)."""
    from app.draws.cli import load_verifier

    return load_verifier()


@dataclass(frozen=True)
class RoundVerdict:
    """What is known about one drawn round: its problems (empty when it verifies)."""

    draw_id: int
    task_draw_id: int
    problems: list[str]
    cached: bool  # the verifier's part came from draw_verification
    duration_ms: int

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class VerificationRun:
    """Verdicts for the rounds verified, and the rounds left for later (over the time budget)."""

    verdicts: list[RoundVerdict] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    verified_now: int = 0


def _sha256(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def _full_dossier(stored: dict[str, Any], pool_blob: bytes) -> dict[str, Any]:
    """The stored dossier with the frozen pool put back (as ``app.draws.service.load_dossier``
    does), from the very bytes that were hashed."""
    table = pools.thaw(pool_blob).table
    pool = [{"uscc": u, "credit_class": c, "station": s} for u, c, s in zip(table.usccs, table.classes, table.stations)]
    return {key: (pool if key == "pool" else value) for key, value in stored.items()}


def _estimated_seconds(stored: dict[str, Any], pool_size: int) -> float:
    """What the verifier will take: one HMAC per pool entity, one per (selected, inspector) pair."""
    pairs = len(stored.get("selected") or []) * len(stored.get("inspectors") or [])
    return (pool_size + pairs) * SECONDS_PER_HMAC


def row_problems(draw: Draw, stored: dict[str, Any]) -> list[str]:
    """Where the round's own rows disagree with its dossier (English, like the verifier's lines)."""
    problems = []
    for name in ROW_FIELDS:
        row_value = getattr(draw, name)
        if (row_value or "") != (stored.get(name) or ""):
            problems.append(f"round row: {name} is {row_value!r} but the dossier says {stored.get(name)!r}")
    selections = db.session.execute(
        select(DrawSelection.rank, DrawSelection.uscc, DrawSelection.team)
        .where(DrawSelection.draw_id == draw.id).order_by(DrawSelection.rank)
    ).all()
    selected = list(stored.get("selected") or [])
    if [s.uscc for s in selections] != selected:
        stored_set, row_set = set(selected), {s.uscc for s in selections}
        problems.append(
            f"selections: {len(selections)} rows, dossier {len(selected)}; only in rows: "
            f"{sorted(row_set - stored_set)[:5]}, only in the dossier: {sorted(stored_set - row_set)[:5]}"
            if row_set != stored_set else "selections: the rows are in another order than the dossier's"
        )
    teams = stored.get("teams") or {}
    changed = [s.uscc for s in selections if s.uscc in teams and list(s.team) != list(teams[s.uscc])]
    if changed:
        problems.append(f"teams differ from the dossier for {len(changed)} selected entities, e.g. {changed[0]}")
    if draw.selected_count is not None and draw.selected_count != len(selected):
        problems.append(f"round row: selected_count is {draw.selected_count} but the dossier selects {len(selected)}")
    return problems


def verify_round(draw_id: int, *, force: bool = False, budget_seconds: float | None = None) -> RoundVerdict | None:
    """Verify one drawn round (the verifier's verdict re-used while its hashes match, unless
    ``force``); ``None`` when the verifier would need more than ``budget_seconds``. No commit."""
    started = time.perf_counter()
    draw = db.session.get(Draw, draw_id)
    dossier_row = db.session.get(DrawDossier, draw_id)
    if draw is None or dossier_row is None:
        raise LookupError(f"round {draw_id} has no dossier")
    frozen = db.session.get(FrozenPool, draw.task_draw_id)
    pool_blob = frozen.rows_gz if frozen is not None else b""
    dossier_hash, pool_hash = _sha256(dossier_row.dossier_gz), _sha256(pool_blob)
    stored = json.loads(gzip.decompress(dossier_row.dossier_gz))
    problems = row_problems(draw, stored)
    cached = db.session.get(DrawVerification, draw_id)
    fresh = (cached is not None and not force and cached.dossier_sha256 == dossier_hash
             and cached.pool_sha256 == pool_hash)
    if fresh:
        problems = list(cached.problems) + problems  # type: ignore[union-attr]
    else:
        pool_size = draw.task_draw.pool_size or 0
        if budget_seconds is not None and _estimated_seconds(stored, pool_size) > budget_seconds:
            return None
        if frozen is None:
            found = ["the frozen pool of this round is missing"]
        else:
            try:
                found = verifier().verify(_full_dossier(stored, pool_blob))
            except Exception as exc:  # noqa: BLE001 - a dossier the verifier cannot even read fails
                found = [f"the dossier cannot be verified: {type(exc).__name__}: {exc}"]
        elapsed = int((time.perf_counter() - started) * 1000)
        if cached is None:
            cached = DrawVerification(draw_id=draw_id)
            db.session.add(cached)
        cached.dossier_sha256, cached.pool_sha256 = dossier_hash, pool_hash
        cached.ok, cached.problems, cached.verified_at, cached.duration_ms = not found, found, utcnow(), elapsed
        db.session.flush()
        problems = found + problems
    return RoundVerdict(draw_id, draw.task_draw_id, problems, fresh, int((time.perf_counter() - started) * 1000))


def verify_rounds(draw_ids: list[int], *, budget_seconds: float | None = None, force: bool = False) -> VerificationRun:
    """Verify ``draw_ids``, smallest pools first; past ``budget_seconds`` (None: no limit), rounds
    that are not cached are left in ``pending``. Stores new verdicts (no commit)."""
    run = VerificationRun()
    sizes = dict(db.session.execute(
        select(Draw.id, TaskDraw.pool_size).join(TaskDraw, TaskDraw.id == Draw.task_draw_id)
        .where(Draw.id.in_(draw_ids))
    ).tuples().all()) if draw_ids else {}
    started = time.perf_counter()
    for draw_id in sorted(draw_ids, key=lambda d: (sizes.get(d) or 0, d)):
        remaining = None if budget_seconds is None else max(0.0, budget_seconds - (time.perf_counter() - started))
        verdict = verify_round(draw_id, force=force, budget_seconds=remaining)
        if verdict is None:
            run.pending.append(draw_id)
            continue
        run.verdicts.append(verdict)
        run.verified_now += 0 if verdict.cached else 1
    return run


@job()
def verify_rounds_job(draw_ids: list[int]) -> None:
    """Verify rounds in a worker, without a time limit, and keep the verdicts."""
    verify_rounds(list(draw_ids))
    db.session.commit()
