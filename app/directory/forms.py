"""Forms and display labels of the directory pages.

The forms check only what a browser can get wrong (presence, length, choice lists);
the rules live in ``app.directory.service`` and its messages are attached to the
fields by the views.
"""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from app.directory.models import DepartmentLevel, EntityKind, EntityScale, EntityStatus, ItemKind
from app.directory.service import INACTIVE_STATUSES, UNCLASSIFIED

ENTITY_KIND_LABELS = {
    EntityKind.ENTERPRISE: _l("Enterprise"),
    EntityKind.INDIVIDUAL: _l("Individual business"),
    EntityKind.COOPERATIVE: _l("Farmers' cooperative"),
    EntityKind.OTHER: _l("Other (product, project, conduct)"),
}
ENTITY_STATUS_LABELS = {
    EntityStatus.ACTIVE: _l("In business"),  # not "Active": that word is used for check items and inspectors
    EntityStatus.CLOSED: _l("Closed or in liquidation"),
    EntityStatus.DEREGISTERED: _l("Deregistered"),
    EntityStatus.REVOKED: _l("Licence revoked"),
    EntityStatus.MOVED_OUT: _l("Moved out"),
}
ENTITY_SCALE_LABELS = {
    EntityScale.LARGE: _l("Large"),
    EntityScale.MEDIUM: _l("Medium"),
    EntityScale.SMALL: _l("Small"),
    EntityScale.MICRO: _l("Micro"),
}
CREDIT_CLASS_LABELS = {
    "A": _l("A (low risk)"),
    "B": _l("B (general risk)"),
    "C": _l("C (higher risk)"),
    "D": _l("D (high risk)"),
}
ITEM_KIND_LABELS = {ItemKind.GENERAL: _l("General item"), ItemKind.KEY: _l("Key item")}
DEPARTMENT_LEVEL_LABELS = {
    DepartmentLevel.PROVINCE: _l("Province"),
    DepartmentLevel.CITY: _l("City"),
    DepartmentLevel.COUNTY: _l("County"),
}

LABELS: dict[str, dict[Any, Any]] = {
    "entity_kind": ENTITY_KIND_LABELS,
    "entity_status": ENTITY_STATUS_LABELS,
    "entity_scale": ENTITY_SCALE_LABELS,
    "credit_class": CREDIT_CLASS_LABELS,
    "item_kind": ITEM_KIND_LABELS,
    "department_level": DEPARTMENT_LEVEL_LABELS,
}


class BlankableSelectField(SelectField):
    """A select whose blank option stands for "none": a NULL column or an absent filter
    selects it, instead of matching no option and failing validation."""

    def process_data(self, value: Any) -> None:
        self.data = "" if value is None else str(value)

    def process_formdata(self, valuelist: list[Any]) -> None:
        if valuelist:
            self.data = str(valuelist[0])


def _options(labels: dict[Any, Any], blank: Any = None) -> list[SelectChoice]:
    options = [SelectChoice(str(key), label) for key, label in labels.items()]
    return ([SelectChoice("", blank)] if blank is not None else []) + options


def _filter(label: Any, choices: list[SelectChoice]) -> SelectField:
    """A search filter; absent from the query string means "any", never the text "None"."""
    return BlankableSelectField(label, choices=choices)


_ACTIVE_CHOICES = [
    SelectChoice("", _l("All")),
    SelectChoice("1", _l("Active only")),
    SelectChoice("0", _l("Inactive only")),
]


class SearchForm(FlaskForm):
    """Filters sent with GET: no CSRF token, since reading changes nothing and a token
    in the URL would leak through history and Referer headers."""

    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=256)])


class EntitySearchForm(SearchForm):
    kind = _filter(_l("Type"), _options(ENTITY_KIND_LABELS, _l("Any type")))
    status = _filter(_l("Status"), _options(ENTITY_STATUS_LABELS, _l("Any status")))
    credit_class = _filter(
        _l("Credit-risk class"),
        _options(CREDIT_CLASS_LABELS, _l("Any class")) + [SelectChoice(UNCLASSIFIED, _l("Unclassified"))],
    )
    scale = _filter(_l("Scale"), _options(ENTITY_SCALE_LABELS, _l("Any scale")))
    industry = StringField(_l("Industry"), validators=[Optional(), Length(max=64)])
    region_code = StringField(_l("Region code"), validators=[Optional(), Length(max=6)])
    station = StringField(_l("Station"), validators=[Optional(), Length(max=128)])


