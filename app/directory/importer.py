"""Import entities, inspectors and check items from CSV or XLSX files.

All or nothing: every row is checked first (shape, duplicates inside the file,
references to departments); if any row is bad nothing is written and the result
lists each bad row with its reasons. Otherwise new rows are bulk-inserted and rows
whose key (USCC, certificate number, item code) already exists are updated, in one
transaction.

Row numbers are those a spreadsheet program shows: the header is row 1.

A column missing from the file leaves that field of existing records untouched, so a
file with only ``uscc`` and ``credit_class`` updates credit classes and nothing else.
An empty cell clears a text field, except for the fields in ``KEEP_IF_EMPTY`` (kind,
status, active), where clearing makes no sense: there it keeps the stored value, or
takes the default for a new record.
"""
from __future__ import annotations

import csv
import io
import logging
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from pathlib import PurePath
from typing import IO, Any

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.db import utcnow
from app.directory import service
from app.directory.models import CheckItem, Department, Entity, Inspector
from app.directory.uscc import normalize_uscc
from app.errors import Conflict, ValidationFailed
from app.extensions import db
from app.i18n import lazy_format
from app.i18n import lazy_text as _l


class ImportKind(StrEnum):
    ENTITIES = "entities"
    INSPECTORS = "inspectors"
    CHECK_ITEMS = "check-items"


@dataclass
class RowError:
    """A bad row: its number as the spreadsheet shows it, and why it is bad."""

    row: int
    reasons: list[str]


@dataclass
class ImportResult:
    """What an import did: on success the counts, otherwise every bad row (and nothing written)."""

    ok: bool
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)


# Header names accepted for each field: the English field name first, then the Chinese
# names found in bureau spreadsheets.
ENTITY_HEADERS: dict[str, tuple[str, ...]] = {
    "uscc": ("uscc", "统一社会信用代码", "社会信用代码", "信用代码"),
    "name": ("name", "名称", "企业名称", "主体名称", "单位名称"),
    "kind": ("kind", "类型", "主体类型", "市场主体类型"),
    "industry": ("industry", "行业", "所属行业", "行业类别"),
    "scale": ("scale", "规模", "企业规模"),
    "region_code": ("region_code", "行政区划", "行政区划代码", "区划代码"),
    "station": ("station", "管辖所", "管辖单位", "所属所"),
    "address": ("address", "地址", "住所", "经营场所"),
    "legal_representative": ("legal_representative", "法定代表人", "负责人", "经营者"),
    "credit_class": ("credit_class", "信用风险分类", "信用风险等级", "信用分类"),
    "status": ("status", "状态", "登记状态", "经营状态"),
    "registered_on": ("registered_on", "成立日期", "注册日期", "登记日期"),
}
INSPECTOR_HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("name", "姓名"),
    "department_code": ("department_code", "部门编码", "单位编码"),
    "station": ("station", "管辖所", "所属所", "工作单位"),
    "certificate_no": ("certificate_no", "执法证号", "执法证件号", "执法证编号"),
    "qualifications": ("qualifications", "资格", "执法资格", "专业领域", "执法领域"),
    "region_code": ("region_code", "行政区划", "行政区划代码", "区划代码"),
    "active": ("active", "在岗", "是否在岗", "有效"),
}
CHECK_ITEM_HEADERS: dict[str, tuple[str, ...]] = {
    "code": ("code", "事项编码", "编码", "编号"),
    "category": ("category", "抽查类别", "类别"),
    "name": ("name", "抽查事项", "事项名称", "检查事项"),
    "object_type": ("object_type", "检查对象"),
    "kind": ("kind", "事项类型", "事项类别", "类型"),
    "method": ("method", "检查方式"),
    "department_code": ("department_code", "部门编码", "检查主体编码", "检查主体"),
    "legal_basis": ("legal_basis", "检查依据", "法律依据"),
}
# Columns of a spreadsheet that carry no data (a running number) and may be present.
IGNORED_HEADERS = {"序号", "no", "no.", "#"}

# Chinese spellings of enumeration values, as bureau spreadsheets write them.
VALUE_ALIASES: dict[str, dict[str, str]] = {
    "kind": {
        "企业": "enterprise",
        "公司": "enterprise",
        "个体工商户": "individual",
        "个体": "individual",
        "农民专业合作社": "cooperative",
        "合作社": "cooperative",
        "其他": "other",
        "一般": "general",
        "一般检查事项": "general",
        "一般事项": "general",
        "重点": "key",
        "重点检查事项": "key",
        "重点事项": "key",
    },
    "status": {
        "存续": "active",
        "在营": "active",
        "开业": "active",
        "正常": "active",
        "停业": "closed",
        "清算": "closed",
        "歇业": "closed",
        "注销": "deregistered",
        "吊销": "revoked",
        "迁出": "moved_out",
    },
    "scale": {"大型": "large", "中型": "medium", "小型": "small", "微型": "micro"},
    "credit_class": {"未分类": "", "A类": "A", "B类": "B", "C类": "C", "D类": "D"},
}
KEEP_IF_EMPTY = {"kind", "status", "active"}

