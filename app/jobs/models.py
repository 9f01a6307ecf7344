"""What the background jobs leave in the database: failures, for the admin page and its Retry."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import utcnow
from app.extensions import db


class JobFailure(db.Model):
    """A job that failed for good (its retries, if any, used up), or a timer that could not fire."""

    __tablename__ = "job_failure"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Huey's task name (module.function): what Retry enqueues again.
    job_name: Mapped[str] = mapped_column(String(200))
    args: Mapped[list] = mapped_column(JSON, default=list)
    kwargs: Mapped[dict] = mapped_column(JSON, default=dict)
    huey_task_id: Mapped[str] = mapped_column(String(64), default="")
    error: Mapped[str] = mapped_column(Text)
    traceback: Mapped[str] = mapped_column(Text, default="")
    failed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    retried_at: Mapped[datetime | None]
