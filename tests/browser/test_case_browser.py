"""An inspector works a case from the queue in a real browser; the section chief approves;
the public finds the result."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from app.auth.models import User
from app.cases.models import InspectionCase
from app.extensions import db
from tests.conftest import TEST_PASSWORD
from tests.test_case_lifecycle import _task_for
from tests.test_case_recusal import _confirm_task, _signed_off
from tests.test_draw_process import bureau  # noqa: F401


def _log_in(page, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")


def test_inspector_records_chief_approves_public_sees(app, bureau, login_as, make_user, page, screenshot):
    make_user("chief", "section_chief")
    case_id = _signed_off(app, bureau, login_as)
    with app.app_context():
        case = db.session.get(InspectionCase, case_id)
        lead_inspector, other_inspector = [m.inspector_id for m in case.members]
        entity_name, uscc = case.entity.name, case.entity.uscc
        lead = db.session.scalar(select(User.username).where(User.inspector_id == lead_inspector))
    task_id, other = _confirm_task(app, case_id, other_inspector)
    login_as(other).post(f"/tasks/{task_id}/complete", data={"decision": "confirm"})

    # The lead inspector: confirm, record, enter results, all from "My tasks".
    _log_in(page, lead)
    page.click("[data-testid=nav-queue]")
    page.locator("[data-testid=task-row]", has_text=entity_name).locator("a").first.click()
    page.click("[data-testid=decision-confirm]")
    page.wait_for_url("**/tasks")
    page.locator("[data-testid=task-row]", has_text=entity_name).locator("a").first.click()
    assert page.locator("[data-testid=inspection-items]").count() == 1
    page.fill("input[name=inspection_date]", (date.today() - timedelta(days=1)).isoformat())
    page.fill("textarea[name=onsite_record]", "出示执法证件，告知申请回避的权利；检查在用计量器具，均在检定有效期内。")
    page.locator("[data-testid=inspection-items] input[type=checkbox]").first.check()
    page.locator("[data-testid=inspection-items] textarea").first.fill("未发现问题。")
    screenshot("case-record")
    page.click("[data-testid=submit-inspection]")
    page.wait_for_url("**/tasks")
    page.locator("[data-testid=task-row]", has_text=entity_name).locator("a").first.click()
    page.check("#cat_1")
    page.click("[data-testid=submit-results]")
    page.wait_for_url("**/tasks")
    assert page.locator(".alert-success").count() == 1

    # The section chief approves from the group queue.
    chief = page.context.browser.new_context(base_url=page.url.split("/tasks")[0], locale="zh-CN")
    try:
        chief_page = chief.new_page()
        _log_in(chief_page, "chief")
        chief_page.goto("/tasks/groups")
        chief_page.locator("[data-testid=task-row]", has_text=entity_name).locator("a").first.click()
        assert "未发现问题" in chief_page.content()
        chief_page.click("[data-testid=decision-approve]")
        chief_page.wait_for_url("**/tasks")
    finally:
        chief.close()

    # The public, without logging in.
    public = page.context.browser.new_context(base_url=page.url.split("/tasks")[0], locale="zh-CN")
    try:
        visitor = public.new_page()
        visitor.goto("/public/results")
        visitor.fill("[data-testid=results-search]", uscc)
        visitor.press("[data-testid=results-search]", "Enter")
        visitor.wait_for_url("**/public/results?q=*")
        results = visitor.locator("[data-testid=public-results]")
        assert entity_name in results.inner_text() and "未发现问题" in results.inner_text()
        visitor.click(f"text={entity_name}")
        assert uscc in visitor.locator("[data-testid=public-result]").inner_text()
    finally:
        public.close()
    with app.app_context():
        assert db.session.get(InspectionCase, case_id).status == "published"
        assert _task_for  # the HTTP helpers are shared with the HTTP test