# After this many rows written, the planner statistics of the table are refreshed.
ANALYZE_AFTER_ROWS = 10_000

log = logging.getLogger(__name__)

XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls and other OLE2 files
_PAREN_RE = re.compile(r"[（(].*?[）)]")


@dataclass
class _Spec:
    """How one kind of record is imported."""

    model: type
    headers: dict[str, tuple[str, ...]]
    key: str  # the field that identifies an existing record
    cleaner: Callable[..., tuple[dict[str, Any], dict[str, list[str]]]]
    normalize_key: Callable[[str], str]
    uses_department: bool


SPECS: dict[ImportKind, _Spec] = {
    ImportKind.ENTITIES: _Spec(Entity, ENTITY_HEADERS, "uscc", service.clean_entity, normalize_uscc, False),
    ImportKind.INSPECTORS: _Spec(Inspector, INSPECTOR_HEADERS, "certificate_no", service.clean_inspector, str.strip, True),
    ImportKind.CHECK_ITEMS: _Spec(CheckItem, CHECK_ITEM_HEADERS, "code", service.clean_check_item, str.strip, True),
}


def expected_columns(kind: ImportKind | str) -> list[str]:
    """The English column names of an import, for help texts and templates."""
    return list(SPECS[ImportKind(kind)].headers)


# --------------------------------------------------------------------------- reading files


def _file_error(message: str) -> ValidationFailed:
    return ValidationFailed({"file": [message]})


