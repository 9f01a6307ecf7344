"""API of the directory package: the same operations and role rules as the pages.

Mounted at /api/v1/directory; the bearer token has been checked before any of this
runs. Every staff role may read; only administrators and draw coordinators may write.
"""
from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_smorest import Blueprint

from app.auth.decorators import roles_required
from app.directory import importer, service
from app.directory.importer import ImportKind, ImportResult
from app.directory.models import CheckItem, Department, Entity, Inspector
from app.directory.schemas import (
    CheckItemCreateSchema,
    CheckItemPageSchema,
    CheckItemQuerySchema,
    CheckItemSchema,
    CheckItemUpdateSchema,
    DepartmentCreateSchema,
    DepartmentPageSchema,
    DepartmentQuerySchema,
    DepartmentSchema,
    DepartmentUpdateSchema,
    EntityCreateSchema,
    EntityDeactivateSchema,
    EntityPageSchema,
    EntityQuerySchema,
    EntitySchema,
    EntityUpdateSchema,
    DomainErrorSchema,
    ImportFileSchema,
    ImportResultSchema,
    InspectorCreateSchema,
    InspectorPageSchema,
    InspectorQuerySchema,
    InspectorSchema,
    InspectorUpdateSchema,
)
from app.extensions import db

blp = Blueprint("directory_api", __name__, url_prefix="/directory", description="directory")

# Role checks wrap the argument parsing, so a caller without the right role learns
# nothing from validation messages.
staff_only = roles_required(*service.STAFF_ROLES)
editors_only = roles_required(*service.EDITOR_ROLES)


def _committed(obj: Any) -> Any:
    db.session.commit()
    return obj


def _import(kind: ImportKind, files: dict[str, Any]) -> tuple[ImportResult, int]:
    upload = files["file"]
    result = importer.import_records(kind, importer.read_upload(upload.stream), upload.filename or "",
                                    actor=current_user)
    return result, (200 if result.ok else 422)


# --------------------------------------------------------------------------- entities


@blp.get("/entities")
@staff_only
@blp.arguments(EntityQuerySchema, location="query")
@blp.response(200, EntityPageSchema)
def list_entities(args: dict[str, Any]) -> service.Page[Entity]:
    """Search the entity directory (free text on name and USCC, plus filters)."""
    return service.search_entities(**args)


@blp.post("/entities")
@editors_only
@blp.arguments(EntityCreateSchema)
@blp.response(201, EntitySchema)
@blp.alt_response(422, schema=DomainErrorSchema)
def create_entity(data: dict[str, Any]) -> Entity:
    """Add an entity."""
    return _committed(service.create_entity(actor=current_user, **data))


@blp.get("/entities/<int:entity_id>")
@staff_only
@blp.response(200, EntitySchema)
@blp.alt_response(404, schema=DomainErrorSchema)
def get_entity(entity_id: int) -> Entity:
    """One entity."""
    return service.get_entity(entity_id)


@blp.patch("/entities/<int:entity_id>")
@editors_only
@blp.arguments(EntityUpdateSchema)
@blp.response(200, EntitySchema)
@blp.alt_response(422, schema=DomainErrorSchema)
def update_entity(data: dict[str, Any], entity_id: int) -> Entity:
    """Change some fields of an entity."""
    return _committed(service.update_entity(entity_id, actor=current_user, **data))


@blp.post("/entities/<int:entity_id>/deactivate")
@editors_only
@blp.arguments(EntityDeactivateSchema, required=False)
@blp.response(200, EntitySchema)
def deactivate_entity(data: dict[str, Any], entity_id: int) -> Entity:
    """Take an entity out of the pool by giving it a non-active status (default: deregistered)."""
    return _committed(service.deactivate_entity(entity_id, actor=current_user, **data))


@blp.post("/entities/import")
@editors_only
@blp.arguments(ImportFileSchema, location="files")
@blp.response(200, ImportResultSchema)
@blp.alt_response(422, schema=ImportResultSchema, description="Rows with errors; nothing was imported")
def import_entities(files: dict[str, Any]) -> tuple[ImportResult, int]:
    """Import entities from CSV or XLSX, all rows or none; existing USCCs are updated."""
    return _import(ImportKind.ENTITIES, files)


# --------------------------------------------------------------------------- inspectors


@blp.get("/inspectors")
@staff_only
@blp.arguments(InspectorQuerySchema, location="query")
@blp.response(200, InspectorPageSchema)
def list_inspectors(args: dict[str, Any]) -> service.Page[Inspector]:
    """Search the inspector directory (free text on name and certificate number, plus filters)."""
    return service.search_inspectors(**args)


@blp.post("/inspectors")
@editors_only
@blp.arguments(InspectorCreateSchema)
@blp.response(201, InspectorSchema)
@blp.alt_response(422, schema=DomainErrorSchema)
def create_inspector(data: dict[str, Any]) -> Inspector:
    """Add an inspector."""
    return _committed(service.create_inspector(actor=current_user, **data))


@blp.get("/inspectors/<int:inspector_id>")
@staff_only
@blp.response(200, InspectorSchema)
@blp.alt_response(404, schema=DomainErrorSchema)
def get_inspector(inspector_id: int) -> Inspector:
    """One inspector."""
    return service.get_inspector(inspector_id)


