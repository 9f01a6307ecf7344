"""A notification to one user."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import utcnow
from app.extensions import db


class Notification(db.Model):
    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user_unread", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    message: Mapped[str] = mapped_column(Text)  # stored in English and translated when shown
    params: Mapped[str] = mapped_column(Text, default="{}")  # JSON for the message's placeholders
    link: Mapped[str] = mapped_column(String(512), default="")
    read_at: Mapped[datetime | None]
