"""CSV and XLSX import: all rows or none, clear reasons per bad row."""
from __future__ import annotations

import io
import random
from collections.abc import Iterator
from datetime import date, datetime

import pytest
from flask import Flask
from openpyxl import Workbook
from sqlalchemy import func, select

from app.directory import service
from app.directory.importer import ImportKind, import_records
from app.directory.models import CheckItem, Entity, Inspector
from app.directory.uscc import make_uscc
from app.errors import ValidationFailed
from app.extensions import db

ENTITY_HEADER = "uscc,name,kind,industry,scale,region_code,station,address,legal_representative,credit_class,status,registered_on"


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    """A request context in English: messages are checked in their source wording here
    (the Chinese catalogue is checked by tests/test_i18n.py)."""
    with app.test_request_context("/?lang=en"):
        yield app
        db.session.remove()


def uscc(n: int) -> str:
    return make_uscc(random.Random(n), "140502")


def bad_check(code: str) -> str:
    """The same code with a wrong check character."""
    return code[:17] + ("0" if code[17] != "0" else "1")


def entity_line(n: int, **kw: str) -> str:
    values = {
        "uscc": uscc(n),
        "name": f"晋城测试{n}有限公司",
        "kind": "enterprise",
        "industry": "食品销售",
        "scale": "small",
        "region_code": "140502",
        "station": "城区所",
        "address": f"城区凤台街{n}号",
        "legal_representative": "张三",
        "credit_class": "B",
        "status": "active",
        "registered_on": "2018-05-01",
    }
    values.update(kw)
    return ",".join(values[k] for k in ENTITY_HEADER.split(","))


def entity_csv(lines: list[str], header: str = ENTITY_HEADER) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode("utf-8")


def xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


# --------------------------------------------------------------------------- entities


def test_csv_with_bom_imports_every_row(ctx: Flask) -> None:
    data = b"\xef\xbb\xbf" + entity_csv([entity_line(n) for n in range(5)])
    result = import_records(ImportKind.ENTITIES, data, "entities.csv")
    assert result.ok, result.errors
    assert (result.created, result.updated) == (5, 0)
    stored = service.get_entity_by_uscc(uscc(3))
    assert (stored.name, stored.credit_class, stored.registered_on) == ("晋城测试3有限公司", "B", date(2018, 5, 1))


def test_reimport_updates_and_missing_columns_are_kept(ctx: Flask) -> None:
    import_records(ImportKind.ENTITIES, entity_csv([entity_line(n) for n in range(3)]), "e.csv")
    # A credit-class list: only the key and the class; names and addresses must survive.
    data = f"uscc,credit_class\n{uscc(0)},D\n{uscc(1)},\n{uscc(9)},A\n".encode()
    result = import_records(ImportKind.ENTITIES, data, "credit.csv")
    # uscc(9) is new and has no name or region: the whole file is refused.
    assert not result.ok
    assert [e.row for e in result.errors] == [4]
    assert any("name" in r for r in result.errors[0].reasons)
    assert service.get_entity_by_uscc(uscc(0)).credit_class == "B"

    data = f"uscc,credit_class,status\n{uscc(0)},D,\n{uscc(1)},,注销\n".encode()
    result = import_records(ImportKind.ENTITIES, data, "credit.csv")
    assert result.ok and (result.created, result.updated) == (0, 2)
    first, second = service.get_entity_by_uscc(uscc(0)), service.get_entity_by_uscc(uscc(1))
    db.session.refresh(first)
    db.session.refresh(second)
    assert (first.credit_class, first.name, first.status) == ("D", "晋城测试0有限公司", "active")
    assert (second.credit_class, second.status, second.address) == (None, "deregistered", "城区凤台街1号")


def test_one_bad_uscc_imports_nothing(ctx: Flask) -> None:
    lines = [entity_line(0), entity_line(1, uscc=bad_check(uscc(1))), entity_line(2)]
    result = import_records(ImportKind.ENTITIES, entity_csv(lines), "entities.csv")
    assert not result.ok
    assert result.created == result.updated == 0
    assert len(result.errors) == 1
    assert result.errors[0].row == 3
    assert any(r.startswith("uscc:") and "check character" in r for r in result.errors[0].reasons)
    assert count(Entity) == 0


