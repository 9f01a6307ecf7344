"""Pages of the directory package: browse, search, add, edit, deactivate, import.

Views only wire forms to ``app.directory.service`` and ``app.directory.importer``;
every rule lives there. Any staff member may browse; only administrators and draw
coordinators may change anything.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from app.auth.decorators import roles_required
from app.directory import importer, service
from app.directory.forms import (
    LABELS,
    CheckItemForm,
    CheckItemSearchForm,
    DeactivateForm,
    DepartmentForm,
    DepartmentSearchForm,
    EntityDeactivateForm,
    EntityForm,
    EntitySearchForm,
    ImportForm,
    InspectorForm,
    InspectorSearchForm,
)
from app.directory.importer import ImportKind
from app.directory.models import Department
from app.errors import ValidationFailed
from app.extensions import db

bp = Blueprint("directory", __name__)

staff_only = roles_required(*service.STAFF_ROLES)
editors_only = roles_required(*service.EDITOR_ROLES)

Rendered = tuple[str, int] | str | Response


@bp.context_processor
def directory_globals() -> dict[str, Any]:
    """Template values of every directory page: whether the user may edit, display labels."""
    can_edit = bool(current_user.is_authenticated and current_user.has_role(*service.EDITOR_ROLES))
    return {"can_edit": can_edit, "labels": LABELS}


# --------------------------------------------------------------------------- wiring helpers


def _attach_errors(form: FlaskForm, err: ValidationFailed) -> None:
    """Show a service's messages next to the fields they concern."""
    for name, messages in err.errors.items():
        field = form._fields.get(name)
        if field is None:
            form.form_errors.extend(f"{name}: {m}" for m in messages)
        else:
            field.errors = list(field.errors) + list(messages)


def _page_number() -> int:
    return max(1, request.args.get("page", 1, type=int) or 1)


def _per_page() -> int:
    return int(current_app.config.get("PAGE_SIZE", service.DEFAULT_PER_PAGE))


def _active_filter(value: str | None) -> bool | None:
    return {"1": True, "0": False}.get(value or "")


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _data(form: FlaskForm, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: form._fields[name].data for name in fields if name in form._fields}


def _department_choices(current_id: int | None = None) -> list[SelectChoice]:
    departments = service.list_departments(active_only=True)
    # An object attached to a department that has since closed keeps showing it.
    if current_id is not None and all(d.id != current_id for d in departments):
        departments.append(service.get_department(current_id))
    return [SelectChoice(str(d.id), f"{d.code} {d.name}") for d in departments]


def _search(form: FlaskForm, run: Callable[[], service.Page[Any]]) -> service.Page[Any] | None:
    if not form.validate():
        return None
    try:
        return run()
    except ValidationFailed as err:
        _attach_errors(form, err)
        return None


def _save(
    form: FlaskForm,
    action: Callable[[], Any],
    done: Callable[[Any], str],
    message: str,
) -> Response | None:
    """Run ``action`` on a valid submission, commit and redirect; None when the form must show again."""
    if not form.validate_on_submit():
        return None
    try:
        obj = action()
    except ValidationFailed as err:
        db.session.rollback()
        _attach_errors(form, err)
        return None
    db.session.commit()
    flash(message, "success")
    return redirect(done(obj))


def _deactivate(form: FlaskForm, action: Callable[[], Any], detail_url: str, message: str) -> Response:
    """Run a deactivation posted from a detail page and go back there, saying what happened."""
    done = _save(form, action, lambda _obj: detail_url, message)
    if done is None:
        reasons = "; ".join(str(m) for messages in form.errors.values() for m in messages)
        flash(_("Nothing was changed: %(reasons)s", reasons=reasons), "danger")
        return redirect(detail_url)
    return done


def _form_page(form: FlaskForm, title: str, cancel_url: str) -> tuple[str, int]:
    status = 422 if (form.errors or form.form_errors) else 200
    return render_template("directory/form.html", form=form, title=title, cancel_url=cancel_url), status


