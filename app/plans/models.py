"""Annual plans (年度抽查计划) and the spot-check tasks (抽查任务) they hold."""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import TimestampMixin
from app.extensions import db

if TYPE_CHECKING:
    from app.auth.models import User
    from app.directory.models import CheckItem, Department


class PlanStatus(StrEnum):
    DRAFT = "draft"
    LEGAL_REVIEW = "legal_review"
    LEADER_APPROVAL = "leader_approval"
    RETURNED = "returned"
    PUBLISHED = "published"
    REJECTED = "rejected"


class InspectionMode(StrEnum):
    CITY_CITY = "city_city"  # 市抽市查
    CITY_COUNTY = "city_county"  # 市抽县查
    COUNTY_COUNTY = "county_county"  # 县抽县查
    CITY_COUNTY_JOINT = "city_county_joint"  # 市县联查


class QuotaKind(StrEnum):
    RATIO = "ratio"
    COUNT = "count"


task_check_items = Table(
    "spot_check_task_item",
    db.metadata,
    Column("task_id", ForeignKey("spot_check_task.id", ondelete="CASCADE"), primary_key=True),
    Column("check_item_id", ForeignKey("check_item.id"), primary_key=True),
)

task_joint_departments = Table(
    "spot_check_task_joint_department",
    db.metadata,
    Column("task_id", ForeignKey("spot_check_task.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("department.id"), primary_key=True),
)


class Plan(TimestampMixin, db.Model):
    __tablename__ = "plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(256))
    year: Mapped[int] = mapped_column(index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    drafter_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=PlanStatus.DRAFT, index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[datetime | None]
    approved_at: Mapped[datetime | None]
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    published_at: Mapped[datetime | None]
    process_instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))

    department: Mapped["Department"] = relationship()
    drafter: Mapped["User"] = relationship(foreign_keys=[drafter_id])
    approved_by: Mapped["User | None"] = relationship(foreign_keys=[approved_by_id])
    tasks: Mapped[list["SpotCheckTask"]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="SpotCheckTask.seq"
    )


class SpotCheckTask(TimestampMixin, db.Model):
    """One task of a plan: what is checked, on whom, how many, when, by whom."""

    __tablename__ = "spot_check_task"
    __table_args__ = (UniqueConstraint("plan_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(default=1)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(256))
    targeted: Mapped[bool] = mapped_column(default=True)  # 定向 / 不定向
    scope: Mapped[str] = mapped_column(Text, default="")  # 抽查对象范围, as the plan words it
    entity_filters: Mapped[dict] = mapped_column(JSON, default=dict)
    quota_kind: Mapped[str] = mapped_column(String(8), default=QuotaKind.RATIO)
    ratio: Mapped[str | None] = mapped_column(String(12))  # exact decimal, "0.03"
    count: Mapped[int | None]
    credit_ratios: Mapped[dict | None] = mapped_column(JSON)  # {"A": "0.01", ...}; None: one ratio for all
    credit_rule: Mapped[str] = mapped_column(Text, default="")  # 信用风险分类管理, as the plan words it
    window_start: Mapped[date]
    window_end: Mapped[date]
    lead_department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    mode: Mapped[str] = mapped_column(String(24), default=InspectionMode.CITY_CITY)
    method: Mapped[str] = mapped_column(String(128), default="")  # 检查方式
    team_size: Mapped[int] = mapped_column(default=2)
    required_qualifications: Mapped[list[str]] = mapped_column(JSON, default=list)
    cross_station: Mapped[bool] = mapped_column(default=False)
    case_cap: Mapped[int] = mapped_column(default=20)

    plan: Mapped[Plan] = relationship(back_populates="tasks")
    lead_department: Mapped["Department"] = relationship()
    joint_departments: Mapped[list["Department"]] = relationship(secondary=task_joint_departments)
    check_items: Mapped[list["CheckItem"]] = relationship(secondary=task_check_items)