class InspectorSearchForm(SearchForm):
    department_id = _filter(_l("Department"), [])
    qualification = StringField(_l("Qualification"), validators=[Optional(), Length(max=64)])
    station = StringField(_l("Station"), validators=[Optional(), Length(max=128)])
    active = _filter(_l("Active"), _ACTIVE_CHOICES)


class CheckItemSearchForm(SearchForm):
    department_id = _filter(_l("Department"), [])
    kind = _filter(_l("Kind"), _options(ITEM_KIND_LABELS, _l("Any kind")))
    active = _filter(_l("Active"), _ACTIVE_CHOICES)


class DepartmentSearchForm(SearchForm):
    level = _filter(_l("Level"), _options(DEPARTMENT_LEVEL_LABELS, _l("Any level")))
    active = _filter(_l("Active"), _ACTIVE_CHOICES)


class EntityForm(FlaskForm):
    uscc = StringField(_l("Unified social credit code"), validators=[DataRequired(), Length(max=32)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=256)])
    kind = SelectField(_l("Type"), choices=_options(ENTITY_KIND_LABELS))
    industry = StringField(_l("Industry"), validators=[Length(max=64)])
    scale = BlankableSelectField(_l("Scale"), choices=_options(ENTITY_SCALE_LABELS, _l("Not given")))
    region_code = StringField(_l("Region code"), validators=[DataRequired(), Length(max=6)])
    station = StringField(_l("Station"), validators=[Length(max=128)])
    address = StringField(_l("Address"), validators=[Length(max=512)])
    legal_representative = StringField(_l("Legal representative"), validators=[Length(max=64)])
    credit_class = BlankableSelectField(_l("Credit-risk class"), choices=_options(CREDIT_CLASS_LABELS, _l("Unclassified")))
    status = SelectField(_l("Status"), choices=_options(ENTITY_STATUS_LABELS))
    registered_on = DateField(_l("Registered on"), validators=[Optional()])


class InspectorForm(FlaskForm):
    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=64)])
    department_id = SelectField(_l("Department"), coerce=int, choices=[])
    station = StringField(_l("Station"), validators=[Length(max=128)])
    certificate_no = StringField(_l("Enforcement certificate number"), validators=[DataRequired(), Length(max=32)])
    qualifications = StringField(
        _l("Qualifications"),
        description=_l("Separate several with ; or 、"),
        validators=[Length(max=1000)],
    )
    region_code = StringField(_l("Region code"), validators=[DataRequired(), Length(max=6)])
    active = BooleanField(_l("Active"), default=True)


class CheckItemForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32)])
    category = StringField(_l("Category"), validators=[DataRequired(), Length(max=256)])
    name = TextAreaField(_l("Check item"), validators=[DataRequired(), Length(max=2000)])
    object_type = StringField(_l("Object checked"), validators=[Length(max=256)])
    kind = SelectField(_l("Kind"), choices=_options(ITEM_KIND_LABELS))
    method = StringField(_l("Method"), validators=[Length(max=64)])
    department_id = SelectField(_l("Department"), coerce=int, choices=[])
    legal_basis = TextAreaField(_l("Legal basis"), validators=[Length(max=10000)])
    active = BooleanField(_l("Active"), default=True)


def _optional_int(value: Any) -> int | None:
    if value in (None, "", "None"):
        return None
    return int(value)


class DepartmentForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=128)])
    level = SelectField(_l("Level"), choices=_options(DEPARTMENT_LEVEL_LABELS))
    region_code = StringField(_l("Region code"), validators=[DataRequired(), Length(max=6)])
    parent_id = SelectField(_l("Parent department"), coerce=_optional_int, choices=[])
    active = BooleanField(_l("Active"), default=True)


class DeactivateForm(FlaskForm):
    """An empty form: it only carries the CSRF token of a deactivation."""


class EntityDeactivateForm(FlaskForm):
    status = SelectField(
        _l("New status"),
        choices=[SelectChoice(s, ENTITY_STATUS_LABELS[EntityStatus(s)]) for s in INACTIVE_STATUSES],
        default=EntityStatus.DEREGISTERED.value,
    )


class ImportForm(FlaskForm):
    file = FileField(
        _l("File"),
        validators=[FileRequired(), FileAllowed(["csv", "xlsx"], _l("Only .csv and .xlsx files can be imported."))],
    )
