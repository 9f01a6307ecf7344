"""Background jobs: timers, large draws, PDF rendering, exports, run by Huey workers.

One ``huey`` instance for the process. Its storage comes from the app's config
(``configure``, called when the jobs blueprint is registered):

* ``JOBS_BACKEND=sqlite`` (the default): ``SqliteStorage`` at ``JOBS_SQLITE_PATH``
  (``instance/huey.db``): ``make run`` needs nothing else;
* ``JOBS_BACKEND=redis``, or ``REDIS_URL`` set and no backend named: ``RedisStorage``;
* ``JOBS_BACKEND=memory``; and ``JOBS_IMMEDIATE`` runs every job inline when it is
  enqueued (tests), on in-memory storage.

Define a job with :func:`job` instead of ``huey.task``: the function then always runs
inside an app context of its own (its own database session), in a worker or inline::

    from app.jobs import job

    @job(retries=2, retry_delay=60)
    def render_pdf(case_id: int) -> None: ...

    render_pdf(42)  # enqueues; a worker runs it

Workers: ``flask jobs worker [--workers N]`` (see ``app.jobs.cli``). The Flask app is
created once per worker process (``worker_app``); forked workers drop the inherited
database connections at start-up.
"""
from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_app_context
from huey import Huey
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

from app.jobs import models  # noqa: F401  (the job_failure table belongs to the metadata)

huey = Huey("suiji", storage_class=MemoryStorage, utc=True)

_app: Flask | None = None
_app_lock = threading.RLock()  # worker_app -> create_app -> configure takes it again
_configured: tuple[Any, ...] | None = None
_parent_pid = os.getpid()


def storage_settings(config: dict[str, Any]) -> tuple[type, dict[str, Any]]:
    """The Huey storage class and its arguments named by ``config``."""
    backend = (config.get("JOBS_BACKEND") or "").lower() or ("redis" if config.get("REDIS_URL") else "sqlite")
    if backend == "redis":
        url = config.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
        return RedisStorage, {"url": url}
    if backend == "memory":
        return MemoryStorage, {}
    if backend == "sqlite":
        path = Path(config["JOBS_SQLITE_PATH"])
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteStorage, {"filename": str(path)}
    raise ValueError(f"JOBS_BACKEND must be sqlite, redis or memory, not {backend!r}")


def configure(app: Flask) -> None:
    """Point ``huey`` at the storage ``app`` names; remember ``app`` for workers (first one wins)."""
    global _configured, _app
    storage_class, kwargs = storage_settings(app.config)
    immediate = bool(app.config.get("JOBS_IMMEDIATE"))
    key = (storage_class, tuple(sorted(kwargs.items())), immediate)
    if key != _configured:
        if huey.storage is not None and _configured is not None:
            _close_storage()
        huey.storage_class = storage_class
        huey.storage_kwargs = kwargs
        huey._immediate = immediate  # the public setter would build a storage twice
        huey.storage = huey.create_storage()
        _configured = key
    with _app_lock:
        if _app is None:
            _app = app
    from app.jobs import failures

    failures.connect()


def bind_app(app: Flask) -> None:
    """Make ``app`` the one jobs run in when no app context is active (workers, tests)."""
    global _app
    configure(app)
    with _app_lock:
        _app = app


def worker_app() -> Flask:
    """The app jobs run in: the current one, else the bound one, else one created now (once)."""
    global _app
    if has_app_context():
        return current_app._get_current_object()  # type: ignore[attr-defined]
    with _app_lock:
        if _app is None:
            from app import create_app

            _app = create_app()
        return _app


def job(**task_options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``huey.task(**task_options)`` whose function runs in an app context of its own.

    A fresh context even when one is active (immediate mode): the job gets its own
    session and commits on its own, as it would in a worker.
    """

    def decorator(func: Callable[..., Any]) -> Any:
        @functools.wraps(func)
        def in_app(*args: Any, **kwargs: Any) -> Any:
            from app.extensions import db

            with worker_app().app_context():
                try:
                    return func(*args, **kwargs)
                finally:
                    db.session.remove()

        return huey.task(**task_options)(in_app)

    return decorator


_PENDING = "suiji_jobs_after_commit"


def enqueue_after_commit(task: Any, *args: Any) -> None:
    """Enqueue ``task(*args)`` once the current database transaction commits; never if it rolls back.

    A job enqueued inside a transaction could run before the rows it reads are committed
    (or, inline in tests, wait for the write lock its own caller holds on SQLite).
    """
    from app.extensions import db

    session = db.session()
    session.info.setdefault(_PENDING, []).append((task, args))


def _connect_session_events() -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    @event.listens_for(Session, "after_commit")
    def _run_pending(session: Session) -> None:
        pending = session.info.pop(_PENDING, [])
        for task, args in pending:
            task(*args)

    @event.listens_for(Session, "after_rollback")
    def _drop_pending(session: Session) -> None:
        session.info.pop(_PENDING, None)


_connect_session_events()


def _close_storage() -> None:
    close = getattr(huey.storage, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # noqa: BLE001 - a storage that cannot close is simply dropped
            pass


@huey.on_startup()
def _fresh_connections() -> None:
    """A forked worker must not use the database connections of the process it came from."""
    app = _app
    if app is None or os.getpid() == _parent_pid:
        return
    from app.extensions import db

    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)


def _forget_storage_connection() -> None:
    """A forked child (e.g. a pre-forking WSGI server) opens its own SQLite job-store connection."""
    if isinstance(huey.storage, SqliteStorage):
        huey.storage._conn = None  # the parent's handle is left alone, not closed


os.register_at_fork(after_in_child=_forget_storage_connection)

from app.jobs import tasks  # noqa: E402,F401  (registers the built-in jobs)
