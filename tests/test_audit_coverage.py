"""Every kind of state change reaches the audit log where it happens: engine steps, timers,
bulk starts, directory imports, user administration and downloads, each done over HTTP."""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text

from app.audit.models import AuditEntry
from app.audit.service import verify_chain
from app.auth.models import User
from app.cases.models import InspectionCase
from app.directory.uscc import make_uscc
from app.extensions import db
from app.jobs.timers import fire_due_timers
from tests.test_case_timers import controlled_clock  # noqa: F401
from tests.test_draw_process import YEAR, _prepare, _published_plan, _ready, _sit, bureau  # noqa: F401
from workflows import clock
from workflows.models import HumanTask, ProcessInstance

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class Row:
    id: int
    action: str
    actor_user_id: int | None
    subject_type: str | None
    subject_id: str | None
    details: dict[str, Any]


def _rows(app, action: str | None = None) -> list[Row]:  # type: ignore[no-untyped-def]
    with app.app_context():
        query = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            query = query.where(AuditEntry.action == action)
        return [Row(e.id, e.action, e.actor_user_id, e.subject_type, e.subject_id, json.loads(e.details))
                for e in db.session.scalars(query)]


def _chain_ok(app) -> bool:  # type: ignore[no-untyped-def]
    with app.app_context():
        return verify_chain().ok


# --------------------------------------------------------------------------- the engine


def test_task_completions_process_starts_and_ends_are_audited_over_http(app, bureau, login_as):
    plan_id = _published_plan(app, bureau, login_as)  # drafter, legal review, leader: all over HTTP

    started = [r for r in _rows(app, "process.started") if r.subject_type == "plan"]
    assert len(started) == 1
    assert started[0].actor_user_id == bureau["drafter"] and started[0].subject_id == str(plan_id)
    assert started[0].details["process_id"] == "plan_approval"

    done = [r for r in _rows(app, "task.completed") if r.subject_type == "plan"]
    assert [r.details["bpmn_id"] for r in done] == ["draft_plan", "legal_review", "leader_approval"]
    assert [r.actor_user_id for r in done] == [bureau["drafter"], bureau["legal"], bureau["leader"]]
    with app.app_context():
        instance_id = db.session.scalar(select(ProcessInstance.id).where(ProcessInstance.process_id == "plan_approval"))
        task_ids = list(db.session.scalars(select(HumanTask.id).where(HumanTask.instance_id == instance_id)
                                           .order_by(HumanTask.id)))
    for row, task_id in zip(done, task_ids):
        assert row.subject_id == str(plan_id) and row.details["instance_id"] == instance_id
        assert row.details["human_task_id"] == task_id and row.details["form_key"] and row.details["title"]
    # The names of the keys a step changed, not their values.
    assert done[1].details["changed"] == ["legal_comments", "legal_decision", "legal_reviewer_id"]
    assert all(isinstance(k, str) for r in done for k in r.details["changed"])

    finished = [r for r in _rows(app, "process.completed") if r.subject_type == "plan"]
    assert len(finished) == 1 and finished[0].actor_user_id == bureau["leader"]
    # Publication started the task's draw; nobody in particular started it.
    draws = _rows(app, "process.started")[1:]
    assert [(r.subject_type, r.actor_user_id, r.details["process_id"]) for r in draws] == [("task_draw", None, "draw")]
    assert _chain_ok(app)


def test_claim_and_release_are_audited(app, bureau, login_as):
    _published_plan(app, bureau, login_as)
    task_id = _ready(app, "prepare_draw")
    coordinator = login_as("coordinator")
    assert coordinator.post(f"/tasks/{task_id}/claim").status_code == 302
    assert coordinator.post(f"/tasks/{task_id}/claim").status_code == 302  # already hers: nothing changes
    assert coordinator.post(f"/tasks/{task_id}/unclaim").status_code == 302
    rows = [r for r in _rows(app) if r.action.startswith("task.") and r.details["human_task_id"] == task_id]
    assert [(r.action, r.actor_user_id) for r in rows] == [
        ("task.claimed", bureau["coordinator"]), ("task.released", bureau["coordinator"])]
    assert rows[1].details["previous_assignee_id"] == bureau["coordinator"]
    assert rows[0].subject_type == "task_draw" and rows[0].details["bpmn_id"] == "prepare_draw"


