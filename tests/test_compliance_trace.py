"""The compliance trace over HTTP: a case taken through a return and a revision, a plan, a draw,
an interrupted task, access rules, and an old instance drawn on the diagram it ran."""
from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, update

from app.audit import service as audit
from app.auth.service import create_user
from app.cases.models import InspectionCase
from app.directory.models import Department
from app.draws.models import Draw
from app.extensions import db
from app.plans.models import Plan
from app.referrals.models import Referral
from tests.conftest import _wipe, build_app, login
from tests.test_case_lifecycle import _task_for, confirmed_case, record_and_enter
from tests.test_draw_process import _published_plan, bureau  # noqa: F401
from workflows import clock, engine
from workflows.models import ProcessInstance, ProcessSpec

ROOT = Path(__file__).resolve().parents[1]
TEST_BPMN = Path(__file__).parent / "bpmn"
RETURN_COMMENT = "请补充整改期限。"
# The comment of a reviewer is user text: it must come out escaped.
HOSTILE_COMMENT = '<img src=x onerror="alert(1)">请补充整改期限。'


def _returned_and_revised(app, bureau, login_as, make_user, comment: str = RETURN_COMMENT):  # type: ignore[no-untyped-def]
    """A case whose results the chief returned and the lead revised: (case id, lead); review is open."""
    make_user("chief", "section_chief")
    case_id, lead = confirmed_case(app, bureau, login_as)
    record_and_enter(app, login_as, case_id, lead, inspected_on=date.today() - timedelta(days=1), categories=["D"],
                     follow_up="order_rectification")
    chief = login_as("chief")
    r = chief.post(f"/tasks/{_task_for(app, case_id, 'review_results')}/complete",
                   data={"decision": "return", "comments": comment})
    assert r.status_code == 302, r.get_data(as_text=True)
    with app.app_context():
        item_id = db.session.get(InspectionCase, case_id).item_results[0].check_item_id
    r = login_as(lead).post(f"/tasks/{_task_for(app, case_id, 'revise_results')}/complete", data={
        "categories": ["D", "E"], f"follow_{item_id}": "order_rectification", "summary": "限期7日内送检。"})
    assert r.status_code == 302, r.get_data(as_text=True)
    return case_id, lead


def _only(trace: dict) -> dict:
    assert len(trace["instances"]) == 1
    return trace["instances"][0]


def _ids_in(xml: str, tag: str) -> set[str]:
    return set(re.findall(rf'<bpmn:{tag} id="([^"]+)"', xml))


def _flows(xml: str) -> dict[str, tuple[str, str]]:
    return {m[0]: (m[1], m[2]) for m in re.findall(
        r'<bpmn:sequenceFlow id="([^"]+)"(?: name="[^"]*")? sourceRef="([^"]+)" targetRef="([^"]+)"', xml)}


