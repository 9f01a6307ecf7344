"""The engine wrapper against a real database, with the test diagrams in tests/bpmn."""
from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text, update

from app.auth.models import User
from app.auth.service import create_user
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from tests.conftest import BACKEND, TEST_PASSWORD, _wipe, build_app
from workflows import engine
from workflows.models import (
    HumanTask,
    HumanTaskCandidate,
    HumanTaskState,
    InstanceStatus,
    ProcessEvent,
    ProcessInstance,
    ProcessSpec,
)
from workflows.registry import FormNotRegistered, service_task, task_form
from workflows.serializer import serialize_full

TEST_BPMN = Path(__file__).parent / "bpmn"

# --- what the test diagrams call --------------------------------------------------------------

SERVICE_CALLS: list[dict[str, Any]] = []


@task_form("engine.draft")
def _draft_form(data: dict[str, Any], task: HumanTask, user: User) -> dict[str, Any]:
    return {"draft_note": str(data.get("note", ""))}


def _decision(data: dict[str, Any], allowed: tuple[str, ...]) -> str:
    decision = data.get("decision")
    if decision not in allowed:
        raise ValidationFailed({"decision": [f"one of {', '.join(allowed)}"]})
    return decision


@task_form("engine.review")
def _review_form(data: dict[str, Any], task: HumanTask, user: User) -> dict[str, Any]:
    decision = _decision(data, ("approve", "return", "explode"))
    if data.get("slow"):  # lets racing threads both pass the READY pre-check before either commits
        time.sleep(0.2)
    return {"legal_decision": decision, "legal_comments": str(data.get("comments", "")), "legal_reviewer_id": user.id}


@task_form("engine.approve")
def _approve_form(data: dict[str, Any], task: HumanTask, user: User) -> dict[str, Any]:
    return {"leader_decision": _decision(data, ("approve", "return")), "approved_by_id": user.id}


@service_task("engine.publish")
def _publish(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    SERVICE_CALLS.append({"instance": instance.id, "params": params})
    return {"published_note": params["note"], "fee": Decimal("1.50"), "published_on": date(2026, 11, 2)}


@service_task("engine.risky")
def _risky(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> None:
    # Inside the completing transaction: the task being completed is already COMPLETED here,
    # and what we write commits (or rolls back) with it.
    states = set(
        db.session.scalars(select(HumanTask.state).where(HumanTask.instance_id == instance.id, HumanTask.bpmn_id == "review"))
    )
    SERVICE_CALLS.append({"instance": instance.id, "review_states": states})
    reviewer = db.session.get(User, data["legal_reviewer_id"])
    reviewer.display_name = "touched by the service task"
    if params["fail"]:
        raise RuntimeError("the service failed")


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine_app(migrated: str) -> Iterator[Flask]:
    application = build_app(migrated, BPMN_EXTRA_DIRS=[str(TEST_BPMN)])
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def ctx(engine_app: Flask) -> Iterator[Flask]:
    SERVICE_CALLS.clear()
    with engine_app.app_context():
        yield engine_app
        db.session.remove()
    _wipe(engine_app)
    engine.clear_caches(engine_app)


def make_user(username: str, *roles: str) -> User:
    user = create_user(username, TEST_PASSWORD, username.title(), roles)
    db.session.commit()
    return user


@pytest.fixture
def people(ctx: Flask) -> dict[str, User]:
    return {
        "drafter": make_user("drafter", "drafter"),
        "drafter2": make_user("drafter2", "drafter"),
        "reviewer": make_user("reviewer", "legal_reviewer"),
        "reviewer2": make_user("reviewer2", "legal_reviewer"),
        "leader": make_user("leader", "leader"),
        "leader2": make_user("leader2", "leader"),
        "admin": make_user("admin", "admin"),
        "compliance": make_user("compliance", "compliance_reviewer"),
        # Holds both roles: separation of duty must still stop them reviewing their own draft.
        "double": make_user("double", "drafter", "legal_reviewer", "admin"),
    }


def start_approval(drafter: User, leaders: list[User], plan_id: int = 7) -> ProcessInstance:
    instance = engine.start_process(
        "engine_approval",
        subject_type="plan",
        subject_id=plan_id,
        subject_title=f"Plan {plan_id}",
        data={"plan_id": plan_id, "drafter_id": drafter.id, "leader_ids": [u.id for u in leaders]},
        user_id=drafter.id,
    )
    db.session.commit()
    return instance


def ready(instance_id: int) -> list[HumanTask]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.state == HumanTaskState.READY)
        )
    )


