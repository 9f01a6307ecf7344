"""Directory services: validation at the boundary, search, deactivation."""
from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from flask import Flask
from sqlalchemy import event, insert

from app.db import utcnow
from app.directory import service
from app.directory.models import Department, Entity
from app.directory.uscc import make_uscc
from app.errors import NotFound, ValidationFailed
from app.extensions import db


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    """A request context in English: messages are checked in their source wording here
    (the Chinese catalogue is checked by tests/test_i18n.py)."""
    with app.test_request_context("/?lang=en"):
        yield app
        db.session.remove()


def uscc(n: int, region: str = "140502") -> str:
    return make_uscc(random.Random(n), region)


@pytest.fixture
def dept(ctx: Flask) -> Department:
    d = service.create_department(actor=None, code="JC-SAMR", name="晋城市市场监督管理局", region_code="140500")
    db.session.commit()
    return d


def add_entity(n: int, **kw: object) -> Entity:
    data: dict = {"uscc": uscc(n), "name": f"晋城测试企业{n}有限公司", "region_code": "140502"}
    data.update(kw)
    return service.create_entity(actor=None, **data)


# --------------------------------------------------------------------------- entities


def test_create_entity_applies_defaults_and_normalises(ctx: Flask) -> None:
    entity = add_entity(1, uscc=uscc(1).lower(), credit_class="b", scale="", registered_on="2019/3/5")
    db.session.commit()
    stored = db.session.get(Entity, entity.id)
    assert stored is not None
    assert stored.uscc == uscc(1)
    assert stored.kind == "enterprise"
    assert stored.status == "active"
    assert stored.credit_class == "B"
    assert stored.scale is None
    assert stored.registered_on == date(2019, 3, 5)


def test_create_entity_reports_every_bad_field_at_once(ctx: Flask) -> None:
    with pytest.raises(ValidationFailed) as info:
        service.create_entity(
            actor=None,
            uscc="123",
            name=" ",
            region_code="14050",
            kind="company",
            credit_class="E",
            status="open",
            scale="huge",
            registered_on=date.today() + timedelta(days=2),
        )
    errors = info.value.errors
    assert set(errors) == {"uscc", "name", "region_code", "kind", "credit_class", "status", "scale", "registered_on"}
    assert "18" in errors["uscc"][0]
    assert db.session.query(Entity).count() == 0