def test_a_sign_off_audits_its_cases_in_one_entry_and_the_dossier_download(app, bureau, login_as, client, api_token):
    _published_plan(app, bureau, login_as)
    draw_id = _prepare(app, bureau, login_as)
    _sit(app, login_as)
    before = len(_rows(app))
    leader = login_as("leader")
    assert leader.post(f"/tasks/{_ready(app, 'sign_off')}/complete", data={"decision": "approve"}).status_code == 302
    with app.app_context():
        cases = list(db.session.scalars(select(InspectionCase).order_by(InspectionCase.id)))
        instance_ids = sorted(c.process_instance_id for c in cases)
        case_ids = [c.id for c in cases]
    assert len(cases) > 1
    new = _rows(app)[before:]
    bulk = [r for r in new if r.action == "process.bulk_started"]
    assert len(bulk) == 1
    assert bulk[0].actor_user_id == bureau["leader"] and bulk[0].subject_type == "inspection_case"
    assert bulk[0].details == {
        "process_id": "inspection_case", "count": len(cases), "subject_id_min": min(case_ids),
        "subject_id_max": max(case_ids), "instance_id_min": instance_ids[0], "instance_id_max": instance_ids[-1]}
    assert not [r for r in new if r.action == "process.started"]  # not one row per case
    assert [r.details["bpmn_id"] for r in new if r.action == "task.completed"] == ["sign_off"]

    assert client.get(f"/api/v1/draws/{draw_id}/dossier", headers=api_token("coordinator")).status_code == 403
    assert _rows(app, "draw.dossier_downloaded") == []  # a refused download is not a download
    assert client.get(f"/api/v1/draws/{draw_id}/dossier", headers=api_token("compliance")).status_code == 200
    (download,) = _rows(app, "draw.dossier_downloaded")
    assert download.actor_user_id == bureau["compliance"] and download.subject_id == str(draw_id)
    assert _chain_ok(app)


def test_a_timer_that_advances_an_instance_is_audited(app, bureau, login_as, controlled_clock):  # noqa: F811
    # Publish before the task's window opens: the draw waits for its window timer.
    clock.set_now(datetime(YEAR - 1, 12, 30, 10, tzinfo=SHANGHAI))
    _published_plan(app, bureau, login_as)
    with app.app_context():
        assert db.session.scalar(select(func.count(HumanTask.id)).where(HumanTask.bpmn_id == "prepare_draw")) == 0
    assert _rows(app, "timer.fired") == []
    clock.set_now(datetime(YEAR - 1, 12, 31, 23, tzinfo=SHANGHAI))
    with app.app_context():
        assert fire_due_timers().fired == []  # not due yet: no entry
    assert _rows(app, "timer.fired") == []
    clock.set_now(datetime(YEAR, 1, 1, 0, 0, 1, tzinfo=SHANGHAI))
    with app.app_context():
        fired = fire_due_timers().fired
    assert len(fired) == 1
    (row,) = _rows(app, "timer.fired")
    assert row.actor_user_id is None and row.subject_type == "task_draw"
    assert row.details["instance_id"] == fired[0] and row.details["process_id"] == "draw"
    assert "window_opens" in row.details["completed"] and row.details["steps"] >= 2


# --------------------------------------------------------------------------- directory and users


def test_directory_imports_are_audited_with_their_failures(app, make_user, login_as, api_token, client):
    import random

    make_user("coord", "coordinator")
    coord_id = _user_id(app, "coord")
    rng = random.Random(5)
    good = "uscc,name,region_code\n" + "".join(f"{make_uscc(rng, '140502')},店{n},140502\n" for n in range(3))
    web = login_as("coord")
    r = web.post("/directory/entities/import", data={"file": (io.BytesIO(good.encode()), "门店.csv")},
                 content_type="multipart/form-data")
    assert r.status_code == 200, r.get_data(as_text=True)
    bad = good + "not-a-uscc,坏,140502\n"
    assert web.post("/directory/entities/import", data={"file": (io.BytesIO(bad.encode()), "bad.csv")},
                    content_type="multipart/form-data").status_code == 422
    r = client.post("/api/v1/directory/inspectors/import", data={"file": (io.BytesIO(b"PK\x03\x04junk"), "x.csv")},
                    headers=api_token("coord"), content_type="multipart/form-data")
    assert r.status_code == 422

    (imported,) = _rows(app, "directory.imported")
    assert imported.actor_user_id == coord_id and imported.subject_id == "entities"
    assert imported.details == {"kind": "entities", "file": "门店.csv", "rows": 3, "created": 3, "updated": 0}
    rows_failed, file_failed = _rows(app, "directory.import_failed")
    assert rows_failed.details["bad_rows"] == 1 and rows_failed.details["first_bad_rows"] == [5]
    assert file_failed.subject_id == "inspectors" and file_failed.details["file"] == "x.csv"
    assert "spreadsheet (XLSX)" in file_failed.details["error"]  # in English, whatever the page's language
    assert _chain_ok(app)