def only_ready(instance_id: int, bpmn_id: str) -> HumanTask:
    tasks = ready(instance_id)
    assert [t.bpmn_id for t in tasks] == [bpmn_id]
    return tasks[0]


def final_data(instance_id: int) -> dict[str, Any]:
    return engine._load(db.session, instance_id, lock=False).workflow.data


def version_of(instance_id: int) -> int:
    return db.session.scalar(select(ProcessInstance.version).where(ProcessInstance.id == instance_id))


def event_count(instance_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(ProcessEvent).where(ProcessEvent.instance_id == instance_id))


# --- lifecycle ----------------------------------------------------------------------------------


def test_two_lane_approval_with_return_loop(people: dict[str, User]) -> None:
    d, r, leader = people["drafter"], people["reviewer"], people["leader"]
    instance = start_approval(d, [leader])
    iid = instance.id

    draft = only_ready(iid, "draft")
    assert (draft.role, draft.lane, draft.title, draft.form_key) == ("drafter", "drafter", "Draft", "engine.draft")
    assert draft.assignee_id == d.id and draft.assigned_by_process
    assert (draft.subject_type, draft.subject_id, draft.subject_title) == ("plan", 7, "Plan 7")
    assert draft.due_at - draft.created_at == timedelta(days=3)
    assert not engine.can_act(draft, people["drafter2"])  # assigned to d by the diagram

    engine.complete_task(draft.id, d, {"note": "first"})
    review = only_ready(iid, "legal_review")
    assert review.excluded_user_ids == [d.id] and review.assignee_id is None
    assert review.due_at - review.created_at == timedelta(days=5)

    engine.complete_task(review.id, r, {"decision": "return", "comments": "cite the law"})
    redraft = only_ready(iid, "draft")
    assert redraft.id != draft.id and redraft.assignee_id == d.id
    assert engine.task_context(redraft.id)["legal_comments"] == "cite the law"

    engine.complete_task(redraft.id, d, {"note": "second"})
    engine.complete_task(only_ready(iid, "legal_review").id, r, {"decision": "approve"})
    approval = only_ready(iid, "leader_approval")
    assert approval.excluded_user_ids == sorted([d.id, r.id])
    assert approval.has_candidates
    assert set(db.session.scalars(select(HumanTaskCandidate.user_id).where(HumanTaskCandidate.task_id == approval.id))) == {
        leader.id
    }
    with pytest.raises(Forbidden):  # a leader, but not a named candidate
        engine.complete_task(approval.id, people["leader2"], {"decision": "approve"})

    done = engine.complete_task(approval.id, leader, {"decision": "approve"})
    assert done.status == InstanceStatus.COMPLETED and done.completed_at is not None
    assert ready(iid) == []
    assert SERVICE_CALLS == [{"instance": iid, "params": {"note": "plan 7", "by": leader.id}}]

    data = final_data(iid)
    assert data["status"] == "published" and data["rounds"] == 2  # "a" in "approve", plus one
    assert data["fee"] == Decimal("1.50") and data["published_on"] == date(2026, 11, 2)  # custom conversions
    assert not any(k.startswith("spiff__") for k in data)  # no service-result placeholder

    path = engine.instance_path(iid)
    assert [e.bpmn_id for e in path] == [
        "start", "draft", "legal_review", "legal_gateway",
        "draft", "legal_review", "legal_gateway", "leader_approval", "leader_gateway", "publish", "finish", "end",
    ]
    assert all(e.event == "completed" for e in path)
    by_id = {(e.bpmn_id, e.user_id) for e in path if e.element_type == "UserTask"}
    assert by_id == {("draft", d.id), ("legal_review", r.id), ("leader_approval", leader.id)}
    assert path[0].user_id == d.id  # who started it
    first_review = path[2]
    assert first_review.data["legal_decision"] == "return" and first_review.data["legal_reviewer_id"] == r.id
    assert path[9].element_type == "ServiceTask" and path[9].data["fee"] == "1.50"
    assert path[3].element_type == "ExclusiveGateway"