def test_every_bad_row_is_listed_with_all_its_reasons(ctx: Flask) -> None:
    lines = [
        entity_line(0, region_code="1405", credit_class="E"),
        entity_line(1),
        entity_line(2, kind="公司X", registered_on="31/12/2020"),
    ]
    result = import_records(ImportKind.ENTITIES, entity_csv(lines), "entities.csv")
    assert [e.row for e in result.errors] == [2, 4]
    assert {r.split(":")[0] for r in result.errors[0].reasons} == {"region_code", "credit_class"}
    assert {r.split(":")[0] for r in result.errors[1].reasons} == {"kind", "registered_on"}
    assert count(Entity) == 0


def test_duplicate_within_the_file(ctx: Flask) -> None:
    lines = [entity_line(0), entity_line(1), entity_line(0, name="重复的一行")]
    result = import_records(ImportKind.ENTITIES, entity_csv(lines), "entities.csv")
    assert not result.ok
    assert [e.row for e in result.errors] == [4]
    assert "also in row 2" in result.errors[0].reasons[0]
    assert count(Entity) == 0


def test_duplicate_written_in_lower_case_is_still_a_duplicate(ctx: Flask) -> None:
    lines = [entity_line(0), entity_line(0, uscc=uscc(0).lower())]
    result = import_records(ImportKind.ENTITIES, entity_csv(lines), "entities.csv")
    assert [e.row for e in result.errors] == [3]


def test_chinese_header_and_values_in_gb18030(ctx: Flask) -> None:
    header = "统一社会信用代码,名称,类型,行业,规模,行政区划,管辖所,地址,法定代表人,信用风险分类,状态,成立日期"
    line = f"{uscc(5)},高平市某农民专业合作社,农民专业合作社,种植,微型,140581,高平所,高平市米山镇,李四,C类,存续,2020/1/5"
    data = f"{header}\r\n{line}\r\n".encode("gb18030")
    result = import_records(ImportKind.ENTITIES, data, "名录.csv")
    assert result.ok, result.errors
    stored = service.get_entity_by_uscc(uscc(5))
    assert (stored.kind, stored.scale, stored.credit_class, stored.status) == ("cooperative", "micro", "C", "active")
    assert stored.registered_on == date(2020, 1, 5)


def test_xlsx_happy_path_with_typed_cells(ctx: Flask) -> None:
    rows: list[list[object]] = [["*统一社会信用代码", "名称", "行政区划", "成立日期(YYYY-MM-DD)", "信用风险分类"]]
    rows.append([uscc(1), "晋城甲公司", 140502, datetime(2015, 6, 1), "a"])
    rows.append([uscc(2).lower(), "晋城乙公司", "140581", "2016-07-02", None])
    rows.append([None, None, None, None, None])  # trailing blank row
    result = import_records(ImportKind.ENTITIES, xlsx(rows), "entities.XLSX")
    assert result.ok, result.errors
    assert result.created == 2
    first = service.get_entity_by_uscc(uscc(1))
    assert (first.region_code, first.registered_on, first.credit_class) == ("140502", date(2015, 6, 1), "A")
    assert service.get_entity_by_uscc(uscc(2)).credit_class is None


def test_xlsx_bad_row_reported_with_spreadsheet_row_number(ctx: Flask) -> None:
    rows: list[list[object]] = [["uscc", "name", "region_code"]]
    rows += [[uscc(n), f"公司{n}", "140502"] for n in range(4)]
    rows[3][0] = bad_check(uscc(2))
    result = import_records(ImportKind.ENTITIES, xlsx(rows), "entities.xlsx")
    assert [e.row for e in result.errors] == [4]
    assert count(Entity) == 0


def test_text_file_renamed_xlsx_is_refused(ctx: Flask) -> None:
    with pytest.raises(ValidationFailed) as info:
        import_records(ImportKind.ENTITIES, entity_csv([entity_line(0)]), "entities.xlsx")
    assert "not an XLSX" in info.value.errors["file"][0]


