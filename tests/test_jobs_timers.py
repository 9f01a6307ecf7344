"""Background jobs: the clock, firing due timers once, concurrent and killed workers, the worker."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

import SpiffWorkflow.bpmn.specs.event_definitions.timer as spiff_timer
from app.extensions import db
from app.jobs import bind_app, huey
from app.jobs.timers import fire_due_timers
from tests.conftest import BACKEND, _wipe, build_app
from workflows import clock, engine
from workflows.models import HumanTask, HumanTaskState, ProcessEvent, ProcessInstance

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEST_BPMN = Path(__file__).parent / "bpmn"

# The same shape as engine_timer, with a duration timer ("two hours after the task opened").
DURATION_TIMER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="jobs_duration_definitions" targetNamespace="http://suiji.local/bpmn/tests">
  <bpmn:process id="jobs_duration" name="Duration timer" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_drafter" name="drafter">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>answer</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>late</bpmn:flowNodeRef><bpmn:flowNodeRef>end</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end_late</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="answer" name="Answer">
      <bpmn:extensionElements>
        <spiffworkflow:properties><spiffworkflow:property name="formKey" value="engine.draft" /></spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="two_hours" name="Two hours passed" attachedToRef="answer">
      <bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:timerEventDefinition id="two_hours_timer">
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT2H"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_late"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="answer" />
    <bpmn:sequenceFlow id="f2" sourceRef="answer" targetRef="end" />
    <bpmn:sequenceFlow id="f3" sourceRef="two_hours" targetRef="end_late" />
  </bpmn:process>
</bpmn:definitions>
"""

# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bpmn_dirs(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    extra = tmp_path_factory.mktemp("jobs_bpmn")
    (extra / "jobs_duration.bpmn").write_text(DURATION_TIMER)
    return [str(TEST_BPMN), str(extra)]


@pytest.fixture(scope="module")
def jobs_app(migrated: str, bpmn_dirs: list[str]) -> Iterator[Flask]:
    application = build_app(migrated, BPMN_EXTRA_DIRS=bpmn_dirs)
    bind_app(application)  # jobs run in this app (immediate mode: TestConfig.JOBS_IMMEDIATE)
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def ctx(jobs_app: Flask) -> Iterator[Flask]:
    bind_app(jobs_app)
    clock.reset()
    with jobs_app.app_context():
        yield jobs_app
        db.session.remove()
    clock.reset()
    _wipe(jobs_app)


def start_cases(count: int, deadline: datetime, *, at: datetime) -> list[int]:
    """``count`` engine_timer instances started at ``at`` whose deadline is ``deadline``."""
    items = [engine.StartItem("case", n, f"Case {n}", {"deadline": deadline.isoformat()}) for n in range(count)]
    with clock.frozen_at(at):
        ids = engine.start_processes("engine_timer", items, user_id=None)
        db.session.commit()
    return ids


def fired_events(instance_id: int | None = None) -> int:
    stmt = select(func.count()).select_from(ProcessEvent).where(
        ProcessEvent.bpmn_id == "deadline_passed", ProcessEvent.event == "completed")
    if instance_id is not None:
        stmt = stmt.where(ProcessEvent.instance_id == instance_id)
    return db.session.scalar(stmt)


def assert_each_fired_once(ids: list[int]) -> None:
    db.session.expire_all()
    rows = db.session.execute(
        select(ProcessEvent.instance_id, func.count())
        .where(ProcessEvent.bpmn_id == "deadline_passed", ProcessEvent.event == "completed")
        .group_by(ProcessEvent.instance_id)
    ).all()
    assert dict(rows) == {i: 1 for i in ids}
    versions = dict(db.session.execute(select(ProcessInstance.id, ProcessInstance.version)
                                       .where(ProcessInstance.id.in_(ids))).all())
    assert versions == {i: 2 for i in ids}
    escalated = db.session.scalar(select(func.count()).select_from(HumanTask).where(
        HumanTask.instance_id.in_(ids), HumanTask.bpmn_id == "escalated"))
    assert escalated == len(ids)  # no duplicate projection either
    assert db.session.scalar(select(func.count()).select_from(ProcessInstance).where(
        ProcessInstance.id.in_(ids), ProcessInstance.next_timer_at.is_not(None))) == 0


# --- the clock --------------------------------------------------------------------------------


def test_clock_is_real_time_by_default_and_settable() -> None:
    clock.reset()
    before = datetime.now(timezone.utc)
    assert before <= clock.now() <= datetime.now(timezone.utc)
    at = datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    with clock.frozen_at(at):
        assert clock.now() == at
        assert clock.advance(timedelta(minutes=5)) == at + timedelta(minutes=5)
    assert clock.is_real()
    clock.advance(timedelta(days=1))
    assert clock.now() - datetime.now(timezone.utc) > timedelta(hours=23)
    clock.reset()
    with pytest.raises(ValueError):
        clock.set_now(datetime(2031, 1, 1))  # naive


