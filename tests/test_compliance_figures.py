"""The yearly figures on small known data: every numerator, denominator and target, the
breakdowns, the JSON the charts read, the page, the XLSX export (audited) and who may see them."""
from __future__ import annotations

import io
import json
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.cases.models import InspectionCase
from app.compliance import figures
from app.directory.models import CheckItem, Department, Entity
from app.draws.models import Draw, TaskDraw
from app.extensions import db
from app.plans.models import Plan, SpotCheckTask
from app.referrals.models import Referral, ReferralBranch
from workflows import clock

SHANGHAI = ZoneInfo("Asia/Shanghai")
Y = 2025


def bj(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> datetime:
    """A Beijing wall-clock instant (aware)."""
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


@pytest.fixture
def year_data(app, make_user):
    """Two departments, 11 check items, 128 entities, four plans, five tasks, draws, eight cases, eight branches.

    The expected figures are worked out next to each test's assertions.
    """
    drafter = make_user("drafter", "drafter")
    make_user("compliance", "compliance_reviewer")
    make_user("admin", "admin")
    make_user("leader", "leader")
    clock.set_now(bj(Y, 12, 31, 10))
    ids: dict[str, int] = {}
    with app.app_context():
        d1 = Department(code="D1", name="市局", region_code="140500")
        d2 = Department(code="D2", name="县局", region_code="140502", level="county")
        db.session.add_all([d1, d2])
        db.session.flush()
        items = {f"c{n}": CheckItem(code=f"C{n}", category="类别", name=f"事项{n}", department_id=(d1 if n <= 6 else d2).id)
                 for n in range(1, 11)}
        items["off"] = CheckItem(code="COFF", category="类别", name="停用事项", department_id=d1.id, active=False)
        db.session.add_all(items.values())
        ents: dict[str, Entity] = {}
        for n in range(100):  # active enterprises: half without a registration date
            ents[f"e{n}"] = Entity(uscc=f"E{n:017d}", name=f"企业{n}", kind="enterprise", region_code="140502",
                                   registered_on=None if n % 2 else date(2020, 1, 1))
        for n in range(20):
            ents[f"i{n}"] = Entity(uscc=f"I{n:017d}", name=f"个体户{n}", kind="individual", region_code="140502")
        for n in range(5):
            ents[f"x{n}"] = Entity(uscc=f"X{n:017d}", name=f"注销企业{n}", kind="enterprise", region_code="140502",
                                   status="deregistered")
        for n in range(3):
            ents[f"n{n}"] = Entity(uscc=f"N{n:017d}", name=f"新企业{n}", kind="enterprise", region_code="140502",
                                   registered_on=date(Y + 1, 3, 1))
        db.session.add_all(ents.values())
        db.session.flush()

        def plan(code: str, dept: Department, year: int, status: str = "published") -> Plan:
            p = Plan(code=code, title=f"{year}年度计划{code}", year=year, department_id=dept.id, drafter_id=drafter,
                     status=status)
            db.session.add(p)
            db.session.flush()
            return p

        def task(p: Plan, code: str, lead: Department, item_keys: list[str], **kw) -> SpotCheckTask:  # type: ignore[no-untyped-def]
            t = SpotCheckTask(plan_id=p.id, code=code, name=f"任务{code}", window_start=date(p.year, 1, 1),
                              window_end=date(p.year, 12, 20), lead_department_id=lead.id, **kw)
            t.check_items = [items[k] for k in item_keys]
            db.session.add(t)
            db.session.flush()
            return t

        p1, p2 = plan("P1", d1, Y), plan("P2", d2, Y)
        p3, p4 = plan("P3", d1, Y, status="draft"), plan("P4", d1, Y - 1)
        classes = {"A": "0.01", "B": "0.02", "C": "0.1", "D": "0.3"}
        t1 = task(p1, "T1", d1, ["c1", "c2", "c3", "c4", "off"], ratio="0.05", credit_ratios=classes)
        t2 = task(p1, "T2", d2, ["c7"], ratio="0.05", credit_ratios={k: "0.05" for k in classes})
        t3 = task(p2, "T3", d2, ["c8", "c1"], quota_kind="count", count=20)
        t6 = task(p2, "T6", d2, ["c2"], ratio="0.05")
        task(p3, "T4", d1, ["c5", "c6"])
        task(p4, "T5", d1, ["c5"])

        def draw(t: SpotCheckTask, status: str, rounds: list[str]) -> list[Draw]:
            td = TaskDraw(spot_check_task_id=t.id, status=status)
            db.session.add(td)
            db.session.flush()
            out = []
            for n, round_status in enumerate(rounds, start=1):
                d = Draw(task_draw_id=td.id, round_no=n, status=round_status, algorithm="suiji-draw-v1",
                         task_code=t.code, scheduled_at=bj(Y, 3, 1), commitment="0" * 64, server_seed="1" * 64,
                         pool_digest="2" * 64, quota_rule={}, team_rule={})
                db.session.add(d)
                out.append(d)
            db.session.flush()
            return out

        r1 = draw(t1, "signed_off", ["voided", "signed_off"])[-1]
        r2 = draw(t2, "signed_off", ["signed_off"])[0]
        draw(t3, "drawn", ["drawn"])
        r6 = draw(t6, "signed_off", ["signed_off"])[0]

        def case(code: str, d: Draw, t: SpotCheckTask, entity: str, inspected: date, *, due: date,
                 entered: datetime | None = None, on_time: bool | None = None,
                 published: datetime | None = None) -> InspectionCase:
            c = InspectionCase(code=code, draw_id=d.id, spot_check_task_id=t.id, entity_id=ents[entity].id,
                               status="published" if published else ("review" if entered else "result_entry"),
                               inspection_date=inspected, results_due_on=due, results_entered_at=entered,
                               results_on_time=on_time, published_at=published)
            db.session.add(c)
            db.session.flush()
            ids[code] = c.id
            return c

        ca = case("a", r1, t1, "e1", date(Y, 6, 1), due=date(Y, 6, 10), entered=bj(Y, 6, 5), on_time=True,
                  published=bj(Y, 6, 10))
        cb = case("b", r1, t1, "e2", date(Y, 11, 20), due=date(Y, 12, 1), entered=bj(Y, 12, 5), on_time=False,
                  published=bj(Y, 12, 22))
        case("c", r2, t2, "e1", date(Y, 10, 20), due=date(Y, 11, 1))  # overdue, nothing entered
        case("d", r2, t2, "i1", date(Y, 12, 28), due=date(Y + 1, 1, 8))  # not due yet
        case("e", r1, t1, "x1", date(Y, 7, 1), due=date(Y, 7, 10), entered=bj(Y, 7, 3), on_time=True)
        cf = case("f", r2, t2, "e3", date(Y, 3, 3), due=date(Y, 3, 12), entered=bj(Y, 3, 5), on_time=True,
                  published=bj(Y, 3, 20))
        case("g", r1, t1, "e4", date(Y - 1, 12, 30), due=date(Y, 1, 9), entered=bj(Y, 1, 2), on_time=True,
             published=bj(Y, 1, 5))
        # Published at 23:30 on 20 December in Beijing (15:30 UTC): still in time.
        case("h", r6, t6, "e5", date(Y, 12, 1), due=date(Y, 12, 10), entered=bj(Y, 12, 3), on_time=True,
             published=bj(Y, 12, 20, 23, 30))

        def referral(c: InspectionCase, branches: list[tuple[str, str, datetime]]) -> list[ReferralBranch]:
            ref = Referral(case_id=c.id, status="open", opened_at=bj(Y, 1, 1, 8))
            db.session.add(ref)
            db.session.flush()
            rows = [ReferralBranch(referral_id=ref.id, disposition=disp, status=status, opened_at=at)
                    for disp, status, at in branches]
            db.session.add_all(rows)
            db.session.flush()
            return rows

        b1, b2, _b3 = referral(ca, [("rectification", "escalated", bj(Y, 6, 15)),
                                    ("case_filing", "closed", bj(Y, 7, 20)),
                                    ("department_transfer", "open", bj(Y, 6, 15))])
        b1.escalated_to_id = b2.id
        referral(cb, [("case_filing", "closed", bj(Y - 1, 12, 31)), ("no_penalty", "closed", bj(Y, 12, 25))])
        referral(cf, [("rectification", "closed", bj(Y, 8, 1)), ("rectification", "open", bj(Y, 9, 1)),
                      ("rectification", "open", bj(Y + 1, 1, 2))])
        db.session.commit()
        ids.update(d1=d1.id, d2=d2.id, p1=p1.id, p2=p2.id, t1=t1.id, t2=t2.id, t3=t3.id, t6=t6.id)
    yield ids
    clock.reset()


def _rows(figure: figures.Figure, dimension: str) -> dict[str, tuple[int, int]]:
    return {r.key: (r.numerator, r.denominator) for r in figure.breakdowns[dimension]}


def _report(app) -> dict[str, figures.Figure]:  # type: ignore[no-untyped-def]
    with app.app_context():
        return {f.code: f for f in figures.compute(Y).figures}


def test_enterprises_checked(app, year_data):
    ids = year_data
    f = _report(app)["enterprises_checked"]
    # Enterprises inspected in the year: e1 (twice), e2, e3, x1 (deregistered since), e5; not the
    # individual business i1 nor e4 (inspected on 30 December of the year before).
    # Directory: 100 active enterprises registered by year end, plus x1; not n0-n2 (registered after).
    assert (f.total.numerator, f.total.denominator) == (5, 101)
    assert f.target == Decimal("0.03") and f.total.met is True
    assert _rows(f, "department") == {str(ids["d1"]): (3, 101), str(ids["d2"]): (3, 101)}  # e1 under both
    assert _rows(f, "plan") == {str(ids["p1"]): (4, 101), str(ids["p2"]): (1, 101)}
    assert all(r.target is None and r.met is None for r in f.breakdowns["plan"])
    assert "task" not in f.breakdowns


def test_items_covered(app, year_data):
    ids = year_data
    f = _report(app)["items_covered"]
    # Covered by published 2025 plans: c1-c4 (T1; the inactive item does not count), c7 (T2),
    # c8 (T3), c2 again (T6). Not c5, c6 (a draft plan, and a 2024 plan).
    assert (f.total.numerator, f.total.denominator) == (6, 10) and f.total.met is False
    assert _rows(f, "department") == {str(ids["d1"]): (4, 6), str(ids["d2"]): (2, 4)}
    assert all(r.met is False for r in f.breakdowns["department"])
    assert _rows(f, "plan") == {str(ids["p1"]): (5, 10), str(ids["p2"]): (3, 10)}


def test_credit_class_use(app, year_data):
    ids = year_data
    f = _report(app)["credit_class_use"]
    # Signed-off rounds: T1 round 2 (a ratio per class: uses them), T2 (the same ratio for every
    # class: does not), T6 (one ratio). T1's voided round 1 and T3's unsigned round are not counted.
    assert (f.total.numerator, f.total.denominator) == (1, 3) and f.total.met is False
    assert _rows(f, "task") == {str(ids["t1"]): (1, 1), str(ids["t2"]): (0, 1), str(ids["t6"]): (0, 1)}
    assert _rows(f, "department") == {str(ids["d1"]): (1, 1), str(ids["d2"]): (0, 2)}
    assert figures.uses_credit_classes("count", {"A": "0.1", "D": "0.3"}) is False
    assert figures.uses_credit_classes("ratio", {"A": "0.10", "D": "0.1"}) is False


def test_results_entered_on_time_and_published(app, year_data):
    ids = year_data
    report = _report(app)
    on_time = report["results_on_time"]
    # Entered: a, b (late), e, f, g, h; overdue and missing: c. Not d (due next year).
    assert (on_time.total.numerator, on_time.total.denominator) == (5, 7) and on_time.total.met is False
    assert _rows(on_time, "task") == {str(ids["t1"]): (3, 4), str(ids["t2"]): (1, 2), str(ids["t6"]): (1, 1)}
    assert [r.met for r in on_time.breakdowns["task"]] == [False, False, True]
    published = report["results_published"]
    # Entered: a, b, e, f, g, h; published: all but e (in review).
    assert (published.total.numerator, published.total.denominator) == (5, 6)
    assert _rows(published, "plan") == {str(ids["p1"]): (4, 5), str(ids["p2"]): (1, 1)}


def test_follow_up_completion_and_rectifications(app, year_data):
    ids = year_data
    report = _report(app)
    follow = report["follow_up_completion"]
    # Chains opened in the year: rectification -> case filing (closed: done), a transfer (open),
    # no penalty (closed), two rectifications (one closed, one open). Not the case filing opened
    # on 31 December before, nor the rectification opened on 2 January after.
    assert (follow.total.numerator, follow.total.denominator) == (3, 5)
    assert _rows(follow, "task") == {str(ids["t1"]): (2, 3), str(ids["t2"]): (1, 2)}
    rect = report["rectifications_followed_up"]
    # Rectifications of the year: escalated (followed up), closed (followed up), open (not).
    assert (rect.total.numerator, rect.total.denominator) == (2, 3)


def test_tasks_finished_by_20_december(app, year_data):
    ids = year_data
    f = _report(app)["tasks_finished"]
    # T1: b published on 22 December, e unpublished. T2: c and d unpublished. T3: never signed
    # off. T6: its one case published at 23:30 on 20 December, Beijing time.
    assert (f.total.numerator, f.total.denominator) == (1, 4)
    assert _rows(f, "task") == {str(ids[t]): (int(t == "t6"), 1) for t in ("t1", "t2", "t3", "t6")}
    assert {r.key: r.note for r in f.breakdowns["task"]}[str(ids["t1"])] == "2/4"
    assert _rows(f, "plan") == {str(ids["p1"]): (0, 2), str(ids["p2"]): (1, 2)}
    with app.app_context():
        case_h = db.session.scalar(select(InspectionCase).where(InspectionCase.code == "h"))
        case_h.published_at = bj(Y, 12, 21, 0, 1)  # one minute into the 21st
        db.session.commit()
    assert _report(app)["tasks_finished"].total.numerator == 0


def test_targets_are_settings(app, year_data):
    before = app.config.get("COMPLIANCE_TARGETS")
    app.config["COMPLIANCE_TARGETS"] = {"credit_class_use": "0.3"}
    try:
        f = _report(app)["credit_class_use"]
        assert f.target == Decimal("0.3") and f.total.met is True
    finally:
        app.config["COMPLIANCE_TARGETS"] = before


def test_page_json_and_trend(app, year_data, login_as):
    reviewer = login_as("compliance")
    page = reviewer.get(f"/compliance/figures?year={Y}").get_data(as_text=True)
    assert 'data-figure="enterprises_checked" data-numerator="5" data-denominator="101"' in page
    assert 'data-testid="breakdown-tasks_finished-task"' in page
    assert "/vendor/echarts.min.js" in page and "compliance-figures.js" in page
    assert f'data-url="/compliance/figures.json?year={Y}"' in page
    data = reviewer.get(f"/compliance/figures.json?year={Y}").json
    by_code = {f["code"]: f for f in data["figures"]}
    assert list(by_code) == [fn.__name__ for fn in figures.FIGURES]
    assert by_code["results_published"]["numerator"] == 5 and by_code["results_published"]["denominator"] == 6
    assert by_code["enterprises_checked"]["target"] == 0.03 and by_code["enterprises_checked"]["met"] is True
    assert by_code["tasks_finished"]["breakdowns"]["department"][0]["label"] in ("市局", "县局")
    assert data["trend"]["years"] == [Y - 1, Y]
    series = {s["code"]: s["values"] for s in data["trend"]["series"]}
    assert series["items_covered"] == [0.1, 0.6]  # 2024: the one task of P4 covers c5
    assert data["finish_by"] == f"{Y}-12-20"
    assert reviewer.get("/vendor/echarts.min.js").status_code == 200
    static = reviewer.get("/static/compliance-figures.js")
    assert static.status_code == 200 and b"echarts.init" in static.data


def test_xlsx_export_has_a_sheet_per_breakdown_and_is_audited(app, year_data, login_as):
    reviewer = login_as("admin")
    r = reviewer.get(f"/compliance/figures.xlsx?year={Y}")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    assert f"suiji-figures-{Y}.xlsx" in r.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(r.data))
    assert len(book.sheetnames) == 5
    summary, by_department, by_plan, by_task, by_year = (book[name] for name in book.sheetnames)
    rows = list(summary.iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(figures.FIGURES)
    first = rows[0]  # enterprises checked
    assert first[2:6] == (5, 101, pytest.approx(5 / 101), pytest.approx(0.03))
    assert summary.cell(row=2, column=5).number_format == "0.00%"
    last = rows[-1]  # tasks finished
    assert last[2:6] == (1, 4, 0.25, 1)
    task_rows = list(by_task.iter_rows(min_row=2, values_only=True))
    finished = [row for row in task_rows if row[1].startswith("P2/T6")]
    # credit classes (0/1), on time, published, finished: the last is the finished task with its note
    assert len(finished) == 4 and finished[-1][2:5] == (1, 1, 1) and finished[-1][7] == "1/1"
    assert any(row[1] == "市局" for row in by_department.iter_rows(min_row=2, values_only=True))
    assert any(str(row[1]).startswith("P1 ") for row in by_plan.iter_rows(min_row=2, values_only=True))
    assert [c.value for c in by_year[1]][2:] == [str(Y - 1), str(Y)]
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "compliance.figures_exported"))
        assert entry is not None and entry.subject_id == str(Y)
        assert json.loads(entry.details)["year"] == Y


