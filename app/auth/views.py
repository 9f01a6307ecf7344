"""Log in, log out, choose the interface language, change one's own password."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from app.audit import service as audit
from app.auth.forms import ChangePasswordForm, LanguageForm, LoginForm
from app.auth.service import authenticate
from app.extensions import db, limiter

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    # Only same-site relative paths: an absolute or scheme-relative URL would be an open redirect.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("queue.my_tasks")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated:
        return redirect(url_for("queue.my_tasks"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        # Both outcomes go to the audit log: the username tried and where from, never the password.
        details = {"username": form.username.data.strip(), "ip": request.remote_addr}
        if user is not None:
            session.clear()
            login_user(user)
            audit.record("auth.login", actor=user, subject_type="user", subject_id=user.id, details=details)
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")))
        audit.record("auth.login_failed", actor=None, details=details)
        db.session.commit()
        flash(_("Wrong username or password."), "danger")
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():  # type: ignore[no-untyped-def]
    logout_user()
    session.clear()
    return redirect(url_for("publication.home"))


@bp.post("/language")
def set_language():  # type: ignore[no-untyped-def]
    form = LanguageForm()
    if form.validate_on_submit():
        session["locale"] = form.locale.data
        if current_user.is_authenticated:
            current_user.locale = form.locale.data
            db.session.commit()
    return redirect(_safe_next(request.referrer and urlsplit(request.referrer).path))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():  # type: ignore[no-untyped-def]
    """Any logged-in user changes their own password (the current one is required)."""
    from app.auth.admin import change_own_password
    from app.errors import ValidationFailed

    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            change_own_password(current_user, form.current_password.data, form.new_password.data)
        except ValidationFailed as err:
            db.session.rollback()
            for name, messages in err.errors.items():
                field = form._fields.get(name) or form.new_password
                field.errors = list(field.errors) + list(messages)
        else:
            db.session.commit()
            flash(_("Your password was changed."), "success")
            return redirect(url_for("queue.my_tasks"))
    status = 422 if form.errors else 200
    return render_template("auth/password.html", form=form), status
