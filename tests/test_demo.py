"""The demo data: the seed transcriptions, the generators and the loader."""
from __future__ import annotations

import time
from collections import Counter
from datetime import date
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.auth.models import User
from app.auth.roles import Role
from app.demo.generate import (
    INDUSTRY_LABELS,
    QUALIFICATIONS,
    generate_entities,
    generate_inspectors,
    matches_filters,
)
from app.demo.load import (
    DEMO_PASSWORD,
    check_item_rows,
    department_rows,
    load_directories,
    load_plan_data,
    load_users,
    plan_specs,
    read_json,
)
from app.directory.models import CheckItem, Department, Entity, Inspector
from app.directory.uscc import is_valid_uscc
from app.extensions import db

PLAN_SERVICE_FILTER_KEYS = {"kind", "industry", "region_code", "scale", "station"}  # app/plans/service.py
SAMR_SEQS = [4, 5, 6, 7, 8, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24]


@pytest.fixture(scope="module")
def entities() -> list[dict]:
    return list(generate_entities(5000))


# --------------------------------------------------------------------------- data files


def test_departments_are_well_formed() -> None:
    rows = department_rows()
    codes = [r["code"] for r in rows]
    assert len(codes) == len(set(codes))
    seen: set[str] = set()
    for row in rows:
        assert row["parent"] is None or row["parent"] in seen, row  # parents first
        assert row["level"] in {"province", "city", "county"}
        assert len(row["region_code"]) == 6
        seen.add(row["code"])
    names = {r["name"] for r in rows}
    for name in ("晋城市商务局", "市场秩序和应急管理科", "晋城市市场监督管理局", "质量监管科", "食品生产科", "计量科",
                 "认证科", "标准管理科", "双反科", "信用科", "食品流通科", "餐饮监管科", "驻局纪检监察组",
                 "邯郸市商务局", "商务综合执法支队", "商贸服务处", "市场体系处", "邯郸市市场监督管理局",
                 "长春市商务局", "政策法规处"):
        assert name in names
    counties = {r["region_code"] for r in rows if r["level"] == "county"}
    assert counties == {"140502", "140521", "140522", "140524", "140525", "140581"}


def test_jincheng_commerce_list_is_complete() -> None:
    items = read_json("check_items_jincheng_commerce.json")["items"]
    per_category = Counter(i["category_no"] for i in items)
    assert per_category == {1: 6, 2: 3, 3: 2, 4: 2, 5: 7, 6: 4, 7: 4, 8: 1, 9: 5}
    assert len(items) == 34
    assert len({i["category"] for i in items}) == 9
    for item in items:
        assert item["department"] == "JC-COM"
        assert item["kind"] == "general" and item["method"] == "实地检查"
        assert item["name"] and item["object_type"] and item["legal_basis"]
        assert " and " not in item["name"]
        assert item["code"] == f"JCSW-{item['category_no']:02d}-{item['code'][-2:]}"


def test_check_item_codes_unique_and_departments_exist() -> None:
    departments = {r["code"] for r in department_rows()}
    items = check_item_rows()
    assert len(items) == 34 + 55 + 6
    assert len({i["code"] for i in items}) == len(items)
    for item in items:
        assert item["department"] in departments
        assert item["kind"] in {"general", "key"}
        assert not item["industry"] or item["industry"] in INDUSTRY_LABELS