def test_spiffworkflow_timer_module_reads_the_clock() -> None:
    # Installed once; every other attribute is the real datetime class, and values stay plain.
    assert spiff_timer.datetime is clock.SpiffDatetime
    at = datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    with clock.frozen_at(at):
        assert spiff_timer.datetime.now(timezone.utc) == at
        assert spiff_timer.datetime.now().tzinfo is None
    parsed = spiff_timer.TimerEventDefinition.parse_time_or_duration("2031-05-06T15:08:09+08:00")
    assert type(parsed) is datetime and parsed == at
    assert isinstance(parsed, spiff_timer.datetime)
    assert spiff_timer.datetime.fromisoformat("2031-05-06").year == 2031


# --- firing ------------------------------------------------------------------------------------


def test_nothing_fires_before_due_and_it_fires_once_at_due(ctx: Flask) -> None:
    # Ten days in the real past: had SpiffWorkflow read the real time, the timer would fire at once.
    t0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=10)
    deadline = t0 + timedelta(hours=1)
    [iid] = start_cases(1, deadline, at=t0)
    instance = db.session.get(ProcessInstance, iid)
    assert instance.next_timer_at == deadline and instance.version == 1

    clock.set_now(t0)
    assert fire_due_timers().claimed == 0
    clock.set_now(deadline - timedelta(seconds=1))
    assert fire_due_timers().claimed == 0
    engine.fire_timers(iid)  # asked directly, the engine does not fire early either
    db.session.expire_all()
    assert db.session.get(ProcessInstance, iid).version == 1 and fired_events() == 0

    clock.set_now(deadline + timedelta(seconds=1))
    result = fire_due_timers()
    assert result.fired == [iid] and not result.failed and not result.conflicts
    assert_each_fired_once([iid])
    states = dict(db.session.execute(select(HumanTask.bpmn_id, HumanTask.state)
                                     .where(HumanTask.instance_id == iid)).all())
    assert states == {"wait_task": HumanTaskState.CANCELLED, "escalated": HumanTaskState.READY}

    # Later passes find nothing, and firing the instance again writes nothing.
    clock.advance(timedelta(days=1))
    assert fire_due_timers().claimed == 0
    events = db.session.scalar(select(func.count()).select_from(ProcessEvent).where(ProcessEvent.instance_id == iid))
    engine.fire_timers(iid)
    db.session.expire_all()
    assert db.session.get(ProcessInstance, iid).version == 2
    assert db.session.scalar(select(func.count()).select_from(ProcessEvent)
                             .where(ProcessEvent.instance_id == iid)) == events


def test_a_duration_timer_is_fixed_and_checked_by_the_clock(ctx: Flask) -> None:
    t0 = datetime(2031, 3, 1, 1, 0, tzinfo=timezone.utc)
    with clock.frozen_at(t0):
        instance = engine.start_process("jobs_duration", subject_type="case", subject_id=1, subject_title="d",
                                        data={}, user_id=None)
        db.session.commit()
        iid = instance.id
        assert instance.next_timer_at == t0 + timedelta(hours=2)
        clock.advance(timedelta(hours=1, minutes=59))
        assert fire_due_timers().claimed == 0
        clock.advance(timedelta(minutes=2))
        assert fire_due_timers().fired == [iid]
    db.session.expire_all()
    instance = db.session.get(ProcessInstance, iid)
    assert instance.status == "completed" and instance.next_timer_at is None


def test_the_poll_job_and_the_cli_fire_due_timers(ctx: Flask) -> None:
    from app.jobs.tasks import poll_timers

    t0 = datetime(2031, 1, 1, tzinfo=timezone.utc)
    ids = start_cases(3, t0 + timedelta(hours=1), at=t0)
    clock.set_now(t0 + timedelta(hours=2))
    assert huey.immediate
    poll_timers()  # immediate mode: runs inline
    assert_each_fired_once(ids)

    more = start_cases(2, t0 + timedelta(hours=3), at=t0)
    clock.set_now(t0 + timedelta(hours=4))
    out = ctx.test_cli_runner().invoke(args=["jobs", "fire-timers", "--limit", "1", "--all"])
    assert out.exit_code == 0, out.output
    assert "fired 2, conflicts 0, failed 0" in out.output
    assert_each_fired_once(ids + more)


# --- concurrency ---------------------------------------------------------------------------------


