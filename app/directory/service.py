"""Directory services: search, read, create, update and deactivate the four registers.

Every function takes plain arguments and returns models or plain results, so pages,
the API, the CLI and the importer share one set of rules. Writers flush but never
commit: the caller owns the transaction (as in ``app.auth.service``).

Validation happens here, at the boundary: ``clean_*`` functions check the shape of
the values without touching the database (the importer calls them for every row),
and the ``create_*`` / ``update_*`` functions add the checks that need the database
(uniqueness, existing departments).

The single-record writers also append an audit entry naming ``actor`` (None for a script)
when, and only when, they changed something. Bulk paths (the importer, the demo loader)
do not call them and write one entry for the whole batch instead.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, String, cast, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.auth.roles import STAFF_ROLES, Role  # noqa: F401  (STAFF_ROLES: re-exported to the directory views)
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.i18n import lazy_text as _l
from app.directory.models import (
    CREDIT_CLASSES,
    CheckItem,
    Department,
    DepartmentLevel,
    Entity,
    EntityKind,
    EntityScale,
    EntityStatus,
    Inspector,
    ItemKind,
)
from app.directory.uscc import ALPHABET, check_character, normalize_uscc, uscc_error

if TYPE_CHECKING:
    from app.auth.models import User

# Who may do what: every staff role may read (STAFF_ROLES, re-exported here); the directory
# is maintained by administrators and draw coordinators only, because a wrong entry silently
# changes who can be drawn.
EDITOR_ROLES: tuple[Role, ...] = (Role.ADMIN, Role.COORDINATOR)

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200
# Filter value meaning "credit class not yet assigned" (stored as NULL).
UNCLASSIFIED = "unclassified"

Errors = dict[str, list[str]]
T = TypeVar("T")
M = TypeVar("M", bound=db.Model)  # type: ignore[name-defined]

_REGION_RE = re.compile(r"[0-9]{6}")
_REGION_PREFIX_RE = re.compile(r"[0-9]{2}(?:[0-9]{2}){0,2}")
# Separators people use between qualifications: ASCII and full-width semicolons, the
# enumeration comma of Chinese text.
QUALIFICATION_SEPARATORS = re.compile(r"[;；、]")
_TRUE = {"1", "true", "yes", "y", "on", "t", "是", "在岗", "启用", "有效"}
_FALSE = {"0", "false", "no", "n", "off", "f", "否", "离岗", "停用", "无效"}


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a search: the rows shown and the total that matched."""

    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


# --------------------------------------------------------------------------- helpers


def paginate(
    model: type[M],
    conditions: Sequence[ColumnElement[bool]],
    order_by: Sequence[Any],
    page: int,
    per_page: int,
    options: Sequence[Any] = (),
) -> Page[M]:
    """Fetch one page with LIMIT/OFFSET and count the matches with a separate query.

    The count is a plain ``COUNT(*)`` over the same conditions, so the database answers
    it from an index where it can and no row is ever loaded to count it.
    """
    page = max(1, int(page or 1))
    per_page = min(MAX_PER_PAGE, max(1, int(per_page or DEFAULT_PER_PAGE)))
    total = db.session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0
    stmt: Select[tuple[M]] = (
        select(model).where(*conditions).order_by(*order_by).limit(per_page).offset((page - 1) * per_page)
    )
    if options:
        stmt = stmt.options(*options)
    items = list(db.session.scalars(stmt))
    return Page(items=items, total=total, page=page, per_page=per_page)


def _get(model: type[M], object_id: int, label: str) -> M:
    obj = db.session.get(model, object_id)
    if obj is None:
        raise NotFound(_l("%(what)s %(id)s not found", what=label, id=object_id))
    return obj


def _flush(message: Callable[[], str]) -> None:
    """Flush, turning a unique-constraint race into a clear conflict.

    The checks above the flush catch every duplicate that already exists; only a
    concurrent writer saving the same key between check and flush lands here. The
    message is built only then, so the usual path builds no message.
    """
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict(message()) from exc


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@cache
def _values(enum: type[StrEnum]) -> frozenset[str]:
    # Cached: the importer checks several enumerations on each of up to 200,000 rows.
    return frozenset(e.value for e in enum)


def _choices(enum: type[StrEnum]) -> str:
    return ", ".join(e.value for e in enum)


def _text_match(column: Any, term: str) -> ColumnElement[bool]:
    """``column`` contains ``term``; case-insensitive only when the term has letters with case.

    Chinese text has no case, and a plain LIKE scans a million names about three times
    faster than ILIKE on PostgreSQL.
    """
    if term.lower() != term.upper():
        return column.icontains(term, autoescape=True)
    return column.contains(term, autoescape=True)