def _import_page(kind: ImportKind, title: str, back_url: str) -> tuple[str, int]:
    form = ImportForm()
    result: importer.ImportResult | None = None
    if form.validate_on_submit():
        upload = form.file.data
        try:
            result = importer.import_records(kind, importer.read_upload(upload.stream), upload.filename or "",
                                            actor=current_user)
        except ValidationFailed as err:
            db.session.rollback()
            form.file.errors = list(form.file.errors) + [m for messages in err.errors.values() for m in messages]
    failed = bool(form.errors) or (result is not None and not result.ok)
    return (
        render_template(
            "directory/import.html",
            form=form,
            result=result,
            title=title,
            back_url=back_url,
            columns=importer.expected_columns(kind),
        ),
        422 if failed else 200,
    )


# --------------------------------------------------------------------------- entities


@bp.get("/directory/entities")
@staff_only
def entities() -> Rendered:
    """Browse and search the entity directory."""
    form = EntitySearchForm(formdata=request.args)
    page = _search(
        form,
        lambda: service.search_entities(
            form.q.data or "",
            kind=form.kind.data,
            industry=form.industry.data,
            region_code=form.region_code.data,
            station=form.station.data,
            credit_class=form.credit_class.data,
            status=form.status.data,
            scale=form.scale.data,
            page=_page_number(),
            per_page=_per_page(),
        ),
    )
    return render_template("directory/entities.html", form=form, page=page)


@bp.get("/directory/entities/<int:entity_id>")
@staff_only
def entity_detail(entity_id: int) -> Rendered:
    """One entity, with edit and deactivate controls for editors."""
    return render_template(
        "directory/entity_detail.html", entity=service.get_entity(entity_id), deactivate_form=EntityDeactivateForm()
    )


@bp.route("/directory/entities/new", methods=["GET", "POST"])
@editors_only
def entity_new() -> Rendered:
    """Add an entity."""
    form = EntityForm()
    done = _save(
        form,
        lambda: service.create_entity(actor=current_user, **_data(form, service.ENTITY_FIELDS)),
        lambda e: url_for(".entity_detail", entity_id=e.id),
        _("Entity added."),
    )
    return done or _form_page(form, _("Add entity"), url_for(".entities"))


@bp.route("/directory/entities/<int:entity_id>/edit", methods=["GET", "POST"])
@editors_only
def entity_edit(entity_id: int) -> Rendered:
    """Edit an entity."""
    entity = service.get_entity(entity_id)
    form = EntityForm(obj=entity)
    done = _save(
        form,
        lambda: service.update_entity(entity_id, actor=current_user, **_data(form, service.ENTITY_FIELDS)),
        lambda e: url_for(".entity_detail", entity_id=e.id),
        _("Entity saved."),
    )
    return done or _form_page(form, _("Edit entity"), url_for(".entity_detail", entity_id=entity_id))


@bp.post("/directory/entities/<int:entity_id>/deactivate")
@editors_only
def entity_deactivate(entity_id: int) -> Rendered:
    """Give an entity a non-active status, taking it out of future draws."""
    form = EntityDeactivateForm()
    return _deactivate(
        form,
        lambda: service.deactivate_entity(entity_id, form.status.data, actor=current_user),
        url_for(".entity_detail", entity_id=entity_id),
        _("Entity taken out of the directory."),
    )


@bp.route("/directory/entities/import", methods=["GET", "POST"])
@editors_only
def entity_import() -> Rendered:
    """Import entities from a CSV or XLSX file."""
    return _import_page(ImportKind.ENTITIES, _("Import entities"), url_for(".entities"))


# --------------------------------------------------------------------------- inspectors


@bp.get("/directory/inspectors")
@staff_only
def inspectors() -> Rendered:
    """Browse and search the inspector directory."""
    form = InspectorSearchForm(formdata=request.args)
    form.department_id.choices = [SelectChoice("", _("Any department"))] + [
        c for c in _department_choices()
    ]
    page = _search(
        form,
        lambda: service.search_inspectors(
            form.q.data or "",
            department_id=_int_or_none(form.department_id.data),
            station=form.station.data,
            qualification=form.qualification.data,
            active=_active_filter(form.active.data),
            page=_page_number(),
            per_page=_per_page(),
        ),
    )
    return render_template("directory/inspectors.html", form=form, page=page)