def _two_workers(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Run two polling passes at once, each in its own thread, app context and connection."""
    original = engine._save

    def slow_save(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        time.sleep(0.005)  # keep both workers busy at the same time

    monkeypatch.setattr(engine, "_save", slow_save)
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]
    errors: list[BaseException] = []

    def work(slot: int) -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                results[slot] = fire_due_timers(limit=1000)
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(slot,)) for slot in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return results


@pytest.mark.postgres_only
@pytest.mark.skipif(BACKEND != "postgres", reason="SKIP LOCKED needs PostgreSQL")
def test_two_workers_on_postgresql_fire_every_timer_exactly_once(
    ctx: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    t0 = datetime.now(timezone.utc) - timedelta(days=1)
    ids = start_cases(50, t0 + timedelta(minutes=5), at=t0)
    a, b = _two_workers(ctx, monkeypatch)
    assert not a.conflicts and not b.conflicts and not a.failed and not b.failed
    assert a.fired and b.fired, "both workers should have taken a share"
    assert set(a.fired).isdisjoint(b.fired)  # SKIP LOCKED: never the same instance
    assert sorted(a.fired + b.fired) == sorted(ids)
    assert_each_fired_once(ids)


def test_two_workers_at_once_never_fire_a_timer_twice(ctx: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Any backend: on SQLite both may pick the same instance; the version check lets one win."""
    t0 = datetime.now(timezone.utc) - timedelta(days=1)
    ids = start_cases(20, t0 + timedelta(minutes=5), at=t0)
    a, b = _two_workers(ctx, monkeypatch)
    assert not a.failed and not b.failed
    assert sorted(set(a.fired + b.fired)) == sorted(ids)
    assert_each_fired_once(ids)


# --- a worker killed mid-batch -----------------------------------------------------------------

KILLED_WORKER = r"""
import os, signal, sys
sys.path.insert(0, sys.argv[4])
from tests.conftest import build_app
from app.jobs import bind_app
from app.jobs.timers import fire_due_timers
from workflows import engine

app = build_app(sys.argv[1], BPMN_EXTRA_DIRS=sys.argv[2].split(os.pathsep))
bind_app(app)
survive = int(sys.argv[3])
saved = 0
original = engine._save

def save_then_die(session, loaded, recorder):
    global saved
    original(session, loaded, recorder)
    session.flush()  # the firing is written, not committed
    saved += 1
    if saved > survive:
        os.kill(os.getpid(), signal.SIGKILL)

engine._save = save_then_die
with app.app_context():
    fire_due_timers(limit=1000)
print("not killed")
"""


def test_a_worker_killed_mid_batch_loses_nothing_and_fires_nothing_twice(
    ctx: Flask, database_url: str, bpmn_dirs: list[str]
) -> None:
    # Due in real time (the child process has its own, real clock), not at their start.
    t0 = datetime.now(timezone.utc) - timedelta(hours=2)
    ids = start_cases(12, t0 + timedelta(hours=1), at=t0)
    db.session.remove()

    child = subprocess.run(
        [sys.executable, "-c", KILLED_WORKER, database_url, os.pathsep.join(bpmn_dirs), "5", str(PROJECT_ROOT)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr

    # Five firings committed before the kill; the sixth died uncommitted and was rolled back.
    db.session.expire_all()
    assert fired_events() == 5
    versions = db.session.execute(select(ProcessInstance.version, func.count())
                                  .where(ProcessInstance.id.in_(ids)).group_by(ProcessInstance.version)).all()
    assert dict(versions) == {2: 5, 1: 7}

    # The restarted worker fires the rest, and nothing twice. (On PostgreSQL the dead
    # worker's row lock lasts until the server notices the closed connection: a pass
    # meanwhile skips that row, the next one takes it.)
    fired: list[int] = []
    deadline = time.monotonic() + 30
    while len(fired) < 7 and time.monotonic() < deadline:
        result = fire_due_timers()
        assert not result.failed and not result.conflicts
        fired += result.fired
        time.sleep(0.1)
    assert sorted(fired) == sorted(set(fired)) and len(fired) == 7
    assert_each_fired_once(ids)


# --- the real worker ---------------------------------------------------------------------------

WORKER = r"""
import os, sys
sys.path.insert(0, sys.argv[4])
from tests.conftest import build_app

app = build_app(sys.argv[1], BPMN_EXTRA_DIRS=sys.argv[2].split(os.pathsep), JOBS_IMMEDIATE=False,
                JOBS_BACKEND="sqlite", JOBS_SQLITE_PATH=sys.argv[3], TIMER_POLL_SECONDS=1)
result = app.test_cli_runner().invoke(args=["jobs", "worker", "--workers", "2", "--worker-type", "process"])
print(result.output)
if result.exception and not isinstance(result.exception, SystemExit):
    raise result.exception
"""


def test_the_worker_processes_poll_and_fire_timers(
    ctx: Flask, database_url: str, bpmn_dirs: list[str], tmp_path: Path
) -> None:
    t0 = datetime.now(timezone.utc) - timedelta(hours=2)
    ids = start_cases(6, t0 + timedelta(hours=1), at=t0)
    db.session.remove()
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, database_url, os.pathsep.join(bpmn_dirs), str(tmp_path / "huey.db"),
         str(PROJECT_ROOT)],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker.poll() is None:
            db.session.expire_all()
            if fired_events() == len(ids):
                break
            db.session.remove()
            time.sleep(0.3)
    finally:
        worker.send_signal(signal.SIGINT)  # Huey's graceful stop
        try:
            output, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
    assert fired_events() == len(ids), output
    assert_each_fired_once(ids)
    assert "poll_timers" in output
