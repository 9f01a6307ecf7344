"""The draw process end to end through HTTP, as coordinator, witness and leader."""
from __future__ import annotations

import copy
import importlib.util
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.cases.models import CaseMember, InspectionCase
from app.directory.models import CheckItem, Department, Entity, Inspector
from app.directory.uscc import make_uscc
from app.draws.models import Draw, DrawSelection, TaskDraw
from app.extensions import db
from app.plans.models import Plan
from tests.conftest import TEST_PASSWORD
from workflows.models import HumanTask

YEAR = datetime.now().year
VERIFIER = Path(__file__).resolve().parent.parent / "tools" / "verify_draw.py"


def load_verifier():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("verify_draw_test", VERIFIER)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture
def bureau(app, make_user):
    """A city bureau with a county unit, 300 opticians and 6 inspectors with logins."""
    rng = random.Random(11)
    with app.app_context():
        city = Department(code="JC-SAMR", name="晋城市市场监督管理局", level="city", region_code="140500")
        db.session.add(city)
        db.session.flush()
        county = Department(code="JC-CQ", name="城区市场监督管理局", level="county", region_code="140502", parent_id=city.id)
        item = CheckItem(code="JCSJ-07-01", category="对眼镜制配场所的双随机抽查", name="在用计量器具的监督检查",
                         object_type="全市眼镜制配店", kind="general", method="实地检查", department_id=city.id)
        db.session.add_all([county, item])
        db.session.flush()
        classes = ["A", "B", "B", "B", "C", "D", None]
        for n in range(300):
            db.session.add(Entity(uscc=make_uscc(rng, "140502"), name=f"晋城市城区明视眼镜店{n:03d}", kind="enterprise",
                                  industry="眼镜制配", region_code="140502", station=["西街所", "东街所"][n % 2],
                                  credit_class=classes[n % len(classes)], address=f"城区某路{n}号"))
        db.session.add(Entity(uscc=make_uscc(rng, "140502"), name="不在范围的加油站", industry="加油站",
                              region_code="140502", station="西街所", credit_class="D"))
        inspectors = []
        for n in range(6):
            inspectors.append(Inspector(name=f"检查员{n}", department_id=county.id if n % 2 else city.id,
                                        certificate_no=f"1405001900{n:04d}", station=["西街所", "东街所"][n % 2],
                                        qualifications=["计量"] if n < 2 else [], region_code="140502"))
        db.session.add_all(inspectors)
        db.session.commit()
        ids = {"city": city.id, "item": item.id, "inspectors": [i.id for i in inspectors]}
    for n, inspector_id in enumerate(ids["inspectors"]):
        make_user(f"insp{n}", "inspector", inspector_id=inspector_id)
    for name, role in (("drafter", "drafter"), ("legal", "legal_reviewer"), ("leader", "leader"),
                       ("coordinator", "coordinator"), ("witness", "witness"), ("compliance", "compliance_reviewer")):
        ids[name] = make_user(name, role)
    return ids


def _ready(app, step: str) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        task_id = db.session.scalar(
            select(HumanTask.id).where(HumanTask.bpmn_id == step, HumanTask.state == "READY").order_by(HumanTask.id)
        )
        assert task_id, f"no READY {step}"
        return task_id


def _published_plan(app, bureau, login_as, ratio="10%", team_size=2, required_qualifications=""):  # type: ignore[no-untyped-def]
    drafter = login_as("drafter")
    r = drafter.post("/plans/new", data={"code": f"P{YEAR}", "title": f"{YEAR}年度双随机抽查工作计划", "year": YEAR,
                                         "department_id": bureau["city"]})
    plan_id = int(r.headers["Location"].rsplit("/", 1)[1])
    r = drafter.post(f"/plans/{plan_id}/tasks/new", data={
        "code": "7", "name": "对眼镜制配场所的双随机抽查", "targeted": "y", "filter_industry": "眼镜制配",
        "filter_region_code": "140500", "quota_kind": "ratio", "ratio": ratio, "credit_A": "2%", "credit_B": ratio,
        "credit_C": "20%", "credit_D": "50%", "credit_U": ratio, "window_start": f"{YEAR}-01-01",
        "window_end": f"{YEAR}-12-20", "lead_department_id": bureau["city"], "check_item_ids": bureau["item"],
        "mode": "city_county_joint", "team_size": str(team_size), "case_cap": "40",
        "required_qualifications": required_qualifications})
    assert r.status_code == 302, r.get_data(as_text=True)
    drafter.post(f"/tasks/{_ready(app, 'draft_plan')}/complete", data={})
    login_as("legal").post(f"/tasks/{_ready(app, 'legal_review')}/complete", data={"decision": "approve"})
    login_as("leader").post(f"/tasks/{_ready(app, 'leader_approval')}/complete", data={"decision": "approve"})
    with app.app_context():
        assert db.session.get(Plan, plan_id).status == "published"
    return plan_id


