"""Directory pages: browse, search, add, edit, deactivate; role and CSRF checks."""
from __future__ import annotations

import random
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.directory import service
from app.directory.models import CheckItem, Department, Entity, Inspector
from app.directory.uscc import make_uscc
from app.extensions import db


def uscc(n: int) -> str:
    return make_uscc(random.Random(n), "140502")


@pytest.fixture
def coordinator(make_user, login_as) -> FlaskClient:  # type: ignore[no-untyped-def]
    make_user("coord", "coordinator")
    return login_as("coord")


@pytest.fixture
def inspector_client(make_user, login_as) -> FlaskClient:  # type: ignore[no-untyped-def]
    make_user("insp", "inspector")
    return login_as("insp")


@pytest.fixture
def entity_id(app: Flask) -> int:
    with app.test_request_context():
        entity = service.create_entity(actor=None, uscc=uscc(1), name="晋城示例食品有限公司", region_code="140502", industry="食品销售")
        db.session.commit()
        return entity.id


@pytest.fixture
def dept_id(app: Flask) -> int:
    with app.test_request_context():
        dept = db.session.scalar(select(Department).where(Department.code == "JC-SAMR"))
        if dept is None:
            dept = service.create_department(actor=None, code="JC-SAMR", name="晋城市市场监督管理局", region_code="140500")
            db.session.commit()
        return dept.id


@pytest.fixture
def csrf_on(app: Flask) -> Iterator[None]:
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        yield
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def stored(app: Flask, model: type, object_id: int):  # type: ignore[no-untyped-def]
    with app.app_context():
        obj = db.session.get(model, object_id)
        db.session.expunge_all()
        return obj


# --------------------------------------------------------------------------- browsing


def test_pages_need_a_login(client: FlaskClient) -> None:
    for path in ("/directory/entities", "/directory/inspectors", "/directory/check-items", "/directory/departments"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_every_staff_role_may_browse(app: Flask, make_user, login_as, entity_id: int) -> None:  # type: ignore[no-untyped-def]
    make_user("witness", "witness")
    client = login_as("witness")
    for path in ("/directory/entities", "/directory/inspectors", "/directory/check-items", "/directory/departments"):
        assert client.get(path).status_code == 200, path
    page = client.get(f"/directory/entities/{entity_id}").get_data(as_text=True)
    assert "晋城示例食品有限公司" in page
    # No edit controls for a non-editor.
    assert f"/directory/entities/{entity_id}/edit" not in page


def test_user_without_roles_is_refused(app: Flask, make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    make_user("nobody")
    assert login_as("nobody").get("/directory/entities").status_code == 403


def test_search_and_filter(app: Flask, inspector_client: FlaskClient) -> None:
    with app.test_request_context():
        service.create_entity(actor=None, uscc=uscc(1), name="凤台食品店", region_code="140502", credit_class="D")
        service.create_entity(actor=None, uscc=uscc(2), name="泽州建材公司", region_code="140525", credit_class="A")
        db.session.commit()
    page = inspector_client.get("/directory/entities?q=食品").get_data(as_text=True)
    assert "凤台食品店" in page and "泽州建材公司" not in page
    page = inspector_client.get("/directory/entities?credit_class=A").get_data(as_text=True)
    assert "泽州建材公司" in page and "凤台食品店" not in page
    page = inspector_client.get(f"/directory/entities?q={uscc(2).lower()}").get_data(as_text=True)
    assert "泽州建材公司" in page and "凤台食品店" not in page
    response = inspector_client.get("/directory/entities?region_code=14x")
    assert response.status_code == 200
    assert 'data-testid="field-error"' in response.get_data(as_text=True)


def test_pagination_keeps_the_filters(app: Flask, inspector_client: FlaskClient) -> None:
    with app.test_request_context():
        for n in range(app.config["PAGE_SIZE"] + 5):
            service.create_entity(actor=None, uscc=uscc(n), name=f"公司{n:03d}", region_code="140502", industry="建材")
        db.session.commit()
    first = inspector_client.get("/directory/entities?industry=建材").get_data(as_text=True)
    assert first.count('href="/directory/entities/') == app.config["PAGE_SIZE"]
    links = re.findall(r'href="(/directory/entities\?[^"]*page=2[^"]*)"', first)
    assert links and "industry=" in links[0]
    second = inspector_client.get(links[0].replace("&amp;", "&")).get_data(as_text=True)
    assert second.count('href="/directory/entities/') == 5


def test_user_html_is_escaped(app: Flask, inspector_client: FlaskClient) -> None:
    with app.test_request_context():
        entity = service.create_entity(actor=None, uscc=uscc(1), name="<script>alert(1)</script>", region_code="140502")
        db.session.commit()
        entity_id = entity.id
    for path in ("/directory/entities", f"/directory/entities/{entity_id}"):
        page = inspector_client.get(path).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_missing_entity_is_404(inspector_client: FlaskClient) -> None:
    assert inspector_client.get("/directory/entities/424242").status_code == 404


# --------------------------------------------------------------------------- editing


def test_coordinator_adds_an_entity(app: Flask, coordinator: FlaskClient) -> None:
    assert coordinator.get("/directory/entities/new").status_code == 200
    response = coordinator.post(
        "/directory/entities/new",
        data={"uscc": uscc(3).lower(), "name": "新增公司", "kind": "enterprise", "region_code": "140502", "status": "active", "credit_class": "C", "scale": ""},
    )
    assert response.status_code == 302
    with app.app_context():
        entity = db.session.scalar(select(Entity).where(Entity.uscc == uscc(3)))
        assert entity is not None and entity.credit_class == "C" and entity.scale is None


def test_bad_uscc_is_shown_on_the_form_and_nothing_saved(app: Flask, coordinator: FlaskClient) -> None:
    wrong = uscc(3)[:17] + ("0" if uscc(3)[17] != "0" else "1")
    response = coordinator.post(
        "/directory/entities/new",
        data={"uscc": wrong, "name": "新增公司", "kind": "enterprise", "region_code": "140502", "status": "active"},
    )
    assert response.status_code == 422
    assert "校验码应为" in response.get_data(as_text=True)  # "check character should be"
    # What was typed is still in the form.
    assert wrong in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Entity)) == 0


