"""Working days in Asia/Shanghai: the package's calendar, the bureau's later years, task due dates."""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.audit import service as audit
from app.audit.models import AuditEntry
from app.extensions import db
from app.workdays import service as workdays
from app.workdays.models import CalendarDay, CalendarYear
from app.workdays.service import Deadline
from tests.conftest import TEST_PASSWORD, _wipe, build_app
from workflows.properties import PropertyError, TaskProperties, compute_due_at
from workflows.registry import task_form

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


# --------------------------------------------------------------------------- the package's years


def test_results_of_an_inspection_finished_on_27_september_2024_are_due_on_12_october(app_ctx: Flask) -> None:
    # 9/29 (Sunday, make-up) = 1, 9/30 = 2, 10/1-10/7 National Day, 10/8-10/11 = 3-6, 10/12 (Saturday, make-up) = 7.
    assert workdays.add_working_days(date(2024, 9, 27), 7) == Deadline(date(2024, 10, 12), False, ())


def test_the_calendar_is_seeded_lazily_once_and_audited(app_ctx: Flask) -> None:
    assert db.session.scalar(select(func.count()).select_from(CalendarYear)) == 0
    workdays.is_working_day(date(2024, 10, 12))
    years = set(db.session.scalars(select(CalendarYear.year).where(CalendarYear.maintained.is_(True))))
    assert years == set(range(2004, 2027)) == set(workdays.package_years())
    national_day = db.session.get(CalendarDay, date(2024, 10, 1))
    assert (national_day.is_working_day, national_day.name, national_day.source) == (False, "国庆节", "chinesecalendar")
    make_up = db.session.get(CalendarDay, date(2024, 10, 12))
    assert (make_up.is_working_day, make_up.name) == (True, "国庆节调休上班")
    assert workdays.seed_from_package() == 0 and workdays.ensure_seeded() == 0  # idempotent
    workdays.add_working_days(date(2010, 1, 1), 30)
    assert _actions() == ["calendar.seeded"]
    db.session.commit()


def test_spring_festival_2025_holidays_and_make_up_days(app_ctx: Flask) -> None:
    assert workdays.is_working_day(date(2025, 1, 26))  # Sunday, make-up working day
    assert not workdays.is_working_day(date(2025, 1, 28))  # Tuesday, Spring Festival
    assert not workdays.is_working_day(date(2025, 2, 4))
    assert workdays.is_working_day(date(2025, 2, 5))
    assert workdays.is_working_day(date(2025, 2, 8))  # Saturday, make-up working day
    assert not workdays.is_working_day(date(2025, 2, 9))  # an ordinary Sunday
    # Friday 1/24: Saturday off, Sunday 1/26 = 1, Monday 1/27 = 2, 1/28-2/4 off, 2/5 = 3.
    assert workdays.add_working_days(date(2025, 1, 24), 3).day == date(2025, 2, 5)


def test_national_day_2025(app_ctx: Flask) -> None:
    # 9/28 (Sunday, make-up) = 1, 9/29 = 2, 9/30 = 3, 10/1-10/8 off, 10/9 = 4, 10/10 = 5, 10/11 (Saturday) = 6.
    assert workdays.add_working_days(date(2025, 9, 26), 6) == Deadline(date(2025, 10, 11))
    assert workdays.add_working_days(date(2025, 9, 30), 1).day == date(2025, 10, 9)


def test_working_days_before(app_ctx: Flask) -> None:
    assert workdays.working_days_before(date(2024, 10, 12), 7) == Deadline(date(2024, 9, 27))
    assert workdays.working_days_before(date(2024, 10, 8), 1).day == date(2024, 9, 30)
    assert workdays.working_days_before(date(2025, 2, 5), 2).day == date(2025, 1, 26)
    assert workdays.working_days_before(date(2024, 10, 5), 0).day == date(2024, 10, 5)
    assert workdays.add_working_days(date(2024, 10, 5), 0).day == date(2024, 10, 5)
    with pytest.raises(ValueError):
        workdays.add_working_days(date(2024, 1, 1), -1)


def test_deadline_instants_are_in_shanghai() -> None:
    end = workdays.deadline_instant(date(2024, 10, 12))
    assert end == datetime(2024, 10, 13, tzinfo=SHANGHAI) and end.utcoffset().total_seconds() == 8 * 3600
    assert end.astimezone(timezone.utc) == datetime(2024, 10, 12, 16, 0, tzinfo=timezone.utc)
    assert workdays.morning_of(date(2024, 10, 12)) == datetime(2024, 10, 12, 1, 0, tzinfo=timezone.utc)


# --------------------------------------------------------------------------- a year without a calendar