def test_wrong_role_and_separation_of_duty(people: dict[str, User]) -> None:
    double = people["double"]  # drafter + legal_reviewer + admin
    instance = start_approval(double, [people["leader"]])
    engine.complete_task(only_ready(instance.id, "draft").id, double, {"note": "x"})
    review = only_ready(instance.id, "legal_review")

    with pytest.raises(Forbidden):  # holds the role, but drafted the plan: admin does not help
        engine.complete_task(review.id, double, {"decision": "approve"})
    with pytest.raises(Forbidden):  # wrong role
        engine.complete_task(review.id, people["leader"], {"decision": "approve"})
    with pytest.raises(Forbidden):  # admin without the role
        engine.complete_task(review.id, people["admin"], {"decision": "approve"})
    assert not engine.can_act(review, double) and engine.can_act(review, people["reviewer"])
    assert only_ready(instance.id, "legal_review").id == review.id


def test_completing_twice_is_a_conflict(people: dict[str, User]) -> None:
    d = people["drafter"]
    instance = start_approval(d, [people["leader"]])
    draft = only_ready(instance.id, "draft")
    engine.complete_task(draft.id, d, {"note": "x"})
    events = event_count(instance.id)
    with pytest.raises(Conflict, match="already done"):
        engine.complete_task(draft.id, d, {"note": "again"})
    assert event_count(instance.id) == events
    with pytest.raises(NotFound):
        engine.complete_task(999_999, d, {})


def test_a_task_not_ready_in_the_engine_cannot_be_completed(people: dict[str, User]) -> None:
    d = people["drafter"]
    instance = start_approval(d, [people["leader"]])
    draft = only_ready(instance.id, "draft")
    engine.complete_task(draft.id, d, {"note": "x"})
    # Corrupt the projection: the completed draft looks READY again. The engine must refuse,
    # since task.run() would happily run a task that is not READY.
    db.session.execute(update(HumanTask).where(HumanTask.id == draft.id).values(state=HumanTaskState.READY))
    db.session.commit()
    version, events = version_of(instance.id), event_count(instance.id)
    with pytest.raises(Conflict, match="not ready"):
        engine.complete_task(draft.id, d, {"note": "again"})
    assert version_of(instance.id) == version and event_count(instance.id) == events
    assert {t.bpmn_id for t in ready(instance.id)} == {"draft", "legal_review"}


def test_unregistered_form_key_is_refused(people: dict[str, User]) -> None:
    d = people["drafter"]
    instance = engine.start_process(
        "engine_unregistered", subject_type="plan", subject_id=1, subject_title="", data={}, user_id=d.id
    )
    db.session.commit()
    task = only_ready(instance.id, "u_task")
    with pytest.raises(FormNotRegistered):
        engine.complete_task(task.id, d, {"anything": 1})
    assert only_ready(instance.id, "u_task").id == task.id


def test_form_validation_errors_change_nothing(people: dict[str, User]) -> None:
    d, r = people["drafter"], people["reviewer"]
    instance = start_approval(d, [people["leader"]])
    engine.complete_task(only_ready(instance.id, "draft").id, d, {})
    review = only_ready(instance.id, "legal_review")
    version = version_of(instance.id)
    with pytest.raises(ValidationFailed) as caught:
        engine.complete_task(review.id, r, {"decision": "maybe"})
    assert "decision" in caught.value.errors
    assert only_ready(instance.id, "legal_review").state == HumanTaskState.READY
    assert version_of(instance.id) == version


def test_claim_and_unclaim(people: dict[str, User]) -> None:
    d, r, r2 = people["drafter"], people["reviewer"], people["reviewer2"]
    instance = start_approval(d, [people["leader"]])
    draft = only_ready(instance.id, "draft")
    with pytest.raises(Forbidden):  # the diagram assigned it: only an admin releases it
        engine.unclaim_task(draft.id, d)
    engine.complete_task(draft.id, d, {})
    review = only_ready(instance.id, "legal_review")

    with pytest.raises(Forbidden):
        engine.claim_task(review.id, d)  # excluded
    assert engine.claim_task(review.id, r).assignee_id == r.id
    engine.claim_task(review.id, r)  # idempotent for the assignee
    with pytest.raises(Conflict):
        engine.claim_task(review.id, r2)
    with pytest.raises(Forbidden):
        engine.complete_task(review.id, r2, {"decision": "approve"})
    with pytest.raises(Forbidden):
        engine.unclaim_task(review.id, r2)
    assert engine.unclaim_task(review.id, r).assignee_id is None
    engine.claim_task(review.id, r2)
    assert engine.unclaim_task(review.id, people["admin"]).assignee_id is None
    engine.complete_task(review.id, r2, {"decision": "approve"})
    with pytest.raises(Conflict, match="already done"):
        engine.claim_task(review.id, r)


