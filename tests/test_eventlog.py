"""The event log as XES (IEEE 1849-2016) and CSV: structure, one trace per instance, one event per
completed step, the options, who may download it, the audit entry, the CLI, and the demo data."""
from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as StdET
from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from lxml import etree
from sqlalchemy import func, select, update

from app.audit.models import AuditEntry
from app.cases.models import InspectionCase
from app.extensions import db
from app.plans.models import Plan
from tests.test_case_lifecycle import _task_for, confirmed_case, record_and_enter
from tests.test_draw_process import YEAR, bureau  # noqa: F401
from workflows.models import ProcessEvent, ProcessInstance

NS = "http://www.xes-standard.org/"
X = f"{{{NS}}}"
EXTENSIONS = {
    "concept": ("Concept", "http://www.xes-standard.org/concept.xesext"),
    "time": ("Time", "http://www.xes-standard.org/time.xesext"),
    "lifecycle": ("Lifecycle", "http://www.xes-standard.org/lifecycle.xesext"),
    "org": ("Organizational", "http://www.xes-standard.org/org.xesext"),
}


@pytest.fixture
def cases(app, bureau, login_as, make_user):  # type: ignore[no-untyped-def]
    """A signed-off draw: one case taken to publication (a recusal, a return and a revision), the
    others waiting for their teams' confirmations. Returns (published case id, lead's username)."""
    make_user("chief", "section_chief")
    make_user("admin1", "admin")
    case_id, lead = confirmed_case(app, bureau, login_as)
    record_and_enter(app, login_as, case_id, lead, inspected_on=date.today() - timedelta(days=1), categories=["1"])
    chief = login_as("chief")
    chief.post(f"/tasks/{_task_for(app, case_id, 'review_results')}/complete",
               data={"decision": "return", "comments": "请补充现场照片说明。"})
    with app.app_context():
        item_id = db.session.get(InspectionCase, case_id).item_results[0].check_item_id
    assert login_as(lead).post(f"/tasks/{_task_for(app, case_id, 'revise_results')}/complete", data={
        "categories": ["1"], f"follow_{item_id}": "none", "summary": "未发现问题。"}).status_code == 302
    assert chief.post(f"/tasks/{_task_for(app, case_id, 'review_results')}/complete",
                      data={"decision": "approve"}).status_code == 302
    return case_id, lead


def _completed_steps(instance_id: int) -> list[ProcessEvent]:
    return list(db.session.scalars(
        select(ProcessEvent).where(ProcessEvent.instance_id == instance_id, ProcessEvent.event == "completed",
                                   ProcessEvent.bpmn_id != "")
        .order_by(ProcessEvent.at, ProcessEvent.id)))


def _attrs(element) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """key -> value of an XES element's attribute children (string, date, int, ...)."""
    return {child.get("key"): child.get("value") for child in element if child.get("key") is not None}


