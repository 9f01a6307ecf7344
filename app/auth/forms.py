"""Login, preference, password and user-administration forms."""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.auth.roles import ROLE_LABELS, Role


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])


class LanguageForm(FlaskForm):
    locale = SelectField(_l("Language"), choices=[("zh_CN", "中文"), ("en", "English")])


# --------------------------------------------------------------------------- user administration
# The forms check only what a browser can get wrong; the rules are in app.auth.admin, whose
# messages the views attach to the fields.

def _role_choices() -> list[SelectChoice]:
    return [SelectChoice(r.value, ROLE_LABELS[r]) for r in Role]


def _optional_int(value: Any) -> int | None:
    if value in (None, "", "None"):
        return None
    return int(value)


class BlankableSelectField(SelectField):
    """A select whose blank option stands for a NULL column (instead of matching no option)."""

    def process_data(self, value: Any) -> None:
        self.data = "" if value is None else str(value)


LOCALE_CHOICES = [SelectChoice("", _l("Not set (Chinese)")), SelectChoice("zh_CN", "中文"), SelectChoice("en", "English")]


class RolesField(SelectMultipleField):
    """Roles as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class UserSearchForm(FlaskForm):
    """Filters sent with GET: no CSRF token (reading changes nothing)."""

    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=128)])
    role = SelectField(_l("Role"), choices=[SelectChoice("", _l("Any role"))] + _role_choices(), default="",
                       validate_choice=False)
    active = SelectField(
        _l("Active"),
        choices=[SelectChoice("", _l("All")), SelectChoice("1", _l("Active only")), SelectChoice("0", _l("Inactive only"))],
        default="",
        validate_choice=False,
    )


class _AccountFields(FlaskForm):
    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=128)])
    roles = RolesField(_l("Roles"), choices=_role_choices(), validate_choice=False)
    department_id = SelectField(_l("Department"), coerce=_optional_int, choices=[])
    inspector_id = SelectField(
        _l("Linked inspector"),
        coerce=_optional_int,
        choices=[],
        description=_l("Required for the inspector role. Only inspectors not yet linked to an account are listed."),
    )
    locale = BlankableSelectField(_l("Language"), choices=LOCALE_CHOICES, default="")


class UserCreateForm(_AccountFields):
    username = StringField(
        _l("Username"),
        validators=[DataRequired(), Length(min=3, max=64)],
        description=_l("3 to 64 characters: letters, digits, and . _ -"),
    )
    password = PasswordField(
        _l("Initial password"),
        validators=[Optional(), Length(max=256)],
        description=_l("At least 8 characters. Leave empty to generate one, shown once after saving."),
    )
    # The order of the fields on the page.
    field_order = ("username", "display_name", "password", "roles", "department_id", "inspector_id", "locale")


class UserEditForm(_AccountFields):
    active = BooleanField(_l("Active (may log in)"))
    field_order = ("display_name", "roles", "department_id", "inspector_id", "locale", "active")


class PasswordResetForm(FlaskForm):
    password = PasswordField(
        _l("New password"),
        validators=[Optional(), Length(max=256)],
        description=_l("At least 8 characters. Leave empty to generate one, shown once after saving."),
    )


class TokenIssueForm(FlaskForm):
    label = StringField(_l("Label"), validators=[Optional(), Length(max=128)],
                        description=_l("What the token is for, e.g. the program that will use it."))


class ConfirmForm(FlaskForm):
    """An empty form: it only carries the CSRF token of a button."""


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=256)])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)],
                                 description=_l("At least 8 characters."))
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The two new passwords differ."))],
    )