def test_can_view(people: dict[str, User]) -> None:
    d, r = people["drafter"], people["reviewer"]
    instance = start_approval(d, [people["leader"]])
    draft = only_ready(instance.id, "draft")
    assert engine.can_view(draft, d) and not engine.can_view(draft, r)
    assert engine.can_view(draft, people["compliance"]) and engine.can_view(draft, people["admin"])
    engine.complete_task(draft.id, d, {})
    db.session.refresh(draft)
    assert not engine.can_act(draft, r) and engine.can_view(draft, d)  # d completed it


# --- persistence --------------------------------------------------------------------------------


def test_spec_is_stored_once_and_instances_are_lean(people: dict[str, User]) -> None:
    d = people["drafter"]
    ids = [start_approval(d, [people["leader"]], plan_id=n).id for n in range(20)]
    engine.clear_caches()  # a fresh worker finds the row instead of inserting another
    ids.append(start_approval(d, [people["leader"]], plan_id=99).id)
    specs = db.session.scalars(select(ProcessSpec).where(ProcessSpec.process_id == "engine_approval")).all()
    assert len(specs) == 1
    assert {db.session.get(ProcessInstance, i).spec_id for i in ids} == {specs[0].id}
    assert specs[0].source_file == "engine_approval.bpmn"

    state = db.session.get(ProcessInstance, ids[0]).state
    assert "task_specs" not in state and "subprocess_specs" not in json.loads(state)
    full = serialize_full(engine._load(db.session, ids[0], lock=False).workflow)
    assert len(state) < len(full) - len(specs[0].serialized) // 2


def test_instance_stays_on_the_spec_it_started_with(people: dict[str, User], tmp_path: Path, migrated: str) -> None:
    d, r = people["drafter"], people["reviewer"]
    diagram = tmp_path / "engine_pinned.bpmn"
    shutil.copy(TEST_BPMN / "engine_approval.bpmn", diagram)
    source = diagram.read_text().replace('"engine_approval"', '"engine_pinned"')
    diagram.write_text(source)
    old_app = build_app(migrated, BPMN_DIR=str(tmp_path))
    with old_app.app_context():
        old = engine.start_process(
            "engine_pinned", subject_type="plan", subject_id=1, subject_title="old",
            data={"plan_id": 1, "drafter_id": d.id, "leader_ids": []}, user_id=d.id,
        )
        db.session.commit()
        old_id = old.id
        db.session.remove()

    # The diagram changes: after the draft the legal review is skipped and the leader approves.
    diagram.write_text(source.replace('targetRef="legal_review"', 'targetRef="leader_approval"').replace(
        '<bpmn:incoming>f_legal_ok</bpmn:incoming>', '<bpmn:incoming>f_legal_ok</bpmn:incoming><bpmn:incoming>f_drafted</bpmn:incoming>'
    ))
    new_app = build_app(migrated, BPMN_DIR=str(tmp_path))
    with new_app.app_context():
        new = engine.start_process(
            "engine_pinned", subject_type="plan", subject_id=2, subject_title="new",
            data={"plan_id": 2, "drafter_id": d.id, "leader_ids": [people["leader"].id]}, user_id=d.id,
        )
        db.session.commit()
        new_id = new.id
        engine.complete_task(only_ready(old_id, "draft").id, db.session.get(User, d.id), {})
        engine.complete_task(only_ready(new_id, "draft").id, db.session.get(User, d.id), {})
        assert only_ready(old_id, "legal_review")  # the old spec's path
        assert only_ready(new_id, "leader_approval")  # the new one's
        rows = db.session.scalars(select(ProcessSpec).where(ProcessSpec.process_id == "engine_pinned")).all()
        assert len(rows) == 2
        assert db.session.get(ProcessInstance, old_id).spec_id != db.session.get(ProcessInstance, new_id).spec_id
        engine.complete_task(only_ready(old_id, "legal_review").id, db.session.get(User, r.id), {"decision": "approve"})
        assert only_ready(old_id, "leader_approval")
        db.session.remove()