def check_xes(app, body: bytes, process_id: str = "inspection_case") -> dict[str, list[dict[str, str]]]:  # type: ignore[no-untyped-def]
    """Check the XES document structurally and against the database; returns trace name -> events.

    No XSD: the one IEEE 1849-2016 publishes is not reproduced here (a copy from memory
    would not be the standard's). Instead every rule the log relies on is checked, and the
    file is read by a second parser (the standard library's) with the same result.
    """
    root = etree.fromstring(body)
    assert root.tag == f"{X}log" and root.nsmap[None] == NS
    assert root.get("xes.version") == "1849-2016" and root.get("xes.features") == ""
    declared = {e.get("prefix"): (e.get("name"), e.get("uri")) for e in root.findall(f"{X}extension")}
    assert declared == EXTENSIONS
    globals_ = {g.get("scope"): _attrs(g) for g in root.findall(f"{X}global")}
    assert set(globals_) == {"trace", "event"} and "concept:name" in globals_["trace"]
    assert {"concept:name", "time:timestamp", "lifecycle:transition", "bpmn_id"} <= set(globals_["event"])
    classifiers = {c.get("name"): c.get("keys").split() for c in root.findall(f"{X}classifier")}
    assert classifiers["Activity"] == ["concept:name"]
    for keys in classifiers.values():  # a classifier's keys are global event attributes
        assert set(keys) <= set(globals_["event"])
    # The order IEEE 1849 prescribes: extensions, globals, classifiers, log attributes, traces.
    kinds = [etree.QName(child).localname for child in root]
    order = {"extension": 0, "global": 1, "classifier": 2, "string": 3, "date": 3, "int": 3, "trace": 4}
    assert [order[k] for k in kinds] == sorted(order[k] for k in kinds)
    prefixes = set(declared)

    traces: dict[str, list[dict[str, str]]] = {}
    with app.app_context():
        instance_ids = set(db.session.scalars(select(ProcessInstance.id).where(ProcessInstance.process_id == process_id)))
        for trace in root.findall(f"{X}trace"):
            attrs = _attrs(trace)
            name, instance_id = attrs["concept:name"], int(attrs["instance_id"])
            assert name not in traces
            instance_ids.discard(instance_id)
            events = [_attrs(e) for e in trace.findall(f"{X}event")]
            steps = _completed_steps(instance_id)
            assert len(events) == len(steps), name  # one event per completed step
            for event, step in zip(events, steps):
                assert event["bpmn_id"] == step.bpmn_id and event["concept:name"] == step.element_name
                assert event["lifecycle:transition"] == "complete"
                when = datetime.fromisoformat(event["time:timestamp"])
                assert when.utcoffset() == timedelta(hours=8) and abs(when - step.at) < timedelta(milliseconds=1)
                for key in event:
                    assert ":" not in key or key.split(":")[0] in prefixes  # prefixed keys are declared
            traces[name] = events
        assert instance_ids == set()  # one trace per instance: none left out

    # A second, independent reader sees the same traces and events.
    std = StdET.fromstring(body)
    std_traces = std.findall(f"{X}trace")
    assert len(std_traces) == len(traces)
    assert [len(t.findall(f"{X}event")) for t in std_traces] == [len(v) for v in traces.values()]
    return traces


# --------------------------------------------------------------------------- XES and CSV


def test_xes_has_a_trace_per_case_and_an_event_per_completed_step(app, cases, login_as):
    case_id, lead = cases
    response = login_as("compliance").get("/compliance/eventlog.xes")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    assert 'filename="suiji-inspection_case-all.xes"' in response.headers["Content-Disposition"]
    traces = check_xes(app, response.data)
    with app.app_context():
        codes = set(db.session.scalars(select(InspectionCase.code)))
        published = db.session.get(InspectionCase, case_id)
        code = published.code
    assert set(traces) == codes and len(codes) > 1

    path = traces[code]
    steps = [e["bpmn_id"] for e in path]
    assert steps[0] == "start" and steps[-1] == "end_published"
    assert steps.count("review_results") == 2 and "revise_results" in steps  # returned, revised, approved
    by_step = {e["bpmn_id"]: e for e in path}
    assert by_step["record_inspection"]["org:resource"] == lead and by_step["record_inspection"]["org:role"] == "inspector"
    assert by_step["review_results"]["org:resource"] == "chief" and by_step["review_results"]["org:role"] == "section_chief"
    assert "org:resource" not in by_step["publish_result"]  # a service task: nobody did it
    assert by_step["record_inspection"]["concept:name"] == "Inspect and record the on-site findings"
    # The cases still waiting for confirmations have a short trace of their own.
    assert all(len(events) >= 1 for events in traces.values())


