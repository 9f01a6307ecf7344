"""Load the demo data (from ``app/demo/data`` and the generators) into the database.

Nothing here commits: the caller decides the transaction. Plans are not created
here; ``plan_specs`` hands their normalised content to the code that drives them
through the real workflow.
"""
from __future__ import annotations

import json
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.auth.roles import Role
from app.directory.models import CheckItem, Department, Entity, Inspector
from app.demo.generate import (
    DEFAULT_ENTITY_COUNT,
    DEFAULT_SEED,
    chunked,
    generate_entities,
    generate_inspectors,
)

DATA_DIR = Path(__file__).resolve().parent / "data"
DEMO_PASSWORD = "suiji-demo-2026"
CHECK_ITEM_FILES = (
    "check_items_jincheng_commerce.json",
    "check_items_jincheng_samr.json",
    "check_items_handan_commerce.json",
)
PLAN_FILES = ("plan_jincheng_samr_2023.json", "plan_handan_2023.json")
ENTITY_CHUNK = 5000

_ENTITY_COLUMNS = frozenset(c.key for c in Entity.__table__.columns)


@cache
def read_json(name: str) -> Any:
    """The parsed content of ``app/demo/data/<name>`` (cached; do not mutate)."""
    return json.loads((DATA_DIR / name).read_text(encoding="utf-8"))


def department_rows() -> list[dict[str, Any]]:
    """Departments as in departments.json, parents before children."""
    return list(read_json("departments.json")["departments"])


def check_item_rows() -> list[dict[str, Any]]:
    """Every demo check item of the three lists (department given by code)."""
    return [item for name in CHECK_ITEM_FILES for item in read_json(name)["items"]]


def _department_ids(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Department.code, Department.id)).tuples().all())


def load_departments(session: Session) -> dict[str, int]:
    """Insert the demo departments; returns code -> id."""
    by_code: dict[str, Department] = {}
    for row in department_rows():
        dept = Department(
            code=row["code"], name=row["name"], level=row["level"], region_code=row["region_code"],
            parent=by_code[row["parent"]] if row["parent"] else None,
        )
        session.add(dept)
        by_code[row["code"]] = dept
    session.flush()
    return {code: dept.id for code, dept in by_code.items()}


def load_check_items(session: Session, department_ids: dict[str, int]) -> int:
    """Insert the three check-item lists; returns how many."""
    rows = [
        {
            "code": item["code"], "category": item["category"], "name": item["name"],
            "object_type": item["object_type"], "kind": item["kind"], "method": item["method"],
            "department_id": department_ids[item["department"]], "legal_basis": item["legal_basis"],
        }
        for item in check_item_rows()
    ]
    session.execute(insert(CheckItem), rows)
    return len(rows)


def _entity_row(row: dict[str, Any]) -> dict[str, Any]:
    """Only the keys Entity has (``risk_flags`` waits for its column)."""
    return {k: v for k, v in row.items() if k in _ENTITY_COLUMNS}


def load_entities(session: Session, n: int = DEFAULT_ENTITY_COUNT, *, seed: int = DEFAULT_SEED) -> int:
    """Bulk-insert ``n`` generated entities in chunks; returns how many."""
    total = 0
    for chunk in chunked(generate_entities(n, seed=seed), ENTITY_CHUNK):
        session.execute(insert(Entity), [_entity_row(r) for r in chunk])
        total += len(chunk)
    return total


def add_entities(
    session: Session, n: int, *, seed: int = DEFAULT_SEED, chunk_size: int = ENTITY_CHUNK, commit: bool = False
) -> int:
    """Add ``n`` more generated entities to a directory that may already hold some.

    The stream starts after the current row count, so repeated calls add new rows;
    a USCC already in the database is skipped and replaced by the next generated row.
    With ``commit`` every chunk is committed (for loads of a million rows).
    """
    start = session.scalar(select(Entity.id).order_by(Entity.id.desc()).limit(1)) or 0
    stream = generate_entities(n * 2 + 1000, seed=seed, start=start + 1_000_000)
    added = 0
    while added < n:
        chunk = [next(stream) for _ in range(min(chunk_size, n - added))]
        codes = [r["uscc"] for r in chunk]
        taken = set(session.scalars(select(Entity.uscc).where(Entity.uscc.in_(codes))))
        rows = [_entity_row(r) for r in chunk if r["uscc"] not in taken]
        if rows:
            session.execute(insert(Entity), rows)
            added += len(rows)
        if commit:
            session.commit()
    return added


def load_inspectors(session: Session, department_ids: dict[str, int], *, seed: int = DEFAULT_SEED) -> int:
    """Insert the 60 generated inspectors; returns how many."""
    rows = []
    for row in generate_inspectors(seed=seed):
        row = dict(row)
        row["department_id"] = department_ids[row.pop("department_code")]
        rows.append(row)
    session.execute(insert(Inspector), rows)
    return len(rows)


def load_directories(
    session: Session, *, entities: int = DEFAULT_ENTITY_COUNT, seed: int = DEFAULT_SEED
) -> dict[str, int]:
    """Departments, check items, entities and inspectors; returns counts by table. Does not commit."""
    department_ids = load_departments(session)
    counts = {
        "departments": len(department_ids),
        "check_items": load_check_items(session, department_ids),
        "entities": load_entities(session, entities, seed=seed),
        "inspectors": load_inspectors(session, department_ids, seed=seed),
    }
    session.flush()
    return counts