def test_case_trace_through_a_return_and_a_revision(app, bureau, login_as, make_user):
    case_id, lead = _returned_and_revised(app, bureau, login_as, make_user)
    reviewer = login_as("compliance")
    r = reviewer.get(f"/compliance/trace/inspection_case/{case_id}.json")
    assert r.status_code == 200
    trace = r.get_json()
    assert trace["subject_type"] == "inspection_case" and trace["subject_id"] == case_id
    instance = _only(trace)
    with app.app_context():
        assert instance["instance_id"] == db.session.get(InspectionCase, case_id).process_instance_id
    assert instance["status"] == "running" and instance["tree_restored"] is True
    assert instance["diagram_from"] == "stored"
    assert instance["diagram_xml"] == (ROOT / "bpmn" / "inspection_case.bpmn").read_text(encoding="utf-8")

    # The timeline: in order, with who and when.
    rows = instance["timeline"]
    times = [datetime.fromisoformat(row["at"]) for row in rows]
    assert times == sorted(times) and all(t.tzinfo is not None for t in times)
    steps = [row["bpmn_id"] for row in rows if row["element_type"] in ("UserTask", "ServiceTask", "StartEvent")]
    assert steps == [
        "start", "confirm_no_conflict", "confirm_no_conflict", "apply_recusals", "confirm_no_conflict",
        "apply_recusals", "prepare_inspection", "record_inspection", "schedule_results", "enter_results",
        "results_entered", "review_results", "revise_results",
    ]
    assert rows[0]["user_name"] == "Leader"  # the sign-off started the case
    review = next(row for row in rows if row["bpmn_id"] == "review_results")
    assert review["user_name"] == "Chief" and review["event"] == "completed"
    assert review["comments"] == {"review_comments": RETURN_COMMENT}
    assert review["changes"] == {"review_decision": "return"}  # comments are not repeated as changes
    record = next(row for row in rows if row["bpmn_id"] == "record_inspection")
    assert record["user_name"] == lead.title() and record["changes"]["inspection_outcome"] == "inspected"
    service = next(row for row in rows if row["bpmn_id"] == "schedule_results")
    assert service["user_name"] is None and "results_due_at" in service["changes"]

    # The marks: completed, the open review (its second pass) active, the timers that never fired cancelled.
    assert {"start", "confirm_no_conflict", "apply_recusals", "team_gateway", "reset_round", "prepare_inspection",
            "record_inspection", "schedule_results", "enter_results", "results_entered", "review_results",
            "review_gateway", "revise_results"} == set(instance["completed"])
    assert instance["active"] == ["review_results"]
    assert instance["cancelled"] == ["results_deadline", "results_reminder", "window_closing"]
    # The loop's flows are taken, the branches never chosen are not.
    taken = set(instance["flows_taken"])
    assert {"f_returned", "f_revised", "f_again", "f_new_round", "f_start", "f_confirmed", "f_applied",
            "f_complete", "f_notice", "f_recorded", "f_scheduled", "f_entered", "f_to_review", "f_reviewed"} == taken
    assert instance["flow_counts"]["f_applied"] == 2 and instance["flow_counts"]["f_reviewed"] == 1
    # Counts: passes of loops and multi-instance tasks.
    counts = instance["counts"]
    assert counts["review_results"] == 2  # reviewed once, waiting for the second review now
    assert counts["apply_recusals"] == 2 and counts["team_gateway"] == 2
    assert counts["confirm_no_conflict"] == 3  # two members, then the replacement
    assert counts["revise_results"] == 1 and counts["record_inspection"] == 1

    # Every mark names an element of the drawn diagram, and every flow taken joins two reached elements.
    xml = instance["diagram_xml"]
    flows = _flows(xml)
    assert taken <= set(flows)
    reached = set(instance["completed"]) | set(instance["active"])
    for flow_id in taken:
        source, target = flows[flow_id]
        assert source in instance["completed"] and target in reached, flow_id
    assert set(instance["cancelled"]) <= _ids_in(xml, "boundaryEvent")

    # Approved: the second review is completed, the instance ends on the published branch.
    r = login_as("chief").post(f"/tasks/{_task_for(app, case_id, 'review_results')}/complete",
                               data={"decision": "approve"})
    assert r.status_code == 302
    instance = _only(reviewer.get(f"/compliance/trace/inspection_case/{case_id}.json").get_json())
    assert instance["status"] == "completed" and instance["completed_at"] is not None
    assert instance["active"] == []
    assert instance["counts"]["review_results"] == 2 and instance["counts"]["review_gateway"] == 2
    assert {"f_approved", "f_published", "f_no_listing", "f_returned", "f_revised"} <= set(instance["flows_taken"])
    assert instance["flow_counts"]["f_reviewed"] == 2
    assert "f_unreachable" not in instance["flows_taken"]
    assert {"publish_result", "abnormal_gateway", "end_published"} <= set(instance["completed"])
    reviews = [row for row in instance["timeline"] if row["bpmn_id"] == "review_results"]
    assert [row["changes"].get("review_decision") for row in reviews] == ["return", "approve"]


def test_trace_page_draws_from_the_json_and_escapes_comments(app, bureau, login_as, make_user):
    case_id, lead_username = _returned_and_revised(app, bureau, login_as, make_user, comment=HOSTILE_COMMENT)
    reviewer = login_as("compliance")
    page = reviewer.get(f"/compliance/trace/inspection_case/{case_id}").get_data(as_text=True)
    assert f'data-trace-url="/compliance/trace/inspection_case/{case_id}.json"' in page
    assert 'data-trace-canvas="' in page and "/vendor/bpmn-navigated-viewer.js" in page and "trace.js" in page
    assert page.count('data-testid="trace-row"') == len(_only(
        reviewer.get(f"/compliance/trace/inspection_case/{case_id}.json").get_json())["timeline"])
    assert HOSTILE_COMMENT not in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page
    # No script on the page carries data: only the two script files.
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
    # The case page links its trace for a reviewer, not for the inspector.
    assert f'href="/compliance/trace/inspection_case/{case_id}"' in reviewer.get(f"/cases/{case_id}").get_data(as_text=True)
    lead = login_as(lead_username).get(f"/cases/{case_id}")
    assert lead.status_code == 200 and "/compliance/trace/" not in lead.get_data(as_text=True)


