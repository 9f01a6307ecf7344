"""Configuration read from the environment.

Secrets never live in the code: SECRET_KEY comes from the environment, or, for
the embedded development set-up, from a file created once under instance/.
"""
from __future__ import annotations

import json
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
    # Referrals (bpmn/referral.bpmn; DOMAIN.md "Refer"). A case lead is verified within 15
    # working days, extendable once by 15 with a leader's approval; a filed case is decided
    # within 90 days (市场监督管理行政处罚程序规定 Art. 64); a penalty decision is published
    # within 7 working days (行政执法公示, local); the legal officer is reminded when a receiving
    # authority has not answered after 10 working days; the follow-up inspection of a
    # rectification is due 5 working days after the rectification deadline, by the original
    # team's lead or, when the bureau's rule says so, by freshly drawn inspectors.
    LEAD_VERIFICATION_WORKING_DAYS = int(os.environ.get("LEAD_VERIFICATION_WORKING_DAYS", 15))
    LEAD_VERIFICATION_EXTENSION_WORKING_DAYS = int(os.environ.get("LEAD_VERIFICATION_EXTENSION_WORKING_DAYS", 15))
    CASE_DECISION_DAYS = int(os.environ.get("CASE_DECISION_DAYS", 90))
    PENALTY_PUBLICATION_WORKING_DAYS = int(os.environ.get("PENALTY_PUBLICATION_WORKING_DAYS", 7))
    TRANSFER_REMINDER_WORKING_DAYS = int(os.environ.get("TRANSFER_REMINDER_WORKING_DAYS", 10))
    RECTIFICATION_FOLLOW_UP_WORKING_DAYS = int(os.environ.get("RECTIFICATION_FOLLOW_UP_WORKING_DAYS", 5))
    RECTIFICATION_FOLLOW_UP_FRESH_DRAW = os.environ.get("RECTIFICATION_FOLLOW_UP_FRESH_DRAW", "0") == "1"
    # The bureau's list of minor first violations not penalised (轻微违法不予处罚清单, 行政处罚法
    # Art. 33): (code, wording) pairs; NO_PENALTY_LIST_JSON replaces it with a JSON list of pairs.
    NO_PENALTY_LIST = tuple(tuple(pair) for pair in json.loads(os.environ["NO_PENALTY_LIST_JSON"])) \
        if os.environ.get("NO_PENALTY_LIST_JSON") else (
            ("NP-01", "营业执照未置于住所或者主要经营场所的醒目位置，首次被发现并在责令期限内改正"),
            ("NP-02", "未按规定办理登记事项变更备案，首次被发现并在责令期限内改正，未造成危害后果"),
            ("NP-03", "在用计量器具未按规定申请周期检定，经补检合格，首次被发现并及时改正"),
            ("NP-04", "商品或者服务未按规定明码标价，首次被发现并当场改正，未造成危害后果"),
            ("NP-05", "广告中使用的数据、统计资料等引证内容未表明出处，首次违法且及时改正，危害后果轻微"),
            ("NP-06", "未在经营场所显著位置公示食品经营许可证，首次被发现并当场改正"),
        )
    # Pools at least this large are drawn by a background worker, with a progress bar.
    DRAW_BACKGROUND_THRESHOLD = int(os.environ.get("DRAW_BACKGROUND_THRESHOLD", 50_000))
    # Compliance review: the seconds a checks page may spend re-running the draw verifier on rounds
    # without a kept verdict (the rest go to a background job); the figures' targets, overriding
    # the seeds' (JSON, e.g. {"credit_class_use": "0.6"}); the day a year's tasks must be finished by.
    COMPLIANCE_VERIFY_BUDGET_SECONDS = float(os.environ.get("COMPLIANCE_VERIFY_BUDGET_SECONDS", 10))
    COMPLIANCE_TARGETS = json.loads(os.environ.get("COMPLIANCE_TARGETS") or "{}")
    COMPLIANCE_FINISH_BY = os.environ.get("COMPLIANCE_FINISH_BY", "12-20")


class TestConfig(Config):
    """Fast hashing, a fresh database from the caller, no throttle surprises."""

    TESTING = True
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    RATELIMIT_STORAGE_URI = "memory://"
    JOBS_IMMEDIATE = True  # jobs run inline, on in-memory storage