# (username, display name, roles, department code, inspector: (department code, index within it) or None)
DEMO_USERS: tuple[tuple[str, str, tuple[Role, ...], str, tuple[str, int] | None], ...] = (
    ("admin", "系统管理员", (Role.ADMIN,), "JC-SAMR", None),
    ("drafter", "李晓燕", (Role.DRAFTER,), "JC-SAMR-CREDIT", None),
    ("drafter2", "王建军", (Role.DRAFTER,), "HD-COM-ORDER", None),
    ("legal", "赵丽华", (Role.LEGAL_REVIEWER,), "JC-SAMR-LAW", None),
    ("leader", "张志强", (Role.LEADER,), "JC-SAMR", None),
    ("coordinator", "刘海涛", (Role.COORDINATOR,), "JC-SAMR-CREDIT", None),
    ("chief", "陈静", (Role.SECTION_CHIEF,), "JC-SAMR-CQ", None),
    ("inspector", "", (Role.INSPECTOR,), "JC-SAMR-CQ", ("JC-SAMR-CQ", 0)),
    ("inspector2", "", (Role.INSPECTOR,), "JC-SAMR-CQ", ("JC-SAMR-CQ", 1)),
    ("witness", "郭文斌", (Role.WITNESS,), "JC-SAMR-DISC", None),
    ("legal_officer", "杨帆", (Role.LEGAL_OFFICER,), "JC-SAMR-LAW", None),
    ("compliance", "孙慧敏", (Role.COMPLIANCE_REVIEWER,), "JC-SAMR-OFFICE", None),
)


def load_users(session: Session) -> list[tuple[str, str, list[str]]]:
    """One demo login per role (two drafters, two inspectors); returns (username, password, roles).

    Needs the directories loaded first: users belong to departments and the
    inspector logins are linked to generated inspectors (display name = theirs).
    """
    from app.auth.service import create_user  # needs an app context

    department_ids = _department_ids(session)
    logins: list[tuple[str, str, list[str]]] = []
    for username, display_name, roles, dept_code, inspector_ref in DEMO_USERS:
        inspector_id = None
        if inspector_ref is not None:
            ref_dept, index = inspector_ref
            inspector = session.scalars(
                select(Inspector)
                .where(Inspector.department_id == department_ids[ref_dept], Inspector.active.is_(True))
                .order_by(Inspector.id)
                .offset(index)
                .limit(1)
            ).one()
            inspector_id = inspector.id
            display_name = inspector.name
        create_user(
            username, DEMO_PASSWORD, display_name, roles,
            department_id=department_ids[dept_code], inspector_id=inspector_id,
        )
        logins.append((username, DEMO_PASSWORD, [str(r) for r in roles]))
    return logins


def load_inspector_logins(session: Session) -> int:
    """A login for every active inspector without one (username = certificate number).

    Draws assign cases to inspectors through their logins, so in the demo every
    inspector a draw may pick can open their tasks. One Argon2 hash serves all these
    accounts: they share the demo password, and hashing sixty times would only slow
    the set-up down.
    """
    from app.auth.models import User, UserRole
    from app.auth.service import hash_password

    linked = set(session.scalars(select(User.inspector_id).where(User.inspector_id.is_not(None))))
    inspectors = [
        i for i in session.scalars(select(Inspector).where(Inspector.active.is_(True)).order_by(Inspector.id))
        if i.id not in linked
    ]
    password_hash = hash_password(DEMO_PASSWORD)
    for inspector in inspectors:
        session.add(User(
            username=inspector.certificate_no, display_name=inspector.name, password_hash=password_hash,
            department_id=inspector.department_id, inspector_id=inspector.id,
            roles=[UserRole(role=str(Role.INSPECTOR))],
        ))
    session.flush()
    return len(inspectors)


def load_plan_data() -> list[dict[str, Any]]:
    """The two demo plans exactly as stored in their JSON files."""
    return [read_json(name) for name in PLAN_FILES]


def _task_spec(task: dict[str, Any]) -> dict[str, Any]:
    lead = task["lead_department"]
    return {
        "seq": task["seq"],
        "code": task["code"],
        "name": task["name"],
        "targeted": task["targeted"],
        "scope": task["scope"],
        "entity_filters": dict(task["entity_filters"]),
        "entity_filters_full": dict(task["entity_filters_full"]),
        "quota_kind": task["quota_kind"],
        "ratio": task["ratio"],
        "count": task["count"],
        "credit_ratios": dict(task["credit_ratios"]) if task["credit_ratios"] else None,
        "credit_rule": task["credit_rule"],
        "window_start": date.fromisoformat(task["window_start"]),
        "window_end": date.fromisoformat(task["window_end"]),
        "lead_department_code": lead,
        # the lead is not its own joint department (Handan 001号 names 执法支队 as both)
        "joint_department_codes": [code for code in task["joint_departments"] if code != lead],
        "mode": task["mode"],
        "method": task["method"],
        "check_item_codes": list(task["check_items"]),
        "team_size": 2,
        "required_qualifications": [],
        "cross_station": False,
    }


def plan_specs() -> list[dict[str, Any]]:
    """The two demo plans, normalised for plan creation.

    Each: {code, title, year, department_code, notes, tasks: [{seq, code, name,
    targeted, scope, entity_filters (single strings on kind, industry,
    region_code, scale, station: what the plan service accepts), entity_filters_full
    (adds credit_class, risk_flags, lists, registered_until), quota_kind, ratio (exact decimal string or
    None), count, credit_ratios ({"A".."D","U": decimal string} or None),
    credit_rule, window_start, window_end (dates), lead_department_code,
    joint_department_codes, mode, method, check_item_codes, team_size,
    required_qualifications, cross_station}]}.
    """
    return [
        {
            "code": plan["code"],
            "title": plan["title"],
            "year": plan["year"],
            "department_code": plan["department"],
            "notes": plan["notes"],
            "tasks": [_task_spec(t) for t in plan["tasks"]],
        }
        for plan in load_plan_data()
    ]
