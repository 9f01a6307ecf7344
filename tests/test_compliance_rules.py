"""Every rule check on seeded violations: each rule finds exactly its violation, clean data none.

The data comes from the real flows where that is cheap (a plan approved by others, a draw
witnessed and signed off, a case confirmed with a replaced recusal, inspected, entered,
reviewed and published; results entered late on a controllable clock) and from direct row
edits where the application rightly prevents the violation.
"""
from __future__ import annotations

import gzip
import json
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from flask_babel import force_locale
from sqlalchemy import delete, select, update

from app.audit.models import AuditEntry
from app.auth.models import User
from app.cases.models import CaseItemResult, CaseMember, InspectionCase, MemberState
from app.compliance import rules
from app.compliance.models import DrawVerification
from app.draws.models import Draw, DrawDossier, DrawSelection
from app.extensions import db
from app.plans.models import Plan
from tests.test_case_lifecycle import _task_for, confirmed_case, record_and_enter
from tests.test_case_recusal import _confirm_task
from tests.test_draw_process import YEAR, bureau  # noqa: F401
from workflows import clock
from workflows.models import ProcessEvent

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime.now(timezone.utc)


@pytest.fixture
def published_case(app, bureau, login_as, make_user):  # noqa: F811
    """A clean year: plan, draw and one case published through the real flows; (case id, lead)."""
    make_user("chief", "section_chief")
    case_id, lead = confirmed_case(app, bureau, login_as)
    record_and_enter(app, login_as, case_id, lead, inspected_on=date.today() - timedelta(days=1), categories=["1"])
    r = login_as("chief").post(f"/tasks/{_task_for(app, case_id, 'review_results')}/complete", data={"decision": "approve"})
    assert r.status_code == 302
    with app.app_context():
        assert db.session.get(InspectionCase, case_id).status == "published"
    yield case_id, lead
    clock.reset()


def _other_cases(app, case_id: int, n: int) -> list[int]:  # type: ignore[no-untyped-def]
    with app.app_context():
        ids = list(db.session.scalars(select(InspectionCase.id).where(InspectionCase.id != case_id)
                                      .order_by(InspectionCase.id).limit(n)))
    assert len(ids) == n
    return ids


def _found(report: rules.CheckReport) -> dict[str, set[tuple[str, int]]]:
    return {code: {(f.subject_type, f.subject_id) for f in found} for code, found in report.by_rule().items()}


def _run(app, **kwargs) -> rules.CheckReport:  # type: ignore[no-untyped-def]
    with app.app_context():
        report = rules.run_checks(**kwargs)
        db.session.commit()
        return report


