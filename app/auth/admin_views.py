"""Pages of user administration (administrators only).

Views wire forms to ``app.auth.admin``, where every rule lives. A generated password or
a new API token is shown once, in the answer to the POST that made it: it never goes
through a redirect, the flash messages or the session cookie, and the page is not cached.
"""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from app.auth import admin
from app.auth.decorators import roles_required
from app.auth.forms import (
    ConfirmForm,
    PasswordResetForm,
    TokenIssueForm,
    UserCreateForm,
    UserEditForm,
    UserSearchForm,
)
from app.auth.models import User
from app.auth.roles import Role
from app.directory import service as directory
from app.errors import ValidationFailed
from app.extensions import db

bp = Blueprint("users_admin", __name__, url_prefix="/admin/users")

admins_only = roles_required(Role.ADMIN)

Rendered = tuple[str, int] | str | Response


def _attach_errors(form: FlaskForm, err: ValidationFailed) -> None:
    """Show a service's messages next to the fields they concern."""
    for name, messages in err.errors.items():
        field = form._fields.get(name)
        if field is None:
            form.form_errors.extend(messages)
        else:
            field.errors = list(field.errors) + list(messages)


def _department_choices(current_id: int | None) -> list[SelectChoice]:
    departments = directory.list_departments(active_only=True)
    if current_id is not None and all(d.id != current_id for d in departments):
        departments.append(directory.get_department(current_id))
    return [SelectChoice("", _("None"))] + [SelectChoice(str(d.id), f"{d.code} {d.name}") for d in departments]


def _inspector_choices(current_id: int | None) -> list[SelectChoice]:
    return [SelectChoice("", _("None"))] + [
        SelectChoice(str(i.id), f"{i.name} ({i.certificate_no})") for i in admin.inspector_choices(current_id)
    ]


def _choices(form: UserCreateForm | UserEditForm, user: User | None) -> None:
    form.department_id.choices = _department_choices(user.department_id if user else None)
    form.inspector_id.choices = _inspector_choices(user.inspector_id if user else None)


