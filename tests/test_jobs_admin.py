"""Background jobs: failures recorded and retried, the admin page, the storage settings."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.auth.service import create_user
from app.extensions import db
from app.jobs import job, storage_settings
from app.jobs.models import JobFailure
from app.jobs.timers import fire_due_timers
from tests.conftest import TEST_PASSWORD, login
from tests.test_jobs_timers import (  # noqa: F401  (fixtures)
    assert_each_fired_once,
    bpmn_dirs,
    ctx,
    jobs_app,
    start_cases,
)
from workflows import clock, engine
from workflows.models import ProcessInstance

FLAKY: dict[str, Any] = {"fail": True, "ran": []}


@job()
def flaky_job(number: int, *, label: str = "") -> str:
    if FLAKY["fail"]:
        raise ValueError(f"flaky {number}")
    FLAKY["ran"].append((number, label))
    return label


def client_for(app: Flask, username: str, *roles: str) -> FlaskClient:
    with app.app_context():
        create_user(username, TEST_PASSWORD, username.title(), roles)
        db.session.commit()
    client = app.test_client()
    login(client, username)
    return client


# --- failures and retry -----------------------------------------------------------------------


def test_a_failing_job_is_recorded_and_retry_runs_it_again(ctx: Flask) -> None:
    FLAKY.update(fail=True, ran=[])
    flaky_job(7, label="seven")  # immediate mode: runs now, fails, Huey signals the error
    failure = db.session.scalars(select(JobFailure)).one()
    assert failure.job_name == "tests.test_jobs_admin.flaky_job"
    assert (failure.args, failure.kwargs) == ([7], {"label": "seven"})
    assert failure.error == "ValueError: flaky 7" and "Traceback" in failure.traceback
    assert failure.retried_at is None and failure.huey_task_id

    admin = client_for(ctx, "admin", "admin")
    FLAKY["fail"] = False
    response = admin.post(f"/admin/jobs/failures/{failure.id}/retry")
    assert response.status_code == 302
    assert FLAKY["ran"] == [(7, "seven")]
    db.session.expire_all()
    assert db.session.get(JobFailure, failure.id).retried_at is not None

    # A second retry of the same row is refused; the job does not run again.
    page = admin.post(f"/admin/jobs/failures/{failure.id}/retry", follow_redirects=True)
    assert b"alert-warning" in page.data  # "That job was already retried."
    assert FLAKY["ran"] == [(7, "seven")]


def test_a_firing_that_raises_is_recorded_postponed_and_retried(
    ctx: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    t0 = datetime(2031, 1, 1, tzinfo=timezone.utc)
    bad, good = start_cases(2, t0 + timedelta(hours=1), at=t0)
    original = engine.fire_timers

    def broken(instance_id: int) -> ProcessInstance:
        if instance_id == bad:
            raise RuntimeError("boom")
        return original(instance_id)

    monkeypatch.setattr(engine, "fire_timers", broken)
    now = t0 + timedelta(hours=2)
    clock.set_now(now)
    result = fire_due_timers()
    assert result.failed == [bad] and result.fired == [good]
    failure = db.session.scalars(select(JobFailure)).one()
    assert failure.job_name == "app.jobs.tasks.fire_instance_timers" and failure.args == [bad]
    assert failure.error == "RuntimeError: boom"
    db.session.expire_all()
    postponed = db.session.get(ProcessInstance, bad)
    assert postponed.version == 1
    assert postponed.next_timer_at == now + timedelta(seconds=ctx.config["TIMER_RETRY_SECONDS"])
    assert fire_due_timers().claimed == 0  # not retried in every pass

    monkeypatch.setattr(engine, "fire_timers", original)
    admin = client_for(ctx, "admin", "admin")
    assert admin.post(f"/admin/jobs/failures/{failure.id}/retry").status_code == 302
    assert_each_fired_once([bad, good])


# --- the admin page ---------------------------------------------------------------------------


def test_the_admin_page_is_for_admins_only(ctx: Flask) -> None:
    anonymous = ctx.test_client()
    assert anonymous.get("/admin/jobs").status_code == 302  # to the login page
    drafter = client_for(ctx, "drafter", "drafter")
    assert drafter.get("/admin/jobs").status_code == 403
    FLAKY.update(fail=True, ran=[])
    flaky_job(1)
    failure_id = db.session.scalar(select(JobFailure.id))
    assert drafter.post(f"/admin/jobs/failures/{failure_id}/retry").status_code == 403
    assert db.session.get(JobFailure, failure_id).retried_at is None


def test_the_admin_page_lists_the_next_timers_and_the_failures(ctx: Flask) -> None:
    t0 = datetime(2031, 1, 1, 0, 0, tzinfo=timezone.utc)
    start_cases(2, t0 + timedelta(hours=1), at=t0)  # 09:00 in Shanghai
    later = start_cases(1, t0 + timedelta(days=3), at=t0)
    FLAKY.update(fail=True, ran=[])
    flaky_job(3, label="three")
    clock.set_now(t0 + timedelta(hours=2))

    admin = client_for(ctx, "admin", "admin")
    page = admin.get("/admin/jobs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Case 0" in html and "engine_timer" in html
    assert "2031-01-01 09:00:00" in html  # next_timer_at shown in Asia/Shanghai
    assert "2031-01-04 08:00:00" in html
    due = re.search(r'data-testid="due-count">([^<]*)<', html)
    assert due and re.search(r"(?<!\d)2(?!\d)", due.group(1)), due
    assert "tests.test_jobs_admin.flaky_job" in html and "ValueError: flaky 3" in html
    assert "/admin/jobs/failures/" in html and "/retry" in html
    assert later


# --- storage ----------------------------------------------------------------------------------


def test_storage_comes_from_the_settings(tmp_path: Any) -> None:
    from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

    cls, kwargs = storage_settings({"JOBS_SQLITE_PATH": str(tmp_path / "q" / "huey.db")})
    assert cls is SqliteStorage and kwargs == {"filename": str(tmp_path / "q" / "huey.db")}
    assert (tmp_path / "q").is_dir()
    assert storage_settings({"REDIS_URL": "redis://h:6379/2", "JOBS_SQLITE_PATH": "x"}) == (
        RedisStorage, {"url": "redis://h:6379/2"})
    assert storage_settings({"JOBS_BACKEND": "memory"})[0] is MemoryStorage
    with pytest.raises(ValueError):
        storage_settings({"JOBS_BACKEND": "carrier-pigeon"})


def test_redis_storage_round_trip() -> None:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/15", socket_connect_timeout=1).ping()
    except Exception:  # noqa: BLE001
        pytest.skip("no Redis at 127.0.0.1:6379")
    from huey import Huey

    cls, kwargs = storage_settings({"JOBS_BACKEND": "redis", "REDIS_URL": "redis://127.0.0.1:6379/15"})
    queue = Huey(f"suiji-test-{uuid.uuid4().hex[:8]}", storage_class=cls, **kwargs)
    try:
        queue.storage.enqueue(b"hello")
        assert queue.storage.dequeue() == b"hello"
    finally:
        queue.storage.flush_all()
