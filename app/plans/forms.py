"""Forms for drafting plans and their tasks (Flask-WTF: CSRF on every one)."""
from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, DateField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.directory.models import CheckItem, Department, EntityKind, EntityScale
from app.extensions import db
from app.directory.forms import ENTITY_KIND_LABELS, ENTITY_SCALE_LABELS
from app.plans.models import InspectionMode, PlanStatus
from app.plans.rules import CREDIT_STRATA

PLAN_STATUS_LABELS = {
    PlanStatus.DRAFT: _l("Draft"),
    PlanStatus.LEGAL_REVIEW: _l("Legality review"),
    PlanStatus.LEADER_APPROVAL: _l("Awaiting leadership"),
    PlanStatus.RETURNED: _l("Returned for redrafting"),
    PlanStatus.PUBLISHED: _l("Approved and published"),
    PlanStatus.REJECTED: _l("Rejected"),
}
MODE_LABELS = {
    InspectionMode.CITY_CITY: _l("City draws, city checks (市抽市查)"),
    InspectionMode.CITY_COUNTY: _l("City draws, counties check (市抽县查)"),
    InspectionMode.COUNTY_COUNTY: _l("County draws, county checks (县抽县查)"),
    InspectionMode.CITY_COUNTY_JOINT: _l("City and counties jointly (市县联查)"),
}


def department_choices() -> list[tuple[int, str]]:
    rows = db.session.execute(select(Department.id, Department.name).where(Department.active).order_by(Department.code))
    return [(row.id, row.name) for row in rows]


def check_item_choices() -> list[tuple[int, str]]:
    rows = db.session.execute(
        select(CheckItem.id, CheckItem.code, CheckItem.category, CheckItem.name)
        .where(CheckItem.active)
        .order_by(CheckItem.code)
    )
    return [(r.id, f"{r.code} {r.category}: {r.name[:60]}") for r in rows]


class PlanForm(FlaskForm):
    code = StringField(_l("Plan number"), validators=[DataRequired(), Length(max=32)])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=256)])
    year = IntegerField(_l("Year"), default=lambda: date.today().year, validators=[DataRequired(), NumberRange(2000, 2100)])
    department_id = SelectField(_l("Drafting department"), coerce=int)
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=4000)])


class PlanEditForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=256)])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=4000)])


class SpotCheckTaskForm(FlaskForm):
    code = StringField(_l("Task number"), validators=[DataRequired(), Length(max=32)])
    name = StringField(_l("Task name"), validators=[DataRequired(), Length(max=256)])
    targeted = BooleanField(_l("Targeted (定向)"), default=True)
    scope = TextAreaField(_l("Entities in scope (as worded in the plan)"), validators=[Optional(), Length(max=2000)])
    filter_kind = SelectField(
        _l("Entity kind"), choices=[("", "—")] + [(k.value, ENTITY_KIND_LABELS[k]) for k in EntityKind], validators=[Optional()]
    )
    filter_industry = StringField(_l("Industry"), validators=[Optional(), Length(max=64)])
    filter_region_code = StringField(_l("Region code"), validators=[Optional(), Length(max=6)])
    filter_scale = SelectField(
        _l("Scale"), choices=[("", "—")] + [(s.value, ENTITY_SCALE_LABELS[s]) for s in EntityScale], validators=[Optional()]
    )
    filter_station = StringField(_l("Supervising station"), validators=[Optional(), Length(max=128)])
    quota_kind = SelectField(_l("Quota"), choices=[("ratio", _l("Ratio")), ("count", _l("Fixed count"))])
    ratio = StringField(_l("Ratio (e.g. 3%)"), validators=[Optional(), Length(max=12)])
    count = IntegerField(_l("Number of entities"), validators=[Optional(), NumberRange(min=1)])
    credit_rule = TextAreaField(_l("Credit-risk rule (as worded in the plan)"), validators=[Optional(), Length(max=2000)])
    window_start = DateField(_l("Window opens"), validators=[DataRequired()])
    window_end = DateField(_l("Window closes"), validators=[DataRequired()])
    lead_department_id = SelectField(_l("Lead department"), coerce=int)
    joint_department_ids = SelectMultipleField(_l("Joint departments"), coerce=int, validators=[Optional()])
    mode = SelectField(_l("Mode"), choices=[(m.value, label) for m, label in MODE_LABELS.items()])
    method = StringField(_l("Inspection method"), validators=[Optional(), Length(max=128)])
    check_item_ids = SelectMultipleField(_l("Check items"), coerce=int)
    team_size = IntegerField(_l("Inspectors per entity"), default=2, validators=[NumberRange(min=2, max=10)])
    required_qualifications = StringField(_l("Required qualifications (comma separated)"), validators=[Optional(), Length(max=256)])
    cross_station = BooleanField(_l("Inspectors from another station (cross-station)"))
    case_cap = IntegerField(_l("Cases per inspector at most"), default=20, validators=[NumberRange(min=1)])

    def fill_choices(self) -> None:
        departments = department_choices()
        self.lead_department_id.choices = departments
        self.joint_department_ids.choices = departments
        self.check_item_ids.choices = check_item_choices()

    def to_fields(self) -> dict:
        """Plain values for ``service.clean_task_fields``, shared with the API."""
        return {
            "code": self.code.data,
            "name": self.name.data,
            "targeted": self.targeted.data,
            "scope": self.scope.data,
            "entity_filters": {
                key: getattr(self, f"filter_{key}").data
                for key in ("kind", "industry", "region_code", "scale", "station")
                if getattr(self, f"filter_{key}").data
            },
            "quota_kind": self.quota_kind.data,
            "ratio": self.ratio.data,
            "count": self.count.data,
            "credit_ratios": {s: getattr(self, f"credit_{s}").data for s in CREDIT_STRATA},
            "credit_rule": self.credit_rule.data,
            "window_start": self.window_start.data,
            "window_end": self.window_end.data,
            "lead_department_id": self.lead_department_id.data,
            "joint_department_ids": self.joint_department_ids.data,
            "mode": self.mode.data,
            "method": self.method.data,
            "check_item_ids": self.check_item_ids.data,
            "team_size": self.team_size.data,
            "required_qualifications": self.required_qualifications.data or "",
            "cross_station": self.cross_station.data,
            "case_cap": self.case_cap.data,
        }

    def load(self, task) -> None:  # type: ignore[no-untyped-def]
        """Fill the form from an existing task."""
        from app.plans.rules import ratio_percent

        for field in ("code", "name", "targeted", "scope", "quota_kind", "count", "credit_rule", "window_start",
                      "window_end", "lead_department_id", "mode", "method", "team_size", "cross_station", "case_cap"):
            getattr(self, field).data = getattr(task, field)
        self.ratio.data = ratio_percent(task.ratio)
        for key in ("kind", "industry", "region_code", "scale", "station"):
            getattr(self, f"filter_{key}").data = (task.entity_filters or {}).get(key, "")
        for stratum in CREDIT_STRATA:
            getattr(self, f"credit_{stratum}").data = ratio_percent((task.credit_ratios or {}).get(stratum))
        self.joint_department_ids.data = [d.id for d in task.joint_departments]
        self.check_item_ids.data = [i.id for i in task.check_items]
        self.required_qualifications.data = ", ".join(task.required_qualifications or [])


for _stratum in CREDIT_STRATA:
    setattr(
        SpotCheckTaskForm,
        f"credit_{_stratum}",
        StringField(
            _l("Ratio for unclassified") if _stratum == "U" else _l("Ratio for class %(c)s", c=_stratum),
            validators=[Optional(), Length(max=12)],
        ),
    )
