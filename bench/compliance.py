"""Compliance benchmark: the rule checks and the figures over a city-sized year, on PostgreSQL.

Run: ``.venv/bin/python bench/compliance.py [--entities 300000] [--inspectors 500] [--cases 30000]``.
It creates the throw-away database ``suiji_bench_compliance``, fills the directory with COPY
(as ``bench/draw.py`` does), runs one real 3% draw through the plan and draw workflows and
signs it off (real cases), then adds ``--cases`` more cases of the same year by COPY, with
two inspectors, a check item, results, reviews and publications, a few hundred violations of
each kind, repeats on a second round, and referrals with branches. Then it times:

- ``run_checks`` cold (the draw verifier re-computes the round) and warm (the kept verdict),
  with each rule's time;
- the figures of the year with every breakdown, the trend over the years, the XLSX;
- the two pages and the JSON through Flask's test client.

Figures go into bench/README.md by hand, with the date and the machine.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
from datetime import date, datetime, timedelta, timezone  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

import psycopg  # noqa: E402

import importlib.util  # noqa: E402


def _load_draw_bench():  # type: ignore[no-untyped-def]
    """bench/draw.py (directory fill, workflow steps), loaded by path: bench/ holds a queue.py
    that must not shadow the standard library's."""
    spec = importlib.util.spec_from_file_location("draw_bench", Path(__file__).resolve().parent / "draw.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


draw_bench = _load_draw_bench()

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_NAME = "suiji_bench_compliance"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def recreate_database(admin_url: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{DB_NAME}"


def timed(label: str, report: dict, fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn()
    report[label] = round(time.perf_counter() - start, 3)
    return value


def add_cases(app, n: int, year: int, ids: dict, seed: int = 5) -> dict:  # type: ignore[no-untyped-def]
    """COPY ``n`` cases of the benchmark task on entities the draw did not select, with violations."""
    from sqlalchemy import select

    from app.auth.models import User
    from app.cases.models import InspectionCase
    from app.directory.models import Entity, Inspector
    from app.draws.models import Draw
    from app.extensions import db

    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    with app.app_context():
        first = db.session.scalar(select(Draw))
        task_id = db.session.scalar(select(InspectionCase.spot_check_task_id).limit(1))
        second = Draw(task_draw_id=first.task_draw_id, round_no=2, status="voided", algorithm=first.algorithm,
                      task_code=first.task_code, scheduled_at=first.scheduled_at, commitment="0" * 64,
                      server_seed="1" * 64, pool_digest=first.pool_digest, quota_rule={}, team_rule={})
        db.session.add(second)
        chief = User(username="chief", display_name="科长", password_hash="x")
        db.session.add(chief)
        db.session.commit()
        taken = set(db.session.scalars(select(InspectionCase.entity_id)))
        entity_ids = [e for e in db.session.scalars(select(Entity.id).order_by(Entity.id)) if e not in taken][:n]
        inspectors = list(db.session.execute(select(Inspector.id, Inspector.certificate_no)).tuples())
        draw_id, second_id, chief_id = first.id, second.id, chief.id
        start_id = (db.session.scalar(select(InspectionCase.id).order_by(InspectionCase.id.desc()).limit(1)) or 0) + 1
    cases, members, items = [], [], []
    violations = {"late_results": 0, "late_publication": 0, "one_inspector": 0, "unreviewed": 0, "repeat": 0}
    for k, entity_id in enumerate(entity_ids):
        case_id = start_id + k
        inspected = date(year, 1, 5) + timedelta(days=rng.randrange(0, 300))
        due = inspected + timedelta(days=10)
        roll = rng.random()
        if roll > 0.9:  # the ones still in review were inspected lately
            inspected = max(date(year, 1, 5), date.today() - timedelta(days=rng.randrange(12, 25)))
            due = inspected + timedelta(days=10)
        entered_day = due - timedelta(days=rng.randrange(0, 8))
        on_time = True
        if roll < 0.01:
            entered_day, on_time = due + timedelta(days=3), False
            violations["late_results"] += 1
        entered = datetime(entered_day.year, entered_day.month, entered_day.day, 8, tzinfo=timezone.utc)
        published = entered + timedelta(days=1)
        pub_due = entered_day + timedelta(days=28)
        if 0.01 <= roll < 0.02:
            published = entered + timedelta(days=40)
            violations["late_publication"] += 1
        status, reviewed, reviewer = "published", entered + timedelta(hours=20), chief_id
        if 0.02 <= roll < 0.025:
            reviewed, reviewer = None, None
            violations["unreviewed"] += 1
        if roll > 0.9:  # still in review: entered, not published
            status, published, pub_due, reviewed, reviewer = "review", None, None, None, None
        cases.append([case_id, f"BENCH-{case_id:07d}", draw_id, task_id, entity_id, status, inspected, "inspected",
                      "", "[]", "", due, entered, on_time, reviewed, reviewer, "", pub_due, published, "", False,
                      now, now, ""])
        team = rng.sample(inspectors, 2)
        single = 0.025 <= roll < 0.03
        violations["one_inspector"] += single
        for position, (inspector_id, cert) in enumerate(team[:1] if single else team, start=1):
            members.append([case_id, inspector_id, cert, position, "confirmed"])
        items.append([case_id, ids["item"], 1, "on_site", True, "未发现问题。", "", "none"])
    # Repeats: a second-round case on an entity already checked for the item in the year.
    repeats = entity_ids[: max(1, n // 200)]
    for j, entity_id in enumerate(repeats):
        case_id = start_id + len(entity_ids) + j
        inspected = date(year, 11, 1)
        entered = datetime(year, 11, 2, 8, tzinfo=timezone.utc)
        cases.append([case_id, f"BENCH-R{case_id:07d}", second_id, task_id, entity_id, "published", inspected,
                      "inspected", "", "[]", "", inspected + timedelta(days=9), entered, True,
                      entered + timedelta(hours=2), chief_id, "", inspected + timedelta(days=28),
                      entered + timedelta(hours=3), "", False, now, now, ""])
        for position, (inspector_id, cert) in enumerate(rng.sample(inspectors, 2), start=1):
            members.append([case_id, inspector_id, cert, position, "confirmed"])
        items.append([case_id, ids["item"], 1, "on_site", True, "未发现问题。", "", "none"])
        violations["repeat"] += 1
    case_columns = ["id", "code", "draw_id", "spot_check_task_id", "entity_id", "status", "inspection_date", "outcome",
                    "onsite_record", "result_categories", "result_summary", "results_due_on", "results_entered_at",
                    "results_on_time", "reviewed_at", "reviewed_by_id", "review_comments", "publication_due_on",
                    "published_at", "abnormal_listing_ref", "needs_referral", "created_at", "updated_at", "calendar_note"]
    with app.app_context():
        from app.extensions import db

        draw_bench.copy_rows(app, "inspection_case", case_columns, cases)
        draw_bench.copy_rows(app, "case_member", ["case_id", "inspector_id", "certificate_no", "position", "state"],
                             members)
        draw_bench.copy_rows(app, "case_item_result", ["case_id", "check_item_id", "position", "method", "checked",
                                                       "findings", "disposal", "follow_up"], items)
        # Referrals on 5% of the cases, one or two branches each, most closed.
        referral_rows, branch_rows = [], []
        for r, case in enumerate(cases[: len(cases) // 20], start=1):
            opened = case[12] + timedelta(days=2)
            referral_rows.append([r, case[0], "open", opened, "", now, now])
            for disposition in (["rectification"] if r % 3 else ["rectification", "case_filing"]):
                branch_rows.append([r, disposition, "closed" if rng.random() < 0.8 else "open", opened, "", "", "", "",
                                    "", "", "", now, now])
        draw_bench.copy_rows(app, "referral", ["id", "case_id", "status", "opened_at", "triage_note", "created_at",
                                               "updated_at"], referral_rows)
        draw_bench.copy_rows(app, "referral_branch", ["referral_id", "disposition", "status", "opened_at", "due_label",
                                                      "receiving_authority", "requirement", "follow_up_finding",
                                                      "outcome", "outcome_note", "decision_number", "created_at",
                                                      "updated_at"],
                             branch_rows)
        with db.engine.begin() as conn:
            conn.exec_driver_sql("SELECT setval('inspection_case_id_seq', (SELECT max(id) FROM inspection_case))")
            conn.exec_driver_sql("SELECT setval('referral_id_seq', (SELECT max(id) FROM referral))")
            conn.exec_driver_sql("ANALYZE")
    return {"cases_added": len(cases), "referrals": len(referral_rows), "branches": len(branch_rows), **violations}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entities", type=int, default=300_000)
    parser.add_argument("--inspectors", type=int, default=500)
    parser.add_argument("--ratio", default="3%")
    parser.add_argument("--cases", type=int, default=30_000)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    url = recreate_database(args.admin_url)
    from flask_migrate import upgrade

    from app import create_app
    from app.config import Config
    from app.extensions import db

    app = create_app(Config, SQLALCHEMY_DATABASE_URI=url, ARGON2_TIME_COST=1, ARGON2_MEMORY_COST=1024,
                     JOBS_IMMEDIATE=True, JOBS_BACKEND="memory", WTF_CSRF_ENABLED=False)
    with app.app_context():
        upgrade()
    ids = draw_bench.fill_directory(app, args.entities, args.inspectors)
    report: dict = {"entities": ids["entities"], "inspectors": args.inspectors,
                    "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    year = date.today().year
    with app.test_request_context():
        from sqlalchemy import func, select

        from app.auth.models import User
        from app.cases.models import InspectionCase
        from app.plans import service as plans

        drafter = db.session.scalar(select(User).where(User.username == "drafter"))
        plan = plans.create_plan(drafter, code="BENCH", title="基准计划", year=year, department_id=ids["city"])
        plans.add_task(plan.id, drafter, {
            "code": "B1", "name": "全市企业公示信息抽查", "targeted": False, "quota_kind": "ratio", "ratio": args.ratio,
            "window_start": date(year, 1, 1), "window_end": date(year, 12, 20), "lead_department_id": ids["city"],
            "check_item_ids": [ids["item"]], "mode": "city_county_joint", "team_size": 2,
            "case_cap": max(40, 3 * args.entities * 2 // max(args.inspectors, 1) // 100 + 5)})
        draw_bench.complete("draft_plan", "drafter", {})
        draw_bench.complete("legal_review", "legal", {"decision": "approve"})
        draw_bench.complete("leader_approval", "leader", {"decision": "approve"})
        sitting = (datetime.now(SHANGHAI) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
        draw_bench.complete("prepare_draw", "coordinator", {"scheduled_at": sitting, "witness_id": ids["witness"]})
        draw_bench.complete("enter_entropy", "witness", {"witness_entropy": "基准见证"})
        draw_bench.complete("run_draw", "coordinator", {})
        draw_bench.complete("sign_off", "leader", {"decision": "approve"})
        report["drawn_cases"] = db.session.scalar(select(func.count(InspectionCase.id)))
        db.session.commit()
    report.update(add_cases(app, args.cases, year, ids))

    from app.compliance import figures, rules
    from app.compliance.figures_export import to_xlsx

    with app.app_context():
        cold = timed("checks_cold_s", report, lambda: rules.run_checks(year))
        db.session.commit()
        report["checks_cold_rules_ms"] = cold.durations_ms
        report["findings"] = cold.counts
        warm = timed("checks_warm_s", report, lambda: rules.run_checks(year))
        db.session.commit()
        report["checks_warm_rules_ms"] = warm.durations_ms
        assert warm.draws_verified_now == 0 and cold.draws_verified_now == 1
        result = timed("figures_s", report, lambda: figures.compute(year))
        trend = timed("trend_s", report, lambda: figures.trend(figures.available_years()))
        body = timed("xlsx_s", report, lambda: to_xlsx(result, trend))
        report["xlsx_bytes"] = len(body)
        report["figures"] = {f.code: f"{f.total.numerator}/{f.total.denominator}" for f in result.figures}
        from app.auth.service import create_user

        create_user("bench-compliance", draw_bench.PASSWORD, "合规", ["compliance_reviewer"])
        db.session.commit()
    client = app.test_client()
    login = client.post("/login", data={"username": "bench-compliance", "password": draw_bench.PASSWORD})
    assert login.status_code == 302, login.status_code
    for label, path in (("page_checks_s", f"/compliance/checks?year={year}"),
                        ("page_figures_s", f"/compliance/figures?year={year}"),
                        ("figures_json_s", f"/compliance/figures.json?year={year}"),
                        ("figures_xlsx_s", f"/compliance/figures.xlsx?year={year}")):
        response = timed(label, report, lambda path=path: client.get(path))
        report[label + "_status"] = response.status_code

    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "compliance.json").write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    print(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    with app.app_context():
        db.engine.dispose()
    if not args.keep:
        with psycopg.connect(args.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()