def uscc_message(code: str) -> str | None:
    """Why ``code`` (already normalised) is not a valid USCC, as a lazy translation; or None."""
    if uscc_error(code) is None:
        return None
    if len(code) != 18:
        return _l("must be 18 characters, got %(n)d", n=len(code))
    bad = "".join(sorted({c for c in code if c not in ALPHABET}))
    if bad:
        return _l("characters not allowed: %(chars)s", chars=bad)
    return _l(
        "check character should be %(expected)s, not %(got)s",
        expected=check_character(code[:17]),
        got=code[17],
    )


def split_qualifications(value: str) -> list[str]:
    """Qualifications typed as one string, separated by ``;``, ``；`` or ``、``."""
    return [part.strip() for part in QUALIFICATION_SEPARATORS.split(value) if part.strip()]


def parse_bool(value: Any) -> bool | None:
    """A boolean from the spellings found in forms and spreadsheets, or None if unknown."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return bool(value) if value in (0, 1) else None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return None


def parse_date(value: Any) -> date | None:
    """A date from a date, a datetime or text such as 2020-01-05, 2020/1/5 or 20200105.

    Raises ValueError when the text is not a date.
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        return date.fromisoformat(text)  # the usual case, and much faster than strptime
    except ValueError:
        pass
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    # Spreadsheets exported with a time part: "2020-01-05 00:00:00".
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        raise ValueError(text) from None


class _Cleaner:
    """Checks the fields of one record, collecting every problem instead of stopping at the first.

    In ``partial`` mode only the fields present in ``data`` are checked (an update);
    otherwise missing fields take their defaults and missing required fields are errors.
    """

    def __init__(self, data: Mapping[str, Any], allowed: set[str], partial: bool) -> None:
        self.data = data
        self.partial = partial
        self.values: dict[str, Any] = {}
        self.errors: Errors = {}
        for key in data:
            if key not in allowed:
                self.add(key, _l("unknown field"))

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def take(self, field: str) -> tuple[bool, Any]:
        """Whether to check ``field`` now, and its raw value."""
        if field in self.data:
            return True, self.data[field]
        return (not self.partial), None

    def text(self, field: str, *, max_len: int, required: bool = False, upper: bool = False) -> None:
        present, raw = self.take(field)
        if not present:
            return
        if raw is None:
            raw = ""
        if isinstance(raw, bool) or not isinstance(raw, (str, int)):
            self.add(field, _l("must be text"))
            return
        value = str(raw).strip()
        if upper:
            value = value.upper()
        if required and not value:
            self.add(field, _l("is required"))
        elif len(value) > max_len:
            self.add(field, _l("at most %(n)d characters", n=max_len))
        self.values[field] = value

    def choice(self, field: str, enum: type[StrEnum], *, default: str | None) -> None:
        """One of ``enum``; blank means ``default`` (None allowed only when default is None)."""
        present, raw = self.take(field)
        if not present:
            return
        if _blank(raw):
            self.values[field] = default
            return
        value = str(raw).strip().lower()
        if value not in _values(enum):
            self.add(field, _l("must be one of: %(choices)s", choices=_choices(enum)))
            return
        self.values[field] = value

    def region(self, field: str) -> None:
        present, raw = self.take(field)
        if not present:
            return
        value = "" if raw is None else str(raw).strip()
        if not _REGION_RE.fullmatch(value):
            self.add(field, _l("must be a 6-digit administrative division code"))
            return
        self.values[field] = value

    def boolean(self, field: str, *, default: bool) -> None:
        present, raw = self.take(field)
        if not present:
            return
        if _blank(raw):
            self.values[field] = default
            return
        value = parse_bool(raw)
        if value is None:
            self.add(field, _l("must be yes or no"))
            return
        self.values[field] = value

    def reference(self, field: str, *, required: bool) -> None:
        """An integer id; whether it exists is checked against the database later."""
        present, raw = self.take(field)
        if not present:
            return
        if _blank(raw):
            if required:
                self.add(field, _l("is required"))
            self.values[field] = None
            return
        try:
            if isinstance(raw, bool):
                raise ValueError
            self.values[field] = int(raw)
        except (TypeError, ValueError):
            self.add(field, _l("must be a number"))



# --------------------------------------------------------------------------- cleaning

ENTITY_FIELDS = (
    "uscc",
    "name",
    "kind",
    "industry",
    "scale",
    "region_code",
    "station",
    "address",
    "legal_representative",
    "credit_class",
    "status",
    "registered_on",
)
INSPECTOR_FIELDS = ("name", "department_id", "station", "certificate_no", "qualifications", "region_code", "active")
CHECK_ITEM_FIELDS = (
    "code",
    "category",
    "name",
    "object_type",
    "kind",
    "method",
    "department_id",
    "legal_basis",
    "active",
)
DEPARTMENT_FIELDS = ("code", "name", "level", "region_code", "parent_id", "active")


