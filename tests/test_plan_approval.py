"""The plan-approval journey through the HTTP interface, as the different people."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.directory.models import CheckItem
from app.extensions import db
from app.plans.models import Plan
from tests.factories import make_department
from workflows.models import HumanTask, ProcessEvent


@pytest.fixture
def people(app, make_user):
    with app.app_context():
        dept = make_department("JC-SAMR", "晋城市市场监督管理局")
        item = CheckItem(code="JCSC-07-01", category="对眼镜制配场所的双随机抽查", name="在用计量器具的监督检查",
                         object_type="全市眼镜制配店", kind="general", method="实地检查", department_id=dept.id)
        db.session.add(item)
        db.session.commit()
        ids = {"dept": dept.id, "item": item.id}
    ids["drafter"] = make_user("drafter", "drafter")
    ids["legal"] = make_user("legal", "legal_reviewer")
    ids["leader"] = make_user("leader", "leader")
    # Holds every reviewing role too: separation of duties must still stop them on their own plan.
    ids["sneaky"] = make_user("sneaky", "drafter", "legal_reviewer", "leader")
    return ids


TASK_FORM = {
    "code": "7", "name": "对眼镜制配场所的双随机抽查", "targeted": "y", "scope": "全市眼镜制配店",
    "filter_industry": "眼镜制配", "quota_kind": "ratio", "ratio": "5%", "credit_A": "2%", "credit_B": "5%",
    "credit_C": "10%", "credit_D": "30%", "credit_U": "5%",
    "credit_rule": "根据企业信用风险分类结果，对低风险、一般风险、较高风险、高风险企业分别递加比例抽查和频次。",
    "window_start": "2023-03-01", "window_end": "2023-12-31", "mode": "county_county", "method": "【县抽县查】",
    "team_size": "2", "case_cap": "20",
}


def _ready_task(plan_id: int, step: str) -> int:
    task = db.session.scalar(
        select(HumanTask).where(HumanTask.subject_id == plan_id, HumanTask.bpmn_id == step, HumanTask.state == "READY")
    )
    assert task is not None, f"no READY {step}"
    return task.id


def _ready(app, plan_id: int, step: str) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        return _ready_task(plan_id, step)


def _create_plan(c, people, code="2023-JC-SAMR") -> int:
    r = c.post("/plans/new", data={"code": code, "title": "晋城市市场监督管理局2023年度双随机抽查工作计划",
                                   "year": "2023", "department_id": people["dept"], "notes": "晋市市监〔2023〕21号"})
    assert r.status_code == 302, r.get_data(as_text=True)
    plan_id = int(re.search(r"/plans/(\d+)", r.headers["Location"]).group(1))
    form = dict(TASK_FORM, lead_department_id=people["dept"], check_item_ids=people["item"])
    r = c.post(f"/plans/{plan_id}/tasks/new", data=form)
    assert r.status_code == 302, r.get_data(as_text=True)
    return plan_id


def test_plan_from_draft_through_return_to_publication(app, people, login_as):
    drafter, legal, leader = login_as("drafter"), login_as("legal"), login_as("leader")
    plan_id = _create_plan(drafter, people)

    with app.app_context():
        plan = db.session.get(Plan, plan_id)
        assert plan.status == "draft" and plan.tasks[0].credit_ratios["D"] == "0.3"
        draft = _ready_task(plan_id, "draft_plan")
    # The drafter's task is in "my tasks" (assigned), not in the legal reviewer's queue yet.
    assert f'data-task-id="{draft}"' in drafter.get("/tasks").get_data(as_text=True)
    assert "draft_plan" not in legal.get("/tasks/groups").get_data(as_text=True)

    assert drafter.post(f"/tasks/{draft}/complete", data={"comments": "请审查"}).status_code == 302
    with app.app_context():
        assert db.session.get(Plan, plan_id).status == "legal_review"
        review = _ready_task(plan_id, "legal_review")
    assert f'data-task-id="{review}"' in legal.get("/tasks/groups").get_data(as_text=True)
    # While under review the drafter can no longer change the plan.
    r = drafter.post(f"/plans/{plan_id}/tasks/new", data=dict(TASK_FORM, code="8", lead_department_id=people["dept"],
                                                              check_item_ids=people["item"]))
    assert r.status_code == 409

    # A return needs reasons.
    r = legal.post(f"/tasks/{review}/complete", data={"decision": "return", "comments": ""})
    assert r.status_code == 422 and "请说明理由" in r.get_data(as_text=True)  # "give the reasons"
    r = legal.post(f"/tasks/{review}/complete", data={"decision": "return", "comments": "抽查比例依据不明，请补充"})
    assert r.status_code == 302
    with app.app_context():
        assert db.session.get(Plan, plan_id).status == "returned"
        redraft = _ready_task(plan_id, "draft_plan")
    page = drafter.get(f"/plans/{plan_id}").get_data(as_text=True)
    assert "抽查比例依据不明" in page

    # Redraft: change the task, resubmit.
    with app.app_context():
        task_id = db.session.get(Plan, plan_id).tasks[0].id
    r = drafter.post(f"/plans/{plan_id}/tasks/{task_id}/edit",
                     data=dict(TASK_FORM, ratio="6%", lead_department_id=people["dept"], check_item_ids=people["item"]))
    assert r.status_code == 302
    assert drafter.post(f"/tasks/{redraft}/complete", data={"comments": "已补充"}).status_code == 302
    with app.app_context():
        review2 = _ready_task(plan_id, "legal_review")
    assert legal.post(f"/tasks/{review2}/complete", data={"decision": "approve", "comments": "合法"}).status_code == 302
    with app.app_context():
        assert db.session.get(Plan, plan_id).status == "leader_approval"
        approval = _ready_task(plan_id, "leader_approval")

    # Not yet public.
    assert drafter.get(f"/public/plans/{plan_id}").status_code == 404
    assert leader.post(f"/tasks/{approval}/complete", data={"decision": "approve", "comments": "同意"}).status_code == 302

    with app.app_context():
        plan = db.session.get(Plan, plan_id)
        assert plan.status == "published" and plan.published_at is not None
        assert plan.approved_by_id == people["leader"]
        path = [e.bpmn_id for e in db.session.scalars(
            select(ProcessEvent).where(ProcessEvent.instance_id == plan.process_instance_id,
                                       ProcessEvent.event == "completed").order_by(ProcessEvent.id))]
    user_steps = [s for s in path if s in {"draft_plan", "legal_review", "leader_approval", "mark_returned", "publish_plan"}]
    assert user_steps == ["draft_plan", "legal_review", "mark_returned", "draft_plan", "legal_review",
                          "leader_approval", "publish_plan"]
    assert path[-1] == "end_published"

    public = app.test_client()  # no login
    page = public.get(f"/public/plans/{plan_id}").get_data(as_text=True)
    assert "晋城市市场监督管理局2023年度双随机抽查工作计划" in page and "6%" in page
    assert "30%" not in page  # per-class ratios are not published
    listing = public.get("/public/plans.json").json
    assert [p["id"] for p in listing["plans"]] == [plan_id]
    detail = public.get(f"/public/plans/{plan_id}.json").json
    assert detail["tasks"][0]["quota"] == {"kind": "ratio", "ratio": "0.06", "percent": "6%"}
    assert "credit_ratios" not in detail["tasks"][0]


def test_drafter_can_never_review_or_approve_own_plan(app, people, login_as, make_user):
    sneaky = login_as("sneaky")
    plan_id = _create_plan(sneaky, people, code="SOD-1")
    with app.app_context():
        draft = _ready_task(plan_id, "draft_plan")
    sneaky.post(f"/tasks/{draft}/complete", data={})
    with app.app_context():
        review = _ready_task(plan_id, "legal_review")
    # Holds the legal reviewer role, but drafted the plan.
    assert sneaky.post(f"/tasks/{review}/complete", data={"decision": "approve"}).status_code == 403
    assert sneaky.post(f"/tasks/{review}/claim").status_code == 403
    login_as("legal").post(f"/tasks/{review}/complete", data={"decision": "approve"})
    with app.app_context():
        approval = _ready_task(plan_id, "leader_approval")
    assert sneaky.post(f"/tasks/{approval}/complete", data={"decision": "approve"}).status_code == 403
    with app.app_context():
        assert db.session.get(Plan, plan_id).status == "leader_approval"


def test_second_completion_is_refused_cleanly(app, people, login_as, make_user):
    make_user("legal2", "legal_reviewer")
    drafter = login_as("drafter")
    plan_id = _create_plan(drafter, people)
    drafter.post(f"/tasks/{_ready(app, plan_id, 'draft_plan')}/complete", data={})
    review = _ready(app, plan_id, "legal_review")
    assert login_as("legal").post(f"/tasks/{review}/complete", data={"decision": "approve"}).status_code == 302
    r = login_as("legal2").post(f"/tasks/{review}/complete", data={"decision": "return", "comments": "x"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/tasks")
    with app.app_context():
        assert db.session.get(Plan, plan_id).status == "leader_approval"


def test_plan_journey_through_the_api(app, people, make_user, api_token, client):
    h_drafter, h_legal, h_leader = api_token("drafter"), api_token("legal"), api_token("leader")
    r = client.post("/api/v1/plans", json={"code": "HD-2023", "title": "邯郸市商务局2023年度随机抽查工作计划",
                                            "year": 2023, "department_id": people["dept"]}, headers=h_drafter)
    assert r.status_code == 201, r.json
    plan_id = r.json["id"]
    r = client.post(f"/api/v1/plans/{plan_id}/tasks", headers=h_drafter, json={
        "code": "001号", "name": "2023年商务局成品油销售企业内部联合随机抽查", "ratio": "2%",
        "window_start": "2023-03-01", "window_end": "2023-04-30", "lead_department_id": people["dept"],
        "check_item_ids": [people["item"]]})
    assert r.status_code == 201, r.json
    assert r.json["ratio"] == "0.02"
    bad = client.post(f"/api/v1/plans/{plan_id}/tasks", headers=h_drafter, json={
        "code": "002号", "name": "x", "ratio": "150%", "window_start": "2023-05-01", "window_end": "2023-04-01",
        "lead_department_id": people["dept"], "check_item_ids": []})
    assert bad.status_code == 422
    assert set(bad.json["errors"]) >= {"ratio", "window_end", "check_item_ids"}

    mine = client.get("/api/v1/tasks?scope=mine", headers=h_drafter).json
    draft_id = mine["rows"][0]["task"]["id"]
    assert client.post(f"/api/v1/tasks/{draft_id}/complete", json={"data": {}}, headers=h_drafter).status_code == 200
    group = client.get("/api/v1/tasks?scope=groups", headers=h_legal).json
    review_id = group["rows"][0]["task"]["id"]
    assert client.post(f"/api/v1/tasks/{review_id}/claim", headers=h_legal).json["assignee_id"] == people["legal"]
    assert client.post(f"/api/v1/tasks/{review_id}/complete", json={"data": {"decision": "approve"}},
                       headers=h_legal).status_code == 200
    again = client.post(f"/api/v1/tasks/{review_id}/complete", json={"data": {"decision": "approve"}}, headers=h_legal)
    assert again.status_code == 409 and "already done" in again.json["message"]
    approval_id = client.get("/api/v1/plans/%d" % plan_id, headers=h_leader).json["current_task_id"]
    r = client.post(f"/api/v1/tasks/{approval_id}/complete", json={"data": {"decision": "approve"}}, headers=h_leader)
    assert r.status_code == 200
    assert [s["bpmn_id"] for s in r.json["path"] if s["element_type"] == "UserTask"] == \
        ["draft_plan", "legal_review", "leader_approval"]
    assert client.get(f"/public/plans/{plan_id}.json").json["code"] == "HD-2023"


def test_inspector_cannot_open_anothers_task(app, people, login_as, make_user, api_token, client):
    make_user("inspector1", "inspector")
    drafter = login_as("drafter")
    plan_id = _create_plan(drafter, people)
    with app.app_context():
        draft = _ready_task(plan_id, "draft_plan")
    assert login_as("inspector1").get(f"/tasks/{draft}").status_code == 403
    assert client.get(f"/api/v1/tasks/{draft}", headers=api_token("inspector1")).status_code == 403
    assert login_as("inspector1").post(f"/tasks/{draft}/complete", data={}).status_code == 403


def test_rejected_plan_is_never_public(app, people, login_as):
    drafter = login_as("drafter")
    plan_id = _create_plan(drafter, people)
    drafter.post(f"/tasks/{_ready(app, plan_id, 'draft_plan')}/complete", data={})
    login_as("legal").post(f"/tasks/{_ready(app, plan_id, 'legal_review')}/complete", data={"decision": "approve"})
    approval = _ready(app, plan_id, "leader_approval")
    leader = login_as("leader")
    assert leader.post(f"/tasks/{approval}/complete", data={"decision": "reject"}).status_code == 422
    assert leader.post(f"/tasks/{approval}/complete", data={"decision": "reject", "comments": "不符合年度重点"}).status_code == 302
    with app.app_context():
        assert db.session.get(Plan, plan_id).status == "rejected"
    assert app.test_client().get(f"/public/plans/{plan_id}").status_code == 404