def test_plan_and_draw_traces_link_to_each_other_and_to_the_case(app, bureau, login_as, make_user):
    case_id, _ = _returned_and_revised(app, bureau, login_as, make_user)
    with app.app_context():
        case = db.session.get(InspectionCase, case_id)
        plan_id = case.spot_check_task.plan_id
        task_draw_id = db.session.scalar(select(Draw.task_draw_id).where(Draw.id == case.draw_id))
    reviewer = login_as("compliance")

    plan = reviewer.get(f"/compliance/trace/plan/{plan_id}.json").get_json()
    instance = _only(plan)
    assert instance["process_id"] == "plan_approval" and instance["status"] == "completed"
    steps = [row["bpmn_id"] for row in instance["timeline"] if row["element_type"] == "UserTask"]
    assert steps == ["draft_plan", "legal_review", "leader_approval"]
    assert [row["user_name"] for row in instance["timeline"] if row["element_type"] == "UserTask"] == \
        ["Drafter", "Legal", "Leader"]
    assert {"draft_plan", "legal_review", "leader_approval", "publish_plan"} <= set(instance["completed"])
    assert instance["active"] == [] and instance["cancelled"] == []
    flows = _flows(instance["diagram_xml"])
    assert set(instance["flows_taken"]) <= set(flows) and len(instance["flows_taken"]) >= 8
    assert all(count == 1 for count in instance["counts"].values())  # no loop was taken
    assert [(r["subject_type"], r["subject_id"], r["relation"]) for r in plan["related"]] == \
        [("task_draw", task_draw_id, "draw")]

    draw = reviewer.get(f"/compliance/trace/task_draw/{task_draw_id}.json").get_json()
    instance = _only(draw)
    assert instance["process_id"] == "draw" and instance["status"] == "completed"
    assert [row["bpmn_id"] for row in instance["timeline"] if row["element_type"] == "UserTask"] == \
        ["prepare_draw", "enter_entropy", "run_draw", "sign_off"]
    assert {"f_opened", "f_approved", "f_started"} <= set(instance["flows_taken"])
    assert "f_redraw" not in instance["flows_taken"]
    assert {"window_opens", "sign_off", "start_cases", "end_signed_off"} <= set(instance["completed"])
    assert [(r["subject_type"], r["subject_id"]) for r in draw["related"]] == [("plan", plan_id)]

    # A case links its draw, and its referral both ways.
    case_trace = reviewer.get(f"/compliance/trace/inspection_case/{case_id}.json").get_json()
    assert ("task_draw", task_draw_id) in [(r["subject_type"], r["subject_id"]) for r in case_trace["related"]]
    with app.app_context():
        referral = db.session.scalar(select(Referral).where(Referral.case_id == case_id))
        if referral is None:  # not yet opened by the referral process: a record is enough here
            referral = Referral(case_id=case_id, opened_at=datetime.now(timezone.utc))
            db.session.add(referral)
            db.session.commit()
        referral_id = referral.id
    case_trace = reviewer.get(f"/compliance/trace/inspection_case/{case_id}.json").get_json()
    assert ("referral", referral_id, "referral") in [
        (r["subject_type"], r["subject_id"], r["relation"]) for r in case_trace["related"]]
    page = reviewer.get(f"/compliance/trace/inspection_case/{case_id}").get_data(as_text=True)
    assert f'href="/compliance/trace/referral/{referral_id}"' in page
    referral_trace = reviewer.get(f"/compliance/trace/referral/{referral_id}.json")
    assert referral_trace.status_code == 200
    assert [(r["subject_type"], r["subject_id"]) for r in referral_trace.get_json()["related"]] == \
        [("inspection_case", case_id)]
    with app.app_context():
        referral_instance = db.session.get(Referral, referral_id).process_instance_id
    assert [i["instance_id"] for i in referral_trace.get_json()["instances"]] == \
        ([referral_instance] if referral_instance else [])
    # The referral page links the trace for a reviewer; leadership sees the page but no trace link.
    assert f'href="/compliance/trace/referral/{referral_id}"' in \
        reviewer.get(f"/referrals/{referral_id}").get_data(as_text=True)
    leader_page = login_as("leader").get(f"/referrals/{referral_id}")
    assert leader_page.status_code == 200 and "/compliance/trace/" not in leader_page.get_data(as_text=True)

    # Plan and draw pages link their traces for a reviewer; the trace index lists all three.
    assert f'href="/compliance/trace/plan/{plan_id}"' in reviewer.get(f"/plans/{plan_id}").get_data(as_text=True)
    assert f'href="/compliance/trace/task_draw/{task_draw_id}"' in \
        reviewer.get(f"/draws/{task_draw_id}").get_data(as_text=True)
    index = reviewer.get("/compliance/trace").get_data(as_text=True)
    for link in (f"/compliance/trace/plan/{plan_id}", f"/compliance/trace/task_draw/{task_draw_id}",
                 f"/compliance/trace/inspection_case/{case_id}"):
        assert f'href="{link}"' in index
    only_cases = reviewer.get("/compliance/trace?subject_type=inspection_case").get_data(as_text=True)
    assert f'href="/compliance/trace/inspection_case/{case_id}"' in only_cases
    assert f'href="/compliance/trace/plan/{plan_id}"' not in only_cases


