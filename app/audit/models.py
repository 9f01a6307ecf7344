"""The audit log: one append-only table whose rows are chained by SHA-256.

Each row stores the hash of the row before it (``prev_hash``) and its own hash over
``prev_hash`` and its fields, so that changing a row, or removing one from the middle,
shows when the chain is re-computed (``app.audit.service.verify_chain``). Ids are given
by the writer (the previous id + 1, under a lock), not by a sequence: a sequence leaves
holes after rolled-back transactions, and here a hole must mean a removed row.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

GENESIS_HASH = "0" * 64


class AuditEntry(db.Model):
    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_action", "action"),
        Index("ix_audit_entry_subject", "subject_type", "subject_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    # A snapshot: the log must still say who acted if the account is renamed later.
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str | None] = mapped_column(String(64))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    # Canonical JSON text (sorted keys, no spaces), hashed exactly as stored.
    details: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
