"""The calendar's admin page: years, their holidays and make-up working days (administrators)."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.auth.decorators import roles_required
from app.auth.forms import ConfirmForm
from app.auth.roles import Role
from app.errors import NotFound, ValidationFailed
from app.extensions import db
from app.workdays import service
from app.workdays.forms import WORKING_DAY, DayForm, MaintainedForm
from workflows import clock

bp = Blueprint("calendar_admin", __name__, url_prefix="/admin/calendar")

admins_only = roles_required(Role.ADMIN)


def _check_year(year: int) -> None:
    if not service.MIN_YEAR <= year <= service.MAX_YEAR:
        abort(404)


def _seeded() -> None:
    """The package's years in the database before they are shown (see app.workdays.service)."""
    if service.ensure_seeded():
        db.session.commit()


def _year_page(year: int, form: DayForm, status: int = 200):  # type: ignore[no-untyped-def]
    return render_template(
        "workdays/year.html", year=year, row=service.get_year(year), days=service.year_days(year), form=form,
        confirm_form=ConfirmForm(), maintained_form=MaintainedForm(),
        in_package=year in service.package_years(),
    ), status


@bp.get("")
@admins_only
def index():  # type: ignore[no-untyped-def]
    """Every year with a calendar, plus this year and the next when they have none yet."""
    _seeded()
    this_year = clock.now().astimezone(service.SHANGHAI).year
    return render_template("workdays/index.html", years=service.list_years(also=(this_year, this_year + 1)),
                           package_years=service.package_years())


@bp.get("/<int:year>")
@admins_only
def year(year: int):  # type: ignore[no-untyped-def]
    _check_year(year)
    _seeded()
    form = DayForm(data={"day": date(year, 1, 1)})
    return _year_page(year, form)


@bp.post("/<int:year>/days")
@admins_only
def add_day(year: int):  # type: ignore[no-untyped-def]
    _check_year(year)
    form = DayForm()
    if form.validate_on_submit():
        if form.day.data.year != year:
            form.day.errors = [_("The date must lie in %(year)d.", year=year)]
        else:
            try:
                service.add_day(form.day.data, form.kind.data == WORKING_DAY, form.name.data, current_user)
            except ValidationFailed as err:
                db.session.rollback()
                for name, messages in err.errors.items():
                    field = form._fields.get(name) or form.name
                    field.errors = list(field.errors) + list(messages)
            else:
                db.session.commit()
                flash(_("%(day)s saved.", day=form.day.data.isoformat()), "success")
                return redirect(url_for(".year", year=year))
    return _year_page(year, form, 422)


@bp.post("/<int:year>/days/<day>/delete")
@admins_only
def remove_day(year: int, day: str):  # type: ignore[no-untyped-def]
    _check_year(year)
    try:
        when = date.fromisoformat(day)
    except ValueError:
        abort(404)
    if when.year != year or not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        service.remove_day(when, current_user)
    except NotFound:
        db.session.rollback()
        flash(_("%(day)s is not in the calendar.", day=when.isoformat()), "warning")
    else:
        db.session.commit()
        flash(_("%(day)s removed: it follows the weekend rule again.", day=when.isoformat()), "success")
    return redirect(url_for(".year", year=year))


@bp.post("/<int:year>/maintained")
@admins_only
def set_maintained(year: int):  # type: ignore[no-untyped-def]
    _check_year(year)
    form = MaintainedForm()
    if not form.validate_on_submit():
        abort(400)
    maintained = form.maintained.data == "1"
    service.mark_year_maintained(year, current_user, maintained=maintained)
    db.session.commit()
    if maintained:
        flash(_("The calendar of %(year)d is marked as complete.", year=year), "success")
    else:
        flash(_("The calendar of %(year)d is marked as incomplete: deadlines in it say so.", year=year), "warning")
    return redirect(url_for(".year", year=year))
