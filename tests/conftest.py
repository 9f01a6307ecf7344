"""Shared fixtures.

The whole suite runs against SQLite by default and against PostgreSQL when
``SUIJI_TEST_DB=postgres``: each PostgreSQL run creates a throw-away database
and drops it at the end. The schema is built by the Alembic migrations, so
the migrations themselves are tested on both backends.
"""
from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from app import create_app
from app.config import TestConfig
from app.extensions import db

PG_ADMIN_URL = os.environ.get("SUIJI_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKEND = os.environ.get("SUIJI_TEST_DB", "sqlite")
TEST_PASSWORD = "correct-horse-9"


def _create_pg_database() -> tuple[str, str]:
    import psycopg

    name = f"suiji_test_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return name, f"{base}/{name}"


def _drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if BACKEND == "postgres":
        name, url = _create_pg_database()
        yield url
        _drop_pg_database(name)
    else:
        # A file, not :memory:, so that threads (live server, concurrency tests) share it.
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'suiji-test.db'}"


def build_app(database_url: str, **overrides: Any) -> Flask:
    settings = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SERVER_NAME": None,
        # Never the instance directory: tests that store files get a scratch directory.
        "FILE_STORAGE_DIR": str(Path(tempfile.gettempdir()) / f"suiji-test-files-{os.getpid()}"),
    }
    settings.update(overrides)
    return create_app(TestConfig, **settings)


@pytest.fixture(scope="session")
def migrated(database_url: str) -> str:
    """The test database with the schema built once by the Alembic migrations.

    Every app a test builds on ``database_url`` (the session app, the engine tests' own)
    depends on this, so the schema exists exactly once whatever order tests run in.
    """
    from flask_migrate import upgrade

    application = build_app(database_url)
    with application.app_context():
        upgrade()
        db.session.remove()
        db.engine.dispose()
    return database_url


@pytest.fixture(scope="session")
def app(migrated: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    application = build_app(migrated, FILE_STORAGE_DIR=str(tmp_path_factory.mktemp("files")))
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def _wipe(application: Flask) -> None:
    with application.app_context():
        db.session.rollback()
        tables = list(reversed(db.metadata.sorted_tables))
        if db.engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                db.session.execute(table.delete())
        db.session.commit()
        db.session.remove()
    from workflows import engine

    engine.clear_caches(application)  # cached process_spec row ids point at wiped rows


@pytest.fixture(autouse=True)
def _clean_database(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts on empty tables (only if it used the app)."""
    yield
    if "app" in request.fixturenames:
        _wipe(request.getfixturevalue("app"))


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def make_user(app: Flask):  # type: ignore[no-untyped-def]
    """Create a user with roles; returns its id. Inspector users get an inspector record."""
    from app.auth.service import create_user

    def factory(username: str, *roles: str, inspector_id: int | None = None, **kwargs: Any) -> int:
        with app.app_context():
            if "inspector" in roles and inspector_id is None:
                from tests.factories import make_inspector

                inspector_id = make_inspector(name=username).id
            user = create_user(username, TEST_PASSWORD, username.title(), roles, inspector_id=inspector_id, **kwargs)
            db.session.commit()
            return user.id

    return factory


def login(client: FlaskClient, username: str, password: str = TEST_PASSWORD) -> None:
    """Log ``client`` in through the real form; fails the test if refused."""
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


@pytest.fixture
def login_as(app: Flask):  # type: ignore[no-untyped-def]
    """A fresh test client logged in as ``username``."""

    def factory(username: str) -> FlaskClient:
        c = app.test_client()
        login(c, username)
        return c

    return factory


@pytest.fixture
def api_token(app: Flask):  # type: ignore[no-untyped-def]
    """A bearer-token Authorization header for ``username``."""
    from app.auth.service import get_user_by_username, issue_token

    def factory(username: str) -> dict[str, str]:
        with app.app_context():
            return {"Authorization": f"Bearer {issue_token(get_user_by_username(username), 'test')}"}

    return factory


def pytest_report_header(config: pytest.Config) -> str:
    return f"suiji test database backend: {BACKEND}"
