"""User administration: pages and API for administrators, and changing one's own password."""
from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select

from app.auth.models import ApiToken, User
from app.errors import ValidationFailed
from app.extensions import db
from tests.conftest import TEST_PASSWORD, build_app, login
from tests.factories import make_department, make_inspector
from workflows.models import HumanTask, ProcessInstance, ProcessSpec

NEW_PASSWORD = "brand-new-pass-7"


@pytest.fixture
def root(make_user):  # type: ignore[no-untyped-def]
    """The administrator's id."""
    return make_user("root", "admin")


@pytest.fixture
def admin_client(root, login_as):  # type: ignore[no-untyped-def]
    return login_as("root")


@pytest.fixture
def admin_api(root, api_token):  # type: ignore[no-untyped-def]
    return api_token("root")


def _user(app, username: str) -> User:  # type: ignore[no-untyped-def]
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        db.session.expunge_all()
        return user


def _secret(page: str) -> str:
    return re.search(r'<input id="secret"[^>]*value="([^"]+)"', page).group(1)


def _can_log_in(app, username: str, password: str) -> bool:  # type: ignore[no-untyped-def]
    r = app.test_client().post("/login", data={"username": username, "password": password})
    return r.status_code == 302


def _make_task(role: str, title: str) -> int:
    spec = db.session.scalar(select(ProcessSpec).where(ProcessSpec.content_hash == "test"))
    if spec is None:
        spec = ProcessSpec(process_id="test", content_hash="test", serialized="{}", source_file="test.bpmn")
        db.session.add(spec)
        db.session.flush()
    instance = ProcessInstance(spec_id=spec.id, process_id="test", subject_type="plan", subject_id=1, state="{}")
    db.session.add(instance)
    db.session.flush()
    task = HumanTask(spiff_task_id=str(uuid.uuid4()), instance_id=instance.id, bpmn_id=title, title=title,
                     lane=role, role=role, subject_type="plan", subject_id=1, subject_title=title)
    db.session.add(task)
    db.session.commit()
    return task.id


# --------------------------------------------------------------------------- creating accounts


def test_admin_creates_a_user_with_two_roles_who_sees_both_queues(app, admin_client):
    r = admin_client.post("/admin/users/new", data={
        "username": "li.ming", "display_name": "李明", "password": NEW_PASSWORD,
        "roles": ["drafter", "legal_reviewer"], "department_id": "", "inspector_id": "", "locale": "",
    })
    assert r.status_code == 302, r.get_data(as_text=True)
    user = _user(app, "li.ming")
    assert r.headers["Location"].endswith(f"/admin/users/{user.id}")
    assert user.role_names == {"drafter", "legal_reviewer"} and user.display_name == "李明"

    listing = admin_client.get("/admin/users?q=li.m").get_data(as_text=True)
    assert 'data-username="li.ming"' in listing and "计划起草人" in listing and "合法性审查人员" in listing

    with app.app_context():
        drafting, review, other = (_make_task("drafter", "draft_step"), _make_task("legal_reviewer", "review_step"),
                                   _make_task("leader", "leader_step"))
    c = app.test_client()
    login(c, "li.ming", NEW_PASSWORD)
    page = c.get("/tasks/groups").get_data(as_text=True)
    assert f'data-task-id="{drafting}"' in page and f'data-task-id="{review}"' in page
    assert f'data-task-id="{other}"' not in page


def test_a_generated_password_is_shown_once_and_works(app, admin_client):
    r = admin_client.post("/admin/users/new", data={
        "username": "wang", "display_name": "王芳", "password": "", "roles": ["leader"], "locale": "en",
    })
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    password = _secret(r.get_data(as_text=True))
    assert len(password) >= 12 and _can_log_in(app, "wang", password)
    assert _user(app, "wang").locale == "en"
    # Nowhere else to be seen again.
    assert password not in admin_client.get(f"/admin/users/{_user(app, 'wang').id}").get_data(as_text=True)