def _once(title: str, label: str, secret: str, user: User, note: str) -> Response:
    """The page showing a generated password or token, the only time it is ever shown."""
    response = current_app.make_response(
        render_template("admin/users_secret.html", title=title, label=label, secret=secret, user=user, note=note)
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _form_page(form: FlaskForm, title: str, cancel_url: str, user: User | None = None) -> tuple[str, int]:
    status = 422 if (form.errors or form.form_errors) else 200
    return render_template("admin/users_form.html", form=form, title=title, cancel_url=cancel_url, user=user), status


def _active_filter(value: str | None) -> bool | None:
    return {"1": True, "0": False}.get(value or "")


# --------------------------------------------------------------------------- pages


@bp.get("")
@admins_only
def index() -> Rendered:
    """Every account, searchable by name, filtered by role and state."""
    form = UserSearchForm(formdata=request.args)
    page = None
    if form.validate():
        try:
            page = admin.search_users(
                current_user,
                form.q.data or "",
                role=form.role.data or None,
                active=_active_filter(form.active.data),
                page=max(1, request.args.get("page", 1, type=int) or 1),
                per_page=int(current_app.config.get("PAGE_SIZE", directory.DEFAULT_PER_PAGE)),
            )
        except ValidationFailed as err:
            _attach_errors(form, err)
    stats = admin.token_stats(u.id for u in page.items) if page else {}
    return render_template("admin/users.html", form=form, page=page, stats=stats)


@bp.route("/new", methods=["GET", "POST"])
@admins_only
def new() -> Rendered:
    """Create an account."""
    form = UserCreateForm()
    _choices(form, None)
    if form.validate_on_submit():
        try:
            user, generated = admin.create_account(
                current_user,
                username=form.username.data,
                display_name=form.display_name.data,
                password=form.password.data or None,
                roles=form.roles.data or [],
                department_id=form.department_id.data,
                inspector_id=form.inspector_id.data,
                locale=form.locale.data or None,
            )
        except ValidationFailed as err:
            db.session.rollback()
            _attach_errors(form, err)
        else:
            db.session.commit()
            if generated:
                return _once(_("Account created"), _("Initial password"), generated, user,
                             _("Give this password to %(name)s. It is shown only now.", name=user.display_name))
            flash(_("Account %(username)s created.", username=user.username), "success")
            return redirect(url_for(".detail", user_id=user.id))
    return _form_page(form, _("New account"), url_for(".index"))


@bp.get("/<int:user_id>")
@admins_only
def detail(user_id: int) -> Rendered:
    """One account: its roles, links, tokens, and the buttons to change them."""
    user = admin.get_user(current_user, user_id)
    return render_template(
        "admin/users_detail.html",
        user=user,
        tokens=admin.list_tokens(current_user, user_id),
        token_form=TokenIssueForm(),
        confirm_form=ConfirmForm(),
    )


@bp.route("/<int:user_id>/edit", methods=["GET", "POST"])
@admins_only
def edit(user_id: int) -> Rendered:
    """Change an account's name, roles, links, language and state."""
    user = admin.get_user(current_user, user_id)
    form = UserEditForm(obj=user)
    _choices(form, user)
    if request.method == "GET":
        form.roles.data = sorted(user.role_names)
        form.active.data = user.is_active_account
        form.locale.data = user.locale or ""
    if form.validate_on_submit():
        try:
            admin.update_account(
                current_user,
                user_id,
                display_name=form.display_name.data,
                roles=form.roles.data or [],
                department_id=form.department_id.data,
                inspector_id=form.inspector_id.data,
                locale=form.locale.data or None,
                active=form.active.data,
            )
        except ValidationFailed as err:
            db.session.rollback()
            _attach_errors(form, err)
            user = admin.get_user(current_user, user_id)
        else:
            db.session.commit()
            flash(_("Account %(username)s saved.", username=user.username), "success")
            return redirect(url_for(".detail", user_id=user_id))
    return _form_page(form, _("Edit account %(username)s", username=user.username),
                      url_for(".detail", user_id=user_id), user)


@bp.route("/<int:user_id>/password", methods=["GET", "POST"])
@admins_only
def password(user_id: int) -> Rendered:
    """Set a new password for an account, typed or generated."""
    user = admin.get_user(current_user, user_id)
    form = PasswordResetForm()
    if form.validate_on_submit():
        try:
            generated = admin.reset_password(current_user, user_id, form.password.data or None)
        except ValidationFailed as err:
            db.session.rollback()
            _attach_errors(form, err)
        else:
            db.session.commit()
            if generated:
                return _once(_("Password reset"), _("New password"), generated, user,
                             _("Give this password to %(name)s. It is shown only now.", name=user.display_name))
            flash(_("The password of %(username)s was changed.", username=user.username), "success")
            return redirect(url_for(".detail", user_id=user_id))
    return _form_page(form, _("Reset the password of %(username)s", username=user.username),
                      url_for(".detail", user_id=user_id), user)


@bp.post("/<int:user_id>/tokens")
@admins_only
def issue_token(user_id: int) -> Rendered:
    """Issue an API token for the account and show it once."""
    user = admin.get_user(current_user, user_id)
    form = TokenIssueForm()
    if form.validate_on_submit():
        try:
            token = admin.issue_token(current_user, user_id, form.label.data or "")
        except ValidationFailed as err:
            db.session.rollback()
            _attach_errors(form, err)
        else:
            db.session.commit()
            return _once(_("API token issued"), _("API token"), token, user,
                         _("Copy this token into the program that will use it. It is shown only now."))
    reasons = "; ".join(str(m) for messages in form.errors.values() for m in messages)
    reasons = "; ".join(filter(None, [reasons, *map(str, form.form_errors)]))
    flash(_("No token was issued: %(reasons)s", reasons=reasons), "danger")
    return redirect(url_for(".detail", user_id=user_id))


@bp.post("/<int:user_id>/tokens/revoke")
@admins_only
def revoke_tokens(user_id: int) -> Rendered:
    """Revoke every API token of the account."""
    if ConfirmForm().validate_on_submit():
        count = admin.revoke_tokens(current_user, user_id)
        db.session.commit()
        flash(ngettext("%(num)d token revoked.", "%(num)d tokens revoked.", count), "success")
    return redirect(url_for(".detail", user_id=user_id))
