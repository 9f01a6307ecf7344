"""Directory API: CRUD, role rules, imports and the OpenAPI document."""
from __future__ import annotations

import io
import random

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.directory.models import Entity
from app.directory.uscc import make_uscc
from app.extensions import db

BASE = "/api/v1/directory"


def uscc(n: int) -> str:
    return make_uscc(random.Random(n), "140502")


@pytest.fixture
def coord(make_user, api_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    make_user("coord", "coordinator")
    return api_token("coord")


@pytest.fixture
def insp(make_user, api_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    make_user("insp", "inspector")
    return api_token("insp")


def entity_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Entity)) or 0


def test_api_needs_a_token(client: FlaskClient) -> None:
    assert client.get(f"{BASE}/entities").status_code == 401


def test_entity_lifecycle(app: Flask, client: FlaskClient, coord: dict[str, str]) -> None:
    response = client.post(
        f"{BASE}/entities",
        json={"uscc": uscc(1).lower(), "name": "晋城甲公司", "region_code": "140502", "credit_class": "c"},
        headers=coord,
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert (body["uscc"], body["credit_class"], body["status"]) == (uscc(1), "C", "active")
    entity_id = body["id"]

    response = client.get(f"{BASE}/entities/{entity_id}", headers=coord)
    assert response.status_code == 200 and response.json["name"] == "晋城甲公司"

    response = client.patch(f"{BASE}/entities/{entity_id}", json={"credit_class": None, "industry": "建材"}, headers=coord)
    assert response.status_code == 200
    assert (response.json["credit_class"], response.json["industry"]) == (None, "建材")

    response = client.get(f"{BASE}/entities", query_string={"q": "甲公司", "industry": "建材"}, headers=coord)
    assert response.status_code == 200
    assert response.json["total"] == 1 and response.json["items"][0]["id"] == entity_id
    assert response.json["pages"] == 1

    response = client.post(f"{BASE}/entities/{entity_id}/deactivate", json={"status": "closed"}, headers=coord)
    assert response.status_code == 200 and response.json["status"] == "closed"
    response = client.post(f"{BASE}/entities/{entity_id}/deactivate", headers=coord)
    assert response.status_code == 200 and response.json["status"] == "deregistered"


def test_validation_errors_are_json(app: Flask, client: FlaskClient, coord: dict[str, str]) -> None:
    wrong = uscc(1)[:17] + ("0" if uscc(1)[17] != "0" else "1")
    response = client.post(f"{BASE}/entities", json={"uscc": wrong, "name": "X", "region_code": "1405"}, headers=coord)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"uscc", "region_code"}
    assert "check character" in response.json["errors"]["uscc"][0]
    assert entity_count(app) == 0
    # Missing required fields are caught by the schema.
    assert client.post(f"{BASE}/entities", json={"name": "X"}, headers=coord).status_code == 422


def test_missing_object_is_json_404(client: FlaskClient, insp: dict[str, str]) -> None:
    response = client.get(f"{BASE}/entities/999999", headers=insp)
    assert response.status_code == 404
    assert response.json["error"] == "NotFound"


def test_inspector_may_read_but_not_write(app: Flask, client: FlaskClient, insp: dict[str, str], coord: dict[str, str]) -> None:
    created = client.post(f"{BASE}/entities", json={"uscc": uscc(1), "name": "甲", "region_code": "140502"}, headers=coord)
    entity_id = created.json["id"]
    assert client.get(f"{BASE}/entities", headers=insp).status_code == 200
    assert client.get(f"{BASE}/entities/{entity_id}", headers=insp).status_code == 200
    for method, path, kwargs in (
        ("post", "/entities", {"json": {"uscc": uscc(2), "name": "乙", "region_code": "140502"}}),
        ("patch", f"/entities/{entity_id}", {"json": {"name": "被改"}}),
        ("post", f"/entities/{entity_id}/deactivate", {}),
        ("post", "/departments", {"json": {"code": "X", "name": "X", "region_code": "140500"}}),
        ("post", "/entities/import", {"data": {"file": (io.BytesIO(b"uscc,name,region_code\n"), "e.csv")}}),
    ):
        response = getattr(client, method)(f"{BASE}{path}", headers=insp, **kwargs)
        assert response.status_code == 403, path
        assert response.is_json
    assert entity_count(app) == 1
    with app.app_context():
        assert db.session.get(Entity, entity_id).name == "甲"  # type: ignore[union-attr]