def test_inspector_role_needs_a_free_inspector_record(app, admin_client, admin_api, client, make_user):
    with app.app_context():
        free, taken = make_inspector(name="张三").id, make_inspector(name="李四").id
    make_user("lisi", "inspector", inspector_id=taken)
    form = {"username": "zhangsan", "display_name": "张三", "password": NEW_PASSWORD, "roles": ["inspector"]}

    r = admin_client.post("/admin/users/new", data=dict(form, inspector_id=""))
    assert r.status_code == 422 and "执法检查人员账号必须关联" in r.get_data(as_text=True)
    assert _user(app, "zhangsan") is None
    api = client.post("/api/v1/users", json=dict(form, roles=["inspector"]), headers=admin_api)
    assert api.status_code == 422 and "inspector_id" in api.json["errors"]
    # An inspector record already linked to an account is neither offered nor accepted.
    page = admin_client.get("/admin/users/new").get_data(as_text=True)
    assert f'value="{free}"' in page and f'value="{taken}"' not in page
    assert admin_client.post("/admin/users/new", data=dict(form, inspector_id=str(taken))).status_code == 422
    api = client.post("/api/v1/users", json=dict(form, inspector_id=taken), headers=admin_api)
    assert api.status_code == 422 and "already linked" in api.json["errors"]["inspector_id"][0]

    assert admin_client.post("/admin/users/new", data=dict(form, inspector_id=str(free))).status_code == 302
    assert _user(app, "zhangsan").inspector_id == free
    # Its own link stays on offer when the account is edited.
    uid = _user(app, "zhangsan").id
    assert f'value="{free}"' in admin_client.get(f"/admin/users/{uid}/edit").get_data(as_text=True)


def test_duplicate_and_malformed_usernames_are_refused(app, admin_client, admin_api, client, make_user):
    make_user("drafter1", "drafter")
    form = {"display_name": "X", "password": NEW_PASSWORD, "roles": ["drafter"]}
    for name in ("drafter1", "Drafter1", "ab", "has space", "中文名"):
        r = admin_client.post("/admin/users/new", data=dict(form, username=name))
        assert r.status_code == 422, name
        api = client.post("/api/v1/users", json=dict(form, username=name), headers=admin_api)
        assert api.status_code == 422 and "username" in api.json["errors"], name
    assert "already taken" in client.post("/api/v1/users", json=dict(form, username="drafter1"),
                                          headers=admin_api).json["errors"]["username"][0]
    # No role at all, a short password, an unknown role:
    r = client.post("/api/v1/users", json=dict(form, username="newbie", roles=[], password="short"), headers=admin_api)
    assert r.status_code == 422 and {"roles", "password"} <= set(r.json["errors"])
    r = client.post("/api/v1/users", json=dict(form, username="newbie", roles=["king"]), headers=admin_api)
    assert r.status_code == 422 and "unknown role" in r.json["errors"]["roles"][0]
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "newbie")) is None


def test_user_input_is_escaped_on_the_pages(app, admin_client):
    admin_client.post("/admin/users/new", data={
        "username": "evil", "display_name": "<script>alert(1)</script>", "password": NEW_PASSWORD, "roles": ["leader"],
    })
    uid = _user(app, "evil").id
    for url in ("/admin/users", f"/admin/users/{uid}", f"/admin/users/{uid}/edit"):
        page = admin_client.get(url).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page, url


# --------------------------------------------------------------------------- who may