def test_coordinator_edits_an_entity(app: Flask, coordinator: FlaskClient, entity_id: int) -> None:
    form = coordinator.get(f"/directory/entities/{entity_id}/edit").get_data(as_text=True)
    assert uscc(1) in form
    response = coordinator.post(
        f"/directory/entities/{entity_id}/edit",
        data={"uscc": uscc(1), "name": "改名公司", "kind": "individual", "region_code": "140502", "status": "active", "credit_class": ""},
    )
    assert response.status_code == 302
    entity = stored(app, Entity, entity_id)
    assert (entity.name, entity.kind, entity.credit_class) == ("改名公司", "individual", None)


def test_coordinator_deactivates_an_entity(app: Flask, coordinator: FlaskClient, entity_id: int) -> None:
    response = coordinator.post(f"/directory/entities/{entity_id}/deactivate", data={"status": "revoked"})
    assert response.status_code == 302
    assert stored(app, Entity, entity_id).status == "revoked"


def test_inspector_may_not_change_anything(app: Flask, inspector_client: FlaskClient, entity_id: int) -> None:
    assert inspector_client.get(f"/directory/entities/{entity_id}/edit").status_code == 403
    response = inspector_client.post(
        f"/directory/entities/{entity_id}/edit",
        data={"uscc": uscc(1), "name": "被篡改", "kind": "enterprise", "region_code": "140502", "status": "active"},
    )
    assert response.status_code == 403
    assert inspector_client.post(f"/directory/entities/{entity_id}/deactivate", data={"status": "revoked"}).status_code == 403
    assert inspector_client.get("/directory/entities/new").status_code == 403
    assert inspector_client.get("/directory/inspectors/new").status_code == 403
    assert inspector_client.get("/directory/departments/new").status_code == 403
    entity = stored(app, Entity, entity_id)
    assert (entity.name, entity.status) == ("晋城示例食品有限公司", "active")