@bp.get("/directory/inspectors/<int:inspector_id>")
@staff_only
def inspector_detail(inspector_id: int) -> Rendered:
    """One inspector, with edit and deactivate controls for editors."""
    return render_template(
        "directory/inspector_detail.html", inspector=service.get_inspector(inspector_id), deactivate_form=DeactivateForm()
    )


@bp.route("/directory/inspectors/new", methods=["GET", "POST"])
@editors_only
def inspector_new() -> Rendered:
    """Add an inspector."""
    form = InspectorForm()
    form.department_id.choices = _department_choices()
    done = _save(
        form,
        lambda: service.create_inspector(actor=current_user, **_data(form, service.INSPECTOR_FIELDS)),
        lambda i: url_for(".inspector_detail", inspector_id=i.id),
        _("Inspector added."),
    )
    return done or _form_page(form, _("Add inspector"), url_for(".inspectors"))


@bp.route("/directory/inspectors/<int:inspector_id>/edit", methods=["GET", "POST"])
@editors_only
def inspector_edit(inspector_id: int) -> Rendered:
    """Edit an inspector."""
    inspector = service.get_inspector(inspector_id)
    form = InspectorForm(obj=inspector)
    form.department_id.choices = _department_choices(inspector.department_id)
    if request.method == "GET":
        form.qualifications.data = "; ".join(inspector.qualifications or [])
    done = _save(
        form,
        lambda: service.update_inspector(inspector_id, actor=current_user, **_data(form, service.INSPECTOR_FIELDS)),
        lambda i: url_for(".inspector_detail", inspector_id=i.id),
        _("Inspector saved."),
    )
    return done or _form_page(form, _("Edit inspector"), url_for(".inspector_detail", inspector_id=inspector_id))


@bp.post("/directory/inspectors/<int:inspector_id>/deactivate")
@editors_only
def inspector_deactivate(inspector_id: int) -> Rendered:
    """Deactivate an inspector."""
    return _deactivate(
        DeactivateForm(),
        lambda: service.deactivate_inspector(inspector_id, actor=current_user),
        url_for(".inspector_detail", inspector_id=inspector_id),
        _("Inspector deactivated."),
    )


@bp.route("/directory/inspectors/import", methods=["GET", "POST"])
@editors_only
def inspector_import() -> Rendered:
    """Import inspectors from a CSV or XLSX file."""
    return _import_page(ImportKind.INSPECTORS, _("Import inspectors"), url_for(".inspectors"))


# --------------------------------------------------------------------------- check items


@bp.get("/directory/check-items")
@staff_only
def check_items() -> Rendered:
    """Browse and search the check-item list."""
    form = CheckItemSearchForm(formdata=request.args)
    form.department_id.choices = [SelectChoice("", _("Any department"))] + [
        c for c in _department_choices()
    ]
    page = _search(
        form,
        lambda: service.search_check_items(
            form.q.data or "",
            department_id=_int_or_none(form.department_id.data),
            kind=form.kind.data,
            active=_active_filter(form.active.data),
            page=_page_number(),
            per_page=_per_page(),
        ),
    )
    return render_template("directory/check_items.html", form=form, page=page)


@bp.get("/directory/check-items/<int:item_id>")
@staff_only
def check_item_detail(item_id: int) -> Rendered:
    """One check item, with edit and deactivate controls for editors."""
    return render_template(
        "directory/check_item_detail.html", item=service.get_check_item(item_id), deactivate_form=DeactivateForm()
    )


@bp.route("/directory/check-items/new", methods=["GET", "POST"])
@editors_only
def check_item_new() -> Rendered:
    """Add a check item."""
    form = CheckItemForm()
    form.department_id.choices = _department_choices()
    done = _save(
        form,
        lambda: service.create_check_item(actor=current_user, **_data(form, service.CHECK_ITEM_FIELDS)),
        lambda i: url_for(".check_item_detail", item_id=i.id),
        _("Check item added."),
    )
    return done or _form_page(form, _("Add check item"), url_for(".check_items"))