def test_non_admins_get_403_on_every_page_and_endpoint(app, root, make_user, login_as, api_token, client):
    make_user("coord", "coordinator", "drafter", "leader", "legal_reviewer")
    c, headers = login_as("coord"), api_token("coord")
    pages = [("get", "/admin/users"), ("get", "/admin/users/new"), ("post", "/admin/users/new"),
             ("get", f"/admin/users/{root}"), ("get", f"/admin/users/{root}/edit"), ("post", f"/admin/users/{root}/edit"),
             ("get", f"/admin/users/{root}/password"), ("post", f"/admin/users/{root}/password"),
             ("post", f"/admin/users/{root}/tokens"), ("post", f"/admin/users/{root}/tokens/revoke")]
    for method, url in pages:
        assert getattr(c, method)(url, data={"roles": ["admin"], "username": "x"}).status_code == 403, url
        anonymous = getattr(app.test_client(), method)(url)
        assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"], url
    calls = [("get", "/api/v1/users"), ("post", "/api/v1/users"), ("get", f"/api/v1/users/{root}"),
             ("patch", f"/api/v1/users/{root}"), ("post", f"/api/v1/users/{root}/password"),
             ("post", f"/api/v1/users/{root}/tokens"), ("delete", f"/api/v1/users/{root}/tokens")]
    for method, url in calls:
        assert getattr(client, method)(url, json={"active": False}, headers=headers).status_code == 403, url
        assert getattr(client, method)(url, json={}).status_code == 401, url
    with app.app_context():
        assert db.session.get(User, root).is_active_account
    # The admin link is not in the menu of non-admins.
    assert 'data-testid="nav-users"' not in c.get("/tasks").get_data(as_text=True)


def test_admin_cannot_demote_or_deactivate_themselves(app, root, admin_client, admin_api, client):
    r = admin_client.post(f"/admin/users/{root}/edit", data={"display_name": "Root", "roles": ["leader"], "active": "y"})
    assert r.status_code == 422
    r = admin_client.post(f"/admin/users/{root}/edit", data={"display_name": "Root", "roles": ["admin"]})
    assert r.status_code == 422
    assert client.patch(f"/api/v1/users/{root}", json={"roles": ["leader"]}, headers=admin_api).status_code == 422
    r = client.patch(f"/api/v1/users/{root}", json={"active": False}, headers=admin_api)
    assert r.status_code == 422 and "active" in r.json["errors"]
    with app.app_context():
        user = db.session.get(User, root)
        assert user.role_names == {"admin"} and user.is_active_account
    # Other changes to one's own account are fine.
    r = client.patch(f"/api/v1/users/{root}", json={"roles": ["admin", "leader"], "display_name": "Boss"},
                     headers=admin_api)
    assert r.status_code == 200 and r.json["roles"] == ["admin", "leader"]


def test_the_last_active_admin_keeps_the_role(app, root, make_user, admin_api, client):
    second = make_user("root2", "admin")
    # With another admin left, one admin may demote the other...
    assert client.patch(f"/api/v1/users/{second}", json={"roles": ["leader"]}, headers=admin_api).status_code == 200
    # ...but the service never lets the last active admin go, whoever asks (a script, a stale session).
    from app.auth import admin

    class Script:
        id = -1
        is_authenticated = True

        @staticmethod
        def has_role(*roles):  # type: ignore[no-untyped-def]
            return True

    with app.test_request_context("/?lang=en"):
        for change in ({"roles": ["leader"]}, {"active": False}):
            with pytest.raises(ValidationFailed) as info:
                admin.update_account(Script(), root, **change)
            assert "last active administrator" in info.value.message
        db.session.rollback()
        # An inactive admin does not count.
        admin.update_account(Script(), second, roles=["admin"], active=False)
        db.session.commit()
        with pytest.raises(ValidationFailed):
            admin.update_account(Script(), root, roles=["leader"])


# --------------------------------------------------------------------------- deactivation, passwords, tokens


def test_deactivating_revokes_tokens_and_blocks_login(app, admin_client, make_user, api_token, login_as, client):
    uid = make_user("leaver", "drafter")
    headers = api_token("leaver")
    session = login_as("leaver")
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    r = admin_client.post(f"/admin/users/{uid}/edit", data={"display_name": "Leaver", "roles": ["drafter"]})
    assert r.status_code == 302, r.get_data(as_text=True)
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert not _can_log_in(app, "leaver", TEST_PASSWORD)
    open_session = session.get("/tasks")
    assert open_session.status_code == 302 and "/login" in open_session.headers["Location"]
    with app.app_context():
        assert all(t.revoked for t in db.session.scalars(select(ApiToken).where(ApiToken.user_id == uid)))
    # Reactivated: may log in again, but the old token stays dead.
    admin_client.post(f"/admin/users/{uid}/edit", data={"display_name": "Leaver", "roles": ["drafter"], "active": "y"})
    assert _can_log_in(app, "leaver", TEST_PASSWORD)
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert 'data-username="leaver"' in admin_client.get("/admin/users?active=1").get_data(as_text=True)


