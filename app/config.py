"""Configuration read from the environment.

Secrets never live in the code: SECRET_KEY comes from the environment, or, for
the embedded development set-up, from a file created once under instance/.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("SUIJI_INSTANCE_DIR", PROJECT_ROOT / "instance"))


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    key_file = INSTANCE_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        # Heroku-style URLs name the dialect "postgres"; SQLAlchemy wants psycopg 3 spelled out.
        if url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url[len("postgres://"):]
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        return url
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{INSTANCE_DIR / 'suiji.db'}"


class Config:
    """Settings shared by every environment."""

    SECRET_KEY = _secret_key()
    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    BABEL_TRANSLATION_DIRECTORIES = str(PROJECT_ROOT / "app" / "translations")
    DISPLAY_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_CN", "en")
    # Login throttling: storage is in-process by default, Redis in production.
    RATELIMIT_STORAGE_URI = os.environ.get("REDIS_URL", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute")
    # Stored files (app.files): outside the web root, by content; an attachment may be at most
    # UPLOAD_MAX_BYTES, checked by the upload service with a clear message.
    FILE_STORAGE_DIR = os.environ.get("FILE_STORAGE_DIR", str(INSTANCE_DIR / "files"))
    UPLOAD_MAX_BYTES = int(os.environ.get("UPLOAD_MAX_BYTES", 10 * 1024 * 1024))
    # Request bodies: Werkzeug cuts off anything larger (413) before it is read. It must stay
    # above UPLOAD_MAX_BYTES plus the multipart overhead, or an allowed attachment would get
    # the bare 413 instead of the upload check's message; imports use it as their file limit.
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", max(20 * 1024 * 1024, UPLOAD_MAX_BYTES + 1024 * 1024)))
    IMPORT_MAX_ROWS = int(os.environ.get("IMPORT_MAX_ROWS", 200_000))
    # Argon2 parameters; tests lower them for speed.
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536
    # OpenAPI (flask-smorest)
    API_TITLE = "Suiji API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    PAGE_SIZE = 50
    # Background jobs (Huey, app.jobs): SQLite storage under instance/ unless JOBS_BACKEND=redis
    # (or REDIS_URL is set); JOBS_IMMEDIATE runs every job inline when enqueued (tests).
    JOBS_BACKEND = os.environ.get("JOBS_BACKEND", "")
    JOBS_SQLITE_PATH = os.environ.get("JOBS_SQLITE_PATH", str(INSTANCE_DIR / "huey.db"))
    REDIS_URL = os.environ.get("REDIS_URL", "")
    JOBS_IMMEDIATE = os.environ.get("JOBS_IMMEDIATE", "0") == "1"
    # BPMN timers: poll period, instances per pass, and the delay before a failed firing is retried.
    TIMER_POLL_SECONDS = float(os.environ.get("TIMER_POLL_SECONDS", 30))
    TIMER_BATCH_SIZE = int(os.environ.get("TIMER_BATCH_SIZE", 200))
    TIMER_RETRY_SECONDS = int(os.environ.get("TIMER_RETRY_SECONDS", 300))
    # Draws (local rules, with the seeds' defaults): an entity is checked for the same item at
    # most once in the period, and at most this many times a year in all.
    DRAW_REPEAT_PERIOD_MONTHS = int(os.environ.get("DRAW_REPEAT_PERIOD_MONTHS", 12))
    DRAW_ENTITY_YEARLY_CAP = int(os.environ.get("DRAW_ENTITY_YEARLY_CAP", 2))
    # Inspection cases (DOMAIN.md): results within 7 working days of the inspection, a reminder
    # 2 working days before; publication within 20 working days of the result (企业信息公示暂行条例
    # Art. 6); an unreachable address listed as abnormal within 10 working days; the section chief
    # warned this many working days before a task's inspection window closes.
    RESULT_ENTRY_WORKING_DAYS = int(os.environ.get("RESULT_ENTRY_WORKING_DAYS", 7))
    RESULT_REMINDER_WORKING_DAYS = int(os.environ.get("RESULT_REMINDER_WORKING_DAYS", 2))
    PUBLICATION_WORKING_DAYS = int(os.environ.get("PUBLICATION_WORKING_DAYS", 20))
    ABNORMAL_LISTING_WORKING_DAYS = int(os.environ.get("ABNORMAL_LISTING_WORKING_DAYS", 10))
    WINDOW_WARNING_WORKING_DAYS = int(os.environ.get("WINDOW_WARNING_WORKING_DAYS", 3))
    # Pools at least this large are drawn by a background worker, with a progress bar.
    DRAW_BACKGROUND_THRESHOLD = int(os.environ.get("DRAW_BACKGROUND_THRESHOLD", 50_000))


class TestConfig(Config):
    """Fast hashing, a fresh database from the caller, no throttle surprises."""

    TESTING = True
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    RATELIMIT_STORAGE_URI = "memory://"
    JOBS_IMMEDIATE = True  # jobs run inline, on in-memory storage