def _prepare(app, bureau, login_as) -> int:  # type: ignore[no-untyped-def]
    coordinator = login_as("coordinator")
    sitting = (datetime.now() + timedelta(days=1)).strftime("%Y-%m-%dT09:30")
    r = coordinator.post(f"/tasks/{_ready(app, 'prepare_draw')}/complete",
                         data={"scheduled_at": sitting, "witness_id": bureau["witness"]})
    assert r.status_code == 302, r.get_data(as_text=True)
    with app.app_context():
        return db.session.scalar(select(Draw.id).order_by(Draw.id.desc()))


def _sit(app, login_as, entropy="纪检组 2026-11-23 随机数 83152") -> None:  # type: ignore[no-untyped-def]
    login_as("witness").post(f"/tasks/{_ready(app, 'enter_entropy')}/complete", data={"witness_entropy": entropy})
    r = login_as("coordinator").post(f"/tasks/{_ready(app, 'run_draw')}/complete", data={})
    assert r.status_code == 302, r.get_data(as_text=True)


def test_draw_end_to_end_and_verifiable(app, bureau, login_as, api_token, client):
    _published_plan(app, bureau, login_as)
    # The window opened earlier this year, so the timer has fired: the coordinator prepares.
    page = login_as("coordinator").get(f"/tasks/{_ready(app, 'prepare_draw')}").get_data(as_text=True)
    assert 'data-testid="pool-counts"' in page  # the pool per class, before anything is drawn
    draw_id = _prepare(app, bureau, login_as)

    public = app.test_client()
    before = public.get(f"/public/draws/{draw_id}.json").json
    assert before["status"] == "committed" and len(before["commitment"]) == 64
    assert "record" not in before and "server_seed" not in str(before)

    _sit(app, login_as)
    after = public.get(f"/public/draws/{draw_id}.json").json
    record = after["record"]
    assert {"pool", "inspectors", "teams"}.isdisjoint(record)
    assert [s["name"] for s in record["strata"]] == [f"S{i}" for i in range(1, len(record["strata"]) + 1)]
    page = public.get(f"/public/draws/{draw_id}").get_data(as_text=True)
    for cls in ('"A"', '"B"', '"C"', '"D"', 'credit_class'):
        assert cls not in str(after)
    assert after["selected_entities"][0]["name"].startswith("晋城市城区明视眼镜店")
    assert "不在范围的加油站" not in page

    dossier = client.get(f"/api/v1/draws/{draw_id}/dossier", headers=api_token("compliance")).json
    assert client.get(f"/api/v1/draws/{draw_id}/dossier", headers=api_token("coordinator")).status_code == 403
    verifier = load_verifier()
    assert verifier.verify(dossier) == []
    # Quotas per class are exact: ceil(n × ratio).
    for stratum in dossier["strata"]:
        n = sum(1 for e in dossier["pool"] if e["credit_class"] == stratum["name"])
        assert stratum["size"] == n
    for tamper in ("selected", "team", "seed", "entropy", "pool"):
        forged = copy.deepcopy(dossier)
        if tamper == "selected":
            outsider = next(e["uscc"] for e in forged["pool"] if e["uscc"] not in forged["selected"])
            forged["selected"][0] = outsider
        elif tamper == "team":
            first = forged["selected"][0]
            others = [i["certificate_no"] for i in forged["inspectors"] if i["certificate_no"] not in forged["teams"][first]]
            forged["teams"][first][-1] = others[0]
        elif tamper == "seed":
            forged["server_seed"] = "00" * 32
        elif tamper == "entropy":
            forged["witness_entropy"] += "x"
        else:
            forged["pool"].pop()
        assert verifier.verify(forged), f"tampered {tamper} was not caught"

    leader = login_as("leader")
    assert leader.post(f"/tasks/{_ready(app, 'sign_off')}/complete", data={"decision": "approve"}).status_code == 302
    with app.app_context():
        draw = db.session.get(Draw, draw_id)
        assert draw.status == "signed_off"
        cases = db.session.scalar(select(func.count(InspectionCase.id)).where(InspectionCase.draw_id == draw_id))
        assert cases == draw.selected_count > 0
        members = db.session.scalars(select(CaseMember)).all()
        assert len(members) == 2 * cases
        assert db.session.scalar(select(func.count(HumanTask.id)).where(HumanTask.bpmn_id == "confirm_no_conflict")) == 2 * cases
    result = app.test_cli_runner().invoke(args=["draws", "verify", str(draw_id)])
    assert result.exit_code == 0 and "OK" in result.output