def test_a_year_without_a_calendar_counts_weekends_until_the_bureau_enters_it(
    app: Flask, make_user, login_as  # type: ignore[no-untyped-def]
) -> None:
    # 12/29, 12/30, 12/31 (2026), then 2027: Friday 1/1 = 4 (no calendar: just a Friday), Monday 1/4 = 5.
    with app.app_context():
        before = workdays.add_working_days(date(2026, 12, 28), 5)
        assert before == Deadline(date(2027, 1, 4), True, (2027,))
        assert workdays.add_working_days(date(2026, 12, 1), 5) == Deadline(date(2026, 12, 8))  # within 2026
        db.session.commit()

    make_user("admin", "admin")
    make_user("drafter", "drafter")
    assert login_as("drafter").get("/admin/calendar").status_code == 403
    admin = login_as("admin")
    listing = admin.get("/admin/calendar").get_data(as_text=True)
    assert 'data-year="2027"' in listing and 'data-year="2004"' in listing

    response = admin.post("/admin/calendar/2027/days",
                          data={"day": "2027-01-01", "kind": "holiday", "name": "元旦"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    page = admin.get("/admin/calendar/2027").get_data(as_text=True)
    assert 'data-day="2027-01-01"' in page and "元旦" in page

    with app.app_context():
        moved = workdays.add_working_days(date(2026, 12, 28), 5)
        assert moved == Deadline(date(2027, 1, 5), True, (2027,))  # still incomplete: says so
        year = db.session.get(CalendarYear, 2027)
        assert (year.source, year.maintained) == ("bureau", False)
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "calendar.day_added")).one()
        assert entry.subject_type == "calendar_day" and entry.subject_id == "2027-01-01"
        assert entry.actor_name == "Admin (admin)"
        assert json.loads(entry.details) == {"day": "2027-01-01", "is_working_day": False, "name": "元旦",
                                             "source": "bureau"}

    assert admin.post("/admin/calendar/2027/maintained", data={"maintained": "1"}).status_code == 302
    with app.app_context():
        assert workdays.add_working_days(date(2026, 12, 28), 5) == Deadline(date(2027, 1, 5))
        assert "calendar.year_maintained" in _actions()
        assert audit.verify_chain().ok


def test_make_up_days_and_removal_through_the_admin_page(app: Flask, make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    make_user("admin", "admin")
    admin = login_as("admin")
    # A make-up working day must fall on a weekend; a date outside the page's year is refused.
    bad = admin.post("/admin/calendar/2027/days", data={"day": "2027-02-01", "kind": "working_day", "name": "x"})
    assert bad.status_code == 422
    assert admin.post("/admin/calendar/2027/days",
                      data={"day": "2028-01-01", "kind": "holiday", "name": "x"}).status_code == 422
    # Saturday 2027-02-20 becomes a working day: Friday 2/19 + 1 is that Saturday.
    assert admin.post("/admin/calendar/2027/days",
                      data={"day": "2027-02-20", "kind": "working_day", "name": "春节调休上班"}).status_code == 302
    with app.app_context():
        assert workdays.add_working_days(date(2027, 2, 19), 1).day == date(2027, 2, 20)
    assert admin.post("/admin/calendar/2027/days/2027-02-20/delete").status_code == 302
    with app.app_context():
        assert workdays.add_working_days(date(2027, 2, 19), 1).day == date(2027, 2, 22)
        assert db.session.get(CalendarDay, date(2027, 2, 20)) is None
        assert _actions()[-2:] == ["calendar.day_added", "calendar.day_removed"]
    # Correcting a package year: the edit replaces the day and keeps the rest of the year.
    assert admin.post("/admin/calendar/2025/days",
                      data={"day": "2025-10-08", "kind": "holiday", "name": "中秋节"}).status_code == 302
    with app.app_context():
        assert db.session.get(CalendarDay, date(2025, 10, 8)).source == "bureau"
        assert db.session.get(CalendarDay, date(2025, 10, 1)).source == "chinesecalendar"
        changed = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "calendar.day_changed")).one()
        assert json.loads(changed.details)["before"]["name"] == "国庆节"


def test_cli_seed_and_show(app: Flask) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["workdays", "seed"])
    assert first.exit_code == 0 and "Seeded" in first.output
    again = runner.invoke(args=["workdays", "seed"])
    assert again.exit_code == 0 and "Nothing to seed" in again.output
    shown = runner.invoke(args=["workdays", "show", "2024"])
    assert "2024: maintained" in shown.output and "2024-10-12 Sat  working day  国庆节调休上班" in shown.output
    assert "no calendar" in runner.invoke(args=["workdays", "show", "2031"]).output


# --------------------------------------------------------------------------- user-task due dates


def _spec(**props: str) -> SimpleNamespace:
    return SimpleNamespace(extensions={"properties": {"formKey": "x.y", **props}})


CREATED = datetime(2024, 9, 27, 10, 30, tzinfo=SHANGHAI).astimezone(timezone.utc)
END_OF_12_OCTOBER = datetime(2024, 10, 12, 16, 0, tzinfo=timezone.utc)  # 24:00 in Shanghai


