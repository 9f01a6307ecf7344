"""Single-record edits of the directory and of plans reach the audit log, over the pages and
the API: one entry per change naming the actor and the changed fields (old and new values),
none for a save that changes nothing, and none per record for bulk loads."""
from __future__ import annotations

import io
import json
import random
import re
from dataclasses import dataclass
from typing import Any

import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.audit.service import verify_chain
from app.auth.models import User
from app.directory.models import CheckItem, Department, Entity, Inspector
from app.directory.service import AUDIT_VALUE_LIMIT
from app.directory.uscc import make_uscc
from app.extensions import db
from app.plans.models import Plan, SpotCheckTask
from tests.factories import make_department

API = "/api/v1"


def uscc(n: int) -> str:
    return make_uscc(random.Random(n), "140502")


@dataclass
class Row:
    action: str
    actor_user_id: int | None
    actor_name: str
    subject_type: str | None
    subject_id: str | None
    details: dict[str, Any]


class Log:
    """The audit rows written since the last call of ``new``."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.seen = self._last_id()

    def _last_id(self) -> int:
        with self.app.app_context():
            return db.session.scalar(select(func.max(AuditEntry.id))) or 0

    def new(self) -> list[Row]:
        with self.app.app_context():
            entries = db.session.scalars(
                select(AuditEntry).where(AuditEntry.id > self.seen).order_by(AuditEntry.id)
            ).all()
            rows = [Row(e.action, e.actor_user_id, e.actor_name, e.subject_type, e.subject_id, json.loads(e.details))
                    for e in entries]
            if entries:
                self.seen = entries[-1].id
        return rows

    def one(self) -> Row:
        """The single row written since the last look; fails on none or several."""
        rows = self.new()
        assert len(rows) == 1, [r.action for r in rows]
        return rows[0]


def _user_id(app: Flask, username: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def _id_of(app: Flask, model: type, **where: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(model.id).filter_by(**where))


def _form_as_shown(client: FlaskClient, path: str) -> dict[str, Any]:
    """What the edit form at ``path`` submits when saved without touching it."""
    page = client.get(path)
    assert page.status_code == 200
    # The page's own form posts back to it (no action); the header's forms (language, logout) name theirs.
    (form,) = [f for f in lxml.html.fromstring(page.get_data(as_text=True)).forms
               if f.method.upper() == "POST" and not f.get("action")]
    data: dict[str, Any] = {}
    for name, value in form.form_values():
        data.setdefault(name, []).append(value)
    return {name: values[0] if len(values) == 1 else values for name, values in data.items()}


@pytest.fixture
def coord(app: Flask, make_user, login_as) -> FlaskClient:  # type: ignore[no-untyped-def]
    make_user("coord", "coordinator")
    return login_as("coord")


@pytest.fixture
def dept_id(app: Flask) -> int:
    with app.app_context():
        dept = make_department("JC-SAMR", "晋城市市场监督管理局")
        db.session.commit()
        return dept.id


# --------------------------------------------------------------------------- directory pages


def test_entity_edits_over_the_pages_are_audited_with_the_credit_class(app: Flask, coord: FlaskClient) -> None:
    coord_id, log = _user_id(app, "coord"), Log(app)
    r = coord.post("/directory/entities/new", data={
        "uscc": uscc(1), "name": "晋城甲公司", "kind": "enterprise", "region_code": "140502", "status": "active",
        "credit_class": "B", "scale": ""})
    assert r.status_code == 302, r.get_data(as_text=True)
    entity_id = _id_of(app, Entity, uscc=uscc(1))
    created = log.one()
    assert (created.action, created.actor_user_id, created.subject_type, created.subject_id) == (
        "directory.entity_created", coord_id, "entity", str(entity_id))
    assert created.actor_name == "Coord (coord)"
    assert created.details["uscc"] == uscc(1)
    assert created.details["values"]["credit_class"] == "B" and created.details["values"]["name"] == "晋城甲公司"

    # Opened and saved without a change: nothing happened, nothing is logged.
    unchanged = _form_as_shown(coord, f"/directory/entities/{entity_id}/edit")
    assert unchanged["credit_class"] == "B"
    assert coord.post(f"/directory/entities/{entity_id}/edit", data=unchanged).status_code == 302
    assert log.new() == []

    r = coord.post(f"/directory/entities/{entity_id}/edit", data=unchanged | {"credit_class": "D", "industry": "食品销售"})
    assert r.status_code == 302
    updated = log.one()
    assert (updated.action, updated.actor_user_id, updated.subject_id) == (
        "directory.entity_updated", coord_id, str(entity_id))
    assert updated.details == {"uscc": uscc(1), "changes": {"credit_class": ["B", "D"], "industry": ["", "食品销售"]}}

    # Back to unclassified: the old class is still on record.
    edit = _form_as_shown(coord, f"/directory/entities/{entity_id}/edit")
    assert coord.post(f"/directory/entities/{entity_id}/edit", data=edit | {"credit_class": ""}).status_code == 302
    assert log.one().details["changes"] == {"credit_class": ["D", None]}

    assert coord.post(f"/directory/entities/{entity_id}/deactivate", data={"status": "revoked"}).status_code == 302
    deactivated = log.one()
    assert (deactivated.action, deactivated.actor_user_id) == ("directory.entity_deactivated", coord_id)
    assert deactivated.details == {"uscc": uscc(1), "changes": {"status": ["active", "revoked"]}}
    assert coord.post(f"/directory/entities/{entity_id}/deactivate", data={"status": "revoked"}).status_code == 302
    assert log.new() == []  # already revoked
    with app.app_context():
        assert verify_chain().ok


def test_inspector_edits_over_the_pages_are_audited(app: Flask, coord: FlaskClient, dept_id: int) -> None:
    coord_id, log = _user_id(app, "coord"), Log(app)
    r = coord.post("/directory/inspectors/new", data={
        "name": "张三", "department_id": str(dept_id), "certificate_no": "14050019000001", "qualifications": "食品；价格",
        "region_code": "140502", "active": "y"})
    assert r.status_code == 302, r.get_data(as_text=True)
    inspector_id = _id_of(app, Inspector, certificate_no="14050019000001")
    created = log.one()
    assert (created.action, created.actor_user_id, created.subject_type, created.subject_id) == (
        "directory.inspector_created", coord_id, "inspector", str(inspector_id))
    assert created.details["values"]["qualifications"] == ["食品", "价格"]
    assert created.details["values"]["department_id"] == dept_id

    unchanged = _form_as_shown(coord, f"/directory/inspectors/{inspector_id}/edit")
    assert coord.post(f"/directory/inspectors/{inspector_id}/edit", data=unchanged).status_code == 302
    assert log.new() == []

    r = coord.post(f"/directory/inspectors/{inspector_id}/edit",
                   data=unchanged | {"qualifications": "食品；价格；特种设备", "station": "城区所"})
    assert r.status_code == 302
    updated = log.one()
    assert (updated.action, updated.actor_user_id) == ("directory.inspector_updated", coord_id)
    assert updated.details == {"certificate_no": "14050019000001", "changes": {
        "qualifications": [["食品", "价格"], ["食品", "价格", "特种设备"]], "station": ["", "城区所"]}}

    assert coord.post(f"/directory/inspectors/{inspector_id}/deactivate").status_code == 302
    deactivated = log.one()
    assert deactivated.action == "directory.inspector_deactivated" and deactivated.actor_user_id == coord_id
    assert deactivated.details["changes"] == {"active": [True, False]}
    assert coord.post(f"/directory/inspectors/{inspector_id}/deactivate").status_code == 302
    assert log.new() == []


def test_check_item_edits_are_audited_without_long_texts_in_full(app: Flask, coord: FlaskClient, dept_id: int) -> None:
    coord_id, log = _user_id(app, "coord"), Log(app)
    basis = "《中华人民共和国食品安全法》第八十七条" * 20  # far longer than an entry holds as it is
    assert len(basis) > AUDIT_VALUE_LIMIT
    r = coord.post("/directory/check-items/new", data={
        "code": "SC-1", "category": "食品安全", "name": "经营条件检查", "kind": "key", "department_id": str(dept_id),
        "legal_basis": basis, "active": "y"})
    assert r.status_code == 302, r.get_data(as_text=True)
    item_id = _id_of(app, CheckItem, code="SC-1")
    created = log.one()
    assert (created.action, created.actor_user_id, created.subject_id) == (
        "directory.check_item_created", coord_id, str(item_id))
    assert created.details["values"]["kind"] == "key"
    assert created.details["values"]["legal_basis"]["chars"] == len(basis)

    unchanged = _form_as_shown(coord, f"/directory/check-items/{item_id}/edit")
    assert coord.post(f"/directory/check-items/{item_id}/edit", data=unchanged).status_code == 302
    assert log.new() == []

    longer = basis + "第八十八条"
    r = coord.post(f"/directory/check-items/{item_id}/edit",
                   data=unchanged | {"kind": "general", "method": "书面检查", "legal_basis": longer})
    assert r.status_code == 302
    updated = log.one()
    assert updated.action == "directory.check_item_updated" and updated.actor_user_id == coord_id
    changes = updated.details["changes"]
    assert set(changes) == {"kind", "method", "legal_basis"}
    assert changes["kind"] == ["key", "general"] and changes["method"] == ["", "书面检查"]
    old, new = changes["legal_basis"]
    assert (old["chars"], new["chars"]) == (len(basis), len(longer)) and old["sha256"] != new["sha256"]
    with app.app_context():
        raw = db.session.scalar(select(AuditEntry.details).where(AuditEntry.action == "directory.check_item_updated"))
    assert "第八十七条" not in raw  # the text itself is not copied into the log

    assert coord.post(f"/directory/check-items/{item_id}/deactivate").status_code == 302
    deactivated = log.one()
    assert deactivated.action == "directory.check_item_deactivated"
    assert deactivated.details == {"code": "SC-1", "changes": {"active": [True, False]}}


def test_department_edits_over_the_pages_are_audited(app: Flask, coord: FlaskClient, dept_id: int) -> None:
    coord_id, log = _user_id(app, "coord"), Log(app)
    r = coord.post("/directory/departments/new", data={
        "code": "JC-CQ", "name": "城区分局", "level": "county", "region_code": "140502", "parent_id": str(dept_id),
        "active": "y"})
    assert r.status_code == 302, r.get_data(as_text=True)
    child_id = _id_of(app, Department, code="JC-CQ")
    created = log.one()
    assert (created.action, created.actor_user_id, created.subject_type, created.subject_id) == (
        "directory.department_created", coord_id, "department", str(child_id))
    assert created.details["values"]["parent_id"] == dept_id and created.details["values"]["level"] == "county"

    unchanged = _form_as_shown(coord, f"/directory/departments/{child_id}/edit")
    assert coord.post(f"/directory/departments/{child_id}/edit", data=unchanged).status_code == 302
    assert log.new() == []

    r = coord.post(f"/directory/departments/{child_id}/edit", data=unchanged | {"name": "城区市场监督管理局"})
    assert r.status_code == 302
    updated = log.one()
    assert (updated.action, updated.actor_user_id) == ("directory.department_updated", coord_id)
    assert updated.details == {"code": "JC-CQ", "changes": {"name": ["城区分局", "城区市场监督管理局"]}}

    # A refused change writes nothing either.
    r = coord.post(f"/directory/departments/{dept_id}/edit", data={
        "code": "JC-SAMR", "name": "晋城市市场监督管理局", "level": "city", "region_code": "140500",
        "parent_id": str(child_id), "active": "y"})
    assert r.status_code == 422
    assert log.new() == []

    assert coord.post(f"/directory/departments/{child_id}/deactivate").status_code == 302
    deactivated = log.one()
    assert deactivated.action == "directory.department_deactivated" and deactivated.actor_user_id == coord_id
    assert deactivated.details["changes"] == {"active": [True, False]}


# --------------------------------------------------------------------------- directory API


def test_directory_api_edits_are_audited(app: Flask, client: FlaskClient, make_user, api_token, dept_id: int) -> None:  # type: ignore[no-untyped-def]
    make_user("coord", "coordinator")
    coord_id, headers, log = _user_id(app, "coord"), api_token("coord"), Log(app)

    r = client.post(f"{API}/directory/entities", headers=headers,
                    json={"uscc": uscc(2), "name": "晋城乙公司", "region_code": "140502", "credit_class": "a"})
    assert r.status_code == 201, r.json
    entity_id = r.json["id"]
    created = log.one()
    assert (created.action, created.actor_user_id, created.subject_id) == (
        "directory.entity_created", coord_id, str(entity_id))
    assert created.details["values"]["credit_class"] == "A"

    r = client.patch(f"{API}/directory/entities/{entity_id}", headers=headers, json={"credit_class": "C"})
    assert r.status_code == 200
    updated = log.one()
    assert (updated.action, updated.actor_user_id) == ("directory.entity_updated", coord_id)
    assert updated.details["changes"] == {"credit_class": ["A", "C"]}
    # The same values again: no change, no entry.
    assert client.patch(f"{API}/directory/entities/{entity_id}", headers=headers,
                        json={"credit_class": "c", "name": "晋城乙公司"}).status_code == 200
    assert log.new() == []
    assert client.post(f"{API}/directory/entities/{entity_id}/deactivate", headers=headers, json={}).status_code == 200
    assert log.one().details["changes"] == {"status": ["active", "deregistered"]}

    r = client.post(f"{API}/directory/inspectors", headers=headers, json={
        "name": "李四", "department_id": dept_id, "certificate_no": "C-9", "region_code": "140502"})
    assert r.status_code == 201, r.json
    inspector_id = r.json["id"]
    assert client.patch(f"{API}/directory/inspectors/{inspector_id}", headers=headers,
                        json={"name": "李四四"}).status_code == 200
    assert client.post(f"{API}/directory/inspectors/{inspector_id}/deactivate", headers=headers).status_code == 200

    r = client.post(f"{API}/directory/check-items", headers=headers, json={
        "code": "SC-9", "category": "食品安全", "name": "标签检查", "department_id": dept_id})
    assert r.status_code == 201, r.json
    item_id = r.json["id"]
    assert client.patch(f"{API}/directory/check-items/{item_id}", headers=headers,
                        json={"kind": "key"}).status_code == 200
    assert client.post(f"{API}/directory/check-items/{item_id}/deactivate", headers=headers).status_code == 200

    r = client.post(f"{API}/directory/departments", headers=headers, json={
        "code": "JC-ZZ", "name": "泽州分局", "level": "county", "region_code": "140525", "parent_id": dept_id})
    assert r.status_code == 201, r.json
    department_id = r.json["id"]
    assert client.patch(f"{API}/directory/departments/{department_id}", headers=headers,
                        json={"region_code": "140526"}).status_code == 200
    assert client.post(f"{API}/directory/departments/{department_id}/deactivate", headers=headers).status_code == 200

    rows = log.new()
    assert [(r.action, r.subject_id, r.actor_user_id) for r in rows] == [
        ("directory.inspector_created", str(inspector_id), coord_id),
        ("directory.inspector_updated", str(inspector_id), coord_id),
        ("directory.inspector_deactivated", str(inspector_id), coord_id),
        ("directory.check_item_created", str(item_id), coord_id),
        ("directory.check_item_updated", str(item_id), coord_id),
        ("directory.check_item_deactivated", str(item_id), coord_id),
        ("directory.department_created", str(department_id), coord_id),
        ("directory.department_updated", str(department_id), coord_id),
        ("directory.department_deactivated", str(department_id), coord_id),
    ]
    assert rows[1].details["changes"] == {"name": ["李四", "李四四"]}
    assert rows[4].details["changes"] == {"kind": ["general", "key"]}
    assert rows[7].details["changes"] == {"region_code": ["140525", "140526"]}
    with app.app_context():
        assert verify_chain().ok


# --------------------------------------------------------------------------- bulk paths


def test_an_import_writes_one_entry_for_all_its_records(app: Flask, coord: FlaskClient) -> None:
    log = Log(app)
    rng = random.Random(7)
    csv = "uscc,name,region_code,credit_class\n" + "".join(
        f"{make_uscc(rng, '140502')},店{n},140502,B\n" for n in range(4))
    r = coord.post("/directory/entities/import", data={"file": (io.BytesIO(csv.encode()), "stores.csv")},
                   content_type="multipart/form-data")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert [row.action for row in log.new()] == ["directory.imported"]


def test_the_demo_load_writes_no_entry_per_directory_record(app: Flask) -> None:
    log = Log(app)
    result = app.test_cli_runner().invoke(args=["demo", "load", "--entities", "300"])
    assert result.exit_code == 0, result.output
    actions = [row.action for row in log.new()]
    assert not [a for a in actions if a.startswith("directory.")]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Entity)) == 300
        plans = db.session.scalar(select(func.count()).select_from(Plan))
        tasks = db.session.scalar(select(func.count()).select_from(SpotCheckTask))
    # The demo plans are drafted through the real service, each plan and task once.
    assert actions.count("plan.created") == plans and actions.count("plan.task_added") == tasks


# --------------------------------------------------------------------------- plans


@pytest.fixture
def drafting(app: Flask, make_user) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with app.app_context():
        dept = make_department("JC-SAMR", "晋城市市场监督管理局")
        item = CheckItem(code="JCSC-07-01", category="对眼镜制配场所的双随机抽查", name="在用计量器具的监督检查",
                         object_type="全市眼镜制配店", kind="general", method="实地检查", department_id=dept.id)
        db.session.add(item)
        db.session.commit()
        ids = {"dept": dept.id, "item": item.id}
    ids["drafter"] = make_user("drafter", "drafter")
    return ids


TASK_FORM = {
    "code": "7", "name": "对眼镜制配场所的双随机抽查", "targeted": "y", "scope": "全市眼镜制配店",
    "filter_industry": "眼镜制配", "quota_kind": "ratio", "ratio": "5%", "credit_A": "2%", "credit_B": "5%",
    "credit_C": "10%", "credit_D": "30%", "credit_U": "5%", "credit_rule": "按信用风险分类递加比例抽查",
    "window_start": "2023-03-01", "window_end": "2023-12-31", "mode": "county_county", "method": "【县抽县查】",
    "team_size": "2", "case_cap": "20",
}


def test_plan_drafting_over_the_pages_is_audited(app: Flask, drafting: dict[str, int], login_as) -> None:  # type: ignore[no-untyped-def]
    drafter, log = login_as("drafter"), Log(app)
    r = drafter.post("/plans/new", data={"code": "2023-JC", "title": "晋城市2023年度双随机抽查工作计划", "year": "2023",
                                         "department_id": drafting["dept"], "notes": "晋市监〔2023〕21号"})
    assert r.status_code == 302, r.get_data(as_text=True)
    plan_id = int(re.search(r"/plans/(\d+)", r.headers["Location"]).group(1))
    rows = log.new()
    # The approval process starting is the workflow's own entry, written as before.
    assert [r.action for r in rows] == ["plan.created", "process.started"]
    created = rows[0]
    assert (created.actor_user_id, created.subject_type, created.subject_id) == (
        drafting["drafter"], "plan", str(plan_id))
    assert created.details == {"code": "2023-JC", "values": {
        "code": "2023-JC", "title": "晋城市2023年度双随机抽查工作计划", "year": 2023,
        "department_id": drafting["dept"], "notes": "晋市监〔2023〕21号"}}

    edit = {"title": "晋城市2023年度双随机抽查工作计划（修订）", "notes": "晋市监〔2023〕21号"}
    assert drafter.post(f"/plans/{plan_id}/edit", data=edit).status_code == 302
    updated = log.one()
    assert (updated.action, updated.actor_user_id, updated.subject_id) == (
        "plan.updated", drafting["drafter"], str(plan_id))
    assert updated.details == {"code": "2023-JC", "changes": {
        "title": ["晋城市2023年度双随机抽查工作计划", "晋城市2023年度双随机抽查工作计划（修订）"]}}
    assert drafter.post(f"/plans/{plan_id}/edit", data=edit).status_code == 302
    assert log.new() == []

    form = dict(TASK_FORM, lead_department_id=drafting["dept"], check_item_ids=drafting["item"])
    assert drafter.post(f"/plans/{plan_id}/tasks/new", data=form).status_code == 302
    task_id = _id_of(app, SpotCheckTask, plan_id=plan_id)
    added = log.one()
    assert (added.action, added.actor_user_id, added.subject_type, added.subject_id) == (
        "plan.task_added", drafting["drafter"], "plan", str(plan_id))
    assert added.details["task_id"] == task_id and added.details["task_code"] == "7"
    values = added.details["values"]
    assert values["ratio"] == "0.05" and values["credit_ratios"]["D"] == "0.3"
    assert values["check_item_ids"] == [drafting["item"]] and values["window_end"] == "2023-12-31"

    # The task saved as it is: no entry; with a new ratio and window: one, with just those fields.
    assert drafter.post(f"/plans/{plan_id}/tasks/{task_id}/edit", data=form).status_code == 302
    assert log.new() == []
    r = drafter.post(f"/plans/{plan_id}/tasks/{task_id}/edit", data=form | {"ratio": "6%", "window_end": "2023-11-30"})
    assert r.status_code == 302
    changed = log.one()
    assert (changed.action, changed.actor_user_id) == ("plan.task_updated", drafting["drafter"])
    assert changed.details == {"code": "2023-JC", "task_id": task_id, "task_code": "7", "changes": {
        "ratio": ["0.05", "0.06"], "window_end": ["2023-12-31", "2023-11-30"]}}

    assert drafter.post(f"/plans/{plan_id}/tasks/{task_id}/delete").status_code == 302
    deleted = log.one()
    assert (deleted.action, deleted.actor_user_id, deleted.subject_id) == (
        "plan.task_deleted", drafting["drafter"], str(plan_id))
    assert deleted.details["task_id"] == task_id and deleted.details["values"]["ratio"] == "0.06"
    with app.app_context():
        assert db.session.get(SpotCheckTask, task_id) is None
        assert verify_chain().ok


def test_plan_drafting_through_the_api_is_audited(app: Flask, drafting: dict[str, int], client: FlaskClient,
                                                  api_token) -> None:  # type: ignore[no-untyped-def]
    headers, log = api_token("drafter"), Log(app)
    r = client.post(f"{API}/plans", headers=headers, json={
        "code": "HD-2023", "title": "邯郸市2023年度随机抽查工作计划", "year": 2023, "department_id": drafting["dept"]})
    assert r.status_code == 201, r.json
    plan_id = r.json["id"]
    r = client.patch(f"{API}/plans/{plan_id}", headers=headers, json={"title": "邯郸市2023年度抽查计划", "notes": ""})
    assert r.status_code == 200, r.json
    task = {"code": "1", "name": "商务领域抽查", "quota_kind": "count", "count": 5, "window_start": "2023-04-01",
            "window_end": "2023-10-31", "lead_department_id": drafting["dept"], "check_item_ids": [drafting["item"]]}
    r = client.post(f"{API}/plans/{plan_id}/tasks", headers=headers, json=task)
    assert r.status_code == 201, r.json
    task_id = r.json["id"]
    assert client.put(f"{API}/plans/{plan_id}/tasks/{task_id}", headers=headers, json=task).status_code == 200
    r = client.put(f"{API}/plans/{plan_id}/tasks/{task_id}", headers=headers, json=task | {"count": 8, "team_size": 3})
    assert r.status_code == 200, r.json
    assert client.delete(f"{API}/plans/{plan_id}/tasks/{task_id}", headers=headers).status_code == 204

    rows = [r for r in log.new() if r.action.startswith("plan.")]
    assert [(r.action, r.actor_user_id, r.subject_id) for r in rows] == [
        ("plan.created", drafting["drafter"], str(plan_id)),
        ("plan.updated", drafting["drafter"], str(plan_id)),
        ("plan.task_added", drafting["drafter"], str(plan_id)),
        ("plan.task_updated", drafting["drafter"], str(plan_id)),  # only the second PUT changed anything
        ("plan.task_deleted", drafting["drafter"], str(plan_id)),
    ]
    assert rows[1].details["changes"] == {"title": ["邯郸市2023年度随机抽查工作计划", "邯郸市2023年度抽查计划"]}
    assert rows[3].details["changes"] == {"count": [5, 8], "team_size": [2, 3]}


def test_a_refused_plan_edit_writes_nothing(app: Flask, drafting: dict[str, int], login_as, make_user) -> None:  # type: ignore[no-untyped-def]
    drafter = login_as("drafter")
    r = drafter.post("/plans/new", data={"code": "2023-JC", "title": "计划", "year": "2023",
                                         "department_id": drafting["dept"], "notes": ""})
    plan_id = int(re.search(r"/plans/(\d+)", r.headers["Location"]).group(1))
    make_user("other", "drafter")
    other = login_as("other")
    log = Log(app)
    assert other.post(f"/plans/{plan_id}/edit", data={"title": "改", "notes": ""}).status_code == 403
    assert log.new() == []