def test_password_reset_by_an_admin(app, admin_client, admin_api, client, make_user):
    uid = make_user("forgetful", "leader")
    assert admin_client.post(f"/admin/users/{uid}/password", data={"password": "short"}).status_code == 422
    assert _can_log_in(app, "forgetful", TEST_PASSWORD)
    r = admin_client.post(f"/admin/users/{uid}/password", data={"password": NEW_PASSWORD})
    assert r.status_code == 302
    assert not _can_log_in(app, "forgetful", TEST_PASSWORD) and _can_log_in(app, "forgetful", NEW_PASSWORD)
    # Generated, on the page and through the API.
    password = _secret(admin_client.post(f"/admin/users/{uid}/password", data={"password": ""}).get_data(as_text=True))
    assert not _can_log_in(app, "forgetful", NEW_PASSWORD) and _can_log_in(app, "forgetful", password)
    r = client.post(f"/api/v1/users/{uid}/password", json={}, headers=admin_api)
    assert r.status_code == 200 and _can_log_in(app, "forgetful", r.json["generated_password"])
    r = client.post(f"/api/v1/users/{uid}/password", json={"password": NEW_PASSWORD}, headers=admin_api)
    assert r.status_code == 200 and r.json["generated_password"] is None and _can_log_in(app, "forgetful", NEW_PASSWORD)


