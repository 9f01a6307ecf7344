"""Small builders for test rows; each flushes and returns the object (caller commits)."""
from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import select

from app.directory.models import Department, Inspector
from app.extensions import db

_seq = itertools.count(1)


def make_department(code: str = "JC-SAMR", name: str = "晋城市市场监督管理局", **kw: Any) -> Department:
    existing = db.session.scalar(select(Department).where(Department.code == code))
    if existing:
        return existing
    dept = Department(code=code, name=name, region_code=kw.pop("region_code", "140500"), **kw)
    db.session.add(dept)
    db.session.flush()
    return dept


def make_inspector(name: str = "检查员", department: Department | None = None, **kw: Any) -> Inspector:
    department = department or make_department()
    n = next(_seq)
    inspector = Inspector(
        name=name,
        department_id=department.id,
        certificate_no=kw.pop("certificate_no", f"14050019{n:06d}"),
        station=kw.pop("station", "城区所"),
        region_code=kw.pop("region_code", "140502"),
        qualifications=kw.pop("qualifications", []),
        **kw,
    )
    db.session.add(inspector)
    db.session.commit()
    return inspector