def test_csv_has_a_row_per_completed_step(app, cases, login_as):
    case_id, lead = cases
    xes = check_xes(app, login_as("compliance").get("/compliance/eventlog.xes").data)
    response = login_as("compliance").get("/compliance/eventlog.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["case_id", "activity", "bpmn_id", "timestamp", "resource", "role", "lifecycle"]
    body = rows[1:]
    assert len(body) == sum(len(events) for events in xes.values())
    assert Counter(r[0] for r in body) == Counter({name: len(events) for name, events in xes.items() if events})
    for name, events in xes.items():
        mine = [r for r in body if r[0] == name]
        assert [(r[1], r[2], r[3], r[4], r[5], r[6]) for r in mine] == [
            (e["concept:name"], e["bpmn_id"], e["time:timestamp"], e.get("org:resource", ""), e.get("org:role", ""),
             "complete") for e in events]


def test_the_options_process_and_year(app, cases, login_as):
    reviewer = login_as("compliance")
    plans = reviewer.get("/compliance/eventlog.xes", query_string={"process": "plan_approval"})
    traces = check_xes(app, plans.data, "plan_approval")
    assert list(traces) == [f"P{YEAR}"]
    assert [e["bpmn_id"] for e in traces[f"P{YEAR}"] if e.get("org:resource")] == [
        "start", "draft_plan", "legal_review", "leader_approval"]
    draws = check_xes(app, reviewer.get("/compliance/eventlog.xes?process=draw&year=%d" % YEAR).data, "draw")
    assert list(draws) == [f"P{YEAR}/7"] and "sign_off" in [e["bpmn_id"] for e in draws[f"P{YEAR}/7"]]
    assert reviewer.get("/compliance/eventlog.xes?process=referral").status_code == 200  # none yet: an empty log

    this_year = check_xes(app, reviewer.get(f"/compliance/eventlog.xes?year={YEAR}").data)
    assert len(this_year) > 1
    other = reviewer.get(f"/compliance/eventlog.csv?year={YEAR - 1}")
    assert other.status_code == 200 and other.get_data(as_text=True).strip().count("\n") == 0  # the header only
    with app.app_context():
        db.session.execute(update(Plan).values(year=YEAR - 1))
        db.session.commit()
    assert len(check_xes(app, reviewer.get(f"/compliance/eventlog.xes?year={YEAR - 1}").data)) == len(this_year)

    assert reviewer.get("/compliance/eventlog.xes?process=bogus").status_code == 400
    assert reviewer.get("/compliance/eventlog.csv?year=twenty").status_code == 400
    page = reviewer.get(f"/compliance/eventlog?process=draw&year={YEAR - 1}").get_data(as_text=True)
    assert f"/compliance/eventlog.xes?process=draw&amp;year={YEAR - 1}" in page
    assert 'data-testid="eventlog-count">1 ' in page or 'data-testid="eventlog-count">1' in page


def test_only_compliance_reviewers_and_admins_download(app, cases, login_as, client):
    for username in ("chief", "leader", "coordinator", "insp0", "witness"):
        user = login_as(username)
        for url in ("/compliance/eventlog", "/compliance/eventlog.xes", "/compliance/eventlog.csv"):
            assert user.get(url).status_code == 403, (username, url)
    for url in ("/compliance/eventlog", "/compliance/eventlog.xes"):
        assert client.get(url).status_code in (302, 401)
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "eventlog.exported")) == 0
    admin = login_as("admin1")
    assert admin.get("/compliance/eventlog").status_code == 200
    assert admin.get("/compliance/eventlog.csv").status_code == 200
    assert 'data-testid="nav-eventlog"' in admin.get("/compliance/eventlog").get_data(as_text=True)
    assert 'data-testid="nav-eventlog"' not in login_as("chief").get("/tasks").get_data(as_text=True)


def test_every_download_is_audited(app, cases, login_as, bureau):
    reviewer = login_as("compliance")
    reviewer.get(f"/compliance/eventlog.xes?process=inspection_case&year={YEAR}")
    reviewer.get("/compliance/eventlog.csv?process=plan_approval")
    reviewer.get("/compliance/eventlog")  # the page itself exports nothing
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "eventlog.exported")
                                       .order_by(AuditEntry.id)))
        cases_count = db.session.scalar(select(func.count(InspectionCase.id)))
    assert len(rows) == 2
    assert all(r.actor_user_id == bureau["compliance"] for r in rows)
    assert json.loads(rows[0].details) == {"format": "xes", "process": "inspection_case", "year": YEAR,
                                           "traces": cases_count, "via": "web"}
    assert json.loads(rows[1].details) == {"format": "csv", "process": "plan_approval", "year": None,
                                           "traces": 1, "via": "web"}