def _cell_text(value: Any) -> str:
    """A spreadsheet cell as text: numbers without a spurious ``.0``, dates as ISO dates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _decode(data: bytes) -> str:
    # Excel on Chinese Windows saves "CSV" in GB18030 (GBK); everything else is UTF-8.
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise _file_error(_l("the file is neither UTF-8 nor GB18030 text; save it as CSV UTF-8")) from None


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    head = data[:8]
    if head.startswith(XLSX_MAGIC):
        raise _file_error(_l("this is a spreadsheet (XLSX) file named .csv; rename it to .xlsx"))
    if head.startswith(OLE_MAGIC):
        raise _file_error(_l("old Excel (.xls) files are not supported; save it as .xlsx or CSV"))
    if b"\x00" in data[:4096]:
        raise _file_error(_l("this is not a text CSV file (UTF-16 or binary); save it as CSV UTF-8"))
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            yield [cell.strip() for cell in row]
    except csv.Error as exc:
        raise _file_error(_l("the CSV file is malformed near line %(line)d: %(error)s", line=reader.line_num, error=str(exc))) from None


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    if not data.startswith(XLSX_MAGIC):
        raise _file_error(_l("this is not an XLSX spreadsheet (the content does not match the .xlsx extension)"))
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise _file_error(_l("this XLSX file cannot be read: %(error)s", error=type(exc).__name__)) from None
    except Exception as exc:  # openpyxl raises its own exception types for damaged files
        raise _file_error(_l("this XLSX file cannot be read: %(error)s", error=type(exc).__name__)) from None
    try:
        sheet = workbook.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield [_cell_text(value) for value in row]
    finally:
        workbook.close()


def read_upload(stream: IO[bytes]) -> bytes:
    """The bytes of an uploaded file, reading at most one byte past MAX_CONTENT_LENGTH.

    One byte more than the limit is enough for ``read_rows`` to refuse the file, and a
    stream that lies about its length cannot make us hold more than that in memory.
    """
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    return stream.read(limit + 1 if limit else -1)


def read_rows(data: bytes, filename: str) -> Iterator[list[str]]:
    """The rows of a CSV or XLSX file as lists of text, after checking type and size.

    Raises ValidationFailed({"file": [...]}) for a wrong extension, content that does not
    match it, an empty or oversized file, or text in an unknown encoding.
    """
    extension = PurePath(filename or "").suffix.lower()
    if extension not in (".csv", ".xlsx"):
        raise _file_error(_l("only .csv and .xlsx files can be imported"))
    if not data:
        raise _file_error(_l("the file is empty"))
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if limit and len(data) > limit:
        raise _file_error(_l("the file is larger than %(mb)d MB", mb=max(1, limit // (1024 * 1024))))
    return _csv_rows(data) if extension == ".csv" else _xlsx_rows(data)


def _header_key(cell: str) -> str:
    # "*名称", "成立日期(YYYY-MM-DD)", " Region code " all name a column the same way.
    text = _PAREN_RE.sub("", cell.replace("\ufeff", "")).strip().strip("*＊").strip().lower()
    return re.sub(r"\s+", "_", text)


def _map_header(header: list[str], headers: dict[str, tuple[str, ...]], key: str) -> dict[str, int]:
    lookup = {_header_key(alias): name for name, aliases in headers.items() for alias in aliases}
    columns: dict[str, int] = {}
    unknown: list[str] = []
    for index, cell in enumerate(header):
        norm = _header_key(cell)
        if not norm or norm in IGNORED_HEADERS:
            continue
        name = lookup.get(norm)
        if name is None:
            unknown.append(cell)
        elif name in columns:
            raise _file_error(_l("column %(name)s appears twice", name=cell))
        else:
            columns[name] = index
    # An unknown column is refused rather than skipped: a misspelt header would otherwise
    # silently drop a whole column of data.
    if unknown:
        raise _file_error(
            _l(
                "unknown columns: %(unknown)s; expected: %(expected)s",
                unknown=", ".join(unknown),
                expected=", ".join(headers),
            )
        )
    if key not in columns:
        raise _file_error(_l("the header row has no %(key)s column", key=key))
    return columns


# --------------------------------------------------------------------------- importing


def _alias(field_name: str, value: str) -> str:
    aliases = VALUE_ALIASES.get(field_name)
    if aliases and value in aliases:
        return aliases[value]
    return value


def _format_errors(errors: Mapping[str, list[Any]]) -> list[Any]:
    # Lazy, like the messages inside: a row's reasons are translated where they are shown.
    return [
        lazy_format("%(field)s: %(message)s", field=name, message=message)
        for name, messages in errors.items()
        for message in messages
    ]


def _existing_ids(model: Any, key: str, keys: list[str]) -> dict[str, int]:
    column = getattr(model, key)
    found: dict[str, int] = {}
    # Chunks keep every statement well under the bind-parameter limits of both backends.
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        for row_id, row_key in db.session.execute(select(model.id, column).where(column.in_(chunk))):
            found[row_key] = row_id
    return found


def _departments_by_code(codes: set[str]) -> dict[str, Department]:
    if not codes:
        return {}
    rows = db.session.scalars(select(Department).where(Department.code.in_(sorted(codes))))
    return {d.code: d for d in rows}


def import_records(
    kind: ImportKind | str, data: bytes, filename: str, *, max_rows: int | None = None, actor: Any = None
) -> ImportResult:
    """Validate every row of a CSV/XLSX file, then insert or update them all, or none.

    On success the rows are committed in one transaction. File-level problems (type,
    size, encoding, header, too many rows) raise ValidationFailed({"file": [...]});
    row problems come back in ``ImportResult.errors`` with nothing written.

    Every import is audited, by ``actor`` (the user who uploaded the file): a success as
    ``directory.imported`` in the import's own transaction, a refusal as
    ``directory.import_failed`` (committed on its own, since nothing else is).
    """
    kind = ImportKind(kind)
    try:
        result = _import_records(kind, data, filename, max_rows=max_rows, actor=actor)
    except (ValidationFailed, Conflict) as exc:
        # Nothing of the import is pending: refused before writing, or rolled back (Conflict).
        with force_locale("en"):  # the log keeps one language, whoever imported
            error = exc.message
        _audit_failure(kind, filename, actor, {"error": error[:1000]})
        raise
    if not result.ok:
        _audit_failure(kind, filename, actor, {
            "bad_rows": len(result.errors), "first_bad_rows": [e.row for e in result.errors[:20]]})
    return result


def _audit_failure(kind: ImportKind, filename: str, actor: Any, details: dict[str, Any]) -> None:
    from app.audit import service as audit

    audit.record("directory.import_failed", actor=actor, subject_type="directory", subject_id=kind.value,
                 details={"kind": kind.value, "file": filename[:256]} | details)
    db.session.commit()


def _import_records(kind: ImportKind, data: bytes, filename: str, *, max_rows: int | None, actor: Any) -> ImportResult:
    from app.audit import service as audit

    spec = SPECS[kind]
    limit = max_rows if max_rows is not None else current_app.config["IMPORT_MAX_ROWS"]
    rows = read_rows(data, filename)
    header = next(rows, None)
    if header is None or not any(header):
        raise _file_error(_l("the file has no header row"))
    columns = _map_header(header, spec.headers, spec.key)
    width = len(header)

    # Pass 1: raw values per row, keys normalised, duplicates inside the file found.
    parsed: list[tuple[int, dict[str, str], list[str]]] = []
    first_seen: dict[str, int] = {}
    for number, cells in enumerate(rows, start=2):
        if not any(cells):
            continue  # blank lines, often trailing in spreadsheets
        if len(parsed) >= limit:
            raise _file_error(_l("the file has more than %(n)d rows; split it", n=limit))
        reasons: list[str] = []
        if any(cells[width:]):
            reasons.append(_l("values beyond the last named column"))
        raw = {name: (cells[index] if index < len(cells) else "") for name, index in columns.items()}
        raw = {name: _alias(name, value) for name, value in raw.items()}
        raw[spec.key] = spec.normalize_key(raw[spec.key])
        key_value = raw[spec.key]
        if key_value:
            if key_value in first_seen:
                reasons.append(
                    _l("duplicate %(key)s %(value)s, also in row %(row)d", key=spec.key, value=key_value, row=first_seen[key_value])
                )
            else:
                first_seen[key_value] = number
        parsed.append((number, raw, reasons))
    if not parsed:
        raise _file_error(_l("the file has no data rows"))

    existing = _existing_ids(spec.model, spec.key, list(first_seen))
    departments = (
        _departments_by_code({raw["department_code"] for _n, raw, _r in parsed if raw.get("department_code")})
        if spec.uses_department
        else {}
    )

    # Pass 2: every row checked with the same rules as the forms and the API.
    now = utcnow()
    creates: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    errors: list[RowError] = []
    for number, raw, reasons in parsed:
        record_id = existing.get(raw[spec.key])
        given = {
            name: value
            for name, value in raw.items()
            if not (name in KEEP_IF_EMPTY and value == "" and record_id is not None)
        }
        if spec.uses_department and "department_code" in given:
            code = given.pop("department_code")
            if code:
                department = departments.get(code)
                if department is None:
                    reasons.append(_l("department_code: no department with code %(code)s", code=code))
                    given["department_id"] = 0  # keeps the "required" check quiet; the row is bad anyway
                else:
                    # Like the forms: nothing new may be attached to a closed department.
                    if not department.active and record_id is None:
                        reasons.append(_l("department_code: department %(code)s is inactive", code=code))
                    given["department_id"] = department.id
            else:
                given["department_id"] = ""
        values, field_errors = spec.cleaner(given, partial=record_id is not None)
        reasons.extend(_format_errors({("department_code" if k == "department_id" else k): v for k, v in field_errors.items()}))
        if reasons:
            errors.append(RowError(row=number, reasons=reasons))
        elif errors:
            continue  # no need to build records that will never be written
        elif record_id is not None:
            values.update(id=record_id, updated_at=now)
            updates.append(values)
        else:
            values.update(created_at=now, updated_at=now)
            creates.append(values)

    if errors:
        return ImportResult(ok=False, errors=errors)
    try:
        if creates:
            db.session.execute(insert(spec.model), creates)
        if updates:
            db.session.execute(update(spec.model), updates)
        audit.record("directory.imported", actor=actor, subject_type="directory", subject_id=kind.value, details={
            "kind": kind.value, "file": filename[:256], "rows": len(creates) + len(updates),
            "created": len(creates), "updated": len(updates)})
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        # Only a concurrent writer can get here: every key was checked just above.
        raise Conflict(_l("another user changed the same records during the import; try again")) from exc
    if len(creates) + len(updates) >= ANALYZE_AFTER_ROWS:
        _refresh_statistics(spec.model.__tablename__)
    return ImportResult(ok=True, created=len(creates), updated=len(updates))


def _refresh_statistics(table: str) -> None:
    """ANALYZE a table after a large import.

    Without it the planner keeps the row estimates of the table as it was before (empty,
    after a first import), and plans cached by pooled connections keep scanning it whole
    instead of using its indexes until autovacuum happens to catch up.
    """
    try:
        db.session.execute(text(f'ANALYZE "{table}"'))
        db.session.commit()
    except SQLAlchemyError:
        # The data is committed already; stale statistics only cost speed.
        db.session.rollback()
        log.warning("could not ANALYZE %s after an import", table, exc_info=True)


def import_entities(data: bytes, filename: str) -> ImportResult:
    """Import entities keyed by USCC; see ``import_records``."""
    return import_records(ImportKind.ENTITIES, data, filename)


def import_inspectors(data: bytes, filename: str) -> ImportResult:
    """Import inspectors keyed by certificate number; see ``import_records``."""
    return import_records(ImportKind.INSPECTORS, data, filename)


def import_check_items(data: bytes, filename: str) -> ImportResult:
    """Import check items keyed by code; see ``import_records``."""
    return import_records(ImportKind.CHECK_ITEMS, data, filename)
