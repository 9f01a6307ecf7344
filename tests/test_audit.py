"""The hash-chained audit log: building the chain, verifying it, tampering, the page, logins."""
from __future__ import annotations

import json
import threading

from flask import Flask
from sqlalchemy import select, text

from app.audit import service as audit
from app.audit.models import GENESIS_HASH, AuditEntry
from app.auth.models import User
from app.extensions import db
from tests.conftest import TEST_PASSWORD


def _entries() -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def _write_chain(app: Flask, count: int) -> None:
    """``count`` entries by one user, committed."""
    from app.auth.service import create_user

    with app.app_context():
        actor = create_user("auditor", TEST_PASSWORD, "Auditor", ["admin"])
        for i in range(count):
            audit.record("test.step", actor=actor, subject_type="thing", subject_id=i, details={"n": i, "名": "值"})
        db.session.commit()


def _verify(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def test_entries_are_chained_by_sha256(app_ctx: Flask) -> None:
    user = db.session.get(User, _user(app_ctx, "chain"))
    first = audit.record("test.first", actor=user, subject_type="plan", subject_id=7, details={"b": 2, "a": 1})
    second = audit.record("test.second", actor=None)
    db.session.commit()

    rows = _entries()
    assert [r.id for r in rows] == [1, 2]
    assert rows[0].prev_hash == GENESIS_HASH and rows[1].prev_hash == rows[0].hash
    assert all(len(r.hash) == 64 and int(r.hash, 16) >= 0 for r in rows)
    assert first.subject_id == "7" and first.actor_user_id == user.id and first.actor_name == "Chain (chain)"
    assert first.details == '{"a":1,"b":2}'  # canonical: sorted keys, no spaces
    assert second.actor_user_id is None and second.details == "{}"
    # The hash is re-computable from the stored row alone.
    assert audit.entry_hash(rows[0].prev_hash, id=1, at=rows[0].at, actor_user_id=user.id,
                            actor_name=rows[0].actor_name, action="test.first", subject_type="plan",
                            subject_id="7", details=rows[0].details) == rows[0].hash
    result = audit.verify_chain()
    assert result.ok and result.checked == 2 and result.first_bad_id is None and result.head_hash == rows[1].hash


def _user(app: Flask, username: str, *roles: str) -> int:
    from app.auth.service import create_user

    user = create_user(username, TEST_PASSWORD, username.title(), roles or ["admin"])
    db.session.commit()
    return user.id


def test_verify_passes_on_a_clean_chain(app: Flask) -> None:
    _write_chain(app, 5)
    result = _verify(app)
    assert result.exit_code == 0, result.output
    assert "audit chain OK: 5 entries" in result.output


def test_verify_passes_on_an_empty_log(app: Flask) -> None:
    result = _verify(app)
    assert result.exit_code == 0 and "audit chain OK: 0 entries" in result.output


def test_verify_names_the_row_whose_details_were_changed(app: Flask) -> None:
    _write_chain(app, 5)
    with app.app_context():
        db.session.execute(text("UPDATE audit_entry SET details = :d WHERE id = 3"), {"d": '{"n":99}'})
        db.session.commit()
        result = audit.verify_chain()
    assert not result.ok and result.first_bad_id == 3 and "changed" in result.problem

    cli = _verify(app)
    assert cli.exit_code == 1
    assert "row 3" in cli.output and "changed" in cli.output


def test_verify_names_the_row_after_a_removed_one(app: Flask) -> None:
    _write_chain(app, 5)
    with app.app_context():
        db.session.execute(text("DELETE FROM audit_entry WHERE id = 3"))
        db.session.commit()
        result = audit.verify_chain()
    assert not result.ok and result.first_bad_id == 4
    assert "id 3 missing" in result.problem

    cli = _verify(app)
    assert cli.exit_code == 1 and "row 4" in cli.output and "id 3 missing" in cli.output


def test_verify_sees_a_removal_hidden_by_renumbering(app: Flask) -> None:
    """Closing the gap in the ids does not help: the next row still points at the removed one."""
    _write_chain(app, 4)
    with app.app_context():
        db.session.execute(text("DELETE FROM audit_entry WHERE id = 2"))
        db.session.execute(text("UPDATE audit_entry SET id = id - 1 WHERE id = 3"))
        db.session.commit()
        result = audit.verify_chain()
    assert not result.ok and result.first_bad_id == 2 and "does not link" in result.problem


def test_verify_sees_a_change_whose_hash_was_recomputed(app: Flask) -> None:
    """Re-hashing the changed row to hide the change breaks the link of the row after it."""
    _write_chain(app, 5)
    with app.app_context():
        row = db.session.get(AuditEntry, 3)
        forged = '{"n":99}'
        new_hash = audit.entry_hash(row.prev_hash, id=3, at=row.at, actor_user_id=row.actor_user_id,
                                    actor_name=row.actor_name, action=row.action, subject_type=row.subject_type,
                                    subject_id=row.subject_id, details=forged)
        db.session.execute(text("UPDATE audit_entry SET details = :d, hash = :h WHERE id = 3"),
                           {"d": forged, "h": new_hash})
        db.session.commit()
    cli = _verify(app)
    assert cli.exit_code == 1
    assert "row 4 does not link" in cli.output


def test_concurrent_writers_keep_the_chain_linear(app: Flask) -> None:
    _write_chain(app, 1)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with app.app_context():
                for i in range(10):
                    audit.record("test.concurrent", actor=None, details={"writer": n, "i": i})
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    with app.app_context():
        result = audit.verify_chain()
        assert result.ok and result.checked == 31


def test_logins_are_audited_without_passwords(app: Flask, client, make_user) -> None:  # type: ignore[no-untyped-def]
    make_user("someone", "drafter")
    assert client.post("/login", data={"username": "someone", "password": "wrong-password"}).status_code == 200
    assert client.post("/login", data={"username": "someone", "password": TEST_PASSWORD}).status_code == 302
    with app.app_context():
        rows = _entries()
        assert [r.action for r in rows] == ["auth.login_failed", "auth.login"]
        failed, ok = rows
        assert failed.actor_user_id is None and json.loads(failed.details)["username"] == "someone"
        assert ok.actor_name == "Someone (someone)" and ok.subject_type == "user"
        for row in rows:
            assert TEST_PASSWORD not in row.details and "wrong-password" not in row.details
        assert audit.verify_chain().ok


def test_the_audit_page_is_for_admins_and_compliance(app: Flask, make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    make_user("inspector1", "inspector")
    make_user("compliance1", "compliance_reviewer")
    make_user("admin1", "admin")
    assert login_as("inspector1").get("/admin/audit").status_code == 403

    compliance = login_as("compliance1")
    page = compliance.get("/admin/audit")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('data-testid="audit-row"') == 2  # the two logins so far, newest first
    assert html.index("compliance1") < html.index("inspector1")
    assert login_as("admin1").get("/admin/audit").status_code == 200

    filtered = compliance.get("/admin/audit?action=auth.login_failed").get_data(as_text=True)
    assert 'data-testid="audit-row"' not in filtered
    with app.app_context():
        audit.record("test.other", actor=None, details={"x": "<script>alert(1)</script>"})
        db.session.commit()
    only = compliance.get("/admin/audit?action=test.other").get_data(as_text=True)
    assert only.count('data-testid="audit-row"') == 1
    assert "<script>alert(1)" not in only and "&lt;script&gt;" in only


def test_list_entries_filters_and_pages(app_ctx: Flask) -> None:
    for i in range(5):
        audit.record("test.a" if i % 2 else "test.b", actor=None, subject_type="case", subject_id=i)
    db.session.commit()
    page = audit.list_entries(page=1, per_page=2)
    assert page.total == 5 and [e.id for e in page.items] == [5, 4] and page.pages == 3
    assert [e.id for e in audit.list_entries(action="test.a").items] == [4, 2]
    assert [e.id for e in audit.list_entries(subject_type="case", subject_id=3).items] == [4]
    assert audit.actions() == ["test.a", "test.b"]