def test_redraw_is_recorded_and_published(app, bureau, login_as):
    _published_plan(app, bureau, login_as)
    first = _prepare(app, bureau, login_as)
    _sit(app, login_as)
    leader = login_as("leader")
    r = leader.post(f"/tasks/{_ready(app, 'sign_off')}/complete", data={"decision": "redraw", "comments": ""})
    assert r.status_code == 422
    leader.post(f"/tasks/{_ready(app, 'sign_off')}/complete", data={"decision": "redraw", "comments": "抽取时纪检人员未到场"})
    with app.app_context():
        assert db.session.get(Draw, first).status == "voided"
        assert db.session.scalar(select(func.count(InspectionCase.id))) == 0
    assert "抽取时纪检人员未到场" in app.test_client().get(f"/public/draws/{first}").get_data(as_text=True)
    second = _prepare(app, bureau, login_as)
    assert second != first
    _sit(app, login_as, entropy="第二次")
    login_as("leader").post(f"/tasks/{_ready(app, 'sign_off')}/complete", data={"decision": "approve"})
    with app.app_context():
        rounds = db.session.scalars(select(Draw).order_by(Draw.round_no)).all()
        assert [(d.round_no, d.status) for d in rounds] == [(1, "voided"), (2, "signed_off")]
        assert rounds[0].commitment != rounds[1].commitment
        assert db.session.scalar(select(func.count(InspectionCase.id))) == rounds[1].selected_count


def test_too_few_inspectors_stops_cleanly(app, bureau, login_as):
    _published_plan(app, bureau, login_as, team_size=7)  # only 6 inspectors exist
    draw_id = _prepare(app, bureau, login_as)
    login_as("witness").post(f"/tasks/{_ready(app, 'enter_entropy')}/complete", data={"witness_entropy": "x"})
    r = login_as("coordinator").post(f"/tasks/{_ready(app, 'run_draw')}/complete", data={})
    assert r.status_code == 422
    assert "data-testid=\"draw-error\"" in r.get_data(as_text=True)
    with app.app_context():
        draw = db.session.get(Draw, draw_id)
        assert draw.status == "committed" and draw.witness_entropy is None
        assert db.session.scalar(select(func.count(DrawSelection.id))) == 0
        assert db.session.get(TaskDraw, draw.task_draw_id).status == "pool_frozen"
    # Nothing half-published: the public record still shows only the commitment.
    assert "record" not in app.test_client().get(f"/public/draws/{draw_id}.json").json


def test_large_draw_runs_in_background_with_progress(app, bureau, login_as):
    _published_plan(app, bureau, login_as)
    _prepare(app, bureau, login_as)
    login_as("witness").post(f"/tasks/{_ready(app, 'enter_entropy')}/complete", data={"witness_entropy": "后台"})
    with app.app_context():
        task_draw_id = db.session.scalar(select(TaskDraw.id))
    coordinator = login_as("coordinator")
    assert coordinator.get(f"/draws/{task_draw_id}/progress.json").json["state"] == "none"
    previous = app.config["DRAW_BACKGROUND_THRESHOLD"]
    app.config["DRAW_BACKGROUND_THRESHOLD"] = 1  # every pool counts as large
    try:
        r = coordinator.post(f"/draws/{task_draw_id}/run")
    finally:
        app.config["DRAW_BACKGROUND_THRESHOLD"] = previous
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/draws/{task_draw_id}")
    # Jobs run at once in tests (JOBS_IMMEDIATE); a worker would do the same in production.
    progress = coordinator.get(f"/draws/{task_draw_id}/progress.json").json
    assert progress["state"] == "done" and progress["percent"] == 100
    with app.app_context():
        assert db.session.scalar(select(Draw.status)) == "drawn"
    assert login_as("insp0").post(f"/draws/{task_draw_id}/run").status_code == 403


def test_failed_sign_off_starts_no_case_and_publishes_nothing_more(app, bureau, login_as, api_token, client):
    _published_plan(app, bureau, login_as)
    draw_id = _prepare(app, bureau, login_as)
    _sit(app, login_as)
    with app.app_context():
        from app.auth.models import User

        draw = db.session.get(Draw, draw_id)
        member = draw.selections[0].team[0]
        # The drawn inspector's login is switched off before the sign-off: starting the cases fails.
        user = db.session.scalar(select(User).join(Inspector, Inspector.id == User.inspector_id)
                                 .where(Inspector.certificate_no == member))
        user.is_active_account = False
        db.session.commit()
    before = app.test_client().get(f"/public/draws/{draw_id}.json").json
    r = login_as("leader").post(f"/tasks/{_ready(app, 'sign_off')}/complete", data={"decision": "approve"})
    assert r.status_code == 422 and member in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(InspectionCase.id))) == 0
        assert db.session.scalar(select(func.count(CaseMember.id))) == 0
        assert db.session.get(Draw, draw_id).status == "drawn"  # not signed off
    assert app.test_client().get(f"/public/draws/{draw_id}.json").json == before
    # The reviewers' dossier explains, per selected entity, every inspector's eligibility.
    first = before["record"]["selected"][0]
    dossier = client.get(f"/api/v1/draws/{draw_id}/dossier?uscc={first}", headers=api_token("compliance")).json
    decisions = dossier["eligibility"][first]
    assert len(decisions) == len(dossier["inspectors"])
    assert {d["reason"] for d in decisions} <= {"eligible", "conflict", "same_station", "case_cap"}
    chosen = [d["certificate_no"] for d in decisions if d["eligible"]][:2]
    assert chosen == dossier["teams"][first]