def test_change_my_password_needs_the_current_one(app, make_user, login_as):
    make_user("drafter1", "drafter")
    c = login_as("drafter1")
    assert c.get("/account/password").status_code == 200
    r = c.post("/account/password", data={"current_password": "not-my-password", "new_password": NEW_PASSWORD,
                                          "confirm": NEW_PASSWORD})
    assert r.status_code == 422 and ("当前密码不正确" in r.get_data(as_text=True))
    r = c.post("/account/password", data={"current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD,
                                          "confirm": "something-else"})
    assert r.status_code == 422
    assert _can_log_in(app, "drafter1", TEST_PASSWORD)
    r = c.post("/account/password", data={"current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD,
                                          "confirm": NEW_PASSWORD})
    assert r.status_code == 302
    assert not _can_log_in(app, "drafter1", TEST_PASSWORD) and _can_log_in(app, "drafter1", NEW_PASSWORD)
    anonymous = app.test_client().get("/account/password")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_admin_issues_and_revokes_tokens_on_the_page(app, admin_client, make_user, client):
    uid = make_user("robot", "coordinator")
    r = admin_client.post(f"/admin/users/{uid}/tokens", data={"label": "nightly import"})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    token = _secret(r.get_data(as_text=True))
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json["username"] == "robot"
    detail = admin_client.get(f"/admin/users/{uid}").get_data(as_text=True)
    assert "nightly import" in detail and token not in detail
    listing = admin_client.get("/admin/users?role=coordinator").get_data(as_text=True)
    assert 'data-username="robot"' in listing and 'data-username="root"' not in listing
    assert admin_client.post(f"/admin/users/{uid}/tokens/revoke").status_code == 302
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_admin_forms_need_a_csrf_token(database_url, app, root):
    strict = build_app(database_url, WTF_CSRF_ENABLED=True)
    c = strict.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', c.get("/login").get_data(as_text=True)).group(1)
    assert c.post("/login", data={"username": "root", "password": TEST_PASSWORD, "csrf_token": token}).status_code == 302
    form = {"username": "sneaky", "display_name": "S", "password": NEW_PASSWORD, "roles": ["admin"]}
    assert c.post("/admin/users/new", data=form).status_code == 400
    assert c.post(f"/admin/users/{root}/tokens", data={}).status_code == 400
    page = c.get("/admin/users/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert c.post("/admin/users/new", data=dict(form, csrf_token=token)).status_code == 302


# --------------------------------------------------------------------------- API


def test_api_create_and_patch_round_trip(app, admin_api, client):
    with app.app_context():
        dept = make_department().id
        db.session.commit()
        inspector = make_inspector(name="赵六").id
    r = client.post("/api/v1/users", headers=admin_api, json={
        "username": "zhao6", "display_name": "赵六", "roles": ["inspector", "witness"],
        "inspector_id": inspector, "department_id": dept, "locale": "zh_CN",
    })
    assert r.status_code == 201, r.json
    created = r.json
    assert created["roles"] == ["inspector", "witness"] and created["inspector_id"] == inspector
    assert created["department_id"] == dept and created["active"] and created["active_tokens"] == 0
    assert "password" not in created and _can_log_in(app, "zhao6", created["generated_password"])
    uid = created["id"]

    got = client.get(f"/api/v1/users/{uid}", headers=admin_api).json
    assert got["username"] == "zhao6" and "generated_password" not in got

    # Dropping the inspector link while keeping the inspector role is refused.
    r = client.patch(f"/api/v1/users/{uid}", json={"inspector_id": None}, headers=admin_api)
    assert r.status_code == 422 and "inspector_id" in r.json["errors"]
    r = client.patch(f"/api/v1/users/{uid}", headers=admin_api, json={
        "display_name": "赵六（法制）", "roles": ["legal_officer"], "inspector_id": None, "department_id": None,
        "locale": "en",
    })
    assert r.status_code == 200, r.json
    assert r.json["roles"] == ["legal_officer"] and r.json["inspector_id"] is None
    assert r.json["department_id"] is None and r.json["locale"] == "en" and r.json["display_name"] == "赵六（法制）"

    token = client.post(f"/api/v1/users/{uid}/tokens", json={"label": "ci"}, headers=admin_api)
    assert token.status_code == 201 and token.json["token"].startswith("sj_")
    user_headers = {"Authorization": f"Bearer {token.json['token']}"}
    assert client.get("/api/v1/me", headers=user_headers).json["roles"] == ["legal_officer"]
    listed = client.get("/api/v1/users?q=zhao&role=legal_officer&active=true", headers=admin_api).json
    assert [u["username"] for u in listed["items"]] == ["zhao6"] and listed["total"] == 1
    assert listed["items"][0]["active_tokens"] == 1 and listed["items"][0]["last_token_used_at"]
    assert client.get("/api/v1/users?role=leader", headers=admin_api).json["total"] == 0
    assert client.get("/api/v1/users?role=king", headers=admin_api).status_code == 422

    r = client.patch(f"/api/v1/users/{uid}", json={"active": False}, headers=admin_api)
    assert r.status_code == 200 and r.json["active"] is False and r.json["active_tokens"] == 0
    assert client.get("/api/v1/me", headers=user_headers).status_code == 401
    assert client.post(f"/api/v1/users/{uid}/tokens", json={}, headers=admin_api).status_code == 422
    assert client.delete(f"/api/v1/users/{uid}/tokens", headers=admin_api).json == {"revoked": 0}
    assert client.get("/api/v1/users/999999", headers=admin_api).status_code == 404


def test_users_api_is_in_the_openapi_document(app, client):
    doc = client.get("/api/v1/openapi.json").json
    for path in ("/api/v1/users", "/api/v1/users/{user_id}", "/api/v1/users/{user_id}/password",
                 "/api/v1/users/{user_id}/tokens"):
        assert path in doc["paths"], path
    assert {"get", "patch"} <= set(doc["paths"]["/api/v1/users/{user_id}"])
    assert {"post", "delete"} <= set(doc["paths"]["/api/v1/users/{user_id}/tokens"])
    assert "UserCreate" in doc["components"]["schemas"]
