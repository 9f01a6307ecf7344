"""The case diagram's timers on a controllable clock: the result reminder and the late
escalation fire once each, at working-day instants that skip a holiday and count a make-up day."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.cases.models import InspectionCase
from app.extensions import db
from app.jobs.timers import fire_due_timers
from app.notifications.models import Notification
from tests.test_case_lifecycle import _task_for, confirmed_case
from tests.test_draw_process import bureau  # noqa: F401
from workflows import clock
from workflows.models import HumanTask, ProcessInstance

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def controlled_clock() -> Iterator[None]:
    yield
    clock.reset()


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=SHANGHAI)


def _count(app, model, *where) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _fire(app, when: datetime) -> list[int]:  # type: ignore[no-untyped-def]
    clock.set_now(when)
    with app.app_context():
        return fire_due_timers().fired


def test_reminder_and_late_escalation_fire_once_on_working_day_instants(app, bureau, login_as, make_user,
                                                                        controlled_clock):
    make_user("chief", "section_chief")
    case_id, lead = confirmed_case(app, bureau, login_as)
    with app.app_context():
        item_id = db.session.get(InspectionCase, case_id).item_results[0].check_item_id
    # Inspected on Friday 2026-09-18. Seven working days: Sunday 09-20 is a make-up working day (1),
    # 09-21..24 (2-5), the Mid-Autumn holiday 09-25..27 is skipped, 09-28 (6), 09-29 (7).
    clock.set_now(at(2026, 9, 18, 16))
    r = login_as(lead).post(f"/tasks/{_task_for(app, case_id, 'record_inspection')}/complete", data={
        "inspection_date": "2026-09-18", "outcome": "inspected", "onsite_record": "现场检查。",
        f"item_{item_id}_checked": "1", f"item_{item_id}_findings": "未发现问题。"})
    assert r.status_code == 302, r.get_data(as_text=True)
    with app.app_context():
        case = db.session.get(InspectionCase, case_id)
        assert case.results_due_on == date(2026, 9, 29) and case.calendar_note == ""
        instance = db.session.get(ProcessInstance, case.process_instance_id)
        # The reminder: 2 working days before 09-29 is 09-24 (the holiday does not count), 09:00.
        assert instance.next_timer_at == at(2026, 9, 24, 9)
        task = db.session.get(HumanTask, _task_for(app, case_id, "enter_results"))
        assert task.due_at == at(2026, 9, 30)  # the end of 09-29
        instance_id = instance.id
    reminders = (Notification.message.contains("are due on"),)

    assert _fire(app, at(2026, 9, 24, 8, 59, 59)) == []
    assert _count(app, Notification, *reminders) == 0
    assert _fire(app, at(2026, 9, 24, 9, 0, 1)) == [instance_id]
    assert _count(app, Notification, *reminders) == 2  # both active members, once
    assert _fire(app, at(2026, 9, 28, 12)) == []
    assert _count(app, Notification, *reminders) == 2

    late = (HumanTask.bpmn_id == "late_escalation",)
    assert _fire(app, at(2026, 9, 29, 23, 59, 59)) == []
    assert _count(app, HumanTask, *late) == 0
    assert _fire(app, at(2026, 9, 30, 0, 0, 1)) == [instance_id]
    assert _fire(app, at(2026, 10, 9)) == []  # nothing waits any more
    assert _count(app, HumanTask, *late) == 1 and _count(app, Notification, *reminders) == 2
    with app.app_context():
        case = db.session.get(InspectionCase, case_id)
        assert case.marked_late_at is not None and case.results_on_time is False
        escalation = db.session.scalar(select(HumanTask).where(*late))
        assert escalation.role == "section_chief" and escalation.state == "READY"

    # The results still go in (late stays late); the chief records the follow-up.
    login_as(lead).post(f"/tasks/{_task_for(app, case_id, 'enter_results')}/complete",
                        data={"categories": ["1"], f"follow_{item_id}": "none"})
    chief = login_as("chief")
    assert chief.post(f"/tasks/{escalation.id}/complete", data={"decision": "done", "comments": ""}).status_code == 422
    assert chief.post(f"/tasks/{escalation.id}/complete",
                      data={"decision": "done", "comments": "已约谈检查组，要求说明原因。"}).status_code == 302
    with app.app_context():
        case = db.session.get(InspectionCase, case_id)
        assert case.status == "review" and case.results_on_time is False


def test_window_closing_escalates_to_the_section_chief(app, bureau, login_as, make_user, controlled_clock):
    make_user("chief", "section_chief")
    clock.set_now(at(2026, 12, 10, 10))
    case_id, lead = confirmed_case(app, bureau, login_as)
    with app.app_context():
        case = db.session.get(InspectionCase, case_id)
        instance = db.session.get(ProcessInstance, case.process_instance_id)
        # The window ends Sunday 2026-12-20; 3 working days before: Wednesday 12-16, 09:00.
        assert case.spot_check_task.window_end == date(2026, 12, 20)
        assert instance.next_timer_at == at(2026, 12, 16, 9)
    assert _fire(app, at(2026, 12, 16, 9, 0, 1)) == [instance.id]
    with app.app_context():
        states = dict(db.session.execute(select(HumanTask.bpmn_id, HumanTask.state)
                                         .where(HumanTask.instance_id == instance.id)).all())
    assert states["window_escalation"] == "READY" and states["record_inspection"] == "READY"  # non-interrupting
    assert _fire(app, at(2026, 12, 18)) == []


def test_a_deadline_in_a_year_without_calendar_says_so(app, bureau, login_as, make_user, controlled_clock):
    case_id, lead = confirmed_case(app, bureau, login_as)
    clock.set_now(at(2026, 12, 28, 16))
    r = login_as(lead).post(f"/tasks/{_task_for(app, case_id, 'record_inspection')}/complete", data={
        "inspection_date": "2026-12-28", "outcome": "closed", "onsite_record": "经营场所已关闭。"})
    assert r.status_code == 302, r.get_data(as_text=True)
    with app.app_context():
        case = db.session.get(InspectionCase, case_id)
        # Monday 2026-12-28 + 7 working days: 12-29, 12-30, 12-31, then 2027 has no official
        # calendar yet, so weekends only: 01-01 (New Year's Day counts!), 01-04, 01-05, 01-06.
        assert case.results_due_on == date(2027, 1, 6)
        assert "2027" in case.calendar_note
    page = login_as(lead).get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-testid="calendar-note"' in page and "2027" in page
