"""Audit-log benchmark: what one audit entry per task completion costs concurrent requests.

Run: ``.venv/bin/python bench/audit.py [--threads 4] [--per-thread 250]``.

Every ``engine.complete_task`` appends a ``task.completed`` entry to the hash-chained log in
its own transaction. Appends are serialised by one PostgreSQL advisory lock held until the
transaction ends, so the question is how long unrelated completions wait for each other.
On the throw-away database ``suiji_bench_audit`` it starts ``threads × per-thread`` instances
of ``tests/bpmn/engine_approval.bpmn`` (one bulk start), then ``--threads`` threads each
complete their own instances' first task (restore, run, project, save, audit, commit), on
different instances, as concurrent requests would; once with the audit entry and once
without it (``workflows.auditing.task_completed`` replaced by a no-op), alternating
``--repeat`` times and keeping the best of each. It reports completions per second, the
latency of a completion, and, with the audit entry, how long each transaction waited for
the chain's lock and how long it held it (from acquiring it to the end of its commit).
Finally ``verify_chain`` re-computes the chain.

Figures go into bench/README.md by hand, with the date and the machine.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from typing import Any  # noqa: E402

import psycopg  # noqa: E402

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_NAME = "suiji_bench_audit"
ROOT = Path(__file__).resolve().parent.parent


def recreate_database(admin_url: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    return admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{DB_NAME}"


def register_forms() -> None:
    from workflows.registry import task_form

    @task_form("engine.draft")
    def _draft(data: dict[str, Any], task: Any, user: Any) -> dict[str, Any]:
        return {"draft_note": str(data.get("note", ""))}

    for key in ("engine.review", "engine.approve"):  # not reached here, but every formKey needs one
        task_form(key)(lambda data, task, user: {})


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


class LockTimer:
    """Times the chain's lock per thread: the wait for it, and the hold until the commit ends."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.waits: list[float] = []
        self.holds: list[float] = []
        self.lock = threading.Lock()

    def install(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.orm import Session

        from app.audit import service as audit

        real = audit.lock_chain

        def timed_lock_chain() -> None:
            if getattr(self.local, "acquired", None) is not None:
                return real()  # already held by this transaction: no wait
            started = time.perf_counter()
            real()
            self.local.acquired = time.perf_counter()
            with self.lock:
                self.waits.append(self.local.acquired - started)

        audit.lock_chain = timed_lock_chain

        @event.listens_for(Session, "after_commit")
        def _released(session: Session) -> None:
            acquired = getattr(self.local, "acquired", None)
            if acquired is not None:
                with self.lock:
                    self.holds.append(time.perf_counter() - acquired)
                self.local.acquired = None

        @event.listens_for(Session, "after_rollback")
        def _dropped(session: Session) -> None:
            self.local.acquired = None

    def reset(self) -> None:
        self.waits, self.holds = [], []


def run_round(app, chunks: list[list[tuple[int, int]]]) -> tuple[float, list[float], int]:  # type: ignore[no-untyped-def]
    """Each thread completes its (task id, user id) list; returns wall seconds, latencies, errors."""
    from app.auth.models import User
    from app.extensions import db
    from workflows import engine

    latencies: list[float] = []
    errors: list[BaseException] = []
    guard = threading.Lock()
    barrier = threading.Barrier(len(chunks) + 1)

    def worker(tasks: list[tuple[int, int]]) -> None:
        mine: list[float] = []
        with app.app_context():
            users = {uid: db.session.get(User, uid) for uid in {u for _, u in tasks}}
            barrier.wait()
            for task_id, user_id in tasks:
                started = time.perf_counter()
                try:
                    engine.complete_task(task_id, users[user_id], {"note": "ok"})
                except BaseException as exc:  # noqa: BLE001 - counted and reported
                    with guard:
                        errors.append(exc)
                mine.append(time.perf_counter() - started)
            db.session.remove()
        with guard:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    if errors:
        print(f"  {len(errors)} errors, first: {errors[0]!r}")
    return time.perf_counter() - started, latencies, len(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--per-thread", type=int, default=250)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    args = parser.parse_args()

    url = recreate_database(args.admin_url)
    from flask_migrate import upgrade
    from sqlalchemy import select

    from app import create_app
    from app.audit.service import verify_chain
    from app.auth.service import create_user
    from app.config import Config
    from app.extensions import db
    from workflows import auditing, engine
    from workflows.models import HumanTask

    register_forms()
    app = create_app(Config, SQLALCHEMY_DATABASE_URI=url, ARGON2_TIME_COST=1, ARGON2_MEMORY_COST=1024,
                     JOBS_BACKEND="memory", BPMN_EXTRA_DIRS=[str(ROOT / "tests" / "bpmn")],
                     SQLALCHEMY_ENGINE_OPTIONS={"pool_size": args.threads + 2})
    with app.app_context():
        upgrade()
    timer = LockTimer()
    timer.install()
    audited = auditing.task_completed
    rounds = args.repeat * 2
    with app.app_context():
        drafters = [create_user(f"drafter{n}", "bench-password-1", f"D{n}", ["drafter"]).id
                    for n in range(args.threads)]
        leader = create_user("leader", "bench-password-1", "L", ["leader"]).id
        db.session.commit()
        per_round = args.threads * args.per_thread
        items = [engine.StartItem("plan", n, f"plan {n}", {"plan_id": n, "drafter_id": drafters[n % args.threads],
                                                          "leader_ids": [leader]})
                 for n in range(per_round * rounds)]
        engine.start_processes("engine_approval", items, user_id=None)
        db.session.commit()
        open_tasks = db.session.execute(select(HumanTask.id, HumanTask.assignee_id).where(HumanTask.bpmn_id == "draft")
                                        .order_by(HumanTask.id)).tuples().all()
    print(f"{len(open_tasks):,} open tasks; {args.threads} threads × {args.per_thread} completions per round")

    results: dict[str, dict[str, Any]] = {}
    for r in range(rounds):
        with_audit = r % 2 == 0
        batch = open_tasks[r * per_round:(r + 1) * per_round]
        chunks = [[t for t in batch if t[1] == drafters[n]] for n in range(args.threads)]
        auditing.task_completed = audited if with_audit else (lambda *a, **k: None)
        timer.reset()
        wall, latencies, errors = run_round(app, chunks)
        label = "with audit entry" if with_audit else "without audit entry"
        row = {"per_second": len(latencies) / wall, "p50_ms": pct(latencies, 0.5), "p95_ms": pct(latencies, 0.95),
               "errors": errors, "lock_wait_p50_ms": pct(timer.waits, 0.5), "lock_wait_p95_ms": pct(timer.waits, 0.95),
               "lock_hold_p50_ms": pct(timer.holds, 0.5), "lock_hold_p95_ms": pct(timer.holds, 0.95),
               "mean_latency_ms": statistics.mean(latencies) * 1000}
        print(f"  round {r + 1}: {label}: {row['per_second']:.0f}/s, p50 {row['p50_ms']:.1f} ms, "
              f"p95 {row['p95_ms']:.1f} ms, lock wait p95 {row['lock_wait_p95_ms']:.1f} ms, "
              f"hold p95 {row['lock_hold_p95_ms']:.1f} ms")
        best = results.get(label)
        if best is None or row["per_second"] > best["per_second"]:
            results[label] = row
    auditing.task_completed = audited
    with app.app_context():
        check = verify_chain()
    print()
    print("| | completions/s | latency p50 ms | p95 ms | chain lock wait p50 / p95 ms | lock held p50 / p95 ms |")
    print("|---|---|---|---|---|---|")
    for label, row in results.items():
        lock = (f"{row['lock_wait_p50_ms']:.1f} / {row['lock_wait_p95_ms']:.1f}",
                f"{row['lock_hold_p50_ms']:.1f} / {row['lock_hold_p95_ms']:.1f}") if label == "with audit entry" else ("—", "—")
        print(f"| {label} | {row['per_second']:.0f} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | {lock[0]} | {lock[1]} |")
    print(f"\nverify_chain: ok={check.ok}, {check.checked:,} entries")
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "audit.json").write_text(json.dumps({"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                                "threads": args.threads, "per_thread": args.per_thread,
                                                "results": results, "chain_ok": check.ok}, indent=2))


if __name__ == "__main__":
    main()