def test_audit_rows_with_a_traceable_subject_link_to_the_trace(app, bureau, login_as, make_user):
    make_user("admin", "admin")
    with app.app_context():
        audit.record("test.case_touched", actor=None, subject_type="inspection_case", subject_id="7")
        audit.record("test.calendar", actor=None, subject_type="calendar_day", subject_id="2026-10-01")
        db.session.commit()
    for who in ("compliance", "admin"):
        page = login_as(who).get("/admin/audit").get_data(as_text=True)
        assert page.count('data-testid="audit-trace-link"') == 1
        assert 'href="/compliance/trace/inspection_case/7"' in page


def test_only_reviewers_and_admins_see_traces(app, bureau, login_as, make_user):
    make_user("admin", "admin")
    plan_id = _published_plan(app, bureau, login_as)
    urls = (f"/compliance/trace/plan/{plan_id}", f"/compliance/trace/plan/{plan_id}.json", "/compliance/trace")
    for who in ("insp0", "drafter", "leader", "legal"):
        client = login_as(who)
        for url in urls:
            assert client.get(url).status_code == 403, (who, url)
        assert "/compliance/trace/" not in client.get(f"/plans/{plan_id}").get_data(as_text=True)
    anonymous = app.test_client()
    for url in urls:
        r = anonymous.get(url)
        assert r.status_code == 302 and "/login" in r.headers["Location"], url
    for who in ("compliance", "admin"):
        client = login_as(who)
        for url in urls:
            assert client.get(url).status_code == 200, (who, url)


def test_unknown_subjects_are_404(app, bureau, login_as):
    reviewer = login_as("compliance")
    for url in ("/compliance/trace/inspection_case/999999", "/compliance/trace/inspection_case/999999.json",
                "/compliance/trace/task_draw/999999", "/compliance/trace/referral/999999.json",
                "/compliance/trace/user/1", "/compliance/trace/calendar_day/1.json"):
        assert reviewer.get(url).status_code == 404, url
    assert reviewer.get("/compliance/trace/plan/999999.json").get_json()["error"] == "NotFound"


# --- an interrupting boundary timer cancels a READY task ----------------------------------------


