"""Inspection cases and the inspectors on them."""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import TimestampMixin
from app.extensions import db

if TYPE_CHECKING:
    from app.auth.models import User
    from app.directory.models import CheckItem, Entity, Inspector
    from app.plans.models import SpotCheckTask


class CaseStatus(StrEnum):
    RECUSAL = "recusal"  # team members confirm they have no interest
    INSPECTING = "inspecting"
    RESULT_ENTRY = "result_entry"
    REVIEW = "review"
    PUBLISHED = "published"
    CLOSED = "closed"


class InspectionOutcome(StrEnum):
    """Whether there was anything to inspect (the "nothing to check" outcomes fix the result)."""

    INSPECTED = "inspected"
    UNREACHABLE = "unreachable"  # 通过登记的住所(经营场所)无法联系: category 6, abnormal list
    CLOSED = "closed"  # 已关闭停业或正在组织清算: category 7
    DEREGISTERED = "deregistered"  # 已注销: category 9


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

    # The inspection (现场检查笔录) and its outcome.
    notice_issued_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))
    onsite_record: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime | None]
    record_changed_at: Mapped[datetime | None]  # the record form's content last changed (record, results)
    # Result entry: due 7 working days after the inspection date.
    results_due_on: Mapped[date | None]
    calendar_note: Mapped[str] = mapped_column(Text, default="")  # years counted without an official calendar
    result_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    result_summary: Mapped[str] = mapped_column(Text, default="")
    results_entered_at: Mapped[datetime | None]
    results_on_time: Mapped[bool | None]
    marked_late_at: Mapped[datetime | None]
    # Review and publication.
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    review_comments: Mapped[str] = mapped_column(Text, default="")
    publication_due_on: Mapped[date | None]
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    abnormal_listing_due_on: Mapped[date | None]
    abnormal_listed_at: Mapped[datetime | None]
    abnormal_listing_ref: Mapped[str] = mapped_column(String(128), default="")
    needs_referral: Mapped[bool] = mapped_column(default=False)

    entity: Mapped["Entity"] = relationship()
    spot_check_task: Mapped["SpotCheckTask"] = relationship()
    members: Mapped[list["CaseMember"]] = relationship(
        back_populates="case", order_by="CaseMember.position", cascade="all, delete-orphan"
    )
    item_results: Mapped[list["CaseItemResult"]] = relationship(
        back_populates="case", order_by="CaseItemResult.position", cascade="all, delete-orphan"
    )
    published_versions: Mapped[list["PublishedResult"]] = relationship(
        back_populates="case", order_by="PublishedResult.version", cascade="all, delete-orphan"
    )
    reviewed_by: Mapped["User | None"] = relationship(foreign_keys=[reviewed_by_id])

    @property
    def active_members(self) -> list["CaseMember"]:
        """Members who did not recuse, in draw order (the first leads)."""
        return [m for m in self.members if m.state != MemberState.RECUSED]

    @property
    def current_publication(self) -> "PublishedResult | None":
        return self.published_versions[-1] if self.published_versions else None


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


class CaseItemResult(db.Model):
    """One check item of a case: method, whether it was checked, findings, disposal and follow-up."""

    __tablename__ = "case_item_result"
    __table_args__ = (UniqueConstraint("case_id", "check_item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("inspection_case.id", ondelete="CASCADE"))
    check_item_id: Mapped[int] = mapped_column(ForeignKey("check_item.id"))
    position: Mapped[int]
    method: Mapped[str] = mapped_column(String(16))
    checked: Mapped[bool] = mapped_column(default=False)
    findings: Mapped[str] = mapped_column(Text, default="")
    disposal: Mapped[str] = mapped_column(Text, default="")
    follow_up: Mapped[str] = mapped_column(String(32), default="none")

    case: Mapped[InspectionCase] = relationship(back_populates="item_results")
    check_item: Mapped["CheckItem"] = relationship()


class PublishedResult(db.Model):
    """A published version of a case's result: what the public site shows, frozen.

    A correction adds a version and marks the previous one superseded; nothing is
    overwritten, so reviewers see every version and its reason.
    """

    __tablename__ = "published_result"
    __table_args__ = (UniqueConstraint("case_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("inspection_case.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    published_at: Mapped[datetime]
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    entity_name: Mapped[str] = mapped_column(String(256), index=True)
    uscc: Mapped[str] = mapped_column(String(18), index=True)
    content: Mapped[dict] = mapped_column(JSON)  # the public record: task, date, method, items, result, handling
    correction_reason: Mapped[str] = mapped_column(Text, default="")
    superseded_at: Mapped[datetime | None]

    case: Mapped[InspectionCase] = relationship(back_populates="published_versions")