def test_samr_plan_rows() -> None:
    plan = read_json("plan_jincheng_samr_2023.json")
    assert plan["doc_no"] == "晋市市监〔2023〕21号"
    assert [t["seq"] for t in plan["tasks"]] == SAMR_SEQS
    by_seq = {t["seq"]: t for t in plan["tasks"]}
    assert by_seq[23]["quota_kind"] == "count" and by_seq[23]["count"] == 20 and by_seq[23]["ratio"] is None
    assert {s: by_seq[s]["ratio"] for s in (4, 6, 14, 16, 17, 20, 24)} == {
        4: "0.20", 6: "0.05", 14: "0.04", 16: "0.30", 17: "0.50", 20: "0.03", 24: "0.10"}
    assert by_seq[7]["credit_ratios"] == {"A": "0.02", "B": "0.05", "C": "0.10", "D": "0.30", "U": "0.05"}
    assert by_seq[6]["credit_ratios"] is None  # food-production risk grading, not credit classes
    assert "3%" in by_seq[21]["credit_rule"]
    assert (by_seq[5]["window_start"], by_seq[5]["window_end"]) == ("2023-06-01", "2023-11-30")  # merged with 4
    assert by_seq[8]["lead_department"] == "JC-SAMR-METRO"
    assert by_seq[6]["mode"] == "city_county" and by_seq[7]["mode"] == "county_county"
    assert by_seq[4]["mode"] == "city_city" and "【县抽县查】" in by_seq[4]["method"]
    assert by_seq[19]["check_items"] == by_seq[22]["check_items"]
    assert by_seq[19]["entity_filters_full"]["credit_class"] == "D"
    assert by_seq[23]["entity_filters_full"]["scale"] == ["medium", "small"]


def test_handan_plan() -> None:
    plan = read_json("plan_handan_2023.json")
    tasks = plan["tasks"]
    assert [t["code"] for t in tasks] == ["001号", "002号", "003号"]
    assert [(t["window_start"], t["window_end"]) for t in tasks] == [
        ("2023-03-01", "2023-04-30"), ("2023-05-01", "2023-06-30"), ("2023-07-01", "2023-09-30")]
    assert [t["lead_department"] for t in tasks] == ["HD-COM-ENF", "HD-COM-TRADE", "HD-COM-MKT"]
    assert tasks[2]["joint_departments"] == ["HD-SAMR"]
    assert all(t["ratio"] == "0.02" and t["targeted"] for t in tasks)
    assert all(t["entity_filters_full"]["registered_until"] == "2023-01-31" for t in tasks)


def test_plan_references_resolve(entities: list[dict]) -> None:
    departments = {r["code"] for r in department_rows()}
    item_codes = {i["code"] for i in check_item_rows()}
    active = [e for e in entities if e["status"] == "active"]
    for plan in load_plan_data():
        assert plan["department"] in departments
        for task in plan["tasks"]:
            assert task["lead_department"] in departments
            assert set(task["joint_departments"]) <= departments
            assert task["check_items"] and set(task["check_items"]) <= item_codes
            filters, full = task["entity_filters"], task["entity_filters_full"]
            assert set(filters) <= PLAN_SERVICE_FILTER_KEYS and all(isinstance(v, str) for v in filters.values())
            assert filters.items() <= full.items()
            assert "industry" not in filters or filters["industry"] in INDUSTRY_LABELS
            assert filters["region_code"] == {"JC-SAMR": "140500", "HD-COM": "130400"}[plan["department"]]
            pool = [e for e in active if matches_filters(e, filters)]
            assert pool, task["code"]
            if "risk_flags" not in full:  # no Entity column yet
                assert any(matches_filters(e, full) for e in pool), task["code"]
            assert all(e["region_code"].startswith(filters["region_code"][:4]) for e in pool)


def test_plan_specs_normalised() -> None:
    specs = plan_specs()
    assert [s["code"] for s in specs] == ["JC-SAMR-2023", "HD-COM-2023"]
    for spec in specs:
        assert spec["year"] == 2023 and spec["title"] and spec["department_code"]
        for task in spec["tasks"]:
            assert isinstance(task["window_start"], date) and task["window_start"] <= task["window_end"]
            assert task["window_start"].year == task["window_end"].year == 2023
            assert task["mode"] in {"city_city", "city_county", "county_county"}
            assert task["team_size"] == 2 and task["required_qualifications"] == [] and not task["cross_station"]
            assert task["lead_department_code"] not in task["joint_department_codes"]
            if task["quota_kind"] == "ratio":
                assert Decimal("0") < Decimal(task["ratio"]) <= 1 and task["count"] is None
            else:
                assert task["count"] > 0 and task["ratio"] is None
            if task["credit_ratios"]:
                assert set(task["credit_ratios"]) == {"A", "B", "C", "D", "U"}
                r = {k: Decimal(v) for k, v in task["credit_ratios"].items()}
                assert r["A"] <= r["B"] <= r["C"] <= r["D"] <= 1
                assert r["B"] == Decimal(task["ratio"])