def test_broken_zip_named_xlsx_is_refused(ctx: Flask) -> None:
    with pytest.raises(ValidationFailed) as info:
        import_records(ImportKind.ENTITIES, b"PK\x03\x04" + b"\x00" * 200, "entities.xlsx")
    assert "cannot be read" in info.value.errors["file"][0]


def test_xlsx_renamed_csv_and_other_extensions_are_refused(ctx: Flask) -> None:
    workbook = xlsx([["uscc", "name", "region_code"], [uscc(1), "甲", "140502"]])
    with pytest.raises(ValidationFailed) as info:
        import_records(ImportKind.ENTITIES, workbook, "entities.csv")
    assert "rename it to .xlsx" in info.value.errors["file"][0]
    with pytest.raises(ValidationFailed):
        import_records(ImportKind.ENTITIES, entity_csv([entity_line(0)]), "entities.txt")
    with pytest.raises(ValidationFailed):
        import_records(ImportKind.ENTITIES, b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "entities.csv")


def test_size_and_row_limits(ctx: Flask) -> None:
    data = entity_csv([entity_line(n) for n in range(4)])
    with pytest.raises(ValidationFailed) as info:
        import_records(ImportKind.ENTITIES, data, "e.csv", max_rows=3)
    assert "more than 3 rows" in info.value.errors["file"][0]
    limit = ctx.config["MAX_CONTENT_LENGTH"]
    with pytest.raises(ValidationFailed) as info:
        import_records(ImportKind.ENTITIES, b"x" * (limit + 1), "e.csv")
    assert "larger than" in info.value.errors["file"][0]
    assert count(Entity) == 0


def test_header_problems_are_refused(ctx: Flask) -> None:
    with pytest.raises(ValidationFailed) as info:
        import_records(ImportKind.ENTITIES, f"uscc,name,region_code,credit_clas\n{uscc(1)},甲,140502,A\n".encode(), "e.csv")
    assert "credit_clas" in info.value.errors["file"][0]
    with pytest.raises(ValidationFailed) as info:
        import_records(ImportKind.ENTITIES, "name,region_code\n甲,140502\n".encode(), "e.csv")
    assert "uscc" in info.value.errors["file"][0]
    with pytest.raises(ValidationFailed):
        import_records(ImportKind.ENTITIES, f"uscc,名称,name\n{uscc(1)},甲,乙\n".encode(), "e.csv")
    with pytest.raises(ValidationFailed):
        import_records(ImportKind.ENTITIES, b"", "e.csv")
    with pytest.raises(ValidationFailed):
        import_records(ImportKind.ENTITIES, f"{ENTITY_HEADER}\n".encode(), "e.csv")


def test_many_rows_bulk_insert(ctx: Flask) -> None:
    data = entity_csv([entity_line(n) for n in range(3000)])
    result = import_records(ImportKind.ENTITIES, data, "big.csv")
    assert result.ok and result.created == 3000
    assert count(Entity) == 3000
    again = import_records(ImportKind.ENTITIES, data, "big.csv")
    assert (again.created, again.updated) == (0, 3000)


# --------------------------------------------------------------------------- inspectors and check items


def test_inspectors_import_resolves_department_codes(ctx: Flask) -> None:
    service.create_department(actor=None, code="JC-SAMR", name="晋城市市场监督管理局", region_code="140500")
    db.session.commit()
    data = (
        "姓名,部门编码,管辖所,执法证号,资格,行政区划,在岗\n"
        "张三,JC-SAMR,城区所,14050019000001,食品;特种设备、价格,140502,是\n"
        "李四,JC-SAMR,高平所,14050019000002,,140581,否\n"
    ).encode()
    result = import_records(ImportKind.INSPECTORS, data, "inspectors.csv")
    assert result.ok, result.errors
    zhang = db.session.scalar(select(Inspector).where(Inspector.certificate_no == "14050019000001"))
    assert zhang is not None and zhang.qualifications == ["食品", "特种设备", "价格"] and zhang.active
    li = db.session.scalar(select(Inspector).where(Inspector.certificate_no == "14050019000002"))
    assert li is not None and li.active is False and li.qualifications == []


