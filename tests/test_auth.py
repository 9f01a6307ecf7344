"""Accounts, sessions, tokens, CSRF and throttling."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.auth.models import ApiToken, User
from app.extensions import db
from tests.conftest import TEST_PASSWORD, build_app, login


def test_passwords_are_argon2_hashed(app, make_user):
    make_user("drafter1", "drafter")
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "drafter1"))
        assert user.password_hash.startswith("$argon2id$")
        assert TEST_PASSWORD not in user.password_hash


def test_wrong_password_and_unknown_user_are_refused_alike(app, client, make_user):
    make_user("drafter1", "drafter")
    for username, password in (("drafter1", "wrong-password"), ("nobody", TEST_PASSWORD)):
        r = client.post("/login", data={"username": username, "password": password})
        assert r.status_code == 200
        assert "Wrong username or password" in r.get_data(as_text=True) or "用户名或密码错误" in r.get_data(as_text=True)


def test_session_cookie_is_httponly_and_samesite(app, client, make_user):
    make_user("drafter1", "drafter")
    r = client.post("/login", data={"username": "drafter1", "password": TEST_PASSWORD})
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_login_redirect_only_to_this_site(app, client, make_user):
    make_user("drafter1", "drafter")
    r = client.post("/login?next=https://evil.example/x", data={"username": "drafter1", "password": TEST_PASSWORD})
    assert r.headers["Location"] == "/tasks"
    r = app.test_client().post("/login?next=//evil.example", data={"username": "drafter1", "password": TEST_PASSWORD})
    assert r.headers["Location"] == "/tasks"


def test_pages_need_login(app, client):
    r = client.get("/tasks")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_csrf_is_enforced_on_forms(database_url, app, make_user):
    make_user("drafter1", "drafter")
    strict = build_app(database_url, WTF_CSRF_ENABLED=True)
    c = strict.test_client()
    assert c.post("/login", data={"username": "drafter1", "password": TEST_PASSWORD}).status_code == 400
    page = c.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    r = c.post("/login", data={"username": "drafter1", "password": TEST_PASSWORD, "csrf_token": token})
    assert r.status_code == 302


def test_login_is_throttled(database_url, app, make_user):
    make_user("drafter1", "drafter")
    from app.extensions import limiter

    was_enabled = limiter.enabled
    try:
        throttled = build_app(database_url, RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
        c = throttled.test_client()
        codes = [c.post("/login", data={"username": "drafter1", "password": "bad-guess-00"}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        # Even the right password is refused while throttled.
        assert c.post("/login", data={"username": "drafter1", "password": TEST_PASSWORD}).status_code == 429
    finally:
        # The limiter is a module-level singleton: enabling it for this app enabled it for every app.
        limiter.enabled = was_enabled


def test_token_cli_issues_a_working_token(app, make_user, client):
    make_user("leader1", "leader")
    result = app.test_cli_runner().invoke(args=["users", "token", "leader1"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json["username"] == "leader1"
    with app.app_context():
        stored = db.session.scalar(select(ApiToken))
        assert stored.token_hash != token and len(stored.token_hash) == 64
    revoke = app.test_cli_runner().invoke(args=["users", "revoke-tokens", "leader1"])
    assert "revoked 1" in revoke.output
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_api_rejects_bad_tokens(app, client):
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_openapi_document_is_public_and_lists_the_api(app, client):
    doc = client.get("/api/v1/openapi.json").json
    assert doc["info"]["title"] == "Suiji API"
    for path in ("/api/v1/me", "/api/v1/plans", "/api/v1/tasks", "/api/v1/tasks/{task_id}/complete"):
        assert path in doc["paths"], path


def test_inactive_user_cannot_log_in(app, client, make_user):
    uid = make_user("gone", "drafter")
    with app.app_context():
        db.session.get(User, uid).is_active_account = False
        db.session.commit()
    assert client.post("/login", data={"username": "gone", "password": TEST_PASSWORD}).status_code == 200


def test_language_is_chinese_by_default_and_switchable_per_user(app, make_user, login_as):
    make_user("drafter1", "drafter")
    c = login_as("drafter1")
    assert "我的任务" in c.get("/tasks").get_data(as_text=True)
    c.post("/language", data={"locale": "en"})
    assert "My tasks" in c.get("/tasks").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(User.locale).where(User.username == "drafter1")) == "en"
    # The choice follows the user to a new session.
    again = login_as("drafter1")
    assert "My tasks" in again.get("/tasks").get_data(as_text=True)