@pytest.fixture
def timer_app(migrated: str) -> Iterator[Flask]:
    """An app that also knows the engine test diagrams (tests/bpmn)."""
    application = build_app(migrated, BPMN_EXTRA_DIRS=[str(TEST_BPMN)])
    yield application
    clock.reset()
    _wipe(application)
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_task_cancelled_by_a_timer_is_marked_and_a_subject_shows_all_its_instances(timer_app: Flask):
    with timer_app.app_context():
        department = Department(code="T", name="测试局", level="city", region_code="140500")
        db.session.add(department)
        db.session.flush()
        drafter = create_user("drafter", "correct-horse-9", "Drafter", ["drafter"])
        create_user("compliance", "correct-horse-9", "Compliance", ["compliance_reviewer"])
        plan = Plan(code="P-T", title="计划", year=2026, department_id=department.id, drafter_id=drafter.id)
        db.session.add(plan)
        db.session.commit()
        start = datetime(2026, 11, 2, 9, tzinfo=timezone.utc)
        clock.set_now(start)
        ids = []
        for _ in range(2):  # two instances of one subject: both are traced, oldest first
            instance = engine.start_process(
                "engine_timer", subject_type="plan", subject_id=plan.id, subject_title="计划",
                data={"deadline": (start + timedelta(hours=1)).isoformat()}, user_id=drafter.id,
            )
            db.session.commit()
            ids.append(instance.id)
        plan_id = plan.id
        clock.set_now(start + timedelta(hours=2))
        engine.fire_timers(ids[0])
        db.session.remove()

    client = timer_app.test_client()
    login(client, "compliance")
    trace = client.get(f"/compliance/trace/plan/{plan_id}.json").get_json()
    fired, waiting = trace["instances"]
    assert [fired["instance_id"], waiting["instance_id"]] == ids
    assert fired["cancelled"] == ["wait_task"]
    assert fired["active"] == ["escalated"]
    assert set(fired["completed"]) == {"start", "deadline_passed"}
    assert fired["flows_taken"] == ["f_escalate", "f_start"]
    assert [(row["bpmn_id"], row["event"]) for row in fired["timeline"]][-2:] in (
        [("wait_task", "cancelled"), ("deadline_passed", "completed")],
        [("deadline_passed", "completed"), ("wait_task", "cancelled")],
    )
    assert fired["timeline"][0]["user_name"] == "Drafter"
    # The other one still waits: its task and its timer are active.
    assert waiting["active"] == ["deadline_passed", "wait_task"] and waiting["cancelled"] == []
    assert waiting["flows_taken"] == ["f_start"]


# --- an old instance is drawn on the diagram it ran ---------------------------------------------


def test_an_old_instance_keeps_its_diagram_after_the_file_changes(app, bureau, login_as, make_user, tmp_path,
                                                                  migrated):
    case_id, _ = _returned_and_revised(app, bureau, login_as, make_user)
    original = (ROOT / "bpmn" / "inspection_case.bpmn").read_text(encoding="utf-8")
    # The next version renames the return flow and the review task.
    for diagram in (ROOT / "bpmn").glob("*.bpmn"):
        shutil.copy(diagram, tmp_path / diagram.name)
    changed = original.replace("f_returned", "f_sent_back").replace(
        'name="Review the inspection results"', 'name="Review the results (version 2)"')
    (tmp_path / "inspection_case.bpmn").write_text(changed, encoding="utf-8")
    new_app = build_app(migrated, BPMN_DIR=str(tmp_path), FILE_STORAGE_DIR=app.config["FILE_STORAGE_DIR"])
    try:
        with new_app.app_context():
            current = engine.library().get("inspection_case")
            assert "f_sent_back" in current.bpmn_xml
            instance = db.session.scalar(select(ProcessInstance).where(
                ProcessInstance.subject_type == "inspection_case", ProcessInstance.subject_id == case_id))
            assert instance.spec.content_hash != current.content_hash  # really another version
            spec_id = instance.spec_id
            db.session.remove()
        client = new_app.test_client()
        login(client, "compliance")
        old = _only(client.get(f"/compliance/trace/inspection_case/{case_id}.json").get_json())
        assert old["diagram_from"] == "stored" and old["diagram_xml"] == original
        assert "f_sent_back" not in old["diagram_xml"]
        assert "f_returned" in old["flows_taken"] and set(old["flows_taken"]) <= set(_flows(original))
        assert old["active"] == ["review_results"]
        page = client.get(f"/compliance/trace/inspection_case/{case_id}").get_data(as_text=True)
        assert "Review the results (version 2)" not in page

        # A row stored before the XML was kept: today's file only if it is the very same version.
        with app.app_context():
            db.session.execute(update(ProcessSpec).where(ProcessSpec.id == spec_id).values(bpmn_xml=None))
            db.session.commit()
        old = _only(client.get(f"/compliance/trace/inspection_case/{case_id}.json").get_json())
        assert old["diagram_xml"] is None and old["diagram_from"] == ""
        assert old["flows_taken"] == []  # no diagram, no flows to name
        assert "f_returned" not in str(old["flow_counts"])
        assert old["active"] == ["review_results"] and len(old["timeline"]) > 10
        page = client.get(f"/compliance/trace/inspection_case/{case_id}").get_data(as_text=True)
        assert "data-trace-canvas" not in page and 'data-testid="trace-row"' in page
        same = _only(login_as("compliance").get(f"/compliance/trace/inspection_case/{case_id}.json").get_json())
        assert same["diagram_from"] == "current" and same["diagram_xml"] == original
        assert "f_returned" in same["flows_taken"]
    finally:
        with new_app.app_context():
            db.session.remove()
            db.engine.dispose()


