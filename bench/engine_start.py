"""Bulk start benchmark: ``engine.start_processes`` against bare SpiffWorkflow, on PostgreSQL.

Run: ``.venv/bin/python bench/engine_start.py [--n 10000] [--repeat 3] [--diagram engine_parallel ...]``.
It creates a throw-away database ``suiji_bench_engine_start`` on the PostgreSQL at
``--admin-url`` (default 127.0.0.1:5432, user postgres) and, per diagram, measures

(a) bare SpiffWorkflow: ``BpmnWorkflow(spec)`` from the already parsed spec, initial data,
    ``do_engine_steps()`` and ``serialize_json`` with SpiffWorkflow's full serializer, N times;
(b) ``start_processes`` of N instances (state, human tasks, candidates, events) + commit;

and prints instances/second for both and their ratio (best of ``--repeat`` alternated runs each).
Figures go into bench/README.md by hand, with the date and machine.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from typing import Any, Callable  # noqa: E402

import psycopg  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_NAME = "suiji_bench_engine_start"
DIAGRAMS = ("engine_parallel", "engine_approval", "bench_inspection", "inspection_case")
WHAT = {
    "engine_parallel": "parallel split into 2 user tasks in 2 lanes",
    "engine_approval": "1 user task (assigned from data) of a 3-lane approval",
    "bench_inspection": "multi-instance user task x2 (assigned per inspector), then a review",
    "inspection_case": "the real bpmn/inspection_case.bpmn: recusal confirmations x2 (multi-instance)",
}


def recreate_database(admin_url: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{DB_NAME}"


def item_data(diagram: str, n: int, users: dict[str, int]) -> dict[str, Any]:
    if diagram == "engine_approval":
        return {"plan_id": n, "drafter_id": users["drafter"], "leader_ids": [users["leader1"], users["leader2"]]}
    if diagram == "inspection_case":
        return {"case_id": n, "pending_users": [users["inspector1"], users["inspector2"]], "team_short": False}
    if diagram == "bench_inspection":
        return {"case_no": n, "inspector_user_ids": [users["inspector1"], users["inspector2"]],
                "chief_ids": [users["chief1"], users["chief2"]]}
    return {"case_no": n}


def rate(run: Callable[[], None], n: int) -> float:
    gc.collect()
    start = time.perf_counter()
    run()
    return n / (time.perf_counter() - start)


def bench_bare(loaded: Any, data: list[dict[str, Any]]) -> Callable[[], None]:
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
    from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))

    def run() -> None:
        for values in data:
            workflow = BpmnWorkflow(loaded.spec, loaded.subprocess_specs)
            workflow.task_tree.data = dict(values)
            workflow.do_engine_steps()
            serializer.serialize_json(workflow)

    return run


def bench_ours(app: Any, diagram: str, data: list[dict[str, Any]], user_id: int) -> Callable[[], None]:
    from app.extensions import db
    from workflows import engine

    items = [engine.StartItem("case", i, f"晋城市城区企业{i:07d}有限公司", values) for i, values in enumerate(data)]

    def run() -> None:
        with app.app_context():
            ids = engine.start_processes(diagram, items, user_id=user_id)
            db.session.commit()
            assert len(ids) == len(items)
            db.session.remove()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--diagram", action="append", choices=DIAGRAMS)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    args = parser.parse_args()
    diagrams = args.diagram or list(DIAGRAMS)

    url = recreate_database(args.admin_url)
    from app import create_app
    from app.auth.service import create_user
    from app.config import Config
    from app.extensions import db
    from tests.factories import make_inspector
    from workflows.specs import library

    app = create_app(Config, SQLALCHEMY_DATABASE_URI=url, ARGON2_TIME_COST=1, ARGON2_MEMORY_COST=1024,
                     BPMN_EXTRA_DIRS=[str(ROOT / "tests" / "bpmn"), str(ROOT / "bench" / "bpmn")])
    with app.app_context():
        db.create_all()
        users = {}
        for name, role in (("drafter", "drafter"), ("leader1", "leader"), ("leader2", "leader"),
                           ("inspector1", "inspector"), ("inspector2", "inspector"),
                           ("chief1", "section_chief"), ("chief2", "section_chief")):
            inspector_id = make_inspector(name=name).id if role == "inspector" else None
            users[name] = create_user(f"bench_{name}", "bench-password-1", name, [role], inspector_id=inspector_id).id
        db.session.commit()
        loaded = {d: library().get(d) for d in diagrams}

    results = []
    for diagram in diagrams:
        data = [item_data(diagram, i, users) for i in range(args.n)]
        warm = data[: min(200, args.n)]
        bench_bare(loaded[diagram], warm)()
        bench_ours(app, diagram, warm, users["drafter"])()
        # Alternated, best of each: other load on the machine hits both alike.
        bare_runs, our_runs = [], []
        for _ in range(args.repeat):
            bare_runs.append(rate(bench_bare(loaded[diagram], data), args.n))
            our_runs.append(rate(bench_ours(app, diagram, data, users["drafter"]), args.n))
        bare, ours = max(bare_runs), max(our_runs)
        with app.app_context():
            counts = {t: db.session.execute(db.text(f"SELECT count(*) FROM {t}")).scalar()
                      for t in ("process_instance", "human_task", "human_task_candidate", "process_event")}
            db.session.execute(db.text("TRUNCATE process_instance, human_task, human_task_candidate, process_event CASCADE"))
            db.session.commit()
        results.append({"diagram": diagram, "what": WHAT[diagram], "n": args.n, "bare_per_s": round(bare),
                        "ours_per_s": round(ours), "ratio": round(ours / bare, 2), "rows": counts})

    report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "repeat": args.repeat,
              "results": results}
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "engine_start.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"N = {args.n:,} per run, best of {args.repeat}")
    print("| diagram | first step | bare SpiffWorkflow /s | start_processes + commit /s | ratio |")
    print("|---|---|---|---|---|")
    for r in results:
        print(f"| `{r['diagram']}` | {r['what']} | {r['bare_per_s']:,} | {r['ours_per_s']:,} | {r['ratio']} |")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    with psycopg.connect(args.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()