def test_departments_inspectors_check_items(client: FlaskClient, coord: dict[str, str]) -> None:
    dept = client.post(f"{BASE}/departments", json={"code": "JC-SAMR", "name": "晋城市局", "region_code": "140500"}, headers=coord)
    assert dept.status_code == 201, dept.json
    dept_id = dept.json["id"]

    inspector = client.post(
        f"{BASE}/inspectors",
        json={"name": "张三", "department_id": dept_id, "certificate_no": "C-1", "region_code": "140502", "qualifications": ["食品", "价格"]},
        headers=coord,
    )
    assert inspector.status_code == 201, inspector.json
    assert inspector.json["department_code"] == "JC-SAMR"
    bad = client.post(
        f"{BASE}/inspectors",
        json={"name": "李四", "department_id": dept_id, "certificate_no": "C-2", "region_code": "140502", "qualifications": ["食品", ""]},
        headers=coord,
    )
    assert bad.status_code == 422 and "qualifications" in bad.json["errors"]
    listed = client.get(f"{BASE}/inspectors", query_string={"qualification": "价格"}, headers=coord)
    assert [i["name"] for i in listed.json["items"]] == ["张三"]
    patched = client.patch(f"{BASE}/inspectors/{inspector.json['id']}", json={"station": "城区所"}, headers=coord)
    assert patched.json["station"] == "城区所"
    gone = client.post(f"{BASE}/inspectors/{inspector.json['id']}/deactivate", headers=coord)
    assert gone.json["active"] is False

    item = client.post(
        f"{BASE}/check-items",
        json={"code": "SC-1", "category": "食品", "name": "经营条件", "department_id": dept_id, "kind": "key"},
        headers=coord,
    )
    assert item.status_code == 201, item.json
    assert client.get(f"{BASE}/check-items", query_string={"kind": "key"}, headers=coord).json["total"] == 1
    assert client.get(f"{BASE}/check-items", query_string={"kind": "bogus"}, headers=coord).status_code == 422
    assert client.post(f"{BASE}/check-items/{item.json['id']}/deactivate", headers=coord).json["active"] is False

    assert client.get(f"{BASE}/departments", query_string={"q": "晋城"}, headers=coord).json["total"] == 1
    assert client.patch(f"{BASE}/departments/{dept_id}", json={"name": "晋城市市场监督管理局"}, headers=coord).status_code == 200
    assert client.post(f"{BASE}/departments/{dept_id}/deactivate", headers=coord).json["active"] is False


def test_import_through_the_api(app: Flask, client: FlaskClient, coord: dict[str, str]) -> None:
    good = f"uscc,name,region_code\n{uscc(1)},甲,140502\n{uscc(2)},乙,140502\n".encode()
    bad = good + f"{uscc(3)[:17]}?,丙,140502\n".encode()
    response = client.post(
        f"{BASE}/entities/import", data={"file": (io.BytesIO(bad), "e.csv")}, headers=coord, content_type="multipart/form-data"
    )
    assert response.status_code == 422
    assert response.json["ok"] is False
    assert response.json["errors"][0]["row"] == 4
    assert entity_count(app) == 0

    response = client.post(
        f"{BASE}/entities/import", data={"file": (io.BytesIO(good), "e.csv")}, headers=coord, content_type="multipart/form-data"
    )
    assert response.status_code == 200
    assert response.json == {"ok": True, "created": 2, "updated": 0, "errors": []}

    response = client.post(
        f"{BASE}/entities/import", data={"file": (io.BytesIO(good), "e.xlsx")}, headers=coord, content_type="multipart/form-data"
    )
    assert response.status_code == 422 and "file" in response.json["errors"]


def test_openapi_lists_the_directory(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").json
    paths = spec["paths"]
    for kind, id_name in (("entities", "entity_id"), ("inspectors", "inspector_id"), ("check-items", "item_id"), ("departments", "department_id")):
        assert {"get", "post"} <= set(paths[f"{BASE}/{kind}"])
        assert {"get", "patch"} <= set(paths[f"{BASE}/{kind}/{{{id_name}}}"])
        assert "post" in paths[f"{BASE}/{kind}/{{{id_name}}}/deactivate"]
    for kind in ("entities", "inspectors", "check-items"):
        body = paths[f"{BASE}/{kind}/import"]["post"]["requestBody"]["content"]
        assert "multipart/form-data" in body
    query = {p["name"] for p in paths[f"{BASE}/entities"]["get"]["parameters"]}
    assert {"q", "kind", "industry", "region_code", "station", "credit_class", "status", "scale", "page", "per_page"} <= query
    assert "Entity" in spec["components"]["schemas"]
