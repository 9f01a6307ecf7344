"""The check-item list, the entity directory, the inspector directory and departments."""
from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import TimestampMixin
from app.extensions import db


class DepartmentLevel(StrEnum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"


class Department(TimestampMixin, db.Model):
    """A bureau, or a section or unit of one (局、科室、执法支队、县局)."""

    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    level: Mapped[str] = mapped_column(String(16), default=DepartmentLevel.CITY)
    region_code: Mapped[str] = mapped_column(String(6))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    active: Mapped[bool] = mapped_column(default=True)

    parent: Mapped["Department | None"] = relationship(remote_side="Department.id")


class ItemKind(StrEnum):
    GENERAL = "general"  # 一般检查事项
    KEY = "key"  # 重点检查事项


class CheckItem(TimestampMixin, db.Model):
    """One line of the check-item list (抽查事项清单): nothing outside it is inspected."""

    __tablename__ = "check_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    category: Mapped[str] = mapped_column(String(256))  # 抽查类别
    name: Mapped[str] = mapped_column(Text)  # 抽查事项
    object_type: Mapped[str] = mapped_column(String(256), default="")  # 检查对象
    kind: Mapped[str] = mapped_column(String(16), default=ItemKind.GENERAL)
    method: Mapped[str] = mapped_column(String(64), default="")  # 检查方式
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)  # 检查主体
    legal_basis: Mapped[str] = mapped_column(Text, default="")  # 检查依据
    active: Mapped[bool] = mapped_column(default=True)

    department: Mapped[Department] = relationship()


class EntityKind(StrEnum):
    ENTERPRISE = "enterprise"  # 企业
    INDIVIDUAL = "individual"  # 个体工商户
    COOPERATIVE = "cooperative"  # 农民专业合作社
    OTHER = "other"  # 产品、项目、行为等


class EntityStatus(StrEnum):
    ACTIVE = "active"  # 存续
    CLOSED = "closed"  # 停业、清算
    DEREGISTERED = "deregistered"  # 注销
    REVOKED = "revoked"  # 吊销
    MOVED_OUT = "moved_out"  # 迁出


class EntityScale(StrEnum):
    LARGE = "large"
    MEDIUM = "medium"
    SMALL = "small"
    MICRO = "micro"


CREDIT_CLASSES = ("A", "B", "C", "D")


class Entity(TimestampMixin, db.Model):
    """A market entity in the inspected-entity directory (检查对象名录库)."""

    __tablename__ = "entity"
    __table_args__ = (
        Index("ix_entity_status_credit", "status", "credit_class"),
        Index("ix_entity_region_industry", "region_code", "industry"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(256), index=True)
    kind: Mapped[str] = mapped_column(String(16), default=EntityKind.ENTERPRISE)
    industry: Mapped[str] = mapped_column(String(64), default="")
    scale: Mapped[str | None] = mapped_column(String(16))
    region_code: Mapped[str] = mapped_column(String(6))
    station: Mapped[str] = mapped_column(String(128), default="")  # 管辖所
    address: Mapped[str] = mapped_column(String(512), default="")
    legal_representative: Mapped[str] = mapped_column(String(64), default="")
    credit_class: Mapped[str | None] = mapped_column(String(1))  # A–D, None = unclassified
    status: Mapped[str] = mapped_column(String(16), default=EntityStatus.ACTIVE)
    registered_on: Mapped[date | None]


class Inspector(TimestampMixin, db.Model):
    """An enforcement official in the inspector directory (执法检查人员名录库)."""

    __tablename__ = "inspector"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    station: Mapped[str] = mapped_column(String(128), default="")
    certificate_no: Mapped[str] = mapped_column(String(32), unique=True)
    qualifications: Mapped[list[str]] = mapped_column(JSON, default=list)
    region_code: Mapped[str] = mapped_column(String(6))
    active: Mapped[bool] = mapped_column(default=True)

    department: Mapped[Department] = relationship()


class InspectorConflict(TimestampMixin, db.Model):
    """An inspector's declared interest in an entity (回避): never matched to it again."""

    __tablename__ = "inspector_conflict"
    __table_args__ = (Index("ix_inspector_conflict_pair", "inspector_id", "entity_id", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inspector_id: Mapped[int] = mapped_column(ForeignKey("inspector.id"))
    entity_id: Mapped[int] = mapped_column(ForeignKey("entity.id"), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    declared_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    inspector: Mapped[Inspector] = relationship()
    entity: Mapped[Entity] = relationship()
