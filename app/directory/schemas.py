"""Marshmallow schemas of the directory API.

Input schemas check types only; the rules (USCC check character, uniqueness, code
lists) are applied by ``app.directory.service`` so that the API, the pages and the
importer give the same answers. Enumerations are listed in the OpenAPI document
through ``metadata`` without being enforced twice.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_smorest.fields import Upload
from marshmallow import EXCLUDE, Schema, fields

from app.directory.models import CREDIT_CLASSES, DepartmentLevel, EntityKind, EntityScale, EntityStatus, ItemKind
from app.directory.service import DEFAULT_PER_PAGE, INACTIVE_STATUSES, MAX_PER_PAGE, UNCLASSIFIED


def _enum(values: Iterable[Any]) -> dict[str, list[str]]:
    return {"enum": [str(v) for v in values]}


# --------------------------------------------------------------------------- shared


class PageQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    q = fields.Str(load_default="", metadata={"description": "Free text"})
    page = fields.Int(load_default=1, metadata={"minimum": 1})
    per_page = fields.Int(load_default=DEFAULT_PER_PAGE, metadata={"minimum": 1, "maximum": MAX_PER_PAGE})


class PageSchema(Schema):
    total = fields.Int()
    page = fields.Int()
    per_page = fields.Int()
    pages = fields.Int()


# --------------------------------------------------------------------------- departments


class DepartmentSchema(Schema):
    id = fields.Int(dump_only=True)
    code = fields.Str()
    name = fields.Str()
    level = fields.Str(metadata=_enum(DepartmentLevel))
    region_code = fields.Str()
    parent_id = fields.Int(allow_none=True)
    active = fields.Bool()
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class DepartmentUpdateSchema(Schema):
    code = fields.Str()
    name = fields.Str()
    level = fields.Str(metadata=_enum(DepartmentLevel))
    region_code = fields.Str(metadata={"pattern": "^[0-9]{6}$"})
    parent_id = fields.Int(allow_none=True)
    active = fields.Bool()


class DepartmentCreateSchema(DepartmentUpdateSchema):
    code = fields.Str(required=True)
    name = fields.Str(required=True)
    region_code = fields.Str(required=True, metadata={"pattern": "^[0-9]{6}$"})


class DepartmentQuerySchema(PageQuerySchema):
    level = fields.Str(load_default=None, metadata=_enum(DepartmentLevel))
    active = fields.Bool(load_default=None)


class DepartmentPageSchema(PageSchema):
    items = fields.List(fields.Nested(DepartmentSchema))


# --------------------------------------------------------------------------- check items


class CheckItemSchema(Schema):
    id = fields.Int(dump_only=True)
    code = fields.Str()
    category = fields.Str()
    name = fields.Str()
    object_type = fields.Str()
    kind = fields.Str(metadata=_enum(ItemKind))
    method = fields.Str()
    department_id = fields.Int()
    department_code = fields.Str(attribute="department.code", dump_only=True)
    legal_basis = fields.Str()
    active = fields.Bool()
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class CheckItemUpdateSchema(Schema):
    code = fields.Str()
    category = fields.Str()
    name = fields.Str()
    object_type = fields.Str()
    kind = fields.Str(metadata=_enum(ItemKind))
    method = fields.Str()
    department_id = fields.Int()
    legal_basis = fields.Str()
    active = fields.Bool()


class CheckItemCreateSchema(CheckItemUpdateSchema):
    code = fields.Str(required=True)
    category = fields.Str(required=True)
    name = fields.Str(required=True)
    department_id = fields.Int(required=True)


class CheckItemQuerySchema(PageQuerySchema):
    department_id = fields.Int(load_default=None)
    kind = fields.Str(load_default=None, metadata=_enum(ItemKind))
    category = fields.Str(load_default=None)
    active = fields.Bool(load_default=None)


class CheckItemPageSchema(PageSchema):
    items = fields.List(fields.Nested(CheckItemSchema))


# --------------------------------------------------------------------------- entities


class EntitySchema(Schema):
    id = fields.Int(dump_only=True)
    uscc = fields.Str(metadata={"description": "Unified social credit code (GB 32100-2015)"})
    name = fields.Str()
    kind = fields.Str(metadata=_enum(EntityKind))
    industry = fields.Str()
    scale = fields.Str(allow_none=True, metadata=_enum(EntityScale))
    region_code = fields.Str()
    station = fields.Str()
    address = fields.Str()
    legal_representative = fields.Str()
    credit_class = fields.Str(allow_none=True, metadata=_enum(CREDIT_CLASSES))
    status = fields.Str(metadata=_enum(EntityStatus))
    registered_on = fields.Date(allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class EntityUpdateSchema(Schema):
    uscc = fields.Str(metadata={"description": "18 characters; lower case is accepted and upper-cased"})
    name = fields.Str()
    kind = fields.Str(metadata=_enum(EntityKind))
    industry = fields.Str()
    scale = fields.Str(allow_none=True, metadata=_enum(EntityScale))
    region_code = fields.Str(metadata={"pattern": "^[0-9]{6}$"})
    station = fields.Str()
    address = fields.Str()
    legal_representative = fields.Str()
    credit_class = fields.Str(allow_none=True, metadata={**_enum(CREDIT_CLASSES), "description": "null = unclassified"})
    status = fields.Str(metadata=_enum(EntityStatus))
    registered_on = fields.Date(allow_none=True)


class EntityCreateSchema(EntityUpdateSchema):
    uscc = fields.Str(required=True, metadata={"description": "18 characters; lower case is accepted and upper-cased"})
    name = fields.Str(required=True)
    region_code = fields.Str(required=True, metadata={"pattern": "^[0-9]{6}$"})


class EntityQuerySchema(PageQuerySchema):
    kind = fields.Str(load_default=None, metadata=_enum(EntityKind))
    industry = fields.Str(load_default=None)
    region_code = fields.Str(
        load_default=None, metadata={"description": "6 digits; a city (XXYY00) or province (XX0000) code selects all below it"}
    )
    station = fields.Str(load_default=None)
    credit_class = fields.Str(load_default=None, metadata=_enum((*CREDIT_CLASSES, UNCLASSIFIED)))
    status = fields.Str(load_default=None, metadata=_enum(EntityStatus))
    scale = fields.Str(load_default=None, metadata=_enum(EntityScale))


class EntityPageSchema(PageSchema):
    items = fields.List(fields.Nested(EntitySchema))


class EntityDeactivateSchema(Schema):
    status = fields.Str(load_default="deregistered", metadata=_enum(INACTIVE_STATUSES))


# --------------------------------------------------------------------------- inspectors


class InspectorSchema(Schema):
    id = fields.Int(dump_only=True)
    name = fields.Str()
    department_id = fields.Int()
    department_code = fields.Str(attribute="department.code", dump_only=True)
    station = fields.Str()
    certificate_no = fields.Str()
    qualifications = fields.List(fields.Str())
    region_code = fields.Str()
    active = fields.Bool()
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class InspectorUpdateSchema(Schema):
    name = fields.Str()
    department_id = fields.Int()
    station = fields.Str()
    certificate_no = fields.Str()
    # Raw so that the service, not marshmallow, reports an empty or non-text entry.
    qualifications = fields.Raw(metadata={"type": "array", "items": {"type": "string"}})
    region_code = fields.Str(metadata={"pattern": "^[0-9]{6}$"})
    active = fields.Bool()


class InspectorCreateSchema(InspectorUpdateSchema):
    name = fields.Str(required=True)
    department_id = fields.Int(required=True)
    certificate_no = fields.Str(required=True)
    region_code = fields.Str(required=True, metadata={"pattern": "^[0-9]{6}$"})


class InspectorQuerySchema(PageQuerySchema):
    department_id = fields.Int(load_default=None)
    station = fields.Str(load_default=None)
    region_code = fields.Str(load_default=None)
    qualification = fields.Str(load_default=None)
    active = fields.Bool(load_default=None)


class InspectorPageSchema(PageSchema):
    items = fields.List(fields.Nested(InspectorSchema))


# --------------------------------------------------------------------------- imports


class ImportFileSchema(Schema):
    file = Upload(required=True, metadata={"description": "A .csv (UTF-8 or GB18030) or .xlsx file"})


class RowErrorSchema(Schema):
    row = fields.Int(metadata={"description": "Row number as a spreadsheet shows it (header = 1)"})
    reasons = fields.List(fields.Str())


class ImportResultSchema(Schema):
    ok = fields.Bool()
    created = fields.Int()
    updated = fields.Int()
    errors = fields.List(fields.Nested(RowErrorSchema))


class DomainErrorSchema(Schema):
    """The body of a domain error (see app.web)."""

    error = fields.Str()
    message = fields.Str()
    errors = fields.Dict(keys=fields.Str(), values=fields.List(fields.Str()))