@blp.patch("/inspectors/<int:inspector_id>")
@editors_only
@blp.arguments(InspectorUpdateSchema)
@blp.response(200, InspectorSchema)
@blp.alt_response(422, schema=DomainErrorSchema)
def update_inspector(data: dict[str, Any], inspector_id: int) -> Inspector:
    """Change some fields of an inspector."""
    return _committed(service.update_inspector(inspector_id, actor=current_user, **data))


@blp.post("/inspectors/<int:inspector_id>/deactivate")
@editors_only
@blp.response(200, InspectorSchema)
def deactivate_inspector(inspector_id: int) -> Inspector:
    """Take an inspector out of future draws."""
    return _committed(service.deactivate_inspector(inspector_id, actor=current_user))


@blp.post("/inspectors/import")
@editors_only
@blp.arguments(ImportFileSchema, location="files")
@blp.response(200, ImportResultSchema)
@blp.alt_response(422, schema=ImportResultSchema, description="Rows with errors; nothing was imported")
def import_inspectors(files: dict[str, Any]) -> tuple[ImportResult, int]:
    """Import inspectors from CSV or XLSX, all rows or none; existing certificate numbers are updated."""
    return _import(ImportKind.INSPECTORS, files)


# --------------------------------------------------------------------------- check items


@blp.get("/check-items")
@staff_only
@blp.arguments(CheckItemQuerySchema, location="query")
@blp.response(200, CheckItemPageSchema)
def list_check_items(args: dict[str, Any]) -> service.Page[CheckItem]:
    """Search the check-item list (free text on code, name and category, plus filters)."""
    return service.search_check_items(**args)


@blp.post("/check-items")
@editors_only
@blp.arguments(CheckItemCreateSchema)
@blp.response(201, CheckItemSchema)
@blp.alt_response(422, schema=DomainErrorSchema)
def create_check_item(data: dict[str, Any]) -> CheckItem:
    """Add a check item."""
    return _committed(service.create_check_item(actor=current_user, **data))


@blp.get("/check-items/<int:item_id>")
@staff_only
@blp.response(200, CheckItemSchema)
@blp.alt_response(404, schema=DomainErrorSchema)
def get_check_item(item_id: int) -> CheckItem:
    """One check item."""
    return service.get_check_item(item_id)


@blp.patch("/check-items/<int:item_id>")
@editors_only
@blp.arguments(CheckItemUpdateSchema)
@blp.response(200, CheckItemSchema)
@blp.alt_response(422, schema=DomainErrorSchema)
def update_check_item(data: dict[str, Any], item_id: int) -> CheckItem:
    """Change some fields of a check item."""
    return _committed(service.update_check_item(item_id, actor=current_user, **data))


@blp.post("/check-items/<int:item_id>/deactivate")
@editors_only
@blp.response(200, CheckItemSchema)
def deactivate_check_item(item_id: int) -> CheckItem:
    """Take a check item off the list."""
    return _committed(service.deactivate_check_item(item_id, actor=current_user))


@blp.post("/check-items/import")
@editors_only
@blp.arguments(ImportFileSchema, location="files")
@blp.response(200, ImportResultSchema)
@blp.alt_response(422, schema=ImportResultSchema, description="Rows with errors; nothing was imported")
def import_check_items(files: dict[str, Any]) -> tuple[ImportResult, int]:
    """Import check items from CSV or XLSX, all rows or none; existing codes are updated."""
    return _import(ImportKind.CHECK_ITEMS, files)


# --------------------------------------------------------------------------- departments


@blp.get("/departments")
@staff_only
@blp.arguments(DepartmentQuerySchema, location="query")
@blp.response(200, DepartmentPageSchema)
def list_departments(args: dict[str, Any]) -> service.Page[Department]:
    """Search departments (free text on code and name, plus filters)."""
    return service.search_departments(**args)


@blp.post("/departments")
@editors_only
@blp.arguments(DepartmentCreateSchema)
@blp.response(201, DepartmentSchema)
@blp.alt_response(422, schema=DomainErrorSchema)
def create_department(data: dict[str, Any]) -> Department:
    """Add a department."""
    return _committed(service.create_department(actor=current_user, **data))


@blp.get("/departments/<int:department_id>")
@staff_only
@blp.response(200, DepartmentSchema)
@blp.alt_response(404, schema=DomainErrorSchema)
def get_department(department_id: int) -> Department:
    """One department."""
    return service.get_department(department_id)


@blp.patch("/departments/<int:department_id>")
@editors_only
@blp.arguments(DepartmentUpdateSchema)
@blp.response(200, DepartmentSchema)
@blp.alt_response(422, schema=DomainErrorSchema)
def update_department(data: dict[str, Any], department_id: int) -> Department:
    """Change some fields of a department."""
    return _committed(service.update_department(department_id, actor=current_user, **data))


@blp.post("/departments/<int:department_id>/deactivate")
@editors_only
@blp.response(200, DepartmentSchema)
def deactivate_department(department_id: int) -> Department:
    """Mark a department inactive."""
    return _committed(service.deactivate_department(department_id, actor=current_user))
