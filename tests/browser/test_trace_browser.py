"""A compliance reviewer opens a case's trace: bpmn-js draws the diagram with the path marked."""
from __future__ import annotations

from tests.browser.test_case_browser import _log_in
from tests.test_compliance_trace import _returned_and_revised
from tests.test_draw_process import bureau  # noqa: F401

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_reviewer_sees_the_marked_path_of_a_case(app, bureau, login_as, make_user, page, tmp_path):
    case_id, _ = _returned_and_revised(app, bureau, login_as, make_user)

    _log_in(page, "compliance")
    page.goto(f"/cases/{case_id}")
    page.click("[data-testid=trace-link]")
    page.wait_for_url(f"**/compliance/trace/inspection_case/{case_id}")
    canvas = page.locator("[data-testid=trace-canvas]")
    canvas.and_(page.locator("[data-rendered=true]")).wait_for()

    def marked(element_id: str, marker: str) -> bool:
        return page.locator(f'.djs-element.{marker}[data-element-id="{element_id}"]').count() == 1

    # Elements passed, the open second review, the loop's flows, the timers that never fired.
    for element_id in ("start", "confirm_no_conflict", "record_inspection", "enter_results", "review_results",
                       "review_gateway", "revise_results"):
        assert marked(element_id, "trace-completed"), element_id
    assert marked("review_results", "trace-active")
    assert page.locator(".djs-element.trace-active").count() == 1
    for flow_id in ("f_returned", "f_revised", "f_again", "f_reviewed"):
        assert marked(flow_id, "trace-flow-taken"), flow_id
    assert not marked("f_approved", "trace-flow-taken") and not marked("publish_result", "trace-completed")
    for element_id in ("window_closing", "results_reminder", "results_deadline"):
        assert marked(element_id, "trace-cancelled"), element_id

    # Counts on the elements passed more than once, and nowhere else.
    counts = {
        page.locator(".trace-count[data-element]").nth(i).get_attribute("data-element"):
        page.locator(".trace-count[data-element]").nth(i).inner_text()
        for i in range(page.locator(".trace-count[data-element]").count())
    }
    assert counts == {"confirm_no_conflict": "×3", "apply_recusals": "×2", "team_gateway": "×2",
                      "review_results": "×2"}
    assert page.locator(".djs-overlay-trace-count").count() == 4

    # The markers are drawn, not only classes: a completed task's outline is the trace colour.
    stroke = page.evaluate(
        """() => getComputedStyle(document.querySelector(
            '.djs-element.trace-completed[data-element-id="record_inspection"] .djs-visual > rect')).stroke"""
    )
    assert stroke == "rgb(25, 135, 84)"
    assert page.locator("[data-testid=trace-row]").count() > 10

    shot = tmp_path / "case-trace.png"
    canvas.screenshot(path=str(shot))
    data = shot.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000
    page.screenshot(path=str(tmp_path / "case-trace-page.png"), full_page=True)
    assert (tmp_path / "case-trace-page.png").read_bytes().startswith(PNG_SIGNATURE)