def test_a_title_that_looks_like_a_formula_stays_text(app, year_data, login_as):
    with app.app_context():
        db.session.scalar(select(Plan).where(Plan.code == "P1")).title = '=HYPERLINK("http://x","y")'
        db.session.commit()
    book = load_workbook(io.BytesIO(login_as("compliance").get(f"/compliance/figures.xlsx?year={Y}").data))
    cells = [c for row in book[book.sheetnames[2]].iter_rows(min_row=2) for c in row if c.column == 2]
    formula = [c for c in cells if "HYPERLINK" in str(c.value)]
    assert formula and all(c.data_type == "s" for c in formula)


@pytest.mark.parametrize("path", ["/compliance/figures", f"/compliance/figures.json?year={Y}",
                                  f"/compliance/figures.xlsx?year={Y}"])
def test_figures_are_for_reviewers_only(app, year_data, login_as, path):
    assert login_as("drafter").get(path).status_code == 403
    assert login_as("leader").get(path).status_code == 403
    assert app.test_client().get(path).status_code in (302, 401)
    assert login_as("compliance").get(path).status_code == 200
    with app.app_context():
        exports = db.session.scalar(select(AuditEntry.id).where(AuditEntry.action == "compliance.figures_exported"))
    assert (exports is not None) == path.startswith("/compliance/figures.xlsx")


def test_an_empty_year_has_no_value_and_no_verdict(app, year_data):
    with app.app_context():
        report = figures.compute(Y - 3)
    assert all(f.total.value is None and f.total.met is None for f in report.figures
               if f.code != "items_covered" and f.code != "enterprises_checked")
    by_code = {f.code: f for f in report.figures}
    assert by_code["items_covered"].total.numerator == 0 and by_code["items_covered"].total.met is False
    assert by_code["enterprises_checked"].total.numerator == 0
