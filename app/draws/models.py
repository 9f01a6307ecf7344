"""Draws: one series per spot-check task, one or more witnessed rounds in it.

A ``TaskDraw`` is the subject of ``bpmn/draw.bpmn`` for one spot-check task: it
holds the candidate pool frozen when the draw is prepared. Each ``Draw`` is one
witnessed round (a redraw is a new round), with its commitment, its revealed
seeds and its result; rounds are what the public page shows and what anyone
can verify.
"""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import TimestampMixin
from app.extensions import db

if TYPE_CHECKING:
    from app.plans.models import SpotCheckTask


class TaskDrawStatus(StrEnum):
    WAITING = "waiting"  # for the task's window to open
    PREPARING = "preparing"  # coordinator prepares
    POOL_FROZEN = "pool_frozen"  # pool fixed, commitment published, sitting scheduled
    DRAWN = "drawn"  # awaiting leadership sign-off
    SIGNED_OFF = "signed_off"  # cases started
    FAILED = "failed"


class TaskDraw(TimestampMixin, db.Model):
    __tablename__ = "task_draw"

    id: Mapped[int] = mapped_column(primary_key=True)
    spot_check_task_id: Mapped[int] = mapped_column(ForeignKey("spot_check_task.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=TaskDrawStatus.WAITING, index=True)
    coordinator_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    pool_size: Mapped[int | None]
    pool_counts: Mapped[dict | None] = mapped_column(JSON)  # {"A": n, ...}: staff only
    excluded_counts: Mapped[dict | None] = mapped_column(JSON)  # why entities left the pool
    pool_frozen_at: Mapped[datetime | None]
    process_instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))

    spot_check_task: Mapped["SpotCheckTask"] = relationship()
    rounds: Mapped[list["Draw"]] = relationship(back_populates="task_draw", order_by="Draw.round_no")


class FrozenPool(db.Model):
    """The candidate pool as it stood when frozen, gzip-compressed JSON rows.

    A million-entity pool is one blob rather than a million rows: it is written once,
    read whole by the draw, and never queried row by row.
    """

    __tablename__ = "frozen_pool"

    task_draw_id: Mapped[int] = mapped_column(ForeignKey("task_draw.id"), primary_key=True)
    rows_gz: Mapped[bytes] = mapped_column(LargeBinary)  # columns sorted by uscc: see app.draws.pool.freeze
    digest: Mapped[str] = mapped_column(String(64))


class DrawStatus(StrEnum):
    COMMITTED = "committed"  # commitment public, waiting for the sitting
    DRAWN = "drawn"  # result public, awaiting sign-off
    SIGNED_OFF = "signed_off"
    VOIDED = "voided"  # leadership ordered a redraw; kept and published with the reasons


class Draw(TimestampMixin, db.Model):
    """One witnessed round of a task's draw: what the public page shows and anyone can verify."""

    __tablename__ = "draw"
    __table_args__ = (UniqueConstraint("task_draw_id", "round_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_draw_id: Mapped[int] = mapped_column(ForeignKey("task_draw.id"), index=True)
    round_no: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(16), default=DrawStatus.COMMITTED, index=True)
    algorithm: Mapped[str] = mapped_column(String(32))
    task_code: Mapped[str] = mapped_column(String(64))
    scheduled_at: Mapped[datetime]
    commitment: Mapped[str] = mapped_column(String(64))
    # Secret until the sitting; revealed afterwards so that anyone can check the commitment.
    server_seed: Mapped[str] = mapped_column(String(64))
    witness_entropy: Mapped[str | None] = mapped_column(Text)
    witness_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    pool_digest: Mapped[str] = mapped_column(String(64))
    quota_rule: Mapped[dict] = mapped_column(JSON)
    team_rule: Mapped[dict] = mapped_column(JSON)
    strata: Mapped[list | None] = mapped_column(JSON)  # [{"name", "size", "quota"}]: staff only (names are classes)
    selected_count: Mapped[int | None]
    drawn_at: Mapped[datetime | None]
    drawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    signed_off_at: Mapped[datetime | None]
    signed_off_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    redraw_reason: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None]

    task_draw: Mapped[TaskDraw] = relationship(back_populates="rounds")
    selections: Mapped[list["DrawSelection"]] = relationship(order_by="DrawSelection.rank", viewonly=True)

    @property
    def revealed(self) -> bool:
        return self.status != DrawStatus.COMMITTED


class DrawSelection(db.Model):
    """A selected entity of a round, in ascending score order, with its matched team."""

    __tablename__ = "draw_selection"
    __table_args__ = (
        UniqueConstraint("draw_id", "rank"),
        Index("ix_draw_selection_entity", "entity_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draw.id"), index=True)
    rank: Mapped[int]
    entity_id: Mapped[int] = mapped_column(ForeignKey("entity.id"))
    uscc: Mapped[str] = mapped_column(String(18))
    stratum: Mapped[str] = mapped_column(String(3))
    score: Mapped[str] = mapped_column(String(64))
    team: Mapped[list[str]] = mapped_column(JSON)  # certificate numbers in the order added


class DrawDossier(db.Model):
    """The complete dossier of a round (gzip JSON), fixed when the round is drawn."""

    __tablename__ = "draw_dossier"

    draw_id: Mapped[int] = mapped_column(ForeignKey("draw.id"), primary_key=True)
    dossier_gz: Mapped[bytes] = mapped_column(LargeBinary)
    # Matching state for the eligibility explanations: loads before each entity was matched.
    notes: Mapped[str] = mapped_column(Text, default="")
