"""engine.start_processes: the same rows as start_process, written in bulk."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.auth.models import User
from app.extensions import db
from tests.conftest import _wipe, build_app
from tests.test_engine_workflow import make_user
from workflows import clock, engine
from workflows.models import HumanTask, HumanTaskCandidate, ProcessEvent, ProcessInstance, ProcessSpec
from workflows.registry import service_task
from SpiffWorkflow.util.task import TaskState

TEST_BPMN = Path(__file__).parent / "bpmn"
BENCH_BPMN = Path(__file__).parent.parent / "bench" / "bpmn"

# A service task before the first wait state: its handler needs a real instance (fallback path).
SERVICE_FIRST = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="bulk_service_definitions" targetNamespace="http://suiji.local/bpmn/tests">
  <bpmn:process id="bulk_service_first" name="Service first" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_leader" name="leader">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>stamp</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>check</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="stamp" name="Stamp">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="engine.bulk_stamp">
          <spiffworkflow:parameters />
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:userTask id="check" name="Check">
      <bpmn:extensionElements>
        <spiffworkflow:properties><spiffworkflow:property name="formKey" value="engine.approve" /></spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="stamp" />
    <bpmn:sequenceFlow id="f2" sourceRef="stamp" targetRef="check" />
    <bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""

STAMPED: list[int] = []


@service_task("engine.bulk_stamp")
def _stamp(instance: ProcessInstance, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    STAMPED.append(instance.subject_id)
    return {"stamped": instance.subject_id}


@pytest.fixture(scope="module")
def bulk_app(migrated: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    extra = tmp_path_factory.mktemp("bulk_bpmn")
    (extra / "bulk_service_first.bpmn").write_text(SERVICE_FIRST)
    application = build_app(migrated, BPMN_EXTRA_DIRS=[str(TEST_BPMN), str(BENCH_BPMN), str(extra)])
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def ctx(bulk_app: Flask) -> Iterator[Flask]:
    STAMPED.clear()
    with bulk_app.app_context():
        yield bulk_app
        db.session.remove()
    _wipe(bulk_app)
    engine.clear_caches(bulk_app)


@pytest.fixture
def users(ctx: Flask) -> dict[str, User]:
    from tests.factories import make_inspector

    from app.auth.service import create_user
    from tests.conftest import TEST_PASSWORD

    people = {name: make_user(name, role) for name, role in
              (("drafter", "drafter"), ("leader1", "leader"), ("leader2", "leader"), ("chief", "section_chief"))}
    for name in ("insp1", "insp2"):
        people[name] = create_user(name, TEST_PASSWORD, name, ["inspector"], inspector_id=make_inspector(name=name).id)
    db.session.commit()
    return people


def snapshot(instance_id: int) -> dict[str, Any]:
    """Everything a start writes for one instance, without ids, uuids and timestamps."""
    inst = db.session.get(ProcessInstance, instance_id)
    tasks = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id)).all()
    events = engine.instance_path(instance_id)
    candidates = {
        t.bpmn_id + "/" + str(t.assignee_id): sorted(db.session.scalars(
            select(HumanTaskCandidate.user_id).where(HumanTaskCandidate.task_id == t.id)))
        for t in tasks
    }
    workflow = engine._load(db.session, instance_id, lock=False).workflow
    ready = {str(t.id) for t in workflow.get_tasks(state=TaskState.READY, manual=True)}
    assert ready == {t.spiff_task_id for t in tasks}  # the projection matches the restored state
    return {
        "instance": (inst.process_id, inst.subject_type, inst.subject_id, inst.subject_title, inst.status,
                     inst.version, inst.started_by_id, inst.next_timer_at, inst.completed_at is None),
        "data": workflow.get_tasks(state=TaskState.READY, manual=True)[0].data if ready else workflow.data,
        "tasks": sorted(
            (t.bpmn_id, t.title, t.lane, t.role, t.form_key, t.state, t.assignee_id, t.assigned_by_process,
             tuple(t.excluded_user_ids), t.has_candidates, t.due_at - t.created_at if t.due_at else None,
             t.subject_type, t.subject_id, t.subject_title)
            for t in tasks
        ),
        "candidates": candidates,
        "events": [(e.bpmn_id, e.element_type, e.element_name, e.event, e.user_id, e.data) for e in events],
    }


def items_for(process_id: str, people: dict[str, User], count: int, base: int) -> list[engine.StartItem]:
    def data(n: int) -> dict[str, Any]:
        if process_id == "engine_approval":
            return {"plan_id": n, "drafter_id": people["drafter"].id,
                    "leader_ids": [people["leader1"].id, people["leader2"].id]}
        if process_id == "bench_inspection":
            return {"case_no": n, "inspector_user_ids": [people["insp1"].id, people["insp2"].id],
                    "chief_ids": [people["chief"].id]}
        if process_id == "engine_timer":
            return {"deadline": datetime(2030, 1, 1, 8, n % 60, tzinfo=timezone.utc).isoformat()}
        return {"n": n}

    return [engine.StartItem("case", base + n, f"企业 {n}", data(n)) for n in range(count)]


@pytest.mark.parametrize(
    "process_id", ["engine_approval", "engine_parallel", "bench_inspection", "engine_timer", "bulk_service_first"]
)
def test_bulk_start_writes_what_single_starts_write(users: dict[str, User], process_id: str) -> None:
    starter = users["drafter"].id
    singles = []
    for item in items_for(process_id, users, 3, 0):
        instance = engine.start_process(process_id, subject_type=item.subject_type, subject_id=item.subject_id,
                                        subject_title=item.subject_title, data=dict(item.data), user_id=starter)
        singles.append(instance.id)
    db.session.commit()
    bulk = engine.start_processes(process_id, items_for(process_id, users, 3, 0), user_id=starter)
    db.session.commit()
    db.session.expire_all()

    assert len(bulk) == 3 and len(set(bulk) | set(singles)) == 6
    for single_id, bulk_id in zip(singles, bulk):
        assert snapshot(bulk_id) == snapshot(single_id)
    assert db.session.scalar(select(func.count()).select_from(ProcessSpec)) == 1
    if process_id == "bulk_service_first":
        assert STAMPED == [0, 1, 2, 0, 1, 2]  # the handler ran for every bulk item too


def test_bulk_start_returns_ids_in_item_order_and_instances_run_on(users: dict[str, User]) -> None:
    items = items_for("engine_approval", users, 25, 100)
    ids = engine.start_processes("engine_approval", items, user_id=None)
    db.session.commit()
    subjects = dict(db.session.execute(select(ProcessInstance.id, ProcessInstance.subject_id)).all())
    assert [subjects[i] for i in ids] == [item.subject_id for item in items]

    draft = db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == ids[7], HumanTask.bpmn_id == "draft")).one()
    engine.complete_task(draft.id, db.session.get(User, users["drafter"].id), {"note": "bulk"})
    db.session.expire_all()
    states = db.session.scalars(select(HumanTask.bpmn_id).where(
        HumanTask.instance_id == ids[7], HumanTask.state == "READY")).all()
    assert states == ["legal_review"]
    assert db.session.get(ProcessInstance, ids[7]).version == 2


def test_bulk_start_chunks_and_does_not_commit(users: dict[str, User], monkeypatch: pytest.MonkeyPatch) -> None:
    from workflows import bulk

    monkeypatch.setattr(bulk, "CHUNK", 7)
    ids = engine.start_processes("bench_inspection", items_for("bench_inspection", users, 20, 0), user_id=None)
    assert len(ids) == len(set(ids)) == 20
    assert db.session.scalar(select(func.count()).select_from(HumanTask)) == 40  # two inspectors each
    db.session.rollback()
    for model in (ProcessInstance, HumanTask, HumanTaskCandidate, ProcessEvent):
        assert db.session.scalar(select(func.count()).select_from(model)) == 0
    assert engine.start_processes("engine_parallel", [], user_id=None) == []


def test_bulk_start_follows_the_clock(users: dict[str, User]) -> None:
    at = datetime(2029, 3, 1, 2, 0, tzinfo=timezone.utc)
    with clock.frozen_at(at):
        [iid] = engine.start_processes("engine_approval", items_for("engine_approval", users, 1, 0), user_id=None)
        db.session.commit()
    inst = db.session.get(ProcessInstance, iid)
    assert inst.started_at == at
    task = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == iid)).one()
    assert task.created_at == at and task.due_at == at + timedelta(days=3)
