"""Draw benchmark: a 1,000,000-entity directory, 2,000 inspectors, a 3% task, on PostgreSQL.

Run: ``.venv/bin/python bench/draw.py [--entities 1000000] [--inspectors 2000] [--ratio 3%]``.
It creates the throw-away database ``suiji_bench_draw``, fills the directory with COPY,
publishes a plan with one untargeted 3% task through the real approval workflow, and then
drives the task's draw process (``bpmn/draw.bpmn``) step by step, timing:

- freezing the pool (the coordinator's "prepare" step: query, freeze, commitment);
- the draw at the sitting (the coordinator's "run" step: scores, strata, selection,
  inspector matching, selections, dossier; the whole engine completion);
- signing off, which starts one inspection case per selected entity (cases per second);
- bare SpiffWorkflow creating and serializing the same ``inspection_case`` diagram;
- the stdlib verifier re-computing the whole dossier.

Figures go into bench/README.md by hand, with the date and the machine.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from datetime import date, datetime, timedelta, timezone  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

import psycopg  # noqa: E402

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_NAME = "suiji_bench_draw"
PASSWORD = "bench-password-1"


def recreate_database(admin_url: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    return admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{DB_NAME}"


def copy_rows(app, table, columns: list[str], rows) -> int:  # type: ignore[no-untyped-def]
    from app.extensions import db

    raw = db.engine.raw_connection()
    n = 0
    try:
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                n += 1
        raw.commit()
    finally:
        raw.close()
    return n


def fill_directory(app, entities: int, inspectors: int) -> dict:  # type: ignore[no-untyped-def]
    from app.auth.service import create_user, hash_password
    from app.demo.generate import generate_entities
    from app.directory.models import CheckItem, Department
    from app.extensions import db

    now = datetime.now(timezone.utc)
    with app.app_context():
        city = Department(code="BENCH", name="基准市市场监督管理局", level="city", region_code="140500")
        db.session.add(city)
        db.session.flush()
        counties = [Department(code=f"BENCH-{i}", name=f"基准县{i}市场监督管理局", level="county",
                               region_code=f"1405{i + 1:02d}", parent_id=city.id) for i in range(10)]
        item = CheckItem(code="BENCH-01", category="登记事项检查", name="公示信息检查", department_id=city.id)
        db.session.add_all([*counties, item])
        db.session.commit()
        department_ids = [city.id] + [c.id for c in counties]
        ids = {"city": city.id, "item": item.id}
        for name, role in (("drafter", "drafter"), ("legal", "legal_reviewer"), ("leader", "leader"),
                           ("coordinator", "coordinator"), ("witness", "witness")):
            ids[name] = create_user(name, PASSWORD, name, [role]).id
        db.session.commit()
        password_hash = hash_password(PASSWORD)

    columns = ["uscc", "name", "kind", "industry", "scale", "region_code", "station", "address",
               "legal_representative", "credit_class", "status", "registered_on", "created_at", "updated_at"]
    start = time.perf_counter()
    with app.app_context():
        n = copy_rows(app, "entity", columns, (
            [row.get(c) for c in columns[:10]] + ["active", row.get("registered_on"), now, now]
            for row in generate_entities(entities, seed=20261123)
        ))
        copy_rows(app, "inspector",
                  ["name", "department_id", "station", "certificate_no", "qualifications", "region_code", "active",
                   "created_at", "updated_at"],
                  ([f"检查员{i:04d}", department_ids[i % len(department_ids)], f"基准所{i % 50:02d}", f"14050020{i:06d}",
                    json.dumps(["食品安全"] if i % 7 == 0 else []), "140500", True, now, now] for i in range(inspectors)))
        from app.extensions import db

        with db.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO user_account (username, display_name, password_hash, is_active_account, department_id, "
                "inspector_id, created_at, updated_at) SELECT certificate_no, name, %s, true, department_id, id, now(), now() "
                "FROM inspector", (password_hash,))
            conn.exec_driver_sql("INSERT INTO user_role (user_id, role) SELECT id, 'inspector' FROM user_account "
                                 "WHERE inspector_id IS NOT NULL")
            conn.exec_driver_sql("ANALYZE")
        # The fill is set-up: its dirty pages are written out now, not during the measured steps.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("CHECKPOINT")
    ids["fill_seconds"] = round(time.perf_counter() - start, 1)
    ids["entities"] = n
    return ids


def ready(step: str) -> int:
    from sqlalchemy import select

    from app.extensions import db
    from workflows.models import HumanTask

    return db.session.scalar(select(HumanTask.id).where(HumanTask.bpmn_id == step, HumanTask.state == "READY"))


def complete(step: str, username: str, data: dict) -> float:
    from sqlalchemy import select

    from app.auth.models import User
    from app.extensions import db
    from workflows import engine

    user = db.session.scalar(select(User).where(User.username == username))
    task_id = ready(step)
    start = time.perf_counter()
    engine.complete_task(task_id, user, data)
    return time.perf_counter() - start


def bare_engine_rate(app, n: int) -> float:  # type: ignore[no-untyped-def]
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
    from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(Path(__file__).resolve().parent.parent / "bpmn" / "inspection_case.bpmn"))
    spec = parser.get_spec("inspection_case")
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    start = time.perf_counter()
    for i in range(n):
        workflow = BpmnWorkflow(spec)
        workflow.task_tree.data = {"case_id": i, "pending_users": [101, 102], "team_short": False}
        workflow.do_engine_steps()
        serializer.serialize_json(workflow)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entities", type=int, default=1_000_000)
    parser.add_argument("--inspectors", type=int, default=2_000)
    parser.add_argument("--ratio", default="3%")
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the sign-off step to FILE")
    parser.add_argument("--stop-after-draw", action="store_true", help="skip the sign-off, the verifier and the bare engine")
    parser.add_argument("--profile-draw", metavar="FILE", help="write a cProfile of the sitting's draw step to FILE")
    args = parser.parse_args()

    url = recreate_database(args.admin_url)
    from flask_migrate import upgrade

    from app import create_app
    from app.config import Config
    from app.extensions import db

    app = create_app(Config, SQLALCHEMY_DATABASE_URI=url, ARGON2_TIME_COST=1, ARGON2_MEMORY_COST=1024)
    with app.app_context():
        upgrade()
    ids = fill_directory(app, args.entities, args.inspectors)
    print(f"directory: {ids['entities']:,} entities, {args.inspectors:,} inspectors in {ids['fill_seconds']} s")

    report: dict = {"entities": ids["entities"], "inspectors": args.inspectors, "ratio": args.ratio,
                    "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    with app.test_request_context():
        from sqlalchemy import func, select

        from app.auth.models import User
        from app.cases.models import InspectionCase
        from app.draws.models import Draw
        from app.draws.service import load_dossier
        from app.plans import service as plans

        year = date.today().year
        drafter = db.session.scalar(select(User).where(User.username == "drafter"))
        plan = plans.create_plan(drafter, code="BENCH", title="基准计划", year=year, department_id=ids["city"])
        plans.add_task(plan.id, drafter, {
            "code": "B1", "name": "全市企业公示信息抽查", "targeted": False, "quota_kind": "ratio", "ratio": args.ratio,
            "window_start": date(year, 1, 1), "window_end": date(year, 12, 20), "lead_department_id": ids["city"],
            "check_item_ids": [ids["item"]], "mode": "city_county_joint", "team_size": 2,
            "case_cap": max(40, 3 * args.entities * 2 // max(args.inspectors, 1) // 100 + 5)})
        complete("draft_plan", "drafter", {})
        complete("legal_review", "legal", {"decision": "approve"})
        complete("leader_approval", "leader", {"decision": "approve"})

        sitting = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
        report["freeze_pool_s"] = round(complete("prepare_draw", "coordinator",
                                                 {"scheduled_at": sitting, "witness_id": ids["witness"]}), 2)
        complete("enter_entropy", "witness", {"witness_entropy": "基准见证 2026"})
        if args.profile_draw:
            import cProfile

            draw_profiler = cProfile.Profile()
            draw_profiler.enable()
        report["draw_s"] = round(complete("run_draw", "coordinator", {}), 2)
        if args.profile_draw:
            draw_profiler.disable()
            draw_profiler.dump_stats(args.profile_draw)
        draw = db.session.scalar(select(Draw))
        report["algorithm_ms"] = draw.duration_ms
        report["selected"] = draw.selected_count
        if args.stop_after_draw:
            print(json.dumps(report, indent=2, ensure_ascii=False))
            db.session.rollback()
            db.engine.dispose()
            with psycopg.connect(args.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            return
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        sign_off = complete("sign_off", "leader", {"decision": "approve"})
        if args.profile:
            profiler.disable()
            profiler.dump_stats(args.profile)
        cases = db.session.scalar(select(func.count(InspectionCase.id)))
        report["sign_off_s"] = round(sign_off, 2)
        report["cases"] = cases
        report["cases_per_s"] = round(cases / sign_off)

        from app.draws.cli import load_verifier

        record = load_dossier(draw)
        start = time.perf_counter()
        problems = load_verifier().verify(record)
        report["verify_s"] = round(time.perf_counter() - start, 2)
        report["verify_ok"] = not problems
    report["bare_engine_per_s"] = round(bare_engine_rate(app, 3000))
    report["ratio_to_bare"] = round(report["cases_per_s"] / report["bare_engine_per_s"], 2)

    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "draw.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    for key, value in report.items():
        print(f"{key:>20}: {value}")
    with app.app_context():
        db.engine.dispose()
    with psycopg.connect(args.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()