def test_deactivation_needs_a_csrf_token(app: Flask, coordinator: FlaskClient, entity_id: int, csrf_on: None) -> None:
    response = coordinator.post(f"/directory/entities/{entity_id}/deactivate", data={"status": "revoked"})
    assert response.status_code == 400
    assert stored(app, Entity, entity_id).status == "active"
    page = coordinator.get(f"/directory/entities/{entity_id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert token
    response = coordinator.post(
        f"/directory/entities/{entity_id}/deactivate", data={"status": "revoked", "csrf_token": token.group(1)}
    )
    assert response.status_code == 302
    assert stored(app, Entity, entity_id).status == "revoked"


def test_inspector_pages(app: Flask, coordinator: FlaskClient, dept_id: int) -> None:
    response = coordinator.post(
        "/directory/inspectors/new",
        data={
            "name": "张三",
            "department_id": str(dept_id),
            "certificate_no": "14050019000001",
            "qualifications": "食品；价格",
            "region_code": "140502",
            "active": "y",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        inspector = db.session.scalar(select(Inspector).where(Inspector.certificate_no == "14050019000001"))
        assert inspector is not None and inspector.qualifications == ["食品", "价格"]
        inspector_id = inspector.id
    form = coordinator.get(f"/directory/inspectors/{inspector_id}/edit").get_data(as_text=True)
    assert "食品; 价格" in form
    page = coordinator.get("/directory/inspectors?qualification=价格").get_data(as_text=True)
    assert "张三" in page
    assert coordinator.post(f"/directory/inspectors/{inspector_id}/deactivate").status_code == 302
    assert stored(app, Inspector, inspector_id).active is False
    # Duplicate certificate number: shown on the form.
    response = coordinator.post(
        "/directory/inspectors/new",
        data={"name": "李四", "department_id": str(dept_id), "certificate_no": "14050019000001", "region_code": "140502"},
    )
    assert response.status_code == 422 and "执法证号为 14050019000001 的执法检查人员已存在" in response.get_data(as_text=True)


def test_check_item_pages(app: Flask, coordinator: FlaskClient, dept_id: int) -> None:
    response = coordinator.post(
        "/directory/check-items/new",
        data={"code": "SC-1", "category": "食品安全", "name": "经营条件检查", "kind": "key", "department_id": str(dept_id), "active": "y"},
    )
    assert response.status_code == 302
    with app.app_context():
        item_id = db.session.scalar(select(CheckItem.id).where(CheckItem.code == "SC-1"))
    assert "经营条件检查" in coordinator.get("/directory/check-items?kind=key").get_data(as_text=True)
    response = coordinator.post(
        f"/directory/check-items/{item_id}/edit",
        data={"code": "SC-1", "category": "食品安全", "name": "经营条件检查", "kind": "general", "method": "书面检查", "department_id": str(dept_id), "active": "y"},
    )
    assert response.status_code == 302
    assert stored(app, CheckItem, item_id).kind == "general"
    assert coordinator.post(f"/directory/check-items/{item_id}/deactivate").status_code == 302
    assert stored(app, CheckItem, item_id).active is False


def test_department_pages(app: Flask, coordinator: FlaskClient, dept_id: int) -> None:
    response = coordinator.post(
        "/directory/departments/new",
        data={"code": "JC-CQ", "name": "城区分局", "level": "county", "region_code": "140502", "parent_id": str(dept_id), "active": "y"},
    )
    assert response.status_code == 302
    with app.app_context():
        child_id = db.session.scalar(select(Department.id).where(Department.code == "JC-CQ"))
    page = coordinator.get("/directory/departments").get_data(as_text=True)
    assert "城区分局" in page and "晋城市市场监督管理局" in page
    # Making the parent a child of its own child is refused on the form.
    response = coordinator.post(
        f"/directory/departments/{dept_id}/edit",
        data={"code": "JC-SAMR", "name": "晋城市市场监督管理局", "level": "city", "region_code": "140500", "parent_id": str(child_id), "active": "y"},
    )
    assert response.status_code == 422
    assert coordinator.post(f"/directory/departments/{child_id}/deactivate").status_code == 302
    assert stored(app, Department, child_id).active is False


def test_editor_pages_render_with_csrf_tokens(
    app: Flask, coordinator: FlaskClient, entity_id: int, dept_id: int, csrf_on: None
) -> None:
    with app.test_request_context():
        inspector = service.create_inspector(actor=None, name="张三", department_id=dept_id, certificate_no="C-1", region_code="140502")
        item = service.create_check_item(actor=None, code="SC-1", category="食品", name="经营条件", department_id=dept_id)
        db.session.commit()
        inspector_id, item_id = inspector.id, item.id
    for path in (
        "/directory/entities/new",
        "/directory/entities/import",
        f"/directory/entities/{entity_id}/edit",
        "/directory/inspectors/new",
        "/directory/inspectors/import",
        f"/directory/inspectors/{inspector_id}",
        f"/directory/inspectors/{inspector_id}/edit",
        "/directory/check-items/new",
        "/directory/check-items/import",
        f"/directory/check-items/{item_id}",
        f"/directory/check-items/{item_id}/edit",
        "/directory/departments/new",
        f"/directory/departments/{dept_id}",
        f"/directory/departments/{dept_id}/edit",
    ):
        response = coordinator.get(path)
        assert response.status_code == 200, path
        # The form's own token (base.html's language switch carries one without an id).
        assert 'id="csrf_token"' in response.get_data(as_text=True), path
    detail = coordinator.get(f"/directory/entities/{entity_id}").get_data(as_text=True)
    assert f"/directory/entities/{entity_id}/deactivate" in detail