def test_waiting_timer_survives_restore_and_cancels_its_task(
    people: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    d = people["drafter"]
    deadline = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=1)
    instance = engine.start_process(
        "engine_timer", subject_type="case", subject_id=3, subject_title="late?",
        data={"deadline": deadline.isoformat()}, user_id=d.id,
    )
    db.session.commit()
    iid = instance.id
    wait = only_ready(iid, "wait_task")
    assert instance.next_timer_at == deadline
    assert engine.due_timer_instances() == []
    db.session.expire_all()

    restored = engine._load(db.session, iid, lock=False).workflow
    waiting = restored.waiting_events()
    assert [(w.event_type, w.value) for w in waiting] == [("TimeDateEventDefinition", deadline.isoformat())]
    version = version_of(iid)
    engine.fire_timers(iid)  # not due yet: nothing written
    assert version_of(iid) == version

    import SpiffWorkflow.bpmn.specs.event_definitions.timer as timer_module

    class Later(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return datetime.now(tz) + timedelta(hours=2)

    monkeypatch.setattr(timer_module, "datetime", Later)
    assert engine.due_timer_instances(datetime.now(timezone.utc) + timedelta(hours=2)) == [iid]
    engine.fire_timers(iid)
    db.session.expire_all()
    assert db.session.get(HumanTask, wait.id).state == HumanTaskState.CANCELLED
    escalated = only_ready(iid, "escalated")
    assert escalated.role == "leader"
    tail = [(e.bpmn_id, e.event) for e in engine.instance_path(iid)][-2:]
    assert set(tail) == {("wait_task", "cancelled"), ("deadline_passed", "completed")}
    assert db.session.get(ProcessInstance, iid).next_timer_at is None


def test_service_task_runs_in_the_transaction_and_its_failure_rolls_back_everything(people: dict[str, User]) -> None:
    r = people["reviewer"]
    instance = engine.start_process(
        "engine_service", subject_type="case", subject_id=5, subject_title="", data={}, user_id=None
    )
    db.session.commit()
    iid = instance.id
    review = only_ready(iid, "review")
    version, events = version_of(iid), event_count(iid)

    with pytest.raises(RuntimeError, match="the service failed"):
        engine.complete_task(review.id, r, {"decision": "explode"})
    db.session.expire_all()
    assert SERVICE_CALLS[-1]["review_states"] == {HumanTaskState.COMPLETED}  # ran inside the step
    assert only_ready(iid, "review").id == review.id  # no partial projection
    assert version_of(iid) == version and event_count(iid) == events
    assert db.session.get(User, r.id).display_name == "Reviewer"
    assert db.session.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.instance_id == iid)) == 1

    engine.complete_task(review.id, r, {"decision": "approve"})
    db.session.expire_all()
    assert db.session.get(User, r.id).display_name == "touched by the service task"  # committed with it
    assert only_ready(iid, "after").role == "leader"


def test_stale_version_is_a_conflict(people: dict[str, User], monkeypatch: pytest.MonkeyPatch) -> None:
    """The optimistic lock: a step computed from an outdated state is refused whole."""
    d = people["drafter"]
    instance = start_approval(d, [people["leader"]])
    draft = only_ready(instance.id, "draft")
    real_load = engine._load

    def stale_load(*args: Any, **kwargs: Any) -> Any:
        loaded = real_load(*args, **kwargs)
        # As if another step had committed after we read the row.
        db.session.execute(text("UPDATE process_instance SET version = version + 1 WHERE id = :i"), {"i": instance.id})
        return loaded

    monkeypatch.setattr(engine, "_load", stale_load)
    with pytest.raises(Conflict, match="changed meanwhile"):
        engine.complete_task(draft.id, d, {})
    monkeypatch.undo()
    assert only_ready(instance.id, "draft").id == draft.id
    assert version_of(instance.id) == 1
    engine.complete_task(draft.id, d, {})  # a retry succeeds
    assert only_ready(instance.id, "legal_review")