def clean_entity(data: Mapping[str, Any], *, partial: bool = False, today: date | None = None) -> tuple[dict[str, Any], Errors]:
    """Check an entity's fields without the database; returns (clean values, errors by field)."""
    c = _Cleaner(data, set(ENTITY_FIELDS), partial)
    present, raw = c.take("uscc")
    if present:
        code = normalize_uscc(str(raw or ""))
        if not code:
            c.add("uscc", _l("is required"))
        else:
            problem = uscc_message(code)
            if problem:
                c.add("uscc", problem)
        c.values["uscc"] = code
    c.text("name", max_len=256, required=True)
    c.choice("kind", EntityKind, default=EntityKind.ENTERPRISE.value)
    c.text("industry", max_len=64)
    c.choice("scale", EntityScale, default=None)
    c.region("region_code")
    c.text("station", max_len=128)
    c.text("address", max_len=512)
    c.text("legal_representative", max_len=64)
    present, raw = c.take("credit_class")
    if present:
        if _blank(raw):
            c.values["credit_class"] = None  # unclassified
        else:
            value = str(raw).strip().upper()
            if value not in CREDIT_CLASSES:
                c.add("credit_class", _l("must be A, B, C, D or empty (unclassified)"))
            else:
                c.values["credit_class"] = value
    c.choice("status", EntityStatus, default=EntityStatus.ACTIVE.value)
    present, raw = c.take("registered_on")
    if present:
        if _blank(raw):
            c.values["registered_on"] = None
        else:
            try:
                day = parse_date(raw)
            except ValueError:
                c.add("registered_on", _l("must be a date such as 2020-01-31"))
            else:
                if day and day > (today or date.today()):
                    c.add("registered_on", _l("cannot be in the future"))
                c.values["registered_on"] = day
    return c.values, c.errors


def _clean_qualifications(c: _Cleaner) -> None:
    present, raw = c.take("qualifications")
    if not present:
        return
    if raw is None:
        c.values["qualifications"] = []
        return
    if isinstance(raw, str):
        items = split_qualifications(raw)
    elif isinstance(raw, (list, tuple)):
        items = []
        for item in raw:
            if not isinstance(item, str) or not item.strip():
                c.add("qualifications", _l("each qualification must be a non-empty text"))
                return
            items.append(item.strip())
    else:
        c.add("qualifications", _l("must be a list of texts"))
        return
    if any(len(item) > 64 for item in items):
        c.add("qualifications", _l("each qualification has at most %(n)d characters", n=64))
        return
    # Order kept as typed, repeats dropped: the list is shown to people.
    c.values["qualifications"] = list(dict.fromkeys(items))


def clean_inspector(data: Mapping[str, Any], *, partial: bool = False) -> tuple[dict[str, Any], Errors]:
    """Check an inspector's fields without the database; returns (clean values, errors by field)."""
    c = _Cleaner(data, set(INSPECTOR_FIELDS), partial)
    c.text("name", max_len=64, required=True)
    c.reference("department_id", required=True)
    c.text("station", max_len=128)
    c.text("certificate_no", max_len=32, required=True)
    _clean_qualifications(c)
    c.region("region_code")
    c.boolean("active", default=True)
    return c.values, c.errors


def clean_check_item(data: Mapping[str, Any], *, partial: bool = False) -> tuple[dict[str, Any], Errors]:
    """Check a check item's fields without the database; returns (clean values, errors by field)."""
    c = _Cleaner(data, set(CHECK_ITEM_FIELDS), partial)
    c.text("code", max_len=32, required=True)
    c.text("category", max_len=256, required=True)
    c.text("name", max_len=2000, required=True)
    c.text("object_type", max_len=256)
    c.choice("kind", ItemKind, default=ItemKind.GENERAL.value)
    c.text("method", max_len=64)
    c.reference("department_id", required=True)
    c.text("legal_basis", max_len=10000)
    c.boolean("active", default=True)
    return c.values, c.errors


def clean_department(data: Mapping[str, Any], *, partial: bool = False) -> tuple[dict[str, Any], Errors]:
    """Check a department's fields without the database; returns (clean values, errors by field)."""
    c = _Cleaner(data, set(DEPARTMENT_FIELDS), partial)
    c.text("code", max_len=32, required=True)
    c.text("name", max_len=128, required=True)
    c.choice("level", DepartmentLevel, default=DepartmentLevel.CITY.value)
    c.region("region_code")
    c.reference("parent_id", required=False)
    c.boolean("active", default=True)
    return c.values, c.errors


