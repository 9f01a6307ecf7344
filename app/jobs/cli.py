"""``flask jobs ...``: run the background workers, or one timer pass (cron-friendly)."""
from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import AppGroup

jobs_cli = AppGroup("jobs", help="Background jobs and BPMN timers.")


@jobs_cli.command("worker")
@click.option("--workers", "-w", default=1, show_default=True, type=click.IntRange(1), help="Jobs run at once.")
@click.option("--worker-type", "-k", type=click.Choice(["process", "thread"]), default="process", show_default=True,
              help="Worker processes (the engine is CPU-bound) or threads.")
@click.option("--no-periodic", is_flag=True, help="Do not poll timers or run periodic jobs (extra workers).")
@click.option("--poll-seconds", type=float, default=None, help="Timer poll period [TIMER_POLL_SECONDS].")
def worker(workers: int, worker_type: str, no_periodic: bool, poll_seconds: float | None) -> None:
    """Run the Huey consumer of this app until Ctrl-C / SIGTERM."""
    from app.jobs import bind_app, huey
    from app.jobs.consumer import TimerConsumer

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config.get("JOBS_IMMEDIATE"):
        raise click.ClickException("JOBS_IMMEDIATE is set: jobs run inline, there is nothing for a worker to do")
    bind_app(app)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(levelname)s %(processName)s %(name)s: %(message)s")
    consumer = TimerConsumer(
        huey,
        poll_seconds=poll_seconds or app.config.get("TIMER_POLL_SECONDS", 30),
        workers=workers,
        worker_type=worker_type,
        periodic=not no_periodic,
        check_worker_health=True,
    )
    timers = "timers not polled" if no_periodic else f"timers polled every {consumer.poll_seconds:g} s"
    click.echo(f"jobs worker: {workers} {worker_type}(s), storage {type(huey.storage).__name__}, {timers}")
    consumer.run()


@jobs_cli.command("fire-timers")
@click.option("--limit", type=click.IntRange(1), default=None, help="At most this many instances [TIMER_BATCH_SIZE].")
@click.option("--all", "drain", is_flag=True, help="Repeat passes until nothing is due.")
def fire_timers(limit: int | None, drain: bool) -> None:
    """Fire the timers that are due now, in this process (one pass)."""
    from app.jobs.timers import fire_due_timers

    total = {"fired": 0, "conflicts": 0, "failed": 0}
    while True:
        result = fire_due_timers(limit)
        total["fired"] += len(result.fired)
        total["conflicts"] += len(result.conflicts)
        total["failed"] += len(result.failed)
        if not drain or result.claimed < (limit or current_app.config.get("TIMER_BATCH_SIZE", 200)):
            break
    click.echo(f"fired {total['fired']}, conflicts {total['conflicts']}, failed {total['failed']}")
    if total["failed"]:
        raise SystemExit(1)