@pytest.mark.parametrize("region", ["１４０５０２", "14050a", "1405021", ""])
def test_region_code_must_be_six_ascii_digits(ctx: Flask, region: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        add_entity(1, region_code=region)
    assert "region_code" in info.value.errors


def test_empty_credit_class_means_unclassified(ctx: Flask) -> None:
    entity = add_entity(1, credit_class="C")
    db.session.commit()
    service.update_entity(entity.id, actor=None, credit_class="")
    db.session.commit()
    assert db.session.get(Entity, entity.id).credit_class is None  # type: ignore[union-attr]


def test_duplicate_uscc_is_refused_with_a_clear_message(ctx: Flask) -> None:
    add_entity(1)
    db.session.commit()
    with pytest.raises(ValidationFailed) as info:
        add_entity(1, name="另一家")
    assert "already exists" in info.value.errors["uscc"][0]


def test_update_entity_checks_uniqueness_against_others_only(ctx: Flask) -> None:
    first = add_entity(1)
    second = add_entity(2)
    db.session.commit()
    # Saving its own USCC again is fine.
    service.update_entity(first.id, actor=None, uscc=uscc(1), name="改名后的公司")
    db.session.commit()
    assert db.session.get(Entity, first.id).name == "改名后的公司"  # type: ignore[union-attr]
    with pytest.raises(ValidationFailed) as info:
        service.update_entity(second.id, actor=None, uscc=uscc(1))
    assert "uscc" in info.value.errors


def test_update_entity_refuses_unknown_fields(ctx: Flask) -> None:
    entity = add_entity(1)
    db.session.commit()
    with pytest.raises(ValidationFailed) as info:
        service.update_entity(entity.id, actor=None, id=99, secret="x")
    assert set(info.value.errors) == {"id", "secret"}


def test_deactivate_entity_sets_an_inactive_status(ctx: Flask) -> None:
    entity = add_entity(1)
    db.session.commit()
    service.deactivate_entity(entity.id, actor=None)
    db.session.commit()
    assert db.session.get(Entity, entity.id).status == "deregistered"  # type: ignore[union-attr]
    service.deactivate_entity(entity.id, "revoked", actor=None)
    assert entity.status == "revoked"
    with pytest.raises(ValidationFailed):
        service.deactivate_entity(entity.id, "active", actor=None)


def test_get_missing_entity_is_not_found(ctx: Flask) -> None:
    with pytest.raises(NotFound):
        service.get_entity(12345)
    with pytest.raises(NotFound):
        service.get_entity_by_uscc(uscc(9))


def _seed_entities(count: int) -> None:
    now = utcnow()
    rows = []
    for n in range(count):
        rows.append(
            {
                "uscc": uscc(n, "140502" if n % 2 else "140581"),
                "name": f"{'食品' if n % 3 == 0 else '建材'}公司{n}",
                "kind": "individual" if n % 5 == 0 else "enterprise",
                "industry": "食品销售" if n % 3 == 0 else "建材",
                "scale": "small",
                "region_code": "140502" if n % 2 else "140581",
                "station": "城区所" if n % 2 else "高平所",
                "address": "",
                "legal_representative": "",
                "credit_class": "ABCD"[n % 4] if n % 7 else None,
                "status": "active" if n % 10 else "closed",
                "created_at": now,
                "updated_at": now,
            }
        )
    db.session.execute(insert(Entity), rows)
    db.session.commit()


def test_search_entities_filters_and_paginates(ctx: Flask) -> None:
    _seed_entities(120)
    everything = service.search_entities(per_page=50)
    assert (everything.total, everything.pages, len(everything.items)) == (120, 3, 50)
    last = service.search_entities(page=3, per_page=50)
    assert len(last.items) == 20 and not last.has_next and last.has_prev

    food = service.search_entities("食品", per_page=200)
    assert food.total == 40 and all("食品" in e.name for e in food.items)

    station = service.search_entities(station="城区所", status="active", per_page=200)
    assert station.total == len([n for n in range(120) if n % 2 and n % 10])

    unclassified = service.search_entities(credit_class="unclassified", per_page=200)
    assert unclassified.total == len([n for n in range(120) if n % 7 == 0])
    assert all(e.credit_class is None for e in unclassified.items)

    d_class = service.search_entities(credit_class="d", kind="enterprise", per_page=200)
    assert d_class.total > 0 and all(e.credit_class == "D" and e.kind == "enterprise" for e in d_class.items)


def test_search_by_uscc_exact_and_prefix(ctx: Flask) -> None:
    _seed_entities(30)
    exact = service.search_entities(uscc(7).lower())
    assert [e.uscc for e in exact.items] == [uscc(7)]
    prefix = service.search_entities(uscc(7)[:12])
    assert uscc(7) in [e.uscc for e in prefix.items]


def test_city_region_code_selects_its_districts(ctx: Flask) -> None:
    _seed_entities(20)
    add_entity(1000, region_code="140100")  # Taiyuan, not Jincheng
    db.session.commit()
    city = service.search_entities(region_code="140500", per_page=200)
    assert city.total == 20
    province = service.search_entities(region_code="140000", per_page=200)
    assert province.total == 21
    district = service.search_entities(region_code="140581", per_page=200)
    assert district.total == 10
    with pytest.raises(ValidationFailed):
        service.search_entities(region_code="14x")


def test_search_rejects_unknown_filter_values(ctx: Flask) -> None:
    with pytest.raises(ValidationFailed) as info:
        service.search_entities(kind="company", status="open", credit_class="E")
    assert set(info.value.errors) == {"kind", "status", "credit_class"}


def test_search_never_loads_all_rows(ctx: Flask) -> None:
    """One COUNT and one LIMITed SELECT, whatever the size of the directory."""
    _seed_entities(300)
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        page = service.search_entities("公司", status="active", page=2, per_page=25)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert len(page.items) == 25
    entity_statements = [s for s in statements if "entity" in s.lower()]
    assert len(entity_statements) == 2
    assert any("count(*)" in s.lower() for s in entity_statements)
    assert any("limit" in s.lower() for s in entity_statements)


# --------------------------------------------------------------------------- inspectors


def test_create_inspector_splits_and_cleans_qualifications(dept: Department) -> None:
    inspector = service.create_inspector(
        actor=None,
        name="张三",
        department_id=dept.id,
        certificate_no="14050019000001",
        region_code="140502",
        qualifications="食品；特种设备、价格; 食品",
    )
    db.session.commit()
    assert inspector.qualifications == ["食品", "特种设备", "价格"]


@pytest.mark.parametrize("bad", [["食品", ""], ["  "], [1], "not-a-list-but-an-int-below"])
def test_qualifications_must_be_non_empty_texts(dept: Department, bad: object) -> None:
    if bad == "not-a-list-but-an-int-below":
        bad = 42
    with pytest.raises(ValidationFailed) as info:
        service.create_inspector(
            actor=None,
            name="李四", department_id=dept.id, certificate_no="X1", region_code="140502", qualifications=bad  # type: ignore[arg-type]
        )
    assert list(info.value.errors) == ["qualifications"]


def test_inspector_department_must_exist_and_certificate_be_unique(dept: Department) -> None:
    with pytest.raises(ValidationFailed) as info:
        service.create_inspector(actor=None, name="王五", department_id=9999, certificate_no="C1", region_code="140502")
    assert "does not exist" in info.value.errors["department_id"][0]
    service.create_inspector(actor=None, name="王五", department_id=dept.id, certificate_no="C1", region_code="140502")
    db.session.commit()
    with pytest.raises(ValidationFailed) as info:
        service.create_inspector(actor=None, name="赵六", department_id=dept.id, certificate_no=" C1 ", region_code="140502")
    assert "certificate_no" in info.value.errors


def test_inactive_department_takes_no_new_inspectors(dept: Department) -> None:
    service.deactivate_department(dept.id, actor=None)
    db.session.commit()
    with pytest.raises(ValidationFailed) as info:
        service.create_inspector(actor=None, name="王五", department_id=dept.id, certificate_no="C1", region_code="140502")
    assert "inactive" in info.value.errors["department_id"][0]


def test_search_inspectors_by_qualification_and_text(dept: Department) -> None:
    service.create_inspector(actor=None, name="张三", department_id=dept.id, certificate_no="A-001", region_code="140502", qualifications=["食品", "价格"])
    service.create_inspector(actor=None, name="李四", department_id=dept.id, certificate_no="A-002", region_code="140581", qualifications=["食品安全"])
    service.create_inspector(actor=None, name="王五", department_id=dept.id, certificate_no="B-003", region_code="140502", active=False)
    db.session.commit()
    # Exact element match: "食品安全" does not count as "食品".
    assert [i.name for i in service.search_inspectors(qualification="食品").items] == ["张三"]
    assert service.search_inspectors("A-00").total == 2
    assert [i.name for i in service.search_inspectors(active=False).items] == ["王五"]
    assert service.search_inspectors(region_code="140500").total == 3


def test_deactivate_inspector(dept: Department) -> None:
    inspector = service.create_inspector(actor=None, name="张三", department_id=dept.id, certificate_no="A-001", region_code="140502")
    db.session.commit()
    service.deactivate_inspector(inspector.id, actor=None)
    db.session.commit()
    assert service.get_inspector(inspector.id).active is False


# --------------------------------------------------------------------------- check items


def test_check_item_rules(dept: Department) -> None:
    item = service.create_check_item(actor=None, code="JC-01", category="食品", name="食品经营许可检查", department_id=dept.id, kind="key")
    db.session.commit()
    assert item.kind == "key" and item.active
    with pytest.raises(ValidationFailed) as info:
        service.create_check_item(actor=None, code="JC-01", category="", name="", department_id=dept.id, kind="urgent")
    assert set(info.value.errors) == {"code", "category", "name", "kind"}
    service.update_check_item(item.id, actor=None, method="实地核查")
    service.deactivate_check_item(item.id, actor=None)
    db.session.commit()
    stored = service.get_check_item(item.id)
    assert (stored.method, stored.active) == ("实地核查", False)
    assert service.search_check_items(kind="key").total == 1
    assert service.search_check_items(active=True).total == 0


# --------------------------------------------------------------------------- departments


def test_department_rules(dept: Department) -> None:
    with pytest.raises(ValidationFailed) as info:
        service.create_department(actor=None, code="JC-SAMR", name="重复", region_code="1405")
    assert set(info.value.errors) == {"code", "region_code"}
    child = service.create_department(actor=None, code="JC-CQ", name="城区分局", region_code="140502", level="county", parent_id=dept.id)
    db.session.commit()
    # A department may not become its own ancestor.
    with pytest.raises(ValidationFailed) as info:
        service.update_department(dept.id, actor=None, parent_id=child.id)
    assert "parent_id" in info.value.errors
    with pytest.raises(ValidationFailed):
        service.update_department(dept.id, actor=None, parent_id=dept.id)
    with pytest.raises(ValidationFailed):
        service.update_department(dept.id, actor=None, level="galaxy")
    assert [d.code for d in service.search_departments("城区").items] == ["JC-CQ"]
    service.deactivate_department(child.id, actor=None)
    db.session.commit()
    assert [d.code for d in service.list_departments()] == ["JC-SAMR"]
    assert service.get_department_by_code("JC-CQ").active is False
