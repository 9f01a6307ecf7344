"""Queue benchmark: 1,000,000 human-task rows on PostgreSQL; times the queue page and its API.

Run: ``.venv/bin/python bench/queue.py [--rows 1000000] [--requests 200]``. It creates a
throw-away database ``suiji_bench_queue`` on the PostgreSQL at SUIJI_BENCH_PG (default
127.0.0.1:5432, user postgres), fills it with COPY, and prints median and p95 per request
kind. Figures go into bench/README.md by hand, with the date and machine.
"""
from __future__ import annotations

import sys
from pathlib import Path

# This file's name shadows the standard library's ``queue`` (which psycopg imports), so its
# own folder must leave the import path before anything else is imported.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402

import psycopg  # noqa: E402

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_NAME = "suiji_bench_queue"
ROLES = ["drafter", "legal_reviewer", "leader", "coordinator", "section_chief", "inspector", "witness",
         "legal_officer", "compliance_reviewer", "admin"]
# Where the work piles up in a real bureau: inspectors' tasks dominate.
ROLE_WEIGHTS = [2, 2, 2, 3, 5, 60, 2, 10, 2, 1]
STEPS = {"inspector": ["confirm_no_conflict", "record_inspection", "enter_results"],
         "section_chief": ["review_result", "escalation"], "legal_officer": ["triage_referral", "verify_lead"]}


def recreate_database(admin_url: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{DB_NAME}"


def fill(app, rows: int, bench_user_id: int, seed: int = 7) -> dict:  # type: ignore[no-untyped-def]
    """COPY ``rows`` task rows: most completed history, a realistic open share."""
    from app.extensions import db
    from workflows.models import HumanTask, ProcessInstance, ProcessSpec

    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    with app.app_context():
        spec = ProcessSpec(process_id="bench", content_hash="0" * 64, serialized="{}", source_file="bench")
        db.session.add(spec)
        db.session.flush()
        instances = [
            ProcessInstance(spec_id=spec.id, process_id="bench", subject_type="case", subject_id=i, state="{}")
            for i in range(1000)
        ]
        db.session.add_all(instances)
        db.session.commit()
        instance_ids = [i.id for i in instances]
        table = HumanTask.__table__
        columns = [c.name for c in table.columns if c.name != "id"]
        raw = db.engine.raw_connection()
        counts = {"READY": 0, "COMPLETED": 0, "CANCELLED": 0, "mine": 0, "candidate": 0}
        try:
            with raw.cursor() as cur:
                with cur.copy(f"COPY human_task ({', '.join(columns)}) FROM STDIN") as copy:
                    for n in range(rows):
                        role = rng.choices(ROLES, ROLE_WEIGHTS)[0]
                        roll = rng.random()
                        state = "READY" if roll < 0.08 else "CANCELLED" if roll < 0.10 else "COMPLETED"
                        counts[state] += 1
                        created = now - timedelta(days=rng.uniform(0, 700))
                        assignee = None
                        if state == "READY" and role == "inspector" and rng.random() < 0.004:
                            assignee = bench_user_id
                            counts["mine"] += 1
                        has_candidates = state == "READY" and rng.random() < 0.05
                        values = {
                            "spiff_task_id": f"00000000-0000-4000-8000-{n:012d}",
                            "instance_id": rng.choice(instance_ids),
                            "bpmn_id": rng.choice(STEPS.get(role, ["review"])),
                            "title": f"Task {n}",
                            "lane": role,
                            "role": role,
                            "form_key": "bench",
                            "state": state,
                            "assignee_id": assignee,
                            "excluded_user_ids": "[]",
                            "has_candidates": has_candidates,
                            "due_at": created + timedelta(days=rng.randint(3, 20)),
                            "subject_type": "case",
                            "subject_id": n,
                            "subject_title": f"晋城市城区企业{n:07d}有限公司",
                            "created_at": created,
                            "completed_at": created + timedelta(days=2) if state == "COMPLETED" else None,
                            "completed_by_id": None,
                        }
                        row = []
                        for name in columns:
                            if name in values:
                                row.append(values[name])
                            else:  # a column added later: its scalar default
                                default = table.c[name].default
                                row.append(default.arg if default is not None and not callable(default.arg) else None)
                        copy.write_row(row)
            raw.commit()
        finally:
            raw.close()
        # Candidate rows for the tasks flagged as having named candidates: the bench user on some.
        with db.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO human_task_candidate (task_id, user_id) "
                "SELECT id, %s FROM human_task WHERE has_candidates AND role = 'inspector' AND id %% 10 = 0",
                (bench_user_id,),
            )
            counts["candidate"] = conn.exec_driver_sql(
                "SELECT count(*) FROM human_task_candidate WHERE user_id = %s", (bench_user_id,)
            ).scalar()
            conn.exec_driver_sql("ANALYZE")
    return counts


def timed(client, url: str, headers: dict | None, n: int) -> dict:  # type: ignore[no-untyped-def]
    for _ in range(10):
        assert client.get(url, headers=headers).status_code == 200
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    samples.sort()
    return {
        "url": url,
        "median_ms": round(statistics.median(samples), 2),
        "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 2),
        "max_ms": round(samples[-1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    args = parser.parse_args()

    url = recreate_database(args.admin_url)
    from app import create_app
    from app.auth.service import create_user, issue_token
    from app.config import Config
    from app.extensions import db
    from tests.factories import make_inspector

    app = create_app(Config, SQLALCHEMY_DATABASE_URI=url, WTF_CSRF_ENABLED=False, ARGON2_TIME_COST=1,
                     ARGON2_MEMORY_COST=1024)
    with app.app_context():
        db.create_all()
        inspector = make_inspector(name="基准检查员")
        user = create_user("bench", "bench-password-1", "基准检查员", ["inspector", "section_chief"],
                           inspector_id=inspector.id)
        db.session.commit()
        user_id = user.id
        token = issue_token(user, "bench")

    start = time.perf_counter()
    counts = fill(app, args.rows, user_id)
    fill_seconds = time.perf_counter() - start

    client = app.test_client()
    client.post("/login", data={"username": "bench", "password": "bench-password-1"})
    bearer = {"Authorization": f"Bearer {token}"}
    results = [
        timed(client, "/tasks", None, args.requests),
        timed(client, "/tasks/groups", None, args.requests),
        timed(client, "/tasks/groups?page=5", None, args.requests),
        timed(client, "/tasks/groups?overdue=1&sort=-due", None, args.requests),
        timed(client, "/api/v1/tasks?scope=mine", bearer, args.requests),
        timed(client, "/api/v1/tasks?scope=groups", bearer, args.requests),
        timed(client, "/api/v1/tasks?scope=groups&role=inspector&page=3", bearer, args.requests),
    ]
    report = {"rows": args.rows, "fill_seconds": round(fill_seconds, 1), "counts": counts, "results": results,
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "queue.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"filled {args.rows:,} rows in {fill_seconds:.1f} s: {counts}")
    print("| request | median ms | p95 ms | max ms |\n|---|---|---|---|")
    for r in results:
        print(f"| `{r['url']}` | {r['median_ms']} | {r['p95_ms']} | {r['max_ms']} |")
    with psycopg.connect(args.admin_url, autocommit=True) as conn:
        with app.app_context():
            db.engine.dispose()
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()