def test_inspectors_import_unknown_department_imports_nothing(ctx: Flask) -> None:
    service.create_department(actor=None, code="JC-SAMR", name="晋城市市场监督管理局", region_code="140500")
    db.session.commit()
    data = (
        "name,department_code,certificate_no,region_code\n"
        "张三,JC-SAMR,C-1,140502\n"
        "李四,NOPE,C-2,140502\n"
        "王五,,C-3,140502\n"
    ).encode()
    result = import_records(ImportKind.INSPECTORS, data, "inspectors.csv")
    assert [e.row for e in result.errors] == [3, 4]
    assert "NOPE" in result.errors[0].reasons[0]
    assert "department_code" in result.errors[1].reasons[0]
    assert count(Inspector) == 0


def test_check_items_import_with_chinese_header(ctx: Flask) -> None:
    service.create_department(actor=None, code="JC-SAMR", name="晋城市市场监督管理局", region_code="140500")
    db.session.commit()
    rows: list[list[object]] = [
        ["事项编码", "抽查类别", "抽查事项", "检查对象", "事项类型", "检查方式", "部门编码", "检查依据"],
        ["SC-001", "食品安全", "食品经营者经营条件检查", "食品经营者", "重点", "实地核查", "JC-SAMR", "《食品安全法》第一百一十条"],
        ["SC-002", "企业公示", "年度报告公示信息检查", "企业", "一般", "书面检查", "JC-SAMR", "《企业信息公示暂行条例》"],
    ]
    result = import_records(ImportKind.CHECK_ITEMS, xlsx(rows), "items.xlsx")
    assert result.ok, result.errors
    items = {i.code: i for i in db.session.scalars(select(CheckItem))}
    assert items["SC-001"].kind == "key" and items["SC-002"].kind == "general"
    assert items["SC-001"].legal_basis.startswith("《食品安全法》")


# --------------------------------------------------------------------------- the import page


def test_import_page_lists_the_bad_row_and_imports_nothing(app: Flask, make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    make_user("coord", "coordinator")
    client = login_as("coord")
    lines = [entity_line(0), entity_line(1), entity_line(2, uscc=bad_check(uscc(2)))]
    response = client.post(
        "/directory/entities/import",
        data={"file": (io.BytesIO(entity_csv(lines)), "entities.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'data-testid="bad-rows"' in page
    assert "<td>4</td>" in page
    assert "校验码应为" in page  # "check character should be", on a page in the default language
    with app.app_context():
        assert count(Entity) == 0


def test_import_page_reports_success(app: Flask, make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    make_user("coord", "coordinator")
    client = login_as("coord")
    response = client.post(
        "/directory/entities/import",
        data={"file": (io.BytesIO(entity_csv([entity_line(n) for n in range(3)])), "entities.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert 'data-testid="import-ok"' in response.get_data(as_text=True)
    with app.app_context():
        assert count(Entity) == 3


def test_import_page_refuses_a_renamed_file(app: Flask, make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    make_user("coord", "coordinator")
    client = login_as("coord")
    response = client.post(
        "/directory/entities/import",
        data={"file": (io.BytesIO(b"just some text"), "entities.xlsx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "该文件不是 XLSX 电子表格" in response.get_data(as_text=True)  # "this is not an XLSX spreadsheet"


def test_import_page_is_for_editors_only(app: Flask, make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    make_user("insp", "inspector")
    client = login_as("insp")
    for kind in ("entities", "inspectors", "check-items"):
        assert client.get(f"/directory/{kind}/import").status_code == 403
        response = client.post(
            f"/directory/{kind}/import",
            data={"file": (io.BytesIO(entity_csv([entity_line(0)])), "x.csv")},
            content_type="multipart/form-data",
        )
        assert response.status_code == 403
    with app.app_context():
        assert count(Entity) == 0