def test_values_are_escaped_and_invalid_characters_replaced(app, cases, login_as):
    case_id, _ = cases
    tricky = 'A&B <"x"> \'q\'\n\ttab\x01'
    with app.app_context():
        db.session.execute(update(InspectionCase).where(InspectionCase.id == case_id).values(code=tricky))
        db.session.commit()
    reviewer = login_as("compliance")
    traces = check_xes(app, reviewer.get("/compliance/eventlog.xes").data)
    assert 'A&B <"x"> \'q\'\n\ttab\ufffd' in traces  # markup and whitespace kept; a control character replaced
    rows = list(csv.reader(io.StringIO(reviewer.get("/compliance/eventlog.csv").get_data(as_text=True))))
    assert any(r[0] == tricky for r in rows)  # CSV quoting carries it as it is


def test_cli_writes_either_format_and_is_audited(app, cases, tmp_path):
    runner = app.test_cli_runner()
    target = tmp_path / "log.xes"
    result = runner.invoke(args=["compliance", "eventlog", "--format", "xes", "--year", str(YEAR), "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert "traces" in result.output
    traces = check_xes(app, target.read_bytes())
    target_csv = tmp_path / "plans.csv"
    result = runner.invoke(args=["compliance", "eventlog", "--format", "csv", "--process", "plan_approval",
                                 "-o", str(target_csv)])
    assert result.exit_code == 0, result.output
    assert target_csv.read_text(encoding="utf-8").splitlines()[1].startswith(f"P{YEAR},")
    assert runner.invoke(args=["compliance", "eventlog", "--process", "nope"]).exit_code != 0
    with app.app_context():
        details = [json.loads(d) for d in db.session.scalars(
            select(AuditEntry.details).where(AuditEntry.action == "eventlog.exported").order_by(AuditEntry.id))]
    assert [(d["format"], d["process"], d["via"], d["traces"]) for d in details] == [
        ("xes", "inspection_case", "cli", len(traces)), ("csv", "plan_approval", "cli", 1)]


# --------------------------------------------------------------------------- the demo data


def test_xes_of_the_demo_data(app):
    """The done-when of the issue: the demo's XES is valid XML, a trace per case, an event per step."""
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    runner = app.test_cli_runner()
    out = runner.invoke(args=["compliance", "eventlog", "--format", "xes", "-o", "-"])
    assert out.exit_code == 0, out.output
    body = out.stdout_bytes
    traces = check_xes(app, body)
    with app.app_context():
        statuses = Counter(db.session.scalars(select(InspectionCase.status)))
        assert len(traces) == sum(statuses.values()) >= 10
    # Cases in different stages: published, in result entry, inspecting, confirming the team.
    assert statuses["published"] >= 3 and statuses["result_entry"] >= 1
    assert statuses["inspecting"] >= 1 and statuses["recusal"] >= 1
    paths = [[e["bpmn_id"] for e in events] for events in traces.values()]
    assert any("revise_results" in p and "end_published" in p for p in paths)  # returned, revised, published
    assert any("record_inspection" in p and "results_entered" not in p for p in paths)  # results still to enter
    # A recusal: the round was applied, the replacement has not confirmed yet (no notice issued).
    assert any("apply_recusals" in p and "prepare_inspection" not in p for p in paths)
    # Findings handed on: the referral process has its own traces, named by the cases' codes.
    referrals = check_xes(app, runner.invoke(args=["compliance", "eventlog", "--process", "referral"]).stdout_bytes,
                          "referral")
    assert len(referrals) >= 1 and set(referrals) <= set(traces)