# --------------------------------------------------------------------------- generators


def test_generated_entities(entities: list[dict]) -> None:
    codes = [e["uscc"] for e in entities]
    assert len(set(codes)) == 5000
    assert all(is_valid_uscc(c) for c in codes)
    for e in entities:
        assert e["uscc"][2:8] == e["region_code"]
        prefix = {"enterprise": "91", "individual": "92", "cooperative": "93"}.get(e["kind"], ("12", "51"))
        assert e["uscc"].startswith(prefix)
    assert set(INDUSTRY_LABELS) == {e["industry"] for e in entities}
    kinds = Counter(e["kind"] for e in entities)
    assert kinds["enterprise"] > kinds["individual"] > kinds["cooperative"] > 0
    credit = Counter(e["credit_class"] for e in entities)
    assert 0.45 < credit["B"] / 5000 < 0.65 and 0.02 < credit["D"] / 5000 < 0.08
    assert Counter(e["status"] for e in entities)["active"] / 5000 > 0.9
    assert list(generate_entities(50)) == entities[:50]  # deterministic


def test_generated_inspectors() -> None:
    rows = generate_inspectors()
    assert len(rows) == 60
    assert len({r["certificate_no"] for r in rows}) == 60
    assert all(len(r["certificate_no"]) == 14 and r["certificate_no"].isdigit() for r in rows)
    assert sum(not r["active"] for r in rows) == 2
    assert all(set(r["qualifications"]) <= set(QUALIFICATIONS) and r["qualifications"] for r in rows)
    stations = {e["station"] for e in generate_entities(2000) if e["region_code"].startswith("1405")}
    assert {r["station"] for r in rows if r["station"]} == stations  # every Jincheng station is staffed
    departments = Counter(r["department_code"] for r in rows)
    assert departments["HD-COM-ENF"] and departments["JC-COM"]


# --------------------------------------------------------------------------- loading


def test_load_directories_and_users(app_ctx: Flask) -> None:
    started = time.perf_counter()
    counts = load_directories(db.session)
    logins = load_users(db.session)
    db.session.commit()
    elapsed = time.perf_counter() - started
    assert elapsed < 10, elapsed

    assert counts == {"departments": len(department_rows()), "check_items": 95, "entities": 5000, "inspectors": 60}
    assert db.session.scalar(select(func.count()).select_from(Entity)) == 5000
    assert db.session.scalar(select(func.count()).select_from(Inspector)) == 60
    assert db.session.scalar(select(func.count()).select_from(CheckItem)) == 95
    county = db.session.scalar(select(Department).where(Department.code == "JC-SAMR-YC"))
    assert county.parent.code == "JC-SAMR" and county.level == "county"

    users = db.session.scalars(select(User)).all()
    held = Counter(role for user in users for role in user.role_names)
    assert set(held) == {str(r) for r in Role}
    assert held[Role.DRAFTER] == 2 and held[Role.INSPECTOR] == 2
    assert all(password == DEMO_PASSWORD for _, password, _ in logins)
    inspector = db.session.scalar(select(User).where(User.username == "inspector"))
    assert inspector.inspector is not None and inspector.display_name == inspector.inspector.name
    assert all(u.department_id for u in users)


def test_cli_load(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "load", "--entities", "300"])
    assert result.exit_code == 0, result.output
    assert "suiji-demo-2026" in result.output and "legal_reviewer" in result.output
    again = runner.invoke(args=["demo", "load", "--if-empty"])
    assert again.exit_code == 0 and "not loaded" in again.output
    more = runner.invoke(args=["demo", "entities", "250"])
    assert more.exit_code == 0, more.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Entity)) == 550
