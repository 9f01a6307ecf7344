"""A referral of a case's violation and its branches, one per chosen disposition."""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import TimestampMixin
from app.extensions import db

if TYPE_CHECKING:
    from app.cases.models import InspectionCase


class Disposition(StrEnum):
    """How a violation is carried on (Jincheng SAMR §5); triage picks one or more."""

    CASE_FILING = "case_filing"  # 立案查处
    DEPARTMENT_TRANSFER = "department_transfer"  # 抄告/移送 other department
    JUDICIAL_TRANSFER = "judicial_transfer"  # 涉嫌犯罪移送司法机关
    DISCIPLINE = "discipline"  # 纪检监察: suspected official misconduct
    RECTIFICATION = "rectification"  # 责令限期整改
    NO_PENALTY = "no_penalty"  # 轻微违法不予处罚 (first minor violation on the bureau's list)


class ReferralStatus(StrEnum):
    TRIAGE = "triage"  # waiting for the legal officer to choose dispositions
    OPEN = "open"  # at least one branch without an outcome
    CLOSED = "closed"  # every branch has an outcome


class BranchStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # has its outcome
    ESCALATED = "escalated"  # rectification not done: carried on by a case-filing branch


class Referral(TimestampMixin, db.Model):
    """One per case with a violation to refer; its process instance has subject_type "referral"."""

    __tablename__ = "referral"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("inspection_case.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=ReferralStatus.TRIAGE, index=True)
    process_instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    opened_at: Mapped[datetime]
    triaged_at: Mapped[datetime | None]
    triaged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    triage_note: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None]
    # When the handling (违法行为查处情况) went onto the case's public result.
    handling_published_at: Mapped[datetime | None]

    case: Mapped[InspectionCase] = relationship()
    branches: Mapped[list[ReferralBranch]] = relationship(
        back_populates="referral", order_by="ReferralBranch.id", cascade="all, delete-orphan"
    )


class ReferralBranch(TimestampMixin, db.Model):
    """One disposition of a referral, tracked from its opening to its outcome."""

    __tablename__ = "referral_branch"
    __table_args__ = (Index("ix_referral_branch_open_due", "status", "due_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"), index=True)
    disposition: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=BranchStatus.OPEN)
    opened_at: Mapped[datetime]
    # The deadline that currently runs (lead verification, rectification, acknowledgement,
    # penalty publication): what the ledger sorts by, overdue first.
    due_on: Mapped[date | None]
    due_label: Mapped[str] = mapped_column(String(64), default="")  # what ``due_on`` is the deadline of
    # Set when the running deadline passed without the step being done (a timer marks it); a new
    # deadline (an approved extension, the next step) clears it.
    overdue_at: Mapped[datetime | None]
    # Case filing: the 15-working-day verification, extendable once with a leader's approval.
    extension_requested_at: Mapped[datetime | None]  # asked for once; a second request is refused
    extension_requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    extended_at: Mapped[datetime | None]
    extension_approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # Transfers: the receiving authority, the letter, its acknowledgement.
    receiving_authority: Mapped[str] = mapped_column(String(256), default="")
    document_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_file.id"))
    acknowledged_at: Mapped[datetime | None]
    # Rectification: what must be corrected, and the follow-up inspection's finding.
    requirement: Mapped[str] = mapped_column(Text, default="")
    follow_up_finding: Mapped[str] = mapped_column(Text, default="")
    escalated_to_id: Mapped[int | None] = mapped_column(ForeignKey("referral_branch.id"))
    # The outcome that closes the branch.
    outcome: Mapped[str] = mapped_column(String(32), default="")
    outcome_note: Mapped[str] = mapped_column(Text, default="")
    decision_number: Mapped[str] = mapped_column(String(128), default="")  # e.g. 行政处罚决定书文号
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # A penalty decision is published within 7 working days (a setting).
    penalty_publication_due_on: Mapped[date | None]
    penalty_published_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    referral: Mapped[Referral] = relationship(back_populates="branches")
