"""Stored files: uploads and generated documents, kept on disk by content."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import utcnow
from app.extensions import db


class StoredFile(db.Model):
    """One file attached to a row of another package (its owner), e.g. a case.

    The bytes live under ``FILE_STORAGE_DIR`` at ``storage_key`` (derived from the
    SHA-256, never from the user's file name); identical content shares one file on disk.
    """

    __tablename__ = "stored_file"
    __table_args__ = (
        Index("ix_stored_file_owner", "owner_type", "owner_id"),
        # The same bytes attached twice to one owner as the same kind are one file: this makes
        # generating a document idempotent even when two workers race.
        UniqueConstraint("owner_type", "owner_id", "kind", "sha256", name="uq_stored_file_owner_kind_sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_type: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[int]
    kind: Mapped[str] = mapped_column(String(32))
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    storage_key: Mapped[str] = mapped_column(String(160))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")