def test_start_process_does_not_commit(people: dict[str, User]) -> None:
    d = people["drafter"]
    engine.start_process(
        "engine_approval", subject_type="plan", subject_id=1, subject_title="",
        data={"drafter_id": d.id, "plan_id": 1}, user_id=d.id,
    )
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ProcessInstance)) == 0
    assert db.session.scalar(select(func.count()).select_from(HumanTask)) == 0
    # The spec row went with the rollback; the next start must not trust a stale id.
    engine.start_process(
        "engine_approval", subject_type="plan", subject_id=1, subject_title="",
        data={"drafter_id": d.id, "plan_id": 1}, user_id=d.id,
    )
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(ProcessSpec)) == 1


def test_missing_registrations_are_listed(ctx: Flask) -> None:
    missing = engine.missing_registrations()
    assert "engine.nobody_registered_this" in missing["forms"]
    assert "engine.draft" not in missing["forms"] and "engine.publish" not in missing["services"]


def test_unknown_process_and_missing_task(ctx: Flask) -> None:
    with pytest.raises(NotFound):
        engine.start_process("no_such_process", subject_type="x", subject_id=1, subject_title="", data={}, user_id=None)
    with pytest.raises(NotFound):
        engine.task_context(123_456)
    assert engine.instance_path(123_456) == []


# --- real concurrency (PostgreSQL) --------------------------------------------------------------


def _race(app: Flask, calls: list[tuple[int, int, dict[str, Any]]]) -> list[Any]:
    """Run complete_task calls at the same instant, each thread with its own session."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def worker(i: int, task_id: int, user_id: int, form: dict[str, Any]) -> None:
        with app.app_context():
            try:
                user = db.session.get(User, user_id)
                barrier.wait(timeout=10)
                results[i] = engine.complete_task(task_id, user, form).id
            except Exception as exc:  # collected for the assertions
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i, *call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


@pytest.mark.postgres_only
@pytest.mark.skipif(BACKEND != "postgres", reason="needs PostgreSQL row locks and two connections")
def test_two_users_complete_the_same_task_at_once(people: dict[str, User], engine_app: Flask) -> None:
    d, leader = people["drafter"], people["leader"]
    r1, r2 = people["reviewer"].id, people["reviewer2"].id
    for _ in range(5):  # a few rounds: the interleaving differs from run to run
        instance_id = start_approval(d, [leader]).id
        engine.complete_task(only_ready(instance_id, "draft").id, d, {})
        review_id = only_ready(instance_id, "legal_review").id
        db.session.commit()

        results = _race(
            engine_app,
            [(review_id, r1, {"decision": "approve", "slow": True}), (review_id, r2, {"decision": "return", "slow": True})],
        )

        winners = [x for x in results if isinstance(x, int)]
        losers = [x for x in results if isinstance(x, Exception)]
        assert len(winners) == 1 and len(losers) == 1, results
        assert isinstance(losers[0], Conflict) and losers[0].message == "already done"
        completions = db.session.scalars(
            select(ProcessEvent).where(
                ProcessEvent.instance_id == instance_id, ProcessEvent.bpmn_id == "legal_review", ProcessEvent.event == "completed"
            )
        ).all()
        assert len(completions) == 1
        assert len(ready(instance_id)) == 1  # either the leader's task or the redraft, once
        assert version_of(instance_id) == 3
        db.session.commit()


@pytest.mark.postgres_only
@pytest.mark.skipif(BACKEND != "postgres", reason="needs PostgreSQL row locks and two connections")
def test_two_tasks_of_one_instance_at_once_lose_nothing(people: dict[str, User], engine_app: Flask) -> None:
    r, leader = people["reviewer"].id, people["leader"].id
    instance_id = engine.start_process(
        "engine_parallel", subject_type="case", subject_id=1, subject_title="", data={}, user_id=None
    ).id
    db.session.commit()
    tasks = {t.bpmn_id: t.id for t in ready(instance_id)}
    db.session.commit()

    calls = [(tasks["task_a"], r, {"decision": "approve"}), (tasks["task_b"], leader, {"decision": "approve"})]
    results = _race(engine_app, calls)
    for i, result in enumerate(results):  # the instance lock serializes them; a Conflict may retry
        if isinstance(result, Conflict):
            results[i] = _race(engine_app, [calls[i]])[0]
    assert all(isinstance(x, int) for x in results), results
    db.session.expire_all()
    finished = db.session.get(ProcessInstance, instance_id)
    assert finished.status == InstanceStatus.COMPLETED and finished.version == 3
    assert [e.bpmn_id for e in engine.instance_path(instance_id)][-2:] == ["join", "end"]
