"""Persistence of the engine: specs once by content hash, lean instances, projected human tasks."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import utcnow
from app.extensions import db


class ProcessSpec(db.Model):
    """A parsed process with its sub-processes, serialized once and shared by all its instances."""

    __tablename__ = "process_spec"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(128), index=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    serialized: Mapped[str] = mapped_column(Text)
    source_file: Mapped[str] = mapped_column(String(256))
    # The BPMN XML of the file this version was parsed from, kept so that a trace draws the
    # diagram an instance actually ran even after the file changed. None on rows stored before
    # the column existed; the content hash does not cover it (a layout-only edit keeps the row).
    bpmn_xml: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InstanceStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    ERROR = "error"


class ProcessInstance(db.Model):
    """A running or finished workflow, pinned to the spec version it started with."""

    __tablename__ = "process_instance"
    __table_args__ = (Index("ix_process_instance_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    spec_id: Mapped[int] = mapped_column(ForeignKey("process_spec.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(128))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int]
    # Copied onto every projected task; kept here for tasks created after the start.
    subject_title: Mapped[str] = mapped_column(String(256), default="")
    status: Mapped[str] = mapped_column(String(16), default=InstanceStatus.RUNNING, index=True)
    state: Mapped[str] = mapped_column(Text)  # lean serialization: no spec inside
    version: Mapped[int] = mapped_column(default=1)  # optimistic lock: one writer wins
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    # Earliest instant a waiting timer of this instance falls due: what a timer runner polls.
    next_timer_at: Mapped[datetime | None] = mapped_column(index=True)

    spec: Mapped[ProcessSpec] = relationship()


class HumanTaskState(StrEnum):
    READY = "READY"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class HumanTask(db.Model):
    """A user task projected out of the engine so that queues are plain indexed queries."""

    __tablename__ = "human_task"
    __table_args__ = (
        Index("ix_human_task_role_queue", "state", "role", "due_at"),
        Index("ix_human_task_assignee_queue", "state", "assignee_id", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36), unique=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    bpmn_id: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(256))
    lane: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    form_key: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(16), default=HumanTaskState.READY)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # Set by the diagram (assigneeFrom): only an admin may release it to the role's queue.
    assigned_by_process: Mapped[bool] = mapped_column(default=False)
    excluded_user_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    has_candidates: Mapped[bool] = mapped_column(default=False)
    due_at: Mapped[datetime | None]
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int]
    subject_title: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    instance: Mapped[ProcessInstance] = relationship()


class HumanTaskCandidate(db.Model):
    """A named person who may take a task, beyond the lane's role."""

    __tablename__ = "human_task_candidate"

    task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True, index=True)


class ProcessEvent(db.Model):
    """One step of an instance's history: the path taken, who did it, what changed."""

    __tablename__ = "process_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    bpmn_id: Mapped[str] = mapped_column(String(128))
    element_type: Mapped[str] = mapped_column(String(64))
    element_name: Mapped[str] = mapped_column(String(256), default="")
    event: Mapped[str] = mapped_column(String(16))  # completed | cancelled | started
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