# --- the flows taken, from the task tree, on a diagram with parallel branches and a terminate end -----

PARALLEL_TERMINATE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="http://suiji.local/bpmn/tests">
  <bpmn:process id="trace_terminate" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f_start</bpmn:outgoing></bpmn:startEvent>
    <bpmn:parallelGateway id="split"><bpmn:incoming>f_start</bpmn:incoming>
      <bpmn:outgoing>f_a</bpmn:outgoing><bpmn:outgoing>f_b</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="a"><bpmn:incoming>f_a</bpmn:incoming><bpmn:outgoing>f_a2</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="a2"><bpmn:incoming>f_a2</bpmn:incoming><bpmn:outgoing>f_a_end</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="a_end"><bpmn:incoming>f_a_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:userTask id="b"><bpmn:incoming>f_b</bpmn:incoming><bpmn:incoming>f_b_self</bpmn:incoming>
      <bpmn:outgoing>f_b_done</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics><bpmn:loopDataInputRef>items</bpmn:loopDataInputRef>
        <bpmn:inputDataItem id="item" name="item" /></bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>
    <bpmn:exclusiveGateway id="gw" default="f_stop"><bpmn:incoming>f_b_done</bpmn:incoming>
      <bpmn:outgoing>f_stop</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="kill"><bpmn:incoming>f_stop</bpmn:incoming><bpmn:terminateEventDefinition id="t" /></bpmn:endEvent>
    <bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="split" />
    <bpmn:sequenceFlow id="f_a" sourceRef="split" targetRef="a" />
    <bpmn:sequenceFlow id="f_a2" sourceRef="a" targetRef="a2" />
    <bpmn:sequenceFlow id="f_a_end" sourceRef="a2" targetRef="a_end" />
    <bpmn:sequenceFlow id="f_b" sourceRef="split" targetRef="b" />
    <bpmn:sequenceFlow id="f_b_done" sourceRef="b" targetRef="gw" />
    <bpmn:sequenceFlow id="f_stop" sourceRef="gw" targetRef="kill" />
  </bpmn:process>
  <!-- Not executable, only read by the trace: a flow from b to itself would match every pass of
       the multi-instance if passes were taken for arrivals along a flow. -->
  <bpmn:process id="trace_terminate_flows" isExecutable="false">
    <bpmn:sequenceFlow id="f_b_self" sourceRef="b" targetRef="b" />
  </bpmn:process>