def test_clean_data_gives_no_finding(app, published_case, login_as):
    report = _run(app)
    assert report.findings == [], [str(f.message) for f in report.findings]
    assert report.draws_checked == 1 and report.draws_verified_now == 1 and report.pending_draws == []
    assert set(report.counts) == set(rules.RULES) and sum(report.counts.values()) == 0
    # A second run re-uses the verifier's verdict: the dossier and pool hash the same.
    again = _run(app, year=YEAR)
    assert again.findings == [] and again.draws_checked == 1 and again.draws_verified_now == 0
    page = login_as("compliance").get(f"/compliance/checks?year={YEAR}")
    assert page.status_code == 200 and 'data-testid="no-findings"' in page.get_data(as_text=True)
    result = app.test_cli_runner().invoke(args=["compliance", "check", "--year", str(YEAR)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("0 findings")


def _late_results_case(app, login_as, case_id: int) -> None:  # type: ignore[no-untyped-def]
    """Case confirmed by its team, inspected 20 days ago, results entered 18 days later (the clock says)."""
    with app.app_context():
        inspector_ids = [m.inspector_id for m in db.session.get(InspectionCase, case_id).members]
    lead = None
    for inspector_id in inspector_ids:
        task_id, username = _confirm_task(app, case_id, inspector_id)
        lead = lead or username
        assert login_as(username).post(f"/tasks/{task_id}/complete", data={"decision": "confirm"}).status_code == 302
    inspected = max(date.today() - timedelta(days=20), date(YEAR, 1, 5))
    clock.set_now(datetime.combine(inspected, datetime.min.time(), tzinfo=SHANGHAI) + timedelta(hours=16))
    with app.app_context():
        item_id = db.session.get(InspectionCase, case_id).item_results[0].check_item_id
    client = login_as(lead)
    r = client.post(f"/tasks/{_task_for(app, case_id, 'record_inspection')}/complete", data={
        "inspection_date": inspected.isoformat(), "outcome": "inspected", "onsite_record": "现场检查。",
        f"item_{item_id}_checked": "1", f"item_{item_id}_findings": "未发现问题。"})
    assert r.status_code == 302, r.get_data(as_text=True)
    clock.set_now(datetime.combine(inspected + timedelta(days=18), datetime.min.time(), tzinfo=SHANGHAI)
                  + timedelta(hours=12))
    r = client.post(f"/tasks/{_task_for(app, case_id, 'enter_results')}/complete",
                    data={"categories": ["1"], f"follow_{item_id}": "none"})
    assert r.status_code == 302, r.get_data(as_text=True)
    clock.reset()
    with app.app_context():
        case = db.session.get(InspectionCase, case_id)
        assert case.results_on_time is False and case.published_at is None


def _second_round_case_on(app, case_id: int) -> int:  # type: ignore[no-untyped-def]
    """Another published case on the same entity and item in the same year (a second round's)."""
    with app.app_context():
        case = db.session.get(InspectionCase, case_id)
        first = db.session.get(Draw, case.draw_id)
        chief = db.session.scalar(select(User.id).where(User.username == "chief"))
        other = Draw(task_draw_id=first.task_draw_id, round_no=first.round_no + 1, status="signed_off",
                     algorithm=first.algorithm, task_code=first.task_code, scheduled_at=first.scheduled_at,
                     commitment="0" * 64, server_seed="1" * 64, pool_digest=first.pool_digest,
                     quota_rule=first.quota_rule, team_rule=first.team_rule)
        db.session.add(other)
        db.session.flush()
        inspected = case.inspection_date + timedelta(days=1) if case.inspection_date < date.today() else case.inspection_date
        entered = datetime.combine(inspected, datetime.min.time(), tzinfo=SHANGHAI) + timedelta(hours=17)
        repeat = InspectionCase(
            code=f"{case.code}-R", draw_id=other.id, spot_check_task_id=case.spot_check_task_id,
            entity_id=case.entity_id, status="published", inspection_date=inspected, outcome="inspected",
            results_due_on=inspected + timedelta(days=9), results_entered_at=entered, results_on_time=True,
            result_categories=["1"], reviewed_at=entered + timedelta(minutes=5), reviewed_by_id=chief,
            publication_due_on=inspected + timedelta(days=28), published_at=entered + timedelta(minutes=6))
        for position, member in enumerate(case.active_members, start=1):
            repeat.members.append(CaseMember(inspector_id=member.inspector_id, certificate_no=member.certificate_no,
                                             position=position, state=MemberState.CONFIRMED))
        item = case.item_results[0]
        repeat.item_results.append(CaseItemResult(check_item_id=item.check_item_id, position=1, method="on_site",
                                                  checked=True, findings="未发现问题。"))
        db.session.add(repeat)
        db.session.commit()
        return repeat.id


def test_every_rule_finds_its_seeded_violation(app, published_case, login_as):
    clean_id, _lead = published_case
    team_id, recusal_id, late_id, pub_id, review_id = _other_cases(app, clean_id, 5)
    _late_results_case(app, login_as, late_id)
    repeat_id = _second_round_case_on(app, clean_id)
    day = timedelta(days=1)
    with app.app_context():
        chief = db.session.scalar(select(User.id).where(User.username == "chief"))
        # A case inspected by one inspector: a member row removed outside the application.
        team = db.session.get(InspectionCase, team_id)
        db.session.execute(delete(CaseMember).where(CaseMember.id == team.members[-1].id))
        team.status = "inspecting"
        # A recusal with no replacement: the team is one short while the case still waits for it.
        recused = db.session.get(InspectionCase, recusal_id).members[0]
        recused.state, recused.recusal_reason = MemberState.RECUSED, "与该店负责人系同学"
        recused_cert = recused.certificate_no
        # A publication after its due date (the due date recorded by publication, then missed).
        pub = db.session.get(InspectionCase, pub_id)
        entered = datetime.combine((NOW - timedelta(days=40)).date(), time(4), tzinfo=timezone.utc)  # noon in Beijing
        pub.status, pub.inspection_date, pub.results_due_on = "published", (entered - 2 * day).date(), entered.date() + day
        pub.results_entered_at, pub.results_on_time = entered, True
        pub.reviewed_at, pub.reviewed_by_id = entered + day, chief
        pub.publication_due_on = (entered + 28 * day).date()
        pub.published_at = entered + 31 * day
        # A published result nobody reviewed.
        unreviewed = db.session.get(InspectionCase, review_id)
        unreviewed.status, unreviewed.results_entered_at, unreviewed.results_on_time = "published", NOW - day, True
        unreviewed.results_due_on, unreviewed.published_at = (NOW + 5 * day).date(), NOW
        # The plan's leadership approval recorded as completed by its drafter.
        plan = db.session.scalar(select(Plan))
        plan_id = plan.id
        approval = db.session.scalar(select(ProcessEvent).where(
            ProcessEvent.instance_id == plan.process_instance_id, ProcessEvent.bpmn_id == "leader_approval",
            ProcessEvent.event == "completed"))
        approval.user_id = plan.drafter_id
        # The draw's dossier changed after the sitting: one team member swapped in the stored dossier.
        draw_id = team.draw_id
        task_draw_id = db.session.get(Draw, draw_id).task_draw_id
        row = db.session.get(DrawDossier, draw_id)
        dossier = json.loads(gzip.decompress(row.dossier_gz))
        dossier["strata"][0]["size"] += 1
        row.dossier_gz = gzip.compress(json.dumps(dossier, ensure_ascii=False).encode())
        db.session.commit()

    report = _run(app)
    found = _found(report)
    assert found == {
        "team_below_two": {("inspection_case", team_id)},
        "recusal_not_replaced": {("inspection_case", recusal_id)},
        "drafter_approved_own_plan": {("plan", plan_id)},
        "results_late": {("inspection_case", late_id)},
        "publication_late": {("inspection_case", pub_id)},
        "draw_not_verified": {("task_draw", task_draw_id)},
        "repeat_check": {("inspection_case", repeat_id)},
        "published_without_review": {("inspection_case", review_id)},
    }, {code: [str(f.message) for f in fs] for code, fs in report.by_rule().items()}
    assert report.draws_verified_now == 1  # the changed dossier no longer matches the kept verdict

    with app.app_context(), force_locale("en"):
        by_rule = {f.rule: f for f in report.findings}
        codes = dict(db.session.execute(select(InspectionCase.id, InspectionCase.code)).tuples().all())
        assert by_rule["team_below_two"].facts["active"] == 1
        assert codes[team_id] in str(by_rule["team_below_two"].message)
        assert by_rule["recusal_not_replaced"].severity == rules.WARNING  # still confirming its team
        assert "与该店负责人系同学" not in str(by_rule["recusal_not_replaced"].message)
        assert by_rule["recusal_not_replaced"].facts["not_replaced"] == [recused_cert]
        assert "Drafter" in str(by_rule["drafter_approved_own_plan"].message)
        assert "Approve the plan" in str(by_rule["drafter_approved_own_plan"].message)
        late = by_rule["results_late"]
        assert late.facts["days_late"] > 0 and str(late.facts["due_on"]) in str(late.message)
        assert by_rule["publication_late"].facts["days_late"] == 3
        assert "strata" in str(by_rule["draw_not_verified"].message)
        assert by_rule["repeat_check"].facts["cases"] == [codes[clean_id], codes[repeat_id]]
        assert by_rule["repeat_check"].severity == rules.HIGH and by_rule["repeat_check"].year == YEAR
        assert by_rule["published_without_review"].facts["reason"] == "no_review"
        assert all(f.trace_path == f"/compliance/trace/{f.subject_type}/{f.subject_id}" for f in report.findings)

    # Filters: one rule, one year; a year without data finds nothing.
    assert _found(_run(app, year=YEAR, rules=["publication_late"])) == {
        "publication_late": {("inspection_case", pub_id)}}
    assert _run(app, year=YEAR - 5).findings == []

    # The page groups the findings by rule, each linking to its trace.
    reviewer = login_as("compliance")
    page = reviewer.get("/compliance/checks?year=").get_data(as_text=True)
    for code in rules.RULES:
        assert f'data-testid="findings-{code}"' in page
    assert f'href="/compliance/trace/inspection_case/{team_id}"' in page
    assert f'href="/compliance/trace/task_draw/{task_draw_id}"' in page
    assert f'href="/compliance/trace/plan/{plan_id}"' in page
    only = reviewer.get(f"/compliance/checks?year={YEAR}&rule=repeat_check").get_data(as_text=True)
    assert 'data-testid="findings-repeat_check"' in only and "findings-team_below_two" not in only

    # The command line prints each finding and fails.
    result = app.test_cli_runner().invoke(args=["compliance", "check"])
    assert result.exit_code == 1
    assert "8 findings" in result.output and f"/compliance/trace/plan/{plan_id}" in result.output


def test_verifier_verdict_is_kept_per_content_and_rows_are_compared(app, published_case):
    clean_id, _lead = published_case
    with app.app_context():
        draw_id = db.session.get(InspectionCase, clean_id).draw_id
    assert _run(app, rules=["draw_not_verified"]).findings == []
    with app.app_context():
        kept = db.session.get(DrawVerification, draw_id)
        assert kept.ok and kept.problems == [] and len(kept.dossier_sha256) == 64
        # The verdict covers the dossier and pool bytes; the selection rows are compared with the
        # dossier on every run, so a changed row is caught even with the verdict kept.
        db.session.execute(update(DrawSelection).where(DrawSelection.draw_id == draw_id, DrawSelection.rank == 1)
                           .values(uscc="91140500MA0000000X"))
        db.session.commit()
    report = _run(app, rules=["draw_not_verified"])
    assert report.draws_verified_now == 0 and len(report.findings) == 1
    assert "selections" in report.findings[0].facts["problems"][0]
    # --reverify ignores the kept verdict (and the budget leaves big rounds for the background).
    assert _run(app, rules=["draw_not_verified"], force_verify=True).draws_verified_now == 1
    budget = _run(app, rules=["draw_not_verified"], force_verify=True, verify_budget_seconds=0.0)
    assert budget.pending_draws == [draw_id] and budget.findings == []


def test_inspected_case_with_unreplaced_recusal_is_a_violation_of_both_rules(app, published_case):
    clean_id, _lead = published_case
    with app.app_context():
        case = db.session.get(InspectionCase, clean_id)
        replacement = next(m for m in case.members if m.replaces_id)
        db.session.delete(replacement)  # the replacement removed after the inspection
        db.session.commit()
    found = _found(_run(app, rules=["team_below_two", "recusal_not_replaced"]))
    assert found == {"team_below_two": {("inspection_case", clean_id)},
                     "recusal_not_replaced": {("inspection_case", clean_id)}}
    report = _run(app, rules=["recusal_not_replaced"])
    assert report.findings[0].severity == rules.HIGH


def test_results_not_entered_after_their_due_day(app, published_case):
    clean_id, _lead = published_case
    other = _other_cases(app, clean_id, 1)[0]
    with app.app_context():
        case = db.session.get(InspectionCase, other)
        case.status, case.inspection_date, case.results_due_on = "result_entry", date(YEAR, 3, 2), date(YEAR, 3, 11)
        db.session.commit()
    clock.set_now(datetime(YEAR, 3, 11, 23, 59, tzinfo=SHANGHAI))
    assert _run(app, rules=["results_late"]).findings == []  # due at the end of the 11th
    clock.set_now(datetime(YEAR, 3, 12, 0, 1, tzinfo=SHANGHAI))
    report = _run(app, rules=["results_late"])
    assert [(f.subject_id, f.facts["days_late"]) for f in report.findings] == [(other, 1)]


def test_checks_are_for_reviewers_only(app, published_case, login_as):
    for username in ("drafter", "leader", "chief", "coordinator"):
        client = login_as(username)
        assert client.get("/compliance/checks").status_code == 403
        assert client.post("/compliance/checks/verify-draws", data={"year": YEAR}).status_code == 403
    assert app.test_client().get("/compliance/checks").status_code in (302, 401)


def test_pending_draws_are_verified_in_the_background(app, published_case, login_as):
    before = app.config.get("COMPLIANCE_VERIFY_BUDGET_SECONDS")
    app.config["COMPLIANCE_VERIFY_BUDGET_SECONDS"] = 0.0
    try:
        reviewer = login_as("compliance")
        page = reviewer.get(f"/compliance/checks?year={YEAR}").get_data(as_text=True)
        assert 'data-testid="draws-pending"' in page
        r = reviewer.post("/compliance/checks/verify-draws", data={"year": str(YEAR)})
        assert r.status_code == 302
        with app.app_context():
            assert db.session.scalar(select(DrawVerification.ok)) is True  # the job ran (inline in tests)
            assert db.session.scalar(select(AuditEntry.action).where(
                AuditEntry.action == "compliance.draw_verification_requested")) is not None
        page = reviewer.get(f"/compliance/checks?year={YEAR}").get_data(as_text=True)
        assert 'data-testid="draws-pending"' not in page
    finally:
        app.config["COMPLIANCE_VERIFY_BUDGET_SECONDS"] = before


def test_review_after_publication_or_by_the_team_is_no_review(app, published_case):
    clean_id, lead = published_case
    other = _other_cases(app, clean_id, 1)[0]
    with app.app_context():
        chief = db.session.scalar(select(User.id).where(User.username == "chief"))
        lead_id = db.session.scalar(select(User.id).where(User.username == lead))
        db.session.get(InspectionCase, clean_id).reviewed_by_id = lead_id  # the lead approved their own results
        late = db.session.get(InspectionCase, other)
        late.status, late.results_entered_at, late.results_on_time = "published", NOW - timedelta(days=2), True
        late.results_due_on, late.published_at = (NOW + timedelta(days=5)).date(), NOW - timedelta(days=1)
        late.reviewed_at, late.reviewed_by_id = NOW, chief  # reviewed a day after it went public
        db.session.commit()
    report = _run(app, rules=["published_without_review"])
    assert {(f.subject_id, f.facts["reason"]) for f in report.findings} == {
        (clean_id, "reviewer_on_team"), (other, "review_after_publication")}


def test_a_late_mark_on_results_entered_in_time_is_a_warning(app, published_case):
    clean_id, _lead = published_case
    with app.app_context():
        case = db.session.get(InspectionCase, clean_id)
        case.results_on_time = False  # the flag says late, the dates say on time: the record contradicts itself
        due = case.results_due_on
        db.session.commit()
    report = _run(app, rules=["results_late"])
    assert [(f.subject_id, f.severity, f.facts["days_late"]) for f in report.findings] == [(clean_id, rules.WARNING, 0)]
    with app.app_context(), force_locale("en"):
        assert f"within their due day {due}" in str(report.findings[0].message)