def _user_id(app, username: str) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def test_user_administration_is_audited_without_passwords(app, make_user, login_as):
    make_user("root", "admin")
    make_user("root2", "admin")
    admin = login_as("root")
    r = admin.post("/admin/users/new", data={"username": "newbie", "display_name": "新人", "roles": ["drafter"],
                                             "password": "first-pass-123"})
    assert r.status_code == 302, r.get_data(as_text=True)
    uid = _user_id(app, "newbie")
    assert admin.post(f"/admin/users/{uid}/edit", data={
        "display_name": "新人", "roles": ["drafter", "leader"], "active": "y"}).status_code == 302
    assert admin.post(f"/admin/users/{uid}/edit", data={"display_name": "新同事", "roles": ["leader"]}).status_code == 302
    assert admin.post(f"/admin/users/{uid}/password", data={"password": "second-pass-456"}).status_code in (200, 302)

    rows = [r for r in _rows(app) if r.subject_type == "user" and r.subject_id == str(uid)]
    assert [r.action for r in rows] == ["user.created", "user.roles_changed", "user.roles_changed",
                                        "user.deactivated", "user.updated", "user.password_reset"]
    root = _user_id(app, "root")
    assert all(r.actor_user_id == root and r.details["username"] == "newbie" for r in rows)
    assert rows[0].details["roles"] == ["drafter"] and rows[0].details["password"] == "set"
    assert rows[1].details == {"username": "newbie", "from": ["drafter"], "to": ["drafter", "leader"]}
    assert rows[2].details["to"] == ["leader"]
    assert rows[4].details["changes"] == {"display_name": ["新人", "新同事"]}
    with app.app_context():
        stored = " ".join(db.session.scalars(select(AuditEntry.details)))
    assert "first-pass-123" not in stored and "second-pass-456" not in stored


def test_the_cli_audits_accounts_and_tokens(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "ops", "--name", "运维", "--role", "admin", "--password", "pw-123456789"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["users", "token", "ops"]).exit_code == 0
    assert runner.invoke(args=["users", "revoke-tokens", "ops"]).exit_code == 0
    rows = _rows(app)
    assert [r.action for r in rows] == ["user.created", "user.token_issued", "user.tokens_revoked"]
    assert all(r.actor_user_id is None and r.details["via"] == "cli" for r in rows)
    assert rows[2].details["revoked"] == 1


# --------------------------------------------------------------------------- tampering with real entries


def test_verify_names_a_tampered_and_a_removed_task_entry(app, bureau, login_as):
    """The chain built by real steps: editing one entry, and removing another, are each named."""
    _published_plan(app, bureau, login_as)
    completed = [r.id for r in _rows(app, "task.completed")]
    last = _rows(app)[-1].id
    target = completed[1]  # legal review: somewhere in the middle
    assert 1 < target < last
    runner = app.test_cli_runner()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0

    with app.app_context():
        original = db.session.scalar(select(AuditEntry.details).where(AuditEntry.id == target))
        db.session.execute(text("UPDATE audit_entry SET details = :d WHERE id = :id"),
                           {"d": original.replace("legal_review", "leader_approval"), "id": target})
        db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and f"row {target}" in result.output and "changed" in result.output

    with app.app_context():  # put it back, then remove the entry instead
        db.session.execute(text("UPDATE audit_entry SET details = :d WHERE id = :id"), {"d": original, "id": target})
        db.session.commit()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    with app.app_context():
        db.session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": target})
        db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"row {target + 1}" in result.output and f"id {target} missing" in result.output


def test_concurrent_completions_on_different_cases_keep_one_chain(app, bureau, login_as):
    """Audit entries written by steps that run at the same time still form one linear chain."""
    import threading

    _published_plan(app, bureau, login_as, ratio="5%")
    _prepare(app, bureau, login_as)
    _sit(app, login_as)
    login_as("leader").post(f"/tasks/{_ready(app, 'sign_off')}/complete", data={"decision": "approve"})
    with app.app_context():
        rows = db.session.execute(
            select(HumanTask.id, User.username, HumanTask.instance_id).join(User, User.id == HumanTask.assignee_id)
            .where(HumanTask.bpmn_id == "confirm_no_conflict", HumanTask.state == "READY").order_by(HumanTask.id)
        ).all()
    # One member per case: different instances, and no team completes (no notice to render).
    first_per_case = {instance_id: (task_id, username) for task_id, username, instance_id in reversed(rows)}
    open_tasks = list(first_per_case.values())
    assert len(open_tasks) >= 4
    clients = {username: login_as(username) for _, username in open_tasks}
    before = len(_rows(app, "task.completed"))
    statuses: list[int] = []

    def confirm(task_id: int, username: str) -> None:
        statuses.append(clients[username].post(f"/tasks/{task_id}/complete", data={"decision": "confirm"}).status_code)

    threads = [threading.Thread(target=confirm, args=row) for row in open_tasks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    # On SQLite a concurrent writer may be told to try again ("busy"); every success is audited once.
    with app.app_context():
        done = db.session.scalar(select(func.count(HumanTask.id)).where(
            HumanTask.bpmn_id == "confirm_no_conflict", HumanTask.state == "COMPLETED"))
        postgres = db.engine.dialect.name == "postgresql"
    assert done >= 1 and len(_rows(app, "task.completed")) - before == done
    if postgres:  # row locks per instance, the chain's lock only at the end: nobody is refused
        assert statuses == [302] * len(open_tasks) and done == len(open_tasks)
    assert _chain_ok(app)