</bpmn:definitions>"""


def test_flows_taken_come_from_the_task_tree(tmp_path):
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
    from SpiffWorkflow.util.task import TaskState

    from app.compliance.trace import flows_taken, tree_states

    executable = re.sub(r"\s*<!--.*?</bpmn:process>", "", PARALLEL_TERMINATE, flags=re.S).replace(
        "<bpmn:incoming>f_b_self</bpmn:incoming>", "")
    path = tmp_path / "trace_terminate.bpmn"
    path.write_text(executable, encoding="utf-8")
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_file(str(path))
    workflow = BpmnWorkflow(parser.get_spec("trace_terminate"), parser.get_subprocess_specs("trace_terminate"))
    workflow.task_tree.data = {"items": [1, 2, 3]}
    workflow.do_engine_steps()
    waiting = tree_states(workflow)
    assert waiting.active == {"a", "b"} and waiting.active_passes == {"a": 1, "b": 3}
    assert flows_taken(waiting, PARALLEL_TERMINATE) == {"f_start": 1, "f_a": 1, "f_b": 1}

    # The three passes of b end; the terminate end cancels a, which was READY (reached: f_a stays
    # taken), and a2, which was only predicted, neither is marked nor brings f_a2.
    for task in workflow.get_tasks(state=TaskState.READY, manual=True):
        if task.task_spec.bpmn_id == "b":
            task.run()
    workflow.do_engine_steps()
    assert workflow.is_completed()
    ended = tree_states(workflow)
    assert ended.cancelled == {"a"} and ended.active == set()
    assert ended.completed == {"start", "split", "b", "gw", "kill"}
    assert flows_taken(ended, PARALLEL_TERMINATE) == {"f_start": 1, "f_a": 1, "f_b": 1, "f_b_done": 1, "f_stop": 1}


CALLER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="caller_d"
    targetNamespace="http://suiji.local/bpmn/tests">
  <bpmn:process id="trace_caller" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="call_here" calledElement="trace_here"><bpmn:incoming>f_1</bpmn:incoming>
      <bpmn:outgoing>f_2</bpmn:outgoing></bpmn:callActivity>
    <bpmn:callActivity id="call_there" calledElement="trace_there"><bpmn:incoming>f_2</bpmn:incoming>
      <bpmn:outgoing>f_3</bpmn:outgoing></bpmn:callActivity>
    <bpmn:endEvent id="end"><bpmn:incoming>f_3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f_1" sourceRef="start" targetRef="call_here" />
    <bpmn:sequenceFlow id="f_2" sourceRef="call_here" targetRef="call_there" />
    <bpmn:sequenceFlow id="f_3" sourceRef="call_there" targetRef="end" />
  </bpmn:process>
  <bpmn:process id="trace_here" isExecutable="true">
    <bpmn:startEvent id="here_start"><bpmn:outgoing>h_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="here_task"><bpmn:incoming>h_1</bpmn:incoming><bpmn:outgoing>h_2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="here_end"><bpmn:incoming>h_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="h_1" sourceRef="here_start" targetRef="here_task" />
    <bpmn:sequenceFlow id="h_2" sourceRef="here_task" targetRef="here_end" />
  </bpmn:process>
</bpmn:definitions>"""
# Another file whose ids clash with the caller's: its tasks must not mark the caller's diagram.
CALLED_ELSEWHERE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="there_d"
    targetNamespace="http://suiji.local/bpmn/tests">
  <bpmn:process id="trace_there" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="end"><bpmn:incoming>f_1</bpmn:incoming><bpmn:outgoing>f_x</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="there_end"><bpmn:incoming>f_x</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f_1" sourceRef="start" targetRef="end" />
    <bpmn:sequenceFlow id="f_x" sourceRef="end" targetRef="there_end" />
  </bpmn:process>
</bpmn:definitions>"""


def test_call_activities_are_traced_within_their_own_file_only(tmp_path):
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
    from SpiffWorkflow.util.task import TaskState

    from app.compliance.trace import flows_taken, tree_states

    parser = SpiffBpmnParser(validator=VALIDATOR)
    for name, xml in (("caller.bpmn", CALLER), ("there.bpmn", CALLED_ELSEWHERE)):
        (tmp_path / name).write_text(xml, encoding="utf-8")
        parser.add_bpmn_file(str(tmp_path / name))
    workflow = BpmnWorkflow(parser.get_spec("trace_caller"), parser.get_subprocess_specs("trace_caller"))
    workflow.do_engine_steps()
    inside = tree_states(workflow)
    assert inside.active == {"call_here", "here_task"} and inside.completed == {"start", "here_start"}
    assert flows_taken(inside, CALLER) == {"f_1": 1, "h_1": 1}

    [task] = workflow.get_tasks(state=TaskState.READY, manual=True)
    task.run()
    workflow.do_engine_steps()
    [task] = workflow.get_tasks(state=TaskState.READY, manual=True)
    assert task.task_spec.bpmn_id == "end"  # the other file's user task, READY
    elsewhere = tree_states(workflow)
    assert elsewhere.active == {"call_there"}  # not "end": that id is the caller's end event
    assert elsewhere.completed == {"start", "call_here", "here_start", "here_task", "here_end"}
    assert flows_taken(elsewhere, CALLER) == {"f_1": 1, "f_2": 1, "h_1": 1, "h_2": 1}
