"""Inspection cases and the inspectors on them."""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import TimestampMixin
from app.extensions import db

if TYPE_CHECKING:
    from app.directory.models import Entity, Inspector
    from app.plans.models import SpotCheckTask


class CaseStatus(StrEnum):
    RECUSAL = "recusal"  # team members confirm they have no interest
    INSPECTING = "inspecting"
    RESULT_ENTRY = "result_entry"
    REVIEW = "review"
    PUBLISHED = "published"
    CLOSED = "closed"


OPEN_CASE_STATUSES = (CaseStatus.RECUSAL, CaseStatus.INSPECTING, CaseStatus.RESULT_ENTRY, CaseStatus.REVIEW)


class InspectionCase(TimestampMixin, db.Model):
    __tablename__ = "inspection_case"
    __table_args__ = (
        UniqueConstraint("draw_id", "entity_id"),
        Index("ix_inspection_case_entity_task", "entity_id", "spot_check_task_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draw.id"), index=True)
    spot_check_task_id: Mapped[int] = mapped_column(ForeignKey("spot_check_task.id"))
    entity_id: Mapped[int] = mapped_column(ForeignKey("entity.id"))
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.RECUSAL, index=True)
    inspection_date: Mapped[date | None]
    process_instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    closed_at: Mapped[datetime | None]

    entity: Mapped["Entity"] = relationship()
    spot_check_task: Mapped["SpotCheckTask"] = relationship()
    members: Mapped[list["CaseMember"]] = relationship(
        back_populates="case", order_by="CaseMember.position", cascade="all, delete-orphan"
    )


class MemberState(StrEnum):
    ASSIGNED = "assigned"  # drawn, not yet confirmed
    CONFIRMED = "confirmed"  # no conflict of interest
    RECUSED = "recused"  # declared an interest and stepped aside


class CaseMember(db.Model):
    """An inspector on a case, in the order the draw added them (the first leads)."""

    __tablename__ = "case_member"
    __table_args__ = (
        UniqueConstraint("case_id", "inspector_id"),
        Index("ix_case_member_inspector_state", "inspector_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("inspection_case.id", ondelete="CASCADE"))
    inspector_id: Mapped[int] = mapped_column(ForeignKey("inspector.id"))
    certificate_no: Mapped[str] = mapped_column(String(32))
    position: Mapped[int]
    state: Mapped[str] = mapped_column(String(16), default=MemberState.ASSIGNED)
    recusal_reason: Mapped[str | None] = mapped_column(Text)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("case_member.id"))

    case: Mapped[InspectionCase] = relationship(back_populates="members")
    inspector: Mapped["Inspector"] = relationship()