@bp.route("/directory/check-items/<int:item_id>/edit", methods=["GET", "POST"])
@editors_only
def check_item_edit(item_id: int) -> Rendered:
    """Edit a check item."""
    item = service.get_check_item(item_id)
    form = CheckItemForm(obj=item)
    form.department_id.choices = _department_choices(item.department_id)
    done = _save(
        form,
        lambda: service.update_check_item(item_id, actor=current_user, **_data(form, service.CHECK_ITEM_FIELDS)),
        lambda i: url_for(".check_item_detail", item_id=i.id),
        _("Check item saved."),
    )
    return done or _form_page(form, _("Edit check item"), url_for(".check_item_detail", item_id=item_id))


@bp.post("/directory/check-items/<int:item_id>/deactivate")
@editors_only
def check_item_deactivate(item_id: int) -> Rendered:
    """Take a check item off the list."""
    return _deactivate(
        DeactivateForm(),
        lambda: service.deactivate_check_item(item_id, actor=current_user),
        url_for(".check_item_detail", item_id=item_id),
        _("Check item deactivated."),
    )


@bp.route("/directory/check-items/import", methods=["GET", "POST"])
@editors_only
def check_item_import() -> Rendered:
    """Import check items from a CSV or XLSX file."""
    return _import_page(ImportKind.CHECK_ITEMS, _("Import check items"), url_for(".check_items"))


# --------------------------------------------------------------------------- departments


def _parent_choices(current: Department | None) -> list[SelectChoice]:
    departments = service.list_departments(active_only=False)
    return [SelectChoice("", _("None"))] + [
        SelectChoice(str(d.id), f"{d.code} {d.name}") for d in departments if current is None or d.id != current.id
    ]


@bp.get("/directory/departments")
@staff_only
def departments() -> Rendered:
    """Browse and search departments."""
    form = DepartmentSearchForm(formdata=request.args)
    page = _search(
        form,
        lambda: service.search_departments(
            form.q.data or "",
            level=form.level.data,
            active=_active_filter(form.active.data),
            page=_page_number(),
            per_page=_per_page(),
        ),
    )
    return render_template("directory/departments.html", form=form, page=page)


@bp.get("/directory/departments/<int:department_id>")
@staff_only
def department_detail(department_id: int) -> Rendered:
    """One department, with edit and deactivate controls for editors."""
    return render_template(
        "directory/department_detail.html",
        department=service.get_department(department_id),
        deactivate_form=DeactivateForm(),
    )


@bp.route("/directory/departments/new", methods=["GET", "POST"])
@editors_only
def department_new() -> Rendered:
    """Add a department."""
    form = DepartmentForm()
    form.parent_id.choices = _parent_choices(None)
    done = _save(
        form,
        lambda: service.create_department(actor=current_user, **_data(form, service.DEPARTMENT_FIELDS)),
        lambda d: url_for(".department_detail", department_id=d.id),
        _("Department added."),
    )
    return done or _form_page(form, _("Add department"), url_for(".departments"))


@bp.route("/directory/departments/<int:department_id>/edit", methods=["GET", "POST"])
@editors_only
def department_edit(department_id: int) -> Rendered:
    """Edit a department."""
    department = service.get_department(department_id)
    form = DepartmentForm(obj=department)
    form.parent_id.choices = _parent_choices(department)
    done = _save(
        form,
        lambda: service.update_department(department_id, actor=current_user, **_data(form, service.DEPARTMENT_FIELDS)),
        lambda d: url_for(".department_detail", department_id=d.id),
        _("Department saved."),
    )
    return done or _form_page(form, _("Edit department"), url_for(".department_detail", department_id=department_id))


@bp.post("/directory/departments/<int:department_id>/deactivate")
@editors_only
def department_deactivate(department_id: int) -> Rendered:
    """Deactivate a department."""
    return _deactivate(
        DeactivateForm(),
        lambda: service.deactivate_department(department_id, actor=current_user),
        url_for(".department_detail", department_id=department_id),
        _("Department deactivated."),
    )
