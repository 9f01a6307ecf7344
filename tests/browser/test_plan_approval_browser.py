"""Leadership approves a plan from the queue in a real browser, and the public sees it."""
from __future__ import annotations

from sqlalchemy import select

from app.directory.models import CheckItem
from app.extensions import db
from tests.conftest import TEST_PASSWORD
from tests.factories import make_department
from workflows.models import HumanTask

PLAN_TITLE = "邯郸市商务局2023年度随机抽查工作计划"


def _plan_awaiting_leadership(app, make_user, login_as) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        dept = make_department("HD-COM", "邯郸市商务局", region_code="130400")
        item = CheckItem(code="HDSW-01", category="成品油零售企业检查", name="成品油零售企业年度检查情况",
                         object_type="成品油零售企业", kind="general", method="实地检查", department_id=dept.id)
        db.session.add(item)
        db.session.commit()
        dept_id, item_id = dept.id, item.id
    make_user("drafter", "drafter")
    make_user("legal", "legal_reviewer")
    make_user("leader", "leader")
    drafter = login_as("drafter")
    r = drafter.post("/plans/new", data={"code": "2023001", "title": PLAN_TITLE, "year": "2023", "department_id": dept_id})
    plan_id = int(r.headers["Location"].rsplit("/", 1)[1])
    drafter.post(f"/plans/{plan_id}/tasks/new", data={
        "code": "001号", "name": "2023年商务局成品油销售企业内部联合随机抽查", "targeted": "y", "quota_kind": "ratio",
        "ratio": "2%", "window_start": "2023-03-01", "window_end": "2023-04-30", "lead_department_id": dept_id,
        "check_item_ids": item_id, "mode": "city_city", "team_size": "2", "case_cap": "20"})

    def ready(step: str) -> int:
        with app.app_context():
            return db.session.scalar(select(HumanTask.id).where(HumanTask.bpmn_id == step, HumanTask.state == "READY"))

    drafter.post(f"/tasks/{ready('draft_plan')}/complete", data={})
    login_as("legal").post(f"/tasks/{ready('legal_review')}/complete", data={"decision": "approve", "comments": "合法"})
    assert ready("leader_approval")
    return plan_id


def _ready_id(app, step: str) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        return db.session.scalar(select(HumanTask.id).where(HumanTask.bpmn_id == step, HumanTask.state == "READY"))


def test_leader_approves_from_queue_and_public_sees_it(app, make_user, login_as, page, screenshot):
    plan_id = _plan_awaiting_leadership(app, make_user, login_as)

    page.goto("/login")
    page.fill("input[name=username]", "leader")
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.click("a[href='/tasks/groups']")
    row = page.locator("[data-testid=task-row]", has_text=PLAN_TITLE)
    row.locator("a").first.click()
    assert page.url.endswith(f"/tasks/{_ready_id(app, 'leader_approval')}")
    assert PLAN_TITLE in page.locator(".card h2").first.inner_text()
    page.fill("textarea[name=comments]", "同意，按计划实施")
    page.click("[data-testid=decision-approve]")
    page.wait_for_url("**/tasks")
    assert page.locator(".alert-success").count() == 1
    screenshot("plan-approved")

    public = page.context.browser.new_context(base_url=page.url.split("/tasks")[0], locale="zh-CN")
    try:
        visitor = public.new_page()
        visitor.goto("/public/plans")
        visitor.click(f"text={PLAN_TITLE}")
        assert visitor.url.endswith(f"/public/plans/{plan_id}")
        assert PLAN_TITLE in visitor.locator("[data-testid=public-plan-title]").inner_text()
        assert "2%" in visitor.locator("[data-testid=plan-tasks]").inner_text()
    finally:
        public.close()