def test_due_in_working_days(app_ctx: Flask) -> None:
    props = TaskProperties.of(_spec(dueInWorkingDays="7"))
    assert props.due_in_working_days == 7 and props.due_in_days is None
    assert props.due_at(CREATED, {}) == END_OF_12_OCTOBER
    assert compute_due_at(CREATED, None, 7) == END_OF_12_OCTOBER
    # 01:00 on 27 September in Shanghai is still 26 September in UTC: the local day counts.
    assert compute_due_at(datetime(2024, 9, 26, 17, 0, tzinfo=timezone.utc), None, 7) == END_OF_12_OCTOBER
    # dueInDays is unchanged: calendar days from the instant of creation.
    assert compute_due_at(CREATED, 3) == datetime(2024, 9, 30, 2, 30, tzinfo=timezone.utc)
    assert compute_due_at(CREATED, None) is None
    with pytest.raises(PropertyError, match="exclude each other"):
        TaskProperties.of(_spec(dueInDays="3", dueInWorkingDays="3"))
    with pytest.raises(PropertyError, match="dueInWorkingDays must not be negative"):
        TaskProperties.of(_spec(dueInWorkingDays="-1"))


def test_due_at_from_a_task_variable(app_ctx: Flask) -> None:
    props = TaskProperties.of(_spec(dueAtFrom="results_due_at", dueInWorkingDays="7"))
    assert props.due_at_from == "results_due_at"
    set_at = datetime(2024, 11, 1, 9, 0, tzinfo=SHANGHAI)
    assert props.due_at(CREATED, {"results_due_at": set_at.isoformat()}) == set_at
    assert props.due_at(CREATED, {"results_due_at": "2024-11-01T01:00:00Z"}) == set_at
    assert props.due_at(CREATED, {"results_due_at": "2024-10-12"}) == END_OF_12_OCTOBER  # a day: its end
    assert props.due_at(CREATED, {"results_due_at": set_at}) == set_at
    # Unset or empty: the other property decides.
    assert props.due_at(CREATED, {}) == END_OF_12_OCTOBER
    assert props.due_at(CREATED, {"results_due_at": None}) == END_OF_12_OCTOBER
    assert TaskProperties.of(_spec(dueAtFrom="results_due_at")).due_at(CREATED, {}) is None
    with pytest.raises(PropertyError, match="without an offset"):
        props.due_at(CREATED, {"results_due_at": "2024-11-01T09:00:00"})
    with pytest.raises(PropertyError, match="ISO date or datetime"):
        props.due_at(CREATED, {"results_due_at": "next Friday"})


DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="workdays_due_definitions" targetNamespace="http://suiji.local/bpmn/tests">
  <bpmn:process id="workdays_due" name="Working-day due dates" isExecutable="true">
    <bpmn:laneSet id="workdays_due_lanes">
      <bpmn:lane id="lane_leader" name="leader">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>results</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>publish</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="results" name="Enter results">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formKey" value="workdays_test.results" />
          <spiffworkflow:property name="dueInWorkingDays" value="7" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:userTask id="publish" name="Publish">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formKey" value="workdays_test.publish" />
          <spiffworkflow:property name="dueAtFrom" value="publish_due_at" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="results" />
    <bpmn:sequenceFlow id="f2" sourceRef="results" targetRef="publish" />
    <bpmn:sequenceFlow id="f3" sourceRef="publish" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture(scope="module")
def due_app(migrated: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    bpmn_dir: Path = tmp_path_factory.mktemp("workdays_bpmn")
    (bpmn_dir / "workdays_due.bpmn").write_text(DIAGRAM, encoding="utf-8")
    application = build_app(migrated, BPMN_EXTRA_DIRS=[str(bpmn_dir)])
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@task_form("workdays_test.results")
def _results_form(data: dict[str, Any], task: Any, user: Any) -> dict[str, Any]:
    return {"publish_due_at": "2024-11-08T00:00:00+08:00"}


@task_form("workdays_test.publish")
def _publish_form(data: dict[str, Any], task: Any, user: Any) -> dict[str, Any]:
    return {}


def test_the_engine_sets_due_dates_from_working_days_and_task_data(due_app: Flask) -> None:
    from app.auth.service import create_user
    from workflows import clock, engine
    from workflows.models import HumanTask

    try:
        with due_app.app_context(), clock.frozen_at(CREATED):
            leader = create_user("leader", TEST_PASSWORD, "Leader", ["leader"])
            db.session.commit()
            instance = engine.start_process("workdays_due", subject_type="case", subject_id=1, subject_title="one",
                                            data={}, user_id=None)
            db.session.commit()
            results = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id)).one()
            assert results.due_at == END_OF_12_OCTOBER
            engine.complete_task(results.id, leader, {})
            publish = db.session.scalars(
                select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.bpmn_id == "publish")
            ).one()
            assert publish.due_at == datetime(2024, 11, 7, 16, 0, tzinfo=timezone.utc)

            # The bulk start computes the same due date.
            ids = engine.start_processes("workdays_due", [
                engine.StartItem(subject_type="case", subject_id=n, subject_title=str(n)) for n in (2, 3)
            ], user_id=None)
            db.session.commit()
            dues = set(db.session.scalars(select(HumanTask.due_at).where(HumanTask.instance_id.in_(ids))))
            assert dues == {END_OF_12_OCTOBER}
    finally:
        _wipe(due_app)