# --------------------------------------------------------------------------- database checks


def _taken(column: Any, value: Any, exclude_id: int | None) -> bool:
    model = column.class_
    stmt = select(model.id).where(column == value)
    if exclude_id is not None:
        stmt = stmt.where(model.id != exclude_id)
    return db.session.scalar(stmt.limit(1)) is not None


def _check_department(errors: Errors, field: str, department_id: int | None) -> None:
    if department_id is None:
        return
    department = db.session.get(Department, department_id)
    if department is None:
        errors.setdefault(field, []).append(_l("department %(id)s does not exist", id=department_id))
    elif not department.active:
        errors.setdefault(field, []).append(_l("department %(code)s is inactive", code=department.code))


def _apply(obj: Any, values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        setattr(obj, key, value)


def _validated(
    cleaner: Callable[..., tuple[dict[str, Any], Errors]],
    data: Mapping[str, Any],
    partial: bool,
    db_checks: Callable[[dict[str, Any], Errors], None],
) -> dict[str, Any]:
    values, errors = cleaner(data, partial=partial)
    # Database checks only on fields that passed the shape checks, so messages do not pile up.
    db_checks({k: v for k, v in values.items() if k not in errors}, errors)
    if errors:
        raise ValidationFailed(errors)
    return values


# --------------------------------------------------------------------------- audit

# The longest value an audit entry holds as it is (as JSON text, in characters). A longer one
# (a legal basis, a plan's notes) is recorded by its length and a hash: the log must stay
# small, and it is not meant to be a second copy of the records.
AUDIT_VALUE_LIMIT = 200


def audit_value(value: Any) -> Any:
    """``value`` as an audit entry shows it: dates as ISO text, long values summarised."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    if len(text) > AUDIT_VALUE_LIMIT:
        # The hash tells two versions of the same length apart and can be checked against a copy.
        return {"chars": len(text), "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]}
    return value


def audit_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Every field of ``values`` through ``audit_value``."""
    return {key: audit_value(value) for key, value in values.items()}


def audit_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for every field of ``after`` whose value differs from ``before``."""
    return {
        key: [audit_value(before.get(key)), audit_value(value)]
        for key, value in after.items()
        if before.get(key) != value
    }


def _snapshot(obj: Any, fields: Sequence[str]) -> dict[str, Any]:
    return {field: getattr(obj, field) for field in fields}


def _audit(action: str, actor: User | None, subject_type: str, obj: Any, details: dict[str, Any]) -> None:
    """One entry about ``obj`` in the caller's transaction, after the write it describes was flushed."""
    # Imported here: app.audit.service imports this module (for paginate).
    from app.audit import service as audit

    audit.record(f"directory.{action}", actor=actor, subject_type=subject_type, subject_id=obj.id, details=details)


def _audit_update(
    action: str, actor: User | None, subject_type: str, obj: Any, key: str, before: Mapping[str, Any]
) -> None:
    """Record what an update changed in ``obj``; nothing at all when nothing changed.

    ``key`` names the field that identifies the record to a person (USCC, certificate, code).
    """
    changes = audit_changes(before, _snapshot(obj, list(before)))
    if changes:
        _audit(action, actor, subject_type, obj, {key: getattr(obj, key), "changes": changes})


def _audit_created(action: str, actor: User | None, subject_type: str, obj: Any, key: str, fields: Sequence[str]) -> None:
    _audit(action, actor, subject_type, obj, {key: getattr(obj, key), "values": audit_values(_snapshot(obj, fields))})


# --------------------------------------------------------------------------- departments


def search_departments(
    q: str = "",
    *,
    level: str | None = None,
    active: bool | None = None,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> Page[Department]:
    """Departments matching ``q`` (code or name) and the filters, ordered by code."""
    conditions: list[ColumnElement[bool]] = []
    if q and q.strip():
        term = q.strip()
        conditions.append(or_(_text_match(Department.code, term), _text_match(Department.name, term)))
    if level:
        if level not in _values(DepartmentLevel):
            raise ValidationFailed({"level": [_l("must be one of: %(choices)s", choices=_choices(DepartmentLevel))]})
        conditions.append(Department.level == level)
    if active is not None:
        conditions.append(Department.active.is_(active))
    return paginate(Department, conditions, (Department.code,), page, per_page, (selectinload(Department.parent),))


def list_departments(*, active_only: bool = True) -> list[Department]:
    """Every department (a short list), ordered by code, for choosers."""
    stmt = select(Department).order_by(Department.code)
    if active_only:
        stmt = stmt.where(Department.active.is_(True))
    return list(db.session.scalars(stmt))


def get_department(department_id: int) -> Department:
    """The department with this id; NotFound otherwise."""
    return _get(Department, department_id, _l("Department"))


def get_department_by_code(code: str) -> Department:
    """The department with this code; NotFound otherwise."""
    department = db.session.scalar(select(Department).where(Department.code == code.strip()))
    if department is None:
        raise NotFound(_l("no department with code %(code)s", code=code))
    return department


def _department_db_checks(current: Department | None) -> Callable[[dict[str, Any], Errors], None]:
    def check(values: dict[str, Any], errors: Errors) -> None:
        exclude = current.id if current else None
        if "code" in values and values["code"] and _taken(Department.code, values["code"], exclude):
            errors.setdefault("code", []).append(_l("a department with code %(code)s already exists", code=values["code"]))
        parent_id = values.get("parent_id")
        if parent_id is None:
            return
        parent = db.session.get(Department, parent_id)
        if parent is None:
            errors.setdefault("parent_id", []).append(_l("department %(id)s does not exist", id=parent_id))
            return
        # Walk up from the new parent: meeting the department itself would close a loop.
        seen: set[int] = set()
        node: Department | None = parent
        while node is not None and node.id not in seen:
            if current is not None and node.id == current.id:
                errors.setdefault("parent_id", []).append(_l("a department cannot be its own parent or ancestor"))
                return
            seen.add(node.id)
            node = node.parent

    return check


def create_department(
    *,
    actor: User | None,
    code: str,
    name: str,
    region_code: str,
    level: str = DepartmentLevel.CITY.value,
    parent_id: int | None = None,
    active: bool = True,
) -> Department:
    """Add a department, audited as ``actor``'s; the caller commits."""
    data = {"code": code, "name": name, "region_code": region_code, "level": level, "parent_id": parent_id, "active": active}
    values = _validated(clean_department, data, False, _department_db_checks(None))
    department = Department(**values)
    db.session.add(department)
    _flush(lambda: _l("a department with code %(code)s was saved at the same time; try again", code=values["code"]))
    _audit_created("department_created", actor, "department", department, "code", DEPARTMENT_FIELDS)
    return department


def update_department(department_id: int, *, actor: User | None, **changes: Any) -> Department:
    """Change some fields of a department (any of DEPARTMENT_FIELDS), audited if any changed; the caller commits."""
    department = get_department(department_id)
    values = _validated(clean_department, changes, True, _department_db_checks(department))
    before = _snapshot(department, list(values))
    _apply(department, values)
    _flush(lambda: _l("a department with this code was saved at the same time; try again"))
    _audit_update("department_updated", actor, "department", department, "code", before)
    return department


def deactivate_department(department_id: int, *, actor: User | None) -> Department:
    """Mark a department inactive (kept for history), audited unless it already was; the caller commits."""
    department = get_department(department_id)
    before = _snapshot(department, ["active"])
    department.active = False
    db.session.flush()
    _audit_update("department_deactivated", actor, "department", department, "code", before)
    return department


# --------------------------------------------------------------------------- check items


def search_check_items(
    q: str = "",
    *,
    department_id: int | None = None,
    kind: str | None = None,
    category: str | None = None,
    active: bool | None = None,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> Page[CheckItem]:
    """Check items matching ``q`` (code, name or category) and the filters, ordered by code."""
    conditions: list[ColumnElement[bool]] = []
    if q and q.strip():
        term = q.strip()
        conditions.append(
            or_(
                _text_match(CheckItem.code, term),
                _text_match(CheckItem.name, term),
                _text_match(CheckItem.category, term),
            )
        )
    if department_id:
        conditions.append(CheckItem.department_id == department_id)
    if kind:
        if kind not in _values(ItemKind):
            raise ValidationFailed({"kind": [_l("must be one of: %(choices)s", choices=_choices(ItemKind))]})
        conditions.append(CheckItem.kind == kind)
    if category:
        conditions.append(CheckItem.category == category)
    if active is not None:
        conditions.append(CheckItem.active.is_(active))
    return paginate(CheckItem, conditions, (CheckItem.code,), page, per_page, (selectinload(CheckItem.department),))


def get_check_item(item_id: int) -> CheckItem:
    """The check item with this id; NotFound otherwise."""
    return _get(CheckItem, item_id, _l("Check item"))


def _check_item_db_checks(current: CheckItem | None) -> Callable[[dict[str, Any], Errors], None]:
    def check(values: dict[str, Any], errors: Errors) -> None:
        exclude = current.id if current else None
        if values.get("code") and _taken(CheckItem.code, values["code"], exclude):
            errors.setdefault("code", []).append(_l("a check item with code %(code)s already exists", code=values["code"]))
        if "department_id" in values and (current is None or values["department_id"] != current.department_id):
            _check_department(errors, "department_id", values["department_id"])

    return check


def create_check_item(
    *,
    actor: User | None,
    code: str,
    category: str,
    name: str,
    department_id: int,
    object_type: str = "",
    kind: str = ItemKind.GENERAL.value,
    method: str = "",
    legal_basis: str = "",
    active: bool = True,
) -> CheckItem:
    """Add a line to the check-item list, audited as ``actor``'s; the caller commits."""
    data = {
        "code": code,
        "category": category,
        "name": name,
        "department_id": department_id,
        "object_type": object_type,
        "kind": kind,
        "method": method,
        "legal_basis": legal_basis,
        "active": active,
    }
    values = _validated(clean_check_item, data, False, _check_item_db_checks(None))
    item = CheckItem(**values)
    db.session.add(item)
    _flush(lambda: _l("a check item with code %(code)s was saved at the same time; try again", code=values["code"]))
    _audit_created("check_item_created", actor, "check_item", item, "code", CHECK_ITEM_FIELDS)
    return item


def update_check_item(item_id: int, *, actor: User | None, **changes: Any) -> CheckItem:
    """Change some fields of a check item (any of CHECK_ITEM_FIELDS), audited if any changed; the caller commits."""
    item = get_check_item(item_id)
    values = _validated(clean_check_item, changes, True, _check_item_db_checks(item))
    before = _snapshot(item, list(values))
    _apply(item, values)
    _flush(lambda: _l("a check item with this code was saved at the same time; try again"))
    _audit_update("check_item_updated", actor, "check_item", item, "code", before)
    return item


def deactivate_check_item(item_id: int, *, actor: User | None) -> CheckItem:
    """Take a check item off the list (kept for history), audited unless it already was; the caller commits."""
    item = get_check_item(item_id)
    before = _snapshot(item, ["active"])
    item.active = False
    db.session.flush()
    _audit_update("check_item_deactivated", actor, "check_item", item, "code", before)
    return item


# --------------------------------------------------------------------------- entities


def _region_condition(column: Any, region_code: str) -> ColumnElement[bool]:
    """Equality for a county code; a range for a city or province code (XXYY00, XX0000).

    Administrative division codes nest: 140500 is Jincheng city and 140502 one of its
    districts, so a city code selects the whole city. BETWEEN on digit strings keeps the
    btree index usable under any collation, unlike LIKE 'prefix%'.
    """
    code = region_code.strip()
    if not _REGION_PREFIX_RE.fullmatch(code):
        raise ValidationFailed({"region_code": [_l("must be 2, 4 or 6 digits")]})
    prefix = code
    while len(prefix) > 2 and prefix.endswith("00"):
        prefix = prefix[:-2]
    if len(prefix) == 6:
        return column == prefix
    pad = 6 - len(prefix)
    return column.between(prefix + "0" * pad, prefix + "9" * pad)


def entity_conditions(
    q: str = "",
    *,
    kind: str | None = None,
    industry: str | None = None,
    region_code: str | None = None,
    station: str | None = None,
    credit_class: str | None = None,
    status: str | None = None,
    scale: str | None = None,
) -> list[ColumnElement[bool]]:
    """SQL conditions selecting entities; shared by the search and by draws that filter the pool.

    ``credit_class`` is A–D or ``"unclassified"``; ``region_code`` may be a city or province
    code (see ``_region_condition``); ``q`` matches a whole USCC exactly, the start of a USCC
    or any part of the name. Blank values mean "no filter". Raises ValidationFailed for
    values that can never match.
    """
    conditions: list[ColumnElement[bool]] = []
    errors: Errors = {}
    term = (q or "").strip()
    if term:
        code = normalize_uscc(term)
        if len(code) == 18 and all(ch in ALPHABET for ch in code):
            # A complete code: an exact match on the unique index, never a scan.
            conditions.append(Entity.uscc == code)
        elif len(code) >= 4 and all(ch in ALPHABET for ch in code) and any(ch.isdigit() for ch in code):
            conditions.append(or_(Entity.uscc.startswith(code, autoescape=True), _text_match(Entity.name, term)))
        else:
            conditions.append(_text_match(Entity.name, term))
    for field, enum, value, column in (
        ("kind", EntityKind, kind, Entity.kind),
        ("status", EntityStatus, status, Entity.status),
        ("scale", EntityScale, scale, Entity.scale),
    ):
        if value:
            if value not in _values(enum):
                errors[field] = [_l("must be one of: %(choices)s", choices=_choices(enum))]
            else:
                conditions.append(column == value)
    if credit_class:
        if credit_class == UNCLASSIFIED:
            conditions.append(Entity.credit_class.is_(None))
        elif credit_class.upper() in CREDIT_CLASSES:
            conditions.append(Entity.credit_class == credit_class.upper())
        else:
            errors["credit_class"] = [_l("must be A, B, C, D or unclassified")]
    if industry and industry.strip():
        conditions.append(Entity.industry == industry.strip())
    if station and station.strip():
        conditions.append(Entity.station == station.strip())
    if region_code and region_code.strip():
        try:
            conditions.append(_region_condition(Entity.region_code, region_code))
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    return conditions


def search_entities(
    q: str = "",
    *,
    kind: str | None = None,
    industry: str | None = None,
    region_code: str | None = None,
    station: str | None = None,
    credit_class: str | None = None,
    status: str | None = None,
    scale: str | None = None,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> Page[Entity]:
    """Entities matching ``q`` and the filters (see ``entity_conditions``), ordered by id."""
    conditions = entity_conditions(
        q,
        kind=kind,
        industry=industry,
        region_code=region_code,
        station=station,
        credit_class=credit_class,
        status=status,
        scale=scale,
    )
    # Ordered by primary key: with a million rows, any other order would make the database
    # sort every match before it can return the first page.
    return paginate(Entity, conditions, (Entity.id,), page, per_page)


def get_entity(entity_id: int) -> Entity:
    """The entity with this id; NotFound otherwise."""
    return _get(Entity, entity_id, _l("Entity"))


def get_entity_by_uscc(uscc: str) -> Entity:
    """The entity with this USCC (normalised first); NotFound otherwise."""
    code = normalize_uscc(uscc)
    entity = db.session.scalar(select(Entity).where(Entity.uscc == code))
    if entity is None:
        raise NotFound(_l("no entity with USCC %(code)s", code=code))
    return entity


def _entity_db_checks(current: Entity | None) -> Callable[[dict[str, Any], Errors], None]:
    def check(values: dict[str, Any], errors: Errors) -> None:
        if values.get("uscc") and _taken(Entity.uscc, values["uscc"], current.id if current else None):
            errors.setdefault("uscc", []).append(_l("an entity with USCC %(code)s already exists", code=values["uscc"]))

    return check


def create_entity(
    *,
    actor: User | None,
    uscc: str,
    name: str,
    region_code: str,
    kind: str = EntityKind.ENTERPRISE.value,
    industry: str = "",
    scale: str | None = None,
    station: str = "",
    address: str = "",
    legal_representative: str = "",
    credit_class: str | None = None,
    status: str = EntityStatus.ACTIVE.value,
    registered_on: date | str | None = None,
) -> Entity:
    """Add an entity to the directory, audited as ``actor``'s; the caller commits."""
    data = {
        "uscc": uscc,
        "name": name,
        "region_code": region_code,
        "kind": kind,
        "industry": industry,
        "scale": scale,
        "station": station,
        "address": address,
        "legal_representative": legal_representative,
        "credit_class": credit_class,
        "status": status,
        "registered_on": registered_on,
    }
    values = _validated(clean_entity, data, False, _entity_db_checks(None))
    entity = Entity(**values)
    db.session.add(entity)
    _flush(lambda: _l("an entity with USCC %(code)s was saved at the same time; try again", code=values["uscc"]))
    _audit_created("entity_created", actor, "entity", entity, "uscc", ENTITY_FIELDS)
    return entity


def update_entity(entity_id: int, *, actor: User | None, **changes: Any) -> Entity:
    """Change some fields of an entity (any of ENTITY_FIELDS), audited if any changed; the caller commits.

    A change of credit class shows in the entry as ``changes.credit_class: [old, new]``
    (None meaning unclassified): it changes an entity's odds in every stratified draw.
    """
    entity = get_entity(entity_id)
    values = _validated(clean_entity, changes, True, _entity_db_checks(entity))
    before = _snapshot(entity, list(values))
    _apply(entity, values)
    _flush(lambda: _l("an entity with this USCC was saved at the same time; try again"))
    _audit_update("entity_updated", actor, "entity", entity, "uscc", before)
    return entity


INACTIVE_STATUSES: tuple[str, ...] = tuple(s.value for s in EntityStatus if s is not EntityStatus.ACTIVE)


def deactivate_entity(
    entity_id: int, status: str = EntityStatus.DEREGISTERED.value, *, actor: User | None
) -> Entity:
    """Take an entity out of the pool by giving it a non-active status; the caller commits.

    Audited unless the entity already had that status. Entities are never deleted: past
    draws and results refer to them.
    """
    if status not in INACTIVE_STATUSES:
        raise ValidationFailed({"status": [_l("must be one of: %(choices)s", choices=", ".join(INACTIVE_STATUSES))]})
    entity = get_entity(entity_id)
    before = _snapshot(entity, ["status"])
    entity.status = status
    db.session.flush()
    _audit_update("entity_deactivated", actor, "entity", entity, "uscc", before)
    return entity


# --------------------------------------------------------------------------- inspectors


def qualification_condition(qualification: str) -> ColumnElement[bool]:
    """Inspectors whose qualification list contains exactly ``qualification``.

    The list is a JSON array on both backends; matching the JSON-encoded element (quotes
    included) against the stored text works on SQLite and PostgreSQL alike. The inspector
    directory is small (thousands), so the scan this implies is cheap.
    """
    needle = json.dumps(qualification.strip())
    return cast(Inspector.qualifications, String).contains(needle, autoescape=True)


def search_inspectors(
    q: str = "",
    *,
    department_id: int | None = None,
    station: str | None = None,
    region_code: str | None = None,
    qualification: str | None = None,
    active: bool | None = None,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> Page[Inspector]:
    """Inspectors matching ``q`` (name or certificate number) and the filters, ordered by name."""
    conditions: list[ColumnElement[bool]] = []
    if q and q.strip():
        term = q.strip()
        conditions.append(
            or_(_text_match(Inspector.name, term), _text_match(Inspector.certificate_no, term))
        )
    if department_id:
        conditions.append(Inspector.department_id == department_id)
    if station and station.strip():
        conditions.append(Inspector.station == station.strip())
    if region_code and region_code.strip():
        conditions.append(_region_condition(Inspector.region_code, region_code))
    if qualification and qualification.strip():
        conditions.append(qualification_condition(qualification))
    if active is not None:
        conditions.append(Inspector.active.is_(active))
    return paginate(
        Inspector, conditions, (Inspector.name, Inspector.id), page, per_page, (selectinload(Inspector.department),)
    )


def get_inspector(inspector_id: int) -> Inspector:
    """The inspector with this id; NotFound otherwise."""
    return _get(Inspector, inspector_id, _l("Inspector"))


def _inspector_db_checks(current: Inspector | None) -> Callable[[dict[str, Any], Errors], None]:
    def check(values: dict[str, Any], errors: Errors) -> None:
        exclude = current.id if current else None
        if values.get("certificate_no") and _taken(Inspector.certificate_no, values["certificate_no"], exclude):
            errors.setdefault("certificate_no", []).append(
                _l("an inspector with certificate number %(no)s already exists", no=values["certificate_no"])
            )
        if "department_id" in values and (current is None or values["department_id"] != current.department_id):
            _check_department(errors, "department_id", values["department_id"])

    return check


def create_inspector(
    *,
    actor: User | None,
    name: str,
    department_id: int,
    certificate_no: str,
    region_code: str,
    station: str = "",
    qualifications: Sequence[str] | str = (),
    active: bool = True,
) -> Inspector:
    """Add an inspector to the directory, audited as ``actor``'s; the caller commits.

    ``qualifications`` is a list of non-empty texts, or one text separated by ``;`` or ``、``.
    """
    data = {
        "name": name,
        "department_id": department_id,
        "certificate_no": certificate_no,
        "region_code": region_code,
        "station": station,
        "qualifications": qualifications,
        "active": active,
    }
    values = _validated(clean_inspector, data, False, _inspector_db_checks(None))
    inspector = Inspector(**values)
    db.session.add(inspector)
    _flush(lambda: _l("an inspector with certificate number %(no)s was saved at the same time; try again", no=values["certificate_no"]))
    _audit_created("inspector_created", actor, "inspector", inspector, "certificate_no", INSPECTOR_FIELDS)
    return inspector


def update_inspector(inspector_id: int, *, actor: User | None, **changes: Any) -> Inspector:
    """Change some fields of an inspector (any of INSPECTOR_FIELDS), audited if any changed; the caller commits."""
    inspector = get_inspector(inspector_id)
    values = _validated(clean_inspector, changes, True, _inspector_db_checks(inspector))
    before = _snapshot(inspector, list(values))
    _apply(inspector, values)
    _flush(lambda: _l("an inspector with this certificate number was saved at the same time; try again"))
    _audit_update("inspector_updated", actor, "inspector", inspector, "certificate_no", before)
    return inspector


def deactivate_inspector(inspector_id: int, *, actor: User | None) -> Inspector:
    """Take an inspector out of future draws (kept for history), audited unless already out; the caller commits."""
    inspector = get_inspector(inspector_id)
    before = _snapshot(inspector, ["active"])
    inspector.active = False
    db.session.flush()
    _audit_update("inspector_deactivated", actor, "inspector", inspector, "certificate_no", before)
    return inspector
