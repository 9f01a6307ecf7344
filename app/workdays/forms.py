"""Forms of the calendar's admin page."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Length

HOLIDAY, WORKING_DAY = "holiday", "working_day"


class DayForm(FlaskForm):
    """Add (or replace) one exception to the weekend rule."""

    day = DateField(_l("Date"), validators=[DataRequired()])
    kind = SelectField(
        _l("Type of day"),
        choices=[SelectChoice(HOLIDAY, _l("Holiday (no work)")),
                 SelectChoice(WORKING_DAY, _l("Make-up working day (on a weekend)"))],
        default=HOLIDAY,
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)],
                       description=_l("As in the State Council's notice, e.g. 国庆节 or 国庆节调休上班."))


class MaintainedForm(FlaskForm):
    """Mark a year's calendar as complete ("1") or not ("0")."""

    maintained = HiddenField(validators=[AnyOf(["0", "1"])], default="1")
